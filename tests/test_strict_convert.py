"""Strict base judging without Docker: the converter (each shape it accepts, each reason it refuses), the judge
(each comparison, on hostile values too), and the shipped datasets: every converted case judged on the
reference solution's plain-data return value agrees with the original assert run classically."""

from __future__ import annotations

import ast
import collections
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from coderun import datasets
from coderun.datasets import strict, strict_judge
from coderun.datasets.mbpp import SPLITS
from coderun.datasets.strict import (StrictCase, StrictTests, convert_humaneval, convert_mbpp, expected_of,
                                     inputs_of, judge_spec)
from coderun.sandbox import plaindata

METADATA = "\n\nMETADATA = {\n    'author': 'jt',\n    'dataset': 'test'\n}\n\n\n"


def humaneval(*body: str) -> StrictTests | str:
    """convert_humaneval on a test of the given `check` body lines."""
    lines = "".join(f"    {line}\n" for line in body)
    return convert_humaneval(f"{METADATA}def check(candidate):\n{lines}", "f")


def one(result: StrictTests | str) -> StrictCase:
    assert isinstance(result, StrictTests), result
    assert len(result.cases) == 1
    return result.cases[0]


# ---- the converter: accepted shapes ---------------------------------------------------------------------------


def test_equality_on_either_side_in_assert_order_with_messages_ignored():
    tests = humaneval("assert candidate([1, 2], 'a') == [(1, 'a')]",
                      "assert (3, None) == candidate(-1, {'k': {1}}), 'message ' + str(candidate(0))",
                      "assert (candidate(2.5) == 1.0), 't3'")
    assert isinstance(tests, StrictTests) and tests.entry == "f" and tests.setup == ""
    assert [(c.args, c.expected, c.compare, c.post) for c in tests.cases] == [
        (([1, 2], "a"), [(1, "a")], "eq", None), ((-1, {"k": {1}}), (3, None), "eq", None), ((2.5,), 1.0, "eq", None)]
    assert tests.cases[1].source == "assert (3, None) == candidate(-1, {'k': {1}}), 'message ' + str(candidate(0))"


def test_statements_without_effect_are_skipped():
    tests = humaneval('"""doc"""', "# a comment", "pass", "print", "import math", "from random import choice",
                      "assert True, 'never evaluated: ' + str(candidate(1))", "assert candidate(1) == 2")
    assert [c.args for c in tests.cases] == [(1,)]


def test_truthiness_and_identity():
    tests = humaneval("assert candidate('<>')", "assert not candidate('<')", "assert candidate([3], 9) is True",
                      "assert candidate([], 1) is False", "assert candidate(0) is None")
    assert [(c.compare, c.expected) for c in tests.cases] == [("truthy", None), ("falsy", None), ("is", True),
                                                             ("is", False), ("is", None)]


def test_tolerances_as_written():
    close = humaneval("assert abs(candidate(1.33) - 0.33) < 1e-6", "assert abs(2.0/3.0 - candidate([1.0])) <= 10**-3")
    assert [(c.compare, c.expected, c.op, c.tol) for c in close.cases] == [("close", 0.33, "<", 1e-6),
                                                                          ("close", 2.0 / 3.0, "<=", 10**-3)]
    assert one(humaneval("assert abs(candidate(1) - 2) < 10**400")).tol == 10**400  # an int bound stays exact
    isclose = convert_mbpp(["assert math.isclose(vol(10), 4188.79, rel_tol=0.001)",
                            "assert math.isclose(1.5, vol(2), abs_tol=1e-3)"], "import math", "vol")
    assert [(c.compare, c.expected, c.rel_tol, c.abs_tol) for c in isclose.cases] == [
        ("isclose", 4188.79, 0.001, 0.0), ("isclose", 1.5, 1e-9, 1e-3)]


def test_wrappers_around_the_call_and_the_expected_literal():
    tests = convert_mbpp(["assert set(similar((3, 4, 5), (5, 4))) == set((4, 5))",
                          "assert int(similar(5, 3)) == 35"], "", "similar")
    assert [(c.post, c.expected) for c in tests.cases] == [("set", {4, 5}), ("int", 35)]
    case = one(humaneval("assert tuple(candidate([5, 6, 3])) == tuple([3, 6, 5])"))
    assert (case.post, case.expected) == ("tuple", (3, 6, 5))


