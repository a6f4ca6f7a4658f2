"""Reranking scores: which candidate a reranker picks, how much of the pass@1 -> pass@n gap it closes,
and how well a judge's P(correct) is calibrated.

Pure functions over numbers (numpy and the standard library only): nothing here runs code or models,
so reports can recompute every figure from stored scores and verdicts. Intervals and the gap-closed
ratio reuse coderun.stats, so reranking uses the same conventions as every other headline number:
intervals over problems, explicit seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from coderun.stats import Estimate, bootstrap_ci, gap_closed

# Scores this close (relative or absolute) are a tie: a judge's float noise must not pick a winner.
_TIE_TOL = 1e-12
# Weights are sums of 1/t terms; allow their rounding error when checking they sum to 1.
_SUM_TOL = 1e-9


def _vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence")
    return arr


def _labels(labels, size: int, name: str = "labels") -> np.ndarray:
    """Verdicts as a bool array of the given length; anything but 0/1 is a caller bug."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(f"{name} must have one verdict per candidate ({arr.size} vs {size})")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must be booleans (or 0/1)")
    return arr.astype(bool)


def _probs(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = _vector(probs, "probs")
    if not np.all(np.isfinite(p) & (p >= 0) & (p <= 1)):
        raise ValueError("probabilities must be in [0, 1]")
    return p, _labels(labels, p.size)


def selection_weights(scores) -> np.ndarray:
    """Probability each candidate is the reranker's pick: the max wins, t tied maxima get 1/t each.

    Splitting ties evenly is the expected outcome of a uniform tie-break, without drawing one.
    NaN/None (a judge that failed to answer) never wins; if nothing has a score, pick uniformly.
    """
    raw = list(scores)
    if not raw:
        raise ValueError("scores must be non-empty")
    s = np.array([-math.inf if x is None else float(x) for x in raw], dtype=np.float64)
    s[np.isnan(s)] = -math.inf
    best = s.max()
    # isclose also treats equal infinities as close, so all -inf (no scores) ties everything.
    winners = np.isclose(s, best, rtol=_TIE_TOL, atol=_TIE_TOL)
    return winners / winners.sum()


def problem_outcome(weights, passed) -> tuple[float, float, float]:
    """(rerank@1, pass@1, pass@n) of one problem's candidates.

    pass@1 is c/n (the unbiased estimator at k=1), pass@n is the oracle that picks any passing one.
    """
    w = _vector(weights, "weights")
    y = _labels(passed, w.size, "passed")
    if np.any(w < 0) or abs(w.sum() - 1.0) > _SUM_TOL:
        raise ValueError("weights must be non-negative and sum to 1")
    # Clip: float sums of 1/t may land a hair outside [0, 1], which bootstrap_ci rejects; and where every
    # candidate passes (or none does) the pick is certain, not 0.9999999999999999 of the float sum.
    rerank = float(y[0]) if y.all() or not y.any() else min(1.0, max(0.0, float(w @ y)))
    return rerank, float(y.mean()), float(y.any())


def rerank_summary(
    problems: list[tuple[Sequence[float], Sequence[bool]]],
    *,
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> dict:
    """Mean rerank@1, pass@1, pass@n over problems with CIs over problems, and the gap closed."""
    if not problems:
        raise ValueError("no problems")
    rows = np.array([problem_outcome(w, y) for w, y in problems], dtype=np.float64)
    out: dict = {"num_problems": len(problems)}
    for name, column in zip(("rerank@1", "pass@1", "pass@n"), rows.T):
        low, high = bootstrap_ci(column, confidence=confidence, resamples=resamples, seed=seed)
        out[name] = Estimate(float(column.mean()), low, high).to_dict()
    # One call, so numerator and denominator are resampled over the same problems.
    out["gap_closed"] = gap_closed(*rows.T, seed=seed, resamples=resamples, confidence=confidence)
    return out


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (what makes a tie count 1/2 in AUROC)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return (starts + (counts + 1) / 2.0)[inverse]


def auroc(scores, labels) -> float | None:
    """P(score of a random positive > score of a random negative), ties counting 1/2 (Mann-Whitney).

    None when only one class is present: the ranking question has no pairs to ask it of.
    """
    s = _vector(scores, "scores")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    y = _labels(labels, s.size)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = float(_average_ranks(s)[y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def auroc_within(groups: list[tuple[Sequence[float], Sequence[bool]]]) -> tuple[float | None, int]:
    """Mean per-problem AUROC over problems with mixed verdicts, and how many there were.

    This is the ranking a reranker actually needs (among one problem's candidates); pooled AUROC
    also rewards merely telling easy problems from hard ones.
    """
    values = [a for s, y in groups if (a := auroc(s, y)) is not None]
    return (float(np.mean(values)) if values else None), len(values)


def brier(probs, labels) -> float:
    """Mean squared error of P(correct) against the 0/1 verdict."""
    p, y = _probs(probs, labels)
    return float(np.mean((p - y) ** 2))


def ece(probs, labels, bins: int = 15) -> float:
    """Expected calibration error over equal-width bins on [0, 1]; bin i is [i/bins, (i+1)/bins).

    p = 1.0 goes in the last bin rather than an extra one. Empty bins carry no weight.
    """
    if bins < 1:
        raise ValueError("bins must be >= 1")
    p, y = _probs(probs, labels)
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        mask = idx == b
        total += mask.sum() / p.size * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def calibration_summary(groups: list[tuple[Sequence[float], Sequence[bool]]]) -> dict:
    """Pooled and within-problem AUROC, Brier and ECE of a judge's P(correct), per candidate."""
    if not groups:
        raise ValueError("no problems")
    for s, y in groups:
        _probs(s, y)  # validate each group, so a length mismatch is not hidden by concatenation
    p = np.concatenate([np.asarray(s, dtype=np.float64) for s, _ in groups])
    y = np.concatenate([np.asarray(lab, dtype=bool) for _, lab in groups])
    within, count = auroc_within(groups)
    return {
        "auroc": auroc(p, y),
        "auroc_within": within,
        "auroc_within_problems": count,
        "brier": brier(p, y),
        "ece": ece(p, y),
        "num_candidates": int(p.size),
    }


def random_subsets(n_total: int, n: int, count: int, seed: int) -> np.ndarray:
    """(count, n) indices: each row a uniform n-subset of range(n_total), drawn without replacement.

    Lets a reranker's curve over pool size n be estimated from one large pool; the seed makes a
    report reproducible. Rows are sorted so the same subset always looks the same.
    """
    if not 1 <= n <= n_total:
        raise ValueError(f"need 1 <= n <= n_total (n={n}, n_total={n_total})")
    if count < 1:
        raise ValueError("count must be >= 1")
    rng = np.random.default_rng(seed)
    # The n smallest of n_total i.i.d. uniform keys are a uniform n-subset.
    keys = rng.random((count, n_total))
    return np.sort(np.argpartition(keys, n - 1, axis=1)[:, :n], axis=1)
