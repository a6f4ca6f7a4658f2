"""Joins the stages: samples -> programs -> sandbox pool -> result rows -> summary, resumably.

Each stage meets the next in plain records; nothing here knows how a benchmark builds its program (the
dataset module does) or how a sandbox runs it (the pool does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import coderun
from coderun import datasets, limits, scoring
from coderun.datasets.base import Benchmark, Program
from coderun.errors import InputError
from coderun.execute.base import parse_size
from coderun.runs import ResultRow, RunDir, latest_rows, now_iso
from coderun.samples import Sample, read_samples

CONFIG_FORMAT = 1


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


def load_benchmark(name: str, path: str | None, from_hub: bool, challenge_tests: bool,
                   task_ids: list[str] | None) -> Benchmark:
    options = {"challenge_tests": True} if challenge_tests else {}
    bench = datasets.load(name, path=path, from_hub=from_hub, **options)
    return bench.select(task_ids) if task_ids else bench


def evaluate(opts: EvaluateOptions, progress: Progress | None = None) -> Outcome:
    """`coderun evaluate`: score a samples file, reusing every verdict an earlier run recorded."""
    progress = progress or Progress()
    bench = load_benchmark(opts.dataset, opts.dataset_path, opts.from_hub, opts.challenge_tests, opts.task_ids)
    samples = read_samples(opts.samples, bench)
    if opts.task_ids:
        wanted = {p.task_id for p in bench.problems}
        samples = [s for s in samples if s.task_id in wanted]
        if not samples:
            raise InputError("no samples for the selected --task-ids")
    per_task = Counter(s.task_id for s in samples)
    ks = scoring.resolve_ks(opts.k, per_task)
    programs = [(s, _program(bench, s)) for s in samples]
    outcome = execute(opts, bench, programs, progress)
    outcome.summary = _finish(RunDir(outcome.run_dir), bench, programs, ks, opts.dataset)
    if len(per_task) < len(bench):
        outcome.notes.append(f"the samples cover {len(per_task)} of {len(bench)} problems; "
                             f"pass@k is over those {len(per_task)}")
    return outcome


def _program(bench: Benchmark, s: Sample) -> Program:
    return bench.program(bench.get(s.task_id), completion=s.completion, solution=s.solution)


def execute(opts: EvaluateOptions, bench: Benchmark, programs: list[tuple[Sample, Program]],
            progress: Progress) -> Outcome:
    """Run what has no verdict yet; append each verdict as it arrives."""
    run = RunDir(opts.out_dir())
    config = _config(opts, bench)
    old = run.read_config()
    reusable = old is not None and _same_execution(old, config)
    if old is not None and not reusable:
        run.set_aside_results()
    done = _reusable_rows(run, programs) if reusable else {}
    todo = [(s, p) for s, p in programs if (s.task_id, s.sample_index) not in done]
    outcome = Outcome(run.path.as_posix(), {}, reused=len(done))
    progress.start(len(programs), Counter(r.status for r in done.values()))
    if not todo:
        if old is None or not reusable:
            run.write_config(config)
        return outcome
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool

    provider = get_provider(opts.provider, **_provider_options(opts))
    memory = parse_size(opts.memory)
    try:
        with SandboxPool(provider, workers=opts.workers) as pool:
            config["execution"]["sandbox"] = pool.info
            if reusable and old["execution"].get("sandbox", {}).get("image_id") != pool.info.get("image_id"):
                run.set_aside_results()  # another sandbox image: earlier verdicts no longer apply
                done, todo = {}, programs
            config["execution"]["limits"] = _limits(opts, pool, bench, programs, memory,
                                                    old if reusable and done else None)
            run.write_config(config)
            cpu = config["execution"]["limits"]
            items = (((s, p), limits.job(p, cpu[s.task_id]["cpu"], memory)) for s, p in todo)
            for (s, p), verdict in pool.run(items):
                row = ResultRow(task_id=s.task_id, sample_index=s.sample_index, status=verdict.status,
                                passed=verdict.passed, reason=verdict.reason, time=round(verdict.wall, 4),
                                cpu_time=round(verdict.cpu, 4), finished_at=now_iso(), program=p.digest(),
                                attempts=verdict.attempts, sandbox=verdict.sandbox, output=verdict.output)
                run.append(row)
                progress.advance(row)
            outcome.executed = pool.stats["executed"]
    finally:
        run.close()
        progress.stop()
    return outcome


def _finish(run: RunDir, bench: Benchmark, programs, ks: list[int], dataset: str) -> dict[str, Any]:
    """Compact results.jsonl to one row per sample (input order) and write summary.json."""
    rows = _reusable_rows(run, programs, keep_errors=True)
    ordered = [rows[(s.task_id, s.sample_index)] for s, _ in programs if (s.task_id, s.sample_index) in rows]
    run.rewrite_results(ordered)
    summary = scoring.summarize(ordered, ks, len(programs), dataset)
    summary["dataset_sha256"] = bench.sha256
    run.write_summary(summary)
    return summary


def _reusable_rows(run: RunDir, programs, keep_errors: bool = False) -> dict[tuple[str, int], ResultRow]:
    digests = {(s.task_id, s.sample_index): p.digest() for s, p in programs}
    out = {}
    for key, row in latest_rows(run.read_results()).items():
        if digests.get(key) == row.program and (keep_errors or row.status != "error"):
            out[key] = row
    return out


def _config(opts: EvaluateOptions, bench: Benchmark) -> dict[str, Any]:
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


def _same_execution(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return (old.get("execution", {}).get("settings") == new["execution"]["settings"]
            and old.get("dataset", {}).get("sha256") == new["dataset"]["sha256"])


def _limits(opts, pool, bench: Benchmark, programs, memory: int, old) -> dict[str, dict]:
    """Per-task CPU limits: --timeout for all, or kept from the run being resumed, or calibrated now."""
    tasks = sorted({s.task_id for s, _ in programs})
    if opts.timeout is not None:
        return {t: {"cpu": float(opts.timeout)} for t in tasks}
    known = (old or {}).get("execution", {}).get("limits", {})
    missing = [bench.get(t) for t in tasks if t not in known]
    return {**known, **(limits.calibrate(pool, bench, missing, memory) if missing else {})}


def _provider_options(opts: EvaluateOptions) -> dict[str, Any]:
    if opts.provider == "docker":
        return {"image": opts.image, "memory": opts.memory, "base_image": opts.base_image}
    return {}
