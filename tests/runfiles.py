"""Run directories made by hand for compare/gates/report tests: the same files `coderun evaluate` writes
(config.json, results.jsonl, summary.json via coderun.scoring), with verdicts chosen by the test."""

from __future__ import annotations

import json
from pathlib import Path

from coderun import scoring
from coderun.runs import ResultRow

SHA = "a" * 64
REASONS = {"failed": "AssertionError: assert candidate(1) == 2", "timeout": "CPU limit exceeded (1.0 s)",
           "error": "sandbox setup failed: boom", "passed": ""}


def rows_for(outcomes: dict[str, list]) -> list[ResultRow]:
    """outcomes: task -> list of statuses, or of (status, reason) pairs, one per sample in order."""
    rows = []
    for task, samples in outcomes.items():
        for i, sample in enumerate(samples):
            status, reason = sample if isinstance(sample, tuple) else (sample, REASONS[sample])
            rows.append(ResultRow(task_id=task, sample_index=i, status=status, passed=status == "passed",
                                  reason=reason, time=0.01, cpu_time=0.01, finished_at="2025-01-01T00:00:00Z",
                                  program=f"{task}-{i}"))
    return rows


def make_run(path: Path, outcomes: dict[str, list], dataset: str = "humaneval", sha: str = SHA,
             prompt_version: str | None = None, ks: list[int] | None = None,
             programs: dict[str, list[str]] | None = None) -> Path:
    """Write a run directory; `programs` (task -> completions) also writes a samples file it points to."""
    path.mkdir(parents=True, exist_ok=True)
    rows = rows_for(outcomes)
    config = {"format": 1, "command": "evaluate", "coderun_version": "test",
              "dataset": {"name": dataset, "sha256": sha, "source": "", "challenge_tests": False, "task_ids": None},
              "samples": {"path": ""}, "k": ks, "execution": {"settings": {}, "sandbox": {"image_id": "sha256:x"}}}
    if prompt_version is not None:
        config["prompt"] = {"version": prompt_version}
    if programs is not None:
        samples = path / "samples-in.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n"
                                   for t, codes in programs.items() for c in codes))
        config["samples"]["path"] = str(samples)
    (path / "config.json").write_text(json.dumps(config, indent=2))
    (path / "results.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in rows))
    per_task = {t: len(s) for t, s in outcomes.items()}
    summary = scoring.summarize(rows, scoring.resolve_ks(ks, per_task), len(rows), dataset)
    summary["dataset_sha256"] = sha
    (path / "summary.json").write_text(json.dumps(summary, indent=2))
    return path


def solved_set(tasks: list[str], solved: set[str], n: int = 1) -> dict[str, list]:
    """n samples per task: all passed for tasks in `solved`, all failed otherwise."""
    return {t: ["passed" if t in solved else "failed"] * n for t in tasks}


def humaneval_ids(count: int, start: int = 0) -> list[str]:
    return [f"HumanEval/{i}" for i in range(start, start + count)]
