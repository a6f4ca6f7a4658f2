"""Docker isolation, for real: hostile samples do not reach the host, the runner or later samples.

Each hostile sample is followed by correct and wrong samples whose verdicts must not change.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from coderun.execute.base import Job, get_provider
from coderun.execute.pool import SandboxPool

from tests.conftest import sandbox_containers
from tests.test_sandbox import GOOD, WRONG, job

pytestmark = pytest.mark.docker


def run_with_neighbours(pool, hostile: Job):
    """Run hostile, then a correct and a wrong sample (distinct programs); return the three verdicts."""
    nonce = f"\n# {time.monotonic_ns()}\n"
    after_good = job(GOOD[0] + nonce, GOOD[1])
    after_wrong = job(WRONG[0] + nonce, WRONG[1])
    return pool.run_all([hostile, after_good, after_wrong])


HOSTILE = [
    ("no network", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\n", "pass\n",
     "failed", "Network is unreachable"),
    ("no DNS", "import socket\nsocket.getaddrinfo('pypi.org', 443)\n", "pass\n", "failed", ""),
    ("read-only root", "open('/usr/lib/python3/evil.py', 'w').write('x')\n", "pass\n", "failed", "Read-only"),
    ("sitecustomize planting", "import site, os\nfor d in site.getsitepackages():\n"
     "    open(os.path.join(d, 'sitecustomize.py'), 'w').write('raise SystemExit')\n", "pass\n", "failed", ""),
    ("not root", "import os\nassert os.getuid() != 0 and os.geteuid() != 0 and os.getgid() != 0\n",
     "pass\n", "passed", ""),
    ("raising own rlimits", "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100))\n", "pass\n",
     "failed", "ValueError"),
    ("memory bomb", "x = []\nwhile True:\n    x.append(bytearray(50 << 20))\n", "pass\n", "failed", "MemoryError"),
    ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     "pass\n", ("failed", "timeout"), ""),
    ("disk fill", "f = open('big', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20))\n", "pass\n", "failed", ""),
    ("output flood", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", "pass\n", "timeout", ""),
    ("too many open files", "fs = [open('/dev/null') for _ in range(100000)]\n", "pass\n", "failed", "OSError"),
    ("kill the runner", "import os, signal\nfor pid in (1, os.getppid()):\n    os.kill(pid, signal.SIGKILL)\n",
     "pass\n", "failed", "PermissionError"),
    ("kill -1", "import os, signal\nos.kill(-1, signal.SIGKILL)\n", "assert False\n", "failed", ""),
    ("docker socket", "import os\nassert not os.path.exists('/var/run/docker.sock')\nopen('/var/run/docker.sock')\n",
     "pass\n", "failed", "FileNotFoundError"),
    ("ctypes segfault", "import ctypes\nctypes.string_at(0)\n", "pass\n", "failed", "SIGSEGV"),
    ("huge power", "x = 10 ** (10 ** 10)\n", "pass\n", ("timeout", "failed"), ""),
    ("catastrophic regex", "import re\nre.match('(a+)+$', 'a' * 40 + 'b')\n", "pass\n", "timeout", ""),
]


@pytest.mark.parametrize("name,solution,test,status,reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_sample(docker_pool, name, solution, test, status, reason):
    hostile, good, wrong = run_with_neighbours(docker_pool, job(solution, test, cpu=1.0))
    assert hostile.status in ((status,) if isinstance(status, str) else status), hostile
    assert reason in hostile.reason, hostile.reason
    assert (good.status, wrong.status) == ("passed", "failed"), (good, wrong)


def test_leftover_process_cannot_touch_a_later_sample(docker_pool):
    """A double-forked daemon tries to kill and spy on whatever comes next; it must be gone first."""
    daemon = ("import os, time, signal\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    if os.fork() == 0:\n"
              "        while True:\n"
              "            os.kill(-1, signal.SIGKILL)\n"
              "            time.sleep(0.001)\n")
    probe = ("import os, time\ntime.sleep(0.3)\nmine = [p for p in os.listdir('/proc') if p.isdigit()\n"
             "        and os.stat('/proc/' + p).st_uid == os.getuid() and int(p) != os.getpid()]\n"
             "assert not mine, mine\nassert os.listdir('.') == []\n")
    verdicts = docker_pool.run_all([job(daemon, "pass\n")] + [job(probe + f"# {i}\n", "pass\n") for i in range(4)])
    assert verdicts[0].status == "passed"
    assert [v.status for v in verdicts[1:]] == ["passed"] * 4, verdicts[1:]


def test_files_do_not_survive_into_the_next_sample(docker_pool):
    plant = ("import os\nopen('/tmp/planted', 'w').write('x')\nopen('/dev/shm/planted', 'w').write('x')\n"
             "os.makedirs('/tmp/s12345', exist_ok=True)\nopen('/tmp/s12345/planted', 'w').write('x')\n")
    look = ("import os, glob\nassert not glob.glob('/tmp/**/planted', recursive=True)\n"
            "assert not os.path.exists('/dev/shm/planted')\n")
    planted, looked = docker_pool.run_all([job(plant, "pass\n"), job(look, "pass\n")])
    assert planted.status in ("passed", "failed")  # whichever: what matters is the next sample
    assert looked.status == "passed", looked


def test_container_is_locked_down(docker_pool):
    import docker

    # Run first, then list: the pool may have started the sandbox that ran it a moment ago.
    ran_in = docker_pool.run_all([job("x = 1\n", "pass\n")])[0].sandbox
    [info] = [c.attrs for c in sandbox_containers() if c.short_id == ran_in]
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] > 0 and host["PidsLimit"] > 0
    assert host["LogConfig"]["Type"] == "none" and host["Init"] is True
    assert docker.from_env().ping()


def test_container_killed_mid_run_gives_the_same_verdicts():
    """Kill a sandbox from outside while it works: its in-flight job re-runs; verdicts are unchanged."""
    import docker

    jobs = [job(f"import time\ntime.sleep(0.05)\ndef f():\n    return {i % 3}  # sample {i}\n", "assert f() == 0\n")
            for i in range(60)]
    expected = ["passed" if i % 3 == 0 else "failed" for i in range(60)]
    with SandboxPool(get_provider("docker"), workers=2) as pool:
        def killer():
            time.sleep(0.6)
            docker.from_env().api.kill(next(iter(pool._live)).id)

        t = threading.Thread(target=killer)
        t.start()
        verdicts = pool.run_all(jobs)
        t.join()
        assert [v.status for v in verdicts] == expected
        assert pool.stats["retried"] >= 1
        ids = {s.id for s in pool._live}
    assert not ids & {c.id for c in sandbox_containers()}


def test_pool_leaves_no_container_and_runner_exits_with_its_channel():
    with SandboxPool(get_provider("docker"), workers=2) as pool:
        assert pool.run_all([job(*GOOD)])[0].status == "passed"
        assert {s.id for s in pool._live} <= {c.id for c in sandbox_containers()}
        sandbox = next(iter(pool._live))
        sandbox._sock.shutdown(socket.SHUT_RDWR)  # only the channel: the runner must see EOF and go
        deadline = time.monotonic() + 15
        while sandbox.id in [c.id for c in sandbox_containers()] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sandbox.id not in [c.id for c in sandbox_containers()]
    assert not {s.id for s in pool._live} & {c.id for c in sandbox_containers()}


def test_leftovers_of_a_dead_coderun_are_removed_at_start():
    import docker

    from coderun.execute.docker_provider import LABEL, OWNER_LABEL, remove_leftovers

    client = docker.from_env()
    image = get_provider("docker").prepare()["image"]
    import socket

    dead_owner = f"{socket.gethostname()}:999999"  # no such pid
    c = client.containers.run(image, ["sleep", "60"], detach=True, labels={LABEL: "1", OWNER_LABEL: dead_owner},
                              network_mode="none")
    try:
        assert remove_leftovers(client.api) >= 1
        assert c.id not in [x.id for x in sandbox_containers()]
    finally:
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_cgroup_out_of_memory_is_a_failure_that_says_so(docker_pool):
    """Two processes, each under its own address-space limit, together over the container's memory."""
    hog = ("import os\nx = bytearray(900 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\n"
           "pid = os.fork()\nfor i in range(0, len(x), 4096):\n    x[i] = 2\n"
           "if pid:\n    os.waitpid(pid, 0)\n")
    hostile, good, wrong = run_with_neighbours(docker_pool, job(hog, "pass\n", cpu=5.0, mem=1 << 30))
    assert hostile.status == "failed" and ("out of memory" in hostile.reason or "MemoryError" in hostile.reason
                                           or "exited" in hostile.reason), hostile
    assert (good.status, wrong.status) == ("passed", "failed")


