#!/usr/bin/env python3
"""dlg-cluster's Ray driver (ours; Ray's own API, no Ray Jobs or dashboard).

Called by `dlg-cluster` with a Python that has Ray; reads the cluster address from RAY_ADDRESS and the token
from RAY_AUTH_TOKEN_PATH / RAY_AUTH_TOKEN (set by dlg-cluster). One JSON object per line on stdout; nothing
secret is printed.

The machines of a cluster share a network and nothing else. A shard needs on its worker host only Ray's
Python: the driver ships the rest with the job (docs/operations.md, "Shipping a run"):
  - the tools: one package, `bin/dlg` (the multicall binary, stripped) with the shared libraries it links
    beside glibc's own (`lib/`) and a manifest (version, architecture, the newest glibc symbol it needs);
  - the project: the resolved config (secrets replaced by ${DLG_SECRET_n} placeholders), the knowledge-base
    index, personas and seed files, as dlg-cluster laid them out;
both as gzipped tars put once into Ray's object store and fetched by a worker host only when its cache
(DLG_WORKER_CACHE, set by `dlg-cluster join` / `up`; else ~/.cache/dlgforge/worker) lacks that version, so a
second run on the same hosts sends nothing again. Secrets reach shards through the job's environment
(runtime_env env_vars, named by DLG_CLUSTER_JOB_ENV), never in files, task arguments or objects.

  run      --shards N --run-id ID --project DIR --bin DIR --log-dir DIR [--state-dir DIR]
           [--max-retries K] [--num-cpus C]
           one Ray task per shard running `dlg-run --shard I/N` on the shipped tools and project; a shard's
           stderr lines reach the driver's host as <log-dir>/shard-<run>-<i>.log while it runs; at its end
           its log files, and its rejected questions (run_state/<id>/dedup_rejections.jsonl) appended to
           the files of the same names under DIR
  nodes    the hosts: address, CPUs, alive, shards running (CPUs in use / the shard's CPUs)
  cleanup  [--stop-joined] [--timeout S] on every host: remove the cached packages; with --stop-joined
           also stop the Ray node of each host that `dlg-cluster join` started; says which hosts it could
           not reach
  publish-manifest --bin DIR   what the tools need of a host (architecture, glibc), in Ray's key-value store
  check-host [--manifest FILE] this host against the published manifest (join) or a file (tests); the
                               shards run the same check against the tools they were shipped
  vllm-up --replicas N --num-gpus G --port-start P --host H --model M --served-name S --log-dir DIR
          [--extra-arg ARG ...] [--health-timeout S]
          one detached Ray actor per replica, each running `vllm serve` (the key comes from the
          environment variable DLG_CLUSTER_VLLM_KEY and reaches vLLM as VLLM_API_KEY, never argv)
  vllm-down               stop the replicas' processes and kill their actors (safe twice)
  vllm-kill --replica I   kill one replica's vllm process (tests: a replica lost mid-run)
  status                  nodes alive, and each replica's actor and /health
"""
import argparse
import collections
import ctypes
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

import ray

NAMESPACE = "dlgforge"
TOOLS = ("dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-run", "dlg-cluster")
# glibc's own libraries: every Linux host has them; the package carries every other library the tools link.
GLIBC_FAMILY = re.compile(r"^(ld-linux.*|libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libBrokenLocale|libnsl)\.so")
TAIL_LINES = 20


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


PR_SET_PDEATHSIG = 1


def parent_death_signal(sig=signal.SIGTERM):
    """A function that asks Linux to send `sig` to the calling process when its parent dies (even by
    SIGKILL), so a killed dlg-cluster takes its driver along, and a shard's worker that Ray kills takes
    its dlg-run along. prctl is looked up here, in the parent: the function runs as a Popen preexec_fn
    in a multithreaded Ray worker, where a dlopen after fork could wait on a lock another thread held
    (and a ctypes object cannot be a module global: Ray pickles the task's globals)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    return lambda: prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def connect(runtime_env=None):
    ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), namespace=NAMESPACE,
             logging_level="ERROR", log_to_driver=False, runtime_env=runtime_env)


# ---------------------------------------------------------------------------------------------------------
# Packages: what the driver ships


def deterministic_targz(add_entries, level=6, xz=False):
    """A compressed tar whose bytes depend only on the files' names, modes and contents (no times, owners),
    so the same content is the same version on every run. gzip, or xz (about a quarter smaller for the
    tools, several times slower to pack: worth it once per release build that ships to real hosts)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path, mode in sorted(add_entries):
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.size = os.path.getsize(path)
            with open(path, "rb") as f:
                tar.addfile(info, f)
    if xz:
        return lzma.compress(raw.getvalue(), format=lzma.FORMAT_XZ, preset=2)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def glibc_needed(paths):
    """The newest GLIBC_x.y version any of these files asks for (a scan of their version strings)."""
    best = (0, 0)
    for p in paths:
        with open(p, "rb") as f:
            for m in re.finditer(rb"GLIBC_(\d+)\.(\d+)", f.read()):
                best = max(best, (int(m.group(1)), int(m.group(2))))
    return "%d.%d" % best


