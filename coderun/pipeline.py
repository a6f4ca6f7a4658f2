"""Joins the stages: samples -> programs -> sandbox pool -> result rows -> summary, resumably.

Each stage meets the next in plain records; nothing here knows how a benchmark builds its program (the
dataset module does) or how a sandbox runs it (the pool does).
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import coderun
from coderun import datasets, limits, scoring
from coderun.datasets.base import Benchmark, Program
from coderun.errors import InputError
from coderun.execute.base import parse_size
from coderun.runs import ResultRow, RowRef, RunDir, now_iso
from coderun.samples import Sample, iter_samples

CONFIG_FORMAT = 1
LOCAL_NODE = socket.gethostname()  # the `node` of rows executed on this machine (Ray rows name their node)


@dataclass
class EvaluateOptions:
    samples: str
    dataset: str = "humaneval"
    dataset_path: str | None = None
    from_hub: bool = False
    challenge_tests: bool = False
    task_ids: list[str] | None = None
    k: list[int] | None = None
    out: str | None = None
    timeout: float | None = None
    workers: int | None = None
    provider: str = "docker"
    memory: str = "1g"
    image: str | None = None
    base_image: str | None = None
    ray: str | None = None  # a Ray cluster address ("auto", "HOST:PORT", "ray://..."): one pool per node

    def out_dir(self) -> str:
        return self.out or str(Path("runs") / f"{Path(self.samples).stem}-{self.dataset}")

    def execution_settings(self) -> dict[str, Any]:
        """What decides a verdict besides the program: change any of these and programs re-run."""
        return {"timeout": self.timeout, "memory": self.memory, "provider": self.provider,
                "floor": limits.FLOOR, "factor": limits.FACTOR}


class Progress:
    """What the pipeline tells a display. The CLI renders it with rich; the default shows nothing."""

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


def load_benchmark(name: str, path: str | None, from_hub: bool, challenge_tests: bool) -> Benchmark:
    options = {"challenge_tests": True} if challenge_tests else {}
    return datasets.load(name, path=path, from_hub=from_hub, **options)


@dataclass
class Plan:
    """What a samples file asks for, without holding its code: each sample's program digest, in input
    order. Memory per sample stays at a key and a digest, however long the completions."""

    digests: dict[tuple[str, int], bytes]  # sha256 of each program, binary
    per_task: Counter


def evaluate(opts: EvaluateOptions, progress: Progress | None = None) -> Outcome:
    """`coderun evaluate`: score a samples file, reusing every verdict an earlier run recorded."""
    progress = progress or Progress()
    pending = start_pool(opts) if _may_execute(opts) else None  # boots while the data loads
    try:
        bench = load_benchmark(opts.dataset, opts.dataset_path, opts.from_hub, opts.challenge_tests)
        plan = make_plan(opts, bench)  # reads the whole file once: bad input stops here, before anything runs
        ks = scoring.resolve_ks(opts.k, plan.per_task)
        outcome = execute(opts, bench, plan, progress, pending)
    finally:
        if pending is not None:
            pending.close()
    outcome.summary = finish(RunDir(outcome.run_dir), bench, plan, ks, opts.dataset)
    if len(plan.per_task) < len(bench):
        outcome.notes.append(f"the samples cover {len(plan.per_task)} of {len(bench)} problems; "
                             f"pass@k is over those {len(plan.per_task)}")
    return outcome


def make_plan(opts: EvaluateOptions, bench: Benchmark) -> Plan:
    digests = {(sys.intern(s.task_id), s.sample_index): bytes.fromhex(p.digest()) for s, p in _programs(opts, bench)}
    if not digests:
        raise InputError("no samples for the selected --task-ids")
    return Plan(digests, Counter(task for task, _ in digests))


def _programs(opts: EvaluateOptions, bench: Benchmark) -> Iterator[tuple[Sample, Program]]:
    """The samples file, streamed, as (sample, program); --task-ids keeps only those problems."""
    wanted = {p.task_id for p in bench.select(opts.task_ids).problems} if opts.task_ids else None
    for s in iter_samples(opts.samples, bench):
        if wanted is None or s.task_id in wanted:
            yield s, bench.program(bench.get(s.task_id), completion=s.completion, solution=s.solution)


def start_pool(opts: EvaluateOptions):
    """The sandbox pool for `opts`, starting in the background (execute/pool.py PendingPool)."""
    from coderun.execute.pool import PendingPool

    connected = False
    if opts.ray:  # here, in the main thread: Ray installs signal handlers when it connects
        from coderun.cluster import connect

        connected = connect(opts.ray)
    return PendingPool(lambda: make_pool(opts, connected))


def make_pool(opts, connected: bool = False) -> Any:
    """A SandboxPool on this machine, or with --ray a RayPool with one SandboxPool per cluster node."""
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool

    if getattr(opts, "ray", None):
        from coderun.execute.ray_pool import RayPool

        pool = RayPool(opts.ray, opts.provider, provider_options(opts), workers_per_node=opts.workers)
        return pool.owns_connection() if connected else pool
    return SandboxPool(get_provider(opts.provider, **provider_options(opts)), workers=opts.workers)


def _may_execute(opts: EvaluateOptions) -> bool:
    """False when the run directory already has a summary: most likely a re-score, which needs no pool."""
    return not (Path(opts.out_dir()) / "summary.json").exists()


def execute(opts: EvaluateOptions, bench: Benchmark, plan: Plan, progress: Progress, pending=None) -> Outcome:
    """Run what has no verdict yet; append each verdict as it arrives."""
    run = RunDir(opts.out_dir())
    config = run_config(opts, bench)
    old = run.read_config()
    reusable = old is not None and same_execution(old, config)
    if old is not None and not reusable:
        run.set_aside_results()
    done = reusable_verdicts(run, plan) if reusable else {}
    todo = [key for key in plan.digests if key not in done]
    outcome = Outcome(run.path.as_posix(), {}, reused=len(done))
    progress.start(len(plan.digests), Counter(r.status for r in done.values()))
    if not todo:
        if old is None or not reusable:
            run.write_config(config)
        progress.stop()
        return outcome
    memory = parse_size(opts.memory)
    pending = pending or start_pool(opts)
    try:
        with pending.get() as pool:
            config["execution"]["sandbox"] = pool.info
            if reusable and old["execution"].get("sandbox", {}).get("image_id") != pool.info.get("image_id"):
                run.set_aside_results()  # another sandbox image: earlier verdicts no longer apply
                done, todo = {}, list(plan.digests)
                outcome.reused = 0
            tasks = sorted({task for task, _ in todo})
            config["execution"]["limits"] = cpu_limits(opts, pool, bench, tasks, memory, old if done else None)
            run.write_config(config)
            _run(pool, run, _todo_programs(opts, bench, set(todo)), config["execution"]["limits"], memory, progress)
            outcome.executed = pool.stats["executed"]
    finally:
        run.close()
        progress.stop()
    return outcome


def _todo_programs(opts, bench, todo: set) -> Iterator[tuple[Sample, Program]]:
    return ((s, p) for s, p in _programs(opts, bench) if (s.task_id, s.sample_index) in todo)


def _run(pool, run: RunDir, programs, cpu_limits: dict, memory: int, progress: Progress) -> None:
    items = (((s, p), limits.job(p, cpu_limits[s.task_id]["cpu"], memory)) for s, p in programs)
    for (s, p), verdict in pool.run(items):
        row = ResultRow(task_id=s.task_id, sample_index=s.sample_index, status=verdict.status,
                        passed=verdict.passed, reason=verdict.reason, time=round(verdict.wall, 4),
                        cpu_time=round(verdict.cpu, 4), finished_at=now_iso(), program=p.digest(),
                        attempts=verdict.attempts, sandbox=verdict.sandbox, output=verdict.output,
                        node=verdict.extra.get("node") or LOCAL_NODE)
        run.append(row)
        progress.advance(row)


def finish(run: RunDir, bench: Benchmark, plan: Plan, ks: list[int], dataset: str) -> dict[str, Any]:
    """Compact results.jsonl to one row per sample (input order) and write summary.json."""
    index = run.index_results()
    refs = [index[key] for key, digest in plan.digests.items() if key in index and index[key].program == digest]
    if index:
        run.rewrite_from(refs)
    summary = scoring.summarize(refs, ks, len(plan.digests), dataset)
    summary["dataset_sha256"] = bench.sha256
    run.write_summary(summary)
    return summary


def reusable_verdicts(run: RunDir, plan: Plan) -> dict[tuple[str, int], RowRef]:
    """Recorded verdicts of exactly these programs; `error` rows are not answers and run again."""
    return {key: ref for key, ref in run.index_results().items()
            if plan.digests.get(key) == ref.program and ref.status != "error"}


def run_config(opts: EvaluateOptions, bench: Benchmark) -> dict[str, Any]:
    return {
        "format": CONFIG_FORMAT,
        "command": "evaluate",
        "coderun_version": coderun.__version__,
        "created": now_iso(),
        "dataset": {"name": opts.dataset, "sha256": bench.sha256, "source": bench.source,
                    "challenge_tests": opts.challenge_tests, "task_ids": opts.task_ids},
        "samples": {"path": str(opts.samples)},
        "k": opts.k,
        "execution": {"settings": opts.execution_settings(), "workers": opts.workers},
    }


def same_execution(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return (old.get("execution", {}).get("settings") == new["execution"]["settings"]
            and old.get("dataset", {}).get("sha256") == new["dataset"]["sha256"])


def cpu_limits(opts, pool, bench: Benchmark, tasks: list[str], memory: int, old) -> dict[str, dict]:
    """Per-task CPU limits: --timeout for all, or kept from the run being resumed, or calibrated now."""
    if opts.timeout is not None:
        return {t: {"cpu": float(opts.timeout)} for t in tasks}
    known = (old or {}).get("execution", {}).get("limits", {})
    missing = [bench.get(t) for t in tasks if t not in known]
    return {**known, **(limits.calibrate(pool, bench, missing, memory) if missing else {})}


def provider_options(opts: EvaluateOptions) -> dict[str, Any]:
    """Every provider takes these and ignores what does not apply to it."""
    return {"image": opts.image, "memory": opts.memory, "base_image": opts.base_image}


# ---- Shared with the generation run (coderun/generation.py) ----------------------------------------------


class BackgroundRun:
    """`_run` on a thread of its own, fed (sample, program) pairs from a queue while a producer (a
    generator of completions) goes on in the calling thread. `put` and `finish` re-raise the thread's
    failure (a sandbox error) in the caller."""

    _END = object()

    def __init__(self, pool, run: RunDir, cpu_limits: dict, memory: int, progress: Progress):
        self._queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(pool, run, cpu_limits, memory, progress),
                                        name="coderun-execute", daemon=True)
        self._thread.start()

    def _items(self) -> Iterator[tuple[Sample, Program]]:
        while (item := self._queue.get()) is not self._END:
            yield item

    def _main(self, pool, run, cpu_limits, memory, progress) -> None:
        try:
            _run(pool, run, self._items(), cpu_limits, memory, progress)
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
        True when the thread is done."""
        try:
            while True:  # programs not yet handed to the pool are dropped: they have no verdict to wait for
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(self._END)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def finish(self) -> None:
        """No more programs: wait for the verdicts of those queued."""
        self._queue.put(self._END)
        while self._thread.is_alive():
            self._thread.join(0.2)
        self.check()
