"""Samples files: both formats, sample_index, extra fields, and one-line InputErrors for every bad input."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coderun.errors import InputError
from coderun.samples import Sample, read_samples
from tests.conftest import DEV_SAMPLES

DEV_SET = DEV_SAMPLES


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def write(tmp_path, content, name="samples.jsonl"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def rows(*objs):
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


def expect_error(path, bench, *needles):
    with pytest.raises(InputError) as e:
        read_samples(path, bench)
    msg = str(e.value)
    assert "\n" not in msg and msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# --- reading --------------------------------------------------------------------------------------------


def test_human_eval_and_evalplus_rows(tmp_path, humaneval):
    path = write(tmp_path, rows(
        {"task_id": "HumanEval/0", "completion": "    return True\n", "mean_logprob": -0.5, "num_tokens": 7},
        {"task_id": "HumanEval/1", "solution": "def f(): pass\n", "cumulative_logprob": -3.0},
    ))
    a, b = read_samples(path, humaneval)
    assert a == Sample("HumanEval/0", 0, "    return True\n", None, {"mean_logprob": -0.5, "num_tokens": 7})
    assert b == Sample("HumanEval/1", 0, None, "def f(): pass\n", {"cumulative_logprob": -3.0})
    program = humaneval.program(humaneval.get(a.task_id), completion=a.completion, solution=a.solution)
    assert program.solution == humaneval.get("HumanEval/0").prompt + "    return True\n"


def test_sample_index_with_interleaved_tasks(tmp_path, humaneval):
    order = ["HumanEval/3", "HumanEval/1", "HumanEval/3", "HumanEval/2", "HumanEval/1", "HumanEval/3"]
    path = write(tmp_path, "\n\n".join(json.dumps({"task_id": t, "completion": str(i)}) for i, t in enumerate(order)))
    samples = read_samples(path, humaneval)
    assert [(s.task_id, s.sample_index) for s in samples] == [
        ("HumanEval/3", 0), ("HumanEval/1", 0), ("HumanEval/3", 1), ("HumanEval/2", 0), ("HumanEval/1", 1),
        ("HumanEval/3", 2)]
    groups = by_task(samples)
    assert list(groups) == ["HumanEval/3", "HumanEval/1", "HumanEval/2"]  # first appearance
    assert [s.completion for s in groups["HumanEval/3"]] == ["0", "2", "5"]  # input order


def test_extra_fields_and_both_code_fields_kept(tmp_path, humaneval):
    row = {"task_id": "HumanEval/5", "completion": "a", "solution": "b", "sample_index": 9, "meta": {"x": [1]}}
    (s,) = read_samples(write(tmp_path, rows(row)), humaneval)
    assert (s.completion, s.solution) == ("a", "b") and s.sample_index == 0
    assert s.extra == {"sample_index": 9, "meta": {"x": [1]}}


def test_mbpp_int_and_str_ids(tmp_path, mbpp):
    path = write(tmp_path, rows({"task_id": 11, "completion": "x"}, {"task_id": "11", "solution": "y"},
                                {"task_id": " 12", "completion": "z"}))
    assert [(s.task_id, s.sample_index) for s in read_samples(path, mbpp)] == [("11", 0), ("11", 1), ("12", 0)]


def test_blank_lines_crlf_and_bom(tmp_path, humaneval):
    text = "\ufeff" + rows({"task_id": "HumanEval/0", "completion": "a"}).replace("\n", "\r\n") + "\r\n   \n"
    text += rows({"task_id": "HumanEval/0", "completion": "line1\u2028still the same JSON line"})
    samples = read_samples(write(tmp_path, text), humaneval)
    assert [s.completion for s in samples] == ["a", "line1\u2028still the same JSON line"]


@pytest.mark.parametrize("name", ["generations.json", "samples.jsonl"])  # detected by content, not extension
def test_generations_json(tmp_path, humaneval, name):
    path = write(tmp_path, "\n  " + json.dumps([["p0 a", "p0 b"], [], ["p2 a"]]), name)
    samples = read_samples(path, humaneval)
    assert samples == [
        Sample("HumanEval/0", 0, None, "p0 a", {}), Sample("HumanEval/0", 1, None, "p0 b", {}),
        Sample("HumanEval/2", 0, None, "p2 a", {})]


def test_generations_json_mbpp(tmp_path, mbpp):
    samples = read_samples(write(tmp_path, json.dumps([["def f(): pass"]] * 3), "g.json"), mbpp)
    assert [s.task_id for s in samples] == ["11", "12", "13"] and samples[0].solution == "def f(): pass"


@pytest.mark.skipif(not os.path.exists(DEV_SET), reason="development samples not present")
def test_real_dev_set(humaneval):
    samples = read_samples(DEV_SET, humaneval)
    groups = by_task(samples)
    assert len(samples) == 8200 and list(groups)[0] == "HumanEval/1"
    assert set(groups) == {f"HumanEval/{i}" for i in range(1, 164, 2)}
    assert all([s.sample_index for s in g] == list(range(100)) for g in groups.values())


# --- bad input: one clear line each ---------------------------------------------------------------------

GOOD = {"task_id": "HumanEval/0", "completion": "pass"}


def test_missing_path(tmp_path, humaneval):
    expect_error(tmp_path / "nope.jsonl", humaneval, "not found", str(tmp_path / "nope.jsonl"))
    expect_error(tmp_path, humaneval, "not a file")


@pytest.mark.parametrize(
    "content,needles",
    [
        ("", ["empty"]),
        (" \n\n\t\n", ["empty"]),
        (rows(*[GOOD] * 16) + '{"task_id": "HumanEval/0", "completion": \n', ["samples.jsonl line 17: not valid JSON"]),
        (rows(GOOD, "[1, 2]"), ["line 2", "JSON object", "list"]),
        (rows(GOOD, '"text"'), ["line 2", "JSON object", "string"]),
        (rows(GOOD, "null"), ["line 2", "null"]),
        (rows(GOOD, {"completion": "x"}), ["line 2", "missing task_id"]),
        (rows(GOOD, {"task_id": "HumanEval/1"}), ["line 2", "neither completion nor solution"]),
        (rows(GOOD, {"task_id": "HumanEval/1", "completion": None}), ["line 2", "neither completion nor solution"]),
        (rows(GOOD, {"task_id": "HumanEval/1", "completion": 5}), ["line 2", "completion must be a string", "int"]),
        (rows(GOOD, {"task_id": "HumanEval/1", "solution": ["x"]}), ["line 2", "solution must be a string", "list"]),
        (rows(GOOD, GOOD, {"task_id": "HumanEval/999", "completion": "x"}), ["line 3", "'HumanEval/999'", "humaneval"]),
        (rows({"task_id": 3, "completion": "x"}), ["line 1", "unknown task id 3"]),
        (rows({"task_id": 1.5, "completion": "x"}), ["line 1", "task_id", "float"]),
        (rows({"task_id": True, "completion": "x"}), ["line 1", "task_id", "boolean"]),
        (rows({"task_id": "x" * 500, "completion": "x"}), ["line 1", "unknown task id", "..."]),
        (rows(GOOD, '{"task_id": "HumanEval/0", "completion": "\\ud800"}'), ["line 2", "surrogate"]),
        (rows(GOOD, '{"task_id": "HumanEval/0", "n": ' + "9" * 5000 + "}"), ["line 2", "not valid JSON"]),
        (rows(GOOD, "[" * 100_000), ["line 2"]),
        (rows(GOOD).encode() + b"\xff\xfe\x00junk\n", ["line 2", "not UTF-8"]),
        (rows(GOOD, GOOD) + "\x00\x01\x02binary", ["line 3", "NUL"]),
        ("[]", ["no samples"]),
        ("[[], []", ["line 1", "not valid JSON", "generations.json"]),
        (rows("[1]", GOOD), ["line 2", "not valid JSON", "generations.json"]),
        (json.dumps([["a"]] * 165), ["165 lists", "164 problems"]),
        (json.dumps([["a"], ["b", 3]]), ["list 2", "HumanEval/1", "item 2", "not a string"]),
        (json.dumps([["a"], "b"]), ["item 2", "HumanEval/1", "not a list"]),
        (json.dumps([["\ud800"]]), ["list 1", "surrogate"]),
    ],
)
def test_bad_samples(tmp_path, humaneval, content, needles):
    expect_error(write(tmp_path, content), humaneval, str(tmp_path / "samples.jsonl"), *needles)


# --- robustness: anything either parses or is an InputError ---------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# Rows that are close to valid, so the checks past "is it an object" get exercised too.
ROW = st.fixed_dictionaries(
    {},
    optional={
        "task_id": st.sampled_from(["HumanEval/0", "HumanEval/163", "HumanEval/164", 0, 11, None]) | JSON,
        "completion": st.text(max_size=10) | JSON,
        "solution": st.text(max_size=10) | JSON,
        "mean_logprob": JSON,
    },
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_or_input_error(path, bench):
    try:
        samples = read_samples(path, bench)
    except InputError as e:
        assert "\n" not in str(e) and str(e)
        return None
    # an empty completion is a valid (wrong) answer: only a row with neither field is refused
    assert samples and all(isinstance(s.task_id, str) and (s.completion is not None or s.solution is not None)
                           for s in samples)
    return samples


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_bytes(tmp_path, humaneval, data):
    read_or_input_error(write(tmp_path, data), humaneval)


@FUZZ
@given(values=st.lists(ROW | JSON, max_size=5), document=st.booleans())
def test_fuzz_json_values(tmp_path, humaneval, mbpp, values, document):
    content = json.dumps(values) if document else "".join(json.dumps(v) + "\n" for v in values)
    path = write(tmp_path, content)
    read_or_input_error(path, humaneval)
    read_or_input_error(path, mbpp)


def by_task(samples: list[Sample]) -> dict[str, list[Sample]]:
    """Samples per task id: tasks in order of first appearance, samples in input order."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.task_id, []).append(s)
    return groups


