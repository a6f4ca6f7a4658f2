"""`judge`: an LLM reads the problem and one anonymised candidate and says whether it is correct.

The score is P(Yes) read from the verdict token's logprobs (Yes-like mass over Yes- plus No-like mass
among the top alternatives), not parsed text: a probability ranks candidates and can be calibrated. A
server that returns no logprobs falls back to the parsed answer (1, 0, or 0.5 when neither), and the
summary says so. The judge sees the problem statement and the candidate's code with comments and
docstrings removed (a comment can claim "passes all tests"); never the hidden tests, never the sample's
index, logprob or model.

Optional pairwise tie-break (--judge-pairwise K): the top K candidates by P(Yes) are compared in pairs,
each pair asked in both orders; a preference that flips with the order is a tie (position bias).
"""

from __future__ import annotations

import ast
import io
import math
import re
import time
import tokenize
from itertools import combinations

from coderun.rerank.base import Reranker, fingerprint, register

TEMPLATE_VERSION = 1
BATCH = 256

_POINTWISE = """Below is a programming problem and a candidate solution. Decide whether the solution is \
correct: it must return the right result for every valid input.

### Problem
{problem}

### Candidate solution
```python
{code}
```

### Question
Is the candidate solution correct? Answer Yes or No."""

_PAIRWISE = """Below is a programming problem and two candidate solutions, A and B. Decide which one is \
correct: it must return the right result for every valid input.

### Problem
{problem}

### Solution A
```python
{a}
```

### Solution B
```python
{b}
```

### Question
Which solution is correct? Answer A or B."""


