"""coderun's in-container runner: standard library only.

Reads one JSON job per line on stdin, forks one child per job, writes one JSON verdict per line on stdout.
Exits when stdin closes (the host's channel), so a container never outlives the coderun that owns it.

Job:     {"id", "solution", "test", "cpu": seconds, "wall": seconds, "mem": bytes, ["call": {...}]}
Verdict: {"id", "status": passed|failed|timeout, "reason", "cpu", "wall", "output", "dirty", [call fields]}
Blob:    {"put": digest, "data": text}, no answer: data that later jobs name by digest (kept per runner)

A job with "call" (calltest.py) also calls one function of the sample on a list of inputs and judges each
return value here, outside the sample's process, with a judge the host sends (trusted code).

Why a sample cannot forge `passed`: the child compiles both parts before running any sample code, keeps
`exec` and the verdict pipe in local variables, and only after the test part returned writes a per-job
random nonce to a pipe nobody else holds. Exit status and output are never read as the verdict. A program
that reads the harness's own memory to find the nonce is out of scope (docs/SECURITY.md).
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import resource
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

import calltest

# Modules samples commonly import, loaded once here so each forked child finds them warm.
import bisect, collections, copy, datetime, decimal, fractions, functools, hashlib, heapq  # noqa: E401,F401
import itertools, math, operator, random, re, statistics, string, typing  # noqa: E401,F401

PROTOCOL = 2  # 2: blobs and call tests
OUTPUT_CAP = 2 * 1024  # bytes of sample output kept for the verdict (the rest is drained, not stored)
REASON_CAP = 300
SHARED_DIRS = ("/dev/shm", "/dev/mqueue")  # other places a sample could leave something for the next one
TICKS = os.sysconf("SC_CLK_TCK")


class Runner:
    def __init__(self, uid: int, isolated: bool, in_container: bool = True):
        self.uid = uid
        self.isolated = isolated  # as root: each sample under `uid`, and swept by uid (else neither)
        self.in_container = in_container  # /tmp, /dev/shm and /dev/mqueue are this sandbox's alone
        self.jobs = 0
        # In the container /tmp is a size-capped tmpfs of our own; elsewhere take a private directory.
        self.scratch_root = "/tmp" if in_container else tempfile.mkdtemp(prefix="coderun-local-")
        if not in_container and isolated:
            os.chmod(self.scratch_root, 0o711)  # the sample's uid must reach its own scratch dir inside
        self.blobs = calltest.Blobs()

    # ---- one job -------------------------------------------------------------------------------
    def run(self, job: dict) -> dict:
        self.jobs += 1
        nonce = secrets.token_hex(16).encode()
        call = calltest.Call(job["call"], self.blobs, nonce) if job.get("call") else None
        scratch = self._make_scratch()
        out_r, out_w = os.pipe()
        ver_r, ver_w = os.pipe()
        ooms = _oom_kills()
        # Set here, not in the child: changing the environment costs a forked child ~0.5 ms of page faults.
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(out_r)
            os.close(ver_r)
            _child(job, nonce, scratch, out_w, ver_w, self.uid if self.isolated else None, call)
        os.close(out_w)
        os.close(ver_w)
        timed_out, output, verdict_bytes = self._supervise(pid, job, out_r, ver_r, started, call)
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        dirty = self._sweep(pid)
        verdict_bytes += _drain(ver_r, (1 << 16) if call is None else (256 << 20))
        os.close(out_r)
        os.close(ver_r)
        dirty |= self._clean(scratch)
        cpu = usage.ru_utime + usage.ru_stime
        oom = None if ooms is None else _oom_kills() != ooms
        if call is not None:
            call.feed(verdict_bytes)  # what arrived after the child stopped
            result = call.verdict(_judge(nonce, call.tail, status, timed_out, cpu, job, oom), timed_out)
        else:
            result = _judge(nonce, verdict_bytes, status, timed_out, cpu, job, oom)
        result.update(id=job["id"], cpu=round(cpu, 4), wall=round(wall, 4), dirty=dirty,
                      output=output.decode("utf-8", "replace"))
        return result

    def _supervise(self, pid, job, out_r, ver_r, started, call=None):
        """Wait for the child, draining its pipes; kill its process group at the CPU or wall limit. With a
        call, each return value is judged as it arrives, and the child is killed at the first that fails
        (unless every input must run) or when one input overruns its own CPU limit."""
        cpu_limit, wall_deadline = float(job["cpu"]), started + float(job["wall"])
        check_at = started + cpu_limit  # CPU time cannot run ahead of wall time on a one-core cap
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (out_r, ver_r, pidfd):
            poller.register(fd, select.POLLIN)
        output, verdict, timed_out = bytearray(), bytearray(), None
        try:
            while True:
                now = time.monotonic()
                wait = max(0.0, min(check_at, wall_deadline) - now)
                exited = False
                for fd, _ in poller.poll(math.ceil(wait * 1000)):
                    if fd == pidfd:
                        exited = True
                    elif fd == out_r:
                        chunk = _read(fd, output, OUTPUT_CAP)
                        if not chunk:
                            poller.unregister(fd)
                    elif call is not None:
                        chunk = _read_all(fd)
                        if not chunk:
                            poller.unregister(fd)
                        call.feed(chunk, lambda: _proc_cpu(pid))
                    else:
                        if not _read(fd, verdict, 1 << 16):
                            poller.unregister(fd)
                if exited or (call is not None and call.stop):
                    break
                now = time.monotonic()
                if now >= check_at:
                    used = _proc_cpu(pid)
                    if used >= cpu_limit:
                        timed_out = "cpu"
                        break
                    budget = cpu_limit - used
                    if call is not None:
                        if call.overran(used):
                            break
                        budget = min(budget, call.budget(used))
                    check_at = now + max(budget, 0.01)
                if now >= wall_deadline:
                    timed_out = "wall"
                    break
        finally:
            os.close(pidfd)
        if timed_out or (call is not None and call.stop):
            self._kill_group(pid)
        output += _drain(out_r, OUTPUT_CAP - len(output), nonblocking=True)
        return timed_out, bytes(output[:OUTPUT_CAP]), bytes(verdict)

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


def _child(job, nonce, scratch, out_w, ver_w, uid, call=None):  # pragma: no cover - runs in the forked child
    """Set up the sample's process and run solution then test (and the call, if any). Never returns."""
    try:
        os.setsid()
        os.dup2(out_w, 1)  # fd 0 is already /dev/null (main), the environment already the sample's (run)
        os.dup2(out_w, 2)
        os.dup2(ver_w, 3)
        os.closerange(4, 65536)
        ver_fd = 3
        _limits(float(job["cpu"]), int(job.get("mem") or 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(scratch)
    except BaseException as exc:
        for fd in (3, ver_w):  # 3 once the pipe has been moved there (the original is closed then)
            try:
                os.write(fd, nonce + b"E" + f"sandbox setup failed: {exc!r}".encode()[:REASON_CAP])
                break
            except OSError:
                continue
        os._exit(70)
    write, run_exec, exit_now = os.write, exec, os._exit
    try:
        solution = compile(job["solution"], "<solution>", "exec", dont_inherit=True)
        test = compile(job["test"], "<test>", "exec", dont_inherit=True)
    except BaseException as exc:
        write(ver_fd, nonce + b"F" + _reason(exc, job).encode())
        exit_now(1)
    namespace: dict = {}
    try:
        run_exec(solution, namespace)
        run_exec(test, namespace)
        if call is not None:
            call.run_in_child(namespace, ver_fd)  # returns when every input has been called
    except BaseException as exc:
        try:
            reason = _reason(exc, job)
        except BaseException:
            reason = "exception (its message could not be formatted)"
        write(ver_fd, nonce + b"F" + reason.encode("utf-8", "replace"))
        _flush()
        exit_now(1)
    write(ver_fd, nonce + b"P")
    _flush()
    exit_now(0)


def _flush() -> None:  # pragma: no cover - runs in the child
    """Keep what the sample printed (its own sys.stdout may be anything: never let that matter)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _limits(cpu: float, mem: int) -> None:
    """Hard == soft so the sample cannot raise them back."""
    cpu_s = int(cpu) + 1  # RLIMIT_CPU is whole seconds: a backstop; the runner enforces the exact limit
    for res, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 32 << 20),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, 128),
    ):
        resource.setrlimit(res, (value, value))
    if mem:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))


def _reason(exc: BaseException, job: dict) -> str:
    """Exception type and message; for a failed assert, the test line that failed."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError):
        where = exc.filename.strip("<>") if exc.filename else "program"
        return f"SyntaxError in {where} line {exc.lineno}: {exc.msg}"[:REASON_CAP]
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) before the tests finished"[:REASON_CAP]
    line = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<test>":
            lines = job["test"].splitlines()
            if 0 < lineno <= len(lines):
                line = lines[lineno - 1].strip()
    message = str(exc)
    text = f"{name}: {message}" if message else name
    if isinstance(exc, AssertionError) and line:
        text = f"{text} at {line}" if message else f"AssertionError: {line}"
    return text[:REASON_CAP]


def _judge(nonce: bytes, data: bytes, status: int, timed_out, cpu: float, job: dict, oom) -> dict:
    """The verdict: passed only if the nonce-tagged pass mark arrived; the rest says why not."""
    marks = data.split(nonce)[1:]  # each: a kind byte (P pass, F failed, E setup error) and its text
    if any(m[:1] == b"P" for m in marks):
        return {"status": "passed", "reason": ""}
    if timed_out:
        limit = job["cpu"] if timed_out == "cpu" else job["wall"]
        kind = "CPU" if timed_out == "cpu" else "wall-clock"
        return {"status": "timeout", "reason": f"{kind} limit exceeded ({limit} s)"}
    for m in marks:
        if m[:1] in (b"F", b"E"):
            text = m[1:].decode("utf-8", "replace")[:REASON_CAP]
            return {"status": "error" if m[:1] == b"E" else "failed", "reason": text}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL) and cpu >= float(job["cpu"]) - 0.05:
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


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


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


