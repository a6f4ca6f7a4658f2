"""Quality gates: the pure decisions at, just above and just below each threshold, and the exit codes
through the real CLI (3 = tripped, 0 = passed, 2 = bad gate)."""

from __future__ import annotations

import json

import pytest

from coderun import gates
from coderun.compare import Diff
from coderun.errors import GateTripped, InputError
from tests.conftest import EXAMPLE_SAMPLES, coderun
from tests.runfiles import humaneval_ids, make_run, solved_set


# ---- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,k,threshold", [("pass@1=0.30", 1, 0.30), (" pass@10 = .5", 10, 0.5),
                                              ("pass@1=1", 1, 1.0), ("pass@100=0", 100, 0.0)])
def test_parse_fail_under(text, k, threshold):
    assert gates.parse_fail_under(text) == gates.FailUnder(k, threshold)


@pytest.mark.parametrize("text", ["pass@1", "pass@1=30%", "pass@1=30", "1=0.3", "pass@0=0.3", "pass@1=-0.1",
                                  "pass@k=0.3"])
def test_parse_fail_under_rejects(text):
    with pytest.raises(InputError, match="--fail-under"):
        gates.parse_fail_under(text)


def test_parse_margin():
    assert gates.parse_margin("0.02") == 0.02 and gates.parse_margin("0") == 0
    for bad in ("-0.01", "1", "2%", "x"):
        with pytest.raises(InputError, match="--fail-if-regression"):
            gates.parse_margin(bad)


# ---- --fail-under --------------------------------------------------------------------------------------

COUNTS = [(1, 1)] * 3 + [(1, 0)] * 7  # pass@1 = 3/10 = 0.3 exactly as a float


@pytest.mark.parametrize("threshold,tripped", [(0.3, False), (0.30001, True), (0.29999, False)])
def test_fail_under_at_above_below(threshold, tripped):
    result = gates.check_fail_under(COUNTS, gates.FailUnder(1, threshold))
    assert result.value == 0.3 and result.tripped is tripped
    assert result.low < 0.3 < result.high  # the CI travels with the gate
    sd = (0.3 * 0.7 * 10 / 9) ** 0.5  # sample sd of three 1s and seven 0s
    assert result.mde == pytest.approx((1.959963984540054 + 0.8416212335729143) * sd / 10 ** 0.5)


def test_fail_under_needs_enough_samples():
    with pytest.raises(InputError, match="only 1 samples"):
        gates.check_fail_under(COUNTS, gates.FailUnder(2, 0.1))


# ---- --fail-if-regression ------------------------------------------------------------------------------


def diff(value: float, p_holm: float, mde: float | None = 0.01) -> Diff:
    return Diff("humaneval", "ft", "base", 1, value, value - 0.01, value + 0.01, p_holm, p_holm, mde, 164)


@pytest.mark.parametrize("value,p_holm,tripped", [
    (-0.02, 0.001, False),  # at -M: not below it
    (-0.02000001, 0.001, True),  # just below -M, significant
    (-0.01999999, 0.001, False),  # just above -M
    (-0.10, 0.05, False),  # far below, but p = alpha is not significant
    (-0.10, 0.0499, True),
    (+0.10, 0.001, False),  # a significant improvement never trips
])
def test_regression_gate(value, p_holm, tripped):
    (result,) = gates.check_regression([diff(value, p_holm)], 0.02)
    assert result.tripped is tripped and result.threshold == -0.02 and result.p_holm == p_holm


def test_regression_gate_says_when_it_cannot_trip():
    weak, strong = gates.check_regression([diff(-0.03, 0.2, mde=0.04), diff(-0.03, 0.01, mde=0.015)], 0.02)
    assert weak.underpowered and not strong.underpowered


def test_raise_if_tripped_is_exit_3():
    results = gates.check_regression([diff(-0.1, 0.001), diff(-0.1, 0.001)], 0.02)
    with pytest.raises(GateTripped, match=r"quality gate tripped: .* \(and 1 more\)") as info:
        gates.raise_if_tripped(results)
    assert info.value.exit_code == 3
    gates.raise_if_tripped(gates.check_regression([diff(0.1, 0.001)], 0.02))  # nothing tripped: no raise


