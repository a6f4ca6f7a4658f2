"""Input/output examples read from a problem's public text, for execution-based reranking.

A reranker runs candidate programs on example calls and prefers those whose results match the expected
values (or, with none given, agree with each other). Examples come only from what the model is shown -- a
HumanEval prompt (signature + docstring) or MBPP's public asserts -- never from hidden tests. Caveat:
HumanEval's docstring examples often reappear in its hidden tests, so gains measured there can overstate
gains on unseen problems. Parsing is generic (no per-problem rules) and `ast` checks every piece.
- doctest: `>>> f(x)` + output lines, `... ` continuations, `>>> x = v` inlined later. Output that is no
  Python value keeps the call with expected=None; `>>> print(v)` gives `str(v)` and the printed text; no
  output means None (doctest semantics); `>>> f(x) == y` is split.
- equals/arrow: `f(x) == y`, `= y`, `returns y`, `should return y`, `# => y`, `->`, `=>`, `==>`, `-->`, `➞`.
- prose: "Input: a = 1, b = [2]  Output: 3", "For lst = [1] the output should be 5", a line `param = v`
  then a line `return y`; values become positional arguments (reordered if named like the parameters).
Other than doctest, an example needs a closed expected value (literals, builtins): trailing comments,
periods and prose are cut, `true`/`null` become Python's. An unquoted word argument (`f(abc) => 1`) is a
string unless it names a parameter (`f(n) -> f(n-1)` is notation, dropped); argument counts must fit the
signature. If nothing calls the entry point, calls to an unknown function (a stale name) are tried.
"""
from __future__ import annotations

import ast
import builtins
import copy
import itertools
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
_SEP = re.compile(r"`?[ \t]*(?:#[ \t]*)?(?:(?P<arrow>==>|-->|=>|->|➞|→|⇒|⟶)|(?:==|=|should\s+(?:return|be)\b"
                  r"|returns?\b|equals?\b|is\b(?!\s+not\b)|gives\b|evaluates\s+to\b))[ \t]*`?")
_IN = r"\bInput\s*:|\b(?:for|if|when|given)\s+(?=[A-Za-z_]\w*[ \t]*=(?!=))"
_OUT = re.compile(r"\bOutput\s*:|\b(?:the\s+)?(?:output|result)\s+(?:should|will)\s+be\b|^[ \t]*return\b[ \t]*=?",
                  re.IGNORECASE | re.MULTILINE)
_ASSIGN = re.compile(r"[\s,;]*(?:and\s+)?([A-Za-z_]\w*)[ \t]*[=:](?!=)[ \t]*")
_END = (">>>", '"""', "'''")  # what ends a doctest's output
_PS1 = re.compile(r"[ \t]*(?:" + "|".join(_END[1:]) + r")?>>>")
_BAD_REST = re.compile(r"[ \t]*[-+*/%&|^@<>]|[(\[]|\.\w")  # a cut before these splits an expression


def _parse(src: str, mode: str = "eval"):
    """ast.parse, quiet and never raising: an expression's node (mode "eval"), a module, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(src.strip() if mode == "eval" else src, mode=mode)
        return tree.body if mode == "eval" else tree
    except Exception:  # noqa: BLE001 - SyntaxError, ValueError (NUL bytes), RecursionError, ...
        return None


def _is_call(node, name: str) -> bool:
    func = getattr(node, "func", None)
    return isinstance(node, ast.Call) and name in (getattr(func, "id", None), getattr(func, "attr", None))


def _has_call(node: ast.AST, name: str) -> bool:
    return any(_is_call(n, name) for n in ast.walk(node))


def _free(node: ast.AST) -> set[str]:
    names = [(getattr(n, "id", None) or n.arg, isinstance(getattr(n, "ctx", None), ast.Load))
             for n in ast.walk(node) if isinstance(n, (ast.Name, ast.arg))]
    return {name for name, load in names if load} - {name for name, load in names if not load}


class _Names(ast.NodeTransformer):
    """true/false/null as constants; names bound by earlier doctest lines replaced by their values."""

    def __init__(self, env: dict | None = None):
        self.env = env or {}

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.env:
            return copy.deepcopy(self.env[node.id])
        return ast.Constant(_LITERALS[node.id.lower()]) if node.id.lower() in _LITERALS else node


def _longest(text: str, accept, cap: int = 600, tries: int = 40):
    """The longest prefix of text's first line (more lines while brackets are open), cut at a space or
    punctuation, that parses and that accept() keeps: (node, end offset in text), or (None, 0)."""
    lead = len(text) - len(text.lstrip())
    span, *rest = text[lead:lead + cap].split("\n")
    for line in rest:
        if sum(map(span.count, "([{")) <= sum(map(span.count, ")]}")):
            break
        span += "\n" + line
    last = None
    for i in range(len(span), 0, -1):
        if i < len(span) and span[i] not in " \t\n,.;`" or _BAD_REST.match(span, i):
            continue
        cand = span[:i].rstrip()
        if cand == last or not cand or cand[-1] in ",.;":
            continue
        if (tries := tries - 1) < 0:
            break
        last, node = cand, _parse(cand)
        if node is not None and (node := accept(node)) is not None:
            return node, lead + i
    return None, 0


def _split(node, entry: str):
    """(call side, expected side) of `a == b` (or `a is b`) where one side calls entry."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.Is)):
        a, b = node.left, node.comparators[0]
        return (a, b) if _has_call(a, entry) else (b, a) if _has_call(b, entry) else None
    return None


