"""MultiPL-E's HumanEval in other languages (Cassano et al., IEEE TSE 2023), the "reworded" prompts.

One dataset per language, `multipl-e-humaneval-LANG` with LANG MultiPL-E's own key. A row is MultiPL-E's
as released (`name`, `prompt`, `tests`, `stop_tokens`, ...); a task id is the row's `name`
(`HumanEval_23_strlen`), and `HumanEval/23` is accepted too. A program is `prompt + completion + "\\n" +
tests`, as MultiPL-E's evaluator builds it, with the completion cut at the row's first stop token and the
language's end mark placed at the end of the tests (coderun/languages). MultiPL-E has no reference
solutions: limits are the language's, and the rows no solution can pass are listed below, found with
correct solutions of our own (tests/test_languages.py), and reported in a run's summary.
"""

from __future__ import annotations

import re
from typing import Any

from coderun import languages
from coderun.datasets.base import (
    CommandBenchmark,
    Problem,
    Program,
    check_fields,
    read_dataset_file,
    register,
)
from coderun.errors import InputError
from coderun.execute.program import Command

LANGUAGES = ("cpp", "java", "js", "ts", "php", "sh", "cs", "go", "rs", "lua")

# Rows that no completion can pass, and why (each shown with a correct solution of our own in the tests).
UNPASSABLE: dict[str, dict[str, str]] = {
    "php": {"HumanEval_23_strlen": "the prompt declares `strlen`, which redeclares PHP's built-in function: "
                                   "a fatal error whatever the body"},
}
_CS_REFERENCE_EQUALITY = ("the tests compare lists with List.Equals (reference equality), so no list can equal "
                          "the expected one; multipl-e-humaneval-cs-sequenceequal has the fixed asserts")

_FIELDS = {"name": str, "language": str, "prompt": str, "tests": str, "stop_tokens": list}
_NUMBER = re.compile(r"^HumanEval_(\d+)_")


class MultiPLE(CommandBenchmark):
    name = "multipl-e-humaneval"
    hub_id = ("nuprl/MultiPL-E",)
    default_file = ""

    def __init__(self, problems: list[Problem], source: str, sha256: str, language: str, name: str):
        super().__init__(problems, source, sha256, name, languages.get(language))
        self._by_number = {m.group(1): p.task_id for p in problems if (m := _NUMBER.match(p.task_id))}

    def task_id(self, raw: Any) -> str:
        """The row's name, or HumanEval's `HumanEval/23` for the same problem."""
        text = str(raw)
        if text.startswith("HumanEval/") and text[len("HumanEval/"):] in self._by_number:
            return self._by_number[text[len("HumanEval/"):]]
        return super().task_id(raw)

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        """`completion` follows the prompt (cut at the row's first stop token); a `solution` is the program
        up to the tests (prompt and completion, as bigcode-evaluation-harness keeps its generations)."""
        if solution is not None:
            head = solution
        elif completion is not None:
            head = problem.prompt + cut_at_stop(completion, problem.extra["stop_tokens"])
        else:
            raise TypeError("program() needs a completion or a solution")
        tests, at = self._tests(problem)
        text = head + "\n" + tests
        return Program(text, "", command=Command(self.row.key, self.row.file, self.row.steps,
                                                 len(head) + 1 + at))

    def canonical(self, problem: Problem) -> Program | None:
        return None  # MultiPL-E ships none

    def unpassable(self) -> dict[str, str]:
        """The rows no completion can pass, with the reason (reported in a run's summary)."""
        known = dict(UNPASSABLE.get(self.language, {}))
        if self.language == "cs" and not self.name.endswith("-sequenceequal"):
            known.update({p.task_id: _CS_REFERENCE_EQUALITY for p in self.problems if ".Equals((new List" in p.test})
        return {t: why for t, why in known.items() if t in self._by_id}


def cut_at_stop(completion: str, stop_tokens: list[str]) -> str:
    """The completion up to the first of the stop tokens (MultiPL-E's `stop_at_stop_token`)."""
    from coderun.prompts import truncate_at_stops

    return truncate_at_stops(completion, stop_tokens)


def _validate(language: str):
    def validate(rows: list[dict[str, Any]], where: str) -> None:
        seen: set[str] = set()
        for i, row in enumerate(rows, 1):
            at = f"{where} row {i}"
            check_fields(row, at, _FIELDS)
            if row["name"] in seen:
                raise InputError(f"{at}: duplicate name {row['name'][:60]!r}")
            seen.add(row["name"])
    return validate


