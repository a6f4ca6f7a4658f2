"""The generation run: prompts -> generator -> samples.jsonl -> execution stage -> results -> summary, resumable.

`coderun humaneval|mbpp` run here. Each run (a model, or a model with one LoRA adapter) has its own run
directory with the files of `coderun evaluate` (config.json, results.jsonl, summary.json) plus
samples.jsonl, one row per generated completion, appended as requests finish. Execution overlaps
generation: the execution stage runs on a thread of its own (stage.BackgroundRun) fed from a queue, and
each finished request's completions are queued at once. The executor, the calibrated time limits and the
engine outlive one run: adapters of a model share its engine, and several models share the warm pool.

Resuming: a run's identity (identity.py) is in config.json. The same identity reuses every recorded
generation and verdict; only missing completions are generated (no engine starts when none are missing)
and only programs without a verdict run. Another identity is refused unless --overwrite. Execution
settings and --k work as in `coderun evaluate` (the stage decides what verdicts still hold).
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import coderun
from coderun import datasets, prompts, summary as summary_lib
from coderun.datasets.base import Benchmark, Program
from coderun.errors import InputError
from coderun.generate import base as gen
from coderun.generate.records import SamplesLog, sample_row
from coderun.orchestrate.identity import describe_change, package_versions
from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions
from coderun.execute.limits import TaskLimits
from coderun.orchestrate.stage import ExecutionStage, Outcome, Plan, Progress, make_executor
from coderun.records import SAMPLES_FILE, DatasetRef, ExecutionRecord, RunConfig, RunDir, now_iso
from coderun.samples import Sample


@dataclass
class GenerateOptions:
    dataset: DatasetSelection = field(default_factory=DatasetSelection)
    models: list[str] = field(default_factory=list)
    backend: str = "vllm"
    loras: list[str] = field(default_factory=list)
    base: bool = True  # with --lora: evaluate the base model too
    n: int = 1
    temperature: float | None = None  # None: 0.8 when n > 1, greedy when n = 1
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    limit: int | None = None
    prompt: prompts.PromptOptions = field(default_factory=prompts.PromptOptions)
    dtype: str = "auto"
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    enforce_eager: bool = False
    revision: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    samples: str | None = None
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    overwrite: bool = False
    execute: bool = True  # False: generate only (samples.jsonl), as the benchmark does

    def sampling(self) -> gen.Sampling:
        temperature = self.temperature if self.temperature is not None else (0.8 if self.n > 1 else 0.0)
        return gen.Sampling(n=self.n, temperature=temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                            seed=self.seed)


class GenerationProgress(Progress):
    """Progress plus generation: the CLI renders both in one display."""

    def begin(self, label: str, run_dir: str) -> None: ...

    def generating(self, total: int) -> None: ...

    def generated(self, completions: int, tokens: int) -> None: ...


@dataclass
class GenerationOutcome(Outcome):
    label: str = ""
    generated: int = 0
    reused_samples: int = 0
    engine_started: bool = False


@dataclass
class Target:
    """One run: a model, optionally with a LoRA adapter, into its own run directory."""

    model: str
    adapter: gen.Adapter | None
    out: Path
    label: str


BackendFactory = Callable[[str, gen.EngineOptions], gen.Backend]


def run(opts: GenerateOptions, progress: GenerationProgress | None = None,
        backend_factory: BackendFactory = gen.create) -> list[GenerationOutcome]:
    """Every target of `opts`, one after another, on one warm pool; an outcome per run directory."""
    progress = progress or GenerationProgress()
    opts = replace(opts, execution=opts.execution.for_dataset(opts.dataset.name))
    session = Session(opts, progress, backend_factory)  # bad input (model dirs, adapters, --k) stops here
    try:
        return [session.run_target(t) for t in session.targets]
    finally:
        session.close()


def model_label(model: str) -> str:
    return Path(model).expanduser().name if gen.is_local_model(model) else model.replace("/", "--")


def make_targets(opts: GenerateOptions) -> list[Target]:
    adapters = [gen.Adapter.from_dir(p) for p in opts.loras]
    names = Counter(a.name for a in adapters)
    adapters = [gen.Adapter(f"{a.name}-{i}", a.path, a.rank) if names[a.name] > 1 else a
                for i, a in enumerate(adapters)]
    if not opts.base and not adapters:
        raise InputError("--no-base needs at least one --lora")
    variants = ([None] if opts.base or not adapters else []) + adapters
    models = opts.models or (["samples"] if opts.backend == "samples" else [])
    if not models:
        raise InputError(f"--backend {opts.backend} needs --model")
    pairs = [(m, a) for m in models for a in variants]
    if len(pairs) == 1:
        m, a = pairs[0]
        return [Target(m, a, opts.output.out_dir(Path("runs") / f"{model_label(m)}-{opts.dataset.name}"), model_label(m))]
    root = opts.output.out_dir(Path("runs") / opts.dataset.name)
    targets = []
    for m, a in pairs:  # OUT/MODEL, OUT/ADAPTER (and OUT/base), or OUT/MODEL-ADAPTER
        parts = ([model_label(m)] if len(models) > 1 else []) + ([a.name if a else "base"] if adapters else [])
        label = "-".join(parts)
        targets.append(Target(m, a, root / label, label))
    return targets


class Session:
    """What outlives one run: the problems and prompts, the warm executor, the time limits, the engine."""

    def __init__(self, opts: GenerateOptions, progress: GenerationProgress, factory: BackendFactory):
        self.opts, self.progress, self.factory = opts, progress, factory
        self.targets = make_targets(opts)
        self.bench = opts.dataset.load()
        self.info = datasets.info(opts.dataset.name)
        if self.info.prompt_family is None:
            raise InputError(f"dataset {opts.dataset.name} has no prompt format: score its samples with evaluate")
        for model in dict.fromkeys(t.model for t in self.targets):  # bad options stop before anything starts
            gen.backend_class(opts.backend).check(self.engine_options(model))
        self.problems = self._select()
        self.format = prompts.get_format(self.info.prompt_family, opts.prompt)
        self.sampling = opts.sampling()
        self.ks = summary_lib.resolve_ks(opts.output.k, {p.task_id: opts.n for p in self.problems})
        self.calibrated: dict[str, TaskLimits] = {}  # per-task limits, shared by every run of the session
        self._stack = ExitStack()
        self._executor = None
        self._backend: tuple[str, gen.Backend] | None = None

    def _select(self) -> list:
        ids = self.opts.dataset.task_ids
        problems = self.bench.select(ids).problems if ids else self.bench.problems
        if self.opts.limit is not None:
            problems = problems[: self.opts.limit]
        if not problems:
            raise InputError("no problems selected (check --limit and --task-ids)")
        return problems

    def executor(self):
        if self._executor is None:
            self._executor = self._stack.enter_context(make_executor(self.opts.execution))
        return self._executor

    def backend(self, model: str) -> gen.Backend:
        if self._backend is not None and self._backend[0] == model:
            return self._backend[1]
        self._close_backend()  # one engine at a time: the next model's replaces it
        if self.opts.execution.ray and self.opts.backend == "vllm":  # data parallel: an engine per node or GPU group
            from coderun.generate.ray_backend import RayDataParallel

            backend = RayDataParallel("vllm", self.engine_options(model), self.opts.execution.ray)
        else:
            backend = self.factory(self.opts.backend, self.engine_options(model))
        self._backend = (model, backend)
        return backend

    def engine_options(self, model: str) -> gen.EngineOptions:
        o = self.opts
        ranks = [t.adapter.rank for t in self.targets if t.adapter and t.model == model]
        return gen.EngineOptions(model=model, dtype=o.dtype, max_model_len=o.max_model_len,
                                 tensor_parallel_size=o.tensor_parallel_size,
                                 gpu_memory_utilization=o.gpu_memory_utilization, revision=o.revision, seed=o.seed,
                                 enforce_eager=o.enforce_eager,
                                 max_lora_rank=max(ranks, default=0), base_url=o.base_url,
                                 api_key_env=o.api_key_env, concurrency=o.concurrency, samples=o.samples,
                                 benchmark=self.bench)

    def _close_backend(self) -> None:
        if self._backend is not None:
            self._backend[1].close()
            self._backend = None

    def close(self) -> None:
        try:
            self._close_backend()
        finally:
            self._stack.close()

    def run_target(self, target: Target) -> GenerationOutcome:
        return TargetRun(self, target).run()


class TargetRun:
    """One run directory: check its identity, reuse what is recorded, generate what is missing while the
    execution stage runs it, then score."""

    def __init__(self, session: Session, target: Target):
        self.s, self.t = session, target
        self.run_dir = RunDir(target.out)
        self.log = SamplesLog(target.out / SAMPLES_FILE)
        self.outcome = GenerationOutcome(target.out.as_posix(), {}, label=target.label)

    def run(self) -> GenerationOutcome:
        s = self.s
        s.progress.begin(self.t.label, self.outcome.run_dir)
        identity = json.loads(json.dumps(self.identity()))  # as config.json will hold it
        old = self._check_identity(self.run_dir.read_config(), identity)
        rows = self.log.read()
        missing = self._missing(rows)
        stage = ExecutionStage(self.run_dir, s.bench, s.opts.execution, self._config(identity, old),
                               plan_of(s.bench, s.problems, rows), s.progress,
                               tasks=[p.task_id for p in s.problems], expected=len(s.problems) * s.opts.n)
        stage.resume(old)
        todo = stage.todo if s.opts.execute else []
        self.outcome.reused, self.outcome.reused_samples = len(stage.done), len(stage.plan.digests)
        if missing or todo:
            self._work(stage, rows, missing, todo)
        else:
            stage.keep_config()
        return self._finish(stage)

    # ---- identity and config -------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What defines the generations: changing any of it needs --overwrite."""
        o, t = self.s.opts, self.t
        model = gen.backend_class(o.backend).source(self.s.engine_options(t.model))
        adapter = t.adapter and {"name": t.adapter.name, "path": t.adapter.path,
                                 "sha256": gen.fingerprint(t.adapter.path)}
        return {"backend": o.backend, "model": model, "adapter": adapter, "sampling": self.s.sampling.record(),
                "prompt": self.s.format.record(), "dataset": {"name": o.dataset.name, "sha256": self.s.bench.sha256},
                "engine": {"dtype": o.dtype, "max_model_len": o.max_model_len}}

    def _check_identity(self, old: RunConfig | None, identity: dict) -> RunConfig | None:
        before = (old.generation or {}).get("identity") if old else None
        if before == identity:
            return old
        if old is None and not self.log.path.exists():
            return None
        if not self.s.opts.overwrite:
            what = "an `evaluate` run" if old and not old.generated else \
                f"generations made with other options ({describe_change(before or {}, identity)})"
            raise InputError(f"{self.t.out} holds {what}; pass --overwrite to replace them, or use another --out")
        self.log.remove()
        self.run_dir.set_aside_results()
        self.run_dir.summary_path.unlink(missing_ok=True)
        return None

    def _config(self, identity: dict, old: RunConfig | None) -> RunConfig:
        o, s = self.s.opts, self.s
        engine = {"tensor_parallel_size": o.tensor_parallel_size, "gpu_memory_utilization": o.gpu_memory_utilization,
                  "enforce_eager": o.enforce_eager, "revision": o.revision, "seed": o.seed, "base_url": o.base_url}
        backend_info = (old.generation or {}).get("backend_info", {}) if old else {}
        return RunConfig(
            command=s.info.command or o.dataset.name, coderun_version=coderun.__version__, created=now_iso(),
            dataset=DatasetRef(o.dataset.name, s.bench.sha256, s.bench.source, False, o.dataset.task_ids,
                               {"limit": o.limit, "num_problems": len(s.problems)}, strict=o.dataset.strict),
            k=o.output.k, execution=ExecutionRecord(settings=o.execution.settings(), workers=o.execution.workers),
            generation={"identity": identity, "engine": engine, "backend_info": backend_info},
            extra={"packages": package_versions()})

    # ---- work ------------------------------------------------------------------------------------------
    def _missing(self, rows: dict) -> dict[str, list[int]]:
        n = self.s.opts.n
        missing = {p.task_id: [i for i in range(n) if (p.task_id, i) not in rows] for p in self.s.problems}
        return {task: idx for task, idx in missing.items() if idx}

    def _work(self, stage: ExecutionStage, rows, missing, todo) -> None:
        s = self.s
        if not s.opts.execute:
            self.run_dir.write_config(stage.config)
            s.progress.start(stage.expected, Counter())
            try:
                self._generate(missing, None, stage.config)
            finally:
                s.progress.stop()
            return
        stage.start(s.executor(), s.calibrated)
        executor = stage.background()
        try:
            for key in stage.todo:  # recorded generations without a verdict go first
                executor.put(as_sample(rows[key]), program_of(s.bench, rows[key]))
            if missing:
                self._generate(missing, executor, stage.config)
            executor.finish()
        except BaseException:
            executor.stop(timeout=10)
            raise
        self.outcome.executed = stage.executed

    def _generate(self, missing: dict[str, list[int]], executor, config: RunConfig) -> None:
        s, t = self.s, self.t
        backend = s.backend(t.model)
        self.outcome.engine_started = True
        config.generation["backend_info"] = backend.info()
        self.run_dir.write_config(config)
        problems = {p.task_id: p for p in s.problems}
        requests = [self._request(problems[task], len(idx)) for task, idx in missing.items()]
        s.progress.generating(sum(map(len, missing.values())))
        for request, completions in backend.generate(requests, s.sampling, t.adapter):
            problem = problems[request.task_id]
            rows = [self._row(backend, problem, i, c) for i, c in zip(missing[request.task_id], completions)]
            self.log.append(rows)  # before execution: a kill never loses a generation that was executed
            self.outcome.generated += len(rows)
            s.progress.generated(len(rows), sum(c.num_tokens for c in completions))
            for row in rows if executor is not None else []:
                executor.put(as_sample(row), program_of(s.bench, row))

    def _request(self, problem, n: int) -> gen.Request:
        p = self.s.format.build(problem)
        return gen.Request(problem.task_id, n, text=p.text, messages=p.messages, stop=p.stop,
                           chat_template_kwargs=p.chat_template_kwargs, continue_final_message=p.continue_final_message)

    def _row(self, backend: gen.Backend, problem, index: int, c: gen.Completion) -> dict[str, Any]:
        if c.solution is not None:
            extracted = prompts.Extracted(c.text, c.solution)
        elif backend.verbatim and not self.s.opts.prompt.chat:
            extracted = prompts.Extracted(c.text)  # made elsewhere and already post-processed
        else:
            extracted = self.s.format.extract(problem, c.text)
        return sample_row(problem.task_id, index, c, extracted.completion, extracted.solution, self.t.adapter)

    # ---- scores ------------------------------------------------------------------------------------------
    def _finish(self, stage: ExecutionStage) -> GenerationOutcome:
        s = self.s
        rows = self.log.read()
        order = {p.task_id: i for i, p in enumerate(s.bench.problems)}
        ordered = sorted(rows, key=lambda key: (order.get(key[0], len(order)), key[1]))
        if ordered != list(rows):  # resumed generations landed out of order: the file reads in order again
            self.log.rewrite([rows[key] for key in ordered])
        stage.plan = plan_of(s.bench, s.problems, rows)
        self.outcome.summary = stage.finish(s.ks)
        o = self.outcome
        o.notes += stage.notes()
        o.notes.append(f"{o.generated} completions generated, {o.reused_samples} reused from {SAMPLES_FILE}"
                       + ("" if o.engine_started else "; no generator was started"))
        if len(s.problems) < len(s.bench):
            o.notes.append(f"{len(s.problems)} of {len(s.bench)} problems selected; pass@k is over those")
        return o


# ---- records ---------------------------------------------------------------------------------------------

def plan_of(bench: Benchmark, problems: list, rows: dict[tuple[str, int], dict]) -> Plan:
    """The execution plan of the selected problems' samples (dataset order, then sample index)."""
    keys = [key for p in problems for key in sorted(k for k in rows if k[0] == p.task_id)]
    return Plan.of((as_sample(rows[key]), program_of(bench, rows[key])) for key in keys)


def program_of(bench: Benchmark, row: dict[str, Any]) -> Program:
    return bench.program(bench.get(row["task_id"]), completion=row.get("completion"), solution=row.get("solution"))


def as_sample(row: dict[str, Any]) -> Sample:
    return Sample(row["task_id"], row["sample_index"], row.get("completion"), row.get("solution"))
