#!/usr/bin/env python3
"""make bench-big: big runs and the limits, on the release build; long (the 100,000-dialogue run takes hours
on a small machine: --dialogues 1000 for the short version). Prints, never asserts:

1. runs of 1,000 and 100,000 dialogues against the mock at 0 ms: wall time, dialogues/s, and the peak
   resident memory of every process (dlg-run, each stage, the mock), sampled from /proc while it runs, and
   the resident memory of each at every tenth of the run (flat: level from the first tenth to the last);
2. the limits, each processed or refused with a message naming file, line and key, with its peak RSS:
   a 100 MB single JSONL line (dlg-dedup, dlg-respond, dlg-judge, dlg-export), a 1 GB input file (dlg-dedup, dlg-export),
   10,000 knowledge files and one 50 MB knowledge file (the index built by dlg-gen, then reused);
3. dlg-dedup's store with 200,000 accepted questions (--dedup-questions), fresh and read back.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (start_mock, workdir, synthetic_records, BIN)

BIN = bench.BIN


def rss_kb(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(root):
    """(pid, executable name) of root and its children (one level: dlg-run starts the stages)."""
    out = [(root, "dlg-run")]
    try:
        for tid in os.listdir(f"/proc/{root}/task"):
            for pid in open(f"/proc/{root}/task/{tid}/children").read().split():
                try:
                    # The name it was started as (argv[0]): every tool is the one binary dlg.
                    argv0 = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
                    out.append((int(pid), os.path.basename(argv0)))
                except OSError:
                    pass
    except OSError:
        pass
    return out


def committed(d):
    try:
        return json.load(open(os.path.join(d, "outputs", "run_state", "dataset_commit.json"))).get("dialogues", 0)
    except (OSError, ValueError):
        return 0


def big_run(n, batch):
    mock, url = bench.start_mock("--latency-ms", "0")
    d = bench.workdir(batch, n)
    # Checkpoints every 30 s, or every 2 s in a short run (so it has some, and its progress is seen).
    env = dict(os.environ, BENCH_URL=url, DLG_CHECKPOINT_SECONDS="30" if n > 20_000 else "2")
    try:
        t0 = time.monotonic()
        run = subprocess.Popen([os.path.join(BIN, "dlg-run"), "--config", os.path.join(d, "config.yaml"), "--run-id", "big"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        names = ["dlg-run", "dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-mock"]
        peaks, last, next_tenth = {}, {}, 1
        while run.poll() is None:
            procs = tree(run.pid) + [(mock.pid, "dlg-mock")]
            for pid, name in procs:
                peaks[name] = max(peaks.get(name, 0), rss_kb(pid, "VmHWM"))
                now = rss_kb(pid, "VmRSS")
                if now:
                    last[name] = now
            done = committed(d)
            if done >= n * next_tenth // 10 and next_tenth < 10:
                # The memory of every process at each tenth of the run: flat when these stay level.
                print(f"    at {done:>6} dialogues committed ({time.monotonic() - t0:5.0f} s): RSS MB " +
                      " ".join(f"{k.removeprefix('dlg-')} {last.get(k, 0) / 1024:.0f}" for k in names), flush=True)
                while next_tenth < 10 and done >= n * next_tenth // 10:
                    next_tenth += 1
            time.sleep(0.25)
        out, _ = run.communicate()
        wall = time.monotonic() - t0
        if run.returncode != 0:
            print(f"  {n} dialogues: dlg-run failed with status {run.returncode} after {wall:.0f} s")
            return
        summary = json.loads(out)
        done = sum(summary.get("completed", {}).values())
        print(f"  {n} dialogues ({batch} in flight, mock at 0 ms): {wall:.0f} s ({wall / 60:.1f} min), "
              f"{done / wall:.1f} completed dialogues/s")
        for name in names:
            print(f"    {name:<12} peak RSS {peaks.get(name, 0) / 1024:7.1f} MB")
        size = sum(os.path.getsize(os.path.join(d, "outputs", f)) for f in os.listdir(os.path.join(d, "outputs"))
                   if f.endswith(".jsonl"))
        print(f"    dataset files {size / 1e6:.0f} MB")
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


def measured(cmd, env, cwd=None, stdin=None):
    """(status, wall s, peak RSS MB, last stderr line) of one command. The command runs under a fresh small
    Python that reports its children's peak: a child forked from this process would inherit this process's
    own peak (the 100 MB line it built) as its starting maxrss."""
    probe = ("import os,resource,subprocess,sys;"
             "s=subprocess.call(sys.argv[2:]);"
             "open(sys.argv[1],'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss));"
             "sys.exit(s)")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-c", probe, rss.name, *cmd], stdin=stdin, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, cwd=cwd)
        wall = time.monotonic() - t0
        peak = int(rss.read() or 0) / 1024
    lines = [l for l in p.stderr.decode(errors="replace").splitlines() if l.strip()]
    return p.returncode, wall, peak, (lines[-1] if lines else "")


def show(label, result):
    status, wall, rss, last = result
    what = "processed" if status == 0 else f"refused (exit {status}): {last[:200]}"
    print(f"  {label:<44} {what}; {wall:6.1f} s, peak RSS {rss:7.1f} MB")


def limits(quick, only_line=False):
    mock, url = bench.start_mock("--latency-ms", "0")
    env = dict(os.environ, BENCH_URL=url)
    d = bench.workdir(4, 4)
    cfg = os.path.join(d, "config.yaml")
    try:
        # A 100 MB single line: one completed dialogue whose answer is 100 MB of text.
        big = os.path.join(d, "one-line.jsonl")
        bench.synthetic_records(big, 1)
        r = json.loads(open(big).readline())
        mb = 10 if quick else 100
        r["turns"][0]["assistant_message"] = ("All work and no play. " * (mb * 1_000_000 // 22 + 1))[: mb * 1_000_000]
        with open(big, "w") as f:
            f.write(json.dumps(r) + "\n")
        # The stages pass the finished dialogue through (nothing to do for it); dlg-export writes its rows.
        for tool, args in [("dlg-dedup", []), ("dlg-respond", []), ("dlg-judge", []), ("dlg-export", [big])]:
            with open(big, "rb") as stdin:
                show(f"{tool}: a {os.path.getsize(big) / 1e6:.0f} MB single JSONL line",
                     measured([os.path.join(BIN, tool), "--config", cfg, *args], env, d, stdin if not args else None))
        os.remove(big)
        if only_line:
            mock.terminate(); mock.wait()
            return

        # A 1 GB input file of run-shaped records (about 16 KB each).
        records = os.path.join(d, "records.jsonl")
        n = 6_500 if quick else 65_000
        t0 = time.monotonic()
        bench.synthetic_records(records, n)
        print(f"  (generated {os.path.getsize(records) / 1e9:.2f} GB of records in {time.monotonic() - t0:.0f} s)")
        with open(records, "rb") as stdin:
            show(f"dlg-dedup: a {os.path.getsize(records) / 1e9:.2f} GB input file", measured(
                [os.path.join(BIN, "dlg-dedup"), "--config", cfg], env, d, stdin))
        show(f"dlg-export: a {os.path.getsize(records) / 1e9:.2f} GB input file", measured(
            [os.path.join(BIN, "dlg-export"), "--config", cfg, records], env, d))
        os.remove(records)
    finally:
        shutil.rmtree(d, ignore_errors=True)

    # The knowledge folder: 10,000 files, then one 50 MB file; dlg-gen builds the index, then reuses it.
    for label, make in [("10,000 knowledge files", many_files), ("a 50 MB knowledge file", one_big_file(10 if quick else 50))]:
        d = bench.workdir(4, 4)
        try:
            kdir = os.path.join(d, "knowledge")
            shutil.rmtree(kdir)
            os.makedirs(kdir)
            make(kdir)
            cmd = [os.path.join(BIN, "dlg-gen"), "--config", os.path.join(d, "config.yaml"), "--new", "1", "--language", "en",
                   "--run-id", "k"]
            show(f"dlg-gen, {label} (index built)", measured(cmd, env, d))
            show(f"dlg-gen, {label} (index reused)", measured(cmd, env, d))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    mock.terminate(); mock.wait()


def dedup_store(n):
    """dlg-dedup's peak RSS over n distinct questions (file store, the coverage ledger): every one is
    accepted, so the store ends holding n questions; then again over the same ledger (a resumed run
    reads it back whole, then rejects every question)."""
    d = bench.workdir(4, 4)
    cfg = os.path.join(d, "config.yaml")
    try:
        words = "compost starter flour water chain brake pad layer hydration temperature feeding schedule".split()
        questions = os.path.join(d, "questions.jsonl")
        with open(questions, "w") as f:
            for i in range(n):
                q = f"How should I handle the {' '.join(words[(i >> k) % len(words)] for k in range(0, 24, 3))} case number {i}?"
                f.write(json.dumps({"conversation_id": f"dq-{i:07d}", "run_id": "dq", "status": "active", "target_turns": 2,
                                    "turns": [], "pending": {"state": "generated", "user_message": q, "turn_index": 1}}) + "\n")
        mb = os.path.getsize(questions) / 1e6
        for label in ["fresh ledger", "ledger read back"]:
            with open(questions, "rb") as stdin:
                show(f"dlg-dedup: {n:,} questions, {label}", measured(
                    [os.path.join(BIN, "dlg-dedup"), "--config", cfg], dict(os.environ, BENCH_URL="http://127.0.0.1:9"), d, stdin))
        print(f"    ({mb:.0f} MB of records in; the ledger holds {n:,} questions)")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def many_files(kdir):
    words = "compost starter flour water chain brake pad layer hydration temperature feeding".split()
    for i in range(10_000):
        sub = os.path.join(kdir, f"part{i // 1000}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"doc{i:05d}.md"), "w") as f:
            f.write(f"# Note {i}\n\n" + " ".join(words[(i + k) % len(words)] for k in range(120)) + ".\n")


def one_big_file(mb):
    def make(kdir):
        words = "compost starter flour water chain brake pad layer hydration temperature feeding schedule".split()
        para = " ".join(words[k % len(words)] for k in range(90)) + ".\n\n"
        with open(os.path.join(kdir, "big.md"), "w") as f:
            for _ in range(mb * 1_000_000 // len(para) + 1):
                f.write(para)
    return make


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dialogues", default="1000,100000", help="run sizes, comma-separated (default 1000,100000)")
    ap.add_argument("--batch", type=int, default=256, help="dialogues in flight (default 256)")
    ap.add_argument("--quick", action="store_true", help="limits at a tenth of their size")
    ap.add_argument("--only-limits", action="store_true", help="skip the runs")
    ap.add_argument("--only-runs", action="store_true", help="skip the limits")
    ap.add_argument("--dedup-questions", type=int, default=200_000,
                    help="questions for dlg-dedup's store memory (default 200000; 0: skip)")
    ap.add_argument("--only-dedup", action="store_true", help="only dlg-dedup's store memory")
    ap.add_argument("--only-line", action="store_true", help="only the 100 MB single line")
    args = ap.parse_args()
    for t in ["dlg-run", "dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-mock"]:
        if not os.path.exists(os.path.join(BIN, t)):
            sys.exit(f"bench-big: {BIN}/{t} missing; run `swift build -c release` first")
    t0 = time.monotonic()
    print(f"dlgforge big runs and limits ({'release build' if BIN.endswith('release') else 'build in ' + BIN})")
    if args.only_line:
        print("limits:")
        limits(args.quick, only_line=True)
        return
    if args.only_dedup:
        print("dedup store:")
        dedup_store(args.dedup_questions)
        return
    if not args.only_limits:
        print("big runs:")
        for n in [int(x) for x in args.dialogues.split(",") if x]:
            big_run(n, args.batch)
    if not args.only_runs:
        print("limits:")
        limits(args.quick)
        if args.dedup_questions:
            dedup_store(args.dedup_questions // 10 if args.quick else args.dedup_questions)
    print(f"bench-big took {(time.monotonic() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
