"""The runner's warm-compiler client (sandbox/servers.py) against small servers of our own that misbehave
as a real compiler might: one that hangs, one that dies, one that names a file outside the scratch dir.
The real servers (javac, tsc) are tested in their sandboxes by tests/test_languages.py."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))
import servers  # noqa: E402

ECHO = textwrap.dedent('''
    import struct, sys, time
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    def blob():
        n = struct.unpack(">I", inp.read(4))[0]
        return inp.read(n)
    def put(b):
        out.write(struct.pack(">I", len(b)) + b)
    while True:
        head = inp.read(4)
        if not head:
            break
        files = {}
        for _ in range(struct.unpack(">I", head)[0]):
            name = blob().decode()
            files[name] = blob()
        src = files["main.src"]
        if src == b"spin":
            while True:
                pass
        if src == b"sleep":
            time.sleep(60)
        if src == b"die":
            sys.exit(3)
        name = b"../escape" if src == b"escape" else b"main.out"
        out.write(struct.pack(">I", 0 if src != b"bad" else 1))
        put(b"diagnostics for " + src)
        out.write(struct.pack(">I", 1))
        put(name)
        put(src.upper())
        out.flush()
''')


@pytest.fixture
def server(tmp_path):
    script = tmp_path / "echo_server.py"
    script.write_text(ECHO)
    s = servers.Server([sys.executable, str(script)], None)
    yield s
    s.close()


def test_a_server_compiles_and_stays_warm(server):
    first = server.compile({"main.src": b"abc"}, 5.0, 10.0)
    pid = server.proc.pid
    second = server.compile({"main.src": b"bad"}, 5.0, 10.0)
    assert (first.status, first.code, first.files) == ("ok", 0, {"main.out": b"ABC"})
    assert (second.status, second.code, second.diagnostics) == ("ok", 1, b"diagnostics for bad")
    assert server.proc.pid == pid


@pytest.mark.parametrize("program,status,reason", [
    (b"spin", "timeout", "CPU limit exceeded"),
    (b"sleep", "timeout", "wall-clock limit exceeded"),
    (b"die", "error", "exited during the request"),
    (b"escape", "error", "does not parse"),
])
def test_a_request_that_goes_wrong_ends_the_server_and_the_next_gets_a_fresh_one(server, program, status, reason):
    server.compile({"main.src": b"warm"}, 5.0, 10.0)
    pid = server.proc.pid
    bad = server.compile({"main.src": program}, 0.5, 1.5)
    assert (bad.status, bad.code) == (status, 1)
    assert reason in bad.reason
    assert server.proc is None
    after = server.compile({"main.src": b"next"}, 5.0, 10.0)
    assert (after.status, after.files) == ("ok", {"main.out": b"NEXT"})
    assert server.proc.pid != pid


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", "a//b", "./a"])
def test_an_output_name_that_leaves_the_scratch_dir_is_refused(name):
    with pytest.raises(ValueError):
        servers.safe_name(name)
    assert servers.safe_name("pkg/Problem$1.class") == "pkg/Problem$1.class"


def test_a_server_that_cannot_start_says_so_and_the_runner_runs_the_steps_command_instead():
    got = servers.Server(["/nonexistent/compiler-server"], None).compile({"main.src": b"x"}, 1.0, 2.0)
    assert got.status == "unavailable" and "/nonexistent/compiler-server" in got.reason