def _example(call, expected, style: str) -> Example:
    return Example(ast.unparse(call), None if expected is None else ast.unparse(expected), style)


def _module(text: str, entry: str) -> ast.Module:
    """The prompt's syntax tree; for a docstring snippet, just its `def entry(...)` line, if any."""
    if tree := _parse(text, "exec"):
        return tree
    m = re.search(rf"def\s+{re.escape(entry)}\s*\([^)]*(?:\)[^:)]*)*\)\s*(?:->[^:\n]*)?:", text[:5000])
    return m and _parse(m[0] + " pass", "exec") or ast.Module([], [])


class _Parser:
    def __init__(self, text: str, entry: str):
        self.entry, self.params, self.arity, defined = entry, (), None, set()
        for node in ast.walk(_module(text, entry)):
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
        node = _Names().visit(node)
        return None if _has_call(node, self.entry) or not _free(node) <= self.names else node

    def ok_call(self, node, quote_words: bool = False):
        node = _Names().visit(node)
        calls = [n for n in ast.walk(node) if _is_call(n, self.entry)]
        for call in calls if quote_words else ():
            for i, arg in enumerate(call.args):
                if isinstance(arg, ast.Name) and arg.id not in self.names:
                    if arg.id in self.params:
                        return None  # `f(n) = ...` is notation, not an example
                    call.args[i] = ast.Constant(arg.id)
        if not calls or not _free(node) <= self.names | {self.entry}:
            return None
        n = len(calls[0].args) + len(calls[0].keywords)
        starred = any(isinstance(a, ast.Starred) for a in calls[0].args)
        return node if starred or not self.arity or self.arity[0] <= n <= self.arity[1] else None

    def run(self, text: str, limit: int) -> list[Example]:
        found, masked = self.doctest(text)
        found += list(self.inline(masked)) + list(self.prose(masked))
        if not any(e.expected for _, e in found):
            for name in dict.fromkeys(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", masked)):
                if name not in self.names and not keyword.iskeyword(name):
                    found += list(self.inline(masked, name))
        seen: set = set()  # keep the first of identical (call, expected) pairs, in order of appearance
        return [e for _, e in sorted(found, key=lambda pe: pe[0])
                if (e.call, e.expected) not in seen and not seen.add((e.call, e.expected))][:limit]

    def doctest(self, text: str):
        lines, found, env, i = text.split("\n"), [], {}, 0
        offsets, masked = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0)), list(lines)
        while i < len(lines):
            if not (ps1 := _PS1.match(lines[i])):
                i += 1
                continue
            src, j, outs = lines[i][ps1.end():].strip(), i + 1, []
            while j < len(lines) and re.match(r"\s*\.\.\.( |$)", lines[j]):
                src, j = src + "\n" + lines[j].lstrip()[4:], j + 1
            while j + len(outs) < len(lines) and (t := lines[j + len(outs)].strip()) and not t.startswith(_END):
                outs.append(t[:-3].rstrip() if t.endswith(_END[1:]) else t)
                if t.endswith(_END[1:]):
                    break
            n = _longest(out := "\n".join(outs), self.ok_expected)[1]
            outs = outs[:out[:n].count("\n") + 1] if n else outs  # the value may end before prose
            masked[i:j + len(outs)] = [" " * len(line) for line in lines[i:j + len(outs)]]
            found += [(offsets[i], ex)] if (ex := self.doctest_example(src, outs, env)) else []
            i = j + len(outs)
        return found, "\n".join(masked)

    def doctest_example(self, src: str, outs: list[str], env: dict) -> Example | None:
        out = "\n".join(outs)
        body = getattr(_parse(src, "exec"), "body", None)
        stmt = _Names(env).visit(body[0]) if body else None
        if isinstance(stmt, ast.Assign) and [type(t) for t in stmt.targets] == [ast.Name]:
            env[stmt.targets[0].id] = self.ok_expected(stmt.value) or ast.Name("_unknown_", ast.Load())
            return None
        if not outs and (stmt is None or isinstance(getattr(stmt, "value", None), ast.Subscript)):
            return next((ex for _, ex in self.inline(src, bare=True, style="doctest")), None)  # `f(x) y`
        node = stmt.value if isinstance(stmt, ast.Expr) else None
        if printed := _is_call(node, "print") and len(node.args) == 1 and not node.keywords:
            node = node.args[0]
        pair = _split(node, self.entry) if out in ("", "True") else None
        if pair and (call := self.ok_call(pair[0])) and (exp := self.ok_expected(pair[1])) is not None:
            return _example(call, exp, "doctest")
        if node is None or out.startswith("Traceback") or (call := self.ok_call(node)) is None:
            return None
        if printed:
            return Example(f"str({ast.unparse(call)})", repr(out), "doctest")
        return _example(call, _longest(out, self.ok_expected)[0] if outs else ast.Constant(None), "doctest")

    def inline(self, text: str, name: str | None = None, bare: bool = False, style: str | None = None):
        name = name or self.entry
        for m in itertools.islice(re.finditer(rf"(?<![\w.])(?<!def ){re.escape(name)}\s*\(", text), 300):
            call, end = self.call_at(text, m.start(), name)
            sep = _SEP.match(text, end) if call is not None else None
            exp = _longest(text[sep.end() if sep else end:], self.ok_expected)[0] if sep or bare else None
            if call is not None and exp is not None:
                yield m.start(), _example(call, exp, style or ("arrow" if sep and sep["arrow"] else "equals"))

    def call_at(self, text: str, start: int, name: str):
        j = start
        for _ in range(100):  # the call ends at the first ")" where it parses
            if (j := text.find(")", j + 1, start + 3000)) < 0:
                break
            if _is_call(node := _parse(text[start:j + 1]), name):
                node.func = ast.Name(self.entry, ast.Load())  # a stale name becomes the entry point
                return self.ok_call(node, quote_words=True), j + 1
        return None, 0

    def prose(self, text: str):
        params = "|".join(map(re.escape, self.params))
        pattern = _IN + (rf"|^[ \t]*(?=(?:{params})[ \t]*=(?!=))" if params else "")
        marks = sorted([(m.start(), m.end(), 0) for m in re.finditer(pattern, text, re.IGNORECASE | re.MULTILINE)]
                       + [(m.start(), m.end(), 1) for m in _OUT.finditer(text)])
        start = None
        for pos, end, is_out in marks:
            if is_out and start is not None and pos - start[1] < 600:
                args, exp = self.args(text[start[1]:pos]), _longest(text[end:], self.ok_expected)[0]
                call = self.ok_call(ast.Call(ast.Name(self.entry, ast.Load()), args or [], []))
                if args is not None and exp is not None and call is not None:
                    yield start[0], _example(call, exp, "prose")
            start = None if is_out else (pos, end)

    def args(self, part: str) -> list | None:
        names, args, pos = [], [], 0
        while (m := _ASSIGN.match(part, pos)) and (value := _longest(part[m.end():], self.ok_expected))[0]:
            names, args, pos = names + [m[1]], args + [value[0]], m.end() + value[1]
        if not args:
            node = _longest(part, self.ok_expected)[0]
            many = isinstance(node, ast.Tuple) and len(node.elts) == len(self.params) > 1
            return None if node is None else node.elts if many else [node]
        return [dict(zip(names, args))[p] for p in self.params] if sorted(names) == sorted(self.params) else args


