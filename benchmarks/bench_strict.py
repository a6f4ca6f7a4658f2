"""Strict against classic judging on real model samples, in one run on this machine.

Runs `coderun evaluate` on the same samples twice, classic and `--strict`, each in a fresh run directory
(coderun resumes from an existing one), timed by wall clock as whole subprocesses; then compares the verdicts
per (task_id, sample index) and prints every difference with both reasons, the share identical, and the time
ratio strict / classic. Exit status 1 if fewer than --min-agree of the verdicts are identical.

  python benchmarks/bench_strict.py                  # the development set ($CODERUN_DEV_DATA)
  python benchmarks/bench_strict.py --samples FILE --dataset mbpp
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEV_FILE = "codegen16b-humaneval-dev.jsonl"


def evaluate(samples: str, dataset: str, out: Path, workers: int, strict: bool) -> float:
    cmd = [sys.executable, "-m", "coderun", "evaluate", samples, "--dataset", dataset, "--out", str(out),
           "--workers", str(workers), "--json"] + (["--strict"] if strict else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"coderun failed ({'strict' if strict else 'classic'}): {proc.stderr[-2000:]}")
    return seconds


def rows(run: Path) -> dict:
    return {(r["task_id"], r["sample_index"]): r for r in map(json.loads, (run / "results.jsonl").open())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", help=f"samples file [default: $CODERUN_DEV_DATA/{DEV_FILE}]")
    parser.add_argument("--dataset", default="humaneval")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-agree", type=float, default=0.995)
    args = parser.parse_args()
    samples = args.samples or (os.environ.get("CODERUN_DEV_DATA") and str(Path(os.environ["CODERUN_DEV_DATA"]) / DEV_FILE))
    if not samples:
        sys.exit(f"no samples: pass --samples FILE or set CODERUN_DEV_DATA to the directory holding {DEV_FILE}")
    with tempfile.TemporaryDirectory() as tmp:
        evaluate(samples, args.dataset, Path(tmp) / "warm", args.workers, True)  # image, references: built once
        classic_s = evaluate(samples, args.dataset, Path(tmp) / "classic", args.workers, False)
        strict_s = evaluate(samples, args.dataset, Path(tmp) / "strict", args.workers, True)
        classic, strict = rows(Path(tmp) / "classic"), rows(Path(tmp) / "strict")
        judging = json.loads((Path(tmp) / "strict" / "summary.json").read_text())["judging"]
    differ = sorted(k for k in classic if classic[k]["status"] != strict[k]["status"])
    for key in differ:
        a, b = classic[key], strict[key]
        print(f"  differs: {key[0]} #{key[1]}: classic {a['status']} ({a['reason'][:90]}), "
              f"strict {b['status']} ({b['reason'][:90]})")
    agree = 1 - len(differ) / len(classic)
    print(f"problems judged classically in strict mode: {len(judging.get('classic', {}))} "
          f"({', '.join(sorted(judging.get('classic', {})))})")
    print(f"verdicts: {len(classic)} samples, {len(differ)} differ, {100 * agree:.2f}% identical")
    print(f"time: classic {classic_s:.1f} s, strict {strict_s:.1f} s, strict/classic {strict_s / classic_s:.3f}")
    return 0 if agree >= args.min_agree else 1


if __name__ == "__main__":
    sys.exit(main())
