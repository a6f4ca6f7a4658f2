"""The parts every run's options are made of: which problems (DatasetSelection), how samples execute
(ExecutionOptions) and where results go (OutputOptions). evaluate, generate and rerank compose them; the CLI
declares each part's flags once (cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coderun.errors import InputError
from coderun.execute import limits
from coderun.records import ExecutionRecord

SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
DEFAULT_MEMORY = "1g"


def parse_size(size: str, option: str = "--memory") -> int:
    """'512m', '2g', '1024' -> bytes; anything else is an InputError naming the option and the value."""
    text = str(size).strip().lower().rstrip("b")
    try:
        if text and text[-1] in SIZE_UNITS:
            value = int(float(text[:-1]) * SIZE_UNITS[text[-1]])
        else:
            value = int(text)
    except ValueError:
        raise InputError(f"{option} takes a size like 512m or 2g, got {size!r}") from None
    if value <= 0:
        raise InputError(f"{option} must be positive, got {size!r}")
    return value


@dataclass
class DatasetSelection:
    """Which benchmark, from which file, and which of its problems."""

    name: str = "humaneval"
    path: str | None = None  # another copy of the dataset file
    from_hub: bool = False
    challenge_tests: bool = False  # MBPP: also run challenge_test_list
    task_ids: list[str] | None = None
    strict: bool = False  # HumanEval, MBPP: the asserts as call tests, judged outside the sample's process

    def load(self):
        """The loaded Benchmark (not restricted to task_ids: callers select, since samples may name any)."""
        from coderun import datasets

        options = datasets.base.loader_options(self.challenge_tests, self.strict)
        return datasets.load(self.name, path=self.path, from_hub=self.from_hub, **options)


@dataclass
class ExecutionOptions:
    """How samples run. `settings()` is what decides a verdict besides the program: change any of it and
    recorded verdicts no longer apply."""

    timeout: float | None = None  # CPU seconds per sample; None: calibrated per problem
    workers: int | None = None  # sandboxes (per node with ray); None: the CPU count
    provider: str = "docker"
    memory: str | None = None  # per sample (and sandbox); None: the dataset's need, else DEFAULT_MEMORY
    ray: str | None = None  # a Ray cluster address ("auto", "HOST:PORT", "ray://..."): one pool per node
    all_inputs: bool = False  # call tiers (HumanEval+, MBPP+): run every input and count those passed
    language: str = "python"  # of the dataset's programs: which sandbox image runs them

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory or DEFAULT_MEMORY)

    def for_dataset(self, name: str) -> "ExecutionOptions":
        """These options with the memory resolved: --memory if given, else what the dataset needs."""
        from coderun import datasets, languages

        info = datasets.info(name)
        language = languages.get(info.language)
        if self.memory is not None:
            return replace(self, language=language.key)
        default = info.memory or (f"{language.memory // (1 << 20)}m" if language.steps else None)
        return replace(self, memory=default or DEFAULT_MEMORY, language=language.key)

    def settings(self) -> dict[str, Any]:
        settings = {"timeout": self.timeout, "memory": self.memory or DEFAULT_MEMORY, "provider": self.provider,
                    "floor": limits.FLOOR, "factor": limits.FACTOR}
        if self.all_inputs:  # only when set: runs recorded before the option existed keep their settings
            settings["all_inputs"] = True
        if self.language != "python":  # likewise: Python runs' settings read as they always have
            settings["language"] = self.language
        return settings

    def provider_options(self) -> dict[str, Any]:
        """What every provider takes (and ignores where it does not apply)."""
        return {"memory": self.memory_bytes, "language": self.language}

    @classmethod
    def of_run(cls, record: ExecutionRecord) -> "ExecutionOptions":
        """The options a finished run executed with (reranking runs more programs the same way)."""
        s = record.settings
        return cls(timeout=s.get("timeout"), workers=record.workers, provider=s.get("provider") or "docker",
                   memory=s.get("memory") or "1g", all_inputs=bool(s.get("all_inputs")),
                   language=s.get("language") or "python")


@dataclass
class OutputOptions:
    """Where the run directory is and which pass@k to report."""

    out: str | None = None
    k: list[int] | None = None  # None: 1, 10, 100 where every problem's sample count allows

    def out_dir(self, default: str | Path) -> Path:
        return Path(self.out) if self.out else Path(default)
