"""The execution stage every run shares: a run directory, an executor, the time limits, and resuming.

evaluate (a samples file), generate (completions as they are generated) and rerank (probe programs) all
execute through here, so the rules live once:
- a recorded verdict is reused only for the same program, under the same execution settings, dataset and
  execution environment (the executor's fingerprint); otherwise earlier verdicts are set aside;
- `error` verdicts are never reused: they are not answers, and a later run retries them;
- per-problem CPU limits are `--timeout` for all, or kept from the run being resumed, or calibrated from
  the reference solution now;
- results.jsonl is appended one verdict at a time, then compacted to one row per sample in input order,
  and summary.json is written from it.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from coderun import summary as summary_lib
from coderun.datasets.base import Benchmark, CallTier, Program
from coderun.execute import limits
from coderun.execute.base import Blob, Call, Executor, Job, Verdict
from coderun.execute.pool import PendingPool
from coderun.orchestrate.options import ExecutionOptions
from coderun.orchestrate.reference import References, TierReference
from coderun.records import ResultRow, RowRef, RunConfig, RunDir, Status, now_iso
from coderun.samples import Sample

ENCODING_ALLOWANCE = 30.0  # CPU seconds a tier's process may spend beyond its calls (encoding their values)
LOCAL_NODE = socket.gethostname()  # the `node` of rows executed on this machine (Ray rows name their node)


class Progress:
    """What a run tells a display. The CLI renders it with rich; the default shows nothing."""

    def start(self, total: int, done: Counter) -> None: ...

    def advance(self, row: ResultRow) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Outcome:
    run_dir: str
    summary: dict[str, Any]
    executed: int = 0
    reused: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What a run asks for, without holding its code: each sample's program digest, in input order.
    Memory per sample stays at a key and a digest, however long the completions."""

    digests: dict[tuple[str, int], bytes]  # sha256 of each program, binary
    per_task: Counter

    @classmethod
    def of(cls, programs: Iterable[tuple[Sample, Program]]) -> "Plan":
        digests = {(sys.intern(s.task_id), s.sample_index): bytes.fromhex(p.digest()) for s, p in programs}
        return cls(digests, Counter(task for task, _ in digests))


# ---- executors -------------------------------------------------------------------------------------------


def make_executor(execution: ExecutionOptions, connected: bool = False) -> Executor:
    """A SandboxPool on this machine, or with `ray` a RayPool with one SandboxPool per cluster node."""
    if execution.ray:
        from coderun.execute.ray_pool import RayPool

        pool = RayPool(execution.ray, execution.provider, execution.provider_options(),
                       workers_per_node=execution.workers)
        return pool.owns_connection() if connected else pool
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool

    return SandboxPool(get_provider(execution.provider, **execution.provider_options()), workers=execution.workers)


def start_executor(execution: ExecutionOptions) -> PendingPool:
    """The executor for `execution`, entered in the background (containers boot while data loads)."""
    connected = False
    if execution.ray:  # here, in the main thread: Ray installs signal handlers when it connects
        from coderun.cluster import connect

        connected = connect(execution.ray)
    return PendingPool(lambda: make_executor(execution, connected))


# ---- the stage -------------------------------------------------------------------------------------------


