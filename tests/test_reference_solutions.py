"""Every run checks the benchmark's own solutions under its own limits and says how they fared."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from coderun import datasets
from tests.conftest import EXAMPLE_SAMPLES, coderun

pytestmark = pytest.mark.docker


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize("timeout", [None, "1"])
def test_evaluate_records_reference_solutions_with_and_without_timeout(tmp_path, timeout):
    args = ["evaluate", str(EXAMPLE_SAMPLES), "--out", str(tmp_path / "run"), "--workers", "2"]
    result = coderun(*args, *(["--timeout", timeout] if timeout else []))
    assert result.returncode == 0, result.stderr
    tasks = {json.loads(line)["task_id"] for line in EXAMPLE_SAMPLES.read_text().splitlines()}
    assert summary(tmp_path / "run")["reference_solutions"] == {"problems": len(tasks), "passed": len(tasks),
                                                                 "failed": []}
    assert f"reference solutions: {len(tasks)} of {len(tasks)} pass" in result.stdout


def test_a_failing_reference_solution_is_named_and_the_run_still_scores(tmp_path):
    rows = [json.loads(line) for line in gzip.decompress(Path(datasets.load("humaneval").source).read_bytes())
            .decode().splitlines()]
    for row in rows:
        if row["task_id"] == "HumanEval/1":
            row["canonical_solution"] = "    return None\n"  # a broken reference: the run must say so
    dataset = tmp_path / "HumanEval-broken.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": "    return None\n"}) + "\n"
                               for t in ("HumanEval/1", "HumanEval/3")))
    for timeout in ([], ["--timeout", "1"]):
        run = tmp_path / f"run{len(timeout)}"
        result = coderun("evaluate", str(samples), "--dataset-path", str(dataset), "--out", str(run), *timeout)
        assert result.returncode == 0, result.stderr
        assert summary(run)["reference_solutions"] == {"problems": 2, "passed": 1, "failed": ["HumanEval/1"]}
        assert "the benchmark's own solution fails for HumanEval/1" in result.stderr


def test_a_generated_run_records_reference_solutions(tmp_path):
    completions = tmp_path / "c.jsonl"
    completions.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    result = coderun("humaneval", "--backend", "samples", "--samples", str(completions), "--task-ids", "HumanEval/0",
                     "--out", str(tmp_path / "run"), "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert summary(tmp_path / "run")["reference_solutions"] == {"problems": 1, "passed": 1, "failed": []}
