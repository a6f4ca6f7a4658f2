"""The coderun image (top-level Dockerfile), built as CI builds it: from the debootstrap base, which has no pip
and no registry, with the wheelhouse made on the host and the build cut off from the network. Then
`coderun evaluate` runs inside it, end to end, with real sibling sandbox containers started through the
host's Docker socket, and its verdicts must equal a run on the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import coderun
from coderun.execute.base import Job
from tests.conftest import EXAMPLE_SAMPLES, REPO, sandbox_containers

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BASE = "coderun-base:bookworm"


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if docker("image", "inspect", BASE).returncode != 0:
        message = f"{BASE} is missing (sandbox/build-base.sh builds it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    tag = f"coderun-image-test:{os.getpid()}"
    env = {**os.environ, "BASE_IMAGE": BASE, "CONTEXT": str(tmp_path_factory.mktemp("context"))}
    build = subprocess.run(["bash", str(REPO / "scripts" / "build-image.sh"), tag], capture_output=True, text=True,
                           env=env, timeout=1200)
    assert build.returncode == 0, build.stderr[-3000:]
    yield tag
    docker("image", "rm", "-f", tag)


def in_container(tag: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """The README's `docker run` line: the host's socket, and the work directory at the same path."""
    return docker("run", "--rm", "-v", "/var/run/docker.sock:/var/run/docker.sock",
                  "-v", f"{workdir}:{workdir}", "-w", str(workdir), tag, *args)


def test_image_runs_coderun(image):
    version = docker("run", "--rm", image, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"coderun, version {coderun.__version__}"
    helptext = docker("run", "--rm", image)
    assert helptext.returncode == 0 and all(c in helptext.stdout for c in ("evaluate", "compare", "report"))
    python = docker("run", "--rm", "--entrypoint", "/opt/coderun/bin/python", image, "-c",
                    "import sys, coderun; print(sys.prefix, coderun.__file__)")
    assert python.stdout.split()[0] == "/opt/coderun" and "/opt/coderun/lib/" in python.stdout


def test_evaluate_inside_matches_the_host(image, tmp_path, docker_pool):
    job = Job(solution=f"x = {os.getpid()}\n", test="assert x\n", cpu=1.0, wall=4.0)  # never run before
    list(docker_pool.run([("warm", job)]))  # a worker whose sandbox an earlier test made dirty starts it anew
    before = {c.id for c in sandbox_containers()}  # the host's warm pool, alive during the container run
    assert before
    replaced = docker_pool.stats["replaced"]
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(EXAMPLE_SAMPLES.read_bytes())
    inside = in_container(image, tmp_path, "evaluate", "samples.jsonl", "--out", "run-container", "--json",
                          "--junit", "junit.xml")
    assert inside.returncode == 0, inside.stderr[-3000:]
    host = subprocess.run([sys.executable, "-m", "coderun", "evaluate", str(samples), "--out",
                           str(tmp_path / "run-host")], capture_output=True, text=True, timeout=600)
    assert host.returncode == 0, host.stderr

    def rows(name: str) -> list[tuple]:
        lines = (tmp_path / name / "results.jsonl").read_text().splitlines()
        return [(r["task_id"], r["sample_index"], r["status"], r["passed"], r["program"])
                for r in map(json.loads, lines)]

    assert len(rows("run-container")) == 200 and rows("run-container") == rows("run-host")
    summary = json.loads(inside.stdout)
    host_summary = json.loads((tmp_path / "run-host" / "summary.json").read_text())
    assert summary["pass@k"] == host_summary["pass@k"] and summary["complete"]
    configs = [json.loads((tmp_path / n / "config.json").read_text()) for n in ("run-container", "run-host")]
    assert configs[0]["execution"]["sandbox"]["image_id"] == configs[1]["execution"]["sandbox"]["image_id"]
    assert (tmp_path / "junit.xml").read_text().count("<testcase") == 10
    # The containerized coderun took the host's live pool for what it is: not leftovers to remove.
    assert before <= {c.id for c in sandbox_containers()}
    probe = Job(solution=f"x = -{os.getpid()}\n", test="assert x\n", cpu=1.0, wall=4.0)
    ((_, verdict),) = list(docker_pool.run([("probe", probe)]))
    assert verdict.status == "passed" and docker_pool.stats["replaced"] == replaced
