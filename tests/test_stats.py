"""Tests for coderun.stats: exact values where they exist, calibrated tolerances where they do not."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from coderun.stats import (
    Estimate,
    bootstrap_ci,
    estimate_pass_at_k,
    gap_closed,
    holm,
    mean_pass_at_k,
    minimum_detectable_difference,
    paired_bootstrap_ci,
    pass_at_k,
    per_problem_pass_at_k,
    sign_flip_permutation_test,
    wilson_interval,
)

Z975 = 1.959963984540054  # standard normal 97.5% quantile


# ---------------------------------------------------------------- pass@k


def _exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def _cases():
    rng = np.random.default_rng(123)
    for n in range(1, 201):  # every n up to 200, every c (0..n), a spread of k including k = n
        ks = {1, 2, 3, 5, 10, 25, 100, n // 2, n - 1, n} & set(range(1, n + 1))
        for c in range(0, n + 1):
            for k in ks:
                yield n, c, k
    for _ in range(500):  # random (n, c, k) triples up to n = 200 as well
        n = int(rng.integers(1, 201))
        yield n, int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1))


def test_pass_at_k_matches_exact_fractions():
    checked = 0
    for n, c, k in _cases():
        exact = _exact_pass_at_k(n, c, k)
        got = pass_at_k(n, c, k)
        assert math.isclose(got, float(exact), rel_tol=1e-12, abs_tol=0.0), (n, c, k, got, exact)
        checked += 1
    assert checked > 100_000


@pytest.mark.parametrize(
    "n,c,k,expected",
    [(10, 0, 1, 0.0), (10, 10, 1, 1.0), (10, 10, 10, 1.0), (10, 3, 10, 1.0), (10, 1, 1, 0.1),
     (5, 2, 2, 1 - 3 / 10), (200, 0, 200, 0.0), (200, 1, 200, 1.0)],
)
def test_pass_at_k_edge_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize("n,c,k", [(5, 2, 6), (1, 0, 2), (5, 2, 0), (5, 2, -1), (5, 6, 1), (5, -1, 1), (-1, 0, 1)])
def test_pass_at_k_rejects_invalid(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_per_problem_and_mean():
    counts = [(10, 0), (10, 10), (10, 1), (4, 2)]
    per = per_problem_pass_at_k(counts, 1)
    np.testing.assert_allclose(per, [0.0, 1.0, 0.1, 0.5], rtol=1e-12)
    assert mean_pass_at_k(counts, 1) == pytest.approx(1.6 / 4, rel=1e-12)
    assert mean_pass_at_k(counts, 2) == pytest.approx((0 + 1 + 0.2 + 5 / 6) / 4, rel=1e-12)
    with pytest.raises(ValueError):
        mean_pass_at_k(counts, 5)  # k > n for the (4, 2) problem
    with pytest.raises(ValueError):
        mean_pass_at_k([], 1)


# ---------------------------------------------------------------- Wilson


def test_wilson_hand_computed():
    # 0/10: upper = z^2 / (n + z^2); 10/10 mirrors it.
    upper0 = Z975**2 / (10 + Z975**2)
    assert wilson_interval(0, 10) == pytest.approx((0.0, upper0), abs=1e-12)
    assert upper0 == pytest.approx(0.2775, abs=5e-5)
    assert wilson_interval(10, 10) == pytest.approx((1 - upper0, 1.0), abs=1e-12)
    # 5/10: centre 0.5, half = z / (1 + z^2/10) * sqrt(0.025 + z^2/400) -> (0.2366, 0.7634)
    half = Z975 / (1 + Z975**2 / 10) * math.sqrt(0.025 + Z975**2 / 400)
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=5e-5)
    # A wider confidence gives a wider interval.
    low99, high99 = wilson_interval(5, 10, 0.99)
    assert low99 < low and high99 > high


def test_wilson_rejects_invalid():
    for args in [(11, 10), (-1, 10), (0, 0)]:
        with pytest.raises(ValueError):
            wilson_interval(*args)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, 1.0)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_contains_mean_and_is_deterministic():
    values = np.random.default_rng(7).random(100)
    low, high = bootstrap_ci(values, seed=3, resamples=4000)
    assert low < values.mean() < high
    assert 0 < high - low < 0.3
    assert bootstrap_ci(values, seed=3, resamples=4000) == (low, high)
    assert bootstrap_ci(values, seed=4, resamples=4000) != (low, high)


def test_bootstrap_width_shrinks_with_more_problems():
    rng = np.random.default_rng(1)
    small = bootstrap_ci(rng.random(50), resamples=2000)
    large = bootstrap_ci(rng.random(800), resamples=2000)
    assert (large[1] - large[0]) < (small[1] - small[0]) / 2


def test_bootstrap_large_is_chunked_and_sane():
    values = (np.random.default_rng(2).random(1000) < 0.4).astype(float)
    low, high = bootstrap_ci(values, resamples=10_000)
    se = math.sqrt(values.mean() * (1 - values.mean()) / values.size)
    assert (high - low) == pytest.approx(2 * Z975 * se, rel=0.1)


@pytest.mark.parametrize("fill,successes", [(0.0, 0), (1.0, 30)])
def test_bootstrap_falls_back_to_wilson(fill, successes):
    values = np.full(30, fill)
    ci = bootstrap_ci(values)
    assert ci == wilson_interval(successes, 30)
    assert ci[1] - ci[0] > 0.05  # not the collapsed zero-width percentile interval


def test_bootstrap_rejects_bad_input():
    for bad in ([], [0.5, np.nan], [1.5, 0.2], [[0.1, 0.2]]):
        with pytest.raises(ValueError):
            bootstrap_ci(bad)


def test_bootstrap_coverage_simulation():
    # N = 200 problems ~ Bernoulli(0.3), seed 2024, 200 repetitions x 2000 resamples:
    # the 95% interval must cover the true mean 0.3 in [0.90, 0.98] of repetitions.
    n_problems, truth, reps = 200, 0.3, 200
    rng = np.random.default_rng(2024)
    covered = 0
    for rep in range(reps):
        values = (rng.random(n_problems) < truth).astype(float)
        low, high = bootstrap_ci(values, resamples=2000, seed=rep)
        covered += low <= truth <= high
    assert 0.90 <= covered / reps <= 0.98


def test_estimate_pass_at_k():
    counts = [(10, c) for c in (0, 2, 5, 7, 10, 3, 1, 9)]
    est = estimate_pass_at_k(counts, 1, seed=0)
    assert isinstance(est, Estimate)
    assert est.value == pytest.approx(37 / 80, rel=1e-12)
    assert est.low < est.value < est.high
    assert est.to_dict() == {"value": est.value, "low": est.low, "high": est.high}
    all_fail = estimate_pass_at_k([(5, 0)] * 10, 1)
    assert all_fail.to_dict() == {"value": 0.0, "low": 0.0, "high": wilson_interval(0, 10)[1]}


# ---------------------------------------------------------------- paired comparisons


def test_paired_bootstrap_ci():
    rng = np.random.default_rng(5)
    a = rng.random(150)
    b = np.clip(a + 0.1 + rng.normal(0, 0.05, 150), 0, 1)
    low, high = paired_bootstrap_ci(a, b, seed=1, resamples=4000)
    assert low < (b - a).mean() < high
    assert low > 0.05  # pairing: a clear positive shift stays clear of 0
    low_rev, high_rev = paired_bootstrap_ci(b, a, seed=1, resamples=4000)
    assert low_rev == pytest.approx(-high, abs=1e-12) and high_rev == pytest.approx(-low, abs=1e-12)
    with pytest.raises(ValueError):
        paired_bootstrap_ci(a, b[:-1])


def test_sign_flip_matches_exact_enumeration():
    # Integer diffs (scaled by 10) so the exact enumeration of all 2^10 sign flips has no float ties.
    ints = np.array([3, 1, 2, 4, 1, -1, 2, 5, 1, -2])
    observed = abs(ints.sum())
    extreme = sum(abs(np.dot(s, ints)) >= observed for s in itertools.product((-1, 1), repeat=ints.size))
    exact = extreme / 2**ints.size
    assert 0.01 < exact < 0.2  # an informative p, not a trivial 0 or 1
    B = 20_000
    p = sign_flip_permutation_test(ints / 10, resamples=B, seed=11)
    tolerance = 4 * math.sqrt(exact * (1 - exact) / B) + 1 / B
    assert abs(p - exact) < tolerance


def test_sign_flip_edges():
    assert sign_flip_permutation_test(np.zeros(20), resamples=500) == 1.0  # every flip ties
    p = sign_flip_permutation_test(np.full(30, 0.5), resamples=999)
    assert p == pytest.approx(1 / 1000)  # only p = (1 + 0) / (1 + B) is possible


def test_sign_flip_counts_float_ties():
    # With these diffs, 4 of the 32 extreme sign patterns tie the observed |mean| exactly in integers
    # but fall 1 ulp short in floats; the exact p is 32/256 = 0.125, and 28/256 if ties were lost.
    ints = np.array([-6, 6, 3, 8, 0, 2, 9, 4])
    flips = np.array(list(itertools.product((-1, 1), repeat=ints.size)))
    exact = np.count_nonzero(np.abs(flips @ ints) >= abs(ints.sum())) / len(flips)
    assert exact == 0.125
    B = 20_000
    p = sign_flip_permutation_test(ints / 10, resamples=B, seed=1)
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / B) + 1 / B


def test_holm_hand_computed():
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm([0.02]) == [0.02]
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([0.1, 1.2])


def test_minimum_detectable_difference():
    raw = np.random.default_rng(9).normal(size=164)
    diffs = (raw - raw.mean()) / raw.std(ddof=1) * 0.2  # sample sd exactly 0.2, n = 164
    mde = minimum_detectable_difference(diffs)
    assert mde == pytest.approx((Z975 + 0.8416212335729143) * 0.2 / math.sqrt(164), rel=1e-9)
    assert mde == pytest.approx(0.0437, abs=1e-3)
    assert minimum_detectable_difference(diffs, power=0.9) > mde
    with pytest.raises(ValueError):
        minimum_detectable_difference([0.1])


# ---------------------------------------------------------------- gap closed


def test_gap_closed_hand_computed():
    # num per problem [0.5, 0, 0.5] -> 1/3; den [0.5, 1, 0.5] -> 2/3; G = 0.5.
    g = gap_closed([1, 0, 1], [0.5, 0, 0.5], [1, 1, 1], resamples=2000)
    assert g["defined"] and g["value"] == pytest.approx(0.5, rel=1e-12)
    assert g["low"] <= 0.5 <= g["high"]


def test_gap_closed_bootstrap_distribution():
    # den is 1 on every problem, so resampled G = mean of resampled num in {0, 0.5, 1}
    # with probabilities 1/4, 1/2, 1/4: 2.5% and 97.5% quantiles are 0 and 1.
    g = gap_closed([1, 0], [0, 0], [1, 1], resamples=4000)
    assert g == {"value": 0.5, "low": 0.0, "high": 1.0, "defined": True}


def test_gap_closed_full_and_none():
    full = gap_closed([1, 0.5, 1], [0.2, 0.5, 0.4], [1, 0.5, 1])
    assert full == {"value": 1.0, "low": 1.0, "high": 1.0, "defined": True}
    none = gap_closed([0.2, 0.5], [0.2, 0.5], [1, 0.5])
    assert none["value"] == 0.0 and none["low"] == 0.0 and none["high"] == 0.0


def test_gap_closed_skips_zero_denominator_resamples():
    # Resamples made only of problem 2 have no gap; they are skipped, not NaN.
    g = gap_closed([1, 0], [0, 0], [1, 0], resamples=2000)
    assert g == {"value": 1.0, "low": 1.0, "high": 1.0, "defined": True}


def test_gap_closed_undefined():
    g = gap_closed([1, 0, 0.5], [0.3, 0.6, 1], [0.3, 0.6, 1])
    assert g == {"value": None, "low": None, "high": None, "defined": False}
    with pytest.raises(ValueError):
        gap_closed([1, 0], [0, 0], [1])
