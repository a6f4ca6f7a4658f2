"""coderun from Python: `evaluate`, `generate` and `compare`, and `Run`, a finished run directory.

The command line calls these (cli/evaluate.py, cli/generate.py: parse, call, render), so a run made from
Python is the run the CLI makes: the same run directory, the same resume rules, the same numbers. Each
function is split in two, `*_options` (checks the arguments and builds the orchestrators' option objects;
bad input is an InputError before anything runs) and `run_*` (runs them), so the CLI can add its own checks
in between. Errors are the CoderunError family (errors.py). RL rewards are in reward.py.

Heavy modules (datasets, docker, numpy, rich, vllm) are imported inside the functions: importing this
module costs little.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from coderun.errors import InputError
from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions
from coderun.records import SAMPLES_FILE, ResultRow, RunConfig, load_run

PathLike = str | os.PathLike
Ks = int | Sequence[int] | str | None


class Run:
    """One run directory: `dir`, `summary` (summary.json), `pass_at_k` ({k: fraction}), `base_pass_at_k`
    (HumanEval+/MBPP+'s base tier, else None), `rows` (results.jsonl, one ResultRow per sample) and `config`
    (config.json as a RunConfig). A Run is path-like, so it goes wherever a run directory's path does."""

    def __init__(self, path: PathLike, outcome: Any = None):
        self.dir = Path(path)
        self.outcome = outcome  # what the run that made it reports (executed, reused, notes); None when opened
        self._record = None

    @classmethod
    def open(cls, path: PathLike) -> "Run":
        """An existing run directory (read-only)."""
        p = Path(path)
        if not p.is_dir():
            raise InputError(f"run directory not found: {path}")
        if not (p / "summary.json").is_file():
            raise InputError(f"{path}: no summary.json (not a finished run; run the same command again to finish it)")
        run = cls(p)
        run._load()  # unreadable files are an InputError here, not on first use
        return run

    def _load(self):
        if self._record is None:
            self._record = load_run(self.dir)
        return self._record

    @property
    def summary(self) -> dict[str, Any]:
        if self.outcome is not None:
            return self.outcome.summary
        return self._load().summary or {}

    @property
    def pass_at_k(self) -> dict[int, float]:
        return _by_k(self.summary.get("pass@k"))

    @property
    def base_pass_at_k(self) -> dict[int, float] | None:
        return _by_k(self.summary["base_pass@k"]) if "base_pass@k" in self.summary else None

    @property
    def complete(self) -> bool:
        """Every sample has a verdict that is not a harness error (the CLI exits 1 otherwise)."""
        return bool(self.summary.get("complete"))

    @property
    def rows(self) -> list[ResultRow]:
        return self._load().rows

    @property
    def config(self) -> RunConfig:
        config = self._load().config
        if config is None:
            raise InputError(f"{self.dir}: no config.json")
        return config

    def __fspath__(self) -> str:
        return str(self.dir)

    def __repr__(self) -> str:
        scores = ", ".join(f"pass@{k}={v:.4f}" for k, v in self.pass_at_k.items())
        return f"Run({str(self.dir)!r}{', ' + scores if scores else ''})"


def _by_k(values: Mapping[str, float] | None) -> dict[int, float]:
    return {int(k): float(v) for k, v in (values or {}).items()}


# ---- evaluate ------------------------------------------------------------------------------------------


def evaluate(samples: PathLike | Iterable[Mapping[str, Any]], dataset: str = "humaneval", *, k: Ks = None,
             out: PathLike | None = None, timeout: float | None = None, workers: int | None = None,
             memory: str = "1g", provider: str = "docker", dataset_path: PathLike | None = None,
             task_ids: Sequence[Any] | str | None = None, plus_details: bool = False, progress: Any = None,
             from_hub: bool = False, challenge_tests: bool = False, ray: str | None = None,
             strict: bool = False) -> "Run":
    """Score `samples` (a samples file, or dicts with `task_id` and `completion` or `solution`), as
    `coderun evaluate` does, and return the run. Resumes: verdicts already in `out` are reused. An incomplete
    run (harness errors) is returned, not raised: check `Run.complete`."""
    opts = evaluation_options(samples, dataset, k=k, out=out, timeout=timeout, workers=workers, memory=memory,
                              provider=provider, dataset_path=dataset_path, task_ids=task_ids,
                              plus_details=plus_details, from_hub=from_hub, challenge_tests=challenge_tests, ray=ray,
                              strict=strict)
    return run_evaluation(opts, progress)


def evaluation_options(samples: PathLike | Iterable[Mapping[str, Any]], dataset: str = "humaneval", *,
                       k: Ks = None, out: PathLike | None = None, timeout: float | None = None,
                       workers: int | None = None, memory: str = "1g", provider: str = "docker",
                       dataset_path: PathLike | None = None, task_ids: Sequence[Any] | str | None = None,
                       plus_details: bool = False, from_hub: bool = False, challenge_tests: bool = False, strict: bool = False,
                       ray: str | None = None):
    """The checked EvaluateOptions of `evaluate`. Dicts are written to `samples.jsonl` in the run directory
    first (default directory: runs/python-DIGEST-DATASET, DIGEST naming the samples' content)."""
    from coderun.datasets import info
    from coderun.orchestrate.evaluate import EvaluateOptions

    info(dataset)  # an unknown name is an InputError here, before any sandbox starts
    selection = DatasetSelection(name=dataset, path=_opt_str(dataset_path), from_hub=from_hub,
                                 challenge_tests=challenge_tests, task_ids=_ids(task_ids), strict=strict)
    execution = execution_options(timeout, workers, memory, provider, plus_details, ray)
    output = OutputOptions(out=_opt_str(out), k=parse_k(k))
    path = _samples_path(samples, dataset, output)
    return EvaluateOptions(samples=path, dataset=selection, execution=execution, output=output)


def run_evaluation(opts, progress: Any = None) -> "Run":
    """Run checked EvaluateOptions; `progress`: an orchestrate.stage.Progress (None shows nothing)."""
    from coderun.orchestrate.evaluate import evaluate as run

    outcome = run(opts, progress)
    return Run(outcome.run_dir, outcome)


def execution_options(timeout: float | None = None, workers: int | None = None, memory: str = "1g",
                      provider: str = "docker", all_inputs: bool = False, ray: str | None = None) -> ExecutionOptions:
    """Checked ExecutionOptions: a bad limit, size or provider is an InputError before anything starts."""
    from coderun.execute.base import provider_names

    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout <= 3600):
        raise InputError(f"timeout is CPU seconds per sample, more than 0 and at most 3600; got {timeout!r}")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if provider not in provider_names():
        raise InputError(f"unknown sandbox provider {provider!r}; known: {', '.join(provider_names())}")
    execution = ExecutionOptions(timeout=timeout, workers=workers, provider=provider, memory=memory, ray=ray,
                                 all_inputs=all_inputs)
    execution.memory_bytes  # noqa: B018 - parses, or raises InputError naming --memory
    return execution


