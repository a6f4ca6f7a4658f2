"""Benchmark coderun against evalplus 0.3.1 on HumanEval+, on this machine, in one run.

    python benchmarks/bench_evalplus.py [--samples FILE] [--workers 2] [--venv DIR]

The samples default to the development set ($CODERUN_DEV_DATA/codegen16b-humaneval-dev.jsonl: 8,200
CodeGen-16B completions of 82 problems). evalplus runs in a venv of its own (made on first use, about 800 MB)
on a copy of HumanEval+ v0.1.10 through HUMANEVAL_OVERRIDE_PATH; it insists that every problem of the file
has samples, so problems the samples do not cover get their reference solution once, for both tools.

Printed, all measured here in this run:
- the first expected-output computation of each tool (coderun: all problems of the file into an empty
  cache; evalplus: its "Expected outputs computed in" line) and each cache's size;
- each tool on the samples with its cache warm: coderun `evaluate --dataset humaneval-plus --workers W`
  (whole process) against `evalplus.evaluate --parallel W` timed to its results file (its stall-checker
  thread can keep the process alive up to 20 s after the last result), and the ratio;
- verdicts compared per sample, base and plus tiers;
- the bound the work itself sets: the distinct programs that pass the base inputs must run every plus input,
  which at the reference's speed costs sum(reference CPU time of the plus tier) each; divided by W, and how
  close coderun gets to it; and where the rest of coderun's time goes.
Exit status 1 when any pass/fail verdict differs beyond the explained ones (docs/evalplus.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV_FILE = "codegen16b-humaneval-dev.jsonl"
PLUS_FILE = REPO / "coderun" / "data" / "HumanEvalPlus-v0.1.10.jsonl.gz"
EXPLAINED = {("HumanEval/111", 64)}  # imports pandas: present in evalplus's venv, not in the sandbox


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-evalplus-"))
    samples = [json.loads(line) for line in Path(args.samples).read_text().splitlines() if line.strip()]
    tasks = {s["task_id"] for s in samples}
    print(f"{len(samples)} samples of {len(tasks)} problems; {args.workers} workers; {os.cpu_count()} cores")

    python = evalplus_venv(Path(args.venv))
    first_coderun, cache_size = coderun_first_reference(work)
    print(f"first expected outputs, coderun: {first_coderun:.1f} s for all 164 problems; cache {cache_size / 1e6:.2f} MB")

    # evalplus insists that every problem of its file has samples: the problems without any get their
    # reference solution once (both tools score the same file; only the samples given are compared)
    plus_path = full_dataset(work)
    problems = [json.loads(line) for line in plus_path.read_text().splitlines()]
    covered = {s["task_id"] for s in samples}
    filler = [{"task_id": p["task_id"], "solution": p["prompt"] + p["canonical_solution"]}
              for p in problems if p["task_id"] not in covered]
    everything = work / "samples.jsonl"
    everything.write_text("".join(json.dumps(s) + "\n" for s in samples + filler))
    one_each = work / "one-per-problem.jsonl"  # warms evalplus's cache: it computes every expected output
    one_each.write_text("".join(json.dumps(s) + "\n" for s in
                                ({s["task_id"]: s for s in reversed(samples + filler)}).values()))
    first_evalplus, evalplus_cache = run_evalplus(python, plus_path, one_each, work / "warm", args.workers)
    print(f"first expected outputs, evalplus: {first_evalplus}; cache {evalplus_cache / 1e6:.0f} MB")

    run_coderun(everything, work / "coderun-warm", args.workers)  # coderun's cache is warm already; this warms the disk
    coderun_seconds, run_dir = run_coderun(everything, work / "coderun", args.workers)
    evalplus_seconds, results = timed_evalplus(python, plus_path, everything, work / "timed", args.workers)
    print(f"coderun {coderun_seconds:.1f} s, evalplus {evalplus_seconds:.1f} s: {evalplus_seconds / coderun_seconds:.1f}x "
          f"({len(samples) + len(filler)} samples: the {len(samples)} given and {len(filler)} reference solutions)")

    differences = compare(run_dir, results, covered)
    bound(run_dir, args.workers, coderun_seconds)
    return 1 if differences - EXPLAINED else 0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.environ.get("CODERUN_DEV_DATA")
    p.add_argument("--samples", default=str(Path(root) / DEV_FILE) if root else None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--venv", default=str(Path.home() / ".cache" / "coderun-bench" / "evalplus-0.3.1"))
    args = p.parse_args()
    if not args.samples:
        sys.exit(f"no samples: pass --samples FILE or set CODERUN_DEV_DATA to the directory holding {DEV_FILE}")
    return args


# ---- evalplus ------------------------------------------------------------------------------------------------

def evalplus_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    ready = python.exists() and subprocess.run([str(python), "-c", "import evalplus"], capture_output=True).returncode == 0
    if not ready:  # a venv whose install was interrupted has a python but no evalplus: install again
        print(f"making a venv for evalplus 0.3.1 in {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "evalplus==0.3.1"], check=True)
    return python


def full_dataset(work: Path) -> Path:
    path = work / "HumanEvalPlus-v0.1.10.jsonl"
    path.write_bytes(gzip.decompress(PLUS_FILE.read_bytes()))
    return path


def _evalplus(python: Path, plus_path: Path, samples: Path, workdir: Path, workers: int):
    workdir.mkdir(parents=True)
    copy = workdir / "samples.jsonl"
    shutil.copy(samples, copy)
    # its own cache directory under this run's work directory: the first computation is always measured
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(plus_path), "XDG_CACHE_HOME": str(evalplus_cache(workdir))}
    cmd = [str(python), "-m", "evalplus.evaluate", "--dataset", "humaneval", "--samples", str(copy),
           "--parallel", str(workers), "--i_just_wanna_run"]
    start = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=workdir)
    if proc.returncode != 0:
        sys.exit(f"evalplus failed: {proc.stderr[-2000:]}")
    return start, proc, workdir / "samples_eval_results.json"


def evalplus_cache(workdir: Path) -> Path:
    return workdir.parent / "evalplus-cache"


def run_evalplus(python, plus_path, samples, workdir, workers):
    _, proc, _ = _evalplus(python, plus_path, samples, workdir, workers)
    line = next((x for x in proc.stdout.splitlines() if "Expected outputs computed" in x), "cached already")
    cache = evalplus_cache(workdir) / "evalplus"
    size = sum(f.stat().st_size for f in cache.glob("*.pkl")) if cache.exists() else 0
    return line.strip(), size


def timed_evalplus(python, plus_path, samples, workdir, workers):
    start, _, results = _evalplus(python, plus_path, samples, workdir, workers)
    return results.stat().st_mtime - start, json.loads(results.read_text())


# ---- coderun -------------------------------------------------------------------------------------------------

def coderun_first_reference(work: Path) -> tuple[float, int]:
    """Every HumanEval+ problem's expected outputs into an empty cache (its own XDG_CACHE_HOME)."""
    from coderun import datasets
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool
    from coderun.execute.references import References
    from coderun.execute.service import ExecutionService
    from coderun.orchestrate.options import ExecutionOptions

    bench = datasets.load("humaneval-plus")
    root = work / "reference-cache"
    memory = ExecutionOptions().for_dataset("humaneval-plus").memory_bytes  # what a run of it uses
    with SandboxPool(get_provider("docker", memory=memory), workers=2) as pool:
        service = ExecutionService(pool, memory, references=References(pool.fingerprint, memory, root=root))
        start = time.perf_counter()
        service.ensure_references({p.task_id: bench.canonical(p) for p in bench.problems})
        seconds = time.perf_counter() - start
    return seconds, sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def run_coderun(samples: Path, out: Path, workers: int) -> tuple[float, Path]:
    cmd = [sys.executable, "-m", "coderun", "evaluate", str(samples), "--dataset", "humaneval-plus", "--out", str(out),
           "--workers", str(workers), "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"coderun failed: {proc.stderr[-2000:]}")
    return seconds, out


# ---- verdicts and the bound -----------------------------------------------------------------------------------

def compare(run_dir: Path, results: dict, tasks: set) -> set:
    ours = {(r["task_id"], r["sample_index"]): r for r in map(json.loads, (run_dir / "results.jsonl").open())
            if r["task_id"] in tasks}
    differences = set()
    counts = {"base": 0, "plus": 0}
    for task, rows in results["eval"].items():
        if task not in tasks:
            continue
        for i, r in enumerate(rows):
            mine = ours[(task, i)]
            base = (r["base_status"] == "pass") != mine["base_passed"]
            plus = (r["plus_status"] == "pass") != (mine["plus_status"] == "passed")
            counts["base"] += base
            counts["plus"] += plus
            if base or plus:
                differences.add((task, i))
                print(f"  differs: {task} #{i}: evalplus {r['base_status']}/{r['plus_status']}, coderun "
                      f"{mine['base_status']}/{mine['plus_status']}: {mine['reason'][:120]}")
    n = len(ours)
    print(f"verdicts: base agree {100 * (1 - counts['base'] / n):.2f}%, plus agree {100 * (1 - counts['plus'] / n):.2f}%;"
          f" {len(differences)} samples differ ({len(differences & EXPLAINED)} explained)")
    return differences


def bound(run_dir: Path, workers: int, seconds: float) -> None:
    from coderun import datasets
    from coderun.execute.references import References
    from coderun.orchestrate.options import ExecutionOptions
    from coderun.records import RunDir

    config = RunDir(run_dir).read_config()
    bench = datasets.load("humaneval-plus")
    memory = ExecutionOptions.of_run(config.execution).memory_bytes  # the run's: the cache is keyed by it
    refs = References(config.execution.fingerprint, memory)
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").open()]
    for task in sorted({r["task_id"] for r in rows}):  # all cached by the run: nothing runs
        program = bench.canonical(bench.get(task))
        for tier in program.tiers:
            refs.has(program.solution, tier, program.judging.digest_over)
    distinct = {(r["task_id"], r["program"]) for r in rows if r["base_passed"]}
    cpu = sum(sum(refs.tier(task, "plus").cpu) for task, _ in distinct)
    floor = cpu / workers
    print(f"bound: {len(distinct)} distinct programs pass the base inputs; their plus inputs cost {cpu:.0f} CPU-s at "
          f"the reference's speed, {floor:.0f} s on {workers} workers; coderun took {seconds:.0f} s = "
          f"{seconds / floor:.2f}x the bound")
    seen, sample_cpu, timeouts = set(), 0.0, 0
    for r in rows:
        if (r["task_id"], r["program"]) not in seen:
            seen.add((r["task_id"], r["program"]))
            sample_cpu += r["cpu_time"]
            timeouts += "timed out" in r["reason"] or r["status"] == "timeout"
    print(f"where coderun's time goes: {len(seen)} distinct programs, {2 * len(seen)} tier processes, "
          f"{sample_cpu:.0f} CPU-s in the samples ({sample_cpu / workers:.0f} s on {workers} workers), "
          f"{timeouts} programs stopped by a time limit; the rest is forks, the runner's judging and the host")


if __name__ == "__main__":
    sys.exit(main())