def test_a_kill_from_outside_is_a_harness_error_and_is_retried(docker_pool):
    """A sample killed by something outside the sandbox (here: root on the host) did not give an answer."""
    import os
    import subprocess

    marker = f"outside-kill-{time.monotonic_ns()}"
    sleeper = f"import time\ntime.sleep(1.5)\n# {marker}\n"

    def kill_first_attempt():
        """Kill (as root on the host) the sample process inside this pool's own sandbox, once."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ours = {sb.id for sb in docker_pool._live}
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cgroup = open(f"/proc/{pid}/cgroup").read()
                    uid = os.stat(f"/proc/{pid}").st_uid
                except OSError:
                    continue
                if uid >= 10001 and any(cid in cgroup for cid in ours):
                    time.sleep(0.3)
                    subprocess.run(["kill", "-9", pid])
                    return
            time.sleep(0.02)

    t = threading.Thread(target=kill_first_attempt)
    t.start()
    verdict = docker_pool.run_all([job(sleeper, "pass\n", cpu=1.0, wall=6.0)])[0]
    t.join()
    assert verdict.status == "passed" and verdict.attempts == 2, verdict


def test_a_sandbox_that_cannot_reach_the_daemon_says_so():
    """A sandbox start that finds no daemon (dockerd restarting, socket gone) is named as such."""
    import docker

    from coderun.errors import SandboxError
    from coderun.execute.docker_provider import DockerProvider
    from coderun.execute.pool import DAEMON_GONE

    provider = DockerProvider(image="coderun-sandbox:none")
    provider.docker = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    provider.image_name = "coderun-sandbox:none"
    with pytest.raises(ConnectionError, match="cannot reach the Docker daemon"):
        provider.sandbox(0).start()
    pool = SandboxPool(provider, workers=1)
    with pytest.raises(SandboxError) as caught:
        pool._start(0)
    assert str(caught.value) == DAEMON_GONE
