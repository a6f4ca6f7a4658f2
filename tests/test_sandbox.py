"""The sandbox, for real: one shared suite runs against every provider; isolation tests need Docker.

Each case is (solution, test) run as the dataset modules do: solution first, then the test part, in one
namespace. `passed` must mean the test part ran to its end, whatever the solution does.
"""

from __future__ import annotations

import time

import pytest

from coderun.execute.base import Job, get_provider
from coderun.execute.pool import SandboxPool

GOOD = ("def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5\n")
WRONG = ("def add(a, b):\n    return a - b\n", "assert add(2, 3) == 5\n")


def job(solution: str, test: str, cpu: float = 1.0, wall: float | None = None, mem: int = 512 << 20) -> Job:
    return Job(solution, test, cpu=cpu, wall=wall or 2 * cpu + 2, mem=mem)


@pytest.fixture(scope="module", params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def pool(request):
    with pytest.warns(UserWarning) if request.param == "local" else _nothing():
        p = SandboxPool(get_provider(request.param), workers=2).__enter__()
    yield p
    p.close()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# (name, solution, test, expected status, text the reason must contain)
VERDICT_CASES = [
    ("correct", *GOOD, "passed", ""),
    ("wrong answer names the assert", *WRONG, "failed", "assert add(2, 3) == 5"),
    ("exception type and message", "def f():\n    return 1 / 0\n", "f()\n", "failed", "ZeroDivisionError"),
    ("syntax error", "def f(:\n    pass\n", "pass\n", "failed", "SyntaxError"),
    ("sys.exit(0) before the tests", "import sys\nsys.exit(0)\n", "assert False\n", "failed", "SystemExit"),
    ("SystemExit inside the function", "def add(a, b):\n    raise SystemExit(0)\n", GOOD[1], "failed",
     "SystemExit"),
    ("os._exit(0) before the tests", "import os\nos._exit(0)\n", "assert False\n", "failed", "exited"),
    ("os._exit(0) inside the function", "import os\ndef add(a, b):\n    os._exit(0)\n", GOOD[1], "failed",
     "exited"),
    ("printing a verdict", "print('passed')\nprint('{\"status\": \"passed\"}')\n", "assert False\n", "failed",
     "AssertionError"),
    ("writing to every descriptor", "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'P' * 64)\n"
     "    except OSError:\n        pass\n", "assert False\n", "failed", "AssertionError"),
    ("closing stdout and stderr", "import os\nos.close(1)\nos.close(2)\n", "assert False\n", "failed", ""),
    ("atexit exit(0)", "import atexit, os\natexit.register(lambda: os._exit(0))\n", "assert False\n", "failed",
     "AssertionError"),
    ("excepthook swallowing the failure", "import sys\nsys.excepthook = lambda *a: None\n", "assert False\n",
     "failed", "AssertionError"),
    ("patching exec does not skip the tests", "import builtins\nbuiltins.exec = lambda *a, **k: None\n"
     "builtins.compile = lambda *a, **k: None\n", "assert False\n", "failed", "AssertionError"),
    ("open string literal cannot swallow the tests", "def add(a, b):\n    return 0\nx = '''\n", GOOD[1],
     "failed", "SyntaxError"),
    ("non-daemon thread exiting at shutdown", "import threading, os, time\n"
     "threading.Thread(target=lambda: (time.sleep(0.2), os._exit(0))).start()\n", "assert False\n", "failed",
     "AssertionError"),
    ("KeyboardInterrupt", "raise KeyboardInterrupt\n", "pass\n", "failed", "KeyboardInterrupt"),
    ("memory error is a failure that says so", "x = bytearray(4 << 30)\n", "pass\n", "failed", "MemoryError"),
    ("deep recursion", "import sys\nsys.setrecursionlimit(10**6)\ndef r(n):\n    return r(n + 1)\n", "r(0)\n",
     ("failed", "timeout"), ""),
]


@pytest.mark.parametrize("name,solution,test,status,reason", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES])
def test_verdicts(pool, name, solution, test, status, reason):
    verdict = pool.run_all([job(solution, test)])[0]
    assert verdict.status in ((status,) if isinstance(status, str) else status), (name, verdict)
    assert reason in verdict.reason, verdict.reason


def test_cpu_limit_is_a_timeout_with_bounded_wall_time(pool):
    started = time.monotonic()
    verdict = pool.run_all([job("while True:\n    pass\n", "pass\n", cpu=0.5)])[0]
    assert verdict.status == "timeout" and "CPU" in verdict.reason
    assert 0.45 <= verdict.cpu < 1.5
    assert time.monotonic() - started < 4


def test_sleeper_hits_the_wall_clock_backstop(pool):
    verdict = pool.run_all([job("import time\ntime.sleep(60)\n", "pass\n", cpu=0.5, wall=1.0)])[0]
    assert verdict.status == "timeout" and "wall" in verdict.reason
    assert verdict.wall < 3


