"""Strict base judging: a benchmark's asserts as call tests, judged outside the sample's process.

Classic judging runs `assert candidate(ARGS) == VALUE` inside the sample's own process, where the sample can
pass by returning an object whose `__eq__` always says yes, or by patching builtins. Here each assert becomes
a StrictCase: the sample's process only calls the entry function on ARGS and sends back the return value as
plain data (sandbox/plaindata.py); strict_judge.py compares it, on the trusted side, as the assert would.

The conversion is exact or refused: every statement of the test must become a case or have no effect on the
verdict (a docstring, `pass`, `assert True`, a stdlib import local to HumanEval's `check`, HumanEval's
METADATA). Anything else (a loop, a variable, a call to another function, an argument that is not a literal)
keeps the whole problem classic, and the converter says why in one line.

What the shapes mean, on the return value `got` after its plain-data round trip:
  eq       got == expected                (either side of `==` as written; == is symmetric on plain data)
  is       got is expected                (expected is True, False or None)
  truthy   bool(got)                      (`assert candidate(x)`)
  falsy    not got                        (`assert not candidate(x)`)
  close    abs(got - expected) < tol      (`op` "<" or "<=" as written; either order inside abs())
  isclose  math.isclose(got, expected, rel_tol=..., abs_tol=...)
and `post`, when set, is applied to `got` first: set(got), tuple(got) or int(got), as the assert wraps the call.
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
import operator
import sys
import warnings
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Callable

from coderun.execute.limits import calibrated
from coderun.execute.program import CallTier, Judging
from coderun.sandbox import plaindata

STRICT_VERSION = 1

COMPARES = ("eq", "is", "truthy", "falsy", "close", "isclose")
POSTS = ("set", "tuple", "int")
# Wrappers the datasets put around a literal expected value (`set((4, 5))`, `tuple([2, 6, 3])`): evaluated
# here, with the real builtins, as the assert would evaluate them.
_EXPECTED_WRAPPERS = {"set": set, "tuple": tuple}


@dataclass(frozen=True)
class StrictCase:
    """One assert as a call test: call the entry function on `args`, judge its return value by `compare`."""

    args: tuple
    expected: Any  # None for truthy/falsy
    compare: str
    post: str | None = None
    op: str | None = None  # close: "<" or "<="
    tol: float | None = None  # close: the bound, as written (an int stays an int)
    rel_tol: float = 1e-9  # isclose: math.isclose's defaults unless the assert says otherwise
    abs_tol: float = 0.0
    source: str = ""  # the original assert, for failure reasons


@dataclass(frozen=True)
class StrictTests:
    """A problem's tests as call tests. `setup`: stdlib imports the classic test part runs in the solution's
    own namespace after the solution (sanitized MBPP's test_imports); a call-test runner must run them there
    too before the calls, or a solution that uses `math` without importing it would fail only here."""

    entry: str
    cases: tuple[StrictCase, ...]
    setup: str = ""


# ---- the two datasets ---------------------------------------------------------------------------------------


def convert_humaneval(test: str, entry_point: str) -> StrictTests | str:
    """HumanEval's `test` field (METADATA and `def check(candidate): ...`, optionally followed by the
    `check(entry_point)` call that Problem.test appends) as call tests, or why not."""
    tree = _parse(test)
    if isinstance(tree, str):
        return tree
    body = tree.body[:-1] if tree.body and _is_check_call(tree.body[-1], entry_point) else tree.body
    checks = [s for s in body if not _is_metadata(s) and not _no_effect(s)]
    if len(checks) != 1 or not _is_check(checks[0]):
        return "the test is not one check(candidate) function" if checks else "no check(candidate) function"
    check = checks[0]
    candidate = check.args.args[0].arg
    cases, bound = [], {}
    for stmt in check.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):  # local to check: invisible to the solution
            reason = _bind_imports(stmt, bound)
            if reason:
                return reason
            continue
        if _no_effect(stmt):
            continue
        case = _case(stmt, test, lambda call: _calls_name(call, candidate), bound)
        if isinstance(case, str):
            return case
        cases.append(case)
    return _finish(entry_point, cases, "", bound, {candidate})


def convert_mbpp(test_list: list[str], setup: str, entry_point: str | None) -> StrictTests | str:
    """MBPP's `test_list` asserts, which call the function by name, after `setup` (full: test_setup_code;
    sanitized: the test_imports lines joined), as call tests, or why not."""
    if not entry_point:
        return "no entry point"
    bound: dict[str, str] = {}
    tree = _parse(setup)
    if isinstance(tree, str):
        return "setup: " + tree
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return f"setup code: {_short(ast.get_source_segment(setup, stmt) or '')}"
        reason = _bind_imports(stmt, bound)
        if reason:
            return "setup " + reason
    cases = []
    for line in test_list:
        tree = _parse(line)
        if isinstance(tree, str):
            return tree
        for stmt in tree.body:
            if _no_effect(stmt):
                continue
            case = _case(stmt, line, lambda call: _calls_name(call, entry_point), bound)
            if isinstance(case, str):
                return case
            cases.append(case)
    return _finish(entry_point, cases, setup if setup.strip() else "", bound, {entry_point})


def _finish(entry: str, cases: list[StrictCase], setup: str, bound: dict[str, str],
            relied_on: set[str]) -> StrictTests | str:
    """The converted tests, once nothing the cases rely on is rebound and everything is plain data."""
    if not cases:
        return "no asserts"
    rebound = sorted((relied_on | {"abs", *(c.post for c in cases if c.post)}) & set(bound))
    if rebound:
        return f"an import rebinds {rebound[0]}"
    for case in cases:
        for what, value in (("argument", case.args), ("expected value", case.expected)):
            reason = _not_plain(value)
            if reason:
                return f"{what} is not plain data: {reason}"
    return StrictTests(entry, tuple(cases), setup)


# ---- what the judge and the caller take ---------------------------------------------------------------------


def judge_spec(tests: StrictTests) -> dict:
    """strict_judge.make_judge's `spec` (JSON-able): per case [compare, post, params, source]."""
    return {"version": STRICT_VERSION, "cases": [[c.compare, c.post, _params(c), c.source] for c in tests.cases]}


