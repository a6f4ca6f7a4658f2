"""The strict judge: a benchmark's asserts, re-evaluated outside the sample's process on its return values.

Standard library only: coderun sends this file's source to the sandbox runner, which compiles it once and
calls `make_judge(spec, expected, inputs)`; the judge's `check(index, got)` sees each return value as plain
data (sandbox/plaindata.py) and returns None when the case's assert would pass, else why not. The sample's
process never sees `expected` and cannot reach this code.

`spec` comes from strict.judge_spec: {"version": 1, "cases": [[compare, post, params, source], ...]}, and
`expected[i]` is case i's expected value (None for truthy/falsy). Each compare is the assert's own Python
expression on `got` (after `post`, when the assert wraps the call in set(), tuple() or int()):
  eq       got == expected          is       got is expected (True, False or None)
  truthy   bool(got)                falsy    not got
  close    abs(got - expected) < tol, or <= (params "op", "tol")
  isclose  math.isclose(got, expected, rel_tol=..., abs_tol=...) (params "rel_tol", "abs_tol")
On hostile data (NaN, huge ints, deep nesting, unhashable items for set()) an expression that would raise in
the assert is a failure with a reason here, never an exception out of the judge.
"""

from __future__ import annotations

import math


def make_judge(spec: dict, expected: list, inputs: list):
    cases = spec["cases"]

    def check(index: int, got):
        compare, post, params, source = cases[index]
        transform, judge = _POSTS[post], _COMPARES[compare]  # outside the try: a bad spec is coderun's bug
        try:
            failure = judge(transform(got), expected[index], params)
        except Exception as exc:  # noqa: BLE001 - the assert would have raised: a failure, as classically
            failure = f"the comparison raised {type(exc).__name__}"
        return None if failure is None else f"{failure}: {_one_line(source)}"

    return check


def _eq(got, expected, params):
    return None if got == expected else "not equal"


def _is(got, expected, params):
    return None if got is expected else f"not {expected!r}"


def _truthy(got, expected, params):
    return None if got else "falsy"


def _falsy(got, expected, params):
    return None if not got else "truthy"


def _close(got, expected, params):
    distance, tol = abs(got - expected), params["tol"]
    within = distance < tol if params["op"] == "<" else distance <= tol
    return None if within else f"not within {params['op']} {tol!r}"


def _isclose(got, expected, params):
    close = math.isclose(got, expected, rel_tol=params["rel_tol"], abs_tol=params["abs_tol"])
    return None if close else "not close"


_COMPARES = {"eq": _eq, "is": _is, "truthy": _truthy, "falsy": _falsy, "close": _close, "isclose": _isclose}
_POSTS = {None: lambda got: got, "set": set, "tuple": tuple, "int": int}


def _one_line(source: str, limit: int = 120) -> str:
    line = " ".join(source.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
