"""What a dataset hands the execution layer for one sample: a Program, and how its call tiers are judged.

A dataset module builds these (it knows the benchmark); the execution service (service.py) turns them into
jobs, runs them and folds the verdicts into one outcome per sample, without knowing which benchmark it is.

- classic: `solution` then `test` in one namespace of the sample's process; passed when `test` ran to its end;
- call tiers: the solution once per tier, its entry point called on each input in the sample's process, each
  return value judged in the runner against the expected values (the tier's own, or the reference
  solution's, computed in the sandbox and cached), with the rules of the tiers' `Judging`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

Fold = Callable[[dict[str, dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class CallTier:
    """A test tier that calls `entry_point` on each of `inputs` in a fresh process, its return values judged
    outside that process. `task`: the problem it belongs to (its reference solution's outputs and CPU times
    are kept per task and tier); `inputs`: the argument lists as plain-data text (sandbox/plaindata.py);
    `expected`: the expected values as plain-data text, when the dataset has them (else the reference
    solution's outputs are the expected values); `mode` "not_none": only whether each value was None counts;
    `setup`: the benchmark's own code, run after the program in its namespace before the calls."""

    task: str
    name: str
    entry_point: str
    inputs: str
    count: int
    mode: str = "value"
    expected: str | None = None
    setup: str = ""


def first_failing(tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The default fold: passed when every tier passed, else the first tier that did not, by name."""
    for name, tier in tiers.items():
        if tier["status"] != "passed":
            return {"status": tier["status"], "reason": f"{name}: {tier['reason']}"}
    return {"status": "passed", "reason": ""}


@dataclass(frozen=True)
class Judging:
    """How a problem's call tiers are judged, declared by its dataset module.

    judge: source of `make_judge(spec, expected, inputs)` (runs in the sandbox runner, never in the sample's
    process); spec: its parameters; input_limits: per-input CPU limits from the reference solution's CPU per
    input; tier_cpu: a tier's limit on its calls together, from its per-input limits; digest_over: reference
    outputs longer than this (as text) may be kept as a digest (0: never; only where equality is exact);
    fold: one verdict from the tiers' ({name: {"status", "reason", "inputs", ...}}) -> status, reason and
    the row's extra fields."""

    judge: str
    spec: tuple[tuple[str, Any], ...]
    input_limits: Callable[[list[float]], list[float]]
    tier_cpu: Callable[[list[float]], float]
    digest_over: int = 0
    fold: Fold = first_failing


@dataclass(frozen=True)
class Command:
    """A program in another language: `solution` (the whole program) is written to `file` in the scratch
    dir and the `steps` (a language row's, coderun/languages) run in order; `mark_at`: the offset in the
    program where the runner writes the end mark's secret (None: no mark)."""

    language: str
    file: str
    steps: tuple[Any, ...]
    mark_at: int | None = None

    @property
    def run_cpu(self) -> float:
        return float(self.steps[-1].cpu)

    def text(self) -> str:
        accepted = [s.ok for s in self.steps]
        ok = f"|ok={accepted}" if any(a != (0,) for a in accepted) else ""  # older programs keep their digests
        return f"{self.language}|{self.file}|{self.mark_at}|{self.steps!r}{ok}"


@dataclass(frozen=True)
class Program:
    """What one sample runs: `solution` then `test` (classic), or, with `tiers`, the solution once per tier
    with its calls judged from outside, under `judging`; with `command`, `solution` is a whole program in
    another language, built and run by its toolchain's steps."""

    solution: str
    test: str
    tiers: tuple[CallTier, ...] = ()
    judging: Judging | None = field(default=None, compare=False)
    command: Command | None = None

    def digest(self) -> str:
        return self._digest

    @cached_property
    def _digest(self) -> str:  # computed once: resuming and de-duplication ask for it often
        h = hashlib.sha256()
        parts = [self.solution, self.test] + [f"{t.name}|{t.entry_point}|{t.mode}|{t.inputs}" for t in self.tiers]
        parts += [t.expected for t in self.tiers if t.expected is not None] + [t.setup for t in self.tiers if t.setup]
        if self.command is not None:
            parts.append(self.command.text())
        for part in parts if self.tiers or self.command else parts[:2]:
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        return h.hexdigest()
