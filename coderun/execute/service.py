"""The execution service: the one owner of program -> jobs -> outcome.

Every caller (evaluate and generate through the execution stage, rerank probes, the reference checks, limit
calibration, `Reward`, `coderun sandbox check`) runs programs through here, and nothing else builds a Job:
- `prepare` fixes each task's limits from its reference program: calibrated (or checked under --timeout) for
  a classic program; for call tiers, from the reference solution's outputs and CPU time per input, computed
  in the sandbox once and cached (references.py), with the tiers' own rules (program.Judging);
- `run` turns each (program, limits) into its jobs (one classic job, or one per call tier), runs them on any
  executor (a local pool, Ray) and folds the tiers' verdicts into one Outcome per program.

It knows programs, tiers and rules, never a benchmark: the dataset module builds the Program and declares
its Judging.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from coderun.errors import CoderunError
from coderun.execute import limits as rules
from coderun.execute.base import Blob, Call, CommandSpec, Executor, Job, Verdict
from coderun.execute.limits import TaskLimits, TierLimits, wall_backstop
from coderun.execute.pool import IDLE
from coderun.execute.program import CallTier, Program
from coderun.execute.references import REFERENCE_INPUT_CPU, REFERENCE_TIER_CPU, References, TierReference
from coderun.records import Status

ENCODING_ALLOWANCE = 30.0  # CPU seconds a tier's process may spend beyond its calls (encoding their values)


@dataclass
class Outcome:
    """One program's verdict: the job's, or its tiers' folded by the dataset's rule (`fields`: what the fold
    adds to the row, e.g. base_status; `inputs`/`inputs_passed`: over every tier, 0 for a classic program)."""

    status: Status
    reason: str = ""
    cpu: float = 0.0
    wall: float = 0.0
    output: str = ""
    attempts: int = 1
    sandbox: str = ""
    node: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    inputs: int = 0
    inputs_passed: int = 0

    @property
    def passed(self) -> bool:
        return self.status == Status.PASSED

    @classmethod
    def of(cls, v: Verdict) -> "Outcome":
        fields = {"steps": v.extra["steps"]} if v.extra.get("steps") else {}  # a command job's build and run steps
        return cls(v.status, v.reason, v.cpu, v.wall, v.output, v.attempts, v.sandbox, v.extra.get("node"),
                   fields=fields, inputs=int(v.extra.get("inputs") or 0),
                   inputs_passed=int(v.extra.get("inputs_passed") or 0))


class ExecutionService:
    """Programs in, outcomes out, on an entered executor. `timeout`: a fixed CPU limit (per program, or per
    input for call tiers) instead of calibrated ones; `all_inputs`: call every input of a tier, even after
    one failed (for per-input counts)."""

    def __init__(self, executor: Executor, memory: int, timeout: float | None = None, all_inputs: bool = False,
                 references: References | None = None):
        self.executor, self.memory = executor, memory
        self.timeout = None if timeout is None else float(timeout)
        self.all_inputs = all_inputs
        self.references = references or References(executor.fingerprint, memory)
        self._calls: dict[tuple[str, str], tuple[Call, float]] = {}
        self._blobs: dict[str, Blob] = {}

    # ---- limits ----------------------------------------------------------------------------------------
    def prepare(self, canonicals: Mapping[str, Program | None], known: Mapping[str, TaskLimits] | None = None,
                default_cpu: float | None = None) -> dict[str, TaskLimits]:
        """Each task's limits from its reference program (`canonicals`), with how the reference fared under
        them. Classic tasks already in `known` with a reference verdict keep their limits; a task without a
        reference program (None) gets --timeout or `default_cpu`, unchecked."""
        known = known or {}
        tiered = {t: p for t, p in canonicals.items() if p is not None and p.tiers}
        commands = {t: p for t, p in canonicals.items() if p is not None and p.command is not None
                    and not (t in known and known[t].checked)}
        classic = {t: p for t, p in canonicals.items() if p is not None and not p.tiers and p.command is None
                   and not (t in known and known[t].checked)}
        found = {**self._calibrate(classic), **self._tier_limits(tiered), **self._check_commands(commands)}
        unchecked = {t: self._unchecked(default_cpu) for t, p in canonicals.items() if p is None and t not in known}
        return {t: found.get(t) or unchecked.get(t) or known[t] for t in canonicals}

    def _unchecked(self, default_cpu: float | None) -> TaskLimits:
        """A task without a reference solution: the fixed limit (--timeout, else its language's)."""
        if self.timeout is None and default_cpu is None:
            raise CoderunError("a task without a reference solution needs --timeout or its language's limit")
        return TaskLimits.fixed(self.timeout if self.timeout is not None else default_cpu)

    def _check_commands(self, programs: Mapping[str, Program]) -> dict[str, TaskLimits]:
        """Reference programs in other languages: run once under the fixed limit, which they keep (a
        toolchain's start-up dominates a compiled program's time: there is nothing to calibrate). The verdict
        (a pass or a plain failure) is kept in the reference cache, whose directory is per image (its id)
        and memory limit: a later run on the same image does not build and run the same program again."""
        limits = {t: TaskLimits.fixed(self.timeout if self.timeout is not None else p.command.run_cpu)
                  for t, p in programs.items()}
        out = {}
        for t, lim in limits.items():  # checked in an earlier run on this very image, under these limits
            known = self.references.checked_before(programs[t].digest(), lim.cpu)
            if known is not None:
                out[t] = TaskLimits(lim.cpu, *known)
        self.references.reused_checks += len(out)
        todo = [t for t in limits if t not in out]
        for t, o in zip(todo, self.run_all([(programs[t], limits[t]) for t in todo])):
            out[t] = TaskLimits(limits[t].cpu, o.status, round(o.cpu, 4))
            self.references.store_check(programs[t].digest(), out[t].cpu, o.status, out[t].reference_cpu)
        return {t: out[t] for t in limits}

    def _calibrate(self, programs: Mapping[str, Program]) -> dict[str, TaskLimits]:
        cpu = rules.CALIBRATION_LIMIT if self.timeout is None else self.timeout
        tasks = list(programs)
        outcomes = self.run_all([(programs[t], TaskLimits.fixed(cpu)) for t in tasks])
        out = {}
        for t, o in zip(tasks, outcomes):
            limit = rules.calibrated(o.cpu, o.passed) if self.timeout is None else self.timeout
            out[t] = TaskLimits(limit, o.status, round(o.cpu, 4))
        return out

    def _tier_limits(self, programs: Mapping[str, Program]) -> dict[str, TaskLimits]:
        self.ensure_references(programs)
        out = {}
        for task, program in programs.items():
            tiers, passed = {}, True
            for tier in program.tiers:
                ref = self._reference(tier)
                inputs = self._input_limits(program, tier, ref)
                cpu = ref.cpu if ref is not None else []
                tiers[tier.name] = TierLimits(program.judging.tier_cpu(inputs), round(sum(cpu), 4),
                                              max(inputs, default=0.0))
                # under the run's limits, the reference fails no input and none exceeds its limit
                passed &= ref is None or (not ref.failed and all(c <= lim for c, lim in zip(cpu, inputs)))
            first = next(iter(tiers.values()))
            out[task] = TaskLimits(first.input_cpu, Status.PASSED if passed else Status.FAILED,
                                   sum(t.reference_cpu for t in tiers.values()), tiers)
        own = {t: p for t, p in programs.items() if any(tier.expected is not None for tier in p.tiers)}
        if own:  # expected values of the dataset's own (not the reference's outputs): the reference is judged too
            for task, o in zip(own, self.run_all([(p, out[t]) for t, p in own.items()])):
                if not o.passed:
                    out[task].reference = Status.FAILED
        return out

    def _input_limits(self, program: Program, tier: CallTier, ref: TierReference | None) -> list[float]:
        if self.timeout is not None:
            return [self.timeout] * tier.count
        return program.judging.input_limits(ref.cpu)

    def _needs_reference(self, tier: CallTier) -> bool:
        """The reference solution's outputs are a tier's expected values unless it has its own; its CPU times
        set the limits unless --timeout does."""
        return tier.expected is None or self.timeout is None

    def _reference(self, tier: CallTier) -> TierReference | None:
        return self.references.tier(tier.task, tier.name) if self._needs_reference(tier) else None

    def ensure_references(self, programs: Mapping[str, Program]) -> None:
        """Compute (in the sandbox) every reference tier the cache lacks, and save each to the cache."""
        todo = [(p, tier) for p in programs.values() for tier in p.tiers if self._needs_reference(tier)
                and not self.references.has(p.solution, tier, p.judging.digest_over)]
        if not todo:
            return
        began = time.monotonic()
        jobs = [_record_job(p.solution, tier, self.memory, p.judging.digest_over) for p, tier in todo]
        errors = []
        for (p, tier), verdict in zip(todo, self.executor.run_all(jobs)):
            if verdict.status == Status.ERROR:  # the harness failed, not the reference: nothing to cache
                errors.append(f"{tier.task} {tier.name}: {verdict.reason}")
                continue
            self.references.store(p.solution, tier, p.judging.digest_over, verdict.extra.get("outputs") or [],
                                  verdict.reason or str(verdict.status))
        self.references.computed_seconds += time.monotonic() - began
        self.references.computed_tasks += len({tier.task for _, tier in todo})
        if errors:
            raise CoderunError(f"the reference outputs could not be computed ({errors[0]}); run again to retry")

    # ---- running -----------------------------------------------------------------------------------------
    def run(self, items: Iterable[Any]) -> Iterator[tuple[Any, Outcome]]:
        """Yield (tag, outcome) for every (tag, program, limits), as outcomes complete; identical jobs run once.
        Items are pulled lazily (generation streams into this); IDLE passes through to the executor."""
        pending: dict[int, dict[str, Verdict]] = {}
        for (serial, tag, program, tier), verdict in self.executor.run(self._jobs(items)):
            if tier is None:
                yield tag, Outcome.of(verdict)
                continue
            got = pending.setdefault(serial, {})
            got[tier] = verdict
            if len(got) == len(program.tiers):
                del pending[serial]
                yield tag, _fold(program, [got[t.name] for t in program.tiers])

    def run_all(self, work: list[tuple[Program, TaskLimits]]) -> list[Outcome]:
        """Outcomes of (program, limits) pairs, in order."""
        out: list[Outcome | None] = [None] * len(work)
        for i, outcome in self.run((i, p, lim) for i, (p, lim) in enumerate(work)):
            out[i] = outcome
        return out  # type: ignore[return-value]

    def _jobs(self, items: Iterable[Any]) -> Iterator[Any]:
        serial = itertools.count()
        for item in items:
            if item is IDLE:
                yield IDLE
                continue
            tag, program, lim = item
            n = next(serial)
            if program.command is not None:
                yield (n, tag, program, None), self._command_job(program, lim.cpu)
                continue
            if not program.tiers:
                yield (n, tag, program, None), Job(program.solution, program.test, cpu=lim.cpu,
                                                   wall=wall_backstop(lim.cpu), mem=self.memory)
                continue
            for tier in program.tiers:
                call, cpu = self._call(program, tier)
                yield (n, tag, program, tier.name), Job(program.solution, "", cpu=cpu, wall=wall_backstop(cpu),
                                                        mem=self.memory, call=call)

    def _command_job(self, program: Program, run_cpu: float) -> Job:
        """A program in another language: its steps, the last (the run) under the task's limit."""
        command = program.command
        steps = [s.message(command.file, run_cpu if i == len(command.steps) - 1 else None)
                 for i, s in enumerate(command.steps)]
        spec = CommandSpec(command.file, json.dumps(steps, sort_keys=True), command.mark_at)
        total = sum(s["cpu"] for s in steps)
        return Job(program.solution, "", cpu=total, wall=sum(s["wall"] for s in steps), mem=self.memory,
                   command=spec)

    def _call(self, program: Program, tier: CallTier) -> tuple[Call, float]:
        """A tier's call test, built once per task and tier: every sample shares its blobs."""
        key = (tier.task, tier.name)
        if key not in self._calls:
            ref = self._reference(tier)
            judging = program.judging
            inputs = self._input_limits(program, tier, ref)
            own = tier.expected is not None
            call = Call(tier.entry_point, self._blob(tier.inputs), tuple(inputs),
                        expected=self._blob(tier.expected) if own else ref.expected,
                        judge=self._blob(judging.judge), spec=judging.spec, mode=tier.mode,
                        run_all=self.all_inputs, skip=() if own else tuple(sorted(ref.failed)),
                        digest_at=() if own else ref.digests, calls_cpu=judging.tier_cpu(inputs), setup=tier.setup)
            # The process may take longer than its calls: encoding large return values is not the sample's
            # time. The runner holds the calls to the tier's limit; this bounds the whole process.
            self._calls[key] = (call, round(2 * call.calls_cpu + ENCODING_ALLOWANCE, 3))
        return self._calls[key]

    def _blob(self, text: str) -> Blob:
        if text not in self._blobs:
            self._blobs[text] = Blob(text)
        return self._blobs[text]


def _fold(program: Program, verdicts: list[Verdict]) -> Outcome:
    """One outcome from a program's tier verdicts, by its dataset's rule."""
    folded = program.judging.fold({t.name: {"status": v.status, "reason": v.reason, **v.extra}
                                   for t, v in zip(program.tiers, verdicts)})
    worst = next((v for v in verdicts if v.status != Status.PASSED), verdicts[-1])
    return Outcome(Status(folded["status"]), folded["reason"], cpu=sum(v.cpu for v in verdicts),
                   wall=sum(v.wall for v in verdicts), output=worst.output,
                   attempts=max(v.attempts for v in verdicts), sandbox=worst.sandbox, node=worst.extra.get("node"),
                   fields={k: v for k, v in folded.items() if k not in ("status", "reason")},
                   inputs=sum(int(v.extra.get("inputs") or 0) for v in verdicts),
                   inputs_passed=sum(int(v.extra.get("inputs_passed") or 0) for v in verdicts))


def _record_job(solution: str, tier: CallTier, memory: int, digest_over: int = 0) -> Job:
    """The reference solution on every input of a tier, its outputs recorded (no judge); outputs longer than
    `digest_over` characters are recorded as their digest."""
    call = Call(tier.entry_point, Blob(tier.inputs), (REFERENCE_INPUT_CPU,) * tier.count, mode=tier.mode,
                run_all=True, digest_over=digest_over, setup=tier.setup)
    return Job(solution, "", cpu=REFERENCE_TIER_CPU, wall=wall_backstop(REFERENCE_TIER_CPU), mem=memory, call=call)