def parse_k(k: Ks) -> list[int] | None:
    """pass@k values from 10, [1, 10] or "1,10" (None: those the samples allow)."""
    from coderun.summary import parse_ks

    if k is None or isinstance(k, str):
        return parse_ks(k)
    values = [k] if isinstance(k, int) else list(k)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InputError(f"k takes integers like 1 or [1, 10], got {k!r}")
    return values or None


def _ids(task_ids: Sequence[Any] | str | None) -> list[str] | None:
    if task_ids is None:
        return None
    parts = task_ids.split(",") if isinstance(task_ids, str) else list(task_ids)
    ids = [str(t).strip() for t in parts if str(t).strip()]
    return ids or None


def _opt_str(value: PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


def _samples_path(samples: PathLike | Iterable[Mapping[str, Any]], dataset: str, output: OutputOptions) -> str:
    """A samples file as given, or dicts written to the run directory's samples.jsonl, so the directory holds
    everything needed to score it again or resume it."""
    if isinstance(samples, (str, os.PathLike)):
        return os.fspath(samples)
    if isinstance(samples, (Mapping, bytes)) or not isinstance(samples, Iterable):
        raise InputError(f"samples: a path or an iterable of dicts, got {type(samples).__name__}")
    parent = Path(output.out).parent if output.out else Path("runs")
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".samples-", suffix=".jsonl", dir=parent)
    try:
        digest = _write_samples(os.fdopen(fd, "w", encoding="utf-8"), samples)
        run_dir = Path(output.out) if output.out else parent / f"python-{digest[:12]}-{dataset}"
        run_dir.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, run_dir / SAMPLES_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    output.out = str(run_dir)
    return str(run_dir / SAMPLES_FILE)


def _write_samples(f, samples: Iterable[Mapping[str, Any]]) -> str:
    """JSONL, one dict a line (line N is item N - 1, so the reader's messages point at the item); returns the
    sha256 of the text."""
    h = hashlib.sha256()
    with f:
        count = 0
        for count, item in enumerate(samples, 1):
            if not isinstance(item, Mapping):
                raise InputError(f"samples item {count}: expected a dict, got {type(item).__name__}")
            try:
                line = json.dumps(dict(item), ensure_ascii=False) + "\n"
            except (TypeError, ValueError) as exc:
                raise InputError(f"samples item {count}: not JSON data ({exc})") from None
            f.write(line)
            h.update(line.encode("utf-8", "surrogatepass"))
    if count == 0:
        raise InputError("samples: no samples given")
    return h.hexdigest()


# ---- generate ------------------------------------------------------------------------------------------


