#!/usr/bin/env python3
"""dlg-cluster's Ray driver (ours; Ray's own API, no Ray Jobs or dashboard).

Called by `dlg-cluster` with the .venv Python that has Ray; reads the cluster address from RAY_ADDRESS and
the token from RAY_AUTH_TOKEN_PATH / RAY_AUTH_TOKEN (set by dlg-cluster). One JSON object per line on
stdout; nothing secret is printed.

  run     --shards N --run-id ID --config PATH --bin DIR --cwd DIR [--max-retries K] [--num-cpus C]
          one Ray task per shard running `dlg-run --shard I/N` (retried by Ray when its process dies)
  vllm-up --replicas N --num-gpus G --port-start P --host H --model M --served-name S --log-dir DIR
          [--extra-arg ARG ...] [--health-timeout S]
          one detached Ray actor per replica, each running `vllm serve` (the key comes from the
          environment variable DLG_CLUSTER_VLLM_KEY and reaches vLLM as VLLM_API_KEY, never argv)
  vllm-down               stop the replicas' processes and kill their actors (safe twice)
  vllm-kill --replica I   kill one replica's vllm process (tests: a replica lost mid-run)
  status                  nodes alive, and each replica's actor and /health
"""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import ray

NAMESPACE = "dlgforge"


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


def connect():
    ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), namespace=NAMESPACE,
             logging_level="ERROR", log_to_driver=False)


@ray.remote
def run_shard(index, count, run_id, config, bindir, cwd, env):
    """One shard: our dlg-run on slots index, index+count, ... of every language. A non-zero exit raises
    CalledProcessError, which Ray retries (the retry resumes from the run's journal in PostgreSQL)."""
    ctx = ray.get_runtime_context()
    started = time.time()
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["DLG_PROGRESS"] = "0"
    # Managed vLLM replicas: only those answering /health now (a replica that died is out of routing
    # for this attempt; the attempt before it exited 69 with every dialogue in the journal).
    if "LLM_ROUTING_ENDPOINTS_JSON" in env:
        endpoints = json.loads(env["LLM_ROUTING_ENDPOINTS_JSON"])
        alive = [e for e in endpoints if healthy(e["base_url"].rstrip("/").removesuffix("/v1") + "/health")]
        if not alive:
            raise subprocess.CalledProcessError(69, ["vllm replicas"], b"no vLLM replica answers /health")
        full_env["LLM_ROUTING_ENDPOINTS_JSON"] = json.dumps(alive)
    cmd = [os.path.join(bindir, "dlg-run"), "--config", config, "--run-id", run_id,
           "--shard", f"{index}/{count}", "--json"]
    # The shard's PID, for whoever wants to kill it mid-run (the tests).
    marker = os.path.join(cwd, "logs", f"shard-{run_id}-{index}.pid")
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    log = open(os.path.join(cwd, "logs", f"shard-{run_id}-{index}.log"), "ab")
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=log,
                            preexec_fn=parent_death_signal())
    with open(marker, "a") as f:
        f.write(f"{proc.pid}\n")
    out, _ = proc.communicate()
    log.close()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out)
    summary = {}
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            summary = json.loads(line)
        except ValueError:
            pass
    return {"shard": index, "node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "pid": proc.pid, "seconds": round(time.time() - started, 3), "summary": summary}


def cmd_run(a):
    connect()
    # What dlgforge reads (its prefixes) and the variables the config names (DLG_CLUSTER_FORWARD).
    named = set(filter(None, os.environ.get("DLG_CLUSTER_FORWARD", "").split(",")))
    env = {k: v for k, v in os.environ.items()
           if k in named or k.startswith(("DLG_", "POSTGRES_", "DLGFORGE_", "OPENAI_", "STORE_", "LLM_"))}
    refs = [run_shard.options(max_retries=a.max_retries, retry_exceptions=[subprocess.CalledProcessError],
                              num_cpus=a.num_cpus, scheduling_strategy="SPREAD")
            .remote(i, a.shards, a.run_id, a.config, a.bin, a.cwd, env) for i in range(a.shards)]

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
    for ref in refs:
        try:
            emit({"event": "shard_done", **ray.get(ref)})
        except Exception as e:  # the shard failed after its retries
            failed += 1
            emit({"event": "shard_failed", "error": str(e).splitlines()[0][:300]})
    return 75 if failed else 0


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
    r.add_argument("--config", required=True)
    r.add_argument("--bin", required=True)
    r.add_argument("--cwd", required=True)
    r.add_argument("--max-retries", type=int, default=3)
    r.add_argument("--num-cpus", type=float, default=0.5)
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
    handler = {"run": cmd_run, "vllm-up": cmd_vllm_up, "vllm-down": cmd_vllm_down,
               "vllm-kill": cmd_vllm_kill, "status": cmd_status}[a.verb]
    try:
        return handler(a)
    except ConnectionError as e:
        emit({"event": "error", "error": f"ray at {os.environ.get('RAY_ADDRESS', 'auto')}: {e}"})
        return 69


if __name__ == "__main__":
    sys.exit(main())