def anonymise(code: str) -> str:
    """The code without comments or docstrings (and, when it parses, in one canonical layout)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _strip_comments(code)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    try:
        return ast.unparse(tree)
    except (ValueError, RecursionError):
        return _strip_comments(code)


def _strip_comments(code: str) -> str:
    """Comments removed as far as the tokenizer gets (code that does not parse still tokenizes mostly)."""
    lines = code.splitlines(keepends=True)
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col].rstrip() + "\n"
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return "".join(lines)


def pointwise_prompt(problem: str, code: str, chat: bool) -> dict:
    text = _POINTWISE.format(problem=problem.strip(), code=anonymise(code).strip())
    return _as_prompt(text, chat)


def pairwise_prompt(problem: str, a: str, b: str, chat: bool) -> dict:
    text = _PAIRWISE.format(problem=problem.strip(), a=anonymise(a).strip(), b=anonymise(b).strip())
    return _as_prompt(text, chat)


def _as_prompt(text: str, chat: bool) -> dict:
    if chat:
        return {"messages": [{"role": "user", "content": text + "\nAnswer with one word."}]}
    return {"text": text + "\n\n### Answer:"}


def _word(token: str) -> str:
    return re.sub(r"[^a-z]", "", token.lower())


def _side(word: str, yes: str, no: str) -> str | None:
    """Which answer a first token starts: a tokenizer may split "Yes" into "Y" + "es"."""
    if not word:
        return None
    if yes.startswith(word) and not no.startswith(word):
        return yes
    if no.startswith(word) and not yes.startswith(word):
        return no
    return None


def choice_probability(answer: dict, yes: str, no: str) -> tuple[float, bool]:
    """(P(yes) against no, read from logprobs?) of a judge answer {"text", "top": {token: logprob}}."""
    top = answer.get("top")
    if top:
        mass = {yes: 0.0, no: 0.0}
        for token, lp in top.items():
            side = _side(_word(token), yes, no)
            if side and lp is not None and math.isfinite(lp):
                mass[side] += math.exp(lp)
        if mass[yes] + mass[no] > 0:
            return mass[yes] / (mass[yes] + mass[no]), True
    words = answer.get("text", "").split()
    side = _side(_word(words[0]), yes, no) if words else None
    return (1.0 if side == yes else 0.0 if side == no else 0.5), False


@register("judge")
class JudgeReranker(Reranker):
    def information(self, bench) -> dict:
        return {"uses": "an LLM judge's P(correct) from the problem statement and the candidate's code",
                "leaks_hidden_tests": False, "judge_model": self.options.judge_model}

    def settings(self) -> str:
        return fingerprint({"v": TEMPLATE_VERSION, **self.options.judge_identity()})

    def features(self, ctx, candidates):
        chat, settings = self.options.judge_chat, self.settings()
        prompts, out = {}, {}
        for task_id, cands in candidates.items():
            statement = ctx.bench.get(task_id).prompt
            for c in cands:
                prompts[c.key] = pointwise_prompt(statement, c.code, chat)
        ask(ctx, "judge", settings, prompts.values())
        for key, prompt in prompts.items():
            p, from_logprobs = ctx.store.get("judge", settings, _prompt_id(prompt)) or (0.5, False)
            # what the judge saw: candidates that differ only in comments are one program to it
            out[key] = {"p_yes": p, "from_logprobs": from_logprobs, "program": _prompt_id(prompt)}
        if any(not f["from_logprobs"] for f in out.values()):
            ctx.notes.append("the judge returned no logprobs for some answers: their P(Yes) is the parsed "
                             "answer (1, 0, or 0.5 when neither)")
        if self.options.judge_pairwise > 1:
            self._pairwise(ctx, candidates, out, settings)
        return out

    def _pairwise(self, ctx, candidates, out, settings) -> None:
        k, chat = self.options.judge_pairwise, self.options.judge_chat
        plans = {}
        for task_id, cands in candidates.items():
            statement = ctx.bench.get(task_id).prompt
            ranked = sorted(cands, key=lambda c: -out[c.key]["p_yes"])
            distinct: dict[str, object] = {}
            for c in ranked:  # the likeliest candidate of each program, in order
                distinct.setdefault(out[c.key]["program"], c)
            for (da, a), (db, b) in combinations(list(distinct.items())[:k], 2):
                plans[(da, db)] = (pairwise_prompt(statement, a.code, b.code, chat),
                                   pairwise_prompt(statement, b.code, a.code, chat))
        ask(ctx, "pair", settings, [p for pair in plans.values() for p in pair])
        by_program: dict[str, list] = {}
        for key, f in out.items():
            f["pairs"] = {}
            by_program.setdefault(f["program"], []).append(key)
        for (da, db), (ab, ba) in plans.items():
            first = (ctx.store.get("pair", settings, _prompt_id(ab)) or (0.5,))[0]  # P(A) with a as A
            second = (ctx.store.get("pair", settings, _prompt_id(ba)) or (0.5,))[0]  # P(A) with b as A
            outcome = pair_outcome(first, second)
            for key in by_program[da]:
                out[key]["pairs"][db] = outcome
            for key in by_program[db]:
                out[key]["pairs"][da] = -outcome

    def scores(self, problem, candidates, features):
        base = [f["p_yes"] if f and f.get("p_yes") is not None else float("nan") for f in features]
        if self.options.judge_pairwise <= 1:
            return base
        return pairwise_scores(candidates, features, base, self.options.judge_pairwise)

    def calibration(self, features):
        return features.get("p_yes") if features else None


def pair_outcome(first: float, second: float) -> int:
    """+1: a beats b, -1: b beats a, 0: a tie. `first` is P(A) with a shown as A, `second` with b shown as
    A; a preference must survive the swap, else it is position bias and counts as a tie."""
    if first > 0.5 and second < 0.5:
        return 1
    if first < 0.5 and second > 0.5:
        return -1
    return 0


def pairwise_scores(candidates, features, base: list[float], k: int) -> list[float]:
    """The top k distinct programs (as the judge saw them) by P(Yes) rank above the rest, by their pairwise
    wins among themselves (Copeland), then by P(Yes)."""
    programs = [(f or {}).get("program", c.code_digest) for c, f in zip(candidates, features)]
    best: dict[str, float] = {}
    for program, p in zip(programs, base):
        best[program] = max(best.get(program, -1.0), p if not math.isnan(p) else -1.0)
    top = set(sorted(best, key=lambda d: -best[d])[:k])
    scores = list(base)
    for i, program in enumerate(programs):
        if program in top:
            pairs = (features[i] or {}).get("pairs", {})
            wins = sum(v for d, v in pairs.items() if d in top)
            scores[i] = 2 + wins + 1e-6 * (base[i] if not math.isnan(base[i]) else 0)
    return scores


def _prompt_id(prompt: dict) -> str:
    return fingerprint(prompt)


def ask(ctx, kind: str, settings: str, prompts) -> None:
    """Ask the judge every prompt it has not answered yet (each distinct prompt once), in batches; keep
    each answer in the store as it comes, so a killed run resumes where it stopped."""
    todo = {}
    for prompt in prompts:
        pid = _prompt_id(prompt)
        if ctx.store.get(kind, settings, pid) is None:
            todo[pid] = prompt
    if not todo:
        return
    judge = ctx.judge()
    yes, no = ("yes", "no") if kind == "judge" else ("a", "b")
    items = list(todo.items())
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        began = time.perf_counter()
        answers = judge.ask([p for _, p in batch])
        ctx.stats["judge_seconds"] = round(ctx.stats.get("judge_seconds", 0.0) + time.perf_counter() - began, 3)
        ctx.stats["judge_calls"] = ctx.stats.get("judge_calls", 0) + len(batch)
        ctx.progress("judging", start + len(batch), len(items))
        for (pid, _), answer in zip(batch, answers):
            if answer.get("error"):  # not stored: asked again next time
                ctx.stats["judge_errors"] = ctx.stats.get("judge_errors", 0) + 1
                ctx.notes.append(f"the judge could not answer some prompts ({answer['error']}); they score 0.5")
                continue
            ctx.store.put(kind, settings, pid, list(choice_probability(answer, yes, no)))