def _problem(row: dict[str, Any], language: str) -> Problem:
    return Problem(task_id=row["name"], prompt=row["prompt"], canonical_solution="", test=row["tests"],
                   extra={"stop_tokens": list(row["stop_tokens"]), "language": language,
                          "file_suffix": row["language"], "original": row.get("original", "")})


def _loader(language: str, file: str, name: str):
    def load(path: str | None = None, from_hub: bool = False, **options: Any) -> MultiPLE:
        if options:
            raise InputError(f"{name} has no option {', '.join(sorted(options))}")
        if from_hub:
            raise InputError(f"{name}: use the shipped rows or --dataset-path (the hub's copy is not read)")
        rows, sha, source = read_dataset_file(path, file, _validate(language))
        return MultiPLE([_problem(r, language) for r in rows], source, sha, language, name)
    return load


for _lang in LANGUAGES:
    _title = languages.get(_lang).title
    _name = f"multipl-e-humaneval-{_lang}"
    register(_name, command="humaneval", variant=f"language-{_lang}", prompt_family="multipl-e",
             description=f"MultiPL-E HumanEval in {_title} ({_lang})", language=_lang)(
        _loader(_lang, f"humaneval-{_lang}-reworded.jsonl.gz", _name))
register("multipl-e-humaneval-cs-sequenceequal", command=None, prompt_family="multipl-e",
         description="MultiPL-E HumanEval in C#, lists compared with SequenceEqual (DeepSeek-Coder's fix)",
         language="cs")(
    _loader("cs", "humaneval-cs-reworded-sequenceequal.jsonl.gz", "multipl-e-humaneval-cs-sequenceequal"))


# ---- prompts: MultiPL-E's own (the row's prompt, its stop tokens), and a chat format ------------------------

def _formats():
    from coderun import prompts

    @prompts.register
    class MultiPLERaw(prompts.PromptFormat):
        """The row's prompt, stripped, as MultiPL-E prompts a model; generation stops at the row's tokens."""

        family, style = "multipl-e", "raw"

        def text(self, problem) -> str:
            return problem.prompt.strip()

        def build(self, problem) -> prompts.Prompt:
            return prompts.Prompt(problem.task_id, text=self.text(problem), stop=tuple(problem.extra["stop_tokens"]))

        def extract(self, problem, raw: str) -> prompts.Extracted:
            return prompts.Extracted(cut_at_stop(raw, problem.extra["stop_tokens"]))

    @prompts.register
    class MultiPLEChat(prompts.ChatFormat):
        """Complete the function; the answer's code block (in the language's fence) after the prompt's last
        line (the signature), cut at the row's stop tokens, is the completion."""

        family = "multipl-e"

        def user_message(self, problem) -> str:
            return complete_function_request(problem)

        def extract(self, problem, raw: str) -> prompts.Extracted:
            body = code_after_signature(problem, prompts.strip_thinking(self.options.response_prefix + raw))
            return prompts.Extracted(cut_at_stop(body, problem.extra["stop_tokens"]))


_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)


def complete_function_request(problem: Problem) -> str:
    """A chat model's request: complete the prompt's function, the whole function in one code block."""
    row = languages.get(problem.extra["language"])
    fence = row.fences[0] if row.fences else row.key
    return (f"Complete the following {row.title} function. Reply with the whole function in a single "
            f"```{fence} code block.\n\n```{fence}\n{problem.prompt.strip()}\n```")


def code_after_signature(problem: Problem, answer: str) -> str:
    """What follows the prompt's last line (the signature) in the answer's code block: the completion, uncut."""
    code = fenced_code(answer, languages.get(problem.extra["language"]).fences)
    signature = problem.prompt.rstrip().rsplit("\n", 1)[-1].strip()
    at = code.find(signature) if signature else -1
    return code[at + len(signature):] if at >= 0 else code


def fenced_code(text: str, fences: tuple[str, ...]) -> str:
    """The longest code block tagged with one of the language's fence names (or untagged), else the text."""
    blocks = [body for tag, body in _FENCE.findall(text) if tag.lower() in (*fences, "")]
    return max(blocks, key=len) if blocks else text


_formats()
