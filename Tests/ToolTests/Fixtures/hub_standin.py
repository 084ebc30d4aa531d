#!/usr/bin/env python3
"""A stand-in of the Hugging Face Hub's HTTP API for the upload tests, on 127.0.0.1 (port 0; prints its
URL): repos/create, preupload (files of 2048 bytes or more go through LFS), the LFS batch, the object
PUT and verify, and the NDJSON commit. Every request's auth header is checked against argv[2]; what it
received is written to argv[1] as JSON when each commit lands: {requests: [{method, path, auth_ok}],
created: [...], commits: [{summary, files: {path: sha256}, lfs: {path: oid}}], lfs_objects: {oid: sha256 of the bytes}}."""
import base64, hashlib, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

OUT, TOKEN = sys.argv[1], sys.argv[2]
# argv[3], for the security tests: a hostile Hub whose LFS batch names another host ("other-host":
# localhost, the same server under another origin, so a token sent there is seen) or a file:// URL
# ("file") for the verification, which carries the token.
MODE = sys.argv[3] if len(sys.argv) > 3 else ""
state = {"requests": [], "created": [], "commits": [], "lfs_objects": {}}
repos = set()

def save():
    with open(OUT, "w") as f:
        json.dump(state, f)

def verify_href(base):
    if MODE == "other-host":
        return base.replace("127.0.0.1", "localhost") + "/lfs-steal"
    if MODE == "file":
        return "file:///etc/hostname"
    return f"{base}/lfs-verify"

class Handler(BaseHTTPRequestHandler):
    def reply(self, code, obj):
        out = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def handle_any(self, method):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        auth_ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        lfs_put = self.path.startswith("/lfs-objects/")
        state["requests"].append({"method": method, "path": self.path, "auth_ok": auth_ok,
                                  "content_type": self.headers.get("Content-Type")})
        save()
        # The object store's URL is pre-signed: no token there (as on the real Hub).
        if not auth_ok and not lfs_put:
            return self.reply(401, {"error": "Invalid credentials in Authorization header"})
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if method == "POST" and self.path == "/api/repos/create":
            req = json.loads(body)
            name = (req.get("organization") + "/" if req.get("organization") else "") + req["name"]
            state["created"].append(req); save()
            if name in repos:
                return self.reply(409, {"error": "You already created this dataset repo"})
            repos.add(name)
            return self.reply(200, {"url": f"{base}/datasets/{name}"})
        if method == "POST" and "/preupload/" in self.path:
            files = json.loads(body)["files"]
            return self.reply(200, {"files": [{"path": f["path"], "uploadMode": "lfs" if f["size"] >= 2048 else "regular"} for f in files]})
        if method == "POST" and self.path.endswith(".git/info/lfs/objects/batch"):
            req = json.loads(body)
            objs = []
            for o in req["objects"]:
                if o["oid"] in state["lfs_objects"]:
                    objs.append({"oid": o["oid"], "size": o["size"]})
                else:
                    objs.append({"oid": o["oid"], "size": o["size"], "actions": {
                        "upload": {"href": f"{base}/lfs-objects/{o['oid']}", "header": {"X-Upload-Check": "standin"}},
                        "verify": {"href": verify_href(base), "header": {}}}})
            return self.reply(200, {"transfer": "basic", "objects": objs})
        if method == "PUT" and lfs_put:
            oid = self.path.rsplit("/", 1)[1]
            state["lfs_objects"][oid] = hashlib.sha256(body).hexdigest() if self.headers.get("X-Upload-Check") == "standin" else "missing header"
            save()
            return self.reply(200, {})
        if method == "POST" and self.path == "/lfs-verify":
            o = json.loads(body)
            ok = state["lfs_objects"].get(o["oid"]) == o["oid"]
            return self.reply(200 if ok else 404, {})
        if method == "POST" and "/commit/" in self.path:
            lines = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
            commit = {"path": self.path, "content_type": self.headers.get("Content-Type"), "summary": None, "files": {}, "lfs": {}}
            for l in lines:
                if l["key"] == "header":
                    commit["summary"] = l["value"]["summary"]
                elif l["key"] == "file":
                    commit["files"][l["value"]["path"]] = hashlib.sha256(base64.b64decode(l["value"]["content"])).hexdigest()
                elif l["key"] == "lfsFile":
                    commit["lfs"][l["value"]["path"]] = l["value"]["oid"]
            state["commits"].append(commit); save()
            return self.reply(200, {"commitUrl": f"{base}/datasets/commit/1", "commitOid": "1"})
        return self.reply(404, {"error": f"unknown {method} {self.path}"})

    def do_POST(self): self.handle_any("POST")
    def do_PUT(self): self.handle_any("PUT")
    def do_GET(self): self.handle_any("GET")
    def log_message(self, *args): pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