# ---- exit codes through the real CLI -------------------------------------------------------------------

TASKS = humaneval_ids(40)


@pytest.fixture(scope="module")
def regression_runs(tmp_path_factory):
    """The run loses 10 of the baseline's 20 solved problems: difference exactly -0.25, p about 0.002."""
    root = tmp_path_factory.mktemp("regression")
    make_run(root / "base", solved_set(TASKS, set(TASKS[:20])))
    make_run(root / "ft", solved_set(TASKS, set(TASKS[10:20])))
    return root


@pytest.mark.docker
@pytest.mark.parametrize("margin,code", [("0.25", 0), ("0.2499", 3), ("0.2501", 0)])
def test_compare_gate_exit_codes(regression_runs, margin, code):
    result = coderun("compare", "base", "ft", "--fail-if-regression", margin, cwd=regression_runs)
    assert result.returncode == code, result.stderr
    assert "fail-if-regression" in result.stdout and "MDE" in result.stdout
    if code == 3:
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert "quality gate tripped: TRIPPED: ft vs base pass@1 (humaneval) difference -0.25, threshold " \
            "-0.2499, Holm p = 0.00" in result.stderr
    else:
        assert result.stderr == ""


@pytest.mark.docker
def test_compare_gate_not_significant_does_not_trip(tmp_path):
    tasks = humaneval_ids(4)
    make_run(tmp_path / "base", solved_set(tasks, {tasks[0]}))
    make_run(tmp_path / "ft", solved_set(tasks, set()))
    result = coderun("compare", "base", "ft", "--fail-if-regression", "0.1", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (gate,) = json.loads(result.stdout)["gates"]
    assert gate["value"] == -0.25 and gate["p_holm"] == 1.0 and not gate["tripped"]


def test_bad_fail_under_is_exit_2_before_running(tmp_path):
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(tmp_path / "run"), "--fail-under", "pass@1=30%")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--fail-under takes pass@K=X" in result.stderr and not (tmp_path / "run").exists()
    too_big = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(tmp_path / "run"), "--k", "1",
                      "--fail-under", "pass@50=0.1")
    assert too_big.returncode == 2 and "50 is larger than the 20 samples" in too_big.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("gated") / "run"
    first = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run))
    assert first.returncode == 0, first.stderr
    return run, json.loads((run / "summary.json").read_text())


@pytest.mark.docker
@pytest.mark.parametrize("offset,code", [(0.0, 0), (1e-9, 3), (-1e-9, 0)])
def test_evaluate_fail_under_exit_codes(example_run, offset, code):
    run, summary = example_run
    value = summary["pass@k"]["1"]
    threshold = repr(value + offset)
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run), "--fail-under", f"pass@1={threshold}",
                     "--fail-under", "pass@10=0")
    assert result.returncode == code, result.stderr
    assert "reused 200 earlier verdicts" in result.stdout  # the gate re-reads the run, nothing re-executes
    assert "quality gates" in result.stdout and "TRIPPED" in result.stdout if code else "ok" in result.stdout
    if code:  # one line, the last on stderr (the progress bar is there too)
        assert result.stderr.strip().splitlines()[-1] == \
            f"coderun: error: quality gate tripped: TRIPPED: pass@1 = {value:.10g}, threshold {value + offset:.10g}"


@pytest.mark.docker
def test_evaluate_json_carries_the_gates(example_run):
    run, summary = example_run
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run), "--json", "--fail-under", "pass@1=0.99")
    assert result.returncode == 3
    data = json.loads(result.stdout)  # stdout is JSON alone: no table, no progress
    assert data["pass@k"] == summary["pass@k"] and data["pass@k_ci"] == summary["pass@k_ci"]
    (gate,) = data["gates"]
    assert gate["tripped"] and gate["value"] == summary["pass@k"]["1"]
    assert (gate["low"], gate["high"]) == (summary["pass@k_ci"]["1"]["low"], summary["pass@k_ci"]["1"]["high"])
