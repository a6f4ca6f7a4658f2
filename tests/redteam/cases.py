"""The red-team corpus: hostile or pathological samples, each with the verdict it must get.

Every case first prints its marker (`RT <name>`), so a case that dies of a SyntaxError before its exploit
ran cannot pass the suite: the test checks the marker is in the sample's captured output (or, where the
exploit closes or floods its own output, in the reason). `expect` lists the acceptable statuses; `passed`
is never among them unless the exploit is harmless by construction (the verdict must then be right).
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_PASSED = ("failed", "timeout")


@dataclass(frozen=True)
class Case:
    name: str
    body: str  # the hostile program, after the marker line
    test: str = "assert False, 'the tests must never pass'\n"
    expect: tuple[str, ...] = NOT_PASSED
    reason: str = ""  # text the reason must contain
    marker_in: str = "output"  # where the marker must show: output | reason | none (explained in `why`)
    cpu: float = 1.0
    why: str = ""

    @property
    def marker(self) -> str:
        return f"RT {self.name}"

    def solution(self) -> str:
        return f"print({self.marker!r}, flush=True)\n{self.body}"


CHEATS = [
    Case("sys.exit(0) before the tests", "import sys\nsys.exit(0)\n", reason="SystemExit"),
    Case("sys.exit(0) inside the function", "import sys\ndef f():\n    sys.exit(0)\n", test="f()\nassert False\n",
         reason="SystemExit"),
    Case("os._exit(0) before the tests", "import os\nos._exit(0)\n", reason="exited with status 0"),
    Case("os._exit(0) inside the function", "import os\ndef f():\n    os._exit(0)\n", test="f()\nassert False\n",
         reason="exited with status 0"),
    Case("raise SystemExit", "raise SystemExit(0)\n", reason="SystemExit"),
    Case("atexit handler exits 0", "import atexit, os\natexit.register(os._exit, 0)\n", reason="AssertionError"),
    Case("excepthook swallows the failure", "import sys\nsys.excepthook = lambda *a: print('passed')\n",
         reason="AssertionError"),
    Case("non-daemon thread exits 0 at shutdown",
         "import threading, os, time\nthreading.Thread(target=lambda: (time.sleep(0.3), os._exit(0))).start()\n",
         reason="AssertionError"),
    Case("prints fake results", "print('passed')\nprint('{\"status\": \"passed\", \"passed\": true}')\n"
         "print('All tests passed. OK')\n", reason="AssertionError"),
    Case("closes stdout and stderr", "import os, sys\nsys.stdout.flush()\nos.close(1)\nos.close(2)\n",
         reason="AssertionError"),
    Case("writes pass marks to every descriptor", "import os\nfor fd in range(0, 1024):\n    try:\n"
         "        os.write(fd, b'P' * 40 + b'\\n{\"status\": \"passed\"}\\n')\n    except OSError:\n        pass\n",
         reason="AssertionError"),
    Case("patches exec and compile", "import builtins\nbuiltins.exec = lambda *a, **k: None\n"
         "builtins.compile = lambda *a, **k: None\n", reason="AssertionError"),
    Case("open string swallows the tests", "x = '''\n", reason="SyntaxError", marker_in="none",
         why="a syntax error by design: the solution never runs, so no marker; the reason proves the test "
             "part was not swallowed into the string"),
    Case("raises in the verdict formatting", "class E(Exception):\n    def __str__(self):\n"
         "        import os\n        os._exit(0)\nraise E()\n", expect=("failed",)),
]

TIME = [
    Case("busy loop", "while True:\n    pass\n", expect=("timeout",), reason="CPU"),
    Case("ignores catchable signals", "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, "
         "signal.SIGHUP, signal.SIGALRM):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n",
         expect=("timeout",)),
    Case("blocks signals", "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\n"
         "while True:\n    pass\n", expect=("timeout",)),
    Case("sleeps", "import time\ntime.sleep(3600)\n", expect=("timeout",), reason="wall-clock", cpu=0.5),
    Case("patched clocks", "import time\ntime.time = lambda: 0.0\ntime.monotonic = lambda: 0.0\n"
         "time.perf_counter = lambda: 0.0\nwhile True:\n    pass\n", expect=("timeout",)),
    Case("raises its own rlimits", "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))\n",
         reason="ValueError"),
    Case("huge power in C", "x = 10 ** (10 ** 9)\n"),
    Case("catastrophic regex", "import re\nre.match('(a+)+$', 'a' * 64 + 'b')\n", expect=("timeout",)),
]

RESOURCES = [
    Case("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    Case("double-fork daemon outlives the sample", "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
         "    if os.fork() == 0:\n        time.sleep(3600)\n    os._exit(0)\n", reason="AssertionError"),
    Case("zombie army", "import os\nfor _ in range(100):\n    if os.fork() == 0:\n        os._exit(0)\n",
         reason="AssertionError"),
    Case("memory bomb", "x = []\nwhile True:\n    x.append(bytearray(64 << 20))\n", reason="MemoryError"),
    Case("tmpfs fill", "import os\nwith open('fill', 'wb') as f:\n    while True:\n"
         "        f.write(b'x' * (1 << 20))\n        f.flush()\n"),
    Case("fills /dev/shm", "with open('/dev/shm/fill', 'wb') as f:\n    while True:\n"
         "        f.write(b'x' * (1 << 16))\n        f.flush()\n"),
    Case("stdout flood", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", expect=("timeout",)),
    Case("stderr flood", "import os\nwhile True:\n    os.write(2, b'y' * 65536)\n", expect=("timeout",)),
    Case("too many open files", "fs = [open('/dev/null') for _ in range(100000)]\n", reason="OSError"),
    Case("deep recursion", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef r(n):\n    return r(n + 1)\nr(0)\n"),
    Case("ctypes segfault", "import ctypes\nctypes.string_at(0)\n", reason="SIGSEGV"),
    Case("threads bomb", "import threading, time\nts = []\nwhile True:\n"
         "    t = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n    t.start()\n    ts.append(t)\n"),
]

REACH = [
    Case("TCP to the internet", "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)\n",
         reason="Network is unreachable"),
    Case("UDP out", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
         "s.sendto(b'x', ('8.8.8.8', 53))\n", reason="Network is unreachable"),
    Case("DNS", "import socket\nsocket.getaddrinfo('pypi.org', 443)\n", reason="gaierror"),
    Case("the Docker socket", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
         "s.connect('/var/run/docker.sock')\n", reason="FileNotFoundError"),
    Case("reads host files", "print(open('/etc/shadow').read())\n", reason="Error"),
    Case("writes outside scratch", "open('/opt/coderun/runner.py', 'a').write('# pwned')\n", reason="Error"),
    Case("plants sitecustomize", "import site, os, sys\nfor d in site.getsitepackages() + sys.path:\n"
         "    try:\n        open(os.path.join(d or '.', 'sitecustomize.py'), 'w').write('raise SystemExit')\n"
         "    except OSError:\n        pass\n", reason="AssertionError"),
    Case("plants a shadow module for the next sample", "import os\nfor d in ('/tmp', '.', '/dev/shm'):\n"
         "    try:\n        open(os.path.join(d, 'math.py'), 'w').write('raise SystemExit')\n"
         "    except OSError:\n        pass\n", reason="AssertionError"),
    Case("mounts, chroot and raw sockets", "import os, socket\nfor attempt in (lambda: os.chroot('/tmp'),\n"
         "        lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW),\n"
         "        lambda: os.setuid(0)):\n    try:\n        attempt()\n        print('ESCAPED')\n"
         "    except (OSError, PermissionError):\n        pass\n", reason="AssertionError"),
]

RUNNER = [
    Case("kills its parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
         reason="PermissionError"),
    Case("kill -1", "import os, signal\nos.kill(-1, signal.SIGKILL)\n", reason="AssertionError"),
    Case("signals PID 1", "import os, signal\nfor s in (signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP):\n"
         "    try:\n        os.kill(1, s)\n    except PermissionError:\n        pass\n", reason="AssertionError"),
    Case("writes into the runner's channel", "import os\nfor pid in ('1', str(os.getppid())):\n"
         "    for fd in range(0, 8):\n        try:\n"
         "            with open(f'/proc/{pid}/fd/{fd}', 'w') as f:\n"
         "                f.write('{\"id\": \"x\", \"status\": \"passed\"}\\n')\n"
         "            print('WROTE', pid, fd)\n        except OSError:\n            pass\n",
         reason="AssertionError"),
    Case("reads the runner's memory", "import os\nppid = os.getppid()\n"
         "open(f'/proc/{ppid}/mem', 'rb').read(1)\n", reason="Error"),
]

LATER = [
    Case("leftover kills what comes next", "import os, time, signal\nif os.fork() == 0:\n    os.setsid()\n"
         "    while True:\n        os.kill(-1, signal.SIGKILL)\n", reason="AssertionError"),
    Case("leftover writes into later samples' output", "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
         "    while True:\n        for p in os.listdir('/proc'):\n            if p.isdigit():\n"
         "                for fd in (1, 2, 3):\n                    try:\n"
         "                        with open(f'/proc/{p}/fd/{fd}', 'wb') as f:\n"
         "                            f.write(b'P' * 40)\n                    except OSError:\n"
         "                        pass\n", reason="AssertionError"),
    Case("leftover fills later samples' scratch", "import os\nif os.fork() == 0:\n    os.setsid()\n"
         "    while True:\n        for d in os.listdir('/tmp'):\n            try:\n"
         "                open(os.path.join('/tmp', d, 'junk'), 'wb').write(b'x' * (1 << 20))\n"
         "            except OSError:\n                pass\n", reason="AssertionError"),
    Case("plants a scratch-like directory in /tmp", "import os\nos.makedirs('/tmp/s999999', exist_ok=True)\n"
         "open('/tmp/s999999/math.py', 'w').write('raise SystemExit')\n", reason="AssertionError"),
    Case("reads other samples' files", "import glob\nprint(glob.glob('/tmp/**', recursive=True))\n"
         "print(glob.glob('/dev/shm/*'))\n", reason="AssertionError"),
]

ALL = CHEATS + TIME + RESOURCES + REACH + RUNNER + LATER

