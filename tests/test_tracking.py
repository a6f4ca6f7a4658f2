"""MLflow tracking (coderun/tracking.py, `--mlflow`, `coderun track`), read back with MlflowClient from a real
MLflow server on loopback (full `mlflow` in a venv of its own: scripts/mlflow-server-venv.sh) and from the
local file store coderun uses when MLFLOW_TRACKING_URI is unset."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_SAMPLES, REPO, coderun

CLIENT_VARS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_ALLOW_FILE_STORE",
               "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


def _need_mlflow():
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        message = "the MLflow client is not installed (pip install -e '.[dev]')"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


@pytest.fixture(autouse=True)
def mlflow_env(monkeypatch, request):
    """Each test its own experiment; no MLflow usage telemetry leaves the machine; coderun's client settings
    start unset (coderun sets them) and are put back after the test."""
    for name in CLIENT_VARS:
        monkeypatch.setenv(name, "x")  # records the original value, so the undo restores it
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "test-" + request.node.name.replace("[", "-").strip("]"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- an MLflow server on loopback ------------------------------------------------------------------------------


def _server_executable() -> str:
    try:
        out = subprocess.run(["bash", str(REPO / "scripts" / "mlflow-server-venv.sh")], capture_output=True,
                             text=True, timeout=1200, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        message = f"no MLflow server venv: {exc}: {getattr(exc, 'stderr', '')[-2000:]}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(mlflow_server, monkeypatch) -> str:
    """The server as this test's MLFLOW_TRACKING_URI, with a request timeout for a loaded 2-core machine (a
    user's setting, kept by coderun; coderun's default is 10 s)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    return mlflow_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` with a sqlite store and proxied artifacts, on a free loopback port."""
    _need_mlflow()
    executable = _server_executable()
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    cmd = [executable, "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--artifacts-destination",
           str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with open(root / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    try:
        _wait_healthy(proc, port, root / "server.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait_healthy(proc, port: int, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"mlflow server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def runs_of(uri: str) -> list:
    """Every MLflow run of this test's experiment."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(os.environ["MLFLOW_EXPERIMENT_NAME"])
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def artifact_text(uri: str, run_id: str, name: str, tmp_path: Path) -> str:
    from mlflow.tracking import MlflowClient

    dst = tmp_path / f"download-{run_id}"
    dst.mkdir(exist_ok=True)
    return Path(MlflowClient(uri).download_artifacts(run_id, name, str(dst))).read_text()


# ---- a finished run to log ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """The example samples scored once (--timeout 1); tests log copies of it."""
    out = tmp_path_factory.mktemp("tracked") / "run"
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--timeout", "1", "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def copy_of(run: Path, dst: Path) -> Path:
    shutil.copytree(run, dst)
    return dst


def evaluate(out: Path, *more: str) -> subprocess.CompletedProcess:
    return coderun("evaluate", str(EXAMPLE_SAMPLES), "--timeout", "1", "--workers", "2", "--out", str(out), *more)


# ---- what is logged ----------------------------------------------------------------------------------------------


def test_the_mlflow_extra_is_the_client_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["mlflow"] == ["mlflow-skinny>=2.10"]


def test_summary_figures_become_mlflow_metrics():
    from coderun.tracking import comparison_metrics, metrics_of

    summary = {"pass@k": {"1": 0.25, "10": 0.5}, "pass@k_ci": {"1": {"low": 0.1, "high": 0.4}},
               "base_pass@k": {"1": 0.3}, "base_pass@k_ci": {"1": {"low": 0.2, "high": 0.45}},
               "counts": {"passed": 5, "failed": 14, "timeout": 1, "error": 0}, "num_problems": 2,
               "rerank": {"method": "judge", "rerank@1": 0.4, "pass@1": 0.25, "pass@n": 0.5, "gap_closed": None,
                          "ci": {"rerank@1": {"low": 0.3, "high": 0.5}, "gap_closed": {"low": None, "high": None}},
                          "calibration": {"auroc": 0.7, "brier": 0.2, "ece": 0.05, "num_candidates": 20}}}
    metrics = metrics_of(summary)
    assert metrics["pass_at_1"] == 0.25 and metrics["pass_at_1_ci_low"] == 0.1 and metrics["pass_at_10"] == 0.5
    assert "pass_at_10_ci_low" not in metrics and metrics["base_pass_at_1_ci_high"] == 0.45
    assert metrics["count_timeout"] == 1 and metrics["num_problems"] == 2
    assert metrics["rerank_at_1"] == 0.4 and metrics["rerank_at_1_ci_high"] == 0.5 and "gap_closed" not in metrics
    assert metrics["rerank_pass_at_n"] == 0.5 and metrics["judge_auroc"] == 0.7 and metrics["judge_ece"] == 0.05
    assert not any("@" in key for key in metrics)
    diffs = comparison_metrics({"datasets": [{"diffs": [{"dataset": "humaneval", "run": "../runs/b@2", "k": 1,
                                                          "value": -0.02, "low": -0.05, "high": 0.01,
                                                          "p_holm": 0.3, "mde": 0.04}]}]})
    assert diffs == {"diff_pass_at_1/humaneval/_runs_b_2": -0.02, "diff_pass_at_1/humaneval/_runs_b_2_ci_low": -0.05,
                     "diff_pass_at_1/humaneval/_runs_b_2_ci_high": 0.01,
                     "diff_pass_at_1/humaneval/_runs_b_2_p_holm": 0.3, "diff_pass_at_1/humaneval/_runs_b_2_mde": 0.04}


def test_mlflow_flag_without_the_client_is_a_usage_error():
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "from coderun.cli import main\n"
            f"main(['evaluate', {str(EXAMPLE_SAMPLES)!r}, '--mlflow'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2 and "pip install 'coderun[mlflow]'" in result.stderr


# ---- against a real server ---------------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_a_run_is_one_mlflow_run_and_resume_track_rerank_add_none(server, tmp_path):
    out = tmp_path / "run"
    result = evaluate(out, "--mlflow")
    assert result.returncode == 0, result.stderr
    [run] = runs_of(server)
    summary, config = (json.loads((out / name).read_text()) for name in ("summary.json", "config.json"))
    assert run.data.metrics["pass_at_1"] == summary["pass@k"]["1"]
    assert run.data.metrics["pass_at_10_ci_high"] == summary["pass@k_ci"]["10"]["high"]
    assert run.data.metrics["count_passed"] == summary["counts"]["passed"]
    assert run.data.params["dataset_sha256"] == config["dataset"]["sha256"] and run.data.params["n"] == "20"
    assert run.data.params["timeout"] == "1.0"
    assert run.data.params["sandbox_fingerprint"] == config["execution"]["sandbox"]["fingerprint"]
    assert run.data.tags["coderun.command"] == "evaluate" and run.info.status == "FINISHED"
    from mlflow.tracking import MlflowClient

    names = {a.path for a in MlflowClient(server).list_artifacts(run.info.run_id)}
    assert {"config.json", "summary.json", "results.jsonl", "limits.json", "report.html"} <= names
    assert json.loads(artifact_text(server, run.info.run_id, "summary.json", tmp_path)) == summary

    assert evaluate(out, "--mlflow").returncode == 0  # resumed: nothing runs, the same MLflow run
    tracked = coderun("track", str(out))
    assert tracked.returncode == 0 and run.info.run_id in tracked.stdout, tracked.stderr
    reranked = coderun("rerank", str(out), "--method", "exec", "--mlflow")
    assert reranked.returncode == 0, reranked.stderr
    [again] = runs_of(server)
    assert again.info.run_id == run.info.run_id
    rerank = json.loads((out / "summary.json").read_text())["rerank"]
    assert again.data.metrics["rerank_at_1"] == rerank["rerank@1"] and again.data.metrics["gap_closed"] == rerank[
        "gap_closed"]
    assert again.data.tags["coderun.rerank_method"] == "exec"


@pytest.mark.docker
@pytest.mark.slow
def test_a_lora_sweep_is_a_parent_run_with_a_child_per_adapter(server, tmp_path):
    adapters = []
    for name in ("lora-a", "lora-b"):  # the samples backend ignores the weights: a config is enough
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text('{"r": 4}')
        adapters += ["--lora", str(tmp_path / name)]
    out = tmp_path / "sweep"
    result = coderun("humaneval", "--backend", "samples", "--samples", str(EXAMPLE_SAMPLES), "--n", "20", *adapters,
                     "--timeout", "1", "--workers", "2", "--out", str(out), "--mlflow")
    assert result.returncode == 0, result.stderr
    runs = runs_of(server)
    [parent] = [r for r in runs if r.data.tags.get("coderun.sweep") == "lora"]
    children = {r.data.params["adapter"]: r for r in runs if r is not parent}
    assert set(children) == {"none", "lora-a", "lora-b"} and len(runs) == 4
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children.values())
    assert children["lora-a"].data.tags["coderun.command"] == "humaneval"
    for name, run in (("base", children["none"]), ("lora-a", children["lora-a"])):
        assert run.data.metrics["pass_at_1"] == json.loads((out / name / "summary.json").read_text())["pass@k"]["1"]

    tracked = coderun("track", str(out))  # the sweep directory: each run in it, into the runs it already has
    assert tracked.returncode == 0, tracked.stderr
    assert sorted(r.info.run_id for r in runs_of(server)) == sorted(r.info.run_id for r in runs)


@pytest.mark.docker
@pytest.mark.slow
def test_compare_logs_one_run_with_the_differences(server, finished_run, tmp_path):
    copy_of(finished_run, tmp_path / "a")
    copy_of(finished_run, tmp_path / "b")
    result = coderun("compare", "a", "b", "--mlflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = runs_of(server)
    assert run.data.tags["coderun.command"] == "compare" and run.data.params["baseline"] == "a"
    assert run.data.metrics["diff_pass_at_1/humaneval/b"] == 0.0
    assert "diff_pass_at_10/humaneval/b_p_holm" in run.data.metrics
    comparison = json.loads(artifact_text(server, run.info.run_id, "comparison.json", tmp_path))
    assert comparison["baseline"] == "a" and comparison["datasets"][0]["diffs"][0]["run"] == "b"


# ---- no server: the local store, a stopped or refusing server ----------------------------------------------------


@pytest.mark.docker
def test_without_a_tracking_uri_a_file_store_in_mlruns(finished_run, monkeypatch, tmp_path):
    _need_mlflow()
    from mlflow.tracking import MlflowClient

    from coderun import tracking
    from coderun.records import RunDir

    monkeypatch.chdir(tmp_path)
    run = copy_of(finished_run, tmp_path / "run")
    logged = tracking.log_run(run, "test")
    assert logged.uri == (tmp_path / "mlruns").as_uri()
    client = MlflowClient(logged.uri)  # tracking set MLFLOW_ALLOW_FILE_STORE: mlflow-skinny has no sqlite store
    summary = json.loads((run / "summary.json").read_text())
    assert client.get_run(logged.run_id).data.metrics["pass_at_1"] == summary["pass@k"]["1"]
    assert tracking.log_run(run, "test").run_id == logged.run_id  # recorded in run/mlflow.json
    assert json.loads((run / "mlflow.json").read_text())["runs"][logged.uri]["run"] == logged.run_id
    (run / "mlflow.json").unlink()  # lost: the run is found by its directory, not made again
    assert tracking.log_run(run, "test").run_id == logged.run_id
    copy = copy_of(run, tmp_path / "copy")  # a copy (with the original's mlflow.json) is another run
    assert tracking.log_run(copy, "test").run_id != logged.run_id

    config = RunDir(run).read_config()
    config.execution.settings["timeout"] = 2.0  # another evaluation: a new MLflow run, the old one untouched
    RunDir(run).write_config(config)
    assert tracking.log_run(run, "test").run_id != logged.run_id
    assert client.get_run(logged.run_id).data.params["timeout"] == "1.0"


@pytest.mark.docker
def test_a_stopped_server_costs_one_warning_line_and_not_the_result(finished_run, monkeypatch, tmp_path):
    _need_mlflow()
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = copy_of(finished_run, tmp_path / "run")
    result = evaluate(out, "--mlflow")
    assert result.returncode == 0 and "pass@1" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "MLflow" in line or "mlflow" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"coderun: warning: MLflow ({uri})"), result.stderr
    assert "Traceback" not in result.stderr and not (out / "mlflow.json").exists()

    from coderun import tracking

    import mlflow.tracking  # noqa: F401 - time the logging, not the import

    started = time.monotonic()
    with pytest.raises(tracking.TrackingError):
        tracking.log_run(out, "test")
    assert time.monotonic() - started < 5


class Refusing(BaseHTTPRequestHandler):
    def _refuse(self):
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "PERMISSION_DENIED", "message": "no"}')

    do_GET = do_POST = do_PUT = _refuse

    def log_message(self, *args):
        pass


@pytest.mark.docker
def test_a_refusing_server_fails_fast(finished_run, monkeypatch, tmp_path):
    _need_mlflow()
    from coderun import tracking

    refusing = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=refusing.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{refusing.server_address[1]}")
        import mlflow.tracking  # noqa: F401

        started = time.monotonic()
        with pytest.raises(tracking.TrackingError, match="PERMISSION_DENIED|403"):
            tracking.log_run(copy_of(finished_run, tmp_path / "run"), "test")
        assert time.monotonic() - started < 5
    finally:
        refusing.shutdown()
        refusing.server_close()
