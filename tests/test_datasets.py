"""Dataset loaders: counts, fields, program composition, bad files, and every canonical solution passing."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

import coderun.datasets as ds
from coderun.datasets.base import Program
from coderun.datasets.humaneval import STOP_SEQUENCES
from coderun.datasets.mbpp import entry_point
from coderun.errors import CoderunError, InputError

DATA = os.path.join(os.path.dirname(ds.__file__), "..", "data")
SHA256 = {
    "humaneval": "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    "mbpp": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "mbpp-sanitized": "7fec016546acaee11dbe14f9f0bb670e59f41919f7b522a59fba34871da78551",
}


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    # Keep the datasets Arrow cache out of the user's home during tests.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def sanitized():
    return ds.load("mbpp-sanitized")


def one_line_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.strip() == msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# --- counts, sources, fields ----------------------------------------------------------------------------


def test_registry_names():
    assert {"humaneval", "mbpp", "mbpp-sanitized"} <= set(ds.dataset_names())
    with pytest.raises(InputError):
        ds.load("nope")


@pytest.mark.parametrize("name,count", [("humaneval", 164), ("mbpp", 500), ("mbpp-sanitized", 257)])
def test_counts_and_sha(name, count):
    bench = ds.load(name)
    assert len(bench) == count
    assert bench.sha256 == SHA256[name]
    assert bench.name == name


@pytest.mark.parametrize(
    "name,split,count",
    [("mbpp", "all", 974), ("mbpp", "prompt", 10), ("mbpp", "validation", 90), ("mbpp", "train", 374),
     ("mbpp-sanitized", "all", 427)],
)
def test_mbpp_splits(name, split, count):
    assert len(ds.load(name, split=split)) == count


def test_humaneval_fields(humaneval):
    p = humaneval.get("HumanEval/0")
    assert humaneval.problems[0] is p and humaneval.problems[-1].task_id == "HumanEval/163"
    assert p.entry_point == "has_close_elements"
    assert p.prompt.startswith("from typing import List\n\n\ndef has_close_elements(")
    assert p.canonical_solution.startswith(p.prompt) and "return False" in p.canonical_solution
    assert "def check(candidate):" in p.test and p.test.endswith("\n\ncheck(has_close_elements)\n")
    assert STOP_SEQUENCES == ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")


def test_mbpp_fields(mbpp):
    p = mbpp.get(367)
    assert p.task_id == "367" and p.entry_point == "is_tree_balanced"
    # The setup builds trees from the solution's Node class: it must open the test part.
    assert p.test.startswith("root = Node(1) \nroot.left = Node(2)")
    assert p.test.endswith("assert is_tree_balanced(root2) == False \n")
    assert p.prompt == p.extra["text"] == "Write a function to check if a binary tree is balanced or not."
    assert set(p.extra) == {"text", "test_list", "test_setup_code", "challenge_test_list"}
    assert len(p.extra["test_list"]) == 3
    plain = mbpp.get(11)
    assert plain.test == "\n".join(plain.extra["test_list"]) + "\n"  # no setup: asserts only, one per line
    assert [p.task_id for p in mbpp.problems[:2]] == ["11", "12"] and mbpp.problems[-1].task_id == "510"


def test_sanitized_fields(sanitized):
    p = ds.load("mbpp-sanitized", split="prompt").get(2)  # ids 1-10 are the prompt split
    assert p.prompt == p.extra["prompt"] == "Write a function to find the shared elements from the given two lists."
    assert p.extra["test_imports"] == [] and p.entry_point == "similar_elements"  # not `set`
    assert p.test.startswith("assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n")
    assert set(p.extra) == {"prompt", "test_list", "test_imports"}
    q = sanitized.get(82)  # a task whose tests need imports: they open the test part
    assert q.extra["test_imports"] == ["import math"]
    assert q.test.startswith("import math\nassert math.isclose(volume_sphere(10)")
    assert q.entry_point == "volume_sphere"


def test_crlf_normalised(mbpp):
    assert "\\r\\n" in open(os.path.join(DATA, "mbpp.jsonl")).read()  # escaped CRLF inside JSON strings
    for p in mbpp.problems:
        parts = [p.prompt, p.canonical_solution, p.test, p.extra["test_setup_code"], *p.extra["test_list"]]
        assert not any("\r" in part for part in parts), p.task_id


# --- ids and selection ----------------------------------------------------------------------------------


def test_select_and_unknown_ids(humaneval):
    sub = humaneval.select(["HumanEval/3", "HumanEval/1"])
    assert [p.task_id for p in sub.problems] == ["HumanEval/1", "HumanEval/3"]  # dataset order
    assert sub.sha256 == humaneval.sha256 and type(sub) is type(humaneval)
    assert sub.program(sub.problems[0], completion="x").solution.endswith("x")
    with pytest.raises(InputError) as e:
        humaneval.select(["HumanEval/1", "HumanEval/999"])
    one_line_error(e, "HumanEval/999")
    with pytest.raises(InputError):
        humaneval.get(0)


def test_mbpp_int_and_str_ids(mbpp):
    assert mbpp.get(11) is mbpp.get("11") is mbpp.get(" 11 ")
    assert mbpp.task_id(510) == "510"
    assert [p.task_id for p in mbpp.select([12, "11"]).problems] == ["11", "12"]
    for bad in (10, 511, "eleven", 11.0, True, None):  # 10 and 511 are outside the test split
        with pytest.raises(InputError):
            mbpp.task_id(bad)


# --- programs -------------------------------------------------------------------------------------------


def test_humaneval_program(humaneval):
    p = humaneval.get("HumanEval/2")
    body = "    return number % 1.0\n"
    assert humaneval.program(p, completion=body) == Program(p.prompt + body, p.test)
    whole = "def truncate_number(number):\n    return number % 1.0\n"
    assert humaneval.program(p, solution=whole) == Program(whole, p.test)
    assert humaneval.program(p, completion=body, solution=whole).solution == whole  # EvalPlus: solution wins
    assert humaneval.canonical(p) == Program(p.canonical_solution, p.test)
    with pytest.raises(TypeError):
        humaneval.program(p)


@pytest.mark.parametrize("name", ["mbpp", "mbpp-sanitized"])
def test_mbpp_program(name):
    bench = ds.load(name)
    p = bench.get(17)
    code = "def square_perimeter(a):\n    return 4 * a\n"
    assert bench.program(p, completion=code) == bench.program(p, solution=code) == Program(code, p.test)


def test_challenge_tests():
    plain, hard = ds.load("mbpp"), ds.load("mbpp", challenge_tests=True)
    p, q = plain.get(11), hard.get(11)
    assert p.extra["challenge_test_list"] and 'remove_Occ("hellolloll","l")' not in p.test
    assert q.test == p.test + "\n".join(p.extra["challenge_test_list"]) + "\n"
    assert hard.select([11]).get(11).test == q.test  # the option survives select()
    assert plain.get(12).test == hard.get(12).test  # no challenge tests there
    with pytest.raises(InputError):
        ds.load("mbpp-sanitized", challenge_tests=True)


def test_bad_options():
    for name, options in [("mbpp", {"split": "dev"}), ("humaneval", {"split": "test"}), ("mbpp", {"shots": 3})]:
        with pytest.raises(InputError) as e:
            ds.load(name, **options)
        one_line_error(e)


@pytest.mark.parametrize(
    "code,test,expected",
    [
        ("def f(x): pass", "assert f(1) == 2", "f"),
        ("def f(x): pass", "assert set(f(1)) == set()", "f"),
        ("import math\ndef g(x): pass", "assert math.isclose(g(1), 2)", "g"),
        ("f = lambda x: x", "assert f (1) == 1", "f"),
        ("def f(x): pass", "assert h(1) == 1", None),
        ("def f(x) pass", "assert f(1) == 1", None),
    ],
)
def test_entry_point(code, test, expected):
    assert entry_point(code, test) == expected


# --- --dataset-path and bad files -----------------------------------------------------------------------


def test_dataset_path_copy(tmp_path):
    # Brackets: `datasets` reads data_files as glob patterns, and user paths can have them.
    target = tmp_path / "copy[1]" / "he.jsonl.gz"
    target.parent.mkdir()
    shutil.copy(os.path.join(DATA, "HumanEval.jsonl.gz"), target)
    bench = ds.load("humaneval", path=str(target))
    assert len(bench) == 164 and bench.sha256 == SHA256["humaneval"] and bench.source == str(target)


def test_dataset_path_edited_with_same_mtime(tmp_path):
    # `datasets` caches on path + mtime; coderun keys its cache on content too, so an edit is seen.
    target = tmp_path / "mbpp.jsonl"
    shutil.copy(os.path.join(DATA, "mbpp.jsonl"), target)
    stat = target.stat()
    assert ds.load("mbpp", path=str(target)).get(11).prompt.startswith("Write a python function to remove")
    target.write_text(target.read_text().replace("Write a python function to remove", "EDITED", 1))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    bench = ds.load("mbpp", path=str(target))
    assert bench.get(11).prompt.startswith("EDITED") and bench.sha256 != SHA256["mbpp"]


def test_crlf_in_user_file(tmp_path):
    row = {"task_id": 11, "text": "t\r\nx", "code": "def f():\r\n    return 1\r\n", "test_list": ["assert f() == 1"],
           "test_setup_code": "import os\r\nimport re", "challenge_test_list": []}
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(row) + "\n")
    p = ds.load("mbpp", path=str(path)).get(11)
    assert p.canonical_solution == "def f():\n    return 1\n" and p.prompt == "t\nx"
    assert p.test == "import os\nimport re\nassert f() == 1\n"


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_missing_file(tmp_path, name):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as e:
        ds.load(name, path=str(missing))
    one_line_error(e, str(missing))
    with pytest.raises(InputError) as e:
        ds.load(name, path=str(tmp_path))
    one_line_error(e, str(tmp_path), "not a file")


HE_ROW = {"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
          "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"}


def he_rows(n=3):
    return [dict(HE_ROW, task_id=f"HumanEval/{i}") for i in range(n)]


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize(
    "content,needles",
    [
        ("", ["empty"]),
        ("   \n\n", ["empty"]),
        (jsonl(he_rows(2)) + "{not json\n", ["line 3", "not valid JSON"]),
        (jsonl(he_rows(2)) + "[1, 2]\n", ["line 3", "JSON object"]),
        (jsonl(he_rows(1) + [{k: v for k, v in HE_ROW.items() if k != "test"}]), ["row 2", "'test'"]),
        (jsonl([{k: v for k, v in r.items() if k != "entry_point"} for r in he_rows()]), ["row 1", "entry_point"]),
        (jsonl(he_rows(2) + [dict(HE_ROW, task_id="HumanEval/9", prompt=5)]), ["row 3", "'prompt'", "string"]),
        (jsonl([dict(r, prompt=7) for r in he_rows()]), ["row 1", "'prompt'", "string"]),
        (jsonl(he_rows(2) + [dict(HE_ROW, task_id="HumanEval/1")]), ["row 3", "duplicate"]),
        (jsonl([dict(HE_ROW, entry_point="not a name")]), ["row 1", "entry_point"]),
        (jsonl([{"text": "x", "code": "y", "task_id": 1, "test_list": []}]), ["row 1", "task_id"]),
        ("[]", ["no rows"]),
        ('[{"task_id": "HumanEval/0"}]', ["row 1", "prompt"]),
        (b"\xff\xfe junk \x00\x01", ["line 1", "UTF-8"]),
        (b"\x1f\x8b\x08 not really gzip", ["gzip"]),
    ],
)
def test_malformed_humaneval_file(tmp_path, content, needles):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as e:
        ds.load("humaneval", path=str(path))
    one_line_error(e, str(path), *needles)


def test_malformed_gzip_rows(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress((jsonl(he_rows(3)) + '{"task_id": "HumanEval/3"}\n').encode()))
    with pytest.raises(InputError) as e:
        ds.load("humaneval", path=str(path))
    one_line_error(e, "row 4", "prompt")


@pytest.mark.parametrize(
    "name,row,needles",
    [
        ("mbpp", {"task_id": "eleven", "text": "", "code": "", "test_list": ["assert 1"], "test_setup_code": ""},
         ["task_id", "integer"]),
        ("mbpp", {"task_id": 11, "text": "", "code": "", "test_list": [], "test_setup_code": ""}, ["test_list"]),
        ("mbpp", {"task_id": 11, "text": "", "code": "", "test_list": [1], "test_setup_code": ""}, ["test_list"]),
        ("mbpp", {"task_id": 11, "prompt": "", "code": "", "test_list": ["assert 1"], "test_imports": []}, ["'text'"]),
        ("mbpp-sanitized", {"task_id": 11, "prompt": "", "code": "", "test_list": ["assert 1"], "test_imports": "x"},
         ["test_imports"]),
        ("mbpp", {"task_id": 1, "text": "", "code": "", "test_list": ["assert 1"], "test_setup_code": ""},
         ["no mbpp problems", "test"]),
    ],
)
def test_malformed_mbpp_file(tmp_path, name, row, needles):
    good = {"task_id": 12, "text": "", "prompt": "", "code": "", "test_list": ["assert 1"], "test_setup_code": "",
            "test_imports": []}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([good, row]) if "no mbpp" not in needles[0] else json.dumps([row]))
    with pytest.raises(InputError) as e:
        ds.load(name, path=str(path))
    one_line_error(e, *needles)


# --- hub loading, without the hub -----------------------------------------------------------------------


class _FakeSplit:
    def __init__(self, rows):
        self.rows = rows

    def to_list(self):
        return [dict(r) for r in self.rows]


def test_hub_loading_is_faked(monkeypatch):
    import datasets

    calls = []
    mbpp_rows = {"test": [{"task_id": 12, "text": "b", "code": "x=1", "test_list": ["assert x"],
                           "test_setup_code": "", "challenge_test_list": []}],
                 "train": [{"task_id": 700, "text": "c", "code": "x=1", "test_list": ["assert x"],
                            "test_setup_code": "", "challenge_test_list": []}],
                 "prompt": [], "validation": []}

    def fake(*args, split, cache_dir):
        calls.append((args, split))
        if args[0] == "openai/openai_humaneval":
            return _FakeSplit(he_rows(2))
        return _FakeSplit(mbpp_rows[split])

    monkeypatch.setattr(datasets, "load_dataset", fake)
    he = ds.load("humaneval", from_hub=True)
    assert len(he) == 2 and he.source == "hf:openai/openai_humaneval" and len(he.sha256) == 64
    assert calls == [(("openai/openai_humaneval",), "test")]
    assert [p.task_id for p in ds.load("mbpp", from_hub=True, split="all").problems] == ["12", "700"]
    assert calls[-1] == (("google-research-datasets/mbpp", "full"), "train")

    def offline(*args, **kwargs):
        raise ConnectionError("no network\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(CoderunError) as e:
        ds.load("mbpp-sanitized", from_hub=True)
    assert not isinstance(e.value, InputError)
    one_line_error(e, "google-research-datasets/mbpp/sanitized", "no network")


# --- every canonical solution passes its own tests ------------------------------------------------------

_RUN_ALL = r"""
import contextlib, io, json, sys
failures = []
for task_id, solution, test in json.load(sys.stdin):
    namespace = {}  # fresh per problem; solution then test in one namespace, as the sandbox runs them
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(solution, "solution", "exec"), namespace)
            exec(compile(test, "test", "exec"), namespace)
    except BaseException as e:
        failures.append(f"{task_id}: {e!r}"[:200])
print(json.dumps(failures))
"""


@pytest.mark.slow  # about 4 s: MBPP/123's reference solution alone takes ~3 s in each MBPP variant
def test_canonical_solutions_pass(tmp_path):
    """Guards program composition (order, setup code, newlines); the real sandbox is tested elsewhere."""
    def programs(bench):
        return [[f"{bench.name} {p.task_id}", bench.canonical(p).solution, bench.canonical(p).test]
                for p in bench.problems]

    # Two throwaway interpreters side by side, balanced so that each gets one MBPP/123.
    batches = [programs(ds.load("mbpp", challenge_tests=True)),
               programs(ds.load("humaneval")) + programs(ds.load("mbpp-sanitized"))]
    assert sum(map(len, batches)) == 500 + 164 + 257
    procs = []
    for i, batch in enumerate(batches):  # stdin from files, so both start at once
        (tmp_path / f"batch{i}.json").write_text(json.dumps(batch))
        with open(tmp_path / f"batch{i}.json") as stdin:
            procs.append(subprocess.Popen([sys.executable, "-c", _RUN_ALL], stdin=stdin, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, cwd=tmp_path))
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert json.loads(out) == []
