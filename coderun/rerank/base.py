"""The reranker interface, its registry, and the store that keeps what rerankers paid for.

A reranker works in two steps, so the expensive part is done once per candidate and the cheap part can be
repeated over any subset of candidates (the benchmark draws many random n = 10 subsets of a pool of 100):

- `features`: per candidate, what the method measures (a judge's P(Yes), outputs on example inputs);
  judge calls and sandbox runs happen here, and every result is kept in a FeatureStore on disk, so a
  killed rerank resumes without asking again and a run can be reranked offline;
- `scores`: per problem, from the features of the candidates at hand, one score each (a pure function).

The highest score is selected; ties are a uniform pick (stats.selection_weights). A reranker never sees
the hidden verdicts: Candidate.passed is there for scoring only, and no reranker reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar

from coderun.errors import CoderunError, InputError

REGISTRY: dict[str, type["Reranker"]] = {}


def register(name: str):
    def deco(cls):
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return deco


@dataclass
class Candidate:
    task_id: str
    sample_index: int
    code: str  # the candidate's program without the hidden tests (HumanEval: prompt + completion)
    digest: str  # sha256 of the program with its tests (results.jsonl `program`)
    mean_logprob: float | None = None
    passed: bool = False  # the hidden verdict: used to score the selection, never to make it

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.sample_index)

    @cached_property
    def code_digest(self) -> str:  # asked per feature and per selection: hashed once
        return hashlib.sha256(self.code.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Options:
    """What a rerank run was asked for; the judge fields matter only to methods with a judge."""

    method: str
    judge_model: str | None = None
    judge_backend: str = "vllm"  # vllm | openai
    judge_base_url: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    judge_chat: bool = False
    judge_pairwise: int = 0  # > 1: a pairwise tie-break among the top this many candidates
    judge_max_model_len: int | None = None
    judge_gpu_memory_utilization: float | None = None
    judge_enforce_eager: bool = False

    def judge_identity(self) -> dict[str, Any]:
        return {"model": self.judge_model, "backend": self.judge_backend, "chat": self.judge_chat}


@dataclass
class Context:
    """What a reranker may use: the benchmark, the store, and the costly resources, opened on demand."""

    bench: Any
    store: "FeatureStore"
    options: Options
    pool: Callable[[], Any] | None = None  # -> a SandboxPool
    judge: Callable[[], Any] | None = None  # -> a judge client (judge.py)
    cpu_limits: dict[str, float] = field(default_factory=dict)
    memory: int = 1 << 30
    notes: list[str] = field(default_factory=list)  # warnings for summary.json
    stats: dict[str, Any] = field(default_factory=dict)  # judge calls and time, sandbox runs
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None  # for a display



class Reranker(ABC):
    name: ClassVar[str]
    # The languages whose programs the method can read or run ("*": any): the judge's prompts and the execution
    # probes are Python's; log-probabilities are any model's.
    languages: ClassVar[tuple[str, ...]] = ("python",)

    @classmethod
    def check_language(cls, language: str) -> None:
        if "*" not in cls.languages and language not in cls.languages:
            raise InputError(f"rerank method {cls.name!r} supports {', '.join(cls.languages)} programs, not "
                             f"{language}; use --rerank logprob")

    def __init__(self, options: Options):
        self.options = options

    @abstractmethod
    def information(self, bench) -> dict[str, Any]:
        """What public information the method used, and whether that leaks the hidden tests."""

    @abstractmethod
    def features(self, ctx: Context, candidates: dict[str, list[Candidate]]) -> dict[tuple[str, int], dict]:
        """Per candidate key, what the method measured (may be costly; kept in ctx.store)."""

    @abstractmethod
    def scores(self, problem, candidates: list[Candidate], features: list[dict]) -> list[float]:
        """One score per candidate of one problem; pure."""

    def calibration(self, features: dict) -> float | None:
        """The method's P(correct) of a candidate, when it has one (the judge): scored for calibration."""
        return None


class FeatureStore:
    """Append-only JSONL of measured features, keyed by (kind, settings fingerprint, item). One os.write
    per line, so a kill leaves at most one partial line, cut off when the store is next opened."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self._data: dict[tuple[str, str, str], Any] = {}
        self._fd: int | None = None
        if self.path is not None and self.path.exists():
            from coderun.records import cut_partial_line

            cut_partial_line(self.path)
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    d = json.loads(line)
                    self._data[(d["kind"], d["settings"], d["item"])] = d["value"]
                except (ValueError, KeyError, TypeError):
                    continue  # an unreadable line costs one re-measurement, never a wrong feature

    def get(self, kind: str, settings: str, item: str) -> Any:
        return self._data.get((kind, settings, item))

    def put(self, kind: str, settings: str, item: str, value: Any) -> None:
        self._data[(kind, settings, item)] = value
        if self.path is None:
            return
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        line = json.dumps({"kind": kind, "settings": settings, "item": item, "value": value}) + "\n"
        try:
            os.write(self._fd, line.encode())
        except OSError as exc:
            raise CoderunError(f"cannot write {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def fingerprint(settings: Any) -> str:
    """A short stable id of the settings a feature was measured with."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