class ExecutionStage:
    """One run directory's execution. `resume` decides what recorded verdicts still hold; `start` binds an
    entered executor (checking its environment, fixing the limits, writing config.json); then programs go
    in through `execute` (an iterable, in this thread) or `background` (put one at a time from a producer);
    `finish` compacts results.jsonl and writes summary.json."""

    def __init__(self, run: RunDir, bench: Benchmark, execution: ExecutionOptions, config: RunConfig,
                 plan: Plan, progress: Progress | None = None, tasks: list[str] | None = None,
                 expected: int | None = None):
        """`tasks`: the problems to fix limits for (default: the plan's); `expected`: the samples the run
        will have (default: the plan's; a generated run's plan grows as completions arrive)."""
        self.run, self.bench, self.execution, self.config, self.plan = run, bench, execution, config, plan
        self.progress = progress or Progress()
        self.tasks = tasks if tasks is not None else list(plan.per_task)
        self.expected = expected if expected is not None else len(plan.digests)
        self.old: RunConfig | None = None
        self.done: dict[tuple[str, int], RowRef] = {}
        self.todo: list[tuple[str, int]] = []
        self.executed = 0
        self.references: References | None = None
        self._calls: dict[tuple[str, str], tuple[Call, float]] = {}
        self._judge: Blob | None = None

    def resume(self, old: RunConfig | None) -> None:
        """Reuse the verdicts recorded under `old` that still hold; set the others aside."""
        if old is not None:
            self.config.created = old.created or self.config.created
        self.old = old if old is not None and old.same_execution(self.config) else None
        if old is not None and self.old is None:
            self.run.set_aside_results()  # other execution settings or dataset: earlier verdicts no longer apply
        self.done = reusable_verdicts(self.run, self.plan) if self.old is not None else {}
        self.todo = [key for key in self.plan.digests if key not in self.done]

    def keep_config(self) -> None:
        """Nothing to execute: record the config, keeping the execution facts of the verdicts reused."""
        if self.old is not None:
            self.config.execution = self.old.execution
        self.run.write_config(self.config)
        self.progress.start(self.expected, Counter(r.status for r in self.done.values()))
        self.progress.stop()

    def start(self, executor: Executor, calibrated: dict[str, dict] | None = None) -> None:
        """Bind an entered executor. `calibrated` is a cache of limits shared by the runs of one command."""
        self.executor = executor
        if self.bench.score_tiers:  # call tiers: the reference outputs they are judged against (cached)
            self.references = References(self.bench, executor.fingerprint, self.execution.memory_bytes)
            self.references.ensure(executor, self.tasks)
        if self.old is not None and self.old.execution.fingerprint != executor.fingerprint:
            self.run.set_aside_results()  # another execution environment: earlier verdicts no longer apply
            self.done, self.todo = {}, list(self.plan.digests)
        self.config.execution.sandbox = dict(executor.info)
        self.config.execution.limits = self._limits(self.tasks, calibrated if calibrated is not None else {})
        self.run.write_config(self.config)
        self._executed_before = executor.stats.get("executed", 0)
        self.progress.start(self.expected, Counter(r.status for r in self.done.values()))

    def _limits(self, tasks: list[str], calibrated: dict[str, dict]) -> dict[str, dict]:
        """Per-task limits, each with how the reference solution fared under them ("reference"): calibrated
        from it, or checked under --timeout, or kept from the run being resumed."""
        if self.bench.score_tiers:
            return {t: self._tier_limits(t) for t in tasks}
        known = {**(self.old.execution.limits if self.old and self.done else {}), **calibrated}
        missing = [t for t in tasks if "reference" not in known.get(t, {})]
        if missing:
            references = {t: astuple(self.bench.canonical(self.bench.get(t))) for t in missing}
            memory = self.execution.memory_bytes
            if self.execution.timeout is None:
                found = limits.calibrate(self.executor, references, memory)
            else:
                found = limits.check(self.executor, references, float(self.execution.timeout), memory)
            calibrated.update(found)
            known.update(found)
        return known

    def _tier_limits(self, task: str) -> dict[str, Any]:
        """What config.json records of a task's tiers: each tier's CPU limit and the reference's CPU time (the
        per-input limits follow from the cached reference, or all equal --timeout)."""
        out, passed = {}, True
        for tier in self.bench.canonical(self.bench.get(task)).tiers:
            ref = self.references.tier(task, tier.name)
            limits = self._input_limits(ref)
            out[tier.name] = {"cpu": self.bench.tier_cpu(limits), "reference_cpu": round(sum(ref.cpu), 4)}
            # the reference passes under the run's limits when it failed no input and none exceeds its limit
            passed &= not ref.failed and all(c <= lim for c, lim in zip(ref.cpu, limits))
        return {"tiers": out, "reference": Status.PASSED if passed else Status.FAILED}

    def _input_limits(self, ref: TierReference) -> list[float]:
        if self.execution.timeout is not None:
            return [float(self.execution.timeout)] * len(ref.cpu)
        return self.bench.input_limits(ref.cpu)

    def execute(self, programs: Iterable[tuple[Sample, Program]]) -> None:
        """Run `programs` (those without a reusable verdict), recording each verdict as it arrives."""
        try:
            self._record(programs)
        finally:
            self._stopped()

    def background(self) -> "BackgroundRun":
        return BackgroundRun(self)

    def _record(self, programs: Iterable[tuple[Sample, Program]]) -> None:
        pending: dict[tuple[str, int], dict[str, Any]] = {}  # tier verdicts of samples with call tiers
        for (s, p, tier), verdict in self.executor.run(self._jobs(programs)):
            if tier is None:
                row = self._row(s, p, verdict, {"status": verdict.status, "reason": verdict.reason})
            else:
                tiers = pending.setdefault((s.task_id, s.sample_index), {})
                tiers[tier] = verdict
                if len(tiers) < len(p.tiers):
                    continue
                del pending[(s.task_id, s.sample_index)]
                row = self._tiered_row(s, p, tiers)
            self.run.append(row)
            self.progress.advance(row)

    def _jobs(self, programs: Iterable[tuple[Sample, Program]]) -> Iterator[tuple[tuple, Job]]:
        memory, cpu = self.execution.memory_bytes, self.config.execution.limits
        for s, p in programs:
            if not p.tiers:
                yield (s, p, None), limits.job(p.solution, p.test, cpu[s.task_id]["cpu"], memory)
                continue
            for tier in p.tiers:
                yield (s, p, tier.name), self.tier_job(s.task_id, p, tier, memory)

    def tier_job(self, task: str, program: Program, tier: CallTier, memory: int) -> Job:
        key = (task, tier.name)
        if key not in self._calls:  # built once per task and tier: every sample shares the blobs
            ref = self.references.tier(task, tier.name)
            source, spec = self.bench.judge(self.bench.get(task))
            input_limits = self._input_limits(ref)
            call = Call(tier.entry_point, Blob(tier.inputs), tuple(input_limits), expected=ref.expected,
                        judge=self._judge_blob(source), spec=tuple(sorted(spec.items())), mode=tier.mode,
                        run_all=self.execution.all_inputs, skip=tuple(sorted(ref.failed)),
                        digest_at=ref.digests, calls_cpu=self.bench.tier_cpu(input_limits))
            # The process may take longer than its calls: encoding large return values is not the sample's
            # time. The runner holds the calls to the tier's limit; this bounds the whole process.
            self._calls[key] = (call, round(2 * call.calls_cpu + ENCODING_ALLOWANCE, 3))
        call, cpu = self._calls[key]
        return Job(program.solution, "", cpu=cpu, wall=limits.wall_backstop(cpu), mem=memory, call=call)

    def _judge_blob(self, source: str) -> Blob:
        if self._judge is None or self._judge.text != source:
            self._judge = Blob(source)
        return self._judge

    def _row(self, s: Sample, p: Program, verdict: Verdict, outcome: dict[str, Any], **extra) -> ResultRow:
        return ResultRow(task_id=s.task_id, sample_index=s.sample_index, status=Status(outcome["status"]),
                         passed=outcome["status"] == Status.PASSED, reason=outcome["reason"],
                         time=round(verdict.wall, 4), cpu_time=round(verdict.cpu, 4), finished_at=now_iso(),
                         program=p.digest(), attempts=verdict.attempts, sandbox=verdict.sandbox,
                         output=verdict.output, node=verdict.extra.get("node") or LOCAL_NODE, extra=extra)

    def _tiered_row(self, s: Sample, p: Program, tiers: dict[str, Verdict]) -> ResultRow:
        """One row from a sample's tier verdicts, combined by the dataset's rule."""
        outcome = self.bench.combine(self.bench.get(s.task_id),
                                     {name: {"status": v.status, "reason": v.reason, **v.extra}
                                      for name, v in tiers.items()})
        ordered = [tiers[t.name] for t in p.tiers]
        worst = next((v for v in ordered if v.status != Status.PASSED), ordered[-1])
        total = Verdict(worst.status, cpu=sum(v.cpu for v in ordered), wall=sum(v.wall for v in ordered),
                        output=worst.output, attempts=max(v.attempts for v in ordered), sandbox=worst.sandbox,
                        extra={"node": worst.extra.get("node")})
        fields = {k: v for k, v in outcome.items() if k not in ("status", "reason")}
        return self._row(s, p, total, outcome, **fields)

    def _stopped(self) -> None:
        self.run.close()
        self.progress.stop()
        self.executed = self.executor.stats.get("executed", 0) - self._executed_before

    def finish(self, ks: list[int]) -> dict[str, Any]:
        """Compact results.jsonl to one row per sample (input order) and write summary.json."""
        index = self.run.index_results()
        refs = [index[key] for key, digest in self.plan.digests.items()
                if key in index and index[key].program == digest]
        if index:
            self.run.rewrite_from(refs)
        summary = summary_lib.summarize(refs, ks, len(self.plan.digests), self.config.dataset.name,
                                        tiers=self.bench.score_tiers)
        summary["dataset_sha256"] = self.bench.sha256
        summary["reference_solutions"] = self.reference_solutions()
        self.run.write_summary(summary)
        return summary

    def notes(self) -> list[str]:
        """What a user should hear about this execution besides the scores."""
        refs = self.references
        if refs is None or not refs.computed_tasks:
            return []
        return [f"computed the reference outputs of {refs.computed_tasks} problems in {refs.computed_seconds:.1f} s, "
                f"once for this sandbox (cached in {refs.path})"]

    def reference_solutions(self) -> dict[str, Any]:
        """How the benchmark's own solutions of the run's problems fared under the run's limits: a sandbox that
        lacks something, or limits too tight for this machine, shows here before it deflates every score."""
        recorded = self.config.execution.limits
        tasks = list(self.plan.per_task)
        checked = [t for t in tasks if "reference" in recorded.get(t, {})]
        failed = [t for t in checked if recorded[t]["reference"] != Status.PASSED]
        out: dict[str, Any] = {"problems": len(checked), "passed": len(checked) - len(failed), "failed": failed}
        if len(checked) < len(tasks):  # a run directory of an older release, resumed with nothing to run
            out["unchecked"] = len(tasks) - len(checked)
        if self.references is not None and self.references.failures(tasks):
            out["failed_inputs"] = {t: {tier: sorted(f) for tier, f in tiers.items()}
                                    for t, tiers in self.references.failures(tasks).items()}
        return out


