"""`coderun evaluate`: a samples file made anywhere -> programs -> the execution stage -> summary, resumably.

Nothing here knows how a benchmark builds its program (the dataset module does) or how a sandbox runs it
(the executor does); the execution stage (stage.py) holds the resume rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import coderun
from coderun import summary as summary_lib
from coderun.datasets.base import Benchmark, Program
from coderun.errors import InputError
from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions
from coderun.orchestrate.stage import ExecutionStage, Outcome, Plan, Progress, start_executor
from coderun.records import DatasetRef, ExecutionRecord, RunConfig, RunDir, now_iso
from coderun.samples import Sample, iter_samples


@dataclass
class EvaluateOptions:
    samples: str
    dataset: DatasetSelection = field(default_factory=DatasetSelection)
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    output: OutputOptions = field(default_factory=OutputOptions)

    def out_dir(self) -> Path:
        return self.output.out_dir(Path("runs") / f"{Path(self.samples).stem}-{self.dataset.name}")


def evaluate(opts: EvaluateOptions, progress: Progress | None = None) -> Outcome:
    """Score a samples file, reusing every verdict an earlier run recorded."""
    opts = replace(opts, execution=opts.execution.for_dataset(opts.dataset.name))
    run = RunDir(opts.out_dir())
    pending = start_executor(opts.execution) if not run.summary_path.exists() else None  # boots while data loads
    try:
        bench = opts.dataset.load()
        plan = Plan.of(_programs(opts, bench))  # reads the whole file once: bad input stops here, before anything runs
        if not plan.digests:
            raise InputError("no samples for the selected --task-ids")
        ks = summary_lib.resolve_ks(opts.output.k, plan.per_task)
        stage = ExecutionStage(run, bench, opts.execution, run_config(opts, bench), plan, progress)
        stage.resume(run.read_config())
        if stage.todo:
            pending = pending or start_executor(opts.execution)
            stage.start(pending.get())
            todo = set(stage.todo)
            stage.execute((s, p) for s, p in _programs(opts, bench) if (s.task_id, s.sample_index) in todo)
        else:
            stage.keep_config()
    finally:
        if pending is not None:
            pending.close()
    outcome = Outcome(run.path.as_posix(), stage.finish(ks), executed=stage.executed, reused=len(stage.done),
                      notes=stage.notes())
    if len(plan.per_task) < len(bench):
        outcome.notes.append(f"the samples cover {len(plan.per_task)} of {len(bench)} problems; "
                             f"pass@k is over those {len(plan.per_task)}")
    return outcome


def _programs(opts: EvaluateOptions, bench: Benchmark) -> Iterator[tuple[Sample, Program]]:
    """The samples file, streamed, as (sample, program); --task-ids keeps only those problems."""
    ids = opts.dataset.task_ids
    wanted = {p.task_id for p in bench.select(ids).problems} if ids else None
    for s in iter_samples(opts.samples, bench):
        if wanted is None or s.task_id in wanted:
            yield s, bench.program(bench.get(s.task_id), completion=s.completion, solution=s.solution)


def run_config(opts: EvaluateOptions, bench: Benchmark) -> RunConfig:
    d = opts.dataset
    return RunConfig(
        command="evaluate", coderun_version=coderun.__version__, created=now_iso(),
        dataset=DatasetRef(d.name, bench.sha256, bench.source, d.challenge_tests, d.task_ids, strict=d.strict),
        samples_path=str(opts.samples), k=opts.output.k,
        execution=ExecutionRecord(settings=opts.execution.settings(), workers=opts.execution.workers))
