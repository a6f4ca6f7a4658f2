"""`coderun sandbox check`: start a real sandbox and prove each isolation property with a program."""

from __future__ import annotations

from coderun.errors import CoderunError
from coderun.execute.base import get_provider
from coderun.execute.limits import TaskLimits
from coderun.execute.pool import SandboxPool
from coderun.execute.program import Program
from coderun.execute.service import ExecutionService
from coderun.records import Status

# (name, program, test, the status that proves the property holds)
CHECKS = [
    ("runs a correct program", "def f(x):\n    return x + 1\n", "assert f(1) == 2\n", Status.PASSED),
    ("fails a wrong program", "def f(x):\n    return x\n", "assert f(1) == 2\n", Status.FAILED),
    ("exit(0) is not a pass", "import sys\nsys.exit(0)\n", "pass\n", Status.FAILED),
    ("CPU limit", "while True:\n    pass\n", "pass\n", Status.TIMEOUT),
    ("no network", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n", "pass\n",
     Status.FAILED),
    ("read-only root", "open('/usr/coderun-check', 'w')\n", "pass\n", Status.FAILED),
    ("not root", "import os\nassert os.getuid() != 0 and os.geteuid() != 0\n", "pass\n", Status.PASSED),
    ("memory limit", "x = bytearray(8 << 30)\n", "pass\n", Status.FAILED),
    ("container memory limit in force", "import os\nfor f in ('/sys/fs/cgroup/memory.max', "
     "'/sys/fs/cgroup/memory/memory.limit_in_bytes'):\n    if os.path.exists(f):\n"
     "        v = open(f).read().strip()\n        assert v != 'max' and int(v) < 1 << 40, v\n        break\n"
     "else:\n    raise AssertionError('no memory cgroup')\n", "pass\n", Status.PASSED),
    ("container pids limit in force", "import os\nfor f in ('/sys/fs/cgroup/pids.max', '/sys/fs/cgroup/pids/pids.max'):\n"
     "    if os.path.exists(f):\n        assert open(f).read().strip() != 'max'\n        break\n"
     "else:\n    raise AssertionError('no pids cgroup')\n", "pass\n", Status.PASSED),
]


def run_checks(provider_name: str = "docker") -> list[tuple[str, bool, str]]:
    """[(check, ok, detail)]. A property that does not hold is a row, not an exception."""
    try:
        with SandboxPool(get_provider(provider_name, build=False), workers=1) as pool:
            results = [("sandbox starts", True, f"{pool.info.get('image') or provider_name}")]
            work = [(Program(p, t), TaskLimits.fixed(0.5)) for _, p, t, _ in CHECKS]
            for (name, _, _, expected), verdict in zip(CHECKS, ExecutionService(pool, 512 << 20).run_all(work)):
                detail = f"{verdict.status}: {verdict.reason}" if verdict.reason else verdict.status
                results.append((name, verdict.status == expected, detail))
            return results
    except CoderunError as exc:
        return [("sandbox starts", False, str(exc))]