def test_arithmetic_on_literals_is_folded():
    case = one(humaneval("assert candidate(3 * 19, 'ab' + 'c', [-0, 1**0], 2.0/3.0, -(2 - 5), 1 + 2j) == "
                         "(3 + 5, 3 * 5)"))
    assert case.args == (57, "abc", [0, 1], 2.0 / 3.0, 3, 1 + 2j) and case.expected == (8, 15)


def test_mbpp_calls_the_entry_point_by_name_and_keeps_stdlib_setup_imports():
    tests = convert_mbpp(["assert area(10) == 314.15", "assert area(1) == 3.14; assert area(0) == 0"],
                         "import math\n", "area")
    assert isinstance(tests, StrictTests)
    assert [c.args for c in tests.cases] == [(10,), (1,), (0,)] and tests.setup == "import math\n"
    assert convert_mbpp(["assert area(1) == 3"], "  \n", "area").setup == ""


def test_the_helpers_give_what_the_judge_and_the_runner_take():
    tests = humaneval("assert candidate([1], 2) == [1, 2]", "assert abs(candidate([], 0) - 0.5) < 1e-6",
                      "assert not candidate((1,), 3)")
    assert inputs_of(tests) == [[[1], 2], [[], 0], [(1,), 3]]
    assert expected_of(tests) == [[1, 2], 0.5, None]
    spec = judge_spec(tests)
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec == {"version": strict.STRICT_VERSION, "cases": [
        ["eq", None, {}, "assert candidate([1], 2) == [1, 2]"],
        ["close", None, {"op": "<", "tol": 1e-6}, "assert abs(candidate([], 0) - 0.5) < 1e-6"],
        ["falsy", None, {}, "assert not candidate((1,), 3)"]]}
    assert plaindata.loads(plaindata.dumps(inputs_of(tests))) == inputs_of(tests)


# ---- the converter: refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body, reason", [
    (["for x in range(3):", "    assert candidate(x) == x"], "test uses a loop"),
    (["x = 1", "assert candidate(x) == 1"], "test assigns a variable"),
    (["candidate(1)"], "test calls candidate"),
    (["if True:", "    assert candidate(1) == 1"], "test has a statement of type If"),
    (["assert candidate(x) == 1"], "argument is not a literal: x"),
    (["assert candidate(len('ab')) == 1"], "argument calls len"),
    (["assert candidate(1 / 0) == 1"], "argument raises ZeroDivisionError: 1 / 0"),
    (["assert candidate(9 ** 9 ** 9) == 1"], "argument is too large"),
    (["assert candidate('a' * 10 ** 9) == 1"], "argument is too large"),
    (["assert candidate(*[1]) == 1"], "starred argument to the candidate"),
    (["assert candidate(1, key=2) == 1"], "keyword arguments to the candidate"),
    (["assert candidate(1) == g(1)"], "expected value calls g"),
    (["assert tuple(candidate([1])) == tuple(f([1]))"], "expected value calls f"),
    (["assert candidate(1) == set([[1]])"], "expected value raises TypeError"),
    (["assert candidate(1) == ..."], "expected value is not plain data: returned a ellipsis, not plain data"),
    (["assert candidate(1e999 - 1e999) == 1"], "argument is not plain data: changes in a plain-data round trip"
                                                " (a NaN?)"),
    (["assert candidate(1) == candidate(2)"], "expected value calls candidate"),
    (["assert 0 < candidate(1) < 2"], "chained comparison"),
    (["assert candidate(1) != 2"], "comparison not supported: NotEq"),
    (["assert candidate(1) is not None"], "comparison not supported: IsNot"),
    (["assert candidate(1) is 1"], "`is` compared with 1"),
    (["assert abs(candidate(1) - 1) < 1e999"], "tolerance is not a finite number: 1e309"),  # ast.unparse's spelling
    (["assert candidate(1) + 1 < 3"], "comparison not supported: candidate(1) + 1 < ..."),
    (["assert len(candidate(1)) == 2"], "assert form not supported: len(candidate(1))"),
    (["assert sorted(candidate(1)) == [1]"], "assert form not supported: sorted(candidate(1))"),
    (["assert math.isclose(candidate(1), 1.0)"], "math.isclose without `import math` in the test"),
    (["import numpy", "assert candidate(1) == 1"], "imports a module outside the standard library: numpy"),
    (["from math import *", "assert candidate(1) == 1"], "star import from math"),
    (["import math as set", "assert set(candidate(1)) == {1}"], "an import rebinds set"),
    (["from os import path as candidate", "assert candidate(1) == 1"], "an import rebinds candidate"),
    (["assert False"], "assert form not supported: False"),
    (["pass"], "no asserts"),
])
def test_humaneval_refusals(body, reason):
    assert humaneval(*body) == reason


