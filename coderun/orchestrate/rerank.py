"""Joins a finished run directory to a reranker: candidates in, selection weights and scores out.

`coderun rerank RUN_DIR` and `--rerank` both end here. The candidates are the run's samples (its samples
file) joined with its verdicts (results.jsonl) by (task_id, sample_index) and program digest; the
reranker measures its features (kept in RUN_DIR/rerank/features.jsonl, so a killed rerank resumes and a
second method reuses the first's judge answers and probe runs), scores each problem's candidates, and
the selection is written back: every row gains `rerank_score` and `selected` (results.jsonl, stable
contract), summary.json gains the `rerank` block.
"""

from __future__ import annotations

import math
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from coderun import rerank
from coderun.datasets.base import load_checked
from coderun.errors import InputError
from coderun.orchestrate.options import ExecutionOptions
from coderun.execute.limits import TaskLimits
from coderun.orchestrate.stage import make_executor
from coderun.records import RunConfig, RunDir, Status
from coderun.rerank import stats as rm
from coderun.rerank.base import Candidate, Context, FeatureStore, Options
from coderun.samples import iter_samples

JUDGED = {"judge", "judge+exec"}


def check_options(options: Options) -> None:
    """Bad rerank options are exit 2 before anything runs."""
    rerank.get(options.method)
    if options.method in JUDGED and not options.judge_model:
        raise InputError(f"--rerank {options.method} needs --judge-model")
    if options.judge_backend == "openai" and not options.judge_base_url and options.method in JUDGED:
        raise InputError("--judge-backend openai needs --judge-base-url")


def benchmark_of(config: RunConfig, dataset_path: str | None = None):
    """The run's dataset, checked against the sha256 it was scored with."""
    d = config.dataset
    return load_checked(d.name, d.sha256, d.source, d.challenge_tests, dataset_path, d.strict)


def read_candidates(run: RunDir, config: RunConfig, bench) -> tuple[dict[str, list[Candidate]], int]:
    """(candidates per task, in sample order; samples with no usable verdict, left out)."""
    index = run.index_results()
    path = config.samples_file(run.path)
    if path is None or not path.is_file():
        raise InputError(f"{run.path}: the run's samples file {path} is gone; rerank needs the candidates' code")
    out: dict[str, list[Candidate]] = {}
    skipped = 0
    for s in iter_samples(path, bench):
        index_in_file = s.extra.get("sample_index")
        idx = index_in_file if isinstance(index_in_file, int) else s.sample_index
        ref = index.get((s.task_id, idx))
        program = bench.program(bench.get(s.task_id), completion=s.completion, solution=s.solution)
        if ref is None or ref.status == Status.ERROR or ref.program.hex() != program.digest():
            skipped += 1
            continue
        mlp = s.extra.get("mean_logprob")
        out.setdefault(s.task_id, []).append(Candidate(
            s.task_id, idx, program.solution, program.digest(),
            float(mlp) if isinstance(mlp, (int, float)) else None, ref.passed))
    if not out:
        raise InputError(f"{run.path}: no sample has a verdict to rerank (run the evaluation first)")
    return out, skipped


def rerank_run(run_dir: str, options: Options, *, judge=None, dataset_path: str | None = None,
               seed: int = 0, progress=None) -> dict[str, Any]:
    """Rerank one run directory; returns summary.json's new `rerank` block. `judge` is used when given (one
    judge shared by several run directories) and opened on demand otherwise, like the sandbox pool."""
    check_options(options)
    run = RunDir(run_dir)
    config = run.read_config()
    summary = run.read_summary()
    if config is None or summary is None:
        raise InputError(f"{run_dir}: not a finished coderun run directory (no config.json or summary.json)")
    bench = benchmark_of(config, dataset_path)
    candidates, skipped = read_candidates(run, config, bench)
    rerank.get(options.method).check_language(bench.language)
    method = rerank.get(options.method)(options)
    execution = ExecutionOptions.of_run(config.execution)
    with ExitStack() as stack:
        ctx = Context(bench, FeatureStore(run.path / "rerank" / "features.jsonl"), options,
                      pool=_opener(stack, None, lambda: make_executor(execution)),
                      judge=_opener(stack, judge, lambda: closing(_open_judge(options, run.path))),
                      cpu_limits={t: TaskLimits.from_json(v).cpu for t, v in config.execution.limits.items()},
                      memory=execution.memory_bytes)
        if progress is not None:
            ctx.progress = progress
        stack.callback(ctx.store.close)
        features = method.features(ctx, candidates)
    selection = select(method, bench, candidates, features)
    _write_rows(run, options.method, selection, features)
    block = rerank_block(method, bench, candidates, features, selection, ctx, skipped, seed)
    summary["rerank"] = block
    run.write_summary(summary)
    return block