def linked_libraries(binary):
    """The shared libraries `binary` loads that are not glibc's own: (name, resolved path)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m and not GLIBC_FAMILY.match(m.group(1)):
            libs.append((m.group(1), os.path.realpath(m.group(2))))
    return libs


def build_tools_package(bindir, cache_dir):
    """The tools as one versioned package, built once per binary and kept in cache_dir."""
    binary = os.path.realpath(os.path.join(bindir, "dlg"))
    if not os.path.isfile(binary):
        raise SystemExit(f"{bindir}: no dlg binary to ship (build first: make build)")
    h = hashlib.sha256()
    with open(binary, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    version = h.hexdigest()[:16]
    # A release build or an install ships xz (it goes to real hosts, once per version); a debug build
    # gzip at its fastest (tests and development, where packing time matters more than bytes).
    xz = os.environ.get("DLG_BUNDLE_COMPRESSION", "xz" if "/debug/" not in binary + "/" else "gzip") == "xz"
    path = os.path.join(cache_dir, f"tools-{version}.tar.{'xz' if xz else 'gz'}")
    if os.path.exists(path):
        return version, path, False
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tools-", dir=cache_dir)
    try:
        stripped = os.path.join(work, "dlg")
        if not (shutil.which("strip") and subprocess.run(["strip", "--strip-unneeded", "-o", stripped, binary],
                                                         capture_output=True).returncode == 0):
            shutil.copyfile(binary, stripped)
        libs = linked_libraries(binary)
        entries = [("bin/dlg", stripped, 0o755)] + [(f"lib/{name}", lib, 0o644) for name, lib in libs]
        manifest = dict(tools_manifest(bindir, libs), version=version)
        mpath = os.path.join(work, "manifest.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f, sort_keys=True)
        entries.append(("manifest.json", mpath, 0o644))
        data = deterministic_targz(entries, level=1, xz=xz)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Only the two newest tool packages stay in the driver's cache.
    olds = sorted((os.path.getmtime(os.path.join(cache_dir, n)), n) for n in os.listdir(cache_dir)
                  if n.startswith("tools-") and n.endswith((".tar.gz", ".tar.xz")))
    for _, n in olds[:-2]:
        os.unlink(os.path.join(cache_dir, n))
    return version, path, True


def build_project_package(project_dir):
    entries = []
    for base, dirs, files in os.walk(project_dir):
        dirs.sort()
        for name in files:
            p = os.path.join(base, name)
            rel = os.path.relpath(p, project_dir)
            if rel.split(os.sep)[0].startswith(".") or name == ".lock":
                continue
            entries.append((rel, p, 0o644))
    data = deterministic_targz(entries)
    return hashlib.sha256(data).hexdigest()[:16], data


# ---------------------------------------------------------------------------------------------------------
# On a worker host


class ShardFailed(Exception):
    """A shard whose dlg-run could not start or exited non-zero: where, why, and its last log lines."""

    def __init__(self, shard, host, status, reason, tail):
        super().__init__(f"shard {shard} on host {host}: {reason}")
        self.shard, self.host, self.status, self.reason, self.tail = shard, host, status, reason, tail

    def __reduce__(self):
        return (ShardFailed, (self.shard, self.host, self.status, self.reason, self.tail))


def worker_cache():
    d = os.environ.get("DLG_WORKER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dlgforge", "worker")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def host_problems(manifest):
    """Why this host cannot run the shipped tools, or []: another architecture, an older glibc."""
    problems = []
    arch = platform.machine()
    if manifest.get("arch") and manifest["arch"] != arch:
        problems.append(f"this host is {arch}, the tools were built for {manifest['arch']}")
    have = (os.confstr("CS_GNU_LIBC_VERSION") or "glibc 0.0").split()[-1]

    def v(s):
        return tuple(int(x) for x in s.split(".")[:2])

    if v(have) < v(manifest.get("glibc", "0.0")):
        problems.append(f"this host has glibc {have}, the tools need glibc {manifest['glibc']} or newer")
    return problems


def ensure_package(kind, version, digest, holder):
    """The folder of a shipped package on this host: from the cache, else fetched from the object store
    (once per version; shards on the same host racing for it each extract, the first rename wins).
    Returns (folder, bytes fetched, seconds)."""
    cache = worker_cache()
    final = os.path.join(cache, f"{kind}-{version}")
    if os.path.isfile(os.path.join(final, ".complete")):
        return final, 0, 0.0
    # One fetch per host: shards that start together on it wait for the first one's copy.
    with open(os.path.join(cache, f".{kind}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(final, ".complete")):
            return final, 0, 0.0
        return fetch_package(kind, version, digest, holder, cache, final)


def fetch_package(kind, version, digest, holder, cache, final):
    started = time.time()
    data = ray.get(holder[0])
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError(f"the {kind} package {version} arrived damaged (checksum mismatch)")
    work = tempfile.mkdtemp(prefix=f".{kind}-", dir=cache)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        tar.extractall(work, filter="data")
    if kind == "tools":
        for t in TOOLS:  # the tools dispatch on the name they were started as
            os.symlink("dlg", os.path.join(work, "bin", t))
    open(os.path.join(work, ".complete"), "w").close()
    try:
        os.rename(work, final)
    except OSError:  # another shard of this host was first
        shutil.rmtree(work, ignore_errors=True)
    return final, len(data), time.time() - started


def missing_libraries(tools):
    """Libraries the shipped `dlg` still cannot find here, as ldd names them ([] where there is no ldd:
    the loader's own message then says it when dlg-run starts)."""
    if not shutil.which("ldd"):
        return []
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(tools, "lib"))
    out = subprocess.run(["ldd", os.path.join(tools, "bin", "dlg")], capture_output=True, text=True, env=env,
                         check=False).stdout
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def shard_workdir(project):
    """A fresh folder for one shard attempt: the project's files linked in, the config copied (dlg-run
    resolves relative paths against the config's folder and writes its logs and outputs beside it)."""
    parent = os.path.join(worker_cache(), "work")
    os.makedirs(parent, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix="shard-", dir=parent)
    for name in os.listdir(project):
        if name == ".complete":
            continue
        src = os.path.join(project, name)
        if name == "config.yaml":
            shutil.copyfile(src, os.path.join(work, name))
        else:
            os.symlink(src, os.path.join(work, name))
    return work