def astuple(program: Program) -> tuple[str, str]:
    return program.solution, program.test


def reusable_verdicts(run: RunDir, plan: Plan) -> dict[tuple[str, int], RowRef]:
    """Recorded verdicts of exactly these programs; `error` rows are not answers and run again."""
    return {key: ref for key, ref in run.index_results().items()
            if plan.digests.get(key) == ref.program and ref.status != Status.ERROR}


class BackgroundRun:
    """The stage's executor on a thread of its own, fed (sample, program) pairs from a queue while a
    producer (a generator of completions) goes on in the calling thread. `put` and `finish` re-raise the
    thread's failure (a sandbox error) in the caller."""

    _END = object()

    def __init__(self, stage: ExecutionStage):
        self.stage = stage
        self._queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="coderun-execute", daemon=True)
        self._thread.start()

    def _items(self) -> Iterator[tuple[Sample, Program]]:
        while (item := self._queue.get()) is not self._END:
            yield item

    def _main(self) -> None:
        try:
            self.stage._record(self._items())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller by check()
            self.error = exc

    def put(self, sample: Sample, program: Program) -> None:
        self.check()
        self._queue.put((sample, program))

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def stop(self, timeout: float) -> bool:
        """Give up (the producer failed): no more programs; wait up to `timeout` s for those in flight.
        True when the thread is done (the run file is then closed; otherwise it stays open under the
        writer rather than closed beneath it)."""
        try:
            while True:  # programs not yet handed to the pool are dropped: they have no verdict to wait for
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(self._END)
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if done:
            self.stage._stopped()
        else:
            self.stage.progress.stop()
        return done

    def finish(self) -> None:
        """No more programs: wait for the verdicts of those queued."""
        self._queue.put(self._END)
        while self._thread.is_alive():
            self._thread.join(0.2)
        self.stage._stopped()
        self.check()