def _opener(stack: ExitStack, given, open_):
    """A callable giving the resource: the one given, or one entered on first use and exited with `stack`
    (`open_` returns a context manager)."""
    box: list = [given]

    def get():
        if box[0] is None:
            box[0] = stack.enter_context(open_())
        return box[0]

    return get


class SharedJudge:
    """One judge for several run directories (a model with LoRA variants): started on the first question,
    closed by the caller once. With `generator` holding the generating engine, the judge asks that engine."""

    def __init__(self, options: Options, log_dir: Path, generator: "GeneratorKeeper | None" = None):
        self.options, self.log_dir, self.client, self.generator = options, log_dir, None, generator

    def ask(self, prompts: list[dict]) -> list[dict]:
        if self.client is None:
            if self.generator is not None and self.generator.backend is not None:
                from coderun.rerank.judge_client import BackendJudge

                self.client = BackendJudge(Borrowed(self.generator.backend))
            else:
                self.client = _open_judge(self.options, self.log_dir)
        return self.client.ask(prompts)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def judge_is_generator(options: Options | None, generation) -> bool:
    """Whether the judge can ask the generating engine (generation: GenerateOptions): a vLLM judge of the one
    generating model, on one local engine, with no engine options of its own (those ask for its own engine)."""
    return (options is not None and options.method in JUDGED and options.judge_backend == "vllm"
            and generation.backend == "vllm" and not generation.execution.ray
            and generation.models == [options.judge_model] and options.judge_max_model_len is None
            and options.judge_gpu_memory_utilization is None and not options.judge_enforce_eager)


class GeneratorKeeper:
    """A backend factory (generate.base.create's signature) that keeps the engine it made running after the
    generation session lets go of it, so that a judge of the same model asks it rather than loading the
    model a second time. One engine at a time; close() frees it."""

    def __init__(self):
        self.backend = None

    def create(self, name: str, opts):
        from coderun.generate.base import create

        self.close()
        self.backend = create(name, opts)
        return Borrowed(self.backend)

    def close(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.close()


class Borrowed:
    """A backend lent out: everything passes through but close(), which stays with its owner."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def _open_judge(options: Options, run_path: Path):
    from coderun.generate.base import EngineOptions, create
    from coderun.rerank.judge_client import BackendJudge, ProcessJudge

    if options.judge_backend == "openai":
        return BackendJudge(create("openai", EngineOptions(model=options.judge_model, base_url=options.judge_base_url,
                                                           api_key_env=options.judge_api_key_env)))
    engine = {"backend": "vllm", "model": options.judge_model, "max_model_len": options.judge_max_model_len,
              "gpu_memory_utilization": options.judge_gpu_memory_utilization,
              "enforce_eager": options.judge_enforce_eager}
    return ProcessJudge(engine, run_path / "rerank" / "judge.log")


def select(method, bench, candidates, features) -> dict[tuple[str, int], tuple[float, float]]:
    """{(task_id, sample_index): (score, selected weight)}."""
    out = {}
    for task_id, cands in candidates.items():
        feats = [features.get(c.key) for c in cands]
        scores = method.scores(bench.get(task_id), cands, feats)
        weights = rm.selection_weights(scores)
        for c, s, w in zip(cands, scores, weights):
            out[c.key] = (s, float(w))
    return out


def _write_rows(run: RunDir, method: str, selection, features) -> None:
    rows = run.read_results()
    for row in rows:
        score, weight = selection.get((row.task_id, row.sample_index), (None, 0.0))
        row.extra.update(rerank_method=method, rerank_score=_finite(score), selected=weight,
                         rerank_features=features.get((row.task_id, row.sample_index)))
    run.rewrite_rows(rows)


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 6)


def rerank_block(method, bench, candidates, features, selection, ctx, skipped: int, seed: int) -> dict:
    problems = [([selection[c.key][1] for c in cands], [c.passed for c in cands]) for cands in candidates.values()]
    stats = rm.rerank_summary(problems, seed=seed)
    block = {"method": method.name, "rerank@1": stats["rerank@1"]["value"], "pass@1": stats["pass@1"]["value"],
             "pass@n": stats["pass@n"]["value"], "gap_closed": stats["gap_closed"]["value"],
             "ci": {k: stats[k] for k in ("rerank@1", "pass@1", "pass@n", "gap_closed")},
             "num_problems": stats["num_problems"], "num_candidates": sum(len(c) for c in candidates.values()),
             "left_out": skipped, "information": method.information(bench), "notes": list(dict.fromkeys(ctx.notes)),
             "stats": ctx.stats}
    groups = [([method.calibration(features.get(c.key)) for c in cands], [c.passed for c in cands])
              for cands in candidates.values()]
    if groups and all(p is not None for ps, _ in groups for p in ps):
        block["calibration"] = rm.calibration_summary(groups)
    return block
