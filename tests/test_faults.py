"""Faults around the sandbox and the run: paused containers, a restarted daemon, a full disk.

Nothing is lost and nothing is counted twice: every run here ends with the same verdicts as an
undisturbed one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from coderun.execute.base import Job, get_provider
from coderun.execute.pool import SandboxPool
from tests.conftest import EXAMPLE_SAMPLES
from tests.test_cli import coderun, rows, verdicts

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_paused_container_is_replaced_and_its_job_rerun():
    import docker

    jobs = [Job(f"import time\ntime.sleep(0.2)\ndef f():\n    return {i % 2}  # {i}\n", "assert f() == 0\n",
                cpu=1.0, wall=2.0) for i in range(12)]
    with SandboxPool(get_provider("docker"), workers=2, answer_grace=2.0) as pool:
        paused = []

        def pause_one():
            time.sleep(0.5)
            sandbox = next(iter(pool._live))
            docker.from_env().api.pause(sandbox.id)
            paused.append(sandbox.id)

        t = threading.Thread(target=pause_one)
        t.start()
        started = time.monotonic()
        verdicts_ = pool.run_all(jobs)
        t.join()
        assert [v.status for v in verdicts_] == ["passed" if i % 2 == 0 else "failed" for i in range(12)]
        assert pool.stats["retried"] >= 1 and time.monotonic() - started < 20
    client = docker.from_env()
    assert paused and paused[0] not in [c.id for c in client.containers.list(all=True)]


def test_killed_run_records_each_verdict_once(tmp_path):
    """SIGKILL mid-run, then resume: rows recorded before the kill are kept as they were, not re-run."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(EXAMPLE_SAMPLES), "--out", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = run / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results.exists() and results.stat().st_size > 5000):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    recorded = {}
    for line in results.read_bytes().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # the partial last line of the kill
        recorded[(r["task_id"], r["sample_index"])] = (r["finished_at"], r["sandbox"], r["time"])
    assert recorded
    assert coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run)).returncode == 0
    final = {(r["task_id"], r["sample_index"]): (r["finished_at"], r["sandbox"], r["time"]) for r in rows(run)}
    assert len(final) == 200
    assert {k: final[k] for k in recorded} == recorded, "a verdict recorded before the kill was redone"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_full_disk_is_a_clear_error_and_nothing_is_corrupted(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(small)], check=True)
    try:
        run = small / "run"
        result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run))
        assert result.returncode == 1, result.stderr
        assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
        lines = (run / "results.jsonl").read_bytes().splitlines()
        for line in lines[:-1]:
            json.loads(line)  # every complete row is intact
        assert json.loads((run / "config.json").read_text())["dataset"]["name"] == "humaneval"
        assert not (run / "summary.json").exists() or json.loads((run / "summary.json").read_text())
        subprocess.run(["mount", "-o", "remount,size=16m", str(small)], check=True)
        again = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(run))
        assert again.returncode == 0, again.stderr
        reference = tmp_path / "reference"
        assert coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(reference)).returncode == 0
        assert verdicts(run) == verdicts(reference)
    finally:
        subprocess.run(["umount", "-l", str(small)])


def _restart_dockerd() -> None:
    """Stop the daemon (its containers die with it) and start it again, as .ci/run does."""
    subprocess.run(["pkill", "-x", "dockerd"])
    for _ in range(100):
        if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    subprocess.Popen(["dockerd"], stdout=open("/tmp/dockerd-restarted.log", "ab"), stderr=subprocess.STDOUT,
                     start_new_session=True)
    import docker

    for _ in range(120):
        try:
            docker.from_env(timeout=5).ping()
            return
        except Exception:
            time.sleep(0.5)
    raise AssertionError("dockerd did not come back")


@pytest.mark.restarts_docker
@pytest.mark.skipif(os.geteuid() != 0 or not os.environ.get("CODERUN_TEST_RESTART_DOCKERD", os.environ.get("CI")),
                    reason="restarts dockerd: runs in CI, or with CODERUN_TEST_RESTART_DOCKERD=1")
def test_docker_daemon_restart_mid_run_stops_cleanly_and_resumes(tmp_path):
    run = tmp_path / "run"
    samples = tmp_path / "slow.jsonl"
    samples.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion":
                                           f"    import time\n    time.sleep(0.05)\n    return None  # {j}\n"}) + "\n"
                               for i in range(20) for j in range(10)))
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(samples), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = run / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results.exists() and results.stat().st_size > 3000):
        time.sleep(0.05)
    _restart_dockerd()
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    if proc.returncode == 1:  # the daemon was still down when a sandbox died: a clear stop
        assert "Docker daemon" in err, err
        assert 0 < len(rows(run)) < 200
    else:  # it was back already: the dead sandboxes were replaced and the run went on
        assert proc.returncode == 0, err
    again = coderun("evaluate", str(samples), "--out", str(run))
    assert again.returncode == 0, again.stderr
    assert len(rows(run)) == 200 and all(r["status"] == "failed" for r in rows(run))


SELF_KILLS = {
    "kills its own process": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "kills its own process group": "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\n",
    "a timer thread kills it mid-test": "import os, signal, threading, time\n"
                                        "threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGKILL)).start()\n"
                                        "def f():\n    time.sleep(1)\n    return 1\n",
}


@pytest.mark.parametrize("name", list(SELF_KILLS))
def test_a_sample_that_kills_itself_fails_after_one_retry(docker_pool, name):
    """A SIGKILL nothing in the sandbox explains is retried in a fresh sandbox; the same outcome again makes
    it the sample's answer: failed, not a harness error that would keep the run incomplete."""
    [verdict] = docker_pool.run_all([Job(SELF_KILLS[name], "assert f() == 1\n", cpu=2.0, wall=6.0)])
    assert verdict.status == "failed" and verdict.attempts == 2, verdict
    assert "again in a fresh sandbox: the sample's own doing" in verdict.reason


def test_a_run_with_self_killing_samples_completes_on_the_first_invocation(tmp_path):
    """One such sample among real ones: exit 0, complete, no error rows (it used to stay `error` forever)."""
    rows_in = [json.loads(line) for line in EXAMPLE_SAMPLES.read_text().splitlines()[:20]]
    rows_in.append({"task_id": rows_in[0]["task_id"], "completion": "    import os\n    os.kill(os.getpid(), 9)\n"})
    rows_in.append({"task_id": "HumanEval/3", "completion": "    import os, signal\n    if len(operations) > 3:\n"
                    "        os.killpg(0, signal.SIGKILL)\n    return False\n"})  # only on some test inputs
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    result = coderun("evaluate", str(samples), "--out", str(tmp_path / "run"), "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["complete"] and summary["counts"]["error"] == 0
    killed = [r for r in rows(tmp_path / "run") if "own doing" in r["reason"]]
    assert len(killed) == 2 and all(r["status"] == "failed" for r in killed)
