"""Rewards per second: coderun.Reward's warm pool against one `coderun evaluate` subprocess per batch.

    python benchmarks/bench_reward.py [--batches 5] [--batch-size 256] [--timeout 2] [--workers N] [--seed 0]

An RL trainer asks for rewards a batch at a time. Each batch here is 256 real CodeGen-16B completions drawn
(with replacement, seeded) from examples/codegen16b-humaneval-slice.jsonl; each gets a trailing comment
naming its batch and position, so every program is new, as a policy's samples are: neither the pool's verdict
cache nor de-duplication within a batch helps (run with --keep-duplicates to let them).

- Reward: one `coderun.Reward("humaneval", timeout=T, workers=W)`; its first call (the pool starting) is
  timed apart, then every batch is one call.
- Subprocess: per batch, a samples file and `python -m coderun evaluate FILE --timeout T --workers W --out
  NEW_DIR --json`, timed around the whole process (start-up, loading, containers, the reference check).

Printed: each batch's seconds for both (and the samples' own wall time summed over the batch, divided by
the workers: what no harness can beat), rewards per second for both over all batches, their ratio, and
whether every reward equals the verdict `coderun evaluate` recorded for the same completion.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SLICE = REPO / "examples" / "codegen16b-humaneval-slice.jsonl"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=2.0, help="CPU seconds per sample (Reward's default)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-duplicates", action="store_true", help="do not make each program unique")
    return ap.parse_args()


def make_batches(args) -> list[list[dict]]:
    rows = [json.loads(line) for line in SLICE.read_text().splitlines() if line.strip()]
    rng = random.Random(args.seed)
    batches = []
    for b in range(args.batches):
        picked = [rng.choice(rows) for _ in range(args.batch_size)]
        if not args.keep_duplicates:  # a comment after the body: the same answer, a new program
            picked = [{**r, "completion": f"{r['completion']}\n# batch {b} sample {i}\n"} for i, r in enumerate(picked)]
        batches.append(picked)
    return batches


def with_reward(batches: list[list[dict]], args) -> tuple[float, list[float], list[list]]:
    import coderun

    with coderun.Reward("humaneval", timeout=args.timeout, workers=args.workers) as reward:
        began = time.perf_counter()
        reward(["    return None\n"], task_id="HumanEval/1")  # the pool starts here, timed apart
        start = time.perf_counter() - began
        seconds, rewards = [], []
        for batch in batches:
            began = time.perf_counter()
            rewards.append(reward([r["completion"] for r in batch], task_id=[r["task_id"] for r in batch]))
            seconds.append(time.perf_counter() - began)
    return start, seconds, rewards


def with_subprocess(batches: list[list[dict]], args, work: Path) -> tuple[list[float], list[list[str]], list[float]]:
    """Each batch's seconds, its verdicts, and the samples' own wall time summed (the work itself)."""
    seconds, statuses, work_seconds = [], [], []
    for b, batch in enumerate(batches):
        samples = work / f"batch-{b}.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in batch))
        out = work / f"run-{b}"
        cmd = [sys.executable, "-m", "coderun", "evaluate", str(samples), "--timeout", str(args.timeout),
               "--workers", str(args.workers), "--out", str(out), "--json"]
        began = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        seconds.append(time.perf_counter() - began)
        if result.returncode != 0:
            sys.exit(f"coderun evaluate failed: {result.stderr[-2000:]}")
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        statuses.append([r["status"] for r in rows])
        work_seconds.append(sum(r["time"] for r in rows))
    return seconds, statuses, work_seconds


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reward-"))
    batches = make_batches(args)
    distinct = len({(r["task_id"], r["completion"]) for batch in batches for r in batch})
    print(f"{args.batches} batches of {args.batch_size} completions ({distinct} distinct programs), timeout "
          f"{args.timeout:g} s, {args.workers} workers, {os.cpu_count()} cores; files in {work}")

    start, reward_seconds, rewards = with_reward(batches, args)
    sub_seconds, statuses, work_seconds = with_subprocess(batches, args, work)
    for b, (r, s, w) in enumerate(zip(reward_seconds, sub_seconds, work_seconds)):
        print(f"batch {b}: Reward {r:6.2f} s   coderun evaluate subprocess {s:6.2f} s   "
              f"(the samples' own wall time / workers: {w / args.workers:5.2f} s)")

    total = args.batches * args.batch_size
    reward_rate, sub_rate = total / sum(reward_seconds), total / sum(sub_seconds)
    print(f"Reward (warm pool): {reward_rate:7.1f} rewards/s  (pool start, once: {start:.2f} s)")
    print(f"coderun evaluate per batch: {sub_rate:7.1f} rewards/s")
    print(f"ratio: {reward_rate / sub_rate:.2f}x")
    agree = all(got == [1.0 if s == "passed" else 0.0 for s in want] for got, want in zip(rewards, statuses))
    print(f"every reward equals the verdict of coderun evaluate: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