def parse_examples(text: str, entry_point: str, limit: int = 20) -> list[Example]:
    """Examples from a HumanEval-style prompt, in order of appearance, deduplicated; [] on any failure."""
    try:
        text = text.translate(_UNICODE)[:50000]
        return _Parser(text, entry_point).run(text, limit) if entry_point.isidentifier() else []
    except Exception:  # noqa: BLE001 - the contract: any text, never an exception
        return []


def _from_assert(test: ast.expr, entry: str) -> Example | None:
    func = getattr(test, "func", None)
    if getattr(func, "attr", getattr(func, "id", None)) in ("isclose", "allclose") and len(test.args) >= 2:
        pair = _split(ast.Compare(test.args[0], [ast.Eq()], [test.args[1]]), entry)
    else:
        pair = _split(test, entry)
    if pair:
        return Example(ast.unparse(pair[0]), ast.unparse(pair[1]), "assert")
    if not _has_call(test, entry):
        return None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return Example(ast.unparse(test.operand), "False", "assert")
    return Example(ast.unparse(test), "True", "assert")


def examples_from_asserts(asserts: list[str], entry_point: str) -> list[Example]:
    """Examples from MBPP-style `assert` lines: the side (or isclose argument) calling entry_point is the call."""
    out: list[Example] = []
    for line in asserts:
        tests = [n.test for n in ast.walk(_parse(str(line).strip(), "exec") or ast.Module([], []))
                 if isinstance(n, ast.Assert)]
        out += [ex for ex in (_from_assert(t, entry_point) for t in tests) if ex and ex not in out]
    return out
