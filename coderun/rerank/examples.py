"""Input/output examples read from a problem's public text, for execution-based reranking.

A reranker runs each candidate program on a few example calls and prefers the candidates whose results
match the expected values (or, where the text gives no value, agree with the other candidates). The
examples come only from what the model is shown: a HumanEval prompt (signature + docstring) or MBPP's
public assert lines, never from hidden tests. Caveat: HumanEval's docstring examples often reappear in
its hidden tests, so a reranker scored on HumanEval may look better than it would on unseen problems.

Parsing is generic (no per-problem rules); it must work on prompts it was never developed on:
- doctest: `>>> f(x)` then output lines (joined; a multi-line value is kept while it parses), `... `
  continuations, `>>> x = ...` assignments inlined into later calls. Output that is not a Python
  expression keeps the call with expected=None; `>>> print(v)` becomes call `str(v)` with the printed text;
  no output means the call returns None (doctest semantics); `>>> f(x) == y` is split; tracebacks dropped.
- equals / arrow: `f(x) == y`, `= y`, `returns y`, `should return y`, `# => y`, `-> y`, `=> y`, `==> y`,
  `--> y`, `➞ y`, even across lines (a multi-line call, "should\\n return y").
- prose: "Input: a = 1, b = [2] Output: 3", "For lst = [1] the output should be 5", and a line starting
  with `param = value` followed by a line starting with `return value`. Values become positional args.
Inline and prose examples need an expected value. `true`/`false`/`null` are read as Python's; an unquoted
word passed as an argument (`f(abc) => 1`) is a string unless it is a parameter name (`f(n) -> ...` is
notation, dropped). When no example calls the entry point, a call to an undefined function with the
entry point's arity (a stale name in the docstring) is read as a call to the entry point.
"""

from __future__ import annotations

import ast
import builtins
import copy
import keyword
import re
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    call: str  # a Python expression that calls the entry point, e.g. "f([1, 2], 3)"
    expected: str | None  # a Python expression for the expected value; None if the text gives none
    style: str  # "doctest", "equals", "arrow", "prose" or "assert"


_BUILTINS = frozenset(dir(builtins))
_LITERALS = {"true": True, "false": False, "null": None, "none": None}
_UNICODE = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "−": "-", "\u00a0": " "})
_SEP = re.compile(r"[ \t]*(?:#[ \t]*)?(?:(?P<arrow>==>|-->|=>|->|➞|→|⇒|⟶)|(?:==|=|should\s+(?:return|be)\b"
                  r"|returns?\b|equals?\b|gives\b|evaluates\s+to\b))[ \t]*")
_IN = r"\bInput\s*:|\bfor\s+(?=[A-Za-z_]\w*[ \t]*=(?!=))"
_OUT = re.compile(r"\bOutput\s*:|\b(?:the\s+)?(?:output|result)\s+(?:should|will)\s+be\b|^[ \t]*return\b[ \t]*=?",
                  re.I | re.M)
_ASSIGN = re.compile(r"[\s,;]*(?:and\s+)?([A-Za-z_]\w*)[ \t]*[=:](?!=)[ \t]*")
_BAD_REST = re.compile(r"[ \t]*[-+*/%&|^@<>]|[(\[]|\.\w")  # a cut before these splits an expression


def _expr(src: str) -> ast.expr | None:
    try:
        return ast.parse(src.strip(), mode="eval").body
    except Exception:
        return None


def _is_call(node: ast.AST, name: str) -> bool:
    func = getattr(node, "func", None)
    return isinstance(node, ast.Call) and name in (getattr(func, "id", None), getattr(func, "attr", None))


def _has_call(node: ast.AST, name: str) -> bool:
    return any(_is_call(n, name) for n in ast.walk(node))


def _free(node: ast.AST) -> set[str]:
    names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
    bound = {n.id for n in names if not isinstance(n.ctx, ast.Load)} | {a.arg for a in ast.walk(node)
                                                                        if isinstance(a, ast.arg)}
    return {n.id for n in names if isinstance(n.ctx, ast.Load)} - bound


class _Literals(ast.NodeTransformer):
    def visit_Name(self, node):
        low = node.id.lower()
        return ast.Constant(_LITERALS[low]) if low in _LITERALS else node


class _Subst(ast.NodeTransformer):
    def __init__(self, env: dict):
        self.env = env

    def visit_Name(self, node):
        hit = isinstance(node.ctx, ast.Load) and node.id in self.env
        return copy.deepcopy(self.env[node.id]) if hit else node


def _longest(text: str, accept, cap: int = 600):
    """The longest prefix of text (cut at a space or punctuation) that parses and that accept() keeps."""
    text, last = text[:cap], None
    for i in range(len(text), 0, -1):
        if i < len(text) and text[i] not in " \t\n,.;" or _BAD_REST.match(text[i:].split("\n", 1)[0]):
            continue
        cand = text[:i].rstrip()
        if cand == last or not cand or cand[-1] in ",.;":
            continue
        last, node = cand, _expr(cand)
        if node is not None and (node := accept(node)) is not None:
            return node, i
    return None, 0


