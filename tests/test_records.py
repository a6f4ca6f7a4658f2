"""The run record: run directories of the previous release keep reading and resuming, and `coderun compare`
checks what a run records (prompt version, challenge tests) on runs the product wrote.

tests/data/release-0.1.0/ holds two run directories exactly as coderun 0.1.0 wrote them (an `evaluate`
run and a `coderun humaneval --backend samples` run; local provider, --timeout 1).
"""

from __future__ import annotations

import html
import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest

from coderun import compare as cmp
from coderun.records import RunConfig, Status, load_run
from tests.conftest import coderun

RELEASE = Path(__file__).parent / "data" / "release-0.1.0"
SAMPLES = RELEASE / "evaluate" / "samples.jsonl"  # 10 CodeGen-16B completions of HumanEval/1 and /3


def local_execution(**kw):
    from coderun.orchestrate.options import ExecutionOptions

    return ExecutionOptions(provider="local", timeout=1.0, workers=2, **kw)


def quietly(f, *args, **kw):
    with warnings.catch_warnings():  # the local provider warns that it does not isolate: these are our programs
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def evaluate(samples: Path, out: Path, dataset: str = "humaneval", **selection):
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import DatasetSelection, OutputOptions

    opts = EvaluateOptions(samples=str(samples), dataset=DatasetSelection(dataset, **selection),
                           execution=local_execution(), output=OutputOptions(out=str(out)))
    return quietly(evaluate, opts)


def generate(out: Path, samples: Path = SAMPLES):
    """`coderun humaneval --backend samples`: a generated run (with a prompt record) from a samples file."""
    from coderun.orchestrate import generate as generation
    from coderun.orchestrate.options import DatasetSelection, OutputOptions

    opts = generation.GenerateOptions(dataset=DatasetSelection("humaneval", task_ids=["HumanEval/1", "HumanEval/3"]),
                                      backend="samples", samples=str(samples), n=5, execution=local_execution(),
                                      output=OutputOptions(out=str(out)))
    [outcome] = quietly(generation.run, opts)
    return outcome


# ---- the previous release's run directories --------------------------------------------------------------


@pytest.mark.parametrize("name", ["evaluate", "humaneval"])
def test_a_release_0_1_0_config_reads_and_writes_back_unchanged(name):
    data = json.loads((RELEASE / name / "config.json").read_text())
    config = RunConfig.from_json(data)
    assert config.to_json() == data  # nothing lost, nothing added: fields it does not model are kept
    assert config.dataset.name == "humaneval" and config.dataset.sha256 == data["dataset"]["sha256"]
    assert config.execution.fingerprint == f"local:python-{data['execution']['sandbox']['python']}"
    if name == "humaneval":
        assert config.generated and config.prompt_version == 1
        assert config.samples_file(RELEASE / name) == RELEASE / name / "samples.jsonl"
    else:
        assert not config.generated and config.prompt_version is None
        assert config.samples_file(RELEASE / name) == RELEASE / name / "samples.jsonl"


def test_a_later_format_keeps_the_fields_it_added():
    data = json.loads((RELEASE / "evaluate" / "config.json").read_text())
    later = {**data, "format": 7, "provenance": {"signed": True},
             "execution": {**data["execution"], "scheduler": "fifo"}}
    assert RunConfig.from_json(later).to_json() == later


def test_a_release_0_1_0_run_resumes_without_running_anything_twice(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RELEASE / "evaluate", run)
    before = {(r.task_id, r.sample_index): r for r in load_run(run).rows}
    outcome = evaluate(run / "samples.jsonl", run)
    assert outcome.summary["complete"] and outcome.summary["num_samples"] == 10
    recorded_python = json.loads((RELEASE / "evaluate" / "config.json").read_text())["execution"]["sandbox"]["python"]
    if recorded_python == sys.version.split()[0]:  # the same environment: every verdict is reused
        assert (outcome.reused, outcome.executed) == (10, 0)
        assert {(r.task_id, r.sample_index): r for r in load_run(run).rows} == before
    else:  # another Python: the environment changed, so every sample runs again, once
        assert outcome.reused == 0 and outcome.executed > 0
    after = {(r.task_id, r.sample_index): (r.status, r.program) for r in load_run(run).rows}
    assert after == {key: (r.status, r.program) for key, r in before.items()}


