"""Every dataset problem's own solution passes in the real sandbox, and a do-nothing one fails."""

from __future__ import annotations

import pytest

from coderun import datasets
from coderun.datasets.base import Program
from coderun.execute.base import Job

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# Problems whose reference solution does not pass its own tests here. Expected: none. Any difference,
# either way, fails the test, so a change in the data or the sandbox cannot slip through.
KNOWN_REFERENCE_FAILURES: dict[str, list[str]] = {"humaneval": [], "mbpp": [], "mbpp-sanitized": []}
# Problems whose tests a solution that does nothing (returns None) still passes. Expected: none.
KNOWN_WEAK_TESTS: dict[str, list[str]] = {"humaneval": [], "mbpp": [], "mbpp-sanitized": []}


def _jobs(programs: list[Program]) -> list[Job]:
    return [Job(p.solution, p.test, cpu=30.0, wall=90.0) for p in programs]


def _do_nothing(bench, problem) -> Program:
    if bench.name == "humaneval":
        return bench.program(problem, completion="    pass\n")
    name = problem.entry_point or "f"
    return bench.program(problem, solution=f"def {name}(*args, **kwargs):\n    return None\n")


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_reference_solutions_pass_and_empty_ones_fail(docker_pool, name):
    bench = datasets.load(name)
    assert len(bench) == {"humaneval": 164, "mbpp": 500, "mbpp-sanitized": 257}[name]
    reference = docker_pool.run_all(_jobs([bench.canonical(p) for p in bench.problems]))
    failing = [p.task_id for p, v in zip(bench.problems, reference) if not v.passed]
    assert failing == KNOWN_REFERENCE_FAILURES[name], [(t, v.reason) for t, v in zip(
        [p.task_id for p in bench.problems], reference) if not v.passed]
    empty = docker_pool.run_all(_jobs([_do_nothing(bench, p) for p in bench.problems]))
    weak = [p.task_id for p, v in zip(bench.problems, empty) if v.passed]
    assert weak == KNOWN_WEAK_TESTS[name]
