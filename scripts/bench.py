#!/usr/bin/env python3
"""make bench: dlgforge's figures against baselines measured in the same process tree.

1. request rate at 64 and 256 dialogues in flight, 200 ms mock latency, vs the ideal (in-flight / latency),
   over the span from the first request sent to the last reply;
2. CPU per request for a whole run (every stage process) at zero latency, 256 in flight; the same at 64 in
   flight for dialogues of 2, 8 and 16 turns (turn scaling: the 16/2 ratio);
3. start-up time of `--help` per tool, and resident memory per stage at 256 in flight;
4. dlg-dedup pass-through of a 100 MB records file beside `jq -c .`;
5. dlg-dedup questions/s through PostgreSQL beside the file store, 1 and 4 processes, and the run's
   request rate at 256 in flight with the PostgreSQL store beside the file store;
6. report.html for 10,000 synthetic dialogues: build time and size beside the dataset export of the same
   records, and (with chromium) the page's load, render and search times beside a blank page's.
7. a fully cached run (the response cache of an earlier run with the same question seed) beside the same
   run against the mock at zero latency, in dialogues per second.
8. our LLM client alone (dlg-loadgen) beside the official `openai` package (AsyncOpenAI, asyncio), same
   calls, same concurrency, same mock at zero latency, in requests per CPU-second; and the run's limits
   broker's CPU per request for an endpoint with a limit and without one (dlg-loadgen --broker
   [--max-in-flight N] beside the same without a broker).
10. near-duplicate dedup (issue 24, --only-near): checks per CPU-second against an in-memory index of 1M
   questions and its bytes per question (dlg-nearbench: the index's own count and the resident-memory
   growth), dlg-dedup questions/s through PostgreSQL with near dedup on beside off (one process), and CPU
   per request of a whole run with near dedup on beside off (runs interleaved); semantic dedup's
   questions/s through the file store and PostgreSQL beside the embeddings server alone (bench_semantic.py).
9. dlg-cluster: on one machine (a local Ray), 1 and 2 shards beside dlg-run; and across three test hosts
   that share only a network (scripts/testhosts.sh, as root: --only-hosts): up, join and down times,
   the same run through dlg-run on one host and through 4 shards on two, and what was shipped. Request
   rates of these runs come from the mock's arrival times (dlg-mock --request-log): shards log where
   they run, not in the project.
10. batch mode (llm.batch_api, scripts/bench_batch.py): batch windows per dialogue, CPU per request beside
   direct, bytes uploaded per accepted turn.
Nothing here asserts a time: it prints figures and ratios.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCK_BIN = None  # the mock's build when it must not follow BIN (a baseline build is measured against the same mock)
BIN = os.environ.get("DLG_BENCH_BIN") or os.path.join(ROOT, ".build", "release")  # DLG_BENCH_BIN: another build (figures then say so)
TOOLS = ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-run", "dlg-mock", "dlg-cluster", "dlg-loadgen",
         "dlg-nearbench"]
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")


def start_mock(*args):
    p = subprocess.Popen([os.path.join(MOCK_BIN or BIN, "dlg-mock"), "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    if not m:
        p.kill()
        sys.exit(f"bench: the mock did not start: {line!r}")
    return p, m.group(1)


def workdir(batch, total, languages="[en]", cache_path=None, turns=2, no_cache=False):
    d = tempfile.mkdtemp(prefix="dlg-bench-")
    for name in ["knowledge", "data", "personas.yaml"]:
        src = os.path.join(ROOT, "examples", name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(d, name))
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(f"""run:
  batch_size: {batch}
  total_samples: {total}
  target_languages: {languages}
  n_turns: {turns}
  question_seed: bench
llm:
  base_url: ${{BENCH_URL}}
  model: mock-model
  timeout: 60
{f"  cache: {{path: {cache_path}}}" if cache_path else ""}{"  cache: {enabled: false}" if no_cache else ""}
retrieval: {{default_k: 3, chunk_size: 600, overlap: 100}}
personas: {{path: personas.yaml}}
judge: {{enabled: true, mode: online, granularity: turn}}
""")
    return d


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_generation(d, url, run_id="bench", extra_env=None):
    env = dict(os.environ, BENCH_URL=url, **(extra_env or {}))
    cpu0 = children_cpu()
    t0 = time.monotonic()
    out = subprocess.run([os.path.join(BIN, "dlg-run"), "--config", os.path.join(d, "config.yaml"), "--run-id", run_id],
                         env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    cpu = children_cpu() - cpu0
    if out.returncode != 0:
        sys.exit(f"bench: dlg-run failed ({out.returncode}): {out.stderr[-2000:]}")
    summary = json.loads(out.stdout)
    # Each llm.log line is stamped when its reply arrived and says how long the request took: the run's
    # requests span from the first one sent to the last reply.
    n, span = llm_span(d)
    return summary, wall, cpu, span if n else wall, n


def warm_up(url, inflight, host=None):
    """One burst of `inflight` generator requests against a fresh mock before it is measured. A fresh
    mock answers its first few hundred connections 50-70 ms late (allocations, first page faults), which
    a server that has been up for a while does not; a measured run would count that as ours. With
    `host`, sent from that test host (scripts/testhosts.sh netexec)."""
    d = workdir(inflight, inflight)
    try:
        cmd = [os.path.join(BIN, "dlg-gen"), "--config", os.path.join(d, "config.yaml"), "--new", str(inflight),
               "--language", "en", "--run-id", "warm", "--concurrency", str(inflight)]
        if host is not None:
            on_host(host, cmd, env={"BENCH_URL": url})
        else:
            subprocess.run(cmd, env=dict(os.environ, BENCH_URL=url), capture_output=True, check=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def process_cpu(pid):
    """User + system CPU seconds of a running process."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MOCK_CPU = []  # (CPU seconds, requests) of the mock in each measured run, for its own figure


def generation_against_mock(inflight, latency_ms, rounds=2, run_id="bench", extra_env=None, mock_args=(), turns=2):
    """A run of `rounds` x `inflight` dialogues of `turns` turns, `inflight` at a time, against a fresh
    mock warmed up by one burst; the mock and the work dirs are removed."""
    mock, url = start_mock("--latency-ms", str(latency_ms), *mock_args)
    d = workdir(inflight, inflight * rounds, turns=turns)
    try:
        warm_up(url, inflight)
        before = process_cpu(mock.pid)
        result = run_generation(d, url, run_id, extra_env)
        MOCK_CPU.append((process_cpu(mock.pid) - before, result[4]))
        return result
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


def mock_bench():
    """The mock's own CPU per request over the rate runs above (the project's real prompts): the
    requests one core of it can serve. Its latency is scheduled, so CPU is what could limit it."""
    cpu = sum(c for c, _ in MOCK_CPU)
    n = sum(k for _, k in MOCK_CPU)
    if n == 0 or cpu == 0:
        print("  mock: no CPU measured")
        return
    print(f"  dlg-mock: {cpu:.2f} CPU-s for {n} requests -> {cpu / n * 1000:.3f} ms per request, "
          f"{n / cpu:,.0f} requests/s on one core (target >= 5,000; it runs on one event-loop thread)")


def rate_bench(inflight, latency_ms, rounds=2, runs=3, mock_args=()):
    """`runs` runs, each printed; the median is the figure (one run varies by +-1.5% on this machine)."""
    ideal = inflight / (latency_ms / 1000)
    ratios = []
    for _ in range(runs):
        summary, wall, cpu, span, n = generation_against_mock(inflight, latency_ms, rounds, mock_args=mock_args)
        rate = n / span if span > 0 else 0
        ratios.append(rate / ideal)
        print(f"  {inflight:>3} in flight, {latency_ms} ms: {n} requests in {span:.2f} s -> {rate:7.1f} req/s; "
              f"ideal {ideal:.0f} req/s; ratio {rate / ideal:.3f}  (wall {wall:.1f} s, {summary['dialogues']} dialogues)")
    median = statistics.median(ratios)
    print(f"  {inflight:>3} in flight, {rounds} x {inflight} dialogues: median ratio {median:.3f} of {runs} runs (target >= 0.90)")
    return median