def generate(dataset: str = "humaneval", *, models: str | Sequence[str] | None = None, n: int = 1, k: Ks = None,
             temperature: float | None = None, top_p: float = 0.95, max_tokens: int = 512, seed: int = 0,
             limit: int | None = None, task_ids: Sequence[Any] | str | None = None, backend: str = "vllm",
             base_url: str | None = None, loras: Sequence[PathLike] = (), base: bool = True, chat: bool = False,
             system_prompt: str | None = None, chat_template_kwargs: dict[str, Any] | None = None,
             response_prefix: str = "", prompt_style: str | None = None, samples: PathLike | None = None,
             out: PathLike | None = None, timeout: float | None = None, workers: int | None = None,
             memory: str = "1g", provider: str = "docker", dataset_path: PathLike | None = None,
             plus_details: bool = False, execute: bool = True, overwrite: bool = False, progress: Any = None,
             strict: bool = False, **engine: Any) -> list["Run"]:
    """Generate `n` completions per problem with each of `models` (and `loras`), execute and score them, as
    `coderun humaneval|mbpp` does; one Run per run directory. `dataset` is any registered dataset with a
    prompt format. `engine`: dtype, max_model_len, tensor_parallel_size, gpu_memory_utilization,
    enforce_eager, revision, api_key_env, concurrency, ray (the CLI's flags of the same names)."""
    opts = generation_options(
        dataset, models=models, n=n, k=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
        limit=limit, task_ids=task_ids, backend=backend, base_url=base_url, loras=loras, base=base, chat=chat,
        system_prompt=system_prompt, chat_template_kwargs=chat_template_kwargs, response_prefix=response_prefix,
        prompt_style=prompt_style, samples=samples, out=out, timeout=timeout, workers=workers, memory=memory,
        provider=provider, dataset_path=dataset_path, plus_details=plus_details, execute=execute,
        overwrite=overwrite, strict=strict, **engine)
    return run_generation(opts, progress)


def generation_options(dataset: str = "humaneval", *, models: str | Sequence[str] | None = None, n: int = 1,
                       k: Ks = None, task_ids: Sequence[Any] | str | None = None, loras: Sequence[PathLike] = (),
                       chat: bool = False, system_prompt: str | None = None,
                       chat_template_kwargs: dict[str, Any] | None = None, response_prefix: str = "",
                       prompt_style: str | None = None, samples: PathLike | None = None, out: PathLike | None = None,
                       timeout: float | None = None, workers: int | None = None, memory: str = "1g",
                       provider: str = "docker", dataset_path: PathLike | None = None, plus_details: bool = False,
                       ray: str | None = None, from_hub: bool = False, strict: bool = False, **rest: Any):
    """The checked GenerateOptions of `generate` (`rest`: the sampling, backend and engine options that map
    one to one onto GenerateOptions fields)."""
    from dataclasses import fields

    from coderun import prompts
    from coderun.orchestrate.generate import GenerateOptions

    known = {f.name for f in fields(GenerateOptions)}
    unknown = sorted(set(rest) - known)
    if unknown:
        raise InputError(f"generate: unknown option {unknown[0]!r}")
    selection = DatasetSelection(name=dataset, path=_opt_str(dataset_path), from_hub=from_hub,
                                 task_ids=_ids(task_ids), strict=strict)
    execution = execution_options(timeout, workers, memory, provider, plus_details, ray)
    output = OutputOptions(out=_opt_str(out), k=parse_k(k))
    prompt = prompts.PromptOptions(style=prompt_style, chat=chat, system_prompt=system_prompt,
                                   chat_template_kwargs=chat_template_kwargs, response_prefix=response_prefix)
    names = [models] if isinstance(models, str) else list(models or ())
    return GenerateOptions(dataset=selection, execution=execution, output=output, models=names,
                           loras=[os.fspath(p) for p in loras], n=n, prompt=prompt, samples=_opt_str(samples), **rest)


def run_generation(opts, progress: Any = None) -> list["Run"]:
    """Run checked GenerateOptions; `progress`: an orchestrate.generate.GenerationProgress (None: silent)."""
    from coderun.orchestrate import generate as orchestrator

    return [Run(outcome.run_dir, outcome) for outcome in orchestrator.run(opts, progress)]


# ---- compare -------------------------------------------------------------------------------------------


def compare(*runs: PathLike, baseline: int | PathLike = 0, k: Ks = None, force: bool = False):
    """Each run against the baseline (an index into `runs`, or one of them), per dataset: coderun.compare's
    Comparison (paired differences with CIs, Holm-adjusted p-values, flips). `runs`: Run objects, run
    directories, directories of runs per dataset, or results.jsonl files."""
    from coderun import compare as lib

    paths = [os.fspath(r) for r in runs]
    if len(paths) < 2:
        raise InputError("compare needs at least two runs")
    index = baseline if isinstance(baseline, int) else _index_of(paths, os.fspath(baseline))
    if not 0 <= index < len(paths):
        raise InputError(f"baseline {baseline} is not one of the {len(paths)} runs")
    return lib.compare([lib.load_entry(p) for p in paths], baseline=index, ks=parse_k(k), force=force)


def _index_of(paths: list[str], baseline: str) -> int:
    same = [i for i, p in enumerate(paths) if Path(p).resolve() == Path(baseline).resolve()]
    if not same:
        raise InputError(f"the baseline {baseline} is not among the runs compared")
    return same[0]