def _params(case: StrictCase) -> dict:
    if case.compare == "close":
        return {"op": case.op, "tol": case.tol}
    if case.compare == "isclose":
        return {"rel_tol": case.rel_tol, "abs_tol": case.abs_tol}
    return {}


def expected_of(tests: StrictTests) -> list:
    """make_judge's `expected`, index-aligned with the cases (to send as plain data)."""
    return [c.expected for c in tests.cases]


def inputs_of(tests: StrictTests) -> list:
    """The argument lists to call the entry function with, one per case (plaindata.dumps encodes them)."""
    return [list(c.args) for c in tests.cases]


# ---- the plan a dataset module attaches to a strict program ----------------------------------------------------

TIER = "strict"


def plan(task_id: str, tests: StrictTests) -> tuple[CallTier, Judging]:
    """The one call tier of a strict problem and its rules. Limits follow classic judging: the calls together
    get what the whole program would (max(floor, 4 x the reference's CPU time), or --timeout), so the two modes
    time out on the same programs."""
    tier = CallTier(task_id, TIER, tests.entry, plaindata.dumps(inputs_of(tests)), len(tests.cases),
                    expected=plaindata.dumps(expected_of(tests)), setup=tests.setup)
    spec = tuple(judge_spec(tests).items())
    return tier, Judging(judge_source(), spec, input_limits, tier_cpu, fold=fold)


def input_limits(reference_cpu: list[float]) -> list[float]:
    return [calibrated(sum(reference_cpu), True)] * len(reference_cpu)


