"""Prompts for HumanEval+ and MBPP+ as EvalPlus makes them (evalplus 0.3.1, codegen.py and provider/), so that
scores compare with EvalPlus's published ones.

- Base models ("raw"): the dataset's prompt as it is (HumanEval+: the signature and docstring; MBPP+: a
  docstring with the task and one assert); the completion is cut at EvalPlus's stop sequences and appended
  to the prompt.
- Chat models ("chat"): EvalPlus's instruction (its prefix, then the prompt in a fence) and the assistant's
  reply pre-filled with its response prefix and an opening ```python fence; generation stops at the closing
  fence, and the code is sanitised as EvalPlus does: the longest syntactically valid stretch, then only the
  imports and the definitions the entry point needs.
"""

from __future__ import annotations

import ast
import warnings
from typing import Any

from coderun.prompts import ChatFormat, Extracted, Prompt, PromptFormat, register, truncate_at_stops

INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a markdown "
                      "code block:")
RESPONSE_PREFIX = ("Below is a Python script with a self-contained function that solves the problem and passes "
                   "corresponding tests:")
EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
EXTRA_EOS = {"humaneval-plus": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
             "mbpp-plus": ('\n"""', "\nassert")}


class EvalPlusRaw(PromptFormat):
    style = "raw"

    def text(self, problem) -> str:
        return problem.prompt

    def extract(self, problem, raw: str) -> Extracted:
        return Extracted(truncate_at_stops(raw, self.stop).replace("\t", "    "))


@register
class HumanEvalPlusRaw(EvalPlusRaw):
    family, stop = "humaneval-plus", EOS + EXTRA_EOS["humaneval-plus"]


@register
class MBPPPlusRaw(EvalPlusRaw):
    family, stop = "mbpp-plus", EOS + EXTRA_EOS["mbpp-plus"]


class EvalPlusChat(ChatFormat):
    stop = ("\n```\n",)

    def user_message(self, problem) -> str:
        return f"{INSTRUCTION_PREFIX}\n```\n{problem.prompt.strip()}\n```\n"

    def build(self, problem) -> Prompt:
        o = self.options
        messages = [{"role": "system", "content": o.system_prompt}] if o.system_prompt else []
        messages.append({"role": "user", "content": self.user_message(problem)})
        messages.append({"role": "assistant", "content": f"{RESPONSE_PREFIX}\n```python\n{o.response_prefix}"})
        return Prompt(problem.task_id, messages=messages, stop=self.stop, chat_template_kwargs=o.chat_template_kwargs,
                      continue_final_message=True)

    def extract(self, problem, raw: str) -> Extracted:
        code = truncate_at_stops(self.options.response_prefix + raw, ("```",)).replace("\t", "    ")
        program = sanitize(code, problem.entry_point)
        return Extracted(program, program)  # a whole program (EvalPlus's `solution`)

    def record(self) -> dict[str, Any]:
        return {**super().record(), "instruction_prefix": INSTRUCTION_PREFIX, "response_prefix_evalplus": RESPONSE_PREFIX}


@register
class HumanEvalPlusChat(EvalPlusChat):
    family = "humaneval-plus"


@register
class MBPPPlusChat(EvalPlusChat):
    family = "mbpp-plus"


# ---- sanitising (EvalPlus's evalplus/sanitize.py, with ast instead of tree-sitter) -------------------------

def sanitize(code: str, entry_point: str | None = None) -> str:
    """The imports and the top-level definitions the entry point reaches, from the longest syntactically
    valid stretch of `code`; that stretch itself when nothing is left."""
    block = longest_valid_block(code)
    kept = _definitions(block, entry_point).strip()
    return kept or block


def longest_valid_block(text: str) -> str:
    """The run of lines with the most non-blank lines that parses (EvalPlus's code_extract)."""
    lines = text.split("\n")
    best, best_len = (0, -1), 0
    for i in range(len(lines)):
        for j in range(len(lines) - 1, i - 1, -1):
            length = sum(1 for line in lines[i:j + 1] if line.strip())
            if length <= best_len:
                break  # shorter windows from here on cannot beat the best
            if _parses("\n".join(lines[i:j + 1])):
                best, best_len = (i, j), length
                break
    return "\n".join(lines[best[0]:best[1] + 1]) if best_len > 0 else ""


def _parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def _definitions(code: str, entry_point: str | None) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    lines = code.split("\n")
    imports, definitions, seen = [], [], set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
            continue
        name = _defined_name(node)
        if name is None or name in seen:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _returns(node):
            continue  # EvalPlus keeps only functions with a return statement
        seen.add(name)
        definitions.append((name, node))
    if entry_point:
        reachable = _reachable(entry_point, {name: _names(node) for name, node in definitions})
        definitions = [(n, node) for n, node in definitions if n in reachable]
    return "\n".join(_source(lines, node) for node in imports + [node for _, node in definitions])


def _defined_name(node) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def _returns(node) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _reachable(entry: str, deps: dict[str, set[str]]) -> set[str]:
    seen, queue = {entry}, [entry]
    while queue:
        for name in deps.get(queue.pop(), ()):
            if name not in seen:
                seen.add(name)
                queue.append(name)
    return seen


def _source(lines: list[str], node) -> str:
    start = node.lineno - 1
    if getattr(node, "decorator_list", None):
        start = min(d.lineno for d in node.decorator_list) - 1
    return "\n".join(lines[start:node.end_lineno])