def test_multipl_e_and_bigcode_outputs_read_as_samples(tmp_path):
    """MultiPL-E's per-problem records (a directory of .json/.json.gz, or JSONL of them; its .results.json
    files skipped) and bigcode-evaluation-harness's lists, for a MultiPL-E dataset."""
    import gzip

    from coderun import datasets

    bench = datasets.load("multipl-e-humaneval-java")
    d = tmp_path / "multipl-e"
    d.mkdir()
    (d / "HumanEval_53_add.json").write_text(json.dumps({"name": "HumanEval_53_add", "completions": ["a", "b"]}))
    (d / "HumanEval_0_has_close_elements.json.gz").write_bytes(
        gzip.compress(json.dumps({"name": "HumanEval_0_has_close_elements", "completions": ["c"]}).encode()))
    (d / "HumanEval_53_add.results.json").write_text("{}")
    got = [(s.task_id, s.sample_index, s.completion) for s in read_samples(d, bench)]
    assert got == [("HumanEval_0_has_close_elements", 0, "c"), ("HumanEval_53_add", 0, "a"),
                   ("HumanEval_53_add", 1, "b")]
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(json.dumps({"name": "HumanEval_53_add", "completions": ["x"]}) + "\n"
                     + json.dumps({"task_id": "HumanEval/53", "completion": "y"}) + "\n")
    assert [(s.task_id, s.sample_index) for s in read_samples(jsonl, bench)] == [("HumanEval_53_add", 0),
                                                                                 ("HumanEval_53_add", 1)]
    bigcode = tmp_path / "generations.json"
    bigcode.write_text(json.dumps([["p0"], ["p1", "p1b"]]))
    rows = read_samples(bigcode, bench)
    assert [(s.task_id, s.solution) for s in rows] == [(bench.problems[0].task_id, "p0"),
                                                      (bench.problems[1].task_id, "p1"), (bench.problems[1].task_id, "p1b")]
    with pytest.raises(InputError, match="not a MultiPL-E completions record"):
        (d / "bad.json").write_text("[1]")
        read_samples(d, bench)
