"""JUnit XML, validated by parsing it back with xml.etree: one testcase per problem, failing reasons."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from coderun import compare as cmp, gates
from coderun.report import junit
from tests.conftest import EXAMPLE_SAMPLES, coderun
from tests.runfiles import humaneval_ids, make_run, rows_for, solved_set


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    (s,) = [s for s in root.iter("testsuite") if s.get("name") == suite]
    return {c.get("name"): c for c in s.iter("testcase")}


def test_evaluation_one_testcase_per_problem_with_a_failing_reason():
    rows = rows_for({
        "HumanEval/0": ["failed", "passed"],
        "HumanEval/1": [("failed", "NameError: name 'x' is not defined"), "timeout"],
        "HumanEval/2": ["timeout", ("failed", "bad \x00\x1b[31m bytes <&>")],  # not XML-safe as it stands
        "HumanEval/3": ["error", "error"],
    })
    root = ET.fromstring(junit.evaluation_xml(rows, "humaneval"))
    got = cases(root, "humaneval")
    assert list(got) == [f"HumanEval/{i}" for i in range(4)]
    assert got["HumanEval/0"].find("failure") is None and got["HumanEval/0"].find("error") is None
    failure = got["HumanEval/1"].find("failure")
    assert failure.get("message") == "sample 0: failed: NameError: name 'x' is not defined"
    assert failure.get("type") == "failed" and "1 failed, 1 timeout" in failure.text
    assert got["HumanEval/2"].find("failure").get("message").startswith("sample 0: timeout: CPU limit")
    assert got["HumanEval/3"].find("error") is not None and got["HumanEval/3"].find("failure") is None
    (suite,) = root.iter("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")


def test_control_characters_in_reasons_stay_valid_xml():
    rows = rows_for({"HumanEval/0": [("failed", "ValueError: \x00\x07\x1b[31m<b>&amp;")]})
    message = ET.fromstring(junit.evaluation_xml(rows, "he")).find(".//failure").get("message")
    assert message == "sample 0: failed: ValueError: \ufffd\ufffd\ufffd[31m<b>&amp;"


def test_gates_get_a_suite_of_their_own():
    results = [gates.check_fail_under([(1, 1), (1, 0)], gates.FailUnder(1, t)) for t in (0.5, 0.6)]
    root = ET.fromstring(junit.evaluation_xml(rows_for({"HumanEval/0": ["passed"]}), "he", results))
    got = list(cases(root, "coderun gates").values())
    assert [c.get("name") for c in got] == ["pass@1 (threshold 0.5)", "pass@1 (threshold 0.6)"]
    assert [c.find("failure") is not None for c in got] == [False, True]
    assert "threshold 0.6" in got[1].find("failure").get("message")


@pytest.mark.docker
def test_comparison_fails_the_lost_problems(tmp_path):
    tasks = humaneval_ids(10)
    make_run(tmp_path / "base", solved_set(tasks, set(tasks[:5])))
    make_run(tmp_path / "ft", solved_set(tasks[:9], set(tasks[2:7])))
    entries = [cmp.load_entry(str(tmp_path / n)) for n in ("base", "ft")]
    comparison = cmp.compare(entries)
    runs = {r.label: r for e in entries for r in e.runs}
    root = ET.fromstring(junit.comparison_xml(comparison, runs))
    got = cases(root, f"humaneval: {tmp_path / 'ft'} vs {tmp_path / 'base'}")
    assert list(got) == tasks[:9]  # common problems only
    failed = [t for t, c in got.items() if c.find("failure") is not None]
    assert failed == tasks[:2]
    reason = runs[str(tmp_path / "ft")].rows[0].reason  # the run's own: HumanEval/0 sample 0
    assert reason.startswith("NameError: name 'has_close_elements'")
    assert f"solved by the baseline, not by this run; sample 0: failed: {reason}" in \
        got[tasks[0]].find("failure").get("message")


@pytest.mark.docker
def test_compare_cli_writes_junit(tmp_path):
    tasks = humaneval_ids(6)
    make_run(tmp_path / "base", solved_set(tasks, set(tasks[:3])))
    make_run(tmp_path / "ft", solved_set(tasks, set(tasks[1:3])))
    result = coderun("compare", "base", "ft", "--junit", "out/compare.xml", "--fail-if-regression", "0.5",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = ET.parse(tmp_path / "out" / "compare.xml").getroot()
    assert len(cases(root, "humaneval: ft vs base")) == 6
    assert [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None] == [tasks[0]]
    assert len(cases(root, "coderun gates")) == 1


@pytest.mark.docker
def test_evaluate_cli_writes_junit(tmp_path):
    xml = tmp_path / "junit.xml"
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(tmp_path / "run"), "--junit", str(xml),
                     "--fail-under", "pass@1=0.01")
    assert result.returncode == 0, result.stderr
    root = ET.parse(xml).getroot()
    got = cases(root, "humaneval")
    assert sorted(got, key=cmp.natural) == [f"HumanEval/{i}" for i in range(1, 20, 2)]
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    for task, case in got.items():
        mine = [r for r in rows if r["task_id"] == task]
        failure = case.find("failure")
        assert (failure is None) == any(r["passed"] for r in mine)
        if failure is not None:  # the first failing sample of the problem, with its reason
            first = next(r for r in mine if r["status"] in ("failed", "timeout"))
            assert failure.get("message") == f"sample {first['sample_index']}: {first['status']}: {first['reason']}"
    assert len(cases(root, "coderun gates")) == 1
