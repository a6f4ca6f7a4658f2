"""Reranking on real runs: `exec` in real containers on candidate sets whose right pick is known, `logprob`,
the written records (results rows, summary block), resuming from the feature store, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coderun.rerank.base import Options

# HumanEval/2 shows one example, truncate_number(3.5) -> 0.5. "return 0.5" matches it and is wrong, so only
# agreement between candidates can tell it from the two correct ones (which behave alike).
TRUNCATE = {
    "    return number % 1.0\n": True,
    "    return number - int(number)\n": True,
    "    return 0.5\n": False,
    "    return number\n": False,
    "    raise ValueError('no')\n": False,
    "    while True:\n        pass\n": False,
    "    print('0000000000000000 0 1 0000000000000000')\n    return 0.0\n": False,  # forges a probe line
}
# HumanEval/0 shows two examples; one wrong candidate is the majority, but matches only one example.
CLOSE = {
    "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n": True,
    "    return False\n": False,
}
CLOSE_COPIES = {"    return False\n": 3}


def write_samples(path: Path, logprobs: bool = False) -> Path:
    rows = []
    for code in TRUNCATE:
        rows.append({"task_id": "HumanEval/2", "completion": code})
    for code in CLOSE:
        rows += [{"task_id": "HumanEval/0", "completion": code}] * CLOSE_COPIES.get(code, 1)
    if logprobs:  # the longest completion is the likeliest here
        rows = [{**r, "mean_logprob": -1.0 / len(r["completion"])} for r in rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """An evaluated run of the constructed candidates (its verdicts are the truth reranking is scored on)."""
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import ExecutionOptions, OutputOptions

    root = tmp_path_factory.mktemp("rerank")
    samples = write_samples(root / "samples.jsonl", logprobs=True)
    outcome = evaluate(EvaluateOptions(samples=str(samples), execution=ExecutionOptions(workers=2),
                                              output=OutputOptions(out=str(root / "run"))))
    assert outcome.summary["complete"]
    return root / "run"


def rows_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


@pytest.mark.docker
def test_exec_picks_the_agreeing_correct_candidates(evaluated):
    from coderun.orchestrate.rerank import rerank_run

    block = rerank_run(str(evaluated), Options("exec"))
    rows = {(r["task_id"], r["sample_index"]): r for r in rows_of(evaluated)}
    chosen = {key: r["selected"] for key, r in rows.items() if r["selected"] > 0}
    # HumanEval/2: the two correct candidates tie (same outputs), 1/2 each; HumanEval/0: the one correct
    # candidate matches both examples, the three copies of "return False" only one.
    assert chosen == {("HumanEval/2", 0): 0.5, ("HumanEval/2", 1): 0.5, ("HumanEval/0", 0): 1.0}
    assert block["rerank@1"] == 1.0 and block["pass@n"] == 1.0
    assert block["pass@1"] == pytest.approx((2 / 7 + 1 / 4) / 2)
    assert block["gap_closed"] == pytest.approx(1.0)
    assert block["method"] == "exec" and not block["information"]["leaks_hidden_tests"]
    assert "hidden tests" in block["information"]["note"]  # HumanEval's examples reappear in its tests
    # the forger and the looper got their own clusters: no forged line was read as a match
    # (probes: the one example, then two mutated inputs without an expected value)
    forger, looper = (rows[("HumanEval/2", i)]["rerank_features"] for i in (6, 5))
    assert forger["ok"] == "0--" and looper["ok"][0] in "0?"
    assert rows[("HumanEval/2", 0)]["rerank_features"]["sig"] == rows[("HumanEval/2", 1)]["rerank_features"]["sig"]
    summary = json.loads((evaluated / "summary.json").read_text())
    assert summary["rerank"]["rerank@1"] == 1.0 and summary["pass@k"]["1"] == pytest.approx(block["pass@1"])


@pytest.mark.docker
def test_rerank_resumes_from_its_feature_store(evaluated):
    from coderun.orchestrate.rerank import rerank_run

    rerank_run(str(evaluated), Options("exec"))
    again = rerank_run(str(evaluated), Options("exec"))
    assert "exec_runs" not in again["stats"], "a second rerank ran the probes again"
    assert again["rerank@1"] == 1.0


@pytest.mark.docker
def test_logprob_picks_the_likeliest_and_the_cli_reports_it(evaluated):
    result = subprocess.run([sys.executable, "-m", "coderun", "rerank", str(evaluated), "--method", "logprob",
                             "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    block = json.loads(result.stdout)
    rows = rows_of(evaluated)
    for task in ("HumanEval/0", "HumanEval/2"):
        mine = [r for r in rows if r["task_id"] == task]
        assert sum(r["selected"] for r in mine) == pytest.approx(1.0)
        best = max(r["rerank_score"] for r in mine)
        assert all((r["selected"] > 0) == (r["rerank_score"] == best) for r in mine)
    # the likeliest (longest) completion: the forger on HumanEval/2 (wrong), the correct one on HumanEval/0
    assert block["rerank@1"] == 0.5 and block["method"] == "logprob"
    assert [r["sample_index"] for r in rows if r["task_id"] == "HumanEval/2" and r["selected"]] == [6]
    assert set(block) >= {"method", "rerank@1", "pass@1", "pass@n", "gap_closed"}


@pytest.mark.docker
def test_evaluate_with_rerank_writes_the_contract(tmp_path):
    samples = write_samples(tmp_path / "s.jsonl")
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "coderun", "evaluate", str(samples), "--out", str(out),
                             "--rerank", "exec", "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["rerank"]["rerank@1"] == 1.0
    rows = rows_of(out)
    assert all("rerank_score" in r and "selected" in r for r in rows)


@pytest.mark.parametrize("args, message", [
    (["rerank", "{tmp}", "--method", "exec"], "not a finished coderun run directory"),
    (["rerank", "{tmp}", "--method", "judge"], "needs --judge-model"),
    (["rerank", "{tmp}", "--method", "judge", "--judge-model", "m", "--judge-backend", "openai"],
     "needs --judge-base-url"),
    (["evaluate", "{tmp}/none.jsonl", "--rerank", "judge"], "needs --judge-model"),
])
def test_bad_rerank_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "coderun", *[a.format(tmp=tmp_path) for a in args]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_mbpp_examples_are_labelled_as_leaking():
    from coderun import datasets
    from coderun.rerank.execution import ExecReranker, problem_examples

    bench = datasets.load("mbpp")
    info = ExecReranker(Options("exec")).information(bench)
    assert info["leaks_hidden_tests"] and "leak" in info["note"]
    first = bench.problems[0]
    examples = problem_examples(bench.public_examples(first), first.entry_point)
    assert examples and all(first.entry_point in e.call for e in examples)


@pytest.mark.docker
def test_exec_probes_of_a_call_tier_run_get_the_runs_limits(tmp_path):
    """A HumanEval+ run records its limits per tier; the probes read them (they ran at 1.0 s whatever the run's)."""
    from coderun import api, datasets
    from coderun.orchestrate.rerank import rerank_run

    problem = datasets.load("humaneval-plus").get("HumanEval/0")
    slow_first_call = problem.canonical_solution.replace(
        "    sorted_numbers =", "    if not CALLS:\n        import time\n        end = time.process_time() + 1.5\n"
                       "        while time.process_time() < end:\n            for _ in range(100000):\n                pass\n"
                       "    CALLS.append(1)\n    sorted_numbers =", 1)
    assert "CALLS.append" in slow_first_call
    run = api.evaluate([{"task_id": "HumanEval/0", "solution": "CALLS = []\n" + slow_first_call}], "humaneval-plus",
                       out=tmp_path / "run", timeout=2.5, workers=1)
    assert run.rows[0].status == "passed", run.rows[0].reason
    rerank_run(str(run.dir), Options("exec"))
    features = rows_of(run.dir)[0]["rerank_features"]
    assert features["ok"][0] == "1", features  # the first example's probe took 1.5 s of its 2.5 s


def test_a_selected_subset_of_a_call_tier_dataset_builds_programs():
    """select() kept only Benchmark's own state: a subset of humaneval-plus lost its tier cache (AttributeError)."""
    from coderun import datasets

    full = datasets.load("humaneval-plus")
    sub = full.select(["HumanEval/3", "HumanEval/0"])
    assert [p.task_id for p in sub.problems] == ["HumanEval/0", "HumanEval/3"]
    program = sub.canonical(sub.get("HumanEval/3"))
    assert program == full.canonical(full.get("HumanEval/3")) and [t.name for t in program.tiers] == ["base", "plus"]
    assert len(full) == 164
