"""Run directories for the compare/gates/junit/report tests, made by the product itself.

`make_run` writes a samples file whose programs get the verdicts a test asks for (the reference solution
passes, a program without the function under test fails with a NameError, an endless loop times out) and
scores it with coderun's own `evaluate`, so config.json, results.jsonl and summary.json have exactly the
shape coderun writes. `error` verdicts are harness failures that a real run cannot be asked for: tests of
error rows use `rows_for` (in-memory rows, no files) on the pure functions instead.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from coderun import datasets
from coderun.datasets.base import Benchmark
from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions
from coderun.records import ResultRow, load_run

# The local provider would do (our programs are trusted), but as root its runner takes itself for the
# in-container runner: it switches samples to uid 10001 and SIGKILLs every host process of that uid after
# each job, which includes the samples of Docker sandboxes of other runs on this daemon. So: Docker.
PROVIDER = "docker"
TIMEOUT = 1.0  # CPU seconds: each "timeout" sample costs one CPU second, so tests keep them few
WRONG = "def wrong():\n    pass\n"  # the function under test is missing: the check raises NameError
ENDLESS = "while True:\n    pass\n"
REASONS = {"failed": "AssertionError: assert candidate(1) == 2", "timeout": "CPU limit exceeded (1.0 s)",
           "error": "sandbox setup failed: boom", "passed": ""}


@lru_cache(maxsize=None)
def benchmark(name: str = "humaneval", path: str | None = None) -> Benchmark:
    """A loaded benchmark, once per session."""
    return datasets.load(name, path=path)


def dataset_sha(name: str = "humaneval") -> str:
    """The sha256 of the shipped dataset file (what a run records as dataset.sha256)."""
    return benchmark(name).sha256


def dataset_copy(directory: Path, name: str = "humaneval") -> Path:
    """A copy of the shipped dataset file that differs in bytes, not in content: another sha256, the same
    problems (gzip decompressed; JSON lines re-serialised with sorted keys)."""
    shipped = resources.files("coderun.data") / benchmark(name).default_file
    data = shipped.read_bytes()
    suffix = Path(benchmark(name).default_file).suffixes
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif suffix[-1] == ".jsonl":
        data = b"".join(json.dumps(json.loads(line), sort_keys=True).encode() + b"\n"
                        for line in data.splitlines() if line.strip())
    else:  # a JSON document
        data = json.dumps(json.loads(data), sort_keys=True).encode()
    copy = directory / f"{name}-copy{''.join(s for s in suffix if s != '.gz')}"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(data)
    assert benchmark(name, str(copy)).sha256 != dataset_sha(name)
    return copy


def program_for(bench: Benchmark, task: str, status: str) -> str:
    """A whole program that gets `status` on `task` when it really runs."""
    if status == "passed":
        return bench.canonical(bench.get(task)).solution
    if status == "failed":
        return WRONG
    if status == "timeout":
        return ENDLESS
    raise ValueError(f"a real run cannot be asked for {status!r} (use rows_for on in-memory rows)")


def make_run(path: Path, outcomes: dict[str, list], dataset: str = "humaneval", ks: list[int] | None = None,
             other_dataset_copy: bool = False) -> Path:
    """Score a samples file with `coderun evaluate` into the run directory `path`.

    outcomes: task -> one entry per sample, in order: a status ("passed", "failed", "timeout"), or
    (status, program) for a program of the test's own that must get that status. The samples file is
    PATH.parent/NAME.samples.jsonl (config.json points to it). `other_dataset_copy`: score against a
    byte-different copy of the shipped dataset file, so the run records another dataset sha256.
    Every verdict is checked against the status asked for.
    """
    bench = benchmark(dataset)
    samples = path.parent / f"{path.name}.samples.jsonl"
    samples.parent.mkdir(parents=True, exist_ok=True)
    expected = {}
    with open(samples, "w") as f:
        for task, entries in outcomes.items():
            for i, entry in enumerate(entries):
                status, program = entry if isinstance(entry, tuple) else (entry, program_for(bench, task, entry))
                expected[(task, i)] = status
                f.write(json.dumps({"task_id": task, "solution": program}) + "\n")
    copy = dataset_copy(path.parent, dataset) if other_dataset_copy else None
    evaluate(EvaluateOptions(samples=str(samples),
                             dataset=DatasetSelection(name=dataset, path=str(copy) if copy else None),
                             execution=ExecutionOptions(provider=PROVIDER, timeout=TIMEOUT, workers=2),
                             output=OutputOptions(out=str(path), k=ks)))
    got = {(r.task_id, r.sample_index): r for r in load_run(path).rows}
    wrong = [f"{t} sample {i}: asked {s}, got {got[(t, i)].status} ({got[(t, i)].reason})"
             for (t, i), s in expected.items() if got[(t, i)].status != s]
    assert not wrong, "verdicts other than those asked for:\n" + "\n".join(wrong)
    return path


def rows_for(outcomes: dict[str, list]) -> list[ResultRow]:
    """In-memory rows (no files) for the pure functions. outcomes: task -> list of statuses, or of
    (status, reason) pairs, one per sample in order."""
    rows = []
    for task, samples in outcomes.items():
        for i, sample in enumerate(samples):
            status, reason = sample if isinstance(sample, tuple) else (sample, REASONS[sample])
            rows.append(ResultRow(task_id=task, sample_index=i, status=status, passed=status == "passed",
                                  reason=reason, time=0.01, cpu_time=0.01, finished_at="2025-01-01T00:00:00Z",
                                  program=f"{task}-{i}"))
    return rows


def solved_set(tasks: list[str], solved: set[str], n: int = 1) -> dict[str, list]:
    """n samples per task: all passed for tasks in `solved`, all failed otherwise."""
    return {t: ["passed" if t in solved else "failed"] * n for t in tasks}


def humaneval_ids(count: int, start: int = 0) -> list[str]:
    return [f"HumanEval/{i}" for i in range(start, start + count)]