def test_ignored_signals_do_not_stop_the_kill(pool):
    solution = "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):\n" \
               "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n"
    verdict = pool.run_all([job(solution, "pass\n", cpu=0.5)])[0]
    assert verdict.status == "timeout"


def test_the_kernels_cpu_backstop_is_a_timeout_whatever_cpu_time_was_reported(pool):
    """RLIMIT_CPU is checked against the kernel's raw count, which can run ahead of the CPU time it reports
    (a program flooding its output: killed at a reported 9.1 s of a 10 s limit). Its SIGXCPU is the limit,
    not a crash and not an unexplained kill to retry. Here the sample brings the backstop forward itself."""
    solution = ("import resource\n_, hard = resource.getrlimit(resource.RLIMIT_CPU)\n"
                "resource.setrlimit(resource.RLIMIT_CPU, (1, hard))\nwhile True:\n    pass\n")
    verdict = pool.run_all([job(solution, "pass\n", cpu=3.0)])[0]
    assert verdict.status == "timeout" and verdict.attempts == 1, (verdict.status, verdict.reason)
    assert verdict.cpu < 2.0


def test_output_is_captured_and_capped(pool):
    verdict = pool.run_all([job("print('hello from the sample')\nprint('x' * 100000)\n", "pass\n")])[0]
    assert verdict.status == "passed"
    assert verdict.output.startswith("hello from the sample")
    assert len(verdict.output) <= 2048


def test_hash_seed_is_fixed(pool):
    """One program, one verdict: string hashing is the same in every sample."""
    a, b = pool.run_all([job(f"print(hash('coderun'))\n# {i}\n", "pass\n") for i in range(2)])
    assert a.output == b.output and a.output.strip().lstrip("-").isdigit()


def test_identical_programs_run_once(pool):
    before = pool.stats["executed"]
    verdicts = pool.run_all([job("x = 41\n", "assert x + 1 == 42\n")] * 5)
    assert [v.status for v in verdicts] == ["passed"] * 5
    assert pool.stats["executed"] - before == 1


def test_solution_and_test_share_a_namespace(pool):
    verdict = pool.run_all([job("class Pair:\n    def __init__(self, a):\n        self.a = a\n",
                                "p = Pair(3)\nassert p.a == 3\n")])[0]
    assert verdict.status == "passed"


@pytest.mark.docker
def test_a_pool_started_in_the_background_has_exactly_its_workers():
    """PendingPool enters the pool for its user, who never enters it again: 2 workers are 2 sandboxes, and
    leaving the PendingPool removes them."""
    from coderun.execute.pool import PendingPool
    from tests.conftest import sandbox_containers

    before = {c.id for c in sandbox_containers()}  # the module's own pool is alive meanwhile
    with PendingPool(lambda: SandboxPool(get_provider("docker"), workers=2)) as pending:
        pool = pending.get()
        assert pool.run_all([Job("x = 1", "assert x == 1", cpu=1, wall=5)])[0].passed
        assert len({c.id for c in sandbox_containers()} - before) == 2
    assert {c.id for c in sandbox_containers()} - before == set()


@pytest.mark.docker
def test_recycled_sandboxes_boot_ahead_and_none_outlives_the_pool():
    """A sandbox is replaced after max_jobs_per_sandbox jobs by one started ahead of time (PREFETCH jobs
    before), so the worker does not wait for a container start; every verdict still arrives, each sandbox
    runs at most max_jobs, and closing the pool leaves no container behind (the spare included)."""
    from coderun.execute import pool as pool_module
    from tests.conftest import sandbox_containers

    before = {c.id for c in sandbox_containers()}
    jobs = [job(GOOD[0] + f"\n# {i}\n", GOOD[1]) for i in range(25)]
    p = SandboxPool(get_provider("docker"), workers=1, max_jobs_per_sandbox=6)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pool_module, "PREFETCH", 3)
        with p:
            verdicts = p.run_all(jobs)
            successors = [t for t in p._threads if t.name == "pool-successor"]
    assert [v.status for v in verdicts] == ["passed"] * 25
    per_sandbox = {}
    for v in verdicts:
        per_sandbox[v.sandbox] = per_sandbox.get(v.sandbox, 0) + 1
    assert len(per_sandbox) == 5 and max(per_sandbox.values()) == 6, per_sandbox
    assert p.stats["replaced"] >= 4 and len(successors) == 4  # each recycle took a sandbox booted ahead
    assert {c.id for c in sandbox_containers()} - before == set()


@pytest.mark.docker
def test_a_sample_killed_at_its_limit_leaves_its_sandbox_clean():
    """The runner reaps a killed sample before it sweeps: a dying child is not a leftover, so no timeout (nor a
    call test stopped at its first failing input) costs a container start."""
    with SandboxPool(get_provider("docker"), workers=1) as pool:
        verdicts = pool.run_all([Job(f"x = {i}\nwhile True:\n    pass\n", "pass\n", cpu=0.3, wall=4.0) for i in range(4)])
        assert [v.status for v in verdicts] == ["timeout"] * 4
        assert pool.stats["replaced"] == 0