def test_problem_test_with_its_check_call_converts_too():
    problem = datasets.load("humaneval").get("HumanEval/0")
    assert convert_humaneval(problem.test, "has_close_elements") == \
        convert_humaneval(problem.test.rsplit("\ncheck(", 1)[0], "has_close_elements")
    assert convert_humaneval(problem.test, "other") == "the test is not one check(candidate) function"


def test_humaneval_refusals_outside_check():
    assert convert_humaneval("def check(candidate)\n", "f") == "the test does not parse"
    assert convert_humaneval("import math\ndef check(candidate):\n    assert candidate(1)\n", "f") == \
        "the test is not one check(candidate) function"
    assert convert_humaneval("def check(candidate, n=1):\n    assert candidate(1)\n", "f") == \
        "the test is not one check(candidate) function"
    assert convert_humaneval("METADATA = {}\n", "f") == "no check(candidate) function"


@pytest.mark.parametrize("tests, setup, reason", [
    (["assert f(root) == 1"], "root = Node(1)", "setup code: root = Node(1)"),
    (["assert f(1) == 1"], "import numpy as np", "setup imports a module outside the standard library: numpy"),
    (["assert f(1) == 1"], "from math import sqrt as f", "an import rebinds f"),
    (["assert f(1) == 1"], "import (", "setup: the test does not parse"),
    (["assert f(1 == 1"], "", "the test does not parse"),
    (["assert g(1) == 1"], "", "assert form not supported: g(1)"),
    (["assert f((1, 2), int) == [1]"], "", "argument is not a literal: int"),
    (["assert f((1,)) == sys.getsizeof((1,))"], "import sys", "expected value calls sys.getsizeof"),
    (["assert math.isclose(f(1), 2.0, rel_tol=0.1)"], "", "math.isclose without `import math` in the test"),
    (["assert math.isclose(f(1), 2.0, 0.1)"], "import math", "math.isclose form not supported: "
                                                              "math.isclose(f(1), 2.0, 0.1)"),
    (["assert math.isclose(f(1), 2.0, rel_tol=x)"], "import math", "math.isclose rel_tol is not a finite number"),
])
def test_mbpp_refusals(tests, setup, reason):
    assert convert_mbpp(tests, setup, "f") == reason


def test_mbpp_without_an_entry_point_is_refused():
    assert convert_mbpp(["assert f(1) == 1"], "", None) == "no entry point"


# ---- the judge ------------------------------------------------------------------------------------------------


def judge(tests: StrictTests | str):
    assert isinstance(tests, StrictTests), tests
    return strict_judge.make_judge(judge_spec(tests), expected_of(tests), inputs_of(tests))


def test_each_comparison_passes_and_fails_as_the_assert_would():
    check = judge(humaneval(
        "assert candidate(1) == [1, (2, 'x')]", "assert candidate(2) == True", "assert candidate(3) is True",
        "assert candidate(4)", "assert not candidate(5)", "assert abs(candidate(6) - 0.5) < 1e-6",
        "assert abs(candidate(7) - 0.5) <= 0.25", "assert set(candidate(8)) == {1, 2}",
        "assert tuple(candidate(9)) == (1, 2)", "assert int(candidate(10)) == 35", "import math",
        "assert math.isclose(candidate(11), 100.0, rel_tol=0.01)"))
    passing = [[1, (2, "x")], 1.0, True, [0], "", 0.5000001, 0.75, [2, 1, 1], [1, 2], 35.9, 100.9]
    failing = [[1, [2, "x"]], 2, 1, [], "x", 0.501, 0.76, [1], (2, 1), "36", 101.1]
    for index, (good, bad) in enumerate(zip(passing, failing)):
        assert check(index, good) is None, (index, good)
        assert isinstance(check(index, bad), str), (index, bad)
    assert check(0, [1]) == "not equal: assert candidate(1) == [1, (2, 'x')]"
    assert check(2, 1) == "not True: assert candidate(3) is True"
    assert check(5, 0.6) == "not within < 1e-06: assert abs(candidate(6) - 0.5) < 1e-6"
    assert check(10, 98.0) == "not close: assert math.isclose(candidate(11), 100.0, rel_tol=0.01)"