def test_release_0_1_0_runs_compare_and_report(tmp_path):
    result = coderun("compare", str(RELEASE / "evaluate"), str(RELEASE / "humaneval"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert any("no recorded prompt version" in w for w in payload["warnings"])
    report = tmp_path / "report.html"
    result = coderun("report", str(RELEASE / "evaluate"), str(RELEASE / "humaneval"), "--html", str(report))
    assert result.returncode == 0, result.stderr
    first = json.loads(SAMPLES.read_text().splitlines()[0])["completion"].strip().splitlines()[0]
    assert html.escape(first) in report.read_text()  # the programs were found through the run record


# ---- what compare checks, on runs the product wrote ---------------------------------------------------------


def test_compare_refuses_runs_of_different_prompt_versions(tmp_path, monkeypatch):
    from coderun import prompts

    generate(tmp_path / "v1")
    monkeypatch.setattr(prompts, "PROMPT_VERSION", prompts.PROMPT_VERSION + 1)  # a later release's prompts
    generate(tmp_path / "v2")
    versions = [json.loads((tmp_path / v / "config.json").read_text())["generation"]["identity"]["prompt"]["version"]
                for v in ("v1", "v2")]
    assert versions[0] != versions[1] and all(isinstance(v, int) for v in versions)

    refused = coderun("compare", str(tmp_path / "v1"), str(tmp_path / "v2"))
    assert refused.returncode == 2
    assert f"prompt version {versions[0]} vs {versions[1]}" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    forced = coderun("compare", str(tmp_path / "v1"), str(tmp_path / "v2"), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert any("compared anyway" in w for w in json.loads(forced.stdout)["warnings"])


def test_compare_refuses_runs_with_and_without_challenge_tests(tmp_path):
    from coderun import datasets

    mbpp = datasets.load("mbpp")
    tasks = [p.task_id for p in mbpp.problems if p.extra.get("challenge_test_list")][:3]
    samples = tmp_path / "mbpp.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": mbpp.get(t).canonical_solution}) + "\n"
                               for t in tasks))
    plain = evaluate(samples, tmp_path / "plain", "mbpp")
    challenged = evaluate(samples, tmp_path / "challenged", "mbpp", challenge_tests=True)
    assert plain.summary["complete"] and challenged.summary["complete"]

    refused = coderun("compare", plain.run_dir, challenged.run_dir)
    assert refused.returncode == 2 and "challenge tests False vs True" in refused.stderr
    assert coderun("compare", plain.run_dir, challenged.run_dir, "--force").returncode == 0


def test_samples_made_elsewhere_against_a_generated_run_warn_but_compare(tmp_path):
    generated = generate(tmp_path / "generated")
    scored = evaluate(SAMPLES, tmp_path / "scored")
    result = coderun("compare", generated.run_dir, scored.run_dir, "--json")
    assert result.returncode == 0, result.stderr
    warnings_ = json.loads(result.stdout)["warnings"]
    assert any(w.startswith(f"{scored.run_dir} has no recorded prompt version") for w in warnings_)
    # and the library agrees with what the product wrote: one version, one None
    runs = [load_run(generated.run_dir), load_run(scored.run_dir)]
    assert [cmp.identity(r)["prompt version"] for r in runs] == [1, None]


def test_status_is_one_vocabulary():
    assert [s.value for s in Status] == ["passed", "failed", "timeout", "error"]
    assert Status.ERROR == "error" and json.dumps({"s": Status.PASSED}) == '{"s": "passed"}'
    row = load_run(RELEASE / "evaluate").rows[0]
    assert row.status in set(Status)
