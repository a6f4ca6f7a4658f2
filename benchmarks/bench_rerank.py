"""How much of the pass@1 -> pass@n gap each reranker closes, over random n-subsets of a larger pool.

Takes a run directory (evaluated, n >= 10 per problem) or a samples file (evaluated first, into --out).
Every method measures its features once over the whole pool (the judge once per candidate, the probes once
per distinct program; kept in the run's feature store, so a second run of this script asks nothing again),
then, per problem, draws --subsets random subsets of --n candidates and lets the method pick in each:

  rerank@1  mean over subsets of the picked candidate's verdict (ties: a uniform pick), per problem
  pass@1    c / N, and pass@n the unbiased pass@n estimator of the pool: exact, no Monte Carlo
  G         (rerank@1 - pass@1) / (pass@n - pass@1), a ratio of means over problems, CIs by a bootstrap
            over problems with numerator and denominator resampled together

Problems are split in two fixed halves: "dev" (every other problem in dataset order, starting with the
first) is what methods may be tuned on; "report" (the rest) is only measured. Both are printed.

Usage:
  python benchmarks/bench_rerank.py "$CODERUN_DEV_DATA"/codegen16b-humaneval-dev.jsonl --out runs/rerank-dev
  python benchmarks/bench_rerank.py RUN_DIR --methods exec,logprob,judge,judge+exec --judge-model M
         [--judge-backend openai --judge-base-url URL] [--problems 20] [--n 10] [--subsets 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def ensure_run(source: str, out: str | None, problems: int | None) -> Path:
    path = Path(source)
    if path.is_dir():
        return path
    from coderun import datasets
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import DatasetSelection, OutputOptions
    from coderun.samples import iter_samples

    task_ids = None
    if problems:
        bench = datasets.load("humaneval")
        task_ids = list(dict.fromkeys(s.task_id for s in iter_samples(path, bench)))[:problems]
    run = Path(out or f"runs/rerank-{path.stem}")
    outcome = evaluate(EvaluateOptions(samples=str(path), dataset=DatasetSelection(task_ids=task_ids),
                                       output=OutputOptions(out=str(run))))
    if not outcome.summary["complete"]:
        sys.exit(f"{run}: the evaluation is incomplete; run again")
    return run


def subset_outcomes(method, bench, candidates, features, n: int, subsets: int, seed: int) -> dict[str, tuple]:
    """Per problem: (mean rerank@1 over random n-subsets, pass@1, pass@n), the last two exact."""
    from coderun.stats import pass_at_k
    from coderun.rerank import stats as rm

    out = {}
    for task_id, cands in candidates.items():
        total = len(cands)
        if total < n:
            continue
        passed = np.array([c.passed for c in cands], dtype=float)
        picks = []
        for rows in rm.random_subsets(total, n, subsets, seed=seed + len(out)):
            chosen = [cands[i] for i in rows]
            scores = method.scores(bench.get(task_id), chosen, [features.get(c.key) for c in chosen])
            picks.append(float(np.dot(rm.selection_weights(scores), passed[rows])))
        c = int(passed.sum())
        out[task_id] = (float(np.mean(picks)), c / total, pass_at_k(total, c, n))
    return out


def report(per_problem: dict[str, tuple], seed: int) -> dict:
    from coderun.stats import bootstrap_ci, gap_closed

    r, p1, pn = (np.array([v[i] for v in per_problem.values()]) for i in range(3))
    ci = {name: bootstrap_ci(values, seed=seed) for name, values in (("rerank@1", r), ("pass@1", p1), ("pass@n", pn))}
    g = gap_closed(r, p1, pn, seed=seed)
    return {"problems": len(r), "rerank@1": [r.mean(), *ci["rerank@1"]], "pass@1": [p1.mean(), *ci["pass@1"]],
            "pass@n": [pn.mean(), *ci["pass@n"]], "G": [g["value"], g["low"], g["high"]]}


def split(task_ids: list[str], bench) -> dict[str, set[str]]:
    order = [p.task_id for p in bench.problems if p.task_id in set(task_ids)]
    return {"dev": set(order[0::2]), "report": set(order[1::2])}


def fmt(triple) -> str:
    value, low, high = triple
    if value is None:
        return "undefined"
    return f"{100 * value:5.1f} [{100 * low:5.1f}, {100 * high:5.1f}]" if low is not None else f"{100 * value:5.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a run directory, or a samples file to evaluate first")
    parser.add_argument("--out", help="run directory for a samples file [runs/rerank-NAME]")
    parser.add_argument("--methods", default="exec,logprob")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--subsets", type=int, default=200)
    parser.add_argument("--problems", type=int, help="only the first N problems of the samples (judge on CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-model")
    parser.add_argument("--judge-backend", default="vllm", choices=["vllm", "openai"])
    parser.add_argument("--judge-base-url")
    parser.add_argument("--judge-pairwise", type=int, default=0)
    parser.add_argument("--judge-max-model-len", type=int)
    parser.add_argument("--judge-gpu-memory-utilization", type=float)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from coderun import rerank
    from coderun.rerank.base import Options
    from coderun.orchestrate.rerank import benchmark_of, read_candidates, rerank_run
    from coderun.records import RunDir

    run = ensure_run(args.source, args.out, args.problems)
    config = RunDir(run).read_config()
    bench = benchmark_of(config)
    results = {"machine": platform.node(), "run": str(run), "n": args.n, "subsets": args.subsets, "methods": {}}
    print(f"{run}: rerank@1 / pass@1 / pass@{args.n} / G in %, [95% CI over problems]; {args.subsets} random "
          f"subsets of {args.n} per problem")
    for name in args.methods.split(","):
        options = Options(name, judge_model=args.judge_model, judge_backend=args.judge_backend,
                          judge_base_url=args.judge_base_url, judge_pairwise=args.judge_pairwise,
                          judge_max_model_len=args.judge_max_model_len,
                          judge_gpu_memory_utilization=args.judge_gpu_memory_utilization)
        began = time.perf_counter()
        block = rerank_run(str(run), options)  # measures (or reuses) every feature over the whole pool
        measured = time.perf_counter() - began
        candidates, _ = read_candidates(RunDir(run), config, bench)
        rows = RunDir(run).read_results()
        features = {(r.task_id, r.sample_index): r.extra.get("rerank_features") for r in rows}
        method = rerank.get(name)(options)
        per_problem = subset_outcomes(method, bench, candidates, features, args.n, args.subsets, args.seed)
        halves = split(list(per_problem), bench)
        entry = {"measure_seconds": round(measured, 1), "stats": block.get("stats", {}),
                 "calibration": block.get("calibration"), "full_pool": {k: block[k] for k in
                                                                        ("rerank@1", "pass@1", "pass@n", "gap_closed")}}
        for half, tasks in (("all", set(per_problem)), *halves.items()):
            entry[half] = report({t: v for t, v in per_problem.items() if t in tasks}, args.seed)
            e = entry[half]
            print(f"  {name:<11} {half:<6} ({e['problems']:>3} problems)  rerank@1 {fmt(e['rerank@1'])}  "
                  f"pass@1 {fmt(e['pass@1'])}  pass@{args.n} {fmt(e['pass@n'])}  G {fmt(e['G'])}")
        stats = block.get("stats", {})
        if "judge_calls" in stats:
            print(f"  {name:<11} judge: {stats['judge_calls']} calls in {stats.get('judge_seconds', 0):.1f} s; "
                  f"calibration {json.dumps(block.get('calibration'))}")
        print(f"  {name:<11} features measured in {measured:.1f} s")
        results["methods"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
