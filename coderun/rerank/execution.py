"""`exec`: run every candidate on the problem's public example inputs, in the sandbox pool, and prefer the
candidates that reproduce the examples and that agree with the most other candidates (CodeT's dual
agreement, MBR-exec): a behaviour many independent samples share is more likely the intended one.

Each candidate runs once (identical code once per problem) in a probe program: its own code, then a probe
part that calls it on every example input, each call under a CPU-time budget, and prints one line per
input -- whether the output equals the example's, and a hash of the output's repr -- prefixed with a
per-run nonce, so the candidate's own prints are not read as probe lines. Output is the only thing
read from a probe, so a hostile candidate can at worst spoil its own lines.

Examples alone rarely tell candidates apart (a wrong `return 0.5` reproduces `f(3.5) == 0.5`), so the
probes also include inputs mutated from the examples' (type-aware, shape-preserving: a list reversed or
doubled, a number's magnitude grown with its sign kept; EvalPlus mutates inputs the same way), which
have no expected value and only measure agreement.

Score of a candidate within a set: examples matched + its mean agreement with the set (the share of
probe outputs it shares with each candidate, itself included) scaled into [0, 1): matching the examples
comes first, agreement (MBR-exec) breaks ties; candidates with the same outputs everywhere tie.
"""

from __future__ import annotations

import ast
import secrets

import numpy as np

from coderun.datasets.base import Program
from coderun.execute.limits import TaskLimits
from coderun.execute.service import ExecutionService
from coderun.records import Status
from coderun.rerank.base import Reranker, fingerprint, register
from coderun.rerank.examples import Example, examples_from_asserts, parse_examples

PROBE_VERSION = 2
MAX_EXAMPLES = 20
MAX_MUTANTS = 10
MAX_JOB_CPU = 30.0

# Silences the candidate's own prints (they would crowd the capped output); the probe writes to the saved
# original stream. Prepended to the candidate's code on its own line, so the candidate is unchanged.
_QUIET = "import sys as _cr_sys, io as _cr_io; _cr_sys.stdout = _cr_io.StringIO()\n"

_PROBE = '''
import contextlib as _cl, hashlib as _hl, io as _io, math as _m, signal as _sg, sys as _sy
_OUT = _sy.__stdout__
def _cut(*_a):
    raise TimeoutError("probe budget")
_sg.signal(_sg.SIGVTALRM, _cut)
def _norm(v, d=0):
    if isinstance(v, float):
        return round(v, 6) if _m.isfinite(v) else v
    if type(v) in (list, tuple) and d < 4:
        return type(v)(_norm(x, d + 1) for x in v)
    return v
def _same(a, b):
    try:
        if a == b:
            return True
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return _m.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            return all(_same(x, y) for x, y in zip(a, b))
    except Exception:
        pass
    return False
for _i, (_call, _exp) in enumerate(_PROBES):
    _r, _ok = "!budget", "-" if _exp is None else "0"
    try:
        _sg.setitimer(_sg.ITIMER_VIRTUAL, _BUDGET)
        with _cl.redirect_stdout(_io.StringIO()):
            _v = eval(_call)
            _r = repr(_norm(_v))
            if _exp is not None:
                _ok = "1" if _same(_v, eval(_exp)) else "0"
    except BaseException as _e:
        _r = "!" + type(_e).__name__
    finally:
        _sg.setitimer(_sg.ITIMER_VIRTUAL, 0)
    print(_NONCE, _i, _ok, _hl.sha256(_r.encode("utf-8", "replace")).hexdigest()[:16], file=_OUT, flush=True)
'''


def problem_examples(public, entry: str | None) -> list[Example]:
    """The example inputs (and outputs) a problem shows (its dataset module's `public_examples`), then
    inputs mutated from them."""
    entry = entry or ""
    found = examples_from_asserts(list(public.asserts), entry) if public.asserts else []
    if public.text and entry:
        found += parse_examples(public.text, entry)
    unique = list({(e.call, e.expected): e for e in found}.values())[:MAX_EXAMPLES]
    return unique + mutants(unique, entry)


def mutants(examples: list[Example], entry: str, limit: int = MAX_MUTANTS) -> list[Example]:
    """New calls from the examples' literal arguments, one argument changed at a time (no expected value)."""
    seen = {e.call for e in examples}
    out: list[Example] = []
    for round_ in range(2):
        for e in examples:
            call = _literal_call(e.call, entry)
            if call is None:
                continue
            for i, arg in enumerate(call):
                variants = _variants(arg)
                if round_ < len(variants):
                    args = [*call[:i], variants[round_], *call[i + 1:]]
                    text = f"{entry}({', '.join(repr(a) for a in args)})"
                    if text not in seen and len(text) < 2000:
                        seen.add(text)
                        out.append(Example(text, None, "mutant"))
                if len(out) >= limit:
                    return out
    return out


def _literal_call(call: str, entry: str) -> list | None:
    try:
        node = ast.parse(call, mode="eval").body
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry \
                and not node.keywords:
            return [ast.literal_eval(a) for a in node.args]
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        pass
    return None


