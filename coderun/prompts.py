"""Prompt builders and post-processing: what a model is given, and how its answer becomes a program.

A format turns a problem into a prompt (text for completion models, messages with `--chat`), names the
stop sequences, and turns the model's raw answer into the record's `completion` (and, when the answer is a
whole program for a benchmark that appends completions to its prompt, a `solution`). Formats are registered
by (dataset family, style); `PROMPT_VERSION` goes into config.json and changes whenever any format's text
or post-processing changes, so runs made with different prompts are never mixed.

Formats:
- humaneval/raw: the HumanEval prompt as is; the completion is the body, cut at the paper's stop sequences.
- mbpp/3shot: the original MBPP format (Austin et al. 2021): "You are an expert Python programmer, and here
  is your task: ... [BEGIN] code [DONE]", with tasks 2, 3, 4 of the prompt split as shots; stop at [DONE].
- mbpp/0shot: a docstring with the description and the first test (as bigcode-evaluation-harness does).
- chat (either dataset): an instruction to answer in a ```python block; the code is extracted from the
  reply (thinking sections dropped, fenced blocks, or code among prose; a whole function or a body).
"""

from __future__ import annotations

import ast
import re
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from coderun.datasets.humaneval import STOP_SEQUENCES as HUMANEVAL_STOP
from coderun.errors import InputError

PROMPT_VERSION = 1
MBPP_SHOTS = ("2", "3", "4")  # task ids of MBPP's prompt split used as the 3 shots
MBPP_0SHOT_STOP = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```")


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are made: a style of the dataset family, and the chat options."""

    style: str | None = None  # None: the family's default (humaneval: raw, mbpp: 3shot)
    chat: bool = False
    system_prompt: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    response_prefix: str = ""

    def check(self) -> None:
        if not self.chat and (self.system_prompt or self.chat_template_kwargs or self.response_prefix):
            raise InputError("--system-prompt, --chat-template-kwargs and --response-prefix need --chat")


@dataclass
class Prompt:
    """One problem's prompt: `text` (completion models) or `messages` (chat); `stop` for the generator."""

    task_id: str
    text: str | None = None
    messages: list[dict[str, str]] | None = None
    stop: tuple[str, ...] = ()
    chat_template_kwargs: dict[str, Any] | None = None
    continue_final_message: bool = False  # the last message is the assistant's prefix, to be continued


@dataclass(frozen=True)
class Extracted:
    """The program parts of one answer: `completion` always; `solution` when it is a whole program."""

    completion: str
    solution: str | None = None


class PromptFormat(ABC):
    """One way of prompting one dataset family. Subclasses set `family`, `style` and `text` (chat formats:
    `user_message`), and may change `extract`."""

    family: ClassVar[str]
    style: ClassVar[str]
    stop: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: PromptOptions):
        self.options = options
        self.shots = self.load_shots()

    def load_shots(self) -> list:
        """The few-shot examples this format shows before each problem (none by default)."""
        return []

    @abstractmethod
    def text(self, problem) -> str:
        """The completion prompt (chat formats build messages instead)."""

    def extract(self, problem, raw: str) -> Extracted:
        return Extracted(truncate_at_stops(raw, self.stop))

    def record(self) -> dict[str, Any]:
        o = self.options
        return {"version": PROMPT_VERSION, "family": self.family, "style": self.style, "chat": o.chat,
                "system_prompt": o.system_prompt, "chat_template_kwargs": o.chat_template_kwargs,
                "response_prefix": o.response_prefix}

    def build(self, problem) -> Prompt:
        return Prompt(problem.task_id, text=self.text(problem), stop=self.stop)


_FORMATS: dict[tuple[str, str], type[PromptFormat]] = {}


def register(cls: type[PromptFormat]) -> type[PromptFormat]:
    _FORMATS[(cls.family, cls.style)] = cls
    return cls


def styles(family: str) -> list[str]:
    return sorted(s for f, s in _FORMATS if f == family and s != "chat")


def get_format(family: str, options: PromptOptions, shots: list | None = None) -> PromptFormat:
    """The format of prompt `family` (a dataset declares its family when it registers) for `options`.
    `shots`: few-shot examples to use instead of the format's own."""
    options.check()
    from coderun.datasets import registry

    registry()  # imports every dataset module: a dataset's own formats (HumanEval+'s, MBPP+'s) register there
    style = "chat" if options.chat else (options.style or DEFAULT_STYLE.get(family))
    if options.chat and options.style not in (None, "chat"):
        raise InputError(f"--prompt {options.style} is a completion format; --chat has its own")
    if (family, style) not in _FORMATS:
        known = ", ".join(styles(family)) or "none"
        raise InputError(f"no prompt format {style!r} for {family} (known: {known})")
    fmt = _FORMATS[(family, style)](options)
    if shots is not None:
        fmt.shots = list(shots)
    return fmt


# ---- completion formats ---------------------------------------------------------------------------------

@register
class HumanEvalRaw(PromptFormat):
    family, style, stop = "humaneval", "raw", HUMANEVAL_STOP

    def text(self, problem) -> str:
        return problem.prompt


def mbpp_task(problem) -> str:
    tests = "\n".join(problem.extra["test_list"])
    return f"You are an expert Python programmer, and here is your task: {problem.prompt} " \
           f"Your code should pass these tests:\n\n{tests}\n"


@register
class MBPPThreeShot(PromptFormat):
    family, style, stop = "mbpp", "3shot", ("[DONE]",)

    def load_shots(self) -> list:
        from coderun import datasets

        prompt_split = datasets.load("mbpp", split="prompt")
        return [prompt_split.get(t) for t in MBPP_SHOTS]

    def text(self, problem) -> str:
        if len(self.shots) != len(MBPP_SHOTS):
            raise InputError("the MBPP 3-shot prompt needs tasks 2, 3 and 4 of MBPP's prompt split")
        shots = "".join(f"{mbpp_task(s)}[BEGIN]\n{s.canonical_solution.strip()}\n[DONE]\n" for s in self.shots)
        return f"{shots}{mbpp_task(problem)}[BEGIN]\n"

    def extract(self, problem, raw: str) -> Extracted:
        return Extracted(_ends_in_newline(truncate_at_stops(raw, self.stop).strip("\n")))


@register
class MBPPZeroShot(PromptFormat):
    family, style, stop = "mbpp", "0shot", MBPP_0SHOT_STOP

    def text(self, problem) -> str:
        return f'"""\n{problem.prompt}\n{problem.extra["test_list"][0]}\n"""\n'


DEFAULT_STYLE = {"humaneval": "raw", "mbpp": "3shot", "humaneval-plus": "raw", "mbpp-plus": "raw", "multipl-e": "raw"}


# ---- chat formats -----------------------------------------------------------------------------------------

class ChatFormat(PromptFormat):
    style = "chat"
    instruction: ClassVar[str] = "Reply with your solution in a single ```python code block."

    @abstractmethod
    def user_message(self, problem) -> str:
        """The task as the user's message."""

    def build(self, problem) -> Prompt:
        o = self.options
        messages = [{"role": "system", "content": o.system_prompt}] if o.system_prompt else []
        messages.append({"role": "user", "content": self.user_message(problem)})
        if o.response_prefix:
            messages.append({"role": "assistant", "content": o.response_prefix})
        return Prompt(problem.task_id, messages=messages, chat_template_kwargs=o.chat_template_kwargs,
                      continue_final_message=bool(o.response_prefix))

    def text(self, problem) -> str:  # for display and hashing: the user message
        return self.user_message(problem)

    def code(self, raw: str, entry_point: str | None) -> str:
        return extract_code(self.options.response_prefix + raw, entry_point)


