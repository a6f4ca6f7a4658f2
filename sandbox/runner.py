"""coderun's in-container runner: standard library only.

Reads one JSON job per line on its channel, runs each in a fresh process, writes one JSON verdict per line.
Exits when the channel closes (the host's), so a container never outlives the coderun that owns it.

Job:     {"id", "driver": "classic" | "call", "solution", "test", "cpu": seconds, "wall": seconds, "mem": bytes,
          ["call": {...}]}
Verdict: {"id", "status": passed|failed|timeout|error, "reason", "cpu", "wall", "output", "dirty", [driver fields]}
Blob:    {"put": digest, "data": text}, no answer: data that later jobs name by digest (kept in the runner)

Three processes, so that nothing that decides a verdict is in the sample's reach:
- the runner (this file) reads jobs, holds the blobs (expected outputs, judges), supervises and judges;
- the zygote (zygote.py), forked before the first job: it forks one child per job and reaps it;
- the child, the sample's process: it reads its own job (its code; for call tests its inputs) from a pipe.
As root (in the container) the child runs under another uid, so it cannot read or trace the runner.

A job runs through a named driver, one module each: its runner side (DRIVERS: builds what the child gets,
judges what the child sends) and its child side (zygote.CHILD_MAINS). classic.py runs a program and its
asserts; calltest.py calls one function on inputs and judges each value here. Exit status and output are
never the verdict (frames.py says what is).
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time

import calltest
import classic
import command
import frames
import servers
from zygote import Zygote

# Modules samples commonly import, loaded once here so each forked child finds them warm.
import bisect, collections, copy, datetime, decimal, fractions, functools, hashlib, heapq  # noqa: E401,F401
import itertools, math, operator, random, re, statistics, string, typing  # noqa: E401,F401

PROTOCOL = 3  # 3: drivers, the zygote
OUTPUT_CAP = 2 * 1024  # bytes of sample output kept for the verdict (the rest is drained, not stored)
CAPTURE = 1 << 16  # bytes of the verdict stream kept at its head and at its tail
REASON_CAP = 300
SHARED_DIRS = ("/dev/shm", "/dev/mqueue")  # other places a sample could leave something for the next one
DRIVERS = {"classic": classic.Classic, "call": calltest.CallTest, "command": command.Command}  # the runner's side of each driver


class Captured:
    """The head and the tail of a job's verdict stream: where a setup error and a program's last word are."""

    def __init__(self):
        self.head, self.tail = bytearray(), bytearray()

    def add(self, data: bytes) -> None:
        if len(self.head) < CAPTURE:
            self.head += data[: CAPTURE - len(self.head)]
        self.tail += data
        if len(self.tail) > 2 * CAPTURE:
            del self.tail[:-CAPTURE]

    def __contains__(self, needle: bytes) -> bool:
        return needle in self.head or needle in self.tail


class Runner:
    def __init__(self, uid: int, isolated: bool, in_container: bool = True, zygote: Zygote | None = None):
        self.uid = uid
        self.isolated = isolated  # as root: each sample under `uid`, and swept by uid (else neither)
        self.in_container = in_container  # /tmp, /dev/shm and /dev/mqueue are this sandbox's alone
        self.jobs = 0
        # In the container /tmp is a size-capped tmpfs of our own; elsewhere take a private directory.
        self.scratch_root = "/tmp" if in_container else tempfile.mkdtemp(prefix="coderun-local-")
        if not in_container and isolated:
            os.chmod(self.scratch_root, 0o711)  # the sample's uid must reach its own scratch dir inside
        self.blobs = calltest.Blobs()
        self.zygote = zygote or Zygote()
        self.ooms = _oom_kills()  # the container's OOM kills as of the last job's end: nothing runs in between
        self.servers: dict[tuple, servers.Server] = {}  # warm compilers, by their argv

    # ---- one job -------------------------------------------------------------------------------
    def run(self, job: dict) -> dict:
        """One job: its driver's processes in turn (one for classic and call tests, one per step for
        commands), in one scratch dir, then its verdict."""
        self.jobs += 1
        driver = DRIVERS[job.get("driver") or ("call" if job.get("call") else "classic")](job, self.blobs)
        scratch = self._make_scratch()
        cpu = wall = 0.0
        dirty = False
        ran = None
        try:
            if hasattr(driver, "prepare"):
                driver.prepare(scratch, self.uid if self.isolated else None)
            for limits in _steps(driver, job):
                run = self._compile if limits.get("server") else self._process
                ran = run(driver, limits, scratch)
                cpu, wall, dirty = cpu + ran.cpu, wall + ran.wall, dirty | ran.dirty
                if hasattr(driver, "step_ended"):
                    driver.step_ended(ran.base, ran.status, ran.cpu, ran.captured, bytes(ran.output))
        finally:
            dirty |= self._clean(scratch)
        result = driver.verdict(ran.base, ran.timed_out, ran.captured)
        result.setdefault("output", _output(ran.output, OUTPUT_CAP))
        result.update(id=job["id"], cpu=round(cpu, 4), wall=round(wall, 4), dirty=dirty)
        return result

    def _process(self, driver, limits: dict, scratch: str) -> "_Ran":
        """One process of a job, from the zygote's fork to its sweep."""
        out_r, out_w = os.pipe()
        ver_r, ver_w = os.pipe()
        job_r, job_w = os.pipe()
        given = [job_r, out_w, ver_w, *driver.child_fds()]
        tree = bool(limits.get("tree"))
        started = time.monotonic()
        try:
            pid = self.zygote.spawn({"scratch": scratch, "uid": self.uid if self.isolated else None,
                                     "cpu": limits["cpu"], "mem": limits.get("mem") or 0, "tree": tree}, given)
        finally:
            for fd in given:
                os.close(fd)
        try:
            header, body = driver.child_job()
            frames.write_all(job_w, json.dumps(header).encode() + b"\n" + body)
        except OSError:
            pass  # the child died setting up; what it wrote says why
        os.close(job_w)
        captured = Captured()
        cpu_of = (lambda: _tree_cpu(self.uid, pid, self.isolated)) if tree else (lambda: servers.proc_cpu(pid))
        cap = getattr(driver, "output_cap", OUTPUT_CAP)
        timed_out, output, ended = self._supervise(pid, limits, out_r, ver_r, started, driver, captured, cpu_of, cap)
        wall = time.monotonic() - started
        if ended is None:  # killed: reaped before the sweep, which would take the dying child for a leftover
            ended = self.zygote.ended(30.0)
        dirty = self._sweep(pid)
        rest = _drain(ver_r, 256 << 20)
        captured.add(rest)
        driver.feed(rest)  # what arrived after the child stopped
        os.close(out_r)
        os.close(ver_r)
        cpu = float(ended["cpu"])  # with what the process reaped of its own children: a tree's
        ooms, self.ooms = self.ooms, _oom_kills()
        oom = None if ooms is None else self.ooms != ooms
        base = _ended(captured, ended["status"], timed_out, cpu, limits, oom)
        return _Ran(base, ended["status"], cpu, wall, timed_out, captured, output, dirty)

    def _compile(self, driver, limits: dict, scratch: str) -> "_Ran":
        """A step done by a warm compile server: the job's sources in, its outputs written into the scratch
        dir (root-owned and read-only to the sample, like its sources). Its diagnostics are the step's
        output; a server's own failure is a harness error, never the program's."""
        argv = tuple(limits["server"])
        server = self.servers.get(argv)
        if server is None:
            server = self.servers[argv] = servers.Server(list(argv), servers.SERVER_UID if self.isolated else None)
        reply = server.compile(driver.sources(), float(limits["cpu"]), float(limits["wall"]))
        if reply.status == "unavailable":  # not in this image (the local provider): the step's own command
            return self._process(driver, limits, scratch)
        if reply.status == "ok":
            try:
                _write_outputs(scratch, reply.files)
            except (OSError, ValueError) as exc:
                reply = servers.Reply("error", f"cannot write the compiler's output ({exc})", cpu=reply.cpu,
                                      wall=reply.wall)
        base = {"status": "failed" if reply.status == "ok" else reply.status, "reason": reply.reason}
        status = reply.code << 8  # as a wait status: the exit status the compiler's own command would have had
        timed_out = "cpu" if reply.status == "timeout" else None
        return _Ran(base, status, reply.cpu, reply.wall, timed_out, Captured(), reply.diagnostics, False)

    def _supervise(self, pid, job, out_r, ver_r, started, driver, captured, cpu_of, cap):
        """Wait for the child, draining its pipes; kill its process group at the CPU or wall limit, or when
        the driver has seen enough (a call test's first failing input, an input over its own limit).
        Returns (timed_out, output, the zygote's exit report or None)."""
        cpu_limit, wall_deadline = float(job["cpu"]), started + float(job["wall"])
        # CPU time cannot run ahead of wall time on a one-core cap: no need to look before then
        check_at = started + min(cpu_limit, driver.budget(0.0))
        poller = select.poll()
        zfd = self.zygote.fileno()
        for fd in (out_r, ver_r, zfd):
            poller.register(fd, select.POLLIN)
        output, timed_out, ended = bytearray(), None, None
        cpu_reader = _CpuReader(cpu_of)
        while True:
            now = time.monotonic()
            wait = max(0.0, min(check_at, wall_deadline) - now)
            for fd, _ in poller.poll(math.ceil(wait * 1000)):
                if fd == zfd:
                    ended = self.zygote.ended(30.0)
                elif fd == out_r:
                    if not _read(fd, output, cap):
                        poller.unregister(fd)
                else:
                    chunk = _read_all(fd)
                    if not chunk:
                        poller.unregister(fd)
                    captured.add(chunk)
                    driver.feed(chunk, cpu_reader.read)
                    # An input that just began may overrun its own limit long before the job's: look then
                    # (CPU time cannot run ahead of wall time on a one-core cap), even if it blocked its timer.
                    check_at = min(check_at, time.monotonic() + driver.budget(None))
            if ended is not None or driver.stop:
                break
            now = time.monotonic()
            if now >= check_at:
                used = cpu_of()
                if used >= cpu_limit:
                    timed_out = "cpu"
                    break
                if driver.overran(used):
                    break
                check_at = now + max(min(cpu_limit - used, driver.budget(used)), 0.01)
            if now >= wall_deadline:
                timed_out = "wall"
                break
        if ended is None:
            self._kill_group(pid)
        output += _drain(out_r, cap - len(output))
        return timed_out, bytes(output[:cap]), ended

    # ---- cleanup ---------------------------------------------------------------------------------
    def _kill_group(self, pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _sweep(self, pid) -> bool:
        """Kill the sample's session and anything else still running under its uid. True if anything was."""
        self._kill_group(pid)
        if not self.isolated:
            return False
        found = False
        for _ in range(200):  # a fork bomb under RLIMIT_NPROC converges in a few rounds
            pids = [p for p in _pids_of_uid(self.uid)]
            if not pids:
                return found
            found = True
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.002)
        return True

    def _make_scratch(self) -> str:
        path = os.path.join(self.scratch_root, f"s{self.jobs}")
        os.mkdir(path, 0o700)
        if self.isolated:
            os.chown(path, self.uid, self.uid)
        return path

    def _clean(self, scratch) -> bool:
        """Remove the scratch dir; True (dirty) if the sample left anything elsewhere."""
        shutil.rmtree(scratch, ignore_errors=True)
        dirty = os.path.exists(scratch)
        if not self.in_container:
            return dirty
        try:
            dirty |= bool(os.listdir(self.scratch_root))  # only this job's scratch lived there, now removed
            for d in SHARED_DIRS:
                if os.path.isdir(d) and os.listdir(d):
                    dirty = True
        except OSError:
            dirty = True
        return dirty