def relay(stream, tail, sink, run_id, index, host):
    """A shard's stderr: kept in `tail` and sent on to the driver's host in batches."""
    batch, last = [], time.time()
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        tail.append(line)
        batch.append(line)
        if len(batch) >= 50 or time.time() - last > 0.5:
            sink.lines.remote(run_id, index, host, batch)
            batch, last = [], time.time()
    if batch:
        sink.lines.remote(run_id, index, host, batch)


def ship_logs(work, sink, run_id):
    """The shard's own log files (logs/llm.log, run.log, judge.log, and runs.jsonl, its time that the
    report reads) appended to the files of the same names on the driver's host, so that they read as a
    single-machine run's; in pieces of 1 MiB, in order (an actor runs one caller's calls in the order
    they were made). Then the questions its dlg-dedup rejected (outputs/run_state/<id>/
    dedup_rejections.jsonl, where <id> is a record's run id: the run's, with its language after a dash),
    appended to the same files on the driver's host, which metrics.json and the report read: in pieces
    of whole lines, so that two shards' pieces never cut each other's lines."""
    logs = os.path.join(work, "logs")
    refs = []
    if os.path.isdir(logs):
        for name in sorted(os.listdir(logs)):
            if name.endswith(".log") or name == "runs.jsonl":
                with open(os.path.join(logs, name), "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        refs.append(sink.append_file.remote(name, chunk))
    state = os.path.join(work, "outputs", "run_state")
    for folder in sorted(os.listdir(state)) if os.path.isdir(state) else []:
        if folder == run_id or folder.startswith(run_id + "-"):
            for piece in whole_line_pieces(os.path.join(state, folder, "dedup_rejections.jsonl")):
                refs.append(sink.append_rejections.remote(folder, piece))
    if refs:
        ray.get(refs)


def whole_line_pieces(path, size=1 << 20):
    """The complete lines of `path` in pieces of about `size` bytes, each ending with a newline (a last
    line without one, cut by a kill mid-write, is left out); none when the file does not exist."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        rest = b""
        for chunk in iter(lambda: f.read(size), b""):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            rest = data[cut:]


@ray.remote
def run_shard(index, count, run_id, packages, sink):
    """One shard: our dlg-run on slots index, index+count, ... of every language, in a fresh folder on
    whichever host Ray chose. A non-zero exit raises ShardFailed, which Ray retries (the retry resumes
    from the run's journal in PostgreSQL); a host lost mid-run is retried by Ray as a system failure."""
    ctx = ray.get_runtime_context()
    host = ray.util.get_node_ip_address()
    started = time.time()
    tail = collections.deque(maxlen=TAIL_LINES)
    fetched = {}
    try:
        dirs = {}
        for p in packages:
            dirs[p["kind"]], n, secs = ensure_package(p["kind"], p["version"], p["sha256"], p["holder"])
            fetched[p["kind"]] = {"bytes": n, "seconds": round(secs, 3)}
        tools, project = dirs["tools"], dirs["project"]
        with open(os.path.join(tools, "manifest.json")) as f:
            manifest = json.load(f)
        problems = host_problems(manifest) or [f"missing libraries: {', '.join(m)}" for m in [missing_libraries(tools)] if m]
        if problems:
            raise ShardFailed(index, host, 69, "; ".join(problems), [])
    except ShardFailed:
        raise
    except Exception as e:  # the packages could not be fetched or unpacked
        raise ShardFailed(index, host, 69, f"cannot prepare the shard: {e}", [])
    work = shard_workdir(project)
    env = dict(os.environ)
    env["DLG_PROGRESS"] = "0"
    env["DLG_SHIPPED_INDEX"] = "1"
    env["LD_LIBRARY_PATH"] = os.path.join(tools, "lib") + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    # Managed vLLM replicas: only those answering /health now (a replica that died is out of routing
    # for this attempt; the attempt before it exited 69 with every dialogue in the journal).
    if "LLM_ROUTING_ENDPOINTS_JSON" in env and env.get("DLG_CLUSTER_VLLM_KEY"):
        endpoints = json.loads(env["LLM_ROUTING_ENDPOINTS_JSON"])
        alive = [e for e in endpoints if healthy(e["base_url"].rstrip("/").removesuffix("/v1") + "/health")]
        if not alive:
            raise ShardFailed(index, host, 69, "no vLLM replica answers /health", [])
        env["LLM_ROUTING_ENDPOINTS_JSON"] = json.dumps(alive)
    cmd = [os.path.join(tools, "bin", "dlg-run"), "--config", os.path.join(work, "config.yaml"), "--run-id", run_id,
           "--shard", f"{index}/{count}", "--json"]
    try:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=parent_death_signal())
    except OSError as e:
        shutil.rmtree(work, ignore_errors=True)
        raise ShardFailed(index, host, 69, f"cannot start dlg-run: {e.strerror}", [])
    sink.started.remote(run_id, index, host, proc.pid)
    reader = threading.Thread(target=relay, args=(proc.stderr, tail, sink, run_id, index, host), daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join(timeout=10)
    try:
        ship_logs(work, sink, run_id)
    except Exception as e:  # the run's own result matters more than its log files
        tail.append(f"(the shard's log files did not reach the driver: {e})")
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        status = proc.returncode if proc.returncode > 0 else 128 - proc.returncode
        raise ShardFailed(index, host, status, f"dlg-run exited with status {status}", list(tail))
    summary = {}
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            summary = json.loads(line)
        except ValueError:
            pass
    return {"shard": index, "node_id": ctx.get_node_id(), "node_ip": host, "pid": proc.pid,
            "seconds": round(time.time() - started, 3), "summary": summary, "fetched": fetched}


@ray.remote(num_cpus=0)
class ShardLogSink:
    """On the driver's host: each shard's stderr lines in <log_dir>/shard-<run>-<i>.log (prefixed with the
    host they came from) and the PID of each attempt in .pid, as the shards send them; and the lines of
    their rejections files, appended to the same files under `state_dir` (the head's run_state folder)."""

    def __init__(self, log_dir, state_dir=None):
        self.log_dir = log_dir
        self.state_dir = state_dir
        self.last_host = {}
        os.makedirs(log_dir, exist_ok=True)

    def _path(self, run_id, index, ext):
        return os.path.join(self.log_dir, f"shard-{run_id}-{index}.{ext}")

    def started(self, run_id, index, host, pid):
        self.last_host[index] = host
        with open(self._path(run_id, index, "pid"), "a") as f:
            f.write(f"{pid}\n")
        with open(self._path(run_id, index, "log"), "a") as f:
            f.write(f"[{host}] dlg-run started (pid {pid})\n")

    def lines(self, run_id, index, host, lines):
        with open(self._path(run_id, index, "log"), "a") as f:
            f.writelines(f"[{host}] {line}\n" for line in lines)

    def append_file(self, name, data):
        name = os.path.basename(name)
        if (name.endswith(".log") or name == "runs.jsonl") and not name.startswith("."):
            with open(os.path.join(self.log_dir, name), "ab") as f:
                f.write(data)

    def append_rejections(self, folder, data):
        folder = os.path.basename(folder)
        if not self.state_dir or folder in ("", ".", ".."):
            return
        path = os.path.join(self.state_dir, folder, "dedup_rejections.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # O_APPEND and one write, as dlg-dedup writes its lines: never interleaved with another writer's.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def host_of(self, index):
        return self.last_host.get(index, "")

    def tail(self, run_id, index, n=TAIL_LINES):
        try:
            with open(self._path(run_id, index, "log")) as f:
                return [line.rstrip("\n") for line in f.readlines()[-n:]]
        except OSError:
            return []


def job_environment():
    """What the shards' environment gets from ours: the names dlg-cluster listed (DLG_CLUSTER_JOB_ENV)."""
    names = [n for n in os.environ.get("DLG_CLUSTER_JOB_ENV", "").split(",") if n]
    return {n: os.environ[n] for n in names if n in os.environ}


def cmd_run(a):
    t0 = time.time()
    cache = os.environ.get("DLG_BUNDLE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dlgforge", "bundles")
    tools_version, tools_path, built = build_tools_package(a.bin, cache)
    with open(tools_path, "rb") as f:
        tools_data = f.read()
    project_version, project_data = build_project_package(a.project)
    packed = time.time() - t0
    # Secrets ride in the job's runtime_env (GCS keeps it for the job's life: docs/security.md).
    connect(runtime_env={"env_vars": job_environment()})
    t1 = time.time()
    packages = []
    for kind, version, data in (("tools", tools_version, tools_data), ("project", project_version, project_data)):
        # The reference travels inside a list so that Ray does not fetch it before the task runs: a host
        # that has this version cached never receives the bytes.
        packages.append({"kind": kind, "version": version, "sha256": hashlib.sha256(data).hexdigest(),
                         "holder": [ray.put(data)], "size": len(data)})
    emit({"event": "bundle", "tools_version": tools_version, "tools_bytes": len(tools_data), "tools_built": built,
          "project_version": project_version, "project_bytes": len(project_data), "pack_seconds": round(packed, 3),
          "put_seconds": round(time.time() - t1, 3)})
    here = ray.get_runtime_context().get_node_id()
    record_arguments(a, packages)
    sink = ShardLogSink.options(scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(here, soft=False)).remote(a.log_dir, a.state_dir)
    refs = {run_shard.options(max_retries=a.max_retries, retry_exceptions=[ShardFailed], num_cpus=a.num_cpus,
                              scheduling_strategy="SPREAD").remote(i, a.shards, a.run_id, packages, sink): i
            for i in range(a.shards)}

    def stop(signum, _frame):
        # dlg-cluster was stopped (or died): the shards' workers are killed, and their dlg-run with them
        # (parent_death_signal); every dialogue done so far is in the journal for a resume.
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        emit({"event": "stopped", "signal": signum})
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = 0
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        ref = done[0]
        i = refs[ref]
        try:
            emit({"event": "shard_done", **ray.get(ref)})
        except Exception as e:  # the shard failed after its retries
            failed += 1
            emit({"event": "shard_failed", **failure(e, i, sink, a.run_id)})
    return 75 if failed else 0


def record_arguments(a, packages):
    """With DLG_CLUSTER_ARGS_LOG set (the tests), every argument a shard's task gets, as handed to Ray:
    what Ray's GCS and object store hold of a task, checked to carry no secret."""
    path = os.environ.get("DLG_CLUSTER_ARGS_LOG")
    if not path:
        return
    shown = [{k: (v if k != "holder" else "<object ref>") for k, v in p.items()} for p in packages]
    with open(path, "a") as f:
        for i in range(a.shards):
            f.write(json.dumps({"args": [i, a.shards, a.run_id, shown, "<log sink actor>"],
                                "options": {"max_retries": a.max_retries, "num_cpus": a.num_cpus}}) + "\n")


def failure(e, index, sink, run_id):
    cause = getattr(e, "cause", None) or e
    # By name: the class travels by value between the driver and the workers.
    if type(cause).__name__ == "ShardFailed":
        return {"shard": index, "host": cause.host, "status": cause.status, "reason": cause.reason,
                "tail": cause.tail or ray.get(sink.tail.remote(run_id, index))}
    # A system failure (the host or the worker died) after the retries: the last host it ran on.
    reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
    return {"shard": index, "host": ray.get(sink.host_of.remote(index)) or "?", "status": 0,
            "reason": f"{type(e).__name__}: {reason}", "tail": ray.get(sink.tail.remote(run_id, index))}


# ---------------------------------------------------------------------------------------------------------
# Hosts


def node_cpus_in_use():
    try:
        from ray._private.state import available_resources_per_node
        return available_resources_per_node()
    except Exception:
        return {}


def cmd_nodes(a):
    connect()
    available = node_cpus_in_use()
    for n in ray.nodes():
        total = n.get("Resources", {}).get("CPU", 0)
        free = available.get(n["NodeID"], {}).get("CPU", total)
        emit({"component": "node", "host": n["NodeManagerAddress"], "alive": bool(n.get("Alive")),
              "cpus": total, "cpus_in_use": round(total - free, 3), "head": bool(n.get("Resources", {}).get("node:__internal_head__")),
              "shards": int(round((total - free) / a.shard_cpus)) if a.shard_cpus > 0 else 0})
    return 0


def processes_under(path):
    """PIDs of processes whose command line names `path` or that hold a file open below it."""
    pids = set()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    pids.add(int(p))
                    continue
            for fd in os.listdir(f"/proc/{p}/fd"):
                if os.readlink(f"/proc/{p}/fd/{fd}").startswith(path):
                    pids.add(int(p))
                    break
        except OSError:
            pass
    return pids


@ray.remote(num_cpus=0)
def clean_node():
    """On one host: our cached packages removed; for a node `dlg-cluster join` started, what stop_node
    needs to stop it (its processes, found by the node's temp folder, and its raylet, our parent)."""
    removed = 0
    cache = worker_cache()
    for name in os.listdir(cache):
        if name.startswith(("tools-", "project-", ".tools-", ".project-", "work")):
            shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
            removed += 1
    temp = os.environ.get("DLG_JOINED_TEMP_DIR")
    pids = sorted(processes_under(temp) - {os.getpid()}) if temp else []
    return {"host": ray.util.get_node_ip_address(), "removed": removed, "joined": bool(temp), "pids": pids,
            "raylet": os.getppid()}


@ray.remote(num_cpus=0, max_retries=0)
def stop_node(pids, raylet):
    """Stops the Ray node this task runs on: its other processes, then its raylet, which ends this task
    too (so nobody waits for its answer)."""
    for p in pids:
        if p not in (raylet, os.getpid()):
            try:
                os.kill(p, signal.SIGTERM)
            except OSError:
                pass
    time.sleep(0.5)
    os.kill(raylet, signal.SIGTERM)
    time.sleep(30)


def cmd_cleanup(a):
    connect()
    here = ray.get_runtime_context().get_node_id()
    asked, lost = {}, set()
    for n in ray.nodes():
        if not n.get("Alive"):
            lost.add(n["NodeManagerAddress"])
            continue
        strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        asked[clean_node.options(scheduling_strategy=strategy).remote()] = (n["NodeManagerAddress"], n["NodeID"])
    ready, late = ray.wait(list(asked), num_returns=len(asked), timeout=a.timeout)
    stopping = []
    for ref in ready:
        host, node = asked[ref]
        try:
            info = ray.get(ref)
        except Exception as e:
            emit({"component": "host", "host": host, "reached": False, "reason": type(e).__name__})
            continue
        stop = a.stop_joined and info["joined"] and node != here
        if stop:
            strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node, soft=False)
            stopping.append(stop_node.options(scheduling_strategy=strategy).remote(info["pids"], info["raylet"]))
        emit({"component": "host", "host": host, "reached": True, "removed": info["removed"], "stopping": stop})
    for ref in late:
        emit({"component": "host", "host": asked[ref][0], "reached": False, "reason": f"no answer within {a.timeout} s"})
    alive = {h for h, _ in asked.values()}
    for host in sorted(lost - alive):  # a host that rejoined is not lost
        emit({"component": "host", "host": host, "reached": False, "reason": "its node is lost"})
    if stopping:  # each ends with its node; a moment for the signals to land
        ray.wait(stopping, num_returns=len(stopping), timeout=3)
    return 0


MANIFEST_KEY = b"dlgforge/tools_manifest"


def tools_manifest(bindir, libs=None):
    """What the tools in `bindir` need of a host: its architecture, the newest glibc symbol version the
    binary or its libraries ask for, the libraries the package carries."""
    binary = os.path.realpath(os.path.join(bindir, "dlg"))
    libs = linked_libraries(binary) if libs is None else libs
    return {"arch": platform.machine(), "glibc": glibc_needed([binary] + [p for _, p in libs]),
            "libraries": sorted(n for n, _ in libs)}


def cmd_publish_manifest(a):
    """`up`: what the tools it will ship need of a host, in the cluster's key-value store for `join`."""
    manifest = tools_manifest(a.bin)
    connect()
    from ray.experimental import internal_kv
    internal_kv._internal_kv_put(MANIFEST_KEY, json.dumps(manifest).encode(), overwrite=True)
    emit({"component": "manifest", **manifest})
    return 0


def cmd_check_host(a):
    if a.manifest:
        with open(a.manifest) as f:
            manifest = json.load(f)
    else:  # `join`: the manifest the head published, read from its GCS (this host has no Ray node yet,
        # so it cannot be a driver: ray.init would look for a raylet here)
        from ray._raylet import GcsClient
        raw = GcsClient(address=os.environ["RAY_ADDRESS"]).internal_kv_get(MANIFEST_KEY, None)
        if raw is None:
            emit({"component": "host", "arch": platform.machine(), "problems": [], "note": "the head published no manifest"})
            return 0
        manifest = json.loads(raw)
    problems = host_problems(manifest)
    emit({"component": "host", "arch": platform.machine(), "glibc": os.confstr("CS_GNU_LIBC_VERSION"), "problems": problems})
    return 69 if problems else 0


# ---------------------------------------------------------------------------------------------------------
# vLLM replicas


@ray.remote
class VLLMReplica:
    """One `vllm serve` process, started where Ray placed this actor; its output in its log file."""

    def __init__(self):
        self.proc = None

    def start(self, argv, log_path, key, extra_env):
        env = dict(os.environ)
        env.update(extra_env)
        if key:
            env["VLLM_API_KEY"] = key
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        log = open(log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        except OSError as e:
            return {"error": f"{argv[0]}: {e.strerror}"}
        return {"pid": self.proc.pid, "node_ip": ray.util.get_node_ip_address(),
                "node_id": ray.get_runtime_context().get_node_id()}

    def poll(self):
        return None if self.proc is None else self.proc.poll()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def healthy(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


def replica_name(i):
    return f"dlgforge-vllm-{i}"


def cmd_vllm_up(a):
    connect()
    key = os.environ.get("DLG_CLUSTER_VLLM_KEY", "")
    started = []
    for i in range(a.replicas):
        actor = VLLMReplica.options(name=replica_name(i), lifetime="detached", num_cpus=0,
                                    num_gpus=a.num_gpus, scheduling_strategy="SPREAD").remote()
        port = a.port_start + i
        argv = [a.vllm, "serve", a.model, "--host", a.host, "--port", str(port),
                "--served-model-name", a.served_name] + list(a.extra_arg or [])
        extra_env = {k: v for k, v in os.environ.items() if k.startswith(("DLG_STANDIN_", "DLG_MOCK_", "CUDA_", "HF_", "VLLM_"))}
        info = ray.get(actor.start.remote(argv, os.path.join(a.log_dir, f"vllm-{i}.log"), key, extra_env))
        if "error" in info:
            emit({"event": "replica_failed", "replica": i, "error": info["error"]})
            return 69
        # Advertised with the address of the node Ray placed it on when it listens on every address;
        # a replica bound to loopback is reachable from its own node only.
        host = info["node_ip"] if a.host in ("0.0.0.0", "::", "") else a.host
        started.append((i, actor, f"http://{host}:{port}"))
        emit({"event": "replica_started", "replica": i, "pid": info["pid"], "node_id": info["node_id"],
              "node_ip": info["node_ip"], "base_url": f"http://{host}:{port}/v1",
              "log": os.path.join(a.log_dir, f"vllm-{i}.log")})
        if host in ("127.0.0.1", "localhost", "::1") and len(node_ips()) > 1:
            emit({"event": "replica_warning", "replica": i,
                  "warning": f"listens on {host} of node {info['node_ip']} while the cluster has nodes on "
                             f"{', '.join(sorted(node_ips()))}: shards on other machines cannot reach it; "
                             "set llm.vllm.host to an address they reach"})
    deadline = time.time() + a.health_timeout
    for i, actor, url in started:
        while not healthy(url + "/health"):
            code = ray.get(actor.poll.remote())
            if code is not None:
                emit({"event": "replica_failed", "replica": i, "error": f"vllm exited with status {code}; see {a.log_dir}/vllm-{i}.log"})
                return 69
            if time.time() > deadline:
                emit({"event": "replica_failed", "replica": i, "error": f"no /health within {a.health_timeout} s; see {a.log_dir}/vllm-{i}.log"})
                return 69
            time.sleep(0.2)
        emit({"event": "replica_healthy", "replica": i})
    return 0


def replicas():
    out = []
    for i in range(256):
        try:
            out.append((i, ray.get_actor(replica_name(i), namespace=NAMESPACE)))
        except ValueError:
            if i >= 16:
                break
    return out


def cmd_vllm_down(a):
    connect()
    for i, actor in replicas():
        try:
            ray.get(actor.stop.remote(), timeout=30)
        except Exception:
            pass
        ray.kill(actor)
        emit({"event": "replica_stopped", "replica": i})
    return 0


def cmd_vllm_kill(a):
    connect()
    ray.get(ray.get_actor(replica_name(a.replica), namespace=NAMESPACE).kill.remote())
    emit({"event": "replica_killed", "replica": a.replica})
    return 0


def node_ips():
    return {n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}


def cmd_status(a):
    connect()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    emit({"component": "ray", "healthy": True, "nodes_alive": len(nodes), "node_ips": sorted(node_ips())})
    for i, actor in replicas():
        try:
            code = ray.get(actor.poll.remote(), timeout=10)
        except Exception:
            code = "actor lost"
        emit({"component": f"vllm-{i}", "healthy": code is None, "exit": code})
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="verb", required=True)
    r = sub.add_parser("run")
    r.add_argument("--shards", type=int, required=True)
    r.add_argument("--run-id", required=True)
    r.add_argument("--project", required=True)
    r.add_argument("--bin", required=True)
    r.add_argument("--log-dir", required=True)
    r.add_argument("--state-dir", help="the run_state folder on this host: the shards' rejections files are appended to its files")
    r.add_argument("--max-retries", type=int, default=3)
    r.add_argument("--num-cpus", type=float, default=0.5)
    n = sub.add_parser("nodes")
    n.add_argument("--shard-cpus", type=float, default=0.5)
    c = sub.add_parser("cleanup")
    c.add_argument("--stop-joined", action="store_true")
    c.add_argument("--timeout", type=float, default=30)
    h = sub.add_parser("check-host")
    h.add_argument("--manifest")
    m = sub.add_parser("publish-manifest")
    m.add_argument("--bin", required=True)
    v = sub.add_parser("vllm-up")
    v.add_argument("--vllm", default="vllm")
    v.add_argument("--replicas", type=int, required=True)
    v.add_argument("--num-gpus", type=float, default=0)
    v.add_argument("--port-start", type=int, required=True)
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--model", required=True)
    v.add_argument("--served-name", required=True)
    v.add_argument("--log-dir", required=True)
    v.add_argument("--health-timeout", type=float, default=600)
    v.add_argument("--extra-arg", action="append")
    sub.add_parser("vllm-down")
    k = sub.add_parser("vllm-kill")
    k.add_argument("--replica", type=int, required=True)
    sub.add_parser("status")
    a = p.parse_args()
    # A killed dlg-cluster takes this driver along (and, through its SIGTERM handler, the shards).
    parent_death_signal()()
    handler = {"run": cmd_run, "nodes": cmd_nodes, "cleanup": cmd_cleanup, "check-host": cmd_check_host, "publish-manifest": cmd_publish_manifest,
               "vllm-up": cmd_vllm_up, "vllm-down": cmd_vllm_down, "vllm-kill": cmd_vllm_kill,
               "status": cmd_status}[a.verb]
    try:
        return handler(a)
    except ConnectionError as e:
        emit({"event": "error", "error": f"ray at {os.environ.get('RAY_ADDRESS', 'auto')}: {e}"})
        return 69


if __name__ == "__main__":
    sys.exit(main())
