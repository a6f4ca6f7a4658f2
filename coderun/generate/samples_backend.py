"""Completions made elsewhere (`--backend samples --samples FILE`), through the same run as generated ones.

The file is read as `coderun evaluate` reads it (JSONL with completion or solution, or generations.json).
Each request is answered with that task's samples in file order, at most `n` of them; a task with fewer
samples than asked for gets what there is. Logprob fields in the file are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from coderun.errors import InputError
from coderun.generate.base import (Adapter, Backend, Completion, EngineOptions, Request, Sampling, fingerprint_file,
                                   register)


@register("samples")
class SamplesBackend(Backend):
    name = "samples"
    verbatim = True

    @classmethod
    def check(cls, opts: EngineOptions) -> None:
        if not opts.samples:
            raise InputError("--backend samples needs --samples FILE")
        if not Path(opts.samples).is_file():
            raise InputError(f"samples file not found: {opts.samples}")

    @classmethod
    def source(cls, opts: EngineOptions) -> dict[str, Any]:
        return {"samples": str(Path(opts.samples).resolve()), "sha256": fingerprint_file(opts.samples)}

    def __init__(self, opts: EngineOptions):
        self.check(opts)
        self.path = opts.samples
        self.benchmark = opts.benchmark
        self._by_task: dict[str, list[Completion]] | None = None

    def info(self) -> dict[str, Any]:
        return {"samples": self.path}

    def generate(self, requests: list[Request], sampling: Sampling,
                 adapter: Adapter | None = None) -> Iterator[tuple[Request, list[Completion]]]:
        by_task = self._read()
        for request in requests:
            yield request, by_task.get(request.task_id, [])[:request.n]

    def _read(self) -> dict[str, list[Completion]]:
        if self._by_task is None:
            from coderun.samples import iter_samples

            if self.benchmark is None:
                raise InputError("the samples backend needs the benchmark to read task ids")
            self._by_task = {}
            for s in iter_samples(self.path, self.benchmark):
                self._by_task.setdefault(s.task_id, []).append(_completion(s))
        return self._by_task


def _completion(sample) -> Completion:
    extra = sample.extra
    cumulative = extra.get("cumulative_logprob")
    num_tokens = extra.get("num_tokens")
    return Completion(text=sample.completion if sample.completion is not None else sample.solution,
                      num_tokens=int(num_tokens) if isinstance(num_tokens, int) else 0,
                      cumulative_logprob=float(cumulative) if isinstance(cumulative, (int, float)) else None,
                      solution=sample.solution)
