"""The zygote (standard library only): the process every sample's process is forked from.

The runner forks it once, before it reads its first job, so the zygote never holds an expected output, a
judge, a pass mark or any job's data: only the warm modules. For each job the runner sends a small request
(the scratch dir, the uid, the limits) with the pipes' descriptors; the zygote forks, and the child sets
itself up, then reads its own job (its code, and for call tests its inputs) from a pipe the runner writes.
So a sample's process holds its own job and nothing else, whatever it walks or scans. The zygote reaps the
child and reports its exit status and CPU time; the runner supervises and judges.

Request (JSON over a SOCK_SEQPACKET pair, with SCM_RIGHTS): {"scratch", "uid" (None: keep ours), "cpu", "mem"}
and the descriptors [job, out, verdict, *driver's]; replies {"pid"} at the fork, {"status", "cpu"} at the exit.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import socket

import calltest
import classic
import command
import frames

# The sample's side of each driver: job dict, verdict fd -> never returns. A new driver is a module with a
# child_main here and its runner side in runner.DRIVERS.
CHILD_MAINS = {"classic": classic.child_main, "call": calltest.child_main, "command": command.child_main}

JOB_FD, VER_FD = 5, 3  # in the child: where the job pipe and the verdict pipe land (1, 2: output; 4: driver's)
MAX_FDS = 8


class Zygote:
    """The runner's handle on its zygote."""

    def __init__(self, close_in_child: tuple[int, ...] = ()):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote
            ours.close()
            _serve(theirs, close_in_child)
        theirs.close()
        self.sock, self.pid = ours, pid

    def fileno(self) -> int:
        return self.sock.fileno()

    def spawn(self, request: dict, fds: list[int]) -> int:
        """Fork a child for one job; its pid."""
        socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
        return int(self._receive(30.0)["pid"])

    def ended(self, timeout: float) -> dict:
        """{"status": wait status, "cpu": seconds} of the last child, once it has been reaped."""
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except (OSError, socket.timeout) as exc:
            raise RuntimeError(f"the zygote did not answer ({exc!r})") from None
        if not data:
            raise RuntimeError("the zygote exited")
        return json.loads(data)


def _serve(sock: socket.socket, close: tuple[int, ...]) -> None:  # pragma: no cover - the zygote
    """Fork on request, reap, report; exit when the runner's end closes."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):  # the runner's channel to the host is not ours to hold open
        os.dup2(devnull, fd)
    os.close(devnull)
    for fd in close:
        os.close(fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 4096, MAX_FDS)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the runner is gone
        request = json.loads(message)
        # Set here, not in the child: changing the environment costs a forked child ~0.5 ms of page faults.
        os.environ["HOME"] = os.environ["TMPDIR"] = request["scratch"]
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(request, fds)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())
        _, status, usage = os.wait4(pid, 0)
        sock.send(json.dumps({"status": status, "cpu": usage.ru_utime + usage.ru_stime}).encode())


def _child(request: dict, fds: list[int]) -> None:  # pragma: no cover - the sample's process
    """Set up the sample's process, read its job, hand it to its driver. Never returns."""
    ver = fds[2]
    try:
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]  # out of the way of the targets below
        job_r, out_w, ver = high[0], high[1], high[2]
        os.setsid()
        os.dup2(out_w, 1)  # fd 0 is already /dev/null, the environment already the sample's (_serve)
        os.dup2(out_w, 2)
        os.dup2(ver, VER_FD)
        for target, fd in zip(range(4, 4 + len(high) - 3), high[3:]):
            os.dup2(fd, target)
        os.dup2(job_r, JOB_FD)
        os.closerange(JOB_FD + 1, 65536)
        ver = VER_FD
        _limits(float(request["cpu"]), int(request.get("mem") or 0), bool(request.get("tree")))
        if request.get("uid") is not None:
            os.setgroups([])
            os.setgid(request["uid"])
            os.setuid(request["uid"])
        os.chdir(request["scratch"])
        header, _, body = _read_all(JOB_FD).partition(b"\n")  # a JSON header has no raw newline
        os.close(JOB_FD)
        job = json.loads(header)
        job["body"] = body
        child_main = CHILD_MAINS[job["driver"]]
    except BaseException as exc:  # noqa: BLE001 - a harness failure, before any sample code exists
        try:
            frames.write_all(ver, frames.frame(b"E", f"sandbox setup failed: {exc!r}"[:300]))
        except OSError:
            pass
        os._exit(70)
    frames.write_all(VER_FD, frames.frame(b"A"))
    child_main(job, VER_FD)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _limits(cpu: float, mem: int, tree: bool = False) -> None:
    """Hard == soft so the sample cannot raise them back (RLIMIT_CPU aside, below). A toolchain's step (`tree`)
    gets no RLIMIT_NPROC or RLIMIT_AS (they break the JVM, Go and Node): the sandbox's cgroup bounds its
    processes and memory, and the kernel's OOM killer takes it first.

    RLIMIT_CPU is a backstop in whole seconds; the runner enforces the exact limit from the CPU time the
    kernel reports. The kernel checks the rlimit against its raw per-tick count, which can run ~20% ahead
    of the reported time (a program that floods its output, ping-ponging with the runner on one core:
    killed at "9.1 s"). So the backstop is a SIGXCPU, which the runner reads as the timeout it is
    whatever the reported time, and only a program that ignores it meets the SIGKILL a second later."""
    cpu_s = int(cpu) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    limits = [(resource.RLIMIT_CORE, 0)]
    if tree:
        limits += [(resource.RLIMIT_FSIZE, 256 << 20), (resource.RLIMIT_NOFILE, 4096)]
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
    else:
        limits += [(resource.RLIMIT_FSIZE, 32 << 20), (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_NPROC, 128)]
    for res, value in limits:
        resource.setrlimit(res, (value, value))
    if mem and not tree:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