def _variants(value) -> list:
    """Shape-preserving changes of one literal: what a correct program should handle like the original."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value * 2 + (1 if value >= 0 else -1), value + (3 if value >= 0 else -3)]
    if isinstance(value, float):
        return [value * 2 + (1.25 if value >= 0 else -1.25), value + (0.75 if value >= 0 else -0.75)]
    if isinstance(value, str) and value:
        return [value[::-1], value + value[0]]
    if isinstance(value, (list, tuple)) and value:
        return [type(value)(reversed(value)), type(value)(list(value) + list(value[:1]))]
    return []


def probe_program(code: str, examples: list[Example], setup: str, budget: float, nonce: str) -> Program:
    probes = [(e.call, e.expected) for e in examples]
    test = (setup + "\n" if setup else "") + f"_NONCE = {nonce!r}\n_BUDGET = {budget!r}\n_PROBES = {probes!r}\n"
    return Program(_QUIET + code, test + _PROBE)


def read_probe_output(output: str, nonce: str, count: int) -> dict:
    """{"ok": "10-" (1 match, 0 mismatch, - no expected value, ? no line), "sig": [hash per probe]}."""
    ok, sig = ["?"] * count, ["missing"] * count
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == nonce and parts[1].isdigit() and int(parts[1]) < count:
            i = int(parts[1])
            ok[i], sig[i] = parts[2][:1], parts[3][:16]
    return {"ok": "".join(ok), "sig": sig}


@register("exec")
class ExecReranker(Reranker):
    def information(self, bench) -> dict:
        probe = bench.public_examples(bench.problems[0]) if len(bench) else None
        return {"uses": "candidates' outputs on the problem's public examples (sandbox), agreement between "
                        "candidates", "leaks_hidden_tests": bool(probe and probe.leaks_hidden_tests),
                "note": probe.note if probe else ""}

    def features(self, ctx, candidates):
        nonce = secrets.token_hex(8)
        todo, out, plans = {}, {}, {}
        for task_id, cands in candidates.items():
            problem = ctx.bench.get(task_id)
            public = ctx.bench.public_examples(problem)
            examples = problem_examples(public, problem.entry_point)
            cpu = float(ctx.cpu_limits.get(task_id, 1.0))
            settings = fingerprint({"v": PROBE_VERSION, "probes": [(e.call, e.expected) for e in examples],
                                    "budget": cpu, "memory": ctx.memory})
            plans[task_id] = (examples, settings)
            ctx.stats["exec_examples"] = ctx.stats.get("exec_examples", 0) + len(examples)
            ctx.stats["exec_problems_without_examples"] = (ctx.stats.get("exec_problems_without_examples", 0)
                                                           + (not examples))
            for c in cands:
                item = c.code_digest
                if ctx.store.get("exec", settings, item) is None and (task_id, item) not in todo:
                    program = probe_program(c.code, examples, public.setup, cpu, nonce)
                    todo[(task_id, item)] = (program, TaskLimits.fixed(min(MAX_JOB_CPU, cpu * (len(examples) + 1))))
        if todo:
            self._run(ctx, todo, plans, nonce)
        for task_id, cands in candidates.items():
            examples, settings = plans[task_id]
            for c in cands:
                out[c.key] = ctx.store.get("exec", settings, c.code_digest)
        return out

    def _run(self, ctx, todo, plans, nonce) -> None:
        service = ExecutionService(ctx.pool(), ctx.memory)
        work = ((key, program, limits) for key, (program, limits) in todo.items())
        for done, ((task_id, item), verdict) in enumerate(service.run(work), 1):
            ctx.progress("probing", done, len(todo))
            examples, settings = plans[task_id]
            if verdict.status == Status.ERROR:
                continue  # no answer from the harness: measured again next time, never stored
            feature = read_probe_output(verdict.output, nonce, len(examples))
            feature["status"] = verdict.status
            ctx.store.put("exec", settings, item, feature)
            ctx.stats["exec_runs"] = ctx.stats.get("exec_runs", 0) + 1

    def scores(self, problem, candidates, features):
        return exec_scores(features)


def exec_scores(features: list[dict | None]) -> list[float]:
    """Examples matched, then mean agreement with the candidates at hand, scaled into [0, 1)."""
    matched = [((f or {}).get("ok") or "").count("1") for f in features]
    agreement = agreement_matrix(features).mean(axis=1)
    n = len(features)
    return [m + a * n / (n + 1) for m, a in zip(matched, agreement)]


def agreement_matrix(features: list[dict | None]) -> np.ndarray:
    """Share of probes on which two candidates gave the same output; a missing output agrees with none."""
    sigs = [(f or {}).get("sig") or [] for f in features]
    width = max((len(s) for s in sigs), default=0)
    n = len(features)
    if width == 0:
        return np.ones((n, n))  # nothing measured: every candidate alike
    codes: dict[str, int] = {}
    matrix = np.empty((n, width), dtype=np.int64)
    for i, sig in enumerate(sigs):
        for j in range(width):
            value = sig[j] if j < len(sig) else "missing"
            matrix[i, j] = -(i * width + j) - 1 if value == "missing" else codes.setdefault(value, len(codes))
    return (matrix[:, None, :] == matrix[None, :, :]).mean(axis=2)


def signature(feature: dict | None) -> tuple | None:
    """Outputs on every probe; None (a cluster of its own) when any probe line is missing."""
    if not feature:
        return None
    sig = feature.get("sig") or []
    return None if "missing" in sig else tuple(sig)
