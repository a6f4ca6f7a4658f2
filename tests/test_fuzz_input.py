"""Bad input, fuzzed: whatever a samples or dataset file holds, coderun answers with one clear line and
exit 2 (or, for input that happens to be valid, a complete run); never a traceback, never a partial
result passed off as complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coderun.cli import main

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                         st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                  st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
bad_rows = st.one_of(
    json_values,
    st.fixed_dictionaries({"task_id": json_values, "completion": json_values}),
    st.fixed_dictionaries({"task_id": st.sampled_from(["HumanEval/9999", "11", "", "HumanEval/-1"]),
                           "completion": st.just("    return 1\n")}),
    st.fixed_dictionaries({"task_id": st.just("HumanEval/1")}),  # neither completion nor solution
    st.fixed_dictionaries({"task_id": st.integers(10**5, 10**6).map(lambda n: "H" * n),  # huge, unknown
                           "completion": st.just("    return 1\n")}),
    st.fixed_dictionaries({"task_id": st.just("HumanEval/1"),  # huge, and not text
                           "completion": st.integers(10**4, 10**5).map(lambda n: [0] * n)}),
)


def _invoke(tmp_path: Path, data: bytes, *extra: str):
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(data)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["evaluate", str(samples), "--out", str(out), *extra])
    return result, out


def _assert_clean_refusal(result, out: Path) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("coderun: error: "), result.stderr
    assert "Traceback" not in result.output
    assert not (out / "summary.json").exists(), "a refused input must not leave a summary behind"


@SETTINGS
@given(junk=st.binary(min_size=1, max_size=2000))
def test_binary_junk(tmp_path_factory, junk):
    result, out = _invoke(tmp_path_factory.mktemp("junk"), junk)
    _assert_clean_refusal(result, out)


@SETTINGS
@given(good=st.integers(0, 3), bad=st.lists(bad_rows, min_size=1, max_size=3), seed=st.randoms())
def test_rows_with_at_least_one_defect(tmp_path_factory, good, bad, seed):
    rows = [json.dumps({"task_id": "HumanEval/1", "completion": "    return []\n"})] * good
    rows += [json.dumps(b) for b in bad]
    seed.shuffle(rows)
    data = ("\n".join(rows) + "\n").encode()
    result, out = _invoke(tmp_path_factory.mktemp("rows"), data)
    _assert_clean_refusal(result, out)


@SETTINGS
@given(text=st.one_of(st.binary(max_size=500), st.lists(json_values, min_size=1, max_size=4).map(
    lambda vs: "\n".join(json.dumps(v) for v in vs).encode())))
def test_broken_dataset_files(tmp_path_factory, text):
    tmp = tmp_path_factory.mktemp("dataset")
    dataset = tmp / "problems.jsonl"
    dataset.write_bytes(text)
    samples = tmp / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/1", "completion": "    return []\n"}) + "\n")
    result = CliRunner().invoke(main, ["evaluate", str(samples), "--dataset-path", str(dataset), "--out",
                                       str(tmp / "run")])
    _assert_clean_refusal(result, tmp / "run")


@pytest.mark.docker
def test_duplicate_rows_are_samples_and_the_run_is_complete(tmp_path):
    row = json.dumps({"task_id": "HumanEval/1", "completion": "    return []\n"})
    result, out = _invoke(tmp_path, (row + "\n" + row + "\n").encode(), "--k", "1,2")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["num_samples"] == 2 and summary["counts"]["failed"] == 2
