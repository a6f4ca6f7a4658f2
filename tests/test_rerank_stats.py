"""Tests for coderun.rerank.stats: every metric against a value computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coderun.rerank.stats import (
    auroc,
    auroc_within,
    brier,
    calibration_summary,
    ece,
    problem_outcome,
    random_subsets,
    rerank_summary,
    selection_weights,
)

# ---------------------------------------------------------------- selection weights


def test_sole_winner_gets_all_weight():
    assert selection_weights([0.2, 0.9, 0.5]).tolist() == [0.0, 1.0, 0.0]


def test_two_way_tie_splits_weight():
    assert selection_weights([0.7, 0.1, 0.7]).tolist() == [0.5, 0.0, 0.5]


def test_three_way_tie_splits_weight():
    w = selection_weights([3.0, 3.0, 1.0, 3.0])
    assert w == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3])


def test_float_noise_counts_as_tie():
    w = selection_weights([0.3, 0.1 + 0.2])  # 0.30000000000000004
    assert w.tolist() == [0.5, 0.5]


def test_nan_and_none_never_win():
    assert selection_weights([float("nan"), 0.1, None, -5.0]).tolist() == [0.0, 1.0, 0.0, 0.0]


def test_all_missing_scores_is_uniform():
    assert selection_weights([None, float("nan"), None, float("nan")]).tolist() == [0.25] * 4


def test_empty_scores_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        selection_weights([])


scores_st = st.lists(
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False), st.sampled_from([0.0, 1.0])),
    min_size=1,
    max_size=12,
)


@given(scores_st)
def test_weights_are_a_distribution_on_the_maxima(scores):
    w = selection_weights(scores)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w >= 0)
    finite = [s for s in scores if s is not None and not math.isnan(s)]
    if finite:  # every chosen candidate has the top score
        chosen = [s for s, wi in zip(scores, w) if wi > 0]
        assert all(s is not None and s == pytest.approx(max(finite), rel=1e-12, abs=1e-12) for s in chosen)


# ---------------------------------------------------------------- per-problem outcomes


def test_tie_over_pass_and_fail_is_half():
    assert problem_outcome([0.5, 0.5], [True, False]) == (0.5, 0.5, 1.0)


def test_outcome_pass1_and_passn():
    assert problem_outcome([0, 0, 1, 0], [True, False, False, False]) == (0.0, 0.25, 1.0)
    assert problem_outcome([1, 0], [False, False]) == (0.0, 0.0, 0.0)
    assert problem_outcome([0, 1, 0], [True, True, True]) == (1.0, 1.0, 1.0)


def test_outcome_validates():
    with pytest.raises(ValueError, match="one verdict per candidate"):
        problem_outcome([0.5, 0.5], [True])
    with pytest.raises(ValueError, match="sum to 1"):
        problem_outcome([0.5, 0.2], [True, False])


@given(st.lists(st.tuples(st.floats(-10, 10), st.booleans()), min_size=1, max_size=10))
def test_rerank_between_worst_and_best_candidate(cands):
    scores, passed = zip(*cands)
    rerank, pass1, passn = problem_outcome(selection_weights(scores), passed)
    assert min(passed) <= rerank <= max(passed)
    assert min(passed) <= pass1 <= passn == max(passed)


# ---------------------------------------------------------------- summary and gap closed


HAND = [
    ([1, 0], [True, False]),  # rerank 1, pass@1 1/2, pass@n 1
    ([0, 1, 0, 0], [True, False, False, False]),  # rerank 0, pass@1 1/4, pass@n 1
    ([0.5, 0.5], [True, True]),  # rerank 1, pass@1 1, pass@n 1
]


def test_summary_hand_example():
    out = rerank_summary(HAND, resamples=2000)
    assert out["num_problems"] == 3
    assert out["rerank@1"]["value"] == pytest.approx(2 / 3)
    assert out["pass@1"]["value"] == pytest.approx(1.75 / 3)
    assert out["pass@n"]["value"] == 1.0
    # G = (2/3 - 1.75/3) / (1 - 1.75/3) = 0.25 / 1.25
    g = out["gap_closed"]
    assert g["defined"] and g["value"] == pytest.approx(0.2)
    for key in ("rerank@1", "pass@1", "pass@n"):
        assert out[key]["low"] <= out[key]["value"] <= out[key]["high"]
    # pass@n is 1 everywhere: bootstrap degenerates, so the Wilson fallback gives real width.
    assert out["pass@n"]["low"] < 1.0 and out["pass@n"]["high"] == 1.0


def test_summary_is_reproducible():
    assert rerank_summary(HAND, seed=3, resamples=500) == rerank_summary(HAND, seed=3, resamples=500)


@pytest.mark.parametrize("verdict", [True, False])
def test_gap_undefined_without_a_gap(verdict):
    problems = [([1, 0], [verdict, verdict]), ([0.5, 0.5], [verdict, verdict])]
    g = rerank_summary(problems, resamples=200)["gap_closed"]
    assert g == {"value": None, "low": None, "high": None, "defined": False}


def test_gap_negative_when_worse_than_random():
    # Always picks the failing one: rerank 0, pass@1 1/2, pass@n 1 -> G = -0.5 / 0.5.
    problems = [([0, 1], [True, False]), ([1, 0], [False, True])]
    assert rerank_summary(problems, resamples=200)["gap_closed"]["value"] == pytest.approx(-1.0)


def test_summary_rejects_no_problems():
    with pytest.raises(ValueError, match="no problems"):
        rerank_summary([])


# ---------------------------------------------------------------- AUROC


def test_auroc_with_ties_by_hand():
    # Pairs (pos, neg): (.9,.5)=1 (.9,.1)=1 (.5,.5)=1/2 (.5,.1)=1 -> 3.5 / 4.
    assert auroc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)


def test_auroc_perfect_inverted_and_all_tied():
    assert auroc([0.1, 0.9], [False, True]) == 1.0
    assert auroc([0.9, 0.1], [False, True]) == 0.0
    assert auroc([0.5] * 4, [1, 0, 1, 0]) == 0.5


def test_auroc_none_for_one_class():
    assert auroc([0.1, 0.9], [True, True]) is None
    assert auroc([0.1, 0.9], [0, 0]) is None


def test_auroc_validates():
    with pytest.raises(ValueError, match="one verdict per candidate"):
        auroc([0.1, 0.9], [1])
    with pytest.raises(ValueError, match="0/1"):
        auroc([0.1, 0.9], [1, 2])


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.booleans()), min_size=2, max_size=15))
def test_auroc_matches_pairwise_count(cands):
    s, y = zip(*cands)
    pos = [a for a, lab in cands if lab]
    neg = [a for a, lab in cands if not lab]
    if not pos or not neg:
        assert auroc(s, y) is None
        return
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    assert auroc(s, y) == pytest.approx(wins / (len(pos) * len(neg)))


def test_auroc_within_skips_unmixed_problems():
    groups = [
        ([0.9, 0.1], [1, 0]),  # 1
        ([0.2, 0.8], [1, 0]),  # 0
        ([0.5, 0.6], [1, 1]),  # skipped
        ([0.3], [0]),  # skipped
    ]
    assert auroc_within(groups) == (0.5, 2)
    assert auroc_within([([0.5, 0.6], [1, 1])]) == (None, 0)


# ---------------------------------------------------------------- Brier and ECE


def test_brier_by_hand():
    # (0.2^2 + 0.3^2 + 0.5^2) / 3
    assert brier([0.8, 0.3, 0.5], [1, 0, 1]) == pytest.approx(0.38 / 3)


def test_probabilities_validated():
    for bad in ([1.2, 0.5], [-0.1, 0.5], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            brier(bad, [1, 0])
    with pytest.raises(ValueError, match="one verdict per candidate"):
        ece([0.5, 0.5], [1, 0, 1])


def test_ece_two_populated_bins_by_hand():
    # 0.1 -> bin 1: |0.1 - 0.5| * 2/4; 0.9 -> bin 13: |0.9 - 1| * 2/4.
    assert ece([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1]) == pytest.approx(0.2 + 0.05)


def test_ece_perfectly_calibrated_is_zero():
    assert ece([0.5, 0.5], [1, 0]) == 0.0
    assert ece([0.0, 1.0, 0.0, 1.0], [0, 1, 0, 1]) == 0.0


def test_ece_one_goes_in_last_bin():
    # 0.94 and 1.0 share bin 14: |0.97 - 0.5| = 0.47 (separate bins would give 0.53).
    assert ece([1.0, 0.94], [0, 1]) == pytest.approx(0.47)


def test_calibration_summary():
    groups = [([0.9, 0.1], [1, 0]), ([0.8, 0.6], [1, 1])]
    out = calibration_summary(groups)
    assert out["num_candidates"] == 4
    assert out["auroc"] == pytest.approx(1.0)
    assert (out["auroc_within"], out["auroc_within_problems"]) == (1.0, 1)
    assert out["brier"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.16) / 4)
    # bins 13, 1, 12, 9 each hold one candidate
    assert out["ece"] == pytest.approx((0.1 + 0.1 + 0.2 + 0.4) / 4)
    with pytest.raises(ValueError, match="one verdict per candidate"):
        calibration_summary([([0.5, 0.5], [1]), ([0.5], [0, 1])])


# ---------------------------------------------------------------- random subsets


def test_random_subsets_shape_and_distinct_indices():
    idx = random_subsets(10, 4, 500, seed=1)
    assert idx.shape == (500, 4)
    assert idx.min() >= 0 and idx.max() < 10
    assert all(len(set(row)) == 4 for row in idx.tolist())
    # Each index is in a uniform 4-subset of 10 with probability 0.4.
    freq = np.bincount(idx.ravel(), minlength=10) / 500
    assert np.all(np.abs(freq - 0.4) < 0.1)


def test_random_subsets_reproducible_and_full():
    assert np.array_equal(random_subsets(20, 5, 50, seed=7), random_subsets(20, 5, 50, seed=7))
    assert not np.array_equal(random_subsets(20, 5, 50, seed=7), random_subsets(20, 5, 50, seed=8))
    assert random_subsets(3, 3, 2, seed=0).tolist() == [[0, 1, 2], [0, 1, 2]]


def test_random_subsets_validates():
    with pytest.raises(ValueError, match="n <= n_total"):
        random_subsets(3, 4, 1, seed=0)
    with pytest.raises(ValueError, match="count"):
        random_subsets(3, 2, 0, seed=0)