def _ended(captured: Captured, status: int, timed_out, cpu: float, job: dict, oom) -> dict:
    """How the child's process ended, as the runner reads it (never its exit status alone): the verdict of a
    job that did not pass, which a driver refines."""
    setup = frames.setup_failed(bytes(captured.head[:CAPTURE]))
    if setup is not None:
        return {"status": "error", "reason": setup[:REASON_CAP]}
    if timed_out:
        limit = job["cpu"] if timed_out == "cpu" else job["wall"]
        kind = "CPU" if timed_out == "cpu" else "wall-clock"
        return {"status": "timeout", "reason": f"{kind} limit exceeded ({limit} s)"}
    why = frames.last_failure(bytes(captured.tail))
    if why is not None:
        return {"status": "failed", "reason": why[:REASON_CAP]}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= float(job["cpu"]) - 0.05):
            return {"status": "timeout", "reason": f"CPU limit exceeded ({job['cpu']} s)"}
        if sig == signal.SIGKILL and oom is not False:
            return {"status": "failed", "reason": "killed: out of memory (the sandbox's memory limit)"}
        if sig == signal.SIGKILL:
            # Not the CPU limit, not the container's memory: the sample itself (os.kill of its own process or
            # group), the host's OOM killer, or an operator. The kernel does not say who; the host decides by
            # running it again in a fresh sandbox ("suspect"): an outside kill does not repeat.
            return {"status": "error", "reason": "killed by SIGKILL, not by the sandbox's limits", "suspect": True}
        return {"status": "failed", "reason": f"crashed: {signal.Signals(sig).name}"}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return {"status": "failed", "reason": f"exited with status {code} before the tests finished"}


