"""What MBXP and HumanEval-X share: suites of programs in other languages that carry reference solutions.

A suite is one `Layout` row per language: its shipped file, how its evaluator lays a program out (the part
before the completion, what joins the completion to the tests) and the language row's fields the suite's
evaluator does differently (its commands, its pass rule, where the end mark goes), as data. The dataset
modules (mbxp.py, humaneval_x.py) hold the rows; this module turns a row into a Benchmark.

Every run checks the reference solutions of the problems it scores (execute/service.py runs them first). A
suite's own solutions are not all right: those known to fail are listed with the reason in the dataset module
(`known_bad`), reported in the run's summary apart from a failure nobody expected (a sandbox fault), and a
test checks the list is exactly what fails.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from coderun import languages
from coderun.datasets.base import CommandBenchmark, Problem, Program, check_fields, read_dataset_file, register
from coderun.errors import InputError
from coderun.execute.program import Command

Head = Callable[[Problem, str], str]  # (problem, completion) -> the program up to the tests


@dataclass(frozen=True)
class Layout:
    """One language of one suite. `override`: the language row's fields this suite's evaluator does
    differently (steps, file, mark, mark_at); `head`: the program before the tests (default: prompt +
    completion); `joint`: what goes between the completion and the tests; `prelude`: (prefix, text): `text`
    inserted after the program's first line starting with `prefix` (a Go import that the end mark's statement
    uses, so that the suite's own imports stay as they are); `known_bad`: {task: why} of the suite's reference
    solutions that fail, each for a reason in the data; `by_chance`: those of them that fail in some runs
    only (their result depends on something random, such as Go's map order): reported when they fail."""

    language: str
    file: str
    prefix: str
    override: Mapping[str, Any] = field(default_factory=dict)
    head: Head | None = None
    joint: str = ""
    prelude: tuple[str, str] = ("", "")
    known_bad: Mapping[str, str] = field(default_factory=dict)
    by_chance: frozenset[str] = frozenset()
    end: str = "\n}"  # a generated function ends with this, kept (the tests do not close it, unlike MultiPL-E's)

    def row(self) -> languages.Language:
        return dataclasses.replace(languages.get(self.language), **dict(self.override))


def run_limit(language: str, cpu: float) -> tuple:
    """The language's steps with the run step's CPU limit set to `cpu` (a suite's own limit)."""
    steps = languages.get(language).steps
    return (*steps[:-1], dataclasses.replace(steps[-1], cpu=cpu, wall=max(steps[-1].wall, 2 * cpu + 5)))


class Suite(CommandBenchmark):
    """One language of a suite: a program is head + joint + the tests (the end mark placed in them)."""

    default_file = ""
    hub_id = ()

    def __init__(self, problems: list[Problem], source: str, sha256: str, name: str, layout: Layout):
        super().__init__(problems, source, sha256, name, layout.row())
        self.layout = layout

    def task_id(self, raw: Any) -> str:
        """The suite's id (`MBJP/3`), or the problem's number alone."""
        text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
        if text.isdigit() and f"{self.layout.prefix}/{text}" in self._by_id:
            return f"{self.layout.prefix}/{text}"
        return super().task_id(raw)

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        """`completion` follows the suite's head (as its evaluator takes it: uncut); a `solution` is the whole
        program up to the tests."""
        if solution is not None:
            head = solution
        elif completion is not None:
            head = self.layout.head(problem, completion) if self.layout.head else problem.prompt + completion
        else:
            raise TypeError("program() needs a completion or a solution")
        head = _with_prelude(head, *self.layout.prelude) + self.layout.joint
        tests, at = self._tests(problem)
        command = Command(self.row.key, self.row.file, self.row.steps, len(head) + at)
        return Program(head + tests, "", command=command)

    def canonical(self, problem: Problem) -> Program | None:
        solution = problem.canonical_solution
        return self.program(problem, completion=solution) if solution else None

    def known_bad(self) -> dict[str, str]:
        """The reference solutions of this dataset known to fail, with the reason (the summary reports them)."""
        return {t: why for t, why in self.layout.known_bad.items() if t in self._by_id}

    def known_bad_by_chance(self) -> set[str]:
        return {t for t in self.layout.by_chance if t in self._by_id}


def _with_prelude(text: str, prefix: str, insert: str) -> str:
    if not insert:
        return text
    m = re.search(rf"^{re.escape(prefix)}.*\n", text, re.MULTILINE)
    return text if m is None else text[: m.end()] + insert + text[m.end():]


_FIELDS = {"task_id": str, "prompt": str, "test": str}


def _validate(rows: list[dict[str, Any]], where: str) -> None:
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        at = f"{where} row {i}"
        check_fields(row, at, _FIELDS)
        check_fields(row, at, {"canonical_solution": str, "entry_point": str, "declaration": str}, optional=True)
        if row["task_id"] in seen:
            raise InputError(f"{at}: duplicate task_id {row['task_id'][:60]!r}")
        seen.add(row["task_id"])


def _problem(row: dict[str, Any], layout: Layout) -> Problem:
    keep = ("description", "declaration", "import", "test_setup", "example_test")
    return Problem(task_id=row["task_id"], prompt=row["prompt"], canonical_solution=row.get("canonical_solution") or "",
                   test=row["test"], entry_point=row.get("entry_point"),
                   extra={"language": layout.language, "end": layout.end,
                          **{k: row[k] for k in keep if isinstance(row.get(k), str)}})


def register_suite(name: str, layout: Layout, *, command: str | None, variant: str | None, family: str,
                   description: str) -> None:
    """Register `name` (a Suite of `layout`) under the generating command and variant that select it."""

    def load(path: str | None = None, from_hub: bool = False, **options: Any) -> Suite:
        if options:
            raise InputError(f"{name} has no option {', '.join(sorted(options))}")
        if from_hub:
            raise InputError(f"{name}: use the shipped rows or --dataset-path (the hub's copy is not read)")
        rows, sha, source = read_dataset_file(path, layout.file, _validate)
        return Suite([_problem(r, layout) for r in rows], source, sha, name, layout)

    register(name, command=command, variant=variant, prompt_family=family, description=description,
             language=layout.language)(load)


# ---- prompts: the suite's prompt as is (a signature with its docstring), and a chat format ------------------

def cut_after_end(text: str, end: str, stopped: bool = False) -> str:
    """A generated completion up to and including the first `end` (the function's closing line). Without
    one: `end` added when generation stopped at it (a stop string is not part of the output), else as is."""
    at = text.find(end)
    if at >= 0:
        return text[: at + len(end)]
    return text + end if stopped else text


def _formats(family: str, suite_title: str):
    from coderun import prompts
    from coderun.datasets.multipl_e import code_after_signature, complete_function_request

    class Raw(prompts.PromptFormat):
        """The row's prompt as the suite ships it (zero-shot, as its paper's function-completion results);
        generation stops after the function's closing line."""

        style = "raw"

        def text(self, problem) -> str:
            return problem.prompt

        def build(self, problem) -> prompts.Prompt:
            return prompts.Prompt(problem.task_id, text=self.text(problem), stop=(problem.extra["end"] + "\n",))

        def extract(self, problem, raw: str) -> prompts.Extracted:
            # generation stops at the function's end line, which the output then lacks
            return prompts.Extracted(cut_after_end(raw, problem.extra["end"], stopped=True))

    class Chat(prompts.ChatFormat):
        """Complete the function; the answer's code block (in the language's fence) after the prompt's last
        line (the signature), up to the function's end, is the completion."""

        def user_message(self, problem) -> str:
            return complete_function_request(problem)

        def extract(self, problem, raw: str) -> prompts.Extracted:
            body = code_after_signature(problem, prompts.strip_thinking(self.options.response_prefix + raw))
            if problem.prompt.endswith("\n"):
                body = body.split("\n", 1)[1] if "\n" in body else ""
            return prompts.Extracted(cut_after_end(body, problem.extra["end"]))

    Raw.family = Chat.family = family
    Raw.__name__, Chat.__name__ = f"{suite_title}Raw", f"{suite_title}Chat"
    prompts.register(Raw)
    prompts.register(Chat)
    prompts.DEFAULT_STYLE.setdefault(family, "raw")
