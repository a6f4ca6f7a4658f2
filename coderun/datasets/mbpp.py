"""MBPP (Austin et al. 2021): full (974 rows, "mbpp") and sanitized (427 rows, "mbpp-sanitized").

A sample is a whole program (`completion` and `solution` mean the same). The test part is the setup code
(full: `test_setup_code`; sanitized: the `test_imports` lines) followed by the `test_list` asserts, one per
line. The setup comes first and runs after the solution in the same namespace: task 367's setup builds
trees from the `Node` class that the solution defines.

Splits are task-id ranges of the original files (the paper's): prompt 1-10, test 11-510, validation
511-600, train 601-974. The sanitized file keeps the full file's ids, so its test split is its ids in
11-510 (257 problems).
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

from coderun.datasets.base import (
    Benchmark,
    Problem,
    Program,
    PublicExamples,
    check_fields,
    normalise_newlines,
    read_dataset_file,
    read_hub,
    register,
)
from coderun.errors import InputError

SPLITS: dict[str, tuple[int, float]] = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, float("inf")),
    "all": (float("-inf"), float("inf")),
}
_HUB_SPLITS = ["prompt", "test", "validation", "train"]  # the hub's split names; "all" loads every one

_FULL_FIELDS = {"task_id": int, "text": str, "code": str, "test_list": list, "test_setup_code": str}
_SANITIZED_FIELDS = {"task_id": int, "prompt": str, "code": str, "test_list": list, "test_imports": list}
_OPTIONAL_FIELDS = {"challenge_test_list": list}

_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")


class MBPP(Benchmark):
    name = "mbpp"
    challenge_tests = False
    default_file = "mbpp.jsonl"
    hub_id = ("google-research-datasets/mbpp", "full")

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        # For MBPP a completion is already the whole program (there is no code prompt to append it to).
        code = solution if solution is not None else completion
        if code is None:
            raise TypeError("program() needs a completion or a solution")
        return self.judged(problem, code)

    def strict_tests(self, problem: Problem):
        from coderun.datasets.strict import convert_mbpp

        e = problem.extra
        asserts = e["test_list"] + (e.get("challenge_test_list") or [] if self.challenge_tests else [])
        setup = e.get("test_setup_code") or "\n".join(e.get("test_imports") or [])
        return convert_mbpp(asserts, setup, problem.entry_point)

    def public_examples(self, problem: Problem) -> PublicExamples:
        # MBPP's standard prompt shows the test_list asserts, and they are the hidden tests themselves.
        setup = problem.extra.get("test_setup_code") or "\n".join(problem.extra.get("test_imports") or [])
        return PublicExamples(asserts=tuple(problem.extra.get("test_list") or ()), setup=setup,
                              leaks_hidden_tests=True,
                              note="MBPP's standard prompt shows asserts that are its hidden tests: "
                                   "a reranker that runs them leaks the answer key")


class MBPPSanitized(MBPP):
    name = "mbpp-sanitized"
    default_file = "sanitized-mbpp.json"
    hub_id = ("google-research-datasets/mbpp", "sanitized")


def entry_point(code: str, first_test: str) -> str | None:
    """The function a test calls: the first `name(` in the assert that the reference code defines."""
    try:
        with warnings.catch_warnings():  # MBPP code has invalid escapes ("\d" in regexes) that only warn
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except SyntaxError:
        return None
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):  # `f = lambda ...` and aliases
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    # `assert set(f(...))`, `assert math.isclose(f(...))`: skip calls to names the code does not define.
    return next((m.group(1) for m in _CALL.finditer(first_test) if m.group(1) in defined), None)


def _validator(fields: dict[str, type]):
    def validate(rows: list[dict[str, Any]], where: str) -> None:
        seen: set[int] = set()
        for i, row in enumerate(rows, 1):
            at = f"{where} row {i}"
            check_fields(row, at, fields)
            check_fields(row, at, _OPTIONAL_FIELDS, optional=True)
            if not row["test_list"]:
                raise InputError(f"{at}: test_list is empty (a problem without tests would always pass)")
            if row["task_id"] in seen:
                raise InputError(f"{at}: duplicate task_id {row['task_id']}")
            seen.add(row["task_id"])

    return validate


def _problem(row: dict[str, Any], sanitized: bool, challenge_tests: bool) -> Problem:
    code = normalise_newlines(row["code"])
    asserts = [normalise_newlines(t) for t in row["test_list"]]
    challenge = [normalise_newlines(t) for t in row.get("challenge_test_list") or []]
    if sanitized:
        description = normalise_newlines(row["prompt"])
        setup = [normalise_newlines(s) for s in row["test_imports"]]
        extra = {"prompt": description, "test_list": asserts, "test_imports": setup}
    else:
        description = normalise_newlines(row["text"])
        setup_code = normalise_newlines(row["test_setup_code"])
        setup = [setup_code] if setup_code.strip() else []
        extra = {"text": description, "test_list": asserts, "test_setup_code": setup_code,
                 "challenge_test_list": challenge}
    lines = setup + asserts + (challenge if challenge_tests else [])
    return Problem(
        task_id=str(row["task_id"]),
        prompt=description,
        canonical_solution=code,
        test="\n".join(lines) + "\n",
        entry_point=entry_point(code, asserts[0]),
        extra=extra,
    )


def _load(cls: type[MBPP], path: str | None, from_hub: bool, split: str, challenge_tests: bool,
          strict: bool = False) -> MBPP:
    if split not in SPLITS:
        raise InputError(f"unknown {cls.name} split {split!r}; known: {', '.join(SPLITS)}")
    sanitized = cls is MBPPSanitized
    validate = _validator(_SANITIZED_FIELDS if sanitized else _FULL_FIELDS)
    if from_hub:
        rows, sha, source = read_hub(cls.hub_id, _HUB_SPLITS if split == "all" else [split], validate)
        rows.sort(key=lambda r: r["task_id"])  # the hub stores splits apart; files are in id order
    else:
        rows, sha, source = read_dataset_file(path, cls.default_file, validate)
    lo, hi = SPLITS[split]
    problems = [_problem(r, sanitized, challenge_tests) for r in rows if lo <= r["task_id"] <= hi]
    if not problems:
        raise InputError(f"{source}: no {cls.name} problems in split {split!r}")
    bench = cls(problems, source, sha)
    bench.challenge_tests, bench.strict = challenge_tests, strict
    return bench


@register("mbpp", command="mbpp", description="MBPP full, test split: 500 problems (ids 11-510)")
def load_mbpp(
    path: str | None = None, from_hub: bool = False, split: str = "test", challenge_tests: bool = False,
    strict: bool = False, **options: Any
) -> MBPP:
    """Full MBPP; `challenge_tests` adds each problem's `challenge_test_list` asserts to its test part; `strict`
    judges the asserts as call tests where they convert (strict.py)."""
    if options:
        raise InputError(f"mbpp has no option {', '.join(sorted(options))}")
    return _load(MBPP, path, from_hub, split, challenge_tests, strict)


@register("mbpp-sanitized", command="mbpp", variant="sanitized", prompt_family="mbpp",
          description="MBPP sanitized, test split: 257 problems")
def load_mbpp_sanitized(
    path: str | None = None, from_hub: bool = False, split: str = "test", challenge_tests: bool = False,
    strict: bool = False, **options: Any
) -> MBPP:
    """Sanitized MBPP (hand-checked descriptions and tests); it has no challenge tests."""
    if challenge_tests:
        raise InputError("mbpp-sanitized has no challenge tests (the option applies to mbpp)")
    if options:
        raise InputError(f"mbpp-sanitized has no option {', '.join(sorted(options))}")
    return _load(MBPPSanitized, path, from_hub, split, False, strict)