@register
class HumanEvalChat(ChatFormat):
    family = "humaneval"

    def user_message(self, problem) -> str:
        return ("Complete the following Python function. " + self.instruction
                + f"\n\n```python\n{problem.prompt.rstrip()}\n```")

    def extract(self, problem, raw: str) -> Extracted:
        return as_humaneval(problem.prompt, self.code(raw, problem.entry_point), problem.entry_point)


@register
class MBPPChat(ChatFormat):
    family = "mbpp"

    def user_message(self, problem) -> str:
        return mbpp_task(problem) + "\n" + self.instruction

    def extract(self, problem, raw: str) -> Extracted:
        return Extracted(_ends_in_newline(self.code(raw, problem.entry_point)))


# ---- post-processing ------------------------------------------------------------------------------------

def truncate_at_stops(text: str, stops: tuple[str, ...] | list[str]) -> str:
    """`text` up to the first stop sequence (servers that take fewer stops than a dataset has need this)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@)")
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}


def strip_thinking(text: str) -> str:
    """Drop reasoning sections: closed <think>…</think> blocks, everything up to a stray closing tag (the
    opening one was in the prompt), and an unclosed block at the end (thinking cut off by max tokens)."""
    text = _THINK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = _THINK_OPEN.search(text)
    return text[:opened.start()] if opened else text


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The code in a chat answer: a fenced block (the one defining `entry_point`, else the longest Python
    one), else the longest stretch of lines among prose that parses as Python, else the text itself."""
    text = strip_thinking(text)
    blocks = [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        defining = [b for b in blocks if entry_point and _defines(b, entry_point)]
        return (defining or sorted(blocks, key=len, reverse=True))[0]
    return _code_among_prose(text) or text.strip("\n") + "\n"


def _code_among_prose(text: str) -> str | None:
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    for start in starts:
        for end in range(len(lines), start, -1):
            chunk = "\n".join(lines[start:end]).rstrip() + "\n"
            if _parses(chunk):
                return chunk
    return None


def as_humaneval(prompt: str, code: str, entry_point: str | None) -> Extracted:
    """A HumanEval answer as a body to append to the prompt, or as a whole program when the answer
    defines the function itself (then the prompt's imports and helpers come first)."""
    if entry_point and _defines(code, entry_point):
        at = re.search(rf"^def {re.escape(entry_point)}\s*\(", prompt, re.MULTILINE)
        preamble = prompt[:at.start()] if at else ""
        return Extracted(_ends_in_newline(code), solution=preamble + _ends_in_newline(code))
    body = code.strip("\n")
    if body and not body[0].isspace():  # an unindented body ("return x"): indent it under the signature
        body = "\n".join("    " + line if line.strip() else line for line in body.split("\n"))
    return Extracted(_ends_in_newline(body))


def _defines(code: str, name: str) -> bool:
    tree = _parse(code)
    if tree is None:
        return re.search(rf"^def {re.escape(name)}\s*\(", code, re.MULTILINE) is not None
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def _parse(code: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _parses(code: str) -> bool:
    return _parse(code) is not None


def _ends_in_newline(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


__all__ = ["PROMPT_VERSION", "PromptOptions", "Prompt", "Extracted", "PromptFormat", "get_format", "styles",
           "truncate_at_stops", "strip_thinking", "extract_code", "as_humaneval"]