def big_reply_rate(inflight, runs=3, short=2, long=8):
    """The 4 KB-reply rate over runs of `short` and `long` rounds of `inflight` dialogues, alternated.
    A run's rate is what it served over its whole span, start and end included; the start (every stage
    opening its `inflight` connections at once, the mock accepting them on the same cores) and the end
    (the run waits for its slowest dialogue) cost a fixed few hundred ms, which weighs more the shorter
    the run. The sustained rate is what the longer run served beyond the shorter one, over the time it
    took beyond it: the rate once the run is under way."""
    ideal = inflight / 0.2
    result = {short: [], long: []}
    for _ in range(runs):
        for rounds in (short, long):
            summary, wall, cpu, span, n = generation_against_mock(inflight, 200, rounds, mock_args=("--reply-bytes", "4096"))
            result[rounds].append((n, span))
            print(f"  {inflight:>3} in flight, {rounds} x {inflight} dialogues: {n} requests in {span:.2f} s -> ratio "
                  f"{n / span / ideal:.3f}  (wall {wall:.1f} s)")
    for rounds in (short, long):
        ratios = [n / span / ideal for n, span in result[rounds]]
        print(f"  {inflight:>3} in flight, {rounds} x {inflight} dialogues: median ratio {statistics.median(ratios):.3f} "
              f"of {runs} runs (target >= 0.90)")
    sustained = [(nl - ns) / (sl - ss) / ideal for (ns, ss), (nl, sl) in zip(result[short], result[long])]
    start_cost = [ss - ns / ideal for ns, ss in result[short]]
    print(f"  {inflight:>3} in flight: sustained ratio {statistics.median(sustained):.3f} (the {long}-round run beyond "
          f"the {short}-round one); a run's fixed start and end cost {statistics.median(start_cost):.2f} s over the ideal")
    return statistics.median([n / span / ideal for n, span in result[long]])


def big_replies_against(baseline_bin, runs=3, inflights=(64, 256), rounds=2):
    """The 4 KB-reply rate and the CPU per request (every process of the run but the mock) of this build
    and of `baseline_bin`, runs alternated so that the machine's load falls on both alike; medians."""
    global BIN, MOCK_BIN
    builds = [("this build", BIN), ("baseline", baseline_bin)]
    MOCK_BIN = BIN
    for n in inflights:
        ideal = n / 0.2
        ratios = {name: [] for name, _ in builds}
        cpus = {name: [] for name, _ in builds}
        for _ in range(runs):
            for name, bindir in builds:
                BIN = bindir
                try:
                    summary, wall, cpu, span, k = generation_against_mock(n, 200, rounds, mock_args=("--reply-bytes", "4096"))
                finally:
                    BIN = builds[0][1]
                ratios[name].append(k / span / ideal)
                cpus[name].append(cpu / max(1, k) * 1000)
                print(f"  {n:>3} in flight, {name:<10}: ratio {ratios[name][-1]:.3f}, {cpus[name][-1]:.3f} ms CPU per request")
        for name, _ in builds:
            print(f"  {n:>3} in flight, {name:<10}: median ratio {statistics.median(ratios[name]):.3f} of ideal "
                  f"(target >= 0.90), median {statistics.median(cpus[name]):.3f} ms CPU per request")
        print(f"  {n:>3} in flight: this build / baseline = {statistics.median(ratios['this build']) / statistics.median(ratios['baseline']):.3f} "
              f"in rate, {statistics.median(cpus['this build']) / statistics.median(cpus['baseline']):.3f} in CPU per request")


def cpu_bench(inflight):
    summary, wall, cpu, span, n = generation_against_mock(inflight, 0)
    per = cpu / max(1, n) * 1000
    print(f"  {inflight} in flight, 0 ms: {n} requests, {cpu:.2f} CPU-s for all stage processes -> {per:.3f} ms CPU per request "
          f"(target <= 1 ms; Python dlgforge: 23-43 ms); wall {wall:.1f} s")


def turn_bench(inflight=64, rounds=2, runs=3, turn_counts=(2, 8, 16)):
    """CPU per request of the whole run (every stage process and dlg-run) at 0 ms, for dialogues of 2, 8
    and 16 turns: a stage's cost per request should not grow with the dialogue it carries. Runs of the
    turn counts are interleaved (2, 8, 16, 2, 8, 16, ...) so that the machine's load falls on each alike;
    the median of `runs` is the figure."""
    per = {t: [] for t in turn_counts}
    for _ in range(runs):
        for t in turn_counts:
            summary, wall, cpu, span, n = generation_against_mock(inflight, 0, rounds, turns=t)
            per[t].append(cpu / max(1, n) * 1000)
            print(f"  {t:>2} turns, {inflight} in flight, {rounds * inflight} dialogues: {n} requests, {cpu:.2f} CPU-s -> "
                  f"{per[t][-1]:.3f} ms CPU per request; wall {wall:.1f} s")
    med = {t: statistics.median(v) for t, v in per.items()}
    print("  median of %d runs: %s" % (runs, ", ".join(f"{t} turns {m:.3f} ms" for t, m in med.items())))
    lo, hi = min(turn_counts), max(turn_counts)
    print(f"  {hi} turns / {lo} turns: {med[hi] / med[lo]:.2f}x CPU per request (target <= 1.25)")
    return med


def startup_bench():
    for tool in TOOLS:
        times = []
        for _ in range(15):
            t0 = time.monotonic()
            subprocess.run([os.path.join(BIN, tool), "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.monotonic() - t0) * 1000)
        print(f"  {tool:<12} --help: median {statistics.median(times):5.1f} ms (target < 50 ms)")


def stage_peaks(root_pid, peaks):
    """Records the peak resident memory (VmHWM, kB) of each stage tool under `root_pid`."""
    children = []
    try:
        # Children are listed by the thread that started them; dlg-run starts them from any of its threads.
        for tid in os.listdir(f"/proc/{root_pid}/task"):
            children += open(f"/proc/{root_pid}/task/{tid}/children").read().split()
    except OSError:
        return
    for pid in children:
        try:
            # The name it was started as (argv[0]): every tool is the one binary dlg, /proc/PID/exe says dlg.
            exe = os.path.basename(open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode())
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    peaks[exe] = max(peaks.get(exe, 0), int(line.split()[1]))
        except OSError:
            pass


def rss_bench(inflight):
    # 1. In the run: dlg-run with `inflight` dialogues in flight streams them through the four stages;
    #    each stage's peak is read from /proc while it runs.
    mock, url = start_mock("--latency-ms", "200")
    d = workdir(inflight, inflight * 2)
    env = dict(os.environ, BENCH_URL=url)
    cfg = os.path.join(d, "config.yaml")
    try:
        run = subprocess.Popen([os.path.join(BIN, "dlg-run"), "--config", cfg, "--run-id", "rss"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peaks = {}
        while run.poll() is None:
            stage_peaks(run.pid, peaks)
            time.sleep(0.02)
        for tool in ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge"]:
            print(f"  {tool:<12} in a run of {inflight} in flight (2 turns): peak RSS {peaks.get(tool, 0) / 1024:5.1f} MB "
                  f"(target <= 50 MB; Python dlgforge 545-595 MB)")
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)

    # 2. Harder: each stage alone on a file, with all `inflight` records of a first turn in flight in it.
    mock, url = start_mock("--latency-ms", "200")
    d = workdir(inflight, inflight)
    env = dict(os.environ, BENCH_URL=url)
    cfg = os.path.join(d, "config.yaml")
    try:
        stages = [("dlg-gen", ["--new", str(inflight), "--language", "en", "--run-id", "rss"]), ("dlg-dedup", []),
                  ("dlg-respond", []), ("dlg-judge", [])]
        data = b""
        for tool, extra in stages:
            script = ("import resource,subprocess,sys;"
                      "p=subprocess.run(sys.argv[1:],stdin=sys.stdin,stdout=sys.stdout);"
                      "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,file=sys.stderr)")
            out = subprocess.run([sys.executable, "-c", script, os.path.join(BIN, tool), "--config", cfg,
                                  "--concurrency", str(inflight), *extra],
                                 input=data, capture_output=True, env=env)
            rss_kb = int(out.stderr.decode().strip().splitlines()[-1])
            print(f"  {tool:<12} alone, {inflight} records in flight in it: max RSS {rss_kb / 1024:5.1f} MB")
            data = out.stdout
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


def dedup_bench(size_mb):
    if not shutil.which("jq"):
        print("  jq not found: install it (apt-get install jq) for this comparison")
        return
    mock, url = start_mock()
    d = workdir(8, 8)
    env = dict(os.environ, BENCH_URL=url)
    cfg = os.path.join(d, "config.yaml")
    try:
        subprocess.run([os.path.join(BIN, "dlg-run"), "--config", cfg, "--run-id", "seed"], env=env,
                       capture_output=True, check=True)
        finished = os.path.join(d, "outputs", "run_state", "seed", "finished.jsonl")
        lines = [l for l in open(finished, "rb") if b'"completed"' in l]
        big = os.path.join(d, "records.jsonl")
        written = 0
        i = 0
        with open(big, "wb") as out:
            while written < size_mb * 1_000_000:
                line = lines[i % len(lines)].replace(b'"conversation_id":"', b'"conversation_id":"x%d-' % i, 1)
                out.write(line)
                written += len(line)
                i += 1
    finally:
        mock.terminate(); mock.wait()

    def timed(cmd):
        best = None
        for _ in range(3):
            with open(big, "rb") as src:
                t0 = time.monotonic()
                subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, check=True, env=env)
                dt = time.monotonic() - t0
            best = dt if best is None else min(best, dt)
        return written / 1e6 / best

    ours = timed([os.path.join(BIN, "dlg-dedup"), "--config", cfg])
    jq = timed(["jq", "-c", "."])
    print(f"  {written / 1e6:.0f} MB, {i} records: dlg-dedup {ours:6.1f} MB/s, jq -c . {jq:6.1f} MB/s, ratio {ours / jq:.2f} (target >= 1)")
    shutil.rmtree(d, ignore_errors=True)


def bench_postgres():
    """The DSN for the store benchmarks and a function that stops what was started here: DLG_PG_DSN
    when set, else the test server of scripts/services/postgres.sh (started, and stopped at the end)."""
    if os.environ.get("DLG_PG_DSN"):
        return os.environ["DLG_PG_DSN"], lambda: None
    services = os.path.join(ROOT, "scripts", "services", "postgres.sh")
    was_up = subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "status"], capture_output=True,
                            env=dict(os.environ, PG_PORT=os.environ.get("TEST_PG_PORT", "54339"),
                                     PG_DIR=os.environ.get("TEST_PG_DIR", ".dlgforge/pg-test"))).returncode == 0
    out = subprocess.run([services, "up"], capture_output=True, text=True)
    m = re.search(r"DLG_PG_DSN=(\S+)", out.stdout)
    if out.returncode != 0 or not m:
        return None, lambda: None
    stop = (lambda: None) if was_up else (lambda: subprocess.run([services, "down"], capture_output=True))
    return m.group(1), stop


