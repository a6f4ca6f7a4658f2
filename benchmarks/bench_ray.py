"""Execution through Ray against the local pool, on the same samples, on this machine.

Three ways to run the same jobs (the 8,200 CodeGen-16B samples, per-problem limits calibrated once):

  local     a SandboxPool with W sandboxes, in this process (what `coderun evaluate` uses)
  ray x1    a RayPool on a one-node Ray cluster with W CPUs: one NodePool actor, W sandboxes
  ray x2    a RayPool on a two-node cluster with W/2 CPUs per node (the same W sandboxes in all)

Each pool is started fresh (no verdict cache carries over) and warmed with one job; the timed part is
`pool.run` over every job, so cluster and container start-up are reported apart. The clusters are started
here as separate `ray start --block` processes on loopback, like the tests' (--num-cpus, a small object
store, no dashboard) and stopped at the end. On one machine "two nodes" share its cores and its Docker
daemon: the point is the overhead of the Ray path, not more throughput.

Usage: python benchmarks/bench_ray.py [--samples FILE] [--workers 2] [--json OUT]
(without --samples: $CODERUN_DEV_DATA/codegen16b-humaneval-dev.jsonl)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV_FILE = "codegen16b-humaneval-dev.jsonl"  # default samples: in the directory $CODERUN_DEV_DATA


def dev_samples() -> str:
    """The development set's samples, $CODERUN_DEV_DATA/codegen16b-humaneval-dev.jsonl; exits if unset."""
    root = os.environ.get("CODERUN_DEV_DATA")
    if not root:
        sys.exit(f"no samples: pass --samples FILE or set CODERUN_DEV_DATA to the directory holding {DEV_FILE}")
    return str(Path(root) / DEV_FILE)


def jobs_of(samples: str, workers: int):
    """The (program, limits) of every sample, limits calibrated as a run does."""
    from coderun import datasets
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool
    from coderun.execute.service import ExecutionService
    from coderun.samples import iter_samples

    bench = datasets.load("humaneval")
    programs = [bench.program(bench.get(s.task_id), completion=s.completion, solution=s.solution)
                for s in iter_samples(samples, bench)]
    tasks = sorted({s.task_id for s in iter_samples(samples, bench)})
    with SandboxPool(get_provider("docker"), workers=workers) as pool:
        limits = ExecutionService(pool, 1 << 30).prepare({t: bench.canonical(bench.get(t)) for t in tasks})
    task_of = [s.task_id for s in iter_samples(samples, bench)]
    return [(p, limits[t]) for p, t in zip(programs, task_of)]


def timed(pool, jobs) -> dict:
    from coderun.execute.limits import TaskLimits
    from coderun.execute.program import Program
    from coderun.execute.service import ExecutionService

    began = time.perf_counter()
    with pool:
        ready = time.perf_counter()
        service = ExecutionService(pool, 1 << 30)
        service.run_all([(Program("x = 1", "assert x == 1"), TaskLimits.fixed(1))])  # warm
        start = time.perf_counter()
        verdicts = service.run_all(jobs)
        seconds = time.perf_counter() - start
    nodes = {v.node or "local" for v in verdicts}
    return {"startup_s": round(ready - began, 2), "run_s": round(seconds, 2),
            "jobs_per_s": round(len(jobs) / seconds, 1), "nodes": len(nodes),
            "passed": sum(v.passed for v in verdicts)}


def start_cluster(cpus_per_node: list[int]) -> tuple[str, list[subprocess.Popen]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = str(Path(sys.executable).with_name("ray"))
    common = ["--object-store-memory", "300000000", "--block"]
    procs = []
    for i, cpus in enumerate(cpus_per_node):
        role = ["--head", "--port", str(port), "--include-dashboard=false"] if i == 0 else ["--address", f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen([ray_bin, "start", *role, "--num-cpus", str(cpus), *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(8 if i == 0 else 0)
    time.sleep(8)
    return f"127.0.0.1:{port}", procs


def stop_cluster(procs) -> None:
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def ray_run(cpus_per_node: list[int], jobs) -> dict:
    import ray

    from coderun.execute.ray_pool import RayPool

    address, procs = start_cluster(cpus_per_node)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        return timed(RayPool(address), jobs)
    finally:
        ray.shutdown()
        stop_cluster(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", help=f"samples JSONL [default: $CODERUN_DEV_DATA/{DEV_FILE}]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    args.samples = args.samples or dev_samples()

    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool

    jobs = jobs_of(args.samples, args.workers)
    w = args.workers
    results = {"machine": platform.node(), "cores": os.cpu_count(), "jobs": len(jobs), "workers": w}
    results["local"] = timed(SandboxPool(get_provider("docker"), workers=w), jobs)
    results["ray_1_node"] = ray_run([w], jobs)
    results["ray_2_nodes"] = ray_run([max(1, w // 2), max(1, w - w // 2)], jobs)
    local = results["local"]["run_s"]
    for name in ("local", "ray_1_node", "ray_2_nodes"):
        r = results[name]
        print(f"{name:<12} {r['run_s']:7.2f} s  {r['jobs_per_s']:7.1f} jobs/s  (start-up {r['startup_s']:.1f} s, "
              f"{r['nodes']} node(s), {r['passed']} passed)  overhead vs local {100 * (r['run_s'] / local - 1):+.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
