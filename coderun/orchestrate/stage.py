"""The execution stage every run shares: a run directory, an executor, the time limits, and resuming.

evaluate (a samples file), generate (completions as they are generated) and rerank (probe programs) all
execute through here, so the rules live once:
- a recorded verdict is reused only for the same program, under the same execution settings, dataset and
  execution environment (the executor's fingerprint); otherwise earlier verdicts are set aside;
- `error` verdicts are never reused: they are not answers, and a later run retries them;
- per-problem limits are `--timeout` for all, or kept from the run being resumed, or calibrated from
  the reference solution now (the execution service's `prepare`);
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
from coderun.datasets.base import Benchmark, Program
from coderun.execute.base import Executor
from coderun.execute.limits import TaskLimits
from coderun.execute.pool import PendingPool
from coderun.execute.service import ExecutionService
from coderun.orchestrate.options import ExecutionOptions
from coderun.records import ResultRow, RowRef, RunConfig, RunDir, Status, now_iso
from coderun.samples import Sample

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
        self.service: ExecutionService | None = None
        self.limits: dict[str, TaskLimits] = {}

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

    def start(self, executor: Executor, calibrated: dict[str, TaskLimits] | None = None) -> None:
        """Bind an entered executor. `calibrated` is a cache of limits shared by the runs of one command."""
        self.executor = executor
        self.service = ExecutionService(executor, self.execution.memory_bytes, self.execution.timeout,
                                        self.execution.all_inputs)
        if self.old is not None and self.old.execution.fingerprint != executor.fingerprint:
            self.run.set_aside_results()  # another execution environment: earlier verdicts no longer apply
            self.done, self.todo = {}, list(self.plan.digests)
        self.config.execution.sandbox = dict(executor.info)
        self.limits = self._limits(self.tasks, calibrated if calibrated is not None else {})
        self.config.execution.limits = {t: lim.to_json() for t, lim in self.limits.items()}
        self.run.write_config(self.config)
        self._executed_before = executor.stats.get("executed", 0)
        self.progress.start(self.expected, Counter(r.status for r in self.done.values()))

    def _limits(self, tasks: list[str], calibrated: dict[str, TaskLimits]) -> dict[str, TaskLimits]:
        """Per-task limits, each with how the reference solution fared under them: kept from the run being
        resumed or from this command's earlier runs, else fixed now by the execution service."""
        recorded = self.old.execution.limits if self.old and self.done else {}
        known = {**{t: TaskLimits.from_json(v) for t, v in recorded.items()}, **calibrated}
        found = self.service.prepare({t: self.bench.canonical(self.bench.get(t)) for t in tasks}, known,
                                     default_cpu=self.bench.default_cpu)
        calibrated.update(found)
        return {**known, **found}

    def execute(self, programs: Iterable[tuple[Sample, Program]]) -> None:
        """Run `programs` (those without a reusable verdict), recording each verdict as it arrives."""
        try:
            self._record(programs)
        finally:
            self._stopped()

    def background(self) -> "BackgroundRun":
        return BackgroundRun(self)

    def _record(self, programs: Iterable[tuple[Sample, Program]]) -> None:
        work = (((s, p), p, self.limits[s.task_id]) for s, p in programs)
        for (s, p), outcome in self.service.run(work):
            row = ResultRow(task_id=s.task_id, sample_index=s.sample_index, status=outcome.status,
                            passed=outcome.passed, reason=outcome.reason, time=round(outcome.wall, 4),
                            cpu_time=round(outcome.cpu, 4), finished_at=now_iso(), program=p.digest(),
                            attempts=outcome.attempts, sandbox=outcome.sandbox, output=outcome.output,
                            node=outcome.node or LOCAL_NODE, extra=dict(outcome.fields))
            self.run.append(row)
            self.progress.advance(row)

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
        summary["judging"] = self.bench.judging(list(self.plan.per_task))
        self.run.write_summary(summary)
        return summary

    def notes(self) -> list[str]:
        """What a user should hear about this execution besides the scores."""
        refs = self.service.references if self.service is not None else None
        out: list[str] = []
        if refs is None:
            return out
        if refs.computed_tasks:
            out.append(f"computed the reference outputs of {refs.computed_tasks} problems in "
                       f"{refs.computed_seconds:.1f} s, once for this sandbox (cached in {refs.path})")
        if refs.reused_checks:
            out.append(f"the reference solutions of {refs.reused_checks} problems were checked under these limits "
                       f"in an earlier run on this sandbox image: their verdicts are reused (cached in {refs.path})")
        return out

    def reference_solutions(self) -> dict[str, Any]:
        """How the benchmark's own solutions of the run's problems fared under the run's limits: a sandbox that
        lacks something, or limits too tight for this machine, shows here before it deflates every score."""
        recorded = {t: TaskLimits.from_json(v) for t, v in self.config.execution.limits.items()}
        tasks = list(self.plan.per_task)
        checked = [t for t in tasks if t in recorded and recorded[t].checked]
        failed = [t for t in checked if recorded[t].reference != Status.PASSED]
        out: dict[str, Any] = {"problems": len(checked), "passed": len(checked) - len(failed), "failed": failed}
        known = self.bench.known_bad()
        if any(t in known for t in failed):  # the dataset's own faults, listed with the reason in its module
            out["known_bad"] = {t: known[t] for t in failed if t in known}
        if len(checked) < len(tasks):  # a run directory of an older release, resumed with nothing to run
            out["unchecked"] = len(tasks) - len(checked)
        refs = self.service.references if self.service is not None else None
        if refs is not None and refs.failures(tasks):
            out["failed_inputs"] = {t: {name: sorted(f) for name, f in failed.items()}
                                    for t, failed in refs.failures(tasks).items()}
        unpassable = {t: why for t, why in self.bench.unpassable().items() if t in self.plan.per_task}
        if unpassable:  # faults of the dataset itself: no program passes these, whatever the model
            out["unpassable"] = unpassable
        return out


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