def pending_lines(questions, prefix, **fields):
    """dlg-dedup's input: a dialogue record per question (JSONL lines), the question pending at turn 1;
    `fields` go into each record after its conversation id."""
    return [json.dumps({"conversation_id": f"{prefix}-{i}", **fields, "status": "active", "language": "en", "turns": [],
                        "target_turns": 2, "pending": {"user_message": q, "state": "generated", "turn_index": 1}},
                       separators=(",", ":")) + "\n" for i, q in enumerate(questions)]


def dedup_store_bench(dsn, total=40000, repeats=0.3):
    """`total` pending questions, `repeats` of them repeats of others (other case and spacing), dealt
    round-robin to 1 or 4 concurrent dlg-dedup processes; questions/s over the wall time of all of
    them, file store vs PostgreSQL (one round trip per batch; across processes the first to commit wins)."""
    import random
    rng = random.Random(7)
    distinct = [f"How does step {i} of the bench proofing work?" for i in range(int(total * (1 - repeats)))]
    questions = distinct + ["  " + rng.choice(distinct).upper() for _ in range(total - len(distinct))]
    rng.shuffle(questions)
    lines = pending_lines(questions, "b")
    rates = {}
    for store in ("file", "postgres"):
        for procs in (1, 4):
            d = tempfile.mkdtemp(prefix="dlg-bench-store-")
            try:
                with open(os.path.join(d, "config.yaml"), "w") as f:
                    f.write(f"store:\n  backend: {store}\n")
                parts = []
                for p in range(procs):
                    path = os.path.join(d, f"part{p}.jsonl")
                    with open(path, "w") as f:
                        f.writelines(lines[p::procs])
                    parts.append(path)
                run_id = f"bench-{store}-{procs}-{os.getpid()}-{int(time.time())}"
                env = dict(os.environ, POSTGRES_DSN=dsn or "", STORE_BACKEND=store)
                cmd = [os.path.join(BIN, "dlg-dedup"), "--config", os.path.join(d, "config.yaml"), "--run-id", run_id]
                cpu0 = children_cpu()
                t0 = time.monotonic()
                running = [subprocess.Popen(cmd, stdin=open(p), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                           for p in parts]
                outs = [r.communicate() for r in running]
                wall = time.monotonic() - t0
                cpu = children_cpu() - cpu0
                if any(r.returncode != 0 for r in running):
                    print(f"  {store} x{procs}: dlg-dedup failed: {outs[0][1].decode()[-500:]}")
                    continue
                accepted = sum(o[0].count(b'"state":"accepted"') for o in outs)
                rates[(store, procs)] = total / wall
                ok = "ok" if accepted == len(distinct) else f"WRONG: {accepted} accepted"
                print(f"  {store:<8} {procs} process(es): {total} questions in {wall:5.2f} s -> {total / wall:9,.0f} questions/s "
                      f"({accepted} accepted of {len(distinct)} distinct: {ok}); dlg-dedup CPU {cpu / total * 1e6:.1f} us per question")
            finally:
                shutil.rmtree(d, ignore_errors=True)
    for procs in (1, 4):
        if ("file", procs) in rates and ("postgres", procs) in rates:
            print(f"  {procs} process(es): postgres / file = {rates[('postgres', procs)] / rates[('file', procs)]:.2f} "
                  f"(target: postgres >= 20,000 questions/s)")


def near_index_bench(questions):
    """dlg-nearbench: the near-duplicate index alone, one thread (goals: >= 20,000 checks/s at 1M
    questions, <= 256 bytes a question beyond the text)."""
    out = subprocess.run([os.path.join(BIN, "dlg-nearbench"), "--questions", str(questions), "--checks", "20000"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  dlg-nearbench failed: {out.stderr[-500:]}")
        return
    f = json.loads(out.stdout)
    print(f"  {f['questions']:,} questions indexed in {f['build_cpu_seconds']:.1f} CPU-s; {f['checks']:,} checks: "
          f"{f['checks_per_cpu_second']:,.0f} checks per CPU-second (goal >= 20,000: ratio {f['checks_per_cpu_second'] / 20000:.2f}), "
          f"{f['candidates_confirmed_per_check']:.1f} candidates confirmed per check")
    print(f"  memory per question: {f['index_bytes_per_question']:.0f} B by the index's own count, "
          f"{f['rss_bytes_per_question']:.0f} B of resident memory (goal <= 256: ratio {f['index_bytes_per_question'] / 256:.2f}); "
          f"near duplicates found {f['near_found']} of {f['near_planted']}, distinct ones rejected {f['distinct_rejected']}")


def near_store_bench(dsn, total=40000):
    """dlg-dedup, one process, PostgreSQL, near dedup on (0.8) beside off, the same questions: 70%
    distinct, 15% exact repeats, 15% with a word added (goal: >= 5,000 questions/s with it on)."""
    import random
    rng = random.Random(11)
    words = [f"w{i}" for i in range(20000)]
    distinct = [" ".join(rng.choice(words) for _ in range(15)) + "?" for _ in range(int(total * 0.7))]
    questions = list(distinct)
    while len(questions) < total:
        q = rng.choice(distinct).split(" ")
        if rng.random() < 0.5:
            q.insert(rng.randrange(len(q)), "really")
        questions.append(" ".join(q))
    rng.shuffle(questions)
    lines = pending_lines(questions, "n", run_id="near")
    rates = {}
    for threshold in ("0", "0.8"):
        d = tempfile.mkdtemp(prefix="dlg-bench-near-")
        try:
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write("store:\n  backend: postgres\n")
            path = os.path.join(d, "in.jsonl")
            with open(path, "w") as f:
                f.writelines(lines)
            run_id = f"bench-near-{threshold}-{os.getpid()}-{int(time.time())}"
            env = dict(os.environ, POSTGRES_DSN=dsn, STORE_BACKEND="postgres", NEAR_DEDUP_THRESHOLD=threshold)
            t0 = time.monotonic()
            out = subprocess.run([os.path.join(BIN, "dlg-dedup"), "--config", os.path.join(d, "config.yaml"), "--run-id", run_id],
                                 stdin=open(path), capture_output=True, env=env)
            wall = time.monotonic() - t0
            if out.returncode != 0:
                print(f"  near {threshold}: dlg-dedup failed: {out.stderr.decode()[-500:]}")
                continue
            accepted = out.stdout.count(b'"state":"accepted"')
            rates[threshold] = total / wall
            print(f"  postgres, near_dedup_threshold {threshold:<3}: {total} questions in {wall:5.2f} s -> {total / wall:9,.0f} questions/s "
                  f"({accepted} accepted)")
        finally:
            shutil.rmtree(d, ignore_errors=True)
    if "0.8" in rates:
        ratio = f"; on / off = {rates['0.8'] / rates['0']:.2f}" if "0" in rates else ""
        print(f"  near dedup on: {rates['0.8']:,.0f} questions/s (goal >= 5,000: ratio {rates['0.8'] / 5000:.2f}){ratio}")


def near_run_cpu_bench(inflight=256, runs=3):
    """CPU per request of a whole run (every stage process, 0 ms mock) with near dedup at 0.8 beside
    off, runs interleaved; the medians' ratio is the figure (goal <= 1.05)."""
    per = {"0": [], "0.8": []}
    for i in range(runs):
        for threshold in ("0", "0.8"):
            summary, wall, cpu, span, n = generation_against_mock(inflight, 0, run_id=f"bench-near-{i}-{threshold}",
                                                                  extra_env={"NEAR_DEDUP_THRESHOLD": threshold})
            per[threshold].append(cpu / max(1, n) * 1000)
            print(f"  near_dedup_threshold {threshold:<3}: {n} requests, {cpu / max(1, n) * 1000:.3f} ms CPU per request")
    off, on = statistics.median(per["0"]), statistics.median(per["0.8"])
    print(f"  median CPU per request: off {off:.3f} ms, on {on:.3f} ms; on / off = {on / off:.3f} (goal <= 1.05)")


def near_figures(args, dsn):
    print("near-duplicate index alone (dlg-nearbench, one thread):")
    near_index_bench(200_000 if args.quick else 1_000_000)
    if dsn:
        print("dlg-dedup through PostgreSQL with near dedup, one process:")
        near_store_bench(dsn, 10000 if args.quick else 40000)
        from bench_near_memory import near_store_memory
        print("dlg-dedup's memory per accepted question with near dedup through PostgreSQL:")
        near_store_memory(dsn)
    print("CPU per request, whole run, near dedup on vs off (256 in flight, 0 ms):")
    near_run_cpu_bench(runs=1 if args.quick else 3)
    from bench_semantic import semantic_store_bench
    print("semantic dedup (all-MiniLM-L6-v2 at 0.9), dlg-dedup, one process, file store and PostgreSQL beside the embeddings server alone:")
    semantic_store_bench(dsn, 1000 if args.quick else 3000)


def store_rate_bench(dsn, inflight=256, latency_ms=200, runs=3):
    """The run's request rate with the journal and dedup in PostgreSQL beside the file store, runs
    interleaved so both see the same machine; the medians' ratio is the figure (target within 5%)."""
    ideal = inflight / (latency_ms / 1000)
    ratios = {"file": [], "postgres": []}
    for i in range(runs):
        for store in ("file", "postgres"):
            extra = {"POSTGRES_DSN": dsn, "STORE_BACKEND": "postgres"} if store == "postgres" else {"STORE_BACKEND": "file"}
            run_id = f"bench-rate-{os.getpid()}-{int(time.time())}-{i}"
            summary, wall, cpu, span, n = generation_against_mock(inflight, latency_ms, run_id=run_id, extra_env=extra)
            rate = n / span if span > 0 else 0
            ratios[store].append(rate / ideal)
            print(f"  {store:<8} {inflight} in flight: {n} requests in {span:.2f} s -> {rate:7.1f} req/s; ratio to ideal {rate / ideal:.3f}")
    f, p = statistics.median(ratios["file"]), statistics.median(ratios["postgres"])
    print(f"  median ratio to ideal: file {f:.3f}, postgres {p:.3f}; postgres / file = {p / f:.3f} (target >= 0.95)")


def llm_span(d):
    """Requests answered and the span from the first sent to the last answered, from logs/llm.log."""
    starts, ends = [], []
    with open(os.path.join(d, "logs", "llm.log")) as f:
        for line in f:
            m = re.search(r" status=200 ms=(\d+) ", line)
            if m:
                end = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                ends.append(end)
                starts.append(end - int(m.group(1)) / 1000)
    return len(ends), (max(ends) - min(starts) if ends else 0)


def mock_requests(root, reset=False, host=None):
    """The arrival times (ms) of the chat requests a mock started with --request-log has had since its
    last reset, from GET /stats/requests; with `reset`, then zeroed (POST /stats/reset clears them too).
    With `host`, asked from that test host (this machine's network does not reach the hosts')."""
    if host is not None:
        arrivals = json.loads(on_host(host, ["curl", "-sf", "-m", "30", root + "/stats/requests"])[1])["arrivals_ms"]
        if reset:
            on_host(host, ["curl", "-sf", "-m", "30", "-X", "POST", root + "/stats/reset"])
        return arrivals
    with urllib.request.urlopen(root + "/stats/requests", timeout=30) as r:
        arrivals = json.load(r)["arrivals_ms"]
    if reset:
        urllib.request.urlopen(urllib.request.Request(root + "/stats/reset", method="POST"), timeout=30).read()
    return arrivals


def arrival_span(arrivals_ms, latency_ms):
    """Requests and their span, from the mock's arrivals: the first request's arrival to the last one's
    reply (its arrival plus the mock's fixed latency), as llm_span measures it from the client's side."""
    if not arrivals_ms:
        return 0, 0.0
    return len(arrivals_ms), (max(arrivals_ms) - min(arrivals_ms) + latency_ms) / 1000


def local_ray():
    """The Ray cluster of the single-machine cluster bench: DLG_RAY_ADDRESS's (RAY_* of the environment),
    else one of scripts/services/ray.sh started here on a port and folder of the bench's own (the test
    suite's, which a test run may be using, is left alone); (RAY_* variables, stop function), or None."""
    if os.environ.get("DLG_RAY_ADDRESS"):
        return {k: v for k, v in os.environ.items() if k.startswith("RAY_")}, (lambda: None)
    svc = os.path.join(ROOT, "scripts", "services", "ray.sh")
    own = dict(os.environ, TEST_RAY_PORT="6397", TEST_RAY_DIR=".dlgforge/ray-bench")
    out = subprocess.run([svc, "up"], capture_output=True, text=True, env=own)
    if out.returncode != 0:
        print(f"  no Ray cluster (scripts/services/ray.sh up failed: {out.stderr[-300:]}): skipped")
        return None
    return dict(re.findall(r"export (RAY_[A-Z_]+)=(\S+)", out.stdout)), (lambda: subprocess.run([svc, "down"], capture_output=True, env=own))


def timed_in(d, cmd, env, timeout=900):
    """Seconds `cmd` took in folder d (raises RuntimeError with its stderr when it fails)."""
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=d, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({out.returncode}): {out.stderr[-800:]}")
    return time.monotonic() - t0


def cluster_bench(dsn, inflight=64, latency_ms=200, rounds=6, repeats=3):
    """The request rate of a run through dlg-cluster (Ray tasks running dlg-run --shard) with 1 and 2
    shards against the same run without Ray (dlg-run, PostgreSQL store), same total in flight, at
    `latency_ms`; and how long `dlg-cluster up` and `down` take, attaching to a running Ray and starting
    a local one (a head and 2 nodes). Rates come from the mock's arrival times (the shards run in
    folders of their own, so their logs/llm.log is not the project's)."""
    ray = local_ray()
    if ray is None:
        return
    ray_env, stop_ray = ray
    cluster = os.path.join(BIN, "dlg-cluster")
    mock, url = start_mock("--latency-ms", str(latency_ms), "--request-log")
    root = url[:-len("/v1")]
    # No response cache: every run asks the mock (the runs share a question seed). In the config, since
    # DLGFORGE_CACHE stays on the driver's host and does not reach the shards.
    d = workdir(inflight, inflight * rounds, no_cache=True)
    try:
        warm_up(url, inflight)
        mock_requests(root, reset=True)
        base_env = dict(os.environ, BENCH_URL=url, POSTGRES_DSN=dsn, STORE_BACKEND="postgres", DLG_PROGRESS="0",
                        DLG_CLUSTER_DIR=os.path.join(d, ".cluster"), DLGFORGE_CACHE="0")
        for k in [k for k in base_env if k.startswith("RAY_")]:
            del base_env[k]
        env = dict(base_env, **ray_env)
        cfg = os.path.join(d, "config.yaml")
        # Rounds alternate the three ways, so a change in the machine's load hits all of them alike;
        # the medians are compared. The run is long enough (`rounds` waves of `inflight` dialogues)
        # that the shards' staggered starts and ends weigh little.
        samples = {"dlg-run": [], "1 shard": [], "2 shards": []}
        first_up = True
        for rep in range(repeats):
            for label, shards in (("dlg-run", 0), ("1 shard", 1), ("2 shards", 2)):
                run_id = f"bench-cluster-{os.getpid()}-{rep}-{shards}"
                if shards == 0:
                    wall = timed_in(d, [os.path.join(BIN, "dlg-run"), "--config", cfg, "--run-id", run_id], env)
                else:
                    if first_up:
                        first_up = False
                        print(f"  dlg-cluster up (attach to Ray at {env.get('RAY_ADDRESS')}, DSN given): {timed_in(d, [cluster, 'up', '-c', cfg], env):.2f} s")
                    wall = timed_in(d, [cluster, "run", "-c", cfg, "--run-id", run_id, "--shards", str(shards)], env)
                n, span = arrival_span(mock_requests(root, reset=True), latency_ms)
                samples[label].append(n / span if span else 0)
                print(f"  {label:<9} {inflight} in flight: {n} requests in {span:.2f} s (wall {wall:.2f} s) -> {samples[label][-1]:7.1f} req/s")
        med = {k: statistics.median(v) for k, v in samples.items()}
        for label in ("1 shard", "2 shards"):
            print(f"  median {label} / dlg-run: {med[label] / med['dlg-run']:.3f} (aim: Ray costs under 10%, >= 0.90)")
        print(f"  dlg-cluster down (attached: nothing to stop): {timed_in(d, [cluster, 'down', '-c', cfg], env):.2f} s")
        local_env = dict(base_env, DLG_CLUSTER_RAY_PORT="6395", DLG_CLUSTER_DIR=os.path.join(d, ".c2"))
        print(f"  dlg-cluster up (starts a local head and 2 nodes): {timed_in(d, [cluster, 'up', '-c', cfg], local_env):.2f} s")
        print(f"  dlg-cluster down (stops them): {timed_in(d, [cluster, 'down', '-c', cfg], local_env):.2f} s")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"  cluster bench failed: {e}")
    finally:
        # A cluster a failure left up is stopped (down is safe twice).
        for state in (".cluster", ".c2"):
            if os.path.exists(os.path.join(d, state, "state.json")):
                subprocess.run([cluster, "down", "-c", os.path.join(d, "config.yaml")], cwd=d, capture_output=True,
                               env=dict(os.environ, **(ray_env if state == ".cluster" else {}), DLG_CLUSTER_DIR=os.path.join(d, state)))
        mock.terminate(); mock.wait()
        stop_ray()
        shutil.rmtree(d, ignore_errors=True)


# The hosts part: three test hosts (scripts/testhosts.sh: network namespaces on a private bridge) of
# their own, apart from the test suite's (another prefix and folder).
HOSTS_ENV = {"TESTHOSTS_PREFIX": "dlgb", "TESTHOSTS_DIR": "/var/lib/dlgforge-benchhosts"}
HOSTS_SCRIPT = os.path.join(ROOT, "scripts", "testhosts.sh")
HOST_ADDR = ["10.231.7.1", "10.231.7.2", "10.231.7.3"]
HOST_PORTS = {"ray": 6530, "pg": 54370, "mock": 18801}
WORKER_STATE = "/tmp/dlgworker"  # a worker host's own /tmp (it does not see this machine's)


def hosts_env(extra=None):
    """This environment for a command on a test host: the bench's hosts named, no Ray of ours (RAY_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return dict(env, **HOSTS_ENV, **(extra or {}))


def hosts_missing():
    """Why the test hosts cannot be made on this machine, or None."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    if not shutil.which("ip") and not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        return "needs iproute2 (ip netns)"
    out = subprocess.run([HOSTS_SCRIPT, "check"], env=hosts_env(), capture_output=True, text=True)
    return None if out.returncode == 0 else (out.stderr.strip() or f"testhosts.sh check: status {out.returncode}")


def on_host(h, cmd, env=None, hidden=False, cwd=None, timeout=900):
    """`cmd` run on test host h to its end: with netexec (h's network, this machine's files), or with
    `hidden` as a worker host that sees neither the checkout nor /tmp. (seconds, stdout); a failure
    raises RuntimeError with its stderr."""
    full = [HOSTS_SCRIPT, "exec" if hidden else "netexec", str(h), *cmd]
    t0 = time.monotonic()
    out = subprocess.run(full, env=hosts_env(env), capture_output=True, text=True, cwd=cwd, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"on h{h}: {os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''} failed "
                           f"({out.returncode}): {out.stderr[-1200:]}")
    return time.monotonic() - t0, out.stdout


def hosts_setup():
    """The three hosts, and the release tools installed where the worker hosts see them (what they
    join from); returns the install's bin folder."""
    out = subprocess.run([HOSTS_SCRIPT, "up"], env=hosts_env(), capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"testhosts.sh up failed ({out.returncode}): {out.stderr[-800:]}")
    prefix = os.path.join(HOSTS_ENV["TESTHOSTS_DIR"], "prefix")
    out = subprocess.run([os.path.join(ROOT, "scripts", "install.sh"), "install", BIN, prefix],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"install.sh install {BIN} {prefix} failed ({out.returncode}): {out.stderr[-800:]}")
    return os.path.join(prefix, "bin")


def start_host_mock(latency_ms):
    """The mock LLM on h1 (fixed seed, arrival times kept); (process, its root URL as the hosts reach it)."""
    cmd = [HOSTS_SCRIPT, "netexec", "1", os.path.join(MOCK_BIN or BIN, "dlg-mock"), "--host", HOST_ADDR[1],
           "--port", str(HOST_PORTS["mock"]), "--latency-ms", str(latency_ms), "--seed", "7", "--request-log"]
    p = subprocess.Popen(cmd, env=hosts_env(), stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "listening" not in line:
        p.kill(); p.wait()
        raise RuntimeError(f"the mock on h1 did not start: {line!r}")
    return p, f"http://{HOST_ADDR[1]}:{HOST_PORTS['mock']}"


def hosts_cluster_up(d, env, tools_bin):
    """`dlg-cluster up` on h0 (Ray head with no CPUs for shards, PostgreSQL), then h1 and h2 joined from
    the install with a 0600 copy of the token, each timed; returns the cluster's DSN."""
    cfg = os.path.join(d, "config.yaml")
    secs, _ = on_host(0, [os.path.join(BIN, "dlg-cluster"), "up", "-c", cfg, "--listen", HOST_ADDR[0], "--head-cpus", "0"],
                      env=env, cwd=d)
    print(f"  dlg-cluster up --listen {HOST_ADDR[0]} --head-cpus 0 (h0: Ray head, PostgreSQL): {secs:6.2f} s")
    token = os.path.join(HOSTS_ENV["TESTHOSTS_DIR"], "ray-token")
    fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f, open(os.path.join(env["DLG_CLUSTER_DIR"], "ray", "auth_token")) as src:
        f.write(src.read())
    os.chmod(token, 0o600)
    python = os.path.join(HOSTS_ENV["TESTHOSTS_DIR"], "ray-venv", "bin", "python")
    for h in (1, 2):
        secs, _ = on_host(h, [os.path.join(tools_bin, "dlg-cluster"), "join", "--address", f"{HOST_ADDR[0]}:{HOST_PORTS['ray']}",
                              "--token-file", token, "--python", python, "--cpus", "2", "--state-dir", WORKER_STATE],
                          hidden=True, timeout=300)
        print(f"  dlg-cluster join on h{h} ({HOST_ADDR[h]}, 2 CPUs, from the install):          {secs:6.2f} s")
    with open(os.path.join(env["DLG_CLUSTER_DIR"], "pg", "dsn")) as f:
        return f.read().strip()


def hosts_one_run(d, env, dsn, label, run_id):
    """One run: `dlg-run` on h1 (PostgreSQL of the cluster on h0), or `dlg-cluster run --shards 4` on h0
    with the shards on h1 and h2; (wall seconds, the cluster's summary or None)."""
    cfg = os.path.join(d, "config.yaml")
    if label == "dlg-run":
        secs, _ = on_host(1, [os.path.join(BIN, "dlg-run"), "--config", cfg, "--run-id", run_id],
                          env=dict(env, POSTGRES_DSN=dsn, STORE_BACKEND="postgres"), cwd=d)
        return secs, None
    secs, out = on_host(0, [os.path.join(BIN, "dlg-cluster"), "run", "-c", cfg, "--run-id", run_id, "--shards", "4"], env=env, cwd=d)
    return secs, json.loads(out.strip().splitlines()[-1])


def hosts_runs(d, env, dsn, root, inflight, latency_ms, repeats):
    """The same run through dlg-run and through the cluster, alternated `repeats` times; prints each
    rate (from the mock's arrivals) and the medians' ratio; returns the cluster runs' summaries."""
    samples = {"dlg-run": [], "cluster": []}
    walls = {"dlg-run": [], "cluster": []}
    summaries = []
    for rep in range(repeats):
        for label in ("dlg-run", "cluster"):
            wall, summary = hosts_one_run(d, env, dsn, label, f"bench-hosts-{os.getpid()}-{rep}-{label}")
            n, span = arrival_span(mock_requests(root, reset=True, host=1), latency_ms)
            samples[label].append(n / span if span else 0)
            walls[label].append(wall)
            if summary is None:
                where = "dlg-run on h1"
            else:
                summaries.append(summary)
                hosts = sorted({s["host"] for s in summary["shards"]})
                where = f"4 shards on {', '.join(hosts)}"
            print(f"  {label:<8} {inflight} in flight ({where}): {n} requests in {span:.2f} s (wall {wall:.2f} s) "
                  f"-> {samples[label][-1]:7.1f} req/s")
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"  median: dlg-run {med['dlg-run']:.1f} req/s, cluster {med['cluster']:.1f} req/s; cluster / dlg-run = "
          f"{med['cluster'] / med['dlg-run']:.3f} (the hosts share this machine's {os.cpu_count()} cores: the "
          f"distributed path's overhead, not a scaling figure)")
    wall = {k: statistics.median(v) for k, v in walls.items()}
    print(f"  median wall: dlg-run {wall['dlg-run']:.2f} s, cluster {wall['cluster']:.2f} s (the cluster's adds the driver, "
          f"packing and shipping, the shards' start and the export from the database); cluster / dlg-run = "
          f"{wall['cluster'] / wall['dlg-run']:.2f}")
    return summaries


def shipping_report(first, second):
    """What the first cluster run shipped (the tools package built: bundle cache cleared) and each
    host's fetch; and what the hosts fetched on the second run (their caches hold both versions)."""
    s = first["shipping"]
    print(f"  shipped, first run: tools {s['tools_bytes']:,} B (package built: {s['tools_built']}), "
          f"project {s['project_bytes']:,} B; pack {s['pack_seconds']:.2f} s, put {s['put_seconds']:.2f} s")
    for run, summary in (("first", first), ("second", second)):
        for host in sorted({sh["host"] for sh in summary["shards"]}):
            mine = [sh for sh in summary["shards"] if sh["host"] == host]
            per_shard = ", ".join(f"shard {sh['shard']} {sh['fetched_bytes']:,} B in {sh['fetch_seconds']:.2f} s" for sh in mine)
            # A host's shards fetch its packages once between them (one each, under a lock per package).
            print(f"    {run} run, {host}: fetched {sum(sh['fetched_bytes'] for sh in mine):,} B in "
                  f"{max(sh['fetch_seconds'] for sh in mine):.2f} s ({per_shard})")
    again = sum(sh["fetched_bytes"] for sh in second["shards"])
    t = second["shipping"]
    print(f"  second run: the hosts fetched {again:,} B ({'nothing: both packages cached' if again == 0 else 'NOT 0'}); "
          f"pack {t['pack_seconds']:.2f} s (package built: {t['tools_built']}), put {t['put_seconds']:.2f} s")


def hosts_teardown(d, env):
    """Whatever happened: the cluster down (safe twice), every process of the hosts killed, the hosts
    gone, PostgreSQL's server folder (pg.sh puts it under /var/lib/dlgforge-pg) removed."""
    state = env["DLG_CLUSTER_DIR"]
    if os.path.exists(os.path.join(state, "state.json")):
        try:
            on_host(0, [os.path.join(BIN, "dlg-cluster"), "down", "-c", os.path.join(d, "config.yaml")], env=env, cwd=d, timeout=300)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"  teardown: dlg-cluster down: {e}")
    for h in (2, 1, 0):
        subprocess.run([HOSTS_SCRIPT, "kill", str(h)], env=hosts_env(), capture_output=True)
    subprocess.run([HOSTS_SCRIPT, "down"], env=hosts_env(), capture_output=True)
    server = os.path.join(state, "pg", "server")
    if os.path.islink(server) and os.path.realpath(server).startswith("/var/lib/dlgforge-pg/"):
        shutil.rmtree(os.path.realpath(server), ignore_errors=True)
    token = os.path.join(HOSTS_ENV["TESTHOSTS_DIR"], "ray-token")
    if os.path.exists(token):
        os.remove(token)
    shutil.rmtree(d, ignore_errors=True)


def hosts_bench(inflight=64, latency_ms=200, rounds=6, repeats=3):
    """dlg-cluster across three hosts that share only a network: up, join and down times; the same run
    through dlg-run on one host and through 4 shards on two worker hosts, alternated; what was shipped."""
    why = hosts_missing()
    if why:
        print(f"  skipped: the test hosts cannot be made here: {why}")
        return
    d = workdir(inflight, inflight * rounds, no_cache=True)
    env = {"BENCH_URL": f"http://{HOST_ADDR[1]}:{HOST_PORTS['mock']}/v1", "DLG_PROGRESS": "0", "DLGFORGE_CACHE": "0",
           "DLG_CLUSTER_DIR": os.path.join(d, ".cluster"), "DLG_BUNDLE_CACHE": os.path.join(d, ".bundles"),
           "DLG_CLUSTER_RAY_PORT": str(HOST_PORTS["ray"]), "DLG_CLUSTER_PG_PORT": str(HOST_PORTS["pg"])}
    mock = None
    try:
        tools_bin = hosts_setup()
        mock, root = start_host_mock(latency_ms)
        warm_up(root + "/v1", inflight, host=1)
        mock_requests(root, reset=True, host=1)
        dsn = hosts_cluster_up(d, env, tools_bin)
        # The first cluster run builds the tools package: no cached one.
        shutil.rmtree(env["DLG_BUNDLE_CACHE"], ignore_errors=True)
        summaries = hosts_runs(d, env, dsn, root, inflight, latency_ms, repeats)
        shipping_report(summaries[0], summaries[1])
        secs, _ = on_host(0, [os.path.join(BIN, "dlg-cluster"), "down", "-c", os.path.join(d, "config.yaml")], env=env, cwd=d, timeout=300)
        print(f"  dlg-cluster down (h0's Ray and PostgreSQL, and the nodes h1 and h2 joined): {secs:.2f} s")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"  hosts bench failed: {e}")
    finally:
        if mock is not None:
            mock.terminate(); mock.wait()
        hosts_teardown(d, env)