def tier_cpu(limits: list[float]) -> float:
    return max(limits, default=calibrated(0.0, True))


def fold(tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tier's verdict; an input over its limit is a timeout, as the whole program over it is classically."""
    tier = tiers[TIER]
    return {"status": "timeout" if tier.get("input_timeout") else tier["status"], "reason": tier["reason"]}


@functools.cache
def judge_source() -> str:
    return (resources.files("coderun.datasets") / "strict_judge.py").read_text()


# ---- one assert -----------------------------------------------------------------------------------------------

Matcher = Callable[[ast.Call], bool]


def _case(stmt: ast.stmt, text: str, is_call: Matcher, bound: dict[str, str]) -> StrictCase | str:
    """One statement of the test as a case, or why it cannot be one. The assert's message is ignored: it is
    evaluated only once the assert has failed."""
    if not isinstance(stmt, ast.Assert):
        return _statement_reason(stmt)
    source = ast.get_source_segment(text, stmt) or ast.unparse(stmt)
    test = stmt.test
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _called(test.operand, is_call, source, "falsy", None)
    if isinstance(test, ast.Compare):
        return _comparison(test, is_call, source)
    if _is_math_isclose(test):
        if bound.get("math") != "math":
            return "math.isclose without `import math` in the test"
        return _isclose(test, is_call, source)
    if isinstance(test, ast.Call):
        return _called(test, is_call, source, "truthy", None)
    return f"assert form not supported: {_short(ast.unparse(test))}"


def _comparison(test: ast.Compare, is_call: Matcher, source: str) -> StrictCase | str:
    if len(test.ops) != 1:
        return "chained comparison"
    op, left, right = test.ops[0], test.left, test.comparators[0]
    if isinstance(op, ast.Eq):
        if _got(right, is_call) and not _got(left, is_call):
            left, right = right, left  # `assert VALUE == candidate(x)`
        expected = _expected(right)
        if isinstance(expected, _Refusal):
            return expected.reason
        return _called(left, is_call, source, "eq", expected.value)
    if isinstance(op, ast.Is):
        if not (isinstance(right, ast.Constant) and any(right.value is v for v in (True, False, None))):
            return f"`is` compared with {_short(ast.unparse(right))}"
        return _called(left, is_call, source, "is", right.value)
    if isinstance(op, (ast.Lt, ast.LtE)):
        return _close(left, right, "<" if isinstance(op, ast.Lt) else "<=", is_call, source)
    return f"comparison not supported: {type(op).__name__}"


def _close(left: ast.expr, right: ast.expr, op: str, is_call: Matcher, source: str) -> StrictCase | str:
    """`abs(candidate(x) - v) < tol` or `abs(v - candidate(x)) <= tol`."""
    if not (isinstance(left, ast.Call) and _calls_name(left, "abs") and len(left.args) == 1
            and isinstance(left.args[0], ast.BinOp) and isinstance(left.args[0].op, ast.Sub)):
        return f"comparison not supported: {_short(ast.unparse(left))} {op} ..."
    a, b = left.args[0].left, left.args[0].right
    got, value = (a, b) if _got(a, is_call) else (b, a)
    expected, tol = _expected(value, wrappers=False), _constant(right)
    if isinstance(expected, _Refusal):
        return expected.reason
    if isinstance(tol, _Refusal) or not _finite_number(tol.value):
        return f"tolerance is not a finite number: {_short(ast.unparse(right))}"
    case = _called(got, is_call, source, "close", expected.value)
    return case if isinstance(case, str) else replace(case, op=op, tol=tol.value)


def _isclose(test: ast.Call, is_call: Matcher, source: str) -> StrictCase | str:
    """`math.isclose(candidate(x), v, rel_tol=..., abs_tol=...)`, the call on either side."""
    if len(test.args) != 2 or any(k.arg not in ("rel_tol", "abs_tol") for k in test.keywords):
        return f"math.isclose form not supported: {_short(ast.unparse(test))}"
    a, b = test.args
    got, value = (a, b) if _got(a, is_call) else (b, a)
    expected = _expected(value, wrappers=False)
    if isinstance(expected, _Refusal):
        return expected.reason
    tolerances = {}
    for keyword in test.keywords:
        tol = _constant(keyword.value)
        if isinstance(tol, _Refusal) or not _finite_number(tol.value):
            return f"math.isclose {keyword.arg} is not a finite number"
        tolerances[keyword.arg] = tol.value
    case = _called(got, is_call, source, "isclose", expected.value)
    return case if isinstance(case, str) else replace(case, **tolerances)


def _called(node: ast.expr, is_call: Matcher, source: str, compare: str, expected: Any) -> StrictCase | str:
    """The case for `node`, which must be the candidate's call (or a post wrapper around it)."""
    got = _got(node, is_call)
    if got is None:
        return f"assert form not supported: {_short(ast.unparse(node))}"
    call, post = got
    if call.keywords:
        return "keyword arguments to the candidate"
    args = []
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            return "starred argument to the candidate"
        value = _constant(arg)
        if isinstance(value, _Refusal):
            return f"argument {value.reason}"
        args.append(value.value)
    return StrictCase(tuple(args), expected, compare, post=post, source=source)


def _got(node: ast.expr, is_call: Matcher) -> tuple[ast.Call, str | None] | None:
    """(the candidate's call, the post transform around it) when `node` is `candidate(...)`, `set(candidate(...))`,
    `tuple(...)` or `int(...)`; else None."""
    if not isinstance(node, ast.Call):
        return None
    if is_call(node):
        return node, None
    for post in POSTS:
        if (_calls_name(node, post) and len(node.args) == 1 and not node.keywords
                and isinstance(node.args[0], ast.Call) and is_call(node.args[0])):
            return node.args[0], post
    return None


def _statement_reason(stmt: ast.stmt) -> str:
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return "test uses a loop"
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return "test assigns a variable"
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return f"test calls {_short(ast.unparse(stmt.value.func))}"
    return f"test has a statement of type {type(stmt).__name__}"


# ---- literal values -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    value: Any


@dataclass(frozen=True)
class _Refusal:
    reason: str


def _expected(node: ast.expr, wrappers: bool = True) -> _Value | _Refusal:
    """The expected side: a constant, or (when `wrappers`) set(...)/tuple(...) around one."""
    wrap = None
    if wrappers and isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        wrap = next((f for name, f in _EXPECTED_WRAPPERS.items() if _calls_name(node, name)), None)
    value = _constant(node.args[0] if wrap else node)
    if isinstance(value, _Refusal):
        return _Refusal(f"expected value {value.reason}")
    try:
        return _Value(wrap(value.value)) if wrap else value
    except TypeError as exc:  # set() of unhashable items: the assert would raise
        return _Refusal(f"expected value raises {type(exc).__name__}")


_FOLD = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
         ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_BITS, _MAX_LEN = 100_000, 1_000_000  # constant expressions the datasets write are far smaller


def _constant(node: ast.expr) -> _Value | _Refusal:
    """A literal, as ast.literal_eval reads it, plus the arithmetic on literals the datasets write
    (`3 * 19`, `2.0/3.0`, `'ab' + 'c'`, `1**0`): Python evaluates these the same in any process."""
    try:
        return _Value(_fold(node))
    except _NotConstant as exc:
        return _Refusal(str(exc))
    except (ArithmeticError, TypeError, ValueError) as exc:  # 1/0, [] + 1, {[]}: the assert would raise
        return _Refusal(f"raises {type(exc).__name__}: {_short(ast.unparse(node))}")


class _NotConstant(Exception):
    pass


def _fold(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = [_fold(e) for e in node.elts]
        return {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:  # None: a `**mapping` entry
        return {_fold(k): _fold(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _fold(node.operand)
        if not _is_number(operand):
            raise _NotConstant(f"is not a literal: {_short(ast.unparse(node))}")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        left, right = _fold(node.left), _fold(node.right)
        _check_size(type(node.op), left, right)
        return _bounded(_FOLD[type(node.op)](left, right))
    if isinstance(node, ast.Call):
        raise _NotConstant(f"calls {_short(ast.unparse(node.func))}")
    raise _NotConstant(f"is not a literal: {_short(ast.unparse(node))}")


def _check_size(op: type, left: Any, right: Any) -> None:
    """Refuse, before computing it, an operation whose result could be huge (`9**9**9`, `'a' * 10**12`)."""
    if op is ast.Pow and isinstance(left, int) and isinstance(right, int):
        if right > 0 and max(left.bit_length(), 1) * right > _MAX_BITS:
            raise _NotConstant("is too large")
    if op is ast.Mult:
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, tuple, list)) and isinstance(count, int) and count * len(seq) > _MAX_LEN:
                raise _NotConstant("is too large")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        raise _NotConstant("is too large")
    if isinstance(value, (str, bytes, tuple, list)) and len(value) > _MAX_LEN:
        raise _NotConstant("is too large")
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, complex)


def _finite_number(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _not_plain(value: Any) -> str | None:
    """Why `value` would not arrive as itself through plaindata (None: it would)."""
    try:
        back = plaindata.loads(plaindata.dumps(value))
    except (plaindata.NotPlain, ValueError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return None if back == value else "changes in a plain-data round trip (a NaN?)"


# ---- small helpers --------------------------------------------------------------------------------------------


def _parse(text: str) -> ast.Module | str:
    try:
        with warnings.catch_warnings():  # invalid escapes in test strings ("\d") only warn
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError):
        return "the test does not parse"


def _bind_imports(stmt: ast.Import | ast.ImportFrom, bound: dict[str, str]) -> str | None:
    """Record the names an import binds (name -> what it names), or why the import is not allowed."""
    if isinstance(stmt, ast.ImportFrom):
        module = stmt.module or ""
        if stmt.level or module.split(".")[0] not in sys.stdlib_module_names:
            return f"imports a module outside the standard library: {module or '.'}"
        for alias in stmt.names:
            if alias.name == "*":
                return f"star import from {module}"
            bound[alias.asname or alias.name] = f"{module}.{alias.name}"
        return None
    for alias in stmt.names:
        if alias.name.split(".")[0] not in sys.stdlib_module_names:
            return f"imports a module outside the standard library: {alias.name}"
        name = alias.asname or alias.name.split(".")[0]
        bound[name] = alias.name if alias.asname else name
    return None


def _no_effect(stmt: ast.stmt) -> bool:
    """Statements that cannot change the verdict: `pass`, a docstring or other constant, a bare builtin's
    name (HumanEval/129's `print`), `assert <true constant>` (its message is never evaluated)."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        return isinstance(value, ast.Constant) or (isinstance(value, ast.Name) and hasattr(builtins, value.id))
    return isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)


def _is_metadata(stmt: ast.stmt) -> bool:
    """HumanEval's `METADATA = {...}` (a literal, read by nothing)."""
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == "METADATA" and not isinstance(_constant(stmt.value), _Refusal))


def _is_check(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.FunctionDef) or stmt.name != "check" or stmt.decorator_list:
        return False
    a = stmt.args
    return (len(a.args) == 1 and not (a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg or a.defaults)
            and stmt.returns is None and a.args[0].annotation is None)


def _is_check_call(stmt: ast.stmt, entry_point: str) -> bool:
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (isinstance(call, ast.Call) and _calls_name(call, "check") and not call.keywords
            and len(call.args) == 1 and isinstance(call.args[0], ast.Name) and call.args[0].id == entry_point)


def _calls_name(call: ast.Call, name: str) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == name


def _is_math_isclose(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "isclose"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "math")


def _short(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
