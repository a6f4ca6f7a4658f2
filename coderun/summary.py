"""From result rows to summary.json: pass@k with CIs, counts, completeness (stable contract)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from coderun import stats
from coderun.errors import InputError
from coderun.records import STATUSES, SUMMARY_FORMAT, ResultRow, Status, task_counts

DEFAULT_KS = (1, 10, 100)


def resolve_ks(explicit: Sequence[int] | None, samples_per_task: dict[str, int], where: str = "") -> list[int]:
    """Explicit ks must fit every task's sample count (else exit 2); default: 1, 10, 100 where they fit.
    `where` names the run in the message when several are checked (compare)."""
    smallest = min(samples_per_task.values()) if samples_per_task else 0
    if explicit:
        bad = [k for k in explicit if k < 1]
        if bad:
            raise InputError(f"--k values must be positive integers, got {bad[0]}")
        too_big = [k for k in explicit if k > smallest]
        if too_big:
            task = min(samples_per_task, key=samples_per_task.get)
            raise InputError(f"--k {too_big[0]} is larger than the {smallest} samples of task {task}"
                             + (f" in {where}" if where else ""))
        return sorted(set(explicit))
    return [k for k in DEFAULT_KS if k <= smallest]


def parse_ks(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--k takes comma-separated integers like 1,10,100, got {text!r}") from None


def summarize(rows: list[ResultRow], ks: list[int], expected_samples: int, dataset: str,
              seed: int = 0, tiers: tuple[str, ...] = ()) -> dict[str, Any]:
    """summary.json. `complete` only when every expected sample has a verdict that is not an error. For each
    of `tiers` (a dataset's scored tiers, e.g. HumanEval+'s "base"), also "<tier>_pass@k" from the rows'
    "<tier>_passed", with its CIs, over the same rows."""
    status_counts = Counter(r.status for r in rows)
    counts = task_counts(rows)
    pass_at_k, ci = _pass_at_k(counts, ks, seed)
    complete = len(rows) == expected_samples and status_counts.get(Status.ERROR, 0) == 0
    summary = {
        "format": SUMMARY_FORMAT,
        "dataset": dataset,
        "pass@k": pass_at_k,
        "pass@k_ci": ci,
        "confidence": 0.95,
        "num_problems": len(counts),
        "num_samples": len(rows),
        "counts": {s: status_counts.get(s, 0) for s in STATUSES},
        "complete": complete,
        "missing": max(expected_samples - len(rows), 0),
    }
    for tier in tiers:
        tier_counts = task_counts(rows, passed=lambda r, name=f"{tier}_passed": bool(_field(r, name)))
        summary[f"{tier}_pass@k"], summary[f"{tier}_pass@k_ci"] = _pass_at_k(tier_counts, ks, seed)
    return summary


def _pass_at_k(counts: dict[str, tuple[int, int]], ks: list[int], seed: int) -> tuple[dict, dict]:
    scored = {t: nc for t, nc in counts.items() if nc[0] > 0}
    pass_at_k, ci = {}, {}
    for k in ks:
        usable = [nc for nc in scored.values() if nc[0] >= k]
        if not usable:
            continue
        est = stats.estimate_pass_at_k(usable, k, seed=seed)
        pass_at_k[str(k)] = est.value
        ci[str(k)] = {"low": est.low, "high": est.high}
    return pass_at_k, ci


def _field(row, name: str):
    """A row's field whether it is a ResultRow (extra fields) or a RowRef (the fields scoring needs)."""
    return getattr(row, name) if hasattr(row, name) else getattr(row, "extra", {}).get(name)
