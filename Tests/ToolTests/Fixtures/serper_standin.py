#!/usr/bin/env python3
"""A stand-in for a Serper-compatible search API, for the web_search tests: POST /search with a JSON
body {q, num} and the X-API-KEY header. Listens on 127.0.0.1 (port 0), prints its URL, and appends one
JSON line per request to the log file given as argv[1]: {path, key_ok, body}. A wrong key gets 403."""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

LOG, KEY = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            parsed = json.loads(body)
        except Exception:
            parsed = None
        key_ok = self.headers.get("X-API-KEY") == KEY
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "key_ok": key_ok, "body": parsed,
                                "content_type": self.headers.get("Content-Type")}) + "\n")
        if not key_ok:
            self.send_response(403); self.end_headers(); self.wfile.write(b'{"message":"bad key"}'); return
        q = (parsed or {}).get("q", "")
        n = int((parsed or {}).get("num", 0))
        organic = [{"title": f"Result {i + 1} for {q}", "link": f"https://example.org/{i + 1}",
                    "snippet": f"Web snippet {i + 1} about {q}."} for i in range(n + 2)]
        out = json.dumps({"searchParameters": {"q": q}, "organic": organic}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}/search", flush=True)
server.serve_forever()
