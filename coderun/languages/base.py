"""What a language is to coderun: one data row (Language), read by datasets, the sandbox images and the CLI.

A row says how a program in the language is built and run in a sandbox (its file name, its steps with their
argv templates and limits, the Debian packages of its toolchain), how a run is judged beyond the exit status
(`checks`: output that fails it, as the reference evaluator reads it), where the tests' end mark goes, how
generation stops (`stop_tokens`) and which code fences hold its code in a chat answer. Adding a language is
adding a row (builtin.py, or a package's `coderun.languages` entry point); nothing in the stage, the pool or
the CLI names a language.

The end mark: every program of a command-driven language ends its tests with a statement that prints a
per-job secret (the runner writes the secret into the file at `mark_at`, so the job itself never holds it).
A run passes only when that secret was printed and every step exited 0: an `exit(0)` in the function, an
exit handler, a static initializer or `init()` that ends the program before the tests ran cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coderun.errors import InputError

MARK_SLOT = "\0MARK\0"  # where the runner writes the job's secret (a NUL never occurs in a dataset's program)
MIB = 1 << 20


@dataclass(frozen=True)
class Check:
    """Output that fails a step, as the reference evaluator reads it: `text` found in `stream` ("stdout",
    "stderr" or "any") makes the step `status` ("compile error" for a build failure, else a failure)."""

    stream: str
    text: str
    reason: str


@dataclass(frozen=True)
class Step:
    """One command of a job, run in the job's scratch dir under the sample's uid. argv items may name
    {file} (the program's file), {stem} (its name without the suffix). cpu/wall: seconds over the step's whole
    process tree; `compile`: a failure here is a compile error (still a `failed` verdict, never an error).
    `ok`: the exit statuses that count as success (mxeval's TypeScript rule: tsc's 2, errors with output emitted).
    `server`: the argv of a warm compile server in the image that does what `argv` does, in memory (the
    sandbox then uses it: sandbox/servers.py); `reference`: the reference evaluator's own command where `argv`
    differs from it only in speed (a precompiled header), for the benchmark's baseline."""

    name: str
    argv: tuple[str, ...]
    cpu: float
    wall: float
    compile: bool = False
    env: tuple[tuple[str, str], ...] = ()
    checks: tuple[Check, ...] = ()
    server: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    # not in repr: a program's digest (execute/program.py) names a step's accepted statuses only when they differ
    ok: tuple[int, ...] = field(default=(0,), repr=False)

    def message(self, file: str, cpu: float | None = None) -> dict[str, Any]:
        limit = self.cpu if cpu is None else cpu
        message = {"name": self.name, "argv": _formatted(self.argv, file), "cpu": limit,
                   "wall": max(self.wall, 2 * limit + 5), "compile": self.compile, "env": dict(self.env),
                   "checks": [[c.stream, c.text, c.reason] for c in self.checks]}
        if self.server:
            message["server"] = list(self.server)
        if self.ok != (0,):
            message["ok"] = list(self.ok)
        return message

    def reference_argv(self, file: str) -> list[str]:
        """The step as the reference evaluator runs it, one fresh process per program."""
        return _formatted(self.reference or self.argv, file)


def _formatted(argv: tuple[str, ...], file: str) -> list[str]:
    """argv with {file} and {stem} (the file's name without its suffix; a Go test keeps its `_test`)."""
    stem = file.rsplit(".", 1)[0] if not file.endswith("_test.go") else file[: -len(".go")]
    return [a.format(file=file, stem=stem) for a in argv]


@dataclass(frozen=True)
class Language:
    """One language. `key`: the name used everywhere (MultiPL-E's file-suffix key: cpp, java, js, ...);
    `file`: the program's file name in the scratch dir; `steps`: build and run, in order (the last is the run,
    whose CPU limit `--timeout` sets); `packages`: the Debian packages of its toolchain, `setup`: shell commands
    run after them when the image is built; `versions`: commands whose output is the toolchain fingerprint;
    `mark`: the statement that prints the end mark ({mark} is the secret's slot), placed by `mark_at`
    ("end": after the tests; "before:TOKEN:N": before the N-th last line that starts with TOKEN, e.g. the
    closing brace of `main`); `guarantee`: what a
    verdict in this language promises (docs/SECURITY.md has the details)."""

    key: str
    title: str
    file: str
    steps: tuple[Step, ...]
    packages: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # helpers (coderun/languages/files) copied to /opt/coderun/lang for `setup`
    versions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    stop_tokens: tuple[str, ...] = ()
    fences: tuple[str, ...] = ()
    mark: str = ""
    mark_at: str = "end"
    memory: int = 1024 * MIB
    guarantee: str = ""
    reference: str = ""  # how MultiPL-E's own image runs it, for the docs' comparison
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def driver(self) -> str:
        return "classic" if not self.steps else "command"

    def with_mark(self, tests: str) -> tuple[str, int]:
        """`tests` with the end-mark statement placed, and the secret's offset in the result."""
        if not self.mark:
            raise InputError(f"language {self.key} has no end mark")
        statement = self.mark.replace("{mark}", MARK_SLOT)
        if self.mark_at == "end":
            text = tests.rstrip("\n") + "\n" + statement + "\n"
        else:  # "before:TOKEN:N": on a line of its own before the N-th last line that starts with TOKEN
            _, token, count = self.mark_at.split(":")
            lines = tests.splitlines(keepends=True)
            starts = [i for i, line in enumerate(lines) if line.lstrip().startswith(token)]
            if len(starts) < int(count):
                raise InputError(f"{self.key} tests with fewer than {count} lines starting {token!r}: "
                                 "cannot place the end mark")
            at = starts[-int(count)]
            text = "".join(lines[:at]) + statement + "\n" + "".join(lines[at:])
        return text.replace(MARK_SLOT, ""), text.index(MARK_SLOT)

    def step_messages(self, run_cpu: float | None = None) -> list[dict[str, Any]]:
        """The steps as the runner's command driver reads them; `run_cpu` overrides the run step's limit."""
        last = len(self.steps) - 1
        return [s.message(self.file, run_cpu if i == last else None) for i, s in enumerate(self.steps)]

    @property
    def run_cpu(self) -> float:
        return self.steps[-1].cpu if self.steps else 0.0


_ROWS: dict[str, Language] = {}
_ALIASES: dict[str, str] = {}
_LOADED = False
ENTRY_POINT_GROUP = "coderun.languages"


def register(language: Language) -> Language:
    """Add a row (a third-party package does this from its `coderun.languages` entry point)."""
    _ROWS[language.key] = language
    for alias in (language.key, *language.aliases):
        _ALIASES[alias] = language.key
    return language


def registry() -> dict[str, Language]:
    """Every language, by key: the built-in rows, then those of installed packages' entry points."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from coderun.languages import builtin  # noqa: F401 - registers the built-in rows
        from coderun.registry import load_entry_points

        for _, row in load_entry_points(ENTRY_POINT_GROUP):
            if isinstance(row, Language):
                register(row)
    return dict(sorted(_ROWS.items()))


def get(name: str) -> Language:
    known = registry()
    key = _ALIASES.get(name.lower())
    if key is None:
        raise InputError(f"unknown language {name!r}; known: {', '.join(known)}")
    return known[key]


def names() -> list[str]:
    return list(registry())
