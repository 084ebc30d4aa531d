"""make bench, near dedup through PostgreSQL: the memory a dlg-dedup process holds per accepted
question (each process keeps the run's questions in a NearIndex of its own, Store/PostgresNearIndex).

Two runs of distinct 15-word questions, near dedup at 0.8, one process each; the figure is the growth
of the peak resident memory between them divided by the questions between them, so the process's
fixed cost (the binary, libpq, buffers) cancels out. Nothing here asserts a size.
"""
import os
import random
import shutil
import subprocess
import tempfile

from bench import BIN, pending_lines


def peak_rss(dsn, questions, run_id):
    """The peak resident memory of one dlg-dedup process over `questions` (bytes), and its exit status."""
    d = tempfile.mkdtemp(prefix="dlg-bench-nearmem-")
    try:
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write("store:\n  backend: postgres\ncoverage:\n  near_dedup_threshold: 0.8\n")
        path = os.path.join(d, "in.jsonl")
        with open(path, "w") as f:
            f.writelines(pending_lines(questions, "m"))
        env = dict(os.environ, POSTGRES_DSN=dsn)
        with open(path) as stdin, open(os.path.join(d, "err"), "w") as err:
            p = subprocess.Popen([os.path.join(BIN, "dlg-dedup"), "--config", os.path.join(d, "config.yaml"), "--run-id", run_id],
                                 stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=env)
            _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            print(f"  dlg-dedup failed: {open(os.path.join(d, 'err')).read()[-500:]}")
            return None
        return usage.ru_maxrss * 1024  # Linux reports kilobytes
    finally:
        shutil.rmtree(d, ignore_errors=True)


def near_store_memory(dsn, small=20_000, large=120_000):
    rng = random.Random(13)
    words = [f"w{i}" for i in range(50_000)]
    questions = [" ".join(rng.choice(words) for _ in range(15)) + "?" for _ in range(large)]
    tag = f"{os.getpid()}"
    a = peak_rss(dsn, questions[:small], f"bench-nearmem-{small}-{tag}")
    b = peak_rss(dsn, questions, f"bench-nearmem-{large}-{tag}")
    if a is None or b is None:
        return
    per = (b - a) / (large - small)
    print(f"  peak RSS: {small:,} questions {a / 2**20:.1f} MB, {large:,} questions {b / 2**20:.1f} MB -> "
          f"{per:.0f} bytes a question (the NearIndex with its row ids and the turn map; goal for the index <= 256)")