def _warm_up() -> None:
    """Do once here what every child does first, so no child pays for it. Lazily built interpreter state
    (the compiler's on first use of `compile()`, a traceback walk) costs a forked child ~2 ms of
    copy-on-write page faults each time; built before `gc.freeze()` it is shared instead."""
    job = {"test": "assert f(1) == 2, 'warm-up'"}
    namespace: dict = {}
    try:
        exec(compile("def f(x):\n    return x\n", "<solution>", "exec", dont_inherit=True), namespace)
        exec(compile(job["test"], "<test>", "exec", dont_inherit=True), namespace)
    except AssertionError as exc:
        _reason(exc, job).encode("utf-8", "replace")


def main(argv: list[str]) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":  # one program, one verdict: fixed string hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-s", "-B", *argv])
    # The channel moves off fd 0, which becomes /dev/null: children inherit that and the runner's (never
    # read) sys.stdin, so no sample can read channel bytes and no child has to set up a stdin of its own.
    channel = os.fdopen(fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 10), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ.clear()  # what every sample sees, plus its HOME and TMPDIR (Runner.run)
    os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", LANG="C.UTF-8")
    uid = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 10001
    isolated = os.getuid() == 0  # as root (in the container) the runner drops each sample to `uid`
    in_container = "--local" not in argv  # the local provider's runner shares the host's /tmp and /dev/shm
    runner = Runner(uid, isolated, in_container)
    _warm_up()
    # Everything alive now is the runner's: keep the collector off it, so a forked child neither walks
    # nor copies (copy-on-write) those pages. Halves the per-sample cost.
    gc.freeze()
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