def _split(node: ast.AST, entry: str):
    """(call side, expected side) of `a == b` (or `a is b`) where one side calls entry."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.Is)):
        a, b = node.left, node.comparators[0]
        a, b = (a, b) if _has_call(a, entry) else (b, a)
        return (a, b) if _has_call(a, entry) else None
    return None


def _example(call, expected, style: str) -> Example:
    return Example(ast.unparse(call), None if expected is None else ast.unparse(expected), style)


class _Parser:
    def __init__(self, text: str, entry: str):
        self.entry, self.params, self.arity, defined = entry, (), None, set()
        for node in ast.walk(_tree(text, entry) or ast.Module([], [])):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
                if node.name == entry and not self.params:
                    pos = node.args.posonlyargs + node.args.args
                    self.params = tuple(a.arg for a in pos)
                    self.arity = (len(pos) - len(node.args.defaults), 99 if node.args.vararg else len(pos))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        self.names = _BUILTINS | defined

    def ok_expected(self, node):
        node = _Literals().visit(node)
        return None if _has_call(node, self.entry) or not _free(node) <= self.names else node

    def ok_call(self, node, quote_words: bool = False):
        node = _Literals().visit(node)
        calls = [n for n in ast.walk(node) if _is_call(n, self.entry)]
        for call in calls if quote_words else ():
            for i, arg in enumerate(call.args):
                if isinstance(arg, ast.Name) and arg.id not in self.names:
                    if arg.id in self.params:
                        return None  # `f(n) = ...` is notation, not an example
                    call.args[i] = ast.Constant(arg.id)
        if not calls or not _free(node) <= self.names | {self.entry}:
            return None
        n, starred = len(calls[0].args) + len(calls[0].keywords), any(
            isinstance(a, ast.Starred) for a in calls[0].args)
        return node if starred or not self.arity or self.arity[0] <= n <= self.arity[1] else None

    def run(self, text: str, limit: int) -> list[Example]:
        text = text.translate(_UNICODE)[:50000]
        found, masked = self.doctest(text)
        found += list(self.inline(masked)) + list(self.prose(masked))
        if not any(e.expected for _, e in found):
            for alias in self.aliases(masked):
                found += list(self.inline(masked, alias))
        out: list[Example] = []
        for _, ex in sorted(found, key=lambda pe: pe[0]):
            if (ex.call, ex.expected) not in {(e.call, e.expected) for e in out}:
                out.append(ex)
        return out[:limit]

    def doctest(self, text: str):
        lines, found, env, i = text.split("\n"), [], {}, 0
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        masked = list(lines)
        while i < len(lines):
            if not lines[i].lstrip().startswith(">>>"):
                i += 1
                continue
            src, j = lines[i].lstrip()[3:].strip(), i + 1
            while j < len(lines) and re.match(r"\s*\.\.\.( |$)", lines[j]):
                src, j = src + "\n" + lines[j].lstrip()[4:], j + 1
            outs = []
            while j < len(lines) and (t := lines[j].strip()) and not t.startswith((">>>", '"""', "'''")):
                closing = t.endswith(('"""', "'''"))
                outs, j = outs + [t[:-3].rstrip() if closing else t], j + 1
                if closing:
                    break
            masked[i:j] = [" " * len(line) for line in lines[i:j]]
            ex = self.doctest_example(src, [o for o in outs if o], env)
            found += [(offsets[i], ex)] if ex else []
            i = j
        return found, "\n".join(masked)

    def doctest_example(self, src: str, outs: list[str], env: dict) -> Example | None:
        out = "\n".join(outs)
        try:
            body = ast.parse(src).body
            stmt = _Subst(env).visit(body[0]) if len(body) == 1 else None
        except Exception:
            stmt = None
        if isinstance(stmt, ast.Assign) and [type(t) for t in stmt.targets] == [ast.Name]:
            env[stmt.targets[0].id] = self.ok_expected(stmt.value) or ast.Name("_unknown_", ast.Load())
            return None
        if not outs and (stmt is None or isinstance(getattr(stmt, "value", None), ast.Subscript)):
            return next((ex for _, ex in self.inline(src, bare=True, style="doctest")), None)
        node = stmt.value if isinstance(stmt, ast.Expr) else None
        printed = _is_call(node, "print") and len(node.args) == 1 and not node.keywords
        node = node.args[0] if printed else node
        pair = _split(node, self.entry) if out in ("", "True") and node is not None else None
        if pair and (call := self.ok_call(pair[0])) and (exp := self.ok_expected(pair[1])) is not None:
            return _example(call, exp, "doctest")
        if node is None or out.startswith("Traceback") or (call := self.ok_call(node)) is None:
            return None
        if printed:
            return Example(f"str({ast.unparse(call)})", repr(out), "doctest")
        exp = _longest(out, self.ok_expected)[0] if outs else ast.Constant(None)
        return _example(call, exp, "doctest")

    def inline(self, text: str, name: str | None = None, bare: bool = False, style: str | None = None):
        name = name or self.entry
        for m in re.finditer(rf"(?<![\w.])(?<!def ){re.escape(name)}\s*\(", text):
            call, end = self.call_at(text, m.start(), name)
            sep = _SEP.match(text, end) if call is not None else None
            if call is None or not (sep or bare):
                continue
            exp = _longest(text[sep.end() if sep else end:], self.ok_expected)[0]
            if exp is not None:
                yield m.start(), _example(call, exp, style or ("arrow" if sep and sep["arrow"] else "equals"))

    def call_at(self, text: str, start: int, name: str):
        for j in range(start, min(len(text), start + 3000)):
            if text[j] == ")" and _is_call(node := _expr(text[start:j + 1]), name):
                if name != self.entry:
                    node.func = ast.Name(self.entry, ast.Load())
                return self.ok_call(node, quote_words=True), j + 1
        return None, 0

    def prose(self, text: str):
        params = "|".join(map(re.escape, self.params))
        pattern = _IN + (rf"|^[ \t]*(?=(?:{params})[ \t]*=(?!=))" if params else "")
        marks = sorted([(m.start(), m.end(), 0) for m in re.finditer(pattern, text, re.I | re.M)]
                       + [(m.start(), m.end(), 1) for m in _OUT.finditer(text)])
        start = None
        for pos, end, is_out in marks:
            if not is_out:
                start = (pos, end)
            elif start is not None and pos - start[1] < 600:
                args, exp = self.args(text[start[1]:pos]), _longest(text[end:], self.ok_expected)[0]
                call = ast.Call(ast.Name(self.entry, ast.Load()), args or [], [])
                if args is not None and exp is not None and (call := self.ok_call(call)) is not None:
                    yield start[0], _example(call, exp, "prose")
                start = None

    def args(self, part: str) -> list | None:
        names, args, pos = [], [], 0
        while m := _ASSIGN.match(part, pos):
            node, n = _longest(part[m.end():], self.ok_expected)
            if node is None:
                break
            names, args, pos = names + [m[1]], args + [node], m.end() + n
        if not args:
            node = _longest(part, self.ok_expected)[0]
            many = isinstance(node, ast.Tuple) and self.arity and len(node.elts) == len(self.params) > 1
            return None if node is None else node.elts if many else [node]
        if sorted(names) == sorted(self.params):
            args = [dict(zip(names, args))[p] for p in self.params]
        return args

    def aliases(self, text: str) -> list[str]:
        names = dict.fromkeys(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", text))
        return [n for n in names if n not in self.names and n != self.entry and not keyword.iskeyword(n)]


def _tree(text: str, entry: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except Exception:  # a docstring snippet: parse just the signature, if there is one
        m = re.search(rf"def\s+{re.escape(entry)}\s*\(.*?\)\s*(?:->[^:\n]*)?:", text, re.S)
        try:
            return ast.parse(m[0] + " pass") if m else None
        except Exception:
            return None


def parse_examples(text: str, entry_point: str, limit: int = 20) -> list[Example]:
    """Examples (call, expected) from a HumanEval-style prompt, in order of appearance; [] on any failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _Parser(text, entry_point).run(text, limit)
    except Exception:
        return []


def _from_assert(test: ast.expr, entry: str) -> Example | None:
    if not _has_call(test, entry):
        return None
    pair = _split(test, entry)
    func = getattr(test, "func", None)
    if isinstance(test, ast.Call) and getattr(func, "attr", getattr(func, "id", "")) in ("isclose", "allclose"):
        a, b = test.args[:2] if len(test.args) >= 2 else (test, test)
        pair = (a, b) if _has_call(a, entry) else (b, a) if _has_call(b, entry) else None
    if pair:
        return Example(ast.unparse(pair[0]), ast.unparse(pair[1]), "assert")
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return Example(ast.unparse(test.operand), "False", "assert")
    return Example(ast.unparse(test), "True", "assert")


def examples_from_asserts(asserts: list[str], entry_point: str) -> list[Example]:
    """Examples from MBPP-style `assert` lines: the side that calls entry_point is the call."""
    out: list[Example] = []
    for line in asserts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tests = [n.test for n in ast.walk(ast.parse(line.strip())) if isinstance(n, ast.Assert)]
            out += [ex for ex in map(lambda t: _from_assert(t, entry_point), tests) if ex and ex not in out]
        except Exception:
            continue
    return out
