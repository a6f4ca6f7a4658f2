"""Quality gates for CI (docs/design.md, "Scores"): pure decisions over scores, no I/O.

- `--fail-under pass@K=X` trips when the point estimate of pass@K is below X (equal passes). The
  result also carries the 95% CI and the minimum detectable difference of this benchmark (the
  one-sample MDE of the per-problem scores at alpha 0.05 and 80% power), so a reader sees how far
  below X a model must really be before this benchmark reliably says so.
- `--fail-if-regression M` trips when a run's paired difference against the baseline is below -M
  (equal passes) and significant: Holm-adjusted p < alpha. Beside it the MDE of the paired
  differences; when the MDE exceeds M, a true regression of M would usually not trip the gate, and
  the result says so (`underpowered`).

A tripped gate is exit 3 (GateTripped), distinct from errors.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from coderun import stats
from coderun.compare import ALPHA, POWER, Diff
from coderun.errors import GateTripped, InputError

_FAIL_UNDER = re.compile(r"^\s*pass@(\d+)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class FailUnder:
    k: int
    threshold: float

    def __str__(self) -> str:
        return f"pass@{self.k} >= {self.threshold:g}"


@dataclass
class GateResult:
    gate: str  # "fail-under" or "fail-if-regression"
    subject: str  # what was measured: "pass@1" or "run vs baseline pass@1 (dataset)"
    value: float  # the point estimate (fail-under) or the paired difference (regression)
    threshold: float  # X, or -M
    low: float | None
    high: float | None
    mde: float | None
    p_holm: float | None  # regression gates only
    tripped: bool
    underpowered: bool  # the MDE is larger than the distance the gate is meant to catch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        verb = "TRIPPED" if self.tripped else "ok"
        if self.gate == "fail-under":
            return f"{verb}: {self.subject} = {self.value:.10g}, threshold {self.threshold:.10g}"
        return (f"{verb}: {self.subject} difference {self.value:+.10g}, threshold {self.threshold:+.10g}, "
                f"Holm p = {self.p_holm:.4g}")


def parse_fail_under(text: str) -> FailUnder:
    """`pass@1=0.30` (a fraction in [0, 1]); anything else is an InputError with one line."""
    m = _FAIL_UNDER.match(text)
    if not m:
        raise InputError(f"--fail-under takes pass@K=X with X a fraction like 0.30, got {text!r}")
    k, threshold = int(m.group(1)), float(m.group(2))
    if k < 1:
        raise InputError(f"--fail-under: k must be at least 1, got {text!r}")
    if threshold > 1:
        raise InputError(f"--fail-under: the threshold is a fraction in [0, 1] (0.30 for 30%), got {text!r}")
    return FailUnder(k, threshold)


def parse_margin(text: str) -> float:
    """--fail-if-regression M: a fraction in [0, 1)."""
    try:
        margin = float(text)
    except ValueError:
        raise InputError(f"--fail-if-regression takes a fraction like 0.02, got {text!r}") from None
    if not 0 <= margin < 1:
        raise InputError(f"--fail-if-regression takes a fraction in [0, 1) (0.02 for 2 points), got {text!r}")
    return margin


def check_fail_under(counts: Iterable[tuple[int, int]], gate: FailUnder, seed: int = 0) -> GateResult:
    """Trips when mean pass@k over problems < threshold. Same estimate and CI (and seed) as summary.json."""
    counts = list(counts)
    if not counts:
        raise InputError(f"--fail-under {gate}: no problem has a verdict")
    smallest = min(n for n, _ in counts)
    if gate.k > smallest:
        raise InputError(f"--fail-under pass@{gate.k}: some problem has only {smallest} samples with a verdict")
    est = stats.estimate_pass_at_k(counts, gate.k, seed=seed)
    values = stats.per_problem_pass_at_k(counts, gate.k)
    mde = stats.minimum_detectable_difference(values, ALPHA, POWER) if len(counts) > 1 else None
    return GateResult("fail-under", f"pass@{gate.k}", est.value, gate.threshold, est.low, est.high, mde, None,
                      tripped=est.value < gate.threshold, underpowered=False)


def check_regression(diffs: Iterable[Diff], margin: float, alpha: float = ALPHA) -> list[GateResult]:
    """One result per (run, k, dataset): trips when diff < -margin and the Holm-adjusted p < alpha."""
    results = []
    for d in diffs:
        subject = f"{d.run} vs {d.baseline} pass@{d.k} ({d.dataset})"
        tripped = d.value < -margin and d.p_holm < alpha
        underpowered = d.mde is None or d.mde > margin
        results.append(GateResult("fail-if-regression", subject, d.value, -margin, d.low, d.high, d.mde, d.p_holm,
                                  tripped=tripped, underpowered=underpowered))
    return results


def raise_if_tripped(results: list[GateResult]) -> None:
    tripped = [r for r in results if r.tripped]
    if tripped:
        more = f" (and {len(tripped) - 1} more)" if len(tripped) > 1 else ""
        raise GateTripped(f"quality gate tripped: {tripped[0].describe()}{more}")
