"""Warm compilers (standard library only): a toolchain's compiler kept running between a sandbox's jobs.

The peers start a compiler per program, and for javac, tsc and mcs that start-up is most of the cost (a
second for javac, against tens of milliseconds for the compile itself once warm). A step with a `server` is therefore
not a process of the sample's: the runner sends the job's source files to the step's compile server and
writes the files it returns into the scratch dir, where the next step (the run, a fresh process of the
sample's as always) finds them.

Why this keeps one program away from another:
- The server runs under its own uid (SERVER_UID), so no sample can read its memory, trace or signal it.
- It is reached only through the runner's pipes; a sample holds no descriptor, socket or file of it.
- It runs nothing of the program (javac with -proc:none runs no annotation processor; the TypeScript
  compiler API and mcs execute nothing) and keeps no state of a job after replying. javac and tsc compile in
  memory; mcs reads and writes files, in a directory of the request's own (mode 700, the server's uid) that
  it removes before replying. What a server returns is written by the runner, under names checked to stay
  in the scratch dir.
- A request that overruns its CPU or wall limit, a reply that does not parse and a server that dies end
  that server; the next job starts a fresh one. So a program can make its own compile slow, never another's.

Frames (big-endian u32 lengths): a request is [count] then [name][bytes] per file; a reply is
[status: the compiler's exit status, 0 compiled][diagnostics] then [count] and [name][bytes] per output file.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import time

import frames

SERVER_UID = 9999  # no sample's (they are 10001 and up)
TICKS = os.sysconf("SC_CLK_TCK")
MAX_REPLY = 64 << 20


class Reply:
    __slots__ = ("status", "reason", "code", "diagnostics", "files", "cpu", "wall")

    def __init__(self, status: str, reason: str = "", code: int = 1, diagnostics: bytes = b"",
                 files: dict | None = None, cpu: float = 0.0, wall: float = 0.0):
        # "ok" (the server answered), "timeout", "error" (the server failed, not the program), "unavailable";
        # `code`: the exit status the compiler's command would have had (tsc: 2 for errors with output emitted)
        self.status = status
        self.reason, self.code, self.diagnostics = reason, code, diagnostics
        self.files, self.cpu, self.wall = files or {}, cpu, wall


class Server:
    """One compile server: started on first use, ended on any trouble, started again by the next request."""

    def __init__(self, argv: list[str], uid: int | None):
        self.argv, self.uid = list(argv), uid
        self.proc: subprocess.Popen | None = None

    def compile(self, files: dict[str, bytes], cpu: float, wall: float) -> Reply:
        started = time.monotonic()
        try:
            proc = self._started()
        except OSError as exc:  # no such server here (the local provider, outside its image)
            self.close()
            return Reply("unavailable", f"cannot start the compile server {self.argv[0]}: {exc.strerror}")
        try:
            before = proc_cpu(proc.pid)
            frames.write_all(proc.stdin.fileno(), encode(files))
        except OSError as exc:
            self.close()
            return Reply("error", f"the compile server did not take the request ({exc.strerror})")
        buf = bytearray()
        fd = proc.stdout.fileno()
        deadline = started + wall
        while True:
            used = proc_cpu(proc.pid) - before
            now = time.monotonic()
            if used >= cpu:
                return self._killed(f"CPU limit exceeded ({cpu} s)", used, now - started)
            if now >= deadline:
                return self._killed(f"wall-clock limit exceeded ({wall} s)", used, now - started)
            # CPU time cannot run ahead of wall time on one core: look again when the limit could be reached
            wait = max(0.005, min(cpu - used, deadline - now, 0.5))
            if not select.select([fd], [], [], wait)[0]:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.close()
                return Reply("error", "the compile server exited during the request", cpu=used,
                             wall=time.monotonic() - started)
            buf += chunk
            try:
                parsed = decode_reply(bytes(buf))
            except ValueError as exc:
                self.close()
                return Reply("error", f"the compile server's reply does not parse ({exc})")
            if parsed is not None:
                code, diagnostics, out = parsed
                return Reply("ok", code=code, diagnostics=diagnostics, files=out,
                             cpu=proc_cpu(proc.pid) - before, wall=time.monotonic() - started)

    def _started(self) -> subprocess.Popen:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        self.close()
        isolated = self.uid is not None
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/nonexistent"},
            close_fds=True, start_new_session=True,
            **({"user": self.uid, "group": self.uid, "extra_groups": []} if isolated else {}))
        return self.proc

    def _killed(self, reason: str, cpu: float, wall: float) -> Reply:
        self.close()
        return Reply("timeout", reason, cpu=cpu, wall=wall)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        proc.wait()


def encode(files: dict[str, bytes]) -> bytes:
    parts = [struct.pack(">I", len(files))]
    for name, data in files.items():
        raw = name.encode()
        parts += [struct.pack(">I", len(raw)), raw, struct.pack(">I", len(data)), data]
    return b"".join(parts)


def decode_reply(buf: bytes):
    """(exit status, diagnostics, {name: bytes}) once the whole reply is in `buf`, else None."""
    at = 0

    def take(n: int) -> bytes | None:
        nonlocal at
        if at + n > len(buf):
            return None
        at += n
        return buf[at - n:at]

    def blob() -> bytes | None:
        head = take(4)
        if head is None:
            return None
        n = struct.unpack(">I", head)[0]
        if n > MAX_REPLY:
            raise ValueError(f"a field of {n} bytes")
        return take(n)

    status = take(4)
    diagnostics = blob() if status is not None else None
    count = take(4) if diagnostics is not None else None
    if count is None:
        return None
    files = {}
    for _ in range(struct.unpack(">I", count)[0]):
        name, data = blob(), None
        if name is not None:
            data = blob()
        if data is None:
            return None
        files[safe_name(name.decode("utf-8", "replace"))] = data
    return min(struct.unpack(">I", status)[0], 255), diagnostics, files


def safe_name(name: str) -> str:
    """A relative path that stays inside the scratch dir (a Java package's classes go in subdirectories)."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise ValueError(f"an output file named {name!r}")
    return name


def proc_cpu(pid: int) -> float:
    """A process's CPU seconds so far, all its threads (a JVM's compiler and collector threads included)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0
