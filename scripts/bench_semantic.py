"""make bench, semantic dedup (coverage.semantic_dedup_threshold, issue 24): dlg-dedup, one process,
the same questions through the file store and through PostgreSQL, with the real all-MiniLM-L6-v2
behind scripts/embed_server.py; the baseline is the embeddings server alone asked for the same texts
in the same batches of 64 (what semantic dedup cannot go faster than), measured in this process tree.

Figures: questions/s each way, the ratio to the server alone, and our CPU per question (dlg-dedup's
own, the server's excluded). Nothing here asserts a time.
"""
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from bench import BIN, ROOT, children_cpu, pending_lines

MODEL = "all-MiniLM-L6-v2"
WORDS = ("starter levain crumb crust loaf flour oven proof dough scoring banneton hydration autolyse gluten rye "
         "spelt steam stone peel knife water salt yeast butter sugar honey seed oat barley malt").split()
VERBS = "bake proof shape score knead fold rest cool store freeze slice feed".split()


def questions(total, rng):
    """70% distinct questions, 30% of them again with a word or two added (most found semantic)."""
    distinct = []
    for i in range(int(total * 0.7)):
        a, b, c = rng.sample(WORDS, 3)
        distinct.append(f"How long should I {rng.choice(VERBS)} the {a} with {b} and {c} for recipe {i}?")
    out = list(distinct)
    while len(out) < total:
        out.append(rng.choice(distinct).replace("How long", "Roughly how long", 1))
    rng.shuffle(out)
    return out


def bench_embed():
    """The embeddings server's URL and a function that stops what was started here: DLG_EMBED_URL when
    set, else scripts/services/embed.sh up (stopped at the end)."""
    if os.environ.get("DLG_EMBED_URL"):
        return os.environ["DLG_EMBED_URL"], lambda: None
    script = os.path.join(ROOT, "scripts", "services", "embed.sh")
    out = subprocess.run([script, "up"], capture_output=True, text=True, cwd=ROOT)
    m = re.search(r"DLG_EMBED_URL=(\S+)", out.stdout)
    if out.returncode != 0 or not m:
        print(f"  no embeddings server: {out.stderr.strip()[-300:]}")
        return None, lambda: None
    return m.group(1), lambda: subprocess.run([script, "down"], capture_output=True, cwd=ROOT)


def server_alone(url, texts):
    """Seconds the server takes for the texts, 64 a request, one at a time (as dlg-dedup asks)."""
    t0 = time.monotonic()
    for start in range(0, len(texts), 64):
        body = json.dumps({"model": MODEL, "input": texts[start:start + 64]}).encode()
        req = urllib.request.Request(url.rstrip("/") + "/embeddings", body, {"Content-Type": "application/json"})
        json.load(urllib.request.urlopen(req, timeout=300))
    return time.monotonic() - t0


def one_dedup(store, dsn, url, lines, total):
    d = tempfile.mkdtemp(prefix="dlg-bench-semantic-")
    try:
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write(f"""llm:
  base_url: {url}
  model: none
retrieval: {{embedding_model: {MODEL}}}
coverage: {{semantic_dedup_threshold: 0.9}}
store: {{backend: {store}}}
""")
        path = os.path.join(d, "in.jsonl")
        with open(path, "w") as f:
            f.writelines(lines)
        env = dict(os.environ, POSTGRES_DSN=dsn or "")
        cpu0, t0 = children_cpu(), time.monotonic()
        out = subprocess.run([os.path.join(BIN, "dlg-dedup"), "--config", os.path.join(d, "config.yaml"),
                              "--run-id", f"bench-sem-{store}-{os.getpid()}-{int(time.time())}"],
                             stdin=open(path), capture_output=True, env=env, cwd=d)
        wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
        if out.returncode != 0:
            print(f"  {store}: dlg-dedup failed: {out.stderr.decode()[-500:]}")
            return None
        accepted = out.stdout.count(b'"state":"accepted"')
        print(f"  {store:<8}: {total} questions in {wall:6.2f} s -> {total / wall:7,.0f} questions/s, "
              f"{cpu / total * 1e6:6.0f} us CPU a question (dlg-dedup), {accepted} accepted")
        return wall
    finally:
        shutil.rmtree(d, ignore_errors=True)


def semantic_store_bench(dsn, total=3000):
    url, stop = bench_embed()
    if url is None:
        return
    try:
        rng = random.Random(5)
        qs = questions(total, rng)
        lines = pending_lines(qs, "s")
        # Distinct texts, as dlg-dedup asks each once; a warm-up request first (the model's first call).
        texts = list(dict.fromkeys(" ".join(q.lower().split()) for q in qs))
        server_alone(url, texts[:64])
        alone = server_alone(url, texts)
        print(f"  the server alone: {len(texts)} texts in {alone:6.2f} s -> {total / alone:7,.0f} questions/s (the ideal)")
        for store in ("file", "postgres") if dsn else ("file",):
            wall = one_dedup(store, dsn, url, lines, total)
            if wall:
                print(f"  {store}: {alone / wall:.2f} of the server alone")
    finally:
        stop()