def _read(fd, buf: bytearray, cap: int) -> bytes:
    try:
        chunk = os.read(fd, 1 << 16)
    except OSError:
        return b""
    if len(buf) < cap:
        buf += chunk[: cap - len(buf)]
    return chunk


def _read_all(fd) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except OSError:
        return b""


def _drain(fd, cap: int, nonblocking: bool = True) -> bytes:
    """Read what is left in a pipe without blocking (writers may be dead or killed)."""
    os.set_blocking(fd, False)
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        if len(out) < cap:
            out += chunk[: max(cap - len(out), 0)]
    return bytes(out)


class _CpuReader:
    """The child's CPU time, read from /proc at most once per FRESH seconds: frames of fast inputs arrive
    every few microseconds, and a reading that old understates an input's start by at most FRESH of CPU
    (CPU time cannot run ahead of wall time), far inside calltest.SLACK."""

    FRESH = 0.005

    def __init__(self, cpu_of):
        self.cpu_of, self.at, self.value = cpu_of, -1.0, 0.0

    def read(self) -> float:
        now = time.monotonic()
        if now - self.at > self.FRESH:
            self.at, self.value = now, self.cpu_of()
        return self.value


def _tree_cpu(uid: int, pid: int, isolated: bool) -> float:
    """CPU seconds of a step's whole process tree so far: every live process of the sample's uid (or, not
    isolated, of the step's session), with what each has reaped of its own children."""
    total = 0.0
    pids = _pids_of_uid(uid) if isolated else _pids_of_session(pid)
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / servers.TICKS  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pids_of_session(sid: int):
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[3]) == sid:
                        yield int(name)
            except (OSError, IndexError, ValueError):
                pass