def synthetic_records(path, n):
    """n finished dialogue records shaped like a run's (1-3 turns, evidence, premises, 2 tool calls of 3
    passages from a 60-chunk knowledge base, a verdict per turn); one in 12 dropped."""
    import random
    rnd = random.Random(12)
    words = ("compost starter flour water chain brake pad layer hydration temperature feeding schedule pile "
             "carbon nitrogen wear grooves lubricant cassette week refrigerator sourdough bicycle garden").split()
    text = lambda k: " ".join(rnd.choice(words) for _ in range(k)).capitalize()
    chunks = [{"source": f"doc{c % 6}.md", "chunk_index": c // 6, "content": text(110) + "."} for c in range(60)]
    reasons = ["irrelevant", "incorrect", "hallucinated", "weak_grounding", "vague", "incomplete", "unsafe", "other"]
    with open(path, "w") as f:
        for i in range(n):
            lang = "en" if i % 2 == 0 else "fr"
            dropped = i % 12 == 11
            target = rnd.randint(1, 3)
            turns = []
            for t in range(1, (target if not dropped else max(0, target - 1)) + 1):
                q = text(18) + "?"
                a = text(45) + "."
                events = [{"id": f"call-{t}-{k}", "name": "vector_db_search", "arguments": {"query": text(6), "k": 3},
                           "result": {"query": "q", "results": rnd.sample(chunks, 3)}} for k in range(2)]
                score = rnd.randint(2, 10)
                turns.append({
                    "turn_index": t, "user_message": q, "assistant_message": a,
                    "qa_generation": {"user_message": q, "intent": "how_to", "difficulty": "medium",
                                      "grounding_facts": [], "coverage_target": "x", "notes_for_assistant": []},
                    "kb_answer": {"assistant_message": a, "did_web_search": False, "reasoning_trace": {
                        "question": q, "retrieval_queries": {"vector_db_search": [text(5)], "web_search": []},
                        "evidence": [{"id": "E1", "cue": "KB", "content": text(25)}],
                        "premises": [{"id": "P1", "text": text(14), "evidence_refs": ["E1"], "assumption": ""}],
                        "thinking": [], "confidence": "high", "known_limits": []}},
                    "qa_judge": {"score": score, "reasons": [] if score >= 8 else rnd.sample(reasons, 2),
                                 "notes": text(10), "question_ok": True, "answer_ok": score >= 5},
                    "seed_topic": "", "seed_question": "", "question_mode": "fresh", "source_path": "doc0.md",
                    "attempt": 1, "tool_events": events})
            r = {"conversation_id": f"bench-{lang}-{i // 2:05d}", "run_id": f"bench-{lang}", "index": i // 2, "slot": i // 2,
                 "language": lang, "target_turns": target, "status": "dropped" if dropped else "completed",
                 "personas": {"user": "Busy parent | practical", "assistant": "Concise expert | brief",
                              "user_id": "busy_parent", "assistant_id": "concise_expert"},
                 "seed": {"topic": "", "question": ""}, "turns": turns,
                 "created_at": "2026-12-01T09:00:00.000000+00:00",
                 "usage": {"prompt_tokens": 4000, "completion_tokens": 300, "total_tokens": 4300, "requests": 7}}
            if dropped:
                r["drop_reason"] = "empty_answer"
            else:
                r["completed_at"] = "2026-12-01T09:00:01.000000+00:00"
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def timed_child(cmd, env):
    """Wall seconds and peak resident MB of one command (its own rusage, not the other children's)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"bench: {cmd[0]} failed with status {status}")
    return time.monotonic() - t0, ru.ru_maxrss / 1024


def report_bench(n):
    d = workdir(1, 1)
    records = os.path.join(d, "records.jsonl")
    synthetic_records(records, n)
    cfg = os.path.join(d, "config.yaml")
    env = dict(os.environ, BENCH_URL="http://127.0.0.1:9/v1")
    export_s, export_mb = min(timed_child([os.path.join(BIN, "dlg-export"), "--config", cfg, records], env) for _ in range(2))
    report_s, report_mb = min(timed_child([os.path.join(BIN, "dlg-export"), "report", "--config", cfg, records], env)
                              for _ in range(2))
    page = os.path.join(d, "outputs", "report.html")
    size, src = os.path.getsize(page), os.path.getsize(records)
    print(f"  {n} dialogues ({src / 1e6:.0f} MB of records): report.html built in {report_s:.2f} s "
          f"({report_s / export_s:.2f}x the dataset export's {export_s:.2f} s), peak {report_mb:.0f} MB resident "
          f"(export {export_mb:.0f} MB); {size / 1e6:.1f} MB, {size / src:.2f} of the records")
    chromium = shutil.which("chromium")
    if not chromium:
        print("  chromium not installed (apt-get install chromium): page timings skipped")
        shutil.rmtree(d, ignore_errors=True)
        return
    blank = os.path.join(d, "blank.html")
    with open(blank, "w") as f:
        f.write("<!doctype html><html><body data-ready=1></body></html>")

    def load(url):
        prof = tempfile.mkdtemp(prefix="dlg-bench-chromium-", dir=d)
        t0 = time.monotonic()
        out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={prof}",
                              "--window-size=1280,900", "--dump-dom", url], capture_output=True, text=True,
                             env=dict(os.environ, HOME=d), timeout=300)
        dt = time.monotonic() - t0
        attrs = dict(re.findall(r' data-([a-z-]+)="([^"]*)"', out.stdout.split("<body", 1)[-1].split(">", 1)[0]))
        rows = out.stdout.count('class="row')
        return dt, attrs, rows

    blank_s = min(load("file://" + blank)[0] for _ in range(2))
    page_s, attrs, rows = min((load("file://" + page) for _ in range(2)), key=lambda x: x[0])
    search_s, sattrs, _ = load("file://" + page + "?q=" + "zzz-nothing")
    print(f"  chromium --dump-dom: {page_s:.2f} s for the page, {blank_s:.2f} s for a blank page "
          f"(+{page_s - blank_s:.2f} s, with the dump of the DOM); usable {attrs.get('ready-ms', '?')} ms after the "
          f"navigation started, of which the script's parse and first render {attrs.get('render-ms', '?')} ms, "
          f"{rows} of {attrs.get('total', '?')} rows in the DOM; a text search over all: {sattrs.get('apply-ms', '?')} ms")
    shutil.rmtree(d, ignore_errors=True)


def cache_bench(inflight, total):
    """The same run twice from fresh outputs: first against the mock at 0 ms (it fills the cache), then
    reading the first one's cache; the second must send no chat request."""
    mock, url = start_mock()
    first = workdir(inflight, total)
    second = workdir(inflight, total, cache_path=os.path.join(first, "outputs", "llm_cache.sqlite"))
    try:
        def chats():
            import urllib.request
            return json.load(urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats"))["chat_completions"]
        s1, wall1, _, _, _ = run_generation(first, url)
        before = chats()
        s2, wall2, _, _, _ = run_generation(second, url)
        sent = chats() - before
        n1, n2 = s1.get("dialogues", 0), s2.get("dialogues", 0)
        print(f"  {total} dialogues, {inflight} in flight: uncached at 0 ms {n1 / wall1:7.1f} dialogues/s ({wall1:.2f} s), "
              f"fully cached {n2 / wall2:7.1f} dialogues/s ({wall2:.2f} s), ratio {wall1 / wall2:.2f}; "
              f"chat requests in the cached run: {sent}")
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(first, ignore_errors=True)
        shutil.rmtree(second, ignore_errors=True)


def client_bench(concurrency, requests):
    """Requests per CPU-second of the client process alone: dlg-loadgen (DlgCore's LLMClient), the
    `openai` package on asyncio, and dlg-loadgen taking a lease from a limits broker for each request;
    each against the same fresh mock at zero latency, best of two rounds in alternation."""
    mock, url = start_mock("--no-tool-calls")
    d = workdir(concurrency, 1)
    env = dict(os.environ, BENCH_URL=url)
    have_openai = os.path.exists(VENV_PY) and subprocess.run([VENV_PY, "-c", "import openai"], capture_output=True).returncode == 0

    def loadgen(*extra):
        out = subprocess.run([os.path.join(BIN, "dlg-loadgen"), "--config", os.path.join(d, "config.yaml"),
                              "--requests", str(requests), "--concurrency", str(concurrency), *extra],
                             env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def python_openai():
        out = subprocess.run([VENV_PY, os.path.join(ROOT, "scripts", "bench_openai.py"), url, str(requests), str(concurrency)],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    try:
        loadgen()  # warm the mock
        ours, theirs, leased, unleased = [], [], [], []
        for _ in range(2):
            ours.append(loadgen())
            if have_openai:
                theirs.append(python_openai())
            # A max_in_flight that never binds: every request asks the broker, as with any limit set.
            leased.append(loadgen("--broker", "--max-in-flight", "1000000"))
            unleased.append(loadgen("--broker"))
        best = lambda runs: max(runs, key=lambda r: r["requests_per_cpu_second"])
        o, l, u = best(ours), best(leased), best(unleased)
        errors = sum(r["errors"] for r in ours + theirs + leased + unleased)
        line = f"  {requests} calls, {concurrency} in flight, 0 ms: dlg-loadgen {o['requests_per_cpu_second']:8.0f} requests/CPU-s"
        if theirs:
            t = best(theirs)
            line += (f", openai {t.get('openai', '?')} (AsyncOpenAI) {t['requests_per_cpu_second']:8.0f} requests/CPU-s, "
                     f"ratio {o['requests_per_cpu_second'] / t['requests_per_cpu_second']:.1f}x")
        else:
            line += "; openai baseline skipped (no .venv with the openai package: scripts/bench.sh installs it)"
        print(line + (f"; {errors} failed calls" if errors else ""))
        per_ours = o["cpu_seconds"] / requests * 1e6
        per_leased = l["cpu_seconds"] / requests * 1e6
        per_unleased = u["cpu_seconds"] / requests * 1e6
        print(f"  limits broker, endpoint with a limit: {per_leased - per_ours:.1f} us CPU per request (both sides, one "
              f"Unix-socket round trip and a release): {per_ours:.1f} us without a broker, {per_leased:.1f} us with; "
              f"{l['requests_per_cpu_second']:.0f} requests/CPU-s through the broker")
        print(f"  limits broker, endpoint without a limit (granted in the client): {per_unleased - per_ours:.1f} us CPU "
              f"per request ({per_unleased:.1f} us)")
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


FAULT_MIX = [("--fault-429", "0.02"), ("--fault-500", "0.02"), ("--fault-503", "0.02"), ("--fault-timeout", "0.02"),
             ("--fault-drop", "0.02"), ("--fault-reset-body", "0.02"), ("--fault-short-body", "0.02"),
             ("--fault-malformed", "0.02"), ("--fault-truncated", "0.02"), ("--fault-missing-fields", "0.01"),
             ("--fault-wrong-types", "0.01")]


def fault_bench(total=200, inflight=64):
    """A bad day (as Tests/ToolTests/FaultMixTests): 20% faults of every kind, llm.timeout 5 s; the faults the
    mock injected and the failed attempts logs/llm.log records, per kind, and the run's outcome."""
    mock, url = start_mock("--latency-ms", "0", "--seed", "11", "--retry-after", "0", *[a for f in FAULT_MIX for a in f])
    d = workdir(inflight, total)
    cfg = os.path.join(d, "config.yaml")
    text = open(cfg).read().replace("  timeout: 60\n", "  timeout: 5\n  max_retries: 4\n")
    open(cfg, "w").write(text)
    try:
        summary, wall, _, _, _ = run_generation(d, url, "bad-day")
        import urllib.request
        stats = json.loads(urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats", timeout=10).read() or b"{}")
        kinds = {}
        for line in open(os.path.join(d, "logs", "llm.log"), errors="replace"):
            m = re.search(r" status=(\d+) ", line)
            if "error=malformed" in line:
                kinds["malformed 200"] = kinds.get("malformed 200", 0) + 1
            elif m and m.group(1) != "200":
                kinds[m.group(1)] = kinds.get(m.group(1), 0) + 1
            elif "error=timed out" in line:
                kinds["timeout"] = kinds.get("timeout", 0) + 1
            elif "error=connection error" in line:
                kinds["connection"] = kinds.get("connection", 0) + 1
        injected = {k: v for k, v in stats.get("faults", {}).items() if v}
        print(f"  {total} dialogues, {inflight} in flight: {wall:.1f} s; completed {summary.get('completed')}, "
              f"dropped {summary.get('dropped_by_reason', summary.get('dropped'))}")
        print(f"  injected by the mock: {injected} of {stats.get('chat_completions', 0)} chat requests")
        print(f"  retried by the client (logs/llm.log): {dict(sorted(kinds.items()))}, total {sum(kinds.values())}")
    finally:
        mock.terminate(); mock.wait()
        shutil.rmtree(d, ignore_errors=True)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--only-store", action="store_true", help="only the store benchmarks (section 5)")
    ap.add_argument("--report-only", action="store_true", help="only the report.html figures")
    ap.add_argument("--only-cluster", action="store_true", help="only the dlg-cluster figures (Ray from scripts/ray.sh)")
    ap.add_argument("--only-turns", action="store_true", help="only the turn-scaling figures (CPU per request at 2, 8, 16 turns)")
    ap.add_argument("--only-big-replies", action="store_true", help="only the request rate with 4 KB replies")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure in --only-turns / --only-big-replies")
    ap.add_argument("--rounds", type=int, default=2, help="with --baseline-bin: rounds of in-flight dialogues per run")
    ap.add_argument("--baseline-bin", help="with --only-big-replies: another build's bin folder (an earlier commit's "
                    ".build/release), its runs alternated with this build's in the same process tree")
    ap.add_argument("--report-dialogues", type=int, default=10_000, help="dialogues in the report bench")
    ap.add_argument("--only-client", action="store_true", help="only the LLM client figures (section 8)")
    ap.add_argument("--only-batch", action="store_true", help="only the batch-mode figures (llm.batch_api)")
    ap.add_argument("--only-faults", action="store_true", help="only the 20%% fault mix (retries per fault kind)")
    ap.add_argument("--only-hosts", action="store_true", help="only dlg-cluster across three test hosts (network namespaces; root)")
    ap.add_argument("--only-near", action="store_true", help="only the near-duplicate dedup figures (section 10)")
    return ap.parse_args()


def main():
    args = parse_args()
    for t in TOOLS:
        if not os.path.exists(os.path.join(BIN, t)):
            sys.exit(f"bench: {BIN}/{t} missing; run `swift build -c release` first")
    print(f"dlgforge benchmarks ({'release build' if BIN.endswith('release') else 'build in ' + BIN}; mock server = dlg-mock)")
    if args.only_store:
        dsn, stop = bench_postgres()
        try:
            print("dlg-dedup through the store, questions/s:")
            dedup_store_bench(dsn, 10000 if args.quick else 40000)
            print("request rate with the PostgreSQL store vs the file store:")
            store_rate_bench(dsn, runs=1 if args.quick else 3)
        finally:
            stop()
        return
    if args.only_near:
        dsn, stop = bench_postgres()
        try:
            near_figures(args, dsn)
        finally:
            stop()
        return
    if args.only_cluster:
        dsn, stop = bench_postgres()
        try:
            print("dlg-cluster (Ray tasks running dlg-run --shard) vs dlg-run, request rate at 200 ms:")
            cluster_bench(dsn)
        finally:
            stop()
        return
    if args.only_turns:
        print("turn scaling: CPU per request, whole run, 0 ms, 64 in flight, 128 dialogues, judge online:")
        turn_bench(runs=args.runs)
        return
    if args.only_big_replies:
        print("request rate vs ideal with 4 KB kb_responder replies (dlg-mock --reply-bytes 4096):")
        if args.baseline_bin:
            big_replies_against(args.baseline_bin, runs=args.runs, rounds=args.rounds)
            return
        for n in (64, 256):
            big_reply_rate(n, runs=args.runs)
        return
    if args.only_client:
        print("LLM client alone vs the openai package, requests per CPU-second:")
        client_bench(64, 3000 if args.quick else 10000)
        return
    if args.only_batch:
        print(BATCH_TITLE)
        batch_bench(32 if args.quick else 64)
        return
    if args.only_faults:
        print("a bad day: 20% faults of every kind (retries per fault kind):")
        fault_bench()
        return
    if args.only_hosts:
        print(HOSTS_TITLE)
        hosts_bench()
        return
    if args.report_only:
        print("report.html:")
        report_bench(args.report_dialogues)
        return
    print("request rate vs ideal (2 turns, per-turn judge, 2 x in-flight dialogues):")
    for n in (64, 256):
        rate_bench(n, 200)
    # A run of 2 x in-flight ends on its slowest pair of dialogues; a longer run shows how much of the
    # gap is that tail.
    rate_bench(256, 200, rounds=4, runs=1)
    print("the mock alone:")
    mock_bench()
    print("request rate vs ideal with 4 KB kb_responder replies (dlg-mock --reply-bytes 4096):")
    for n in (64, 256):
        big_reply_rate(n, runs=1 if args.quick else 3)
    print("CPU per request, whole run:")
    cpu_bench(256)
    print("turn scaling: CPU per request, whole run, 0 ms, 64 in flight, 128 dialogues, judge online:")
    turn_bench(runs=1 if args.quick else 3)
    print("start-up:")
    startup_bench()
    print("resident memory per stage:")
    rss_bench(256)
    print("dlg-dedup pass-through vs jq:")
    dedup_bench(20 if args.quick else 100)
    print("report.html:")
    report_bench(args.report_dialogues)
    print("response cache replay:")
    cache_bench(64, 128 if args.quick else 512)
    print("LLM client alone vs the openai package, requests per CPU-second:")
    client_bench(64, 3000 if args.quick else 10000)
    print("a bad day: 20% faults of every kind (retries per fault kind):")
    fault_bench()
    print(BATCH_TITLE)
    batch_bench(32 if args.quick else 64)
    store_figures(args)
    print(HOSTS_TITLE)
    hosts_bench()


BATCH_TITLE = "batch mode (llm.batch_api) beside direct, 0 ms:"
HOSTS_TITLE = ("dlg-cluster across three hosts that share only a network (scripts/testhosts.sh, 64 in flight, 200 ms; "
               "dlg-run on one host vs 4 shards on two):")


def store_figures(args):
    """Sections 5 and the single-machine cluster figures, which need a PostgreSQL."""
    dsn, stop = bench_postgres()
    if dsn is None:
        print("store: no PostgreSQL (set DLG_PG_DSN or let scripts/services/postgres.sh up start one): skipped")
        near_figures(args, None)
        return
    try:
        print("dlg-dedup through the store, questions/s:")
        dedup_store_bench(dsn, 10000 if args.quick else 40000)
        print("request rate with the PostgreSQL store vs the file store:")
        store_rate_bench(dsn, runs=1 if args.quick else 3)
        near_figures(args, dsn)
        print("dlg-cluster (Ray tasks running dlg-run --shard) vs dlg-run, request rate at 200 ms:")
        cluster_bench(dsn)
    finally:
        stop()


if __name__ == "__main__":
    from bench_batch import batch_bench
    main()
