"""Scores and their uncertainty: pass@k, confidence intervals, paired comparisons, gap closed.

Pure functions over numbers (numpy and the standard library only): nothing here runs code or models,
so reports can recompute every figure from stored counts. Conventions (see docs/design.md, "Scores"):
intervals are over problems, never over samples, because problems are the unit we would draw again;
every random procedure takes an explicit seed so a report is reproducible.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterator, Sequence

import numpy as np

# Upper bound on the number of index cells (resamples x problems) materialised at once, so a
# 10k x 1000 bootstrap does not allocate 80 MB of indices in one go.
_CHUNK_CELLS = 1_000_000


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c pass: 1 - C(n-c, k) / C(n, k).

    Computed as 1 - prod(1 - k / i) over i in n-c+1..n, which avoids the huge binomials.
    k > n is an error rather than a clamp: it would silently report pass@n under a pass@k label.
    """
    n, c, k = operator.index(n), operator.index(c), operator.index(k)
    if n < 0 or c < 0:
        raise ValueError(f"n and c must be non-negative (n={n}, c={c})")
    if c > n:
        raise ValueError(f"c={c} passing samples out of n={n}")
    if k < 1 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n (n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def per_problem_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> np.ndarray:
    """pass@k of each problem from its (n, c); the per-problem vector is what CIs resample."""
    return np.array([pass_at_k(n, c, k) for n, c in counts], dtype=np.float64)


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Headline pass@k: the mean over problems of each problem's unbiased estimate."""
    values = per_problem_pass_at_k(counts, k)
    if values.size == 0:
        raise ValueError("no problems")
    return float(values.mean())


def _z(p: float) -> float:
    """Standard normal quantile (statistics.NormalDist, so no scipy dependency)."""
    return NormalDist().inv_cdf(p)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _as_vector(values, name: str = "values") -> np.ndarray:
    """A non-empty, finite, 1-D float array (a clear error beats a NaN interval)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Used when the bootstrap degenerates (all problems 0 or all 1): a zero-width interval would claim
    certainty that 164 problems cannot give, while Wilson still has sensible width at 0/n and n/n.
    """
    successes, total = operator.index(successes), operator.index(total)
    if total < 1 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total and total >= 1 ({successes}/{total})")
    _check_confidence(confidence)
    z = _z(0.5 + confidence / 2)
    p, z2 = successes / total, z * z
    denom = 1.0 + z2 / total
    centre = (p + z2 / (2 * total)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


def _index_chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap index matrices (rows = resamples) in bounded-size chunks, from one seeded stream.

    Sharing this between the numerator and denominator of a ratio is what makes them "bootstrapped
    together"; chunking keeps memory flat however many resamples are asked for.
    """
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // n)
    for start in range(0, resamples, rows):
        yield rng.integers(0, n, size=(min(rows, resamples - start), n))


def _bootstrap_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of `resamples` resamples (with replacement) of `values`."""
    return np.concatenate(
        [values[idx].mean(axis=1) for idx in _index_chunks(values.size, resamples, seed)]
    )


def _percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    values, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the mean of per-problem scores in [0, 1], resampling problems.

    Falls back to a Wilson interval on the count of problems when every score is 0 or every score
    is 1, where every resample has the same mean and the percentile interval has zero width.
    """
    arr = _as_vector(values)
    _check_confidence(confidence)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError("bootstrap_ci expects per-problem scores in [0, 1]")
    if np.all(arr == 0) or np.all(arr == 1):
        return wilson_interval(int(arr.sum()), arr.size, confidence)
    return _percentile_interval(_bootstrap_means(arr, resamples, seed), confidence)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval; the unit every headline number is reported in."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def estimate_pass_at_k(
    counts: Sequence[tuple[int, int]],
    k: int,
    seed: int = 0,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
) -> Estimate:
    """Mean pass@k over problems with its bootstrap (or Wilson) CI over problems."""
    values = per_problem_pass_at_k(counts, k)
    low, high = bootstrap_ci(values, confidence=confidence, resamples=resamples, seed=seed)
    return Estimate(float(values.mean()), low, high)


def _paired(a, b) -> np.ndarray:
    """b - a per problem; the two runs must score the same problems in the same order."""
    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired runs need the same problems ({a.size} vs {b.size})")
    return b - a


def paired_bootstrap_ci(
    a, b, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap CI of mean(b - a), resampling problems (pairs stay together).

    Pairing removes between-problem difficulty from the variance, which is most of it.
    """
    _check_confidence(confidence)
    diffs = _paired(a, b)
    return _percentile_interval(_bootstrap_means(diffs, resamples, seed), confidence)


def sign_flip_permutation_test(diffs, resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided sign-flip test of mean(diffs) = 0 for paired per-problem differences.

    Under the null each difference is symmetric about 0, so flipping signs gives its distribution.
    p = (1 + b) / (1 + B) counts the observed statistic as one draw, so p is never 0 (valid test).
    """
    d = _as_vector(diffs, "diffs")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    observed = abs(d.mean())
    # Tolerance so a flip that reproduces the observed |mean| counts despite summation-order error.
    tol = 1e-9 * max(1.0, float(np.abs(d).max()))
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_CELLS // d.size)
    hits = 0
    for start in range(0, resamples, rows):
        m = min(rows, resamples - start)
        signs = rng.integers(0, 2, size=(m, d.size)) * 2 - 1
        hits += int(np.count_nonzero(np.abs((signs * d).mean(axis=1)) >= observed - tol))
    return (1 + hits) / (1 + resamples)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    Controls the family-wise error over runs x k x datasets without Bonferroni's full cost. The
    running maximum keeps adjusted values monotone in the raw ones; capped at 1.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("pvalues must be 1-D")
    if np.any(~np.isfinite(p) | (p < 0) | (p > 1)):
        raise ValueError("p-values must be in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def minimum_detectable_difference(diffs, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided test at alpha detects with the given power.

    (z_{1-alpha/2} + z_power) * sd_d / sqrt(n). Printed next to regression gates so a user can see
    when a gate is too blunt to ever trip on the differences it is meant to catch.
    """
    d = _as_vector(diffs, "diffs")
    if d.size < 2:
        raise ValueError("need at least two paired differences for a standard deviation")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be in (0, 1)")
    sd = float(np.std(d, ddof=1))
    return (_z(1 - alpha / 2) + _z(power)) * sd / math.sqrt(d.size)


def gap_closed(
    rerank, pass1, passn, seed: int = 0, resamples: int = 10_000, *, confidence: float = 0.95
) -> dict:
    """Share of the pass@1 -> pass@n gap a reranker closes: G = mean(rerank - pass1) / mean(passn - pass1).

    A ratio of means (not a mean of per-problem ratios, which is undefined wherever a problem has
    no gap). Numerator and denominator use the same resampled problems; resamples whose gap is 0
    are skipped. Undefined when the pool has no gap at all (mean passn == mean pass1).
    """
    _check_confidence(confidence)
    r, p1, pn = _as_vector(rerank, "rerank"), _as_vector(pass1, "pass1"), _as_vector(passn, "passn")
    if not r.shape == p1.shape == pn.shape:
        raise ValueError("rerank, pass1 and passn need one value per problem each")
    undefined = {"value": None, "low": None, "high": None, "defined": False}
    num, den = r - p1, pn - p1
    eps = 1e-12
    if abs(den.mean()) <= eps:
        return undefined
    ratios = []
    for idx in _index_chunks(r.size, resamples, seed):
        num_b, den_b = num[idx].mean(axis=1), den[idx].mean(axis=1)
        keep = np.abs(den_b) > eps
        ratios.append(num_b[keep] / den_b[keep])
    ratios = np.concatenate(ratios)
    value = float(num.mean() / den.mean())
    if ratios.size == 0:
        return {"value": value, "low": None, "high": None, "defined": True}
    low, high = _percentile_interval(ratios, confidence)
    return {"value": value, "low": low, "high": high, "defined": True}
