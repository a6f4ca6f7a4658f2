"""HumanEval+ and MBPP+ (EvalPlus, Liu et al. 2023): the original problems with many more test inputs.

A problem has `base_input` (the original tests' inputs) and `plus_input` (EvalPlus's), the reference
solution, the entry point and a float tolerance `atol`. A sample is judged in two tiers, base and plus,
each its own process: the entry point is called on every input, and each return value is compared outside
that process with the reference solution's output on the same input (coderun runs the reference in the
sandbox once per dataset file and caches the outputs). A sample passes HumanEval+/MBPP+ only if both tiers
pass; `base_status` is the base tier alone.

EvalPlus's rules (evalplus 0.3.1) and where coderun differs are in docs/evalplus.md; the comparison itself
is evalplus_judge.py, which runs inside the sandbox runner; EvalPlus's prompts and sanitiser are
evalplus_prompts.py (registered with the other prompt formats when the datasets load).

Samples: `solution` is a whole program; `completion` is appended to the dataset's prompt (EvalPlus's
meaning, for MBPP+ too). Task ids as EvalPlus writes them (`HumanEval/0`, `Mbpp/2`); for MBPP+ a bare
number is accepted.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, ClassVar

from coderun.datasets.base import (Benchmark, CallTier, Judging, Problem, Program, PublicExamples, check_fields,
                                   read_dataset_file, register)
from coderun.errors import InputError
from coderun.sandbox import plaindata

FLOOR = 1.0  # per-input CPU seconds at least (EvalPlus: 1 s of wall clock)
FACTOR = 4.0  # times the reference's CPU time on the input (EvalPlus: 4 x its wall time)
TIER_CAP = 60.0  # a tier's CPU seconds at most (EvalPlus: min(60 s, the sum of its per-input limits))
DIGEST_OVER = 4096  # reference outputs longer than this (as text) are cached as a digest of their value
TIER_GRACE = 2.0  # on top of a tier's limit (EvalPlus: about 2 s for process start and collection)

# The set-compared, "not None" and special-oracle tasks (evalplus/eval/_special_oracle.py, by entry point).
MBPP_SET_EQ = {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
               "intersection_array", "find_dissimilar", "Diff"}
MBPP_NOT_NONE = {"check_str", "text_match_three", "text_starta_endb"}
MBPP_ORACLES = {"are_equivalent": "always", "sum_div": "or_zero", "surface_Area": "surface_area",
                "digit_distance_nums": "digit_distance"}
HUMANEVAL_ORACLES = {"find_zero": "poly_root"}

_FIELDS = {"task_id": str, "prompt": str, "canonical_solution": str, "entry_point": str}


class EvalPlus(Benchmark):
    family: ClassVar[str]  # "humaneval" | "mbpp": which deserialisation and oracles apply
    score_tiers = ("base",)

    def __init__(self, problems: list[Problem], source: str, sha256: str):
        super().__init__(problems, source, sha256)
        self._tiers: dict[str, tuple[tuple[CallTier, ...], Judging]] = {}

    def task_id(self, raw: Any) -> str:
        if self.family == "mbpp" and isinstance(raw, (int, str)) and not isinstance(raw, bool) \
                and str(raw).strip().isdigit():
            raw = f"Mbpp/{str(raw).strip()}"  # a bare number names an MBPP+ task
        return super().task_id(raw)

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        if solution is not None:
            code = solution
        elif completion is not None:
            code = problem.prompt + completion
        else:
            raise TypeError("program() needs a completion or a solution")
        tiers, judging = self._plan(problem)
        return Program(code, "", tiers, judging)

    def _plan(self, problem: Problem) -> tuple[tuple[CallTier, ...], Judging]:
        """The base and plus tiers and their rules, built once per problem: samples share them."""
        if problem.task_id not in self._tiers:
            mode = "not_none" if problem.extra["oracle"] == "not_none" else "value"
            tiers = tuple(CallTier(problem.task_id, name, problem.entry_point,
                                   plaindata.dumps(problem.extra[f"{name}_input"]),
                                   len(problem.extra[f"{name}_input"]), mode) for name in ("base", "plus"))
            spec = (("atol", problem.extra["atol"]), ("oracle", problem.extra["oracle"]))
            judging = Judging(judge_source(), spec, input_limits, tier_cpu, digest_threshold(problem), combine)
            self._tiers[problem.task_id] = (tiers, judging)
        return self._tiers[problem.task_id]

    def public_examples(self, problem: Problem) -> PublicExamples:
        if self.family == "mbpp":  # the prompt's assert is one of the base tests
            asserts = tuple(line.strip() for line in problem.prompt.splitlines() if line.strip().startswith("assert"))
            return PublicExamples(asserts=asserts, leaks_hidden_tests=True,
                                  note="MBPP+'s prompt shows an assert from its base tests: a reranker that runs it "
                                       "sees part of the answer key")
        return PublicExamples(text=problem.prompt, note="HumanEval+'s docstring examples are among its base "
                              "inputs: a reranker that runs them sees part of the answer key")


class HumanEvalPlus(EvalPlus):
    name, family = "humaneval-plus", "humaneval"


class MBPPPlus(EvalPlus):
    name, family = "mbpp-plus", "mbpp"


def input_limits(reference_cpu: list[float]) -> list[float]:
    return [round(max(FLOOR, FACTOR * t), 3) for t in reference_cpu]


def tier_cpu(limits: list[float]) -> float:
    return round(min(TIER_CAP, sum(limits)) + TIER_GRACE, 3)


def digest_threshold(problem: Problem) -> int:
    # Exact equality only: no tolerance (atol 0) and no special oracle. (Divergence, docs/evalplus.md: a
    # tier whose earlier outputs are floats forces atol, and then EvalPlus compares later numeric
    # outputs approximately; a digested one is compared exactly. No HumanEval+/MBPP+ tier has both.)
    exact = problem.extra["atol"] == 0 and problem.extra["oracle"] is None
    return DIGEST_OVER if exact else 0


def combine(tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """status/passed: the plus verdict (both tiers passed); the first tier that did not pass gives the
    status and reason; base_* is the base tier alone."""
    base, plus = tiers["base"], tiers["plus"]
    first = next((t for t in (base, plus) if t["status"] != "passed"), None)
    name = "base" if first is base else "plus"
    fields = {"base_status": base["status"], "base_passed": base["status"] == "passed",
              "plus_status": plus["status"]}
    for tier_name, tier in (("base", base), ("plus", plus)):
        if "inputs" in tier:
            fields[f"{tier_name}_inputs"] = tier["inputs"]
            fields[f"{tier_name}_inputs_passed"] = tier.get("inputs_passed", 0)
        if tier.get("failed_input") is not None:
            fields[f"{tier_name}_failed_input"] = tier["failed_input"]
    if first is None:
        return {"status": "passed", "reason": "", **fields}
    return {"status": first["status"], "reason": f"{name}: {first['reason']}", **fields}


@functools.cache
def judge_source() -> str:
    return (resources.files("coderun.datasets") / "evalplus_judge.py").read_text()


def oracle(family: str, entry_point: str) -> str | None:
    if family == "humaneval":
        return HUMANEVAL_ORACLES.get(entry_point)
    if entry_point in MBPP_NOT_NONE:
        return "not_none"
    if entry_point in MBPP_SET_EQ:
        return "set_eq"
    return MBPP_ORACLES.get(entry_point)


def _validate(rows: list[dict[str, Any]], where: str) -> None:
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        at = f"{where} row {i}"
        check_fields(row, at, _FIELDS)
        for name in ("base_input", "plus_input"):
            if row.get(name) == {}:  # Mbpp/793 has no plus inputs, written as an empty object
                row[name] = []
            if not isinstance(row.get(name), list) or not all(isinstance(x, list) for x in row[name]):
                raise InputError(f"{at}: field {name!r} must be a list of argument lists")
        if not isinstance(row.get("atol", 0), (int, float)) or isinstance(row.get("atol"), bool):
            raise InputError(f"{at}: field 'atol' must be a number")
        if not row["entry_point"].isidentifier():
            raise InputError(f"{at}: entry_point {row['entry_point'][:60]!r} is not a Python identifier")
        if row["task_id"] in seen:
            raise InputError(f"{at}: duplicate task_id {row['task_id'][:60]!r}")
        seen.add(row["task_id"])


def _problem(row: dict[str, Any], family: str) -> Problem:
    base, plus = row["base_input"], row["plus_input"]
    if family == "mbpp":
        base, plus = mbpp_deserialize_inputs(row["task_id"], base), mbpp_deserialize_inputs(row["task_id"], plus)
    return Problem(task_id=row["task_id"], prompt=row["prompt"],
                   canonical_solution=row["prompt"] + row["canonical_solution"], test="",
                   entry_point=row["entry_point"],
                   extra={"base_input": base, "plus_input": plus, "atol": float(row.get("atol") or 0),
                          "oracle": oracle(family, row["entry_point"]), "assertion": row.get("assertion"),
                          "test": row.get("test")})


def _loader(cls: type[EvalPlus], default_file: str):
    def load(path: str | None = None, from_hub: bool = False, strict: bool = True, **options: Any) -> EvalPlus:
        # `strict` is what these datasets always are: every tier is judged outside the sample's process.
        if options:
            raise InputError(f"{cls.name} has no option {', '.join(sorted(options))}")
        if from_hub:
            raise InputError(f"{cls.name} is not on the Hugging Face hub; it ships with coderun (or pass --dataset-path)")
        rows, sha, source = read_dataset_file(path, default_file, _validate)
        return cls([_problem(r, cls.family) for r in rows], source, sha)

    return load


for _name, _cls, _file, _command, _variant in (
        ("humaneval-plus", HumanEvalPlus, "HumanEvalPlus-v0.1.10.jsonl.gz", "humaneval", "plus"),
        ("humaneval-plus-mini", HumanEvalPlus, "HumanEvalPlus-Mini-v0.1.10.jsonl.gz", "humaneval", "plus-mini"),
        ("humaneval-plus-noextreme", HumanEvalPlus, "HumanEvalPlus-NoExtreme-v0.1.10.jsonl.gz", "humaneval",
         "plus-noextreme"),
        ("mbpp-plus", MBPPPlus, "MbppPlus-v0.2.0.jsonl.gz", "mbpp", "plus"),
        ("mbpp-plus-noextreme", MBPPPlus, "MbppPlus-NoExtreme-v0.2.0.jsonl.gz", "mbpp", "plus-noextreme")):
    _variant_cls = type(_cls.__name__, (_cls,), {"name": _name})
    # 4 GiB per sample, as EvalPlus allows: some reference solutions need more than coderun's 1 GiB (Mbpp/255
    # builds 1.6 million combinations on one plus input).
    register(_name, command=_command, variant=_variant, prompt_family=f"{_command}-plus", memory="4g",
             description=f"EvalPlus {_file.split('-v')[0]} ({_file.split('-')[-1].removesuffix('.jsonl.gz')})"
             )(_loader(_variant_cls, _file))


# ---- MBPP+ inputs are JSON: about 60 tasks need tuples, sets and complex numbers back ----------------------
# As evalplus/data/mbpp.py `mbpp_deserialize_inputs` does, quirks included (task 115: an empty list becomes
# an empty dict, `{}`), so that the reference solutions get the inputs they were written for.

_TUPLE_ARGS = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740,
               744, 809}
_TUPLE_NESTED = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_TUPLE_FIRST_NESTED = {75, 413, 444, 753}
_TUPLE_SECOND = {106, 750}
_TUPLE_FIRST = {250, 405, 446, 617, 720, 763, 808}
_TUPLE_NESTED_TWICE = {259, 401, 445}
_ALL_TUPLES = {580, 615, 791}


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    n = int(task_id.split("/")[-1])
    if n in _TUPLE_ARGS:
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in _TUPLE_NESTED:
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in _TUPLE_FIRST_NESTED:
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in _TUPLE_SECOND:
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in _TUPLE_FIRST:
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in _TUPLE_NESTED_TWICE:
        nested = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if n == 278:
        first = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in first]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in _ALL_TUPLES:
        return [_all_tuples(inp) for inp in inputs]
    return inputs


def _all_tuples(value):
    return tuple(_all_tuples(item) for item in value) if isinstance(value, list) else value