def test_hostile_values_fail_with_a_reason_and_never_raise():
    check = judge(humaneval("assert candidate(1) == []", "assert set(candidate(2)) == {1}",
                            "assert abs(candidate(3) - 0.5) < 1e-6", "assert int(candidate(4)) == 1",
                            "assert candidate(5) == 0.5", "import math", "assert math.isclose(candidate(6), 1.0)"))
    assert check(0, [[[[]]]]) == "not equal: assert candidate(1) == []"
    assert check(1, [[1], 2]) == "the comparison raised TypeError: assert set(candidate(2)) == {1}"
    assert check(2, 10**400).startswith("the comparison raised OverflowError")
    assert check(2, math.nan).startswith("not within")
    assert check(2, "0.5").startswith("the comparison raised TypeError")
    assert check(3, "x" * 10_000).startswith("the comparison raised ValueError")
    assert check(3, math.inf).startswith("the comparison raised OverflowError")
    assert check(4, math.nan) == "not equal: assert candidate(5) == 0.5"
    assert check(4, 10**10_000).startswith("not equal")
    assert check(5, math.nan) == "not close: assert math.isclose(candidate(6), 1.0)"
    assert check(5, 1j).startswith("the comparison raised TypeError")


def test_a_comparison_too_deep_for_python_fails_with_a_reason():
    got, expected = [], []
    for _ in range(100_000):  # far deeper than plaindata sends: == recurses until RecursionError
        got, expected = [got], [expected]
    check = strict_judge.make_judge({"cases": [["eq", None, {}, "assert f() == DEEP"]]}, [expected], [[]])
    assert check(0, got) == "the comparison raised RecursionError: assert f() == DEEP"


def test_expected_values_travel_as_plain_data():
    tests = humaneval("assert candidate(1) is None", "assert candidate(2) == {1: (True, b'x')}")
    expected = plaindata.loads(plaindata.dumps(expected_of(tests)))
    check = strict_judge.make_judge(judge_spec(tests), expected, inputs_of(tests))
    assert check(0, plaindata.loads("null")) is None
    assert check(1, plaindata.loads(plaindata.dumps({1: (1, b"x")}))) is None


def test_the_judge_knows_exactly_the_converter_vocabulary():
    assert set(strict_judge._COMPARES) == set(strict.COMPARES)
    assert set(strict_judge._POSTS) == {None, *strict.POSTS}


