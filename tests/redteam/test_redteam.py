"""Run the red-team corpus (cases.py) in real containers, then check the host is as it was.

Each hostile sample runs in a one-worker pool between a correct and a wrong sample of real HumanEval
problems, so they share its container (or its replacement): their verdicts must not change. The last tests
check what must stay intact on the host: no container, no sample process, no leaked canary, no new network
namespace, a healthy daemon, memory back near its baseline.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from coderun import datasets
from coderun.execute.base import Job, get_provider
from coderun.execute.pool import SandboxPool
from tests.conftest import sandbox_containers
from tests.redteam.cases import ALL, LATER, RUNNER, Case

pytestmark = pytest.mark.docker

CANARY = Path(f"/tmp/coderun-canary-{secrets.token_hex(4)}")
SECRET = secrets.token_hex(16)
BASELINE: dict = {}
SEEN_TEXT: list[str] = []
NETNS: set[str] = set()  # network namespaces of our sandboxes: none may outlive them
SANDBOXES: set[str] = set()  # container ids of our sandboxes: no process may outlive them


def _meminfo(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


@pytest.fixture(scope="module")
def pool():
    CANARY.write_text(SECRET)
    BASELINE.update(shmem=_meminfo("Shmem"))
    with SandboxPool(get_provider("docker"), workers=1) as p:
        yield p


@pytest.fixture(scope="module")
def neighbours():
    """(correct, correct, wrong) programs of real HumanEval problems."""
    bench = datasets.load("humaneval")
    p0, p2, p4 = (bench.get(f"HumanEval/{i}") for i in (0, 2, 4))
    return [bench.canonical(p0), bench.canonical(p2), bench.program(p4, completion="    return 0.0\n")]


def canary_case() -> Case:
    return Case("reads the host canary", f"print(open({str(CANARY)!r}).read())\n", reason="FileNotFoundError")


def run_case(pool, neighbours, case: Case, tag: str):
    unique = f"\n# {tag} {time.monotonic_ns()}\n"
    progs = [Job(p.solution + unique, p.test, cpu=2.0, wall=6.0, mem=512 << 20) for p in neighbours]
    hostile = Job(case.solution(), case.test, cpu=case.cpu, wall=2 * case.cpu + 2, mem=512 << 20)
    before, verdict, good, wrong = pool.run_all([progs[0], hostile, progs[1], progs[2]])
    SEEN_TEXT.extend([verdict.output, verdict.reason])
    _record(pool)
    return before, verdict, good, wrong


def _processes_in(container_ids: set[str]) -> list[str]:
    """Host pids whose cgroup names one of `container_ids` (other coderun runs may share the host)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if any(cid in cgroup for cid in container_ids):
            found.append(pid)
    return found


def _record(pool) -> None:
    import docker

    api = docker.from_env().api
    for sandbox in list(pool._live):
        SANDBOXES.add(sandbox.id)
        try:
            NETNS.add(api.inspect_container(sandbox.id)["NetworkSettings"]["SandboxKey"])
        except docker.errors.NotFound:
            pass


@pytest.mark.parametrize("case", ALL + [canary_case()], ids=lambda c: c.name)
def test_case(pool, neighbours, case: Case):
    before, verdict, good, wrong = run_case(pool, neighbours, case, case.name)
    assert verdict.status in case.expect, verdict
    assert case.reason in verdict.reason, verdict.reason
    if case.marker_in == "output":
        assert case.marker in verdict.output, f"the exploit did not run: {verdict}"
    elif case.marker_in == "reason":
        assert case.marker in verdict.reason
    else:
        assert case.why, "a case without a marker must say why"
    assert "ESCAPED" not in verdict.output and "WROTE" not in verdict.output, verdict.output
    assert (before.status, good.status, wrong.status) == ("passed", "passed", "failed"), (before, good, wrong)


def test_leftovers_cannot_reach_a_concurrent_sandbox(neighbours):
    """Two sandboxes at once: hostile leftovers in one, correct samples in the other, all interleaved."""
    jobs, expected = [], []
    for i, case in enumerate(RUNNER + LATER):
        jobs.append(Job(case.solution(), case.test, cpu=case.cpu, wall=2 * case.cpu + 2))
        expected.append(None)
        for j, p in enumerate(neighbours):
            jobs.append(Job(p.solution + f"\n# {i}-{j}\n", p.test, cpu=2.0, wall=6.0))
            expected.append("failed" if j == 2 else "passed")
    with SandboxPool(get_provider("docker"), workers=2) as pool:
        verdicts = pool.run_all(jobs)
    for want, got in zip(expected, verdicts):
        if want is None:
            assert got.status != "passed", got
        else:
            assert got.status == want, got


def test_host_is_intact_after_the_suite(pool):
    pool.close()
    time.sleep(1)
    assert sandbox_containers() == []
    assert SANDBOXES and _processes_in(SANDBOXES) == [], "a process outlived its sandbox"
    assert CANARY.read_text() == SECRET
    assert not any(SECRET in text for text in SEEN_TEXT), "the host canary leaked into a sample"
    for name in ("math.py", "sitecustomize.py", "fill", "junk"):
        assert not Path("/tmp", name).exists()
    import docker

    assert docker.from_env().ping()
    # A live namespace is an nsfs mount; dockerd 20.10 leaves the empty mount-point files of removed
    # containers behind (plain `docker run --rm` does too), which hold nothing.
    mounts = Path("/proc/self/mountinfo").read_text()
    alive = [ns for ns in NETNS if ns and (ns in mounts or ns.replace("/var/run/", "/run/") in mounts)]
    assert NETNS and alive == [], "a network namespace outlived its sandbox"
    # What a sample could leave behind on the host is tmpfs or shared memory (Shmem), which the kernel
    # frees only when the last mount or mapping goes. MemAvailable is not checked: the whole test session,
    # dockerd and the page cache move it by hundreds of MiB on their own.
    assert _meminfo("Shmem") < BASELINE["shmem"] + (32 << 20), "shared memory did not come back to its baseline"
    CANARY.unlink()
