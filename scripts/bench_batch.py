"""make bench, batch mode (llm.batch_api): a run through the mock's /v1/files and /v1/batches beside
the same run sent directly, both at zero latency, same seed and dialogues.

Figures: batch windows per dialogue and per turn (a dialogue's requests follow one another, so each
waits one window); our CPU per request (dlg-run and its
stages) in batch mode beside direct; bytes uploaded per accepted turn. Nothing here asserts a time.
"""
import json
import os
import shutil
import urllib.request

from bench import children_cpu, run_generation, start_mock, workdir


def mock_stats(url):
    return json.load(urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats"))


def batch_config(d, flush_seconds, poll_seconds):
    path = os.path.join(d, "config.yaml")
    text = open(path).read().replace(
        "  timeout: 60\n",
        f"  timeout: 60\n  batch_api: {{enabled: true, flush_seconds: {flush_seconds}, poll_seconds: {poll_seconds}}}\n", 1)
    with open(path, "w") as f:
        f.write(text)


def one_run(dialogues, turns, batched):
    mock, url = start_mock("--seed", "7")
    d = workdir(dialogues, dialogues, turns=turns, no_cache=True)
    try:
        if batched:
            batch_config(d, 0.2, 0.05)
        summary, wall, cpu, _, _ = run_generation(d, url, "bench-batch" if batched else "bench-direct")
        stats = mock_stats(url)
        return summary, wall, cpu, stats
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


def batch_bench(dialogues=64, turns=2):
    _ = children_cpu  # the CPU figures are the children's (dlg-run and its stages), as bench.py's
    ds, dwall, dcpu, dstats = one_run(dialogues, turns, batched=False)
    bs, bwall, bcpu, bstats = one_run(dialogues, turns, batched=True)
    direct_requests = dstats["chat_completions"]
    batch = bstats.get("batches", {})
    batch_requests = batch.get("chat_completions", 0)
    windows = batch.get("batches_created", 0)
    done = max(1, bs.get("dialogues", 0))
    accepted_turns = max(1, bs.get("turns", 0))
    print(f"  {dialogues} dialogues of {turns} turns, all in flight, 0 ms: direct {direct_requests} chat requests "
          f"({dwall:.2f} s), batch mode {batch_requests} in {windows} batches, {bstats['chat_completions']} outside a batch "
          f"({bwall:.2f} s with flush 0.2 s, poll 0.05 s)")
    # A dialogue's requests follow one another, so each waits a window of its own: its windows are its
    # requests (a batch holds at most one request of a dialogue).
    print(f"  batch windows: {batch_requests / done:.1f} per dialogue, {batch_requests / done / turns:.1f} per turn "
          f"(question, tool round, answer, judge); {windows} batches for the run")
    dper, bper = dcpu / max(1, direct_requests), bcpu / max(1, batch_requests)
    print(f"  CPU per request: direct {dper * 1e3:.3f} ms, batch {bper * 1e3:.3f} ms, ratio batch/direct {bper / dper:.2f}")
    print(f"  bytes uploaded per accepted turn: {batch.get('bytes_uploaded', 0) / accepted_turns:,.0f} "
          f"({batch.get('bytes_uploaded', 0):,} bytes, {accepted_turns} turns)")