def test_the_judge_uses_only_the_standard_library():
    tree = ast.parse(Path(strict_judge.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


# ---- the shipped datasets ---------------------------------------------------------------------------------------

# What converts (all rows, and the test split: HumanEval's 164; MBPP's and sanitized MBPP's ids 11-510). A drop
# is a regression; a rise should raise the floor.
COVERAGE_FLOORS = {"humaneval": (157, 157), "mbpp": (969, 499), "mbpp-sanitized": (426, 257)}
# Converted cases whose reference solution returns a value that is not plain data (it fails strict judging).
# Sanitized MBPP 737, 787 and 794 (outside its test split) return a re.Match for `assert f(x)`.
KNOWN_NOT_PLAIN: dict[str, list[str]] = {"humaneval": [], "mbpp": [], "mbpp-sanitized": [
    f"{case}: returned a re.Match, not plain data" for case in ("737#0", "737#2", "787#2", "787#3", "794#0")]}

# Runs in a subprocess: each reference solution, its setup, then per case the call on the case's arguments
# (the value as plain data, or why it is not) and the original assert itself, classically: with the reference
# solution (it passes), and with a function that returns None (it fails most cases, passes some).
WORKER = r"""
import json, os, signal, sys
from coderun.sandbox import plaindata

def alarm(*_):
    raise TimeoutError("timed out")

def classic(source, namespace):
    try:
        exec(compile(source, "<assert>", "exec"), namespace)
        return "pass"
    except AssertionError:
        return "fail"
    except Exception as exc:
        return "raised " + type(exc).__name__

def returns_none(*args):
    return None

signal.signal(signal.SIGALRM, alarm)
jobs, results = json.load(sys.stdin), []
real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")
for job in jobs:
    signal.alarm(120)  # MBPP 123's reference takes ~8 s a call
    try:
        g = {"__name__": "reference"}
        exec(compile(job["solution"], "<solution>", "exec"), g)
        exec(compile(job["setup"], "<setup>", "exec"), g)
        f, cases = g[job["entry"]], []
        for args, source in zip(plaindata.loads(job["inputs"]), job["sources"]):
            try:
                value, not_plain = plaindata.dumps(f(*args)), None
            except plaindata.NotPlain as exc:
                value, not_plain = None, str(exc)
            cases.append([value, not_plain, classic(source, {**g, job["candidate"]: f}),
                          classic(source, {**g, job["candidate"]: returns_none})])
        results.append({"cases": cases})
    except BaseException as exc:
        results.append({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        signal.alarm(0)
real_stdout.write(json.dumps(results))
"""


def convert(bench, problem) -> StrictTests | str:
    if bench.name == "humaneval":
        return convert_humaneval(problem.test, problem.entry_point)
    setup = problem.extra.get("test_setup_code") or "\n".join(problem.extra.get("test_imports") or [])
    return convert_mbpp(problem.extra["test_list"], setup, problem.entry_point)


def in_test_split(bench, problem) -> bool:
    lo, hi = SPLITS["test"]
    return bench.name == "humaneval" or lo <= int(problem.task_id) <= hi


def run_references(bench, converted: dict) -> dict:
    jobs = [{"solution": bench.get(t).canonical_solution, "setup": tests.setup, "entry": tests.entry,
             "candidate": "candidate" if bench.name == "humaneval" else tests.entry,
             "inputs": plaindata.dumps(inputs_of(tests)), "sources": [c.source for c in tests.cases]}
            for t, tests in converted.items()]
    out = subprocess.run([sys.executable, "-c", WORKER], input=json.dumps(jobs), capture_output=True, text=True,
                         timeout=900, check=True)
    return dict(zip(converted, json.loads(out.stdout)))


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_every_converted_case_agrees_with_its_assert_on_the_reference_solution(name):
    bench = datasets.load(name) if name == "humaneval" else datasets.load(name, split="all")
    results = {p.task_id: convert(bench, p) for p in bench.problems}
    converted = {t: r for t, r in results.items() if isinstance(r, StrictTests)}
    test_split = {p.task_id for p in bench.problems if in_test_split(bench, p)}
    coverage = (len(converted), sum(t in converted for t in test_split))
    reasons = collections.Counter(r for r in results.values() if isinstance(r, str))
    print(f"\n{name}: converted {coverage[0]}/{len(results)}, test split {coverage[1]}/{len(test_split)}")
    for reason, count in reasons.most_common():
        print(f"  {count:3} {reason}: {', '.join(t for t, r in results.items() if r == reason)}")

    disagree, not_plain = [], []
    for task_id, outcome in run_references(bench, converted).items():
        assert "error" not in outcome, (task_id, outcome)
        tests = converted[task_id]
        expected = plaindata.loads(plaindata.dumps(expected_of(tests)))  # as the runner sends it
        check = strict_judge.make_judge(judge_spec(tests), expected, inputs_of(tests))
        for index, (value, why_not, classic, classic_none) in enumerate(outcome["cases"]):
            if (check(index, None) is None) != (classic_none == "pass"):
                disagree.append((task_id, index, "returning None", classic_none))
            if value is None:
                not_plain.append(f"{task_id}#{index}: {why_not}")
                continue
            verdict = check(index, plaindata.loads(value))
            if verdict is not None or classic != "pass":
                disagree.append((task_id, index, classic, verdict))
    assert disagree == []
    assert not_plain == KNOWN_NOT_PLAIN[name], not_plain
    assert all(got >= floor for got, floor in zip(coverage, COVERAGE_FLOORS[name])), coverage