class _Ran:
    """How one process of a job ended: the runner's reading (`base`: the verdict if it did not pass)."""

    __slots__ = ("base", "status", "cpu", "wall", "timed_out", "captured", "output", "dirty")

    def __init__(self, base, status, cpu, wall, timed_out, captured, output, dirty):
        self.base, self.status, self.cpu, self.wall = base, status, cpu, wall
        self.timed_out, self.captured, self.output, self.dirty = timed_out, captured, output, dirty


def _steps(driver, job: dict):
    """The limits of each process the driver runs: a driver with steps says; else one, with the job's."""
    if hasattr(driver, "steps"):
        return driver.steps()
    return ({"cpu": job["cpu"], "wall": job["wall"], "mem": job.get("mem") or 0},)


def _write_outputs(scratch: str, files: dict[str, bytes]) -> None:
    """A compile server's output files (names already checked by servers.safe_name). No process of the
    sample's is alive between steps, so nothing can race these paths."""
    for name, data in files.items():
        parent = scratch
        for part in name.split("/")[:-1]:
            parent = os.path.join(parent, part)
            if not os.path.isdir(parent) or os.path.islink(parent):
                os.mkdir(parent, 0o755)
        fd = os.open(os.path.join(scratch, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            frames.write_all(fd, data)
        finally:
            os.close(fd)


def _output(data: bytes, cap: int) -> str:
    return data[:cap].decode("utf-8", "replace")


def _oom_kills() -> int | None:
    """The container's count of OOM kills (cgroup v2 or v1), or None where it cannot be read."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return None


def _pids_of_uid(uid: int):
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    yield int(name)
            except OSError:
                pass


def main(argv: list[str]) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":  # one program, one verdict: fixed string hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-s", "-B", *argv])
    # The channel moves off fd 0, which becomes /dev/null: children inherit that and the runner's (never
    # read) sys.stdin, so no sample can read channel bytes and no child has to set up a stdin of its own.
    channel_fd = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 10)
    channel = os.fdopen(channel_fd, "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ.clear()  # what every sample sees, plus its HOME and TMPDIR (set by the zygote)
    os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", LANG="C.UTF-8")
    uid = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 10001
    isolated = os.getuid() == 0  # as root (in the container) the runner drops each sample to `uid`
    in_container = "--local" not in argv  # the local provider's runner shares the host's /tmp and /dev/shm
    classic.warm_up()
    # Everything alive now is shared with the zygote and every child: keep the collector off it, so a forked
    # child neither walks nor copies (copy-on-write) those pages. Halves the per-sample cost.
    gc.freeze()
    zygote = Zygote(close_in_child=(channel_fd,))  # before the first job: it never holds one
    _not_dumpable()
    runner = Runner(uid, isolated, in_container, zygote)
    out = sys.stdout.buffer
    hello = {"ready": True, "protocol": PROTOCOL, "python": sys.version.split()[0], "isolated": isolated}
    out.write(json.dumps(hello).encode() + b"\n")
    out.flush()
    for line in channel:  # ends when the host's channel closes
        if not line.strip():
            continue
        job: dict = {}
        try:
            job = json.loads(line)
            if "put" in job:  # a blob for later jobs: no answer
                runner.blobs.put(job["put"], job["data"])
                continue
            result = runner.run(job)
        except Exception as exc:  # a harness failure, reported as such, never as a wrong answer
            result = {"id": job.get("id") if isinstance(job, dict) else None, "status": "error",
                      "reason": f"runner: {exc!r}"[:REASON_CAP], "dirty": True}
        out.write(json.dumps(result).encode() + b"\n")
        out.flush()
    return 0


def _not_dumpable() -> None:
    """No process of another uid may read or trace the runner (/proc/PID/mem, environ, ptrace); under the same
    uid (the local provider, not root) this is what keeps a sample out of its memory."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
