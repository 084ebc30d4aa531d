#!/usr/bin/env python3
"""make bench's baseline client: the official `openai` package (AsyncOpenAI on asyncio) sending the same
kb_responder chat calls as dlg-loadgen, N requests, C at a time; prints one JSON line like dlg-loadgen's.
Run with the repo's .venv python (scripts/bench.sh installs the package there).
usage: bench_openai.py BASE_URL REQUESTS CONCURRENCY"""
import asyncio
import json
import resource
import sys
import time

import openai
from openai import AsyncOpenAI


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(url, n, c):
    client = AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=4, timeout=60)
    fmt = {"type": "json_schema", "json_schema": {"name": "kb_responder", "strict": False, "schema": {"type": "object"}}}
    numbers = iter(range(n))
    errors = 0

    async def worker():
        nonlocal errors
        for i in numbers:
            try:
                reply = await client.chat.completions.create(
                    model="mock-model", response_format=fmt,
                    messages=[{"role": "system", "content": "You answer from the knowledge base. agent: kb_responder"},
                              {"role": "user", "content": f"Question {i}: how do I oil a bicycle chain?"}])
                json.loads(reply.choices[0].message.content or "null")
            except Exception:
                errors += 1

    c0, t0 = cpu(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(c)))
    wall, used = time.monotonic() - t0, cpu() - c0
    await client.close()
    print(json.dumps({"requests": n, "errors": errors, "concurrency": c, "wall_seconds": wall, "cpu_seconds": used,
                      "requests_per_cpu_second": n / max(used, 1e-9), "openai": openai.__version__}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
