"""The command driver (standard library only): a program in any language, built and run by its toolchain.

A job's "command": {"files": {name: text}, "mark": [file, offset] or null, "steps": [{"name", "argv", "cpu",
"wall", "compile", "env", "checks": [[stream, text, reason], ...], ["ok": [exit statuses]], ["server": argv]},
...]}. A step with a "server" is done by that warm compile server instead of a process of the sample's
(servers.py). "ok": the exit statuses that count as success (default [0]; mxeval's tsc rule accepts 2, errors
with output emitted). A check with an empty text fires on any output on its stream (HumanEval-X's node rule:
a failed console.assert only prints), the end mark's own line aside.

The runner writes the files into the job's scratch dir (root-owned, read-only to the sample), then runs the
steps in order, each in a fresh process forked by the zygote and exec'd under the sample's uid. Each step's
CPU time is counted over its whole process tree (compilers and the JVM start processes and threads), its
memory and process count bounded by the sandbox's cgroup (RLIMIT_AS and RLIMIT_NPROC would break the JVM,
Go and Node). A step that exits non-zero, overruns or prints what its `checks` name stops the job; a build
step's failure is a compile error, a `failed` verdict.

The end mark: the dataset places a statement at the end of the tests that prints a secret, and the runner
writes a fresh 128-bit secret into that slot (`mark`: file and offset) as it writes the file, so no job
message, no other file and no earlier run holds it. The last step passes only when it exited 0, no check
fired and its stdout holds the secret: a program that exits 0 before its tests ended cannot pass.
"""

from __future__ import annotations

import os
import secrets

import frames

CAPTURE = 1 << 16  # bytes of each stream kept at its head (and of stdout at its tail, where the mark is)
EXEC_FD = 4  # in the child: the exec-status pipe (zygote.py puts a driver's first descriptor there)
EXCERPT = 1000  # characters of a failing step's output in the verdict


class Command:
    """The runner's side of one command job: the files, then one process per step."""

    name = "command"
    output_cap = CAPTURE  # of each step's stderr (the runner keeps the whole verdict stream's head and tail)

    def __init__(self, job: dict, blobs):
        spec = job["command"]
        self.files: dict[str, str] = spec["files"]
        self.mark = tuple(spec["mark"]) if spec.get("mark") else None
        self.steps_spec: list[dict] = spec["steps"]
        self.secret = secrets.token_hex(16).encode()
        self.index = -1
        self.stop = False
        self.records: list[dict] = []  # per step: name, cpu, why (None: it passed)
        self.exec_r: int | None = None  # the read end of the step's exec-status pipe
        self.written: dict[str, bytes] = {}  # the files as written (the secret in its slot): a server's input

    # ---- what the runner asks of every driver ---------------------------------------------------------
    def prepare(self, scratch: str, uid: int | None) -> None:
        """Write the program's files, the secret in its slot. Root-owned and 0644: the sample reads, never
        rewrites, its own sources; build outputs go next to them (the dir is the sample's)."""
        for name, text in self.files.items():
            data = text.encode("utf-8", "surrogatepass")
            if self.mark and self.mark[0] == name:
                at = len(text[: self.mark[1]].encode("utf-8", "surrogatepass"))
                data = data[:at] + self.secret + data[at:]
            self.written[name] = data
            path = os.path.join(scratch, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                frames.write_all(fd, data)
            finally:
                os.close(fd)

    def steps(self):
        """The limits of each process, in order; the runner asks for the next only while `stop` is unset."""
        for i, step in enumerate(self.steps_spec):
            if self.stop:
                return
            self.index = i
            yield {"cpu": float(step["cpu"]), "wall": float(step["wall"]), "mem": 0, "tree": True,
                   "server": step.get("server") or None}

    def sources(self) -> dict[str, bytes]:
        """What a step done by a compile server (servers.py) compiles: the program's files."""
        return dict(self.written)

    def child_job(self) -> tuple[dict, bytes]:
        step = self.steps_spec[self.index]
        return {"driver": "command", "argv": step["argv"], "env": step.get("env") or {}}, b""

    def child_fds(self) -> list[int]:
        """A close-on-exec pipe (fd 4 in the child): only a failed exec writes to it, and once the exec
        succeeded nothing can, so no program's output can pass for a broken toolchain."""
        self.exec_r, w = os.pipe()
        return [w]

    def _exec_failure(self) -> str | None:
        if self.exec_r is None:
            return None
        try:
            os.set_blocking(self.exec_r, False)
            data = os.read(self.exec_r, 4096)
        except OSError:
            data = b""
        finally:
            os.close(self.exec_r)
            self.exec_r = None
        return data.decode("utf-8", "replace") or None

    def feed(self, data: bytes, cpu_now=None) -> None:
        pass  # stdout is judged when the step has ended

    def budget(self, used: float | None) -> float:
        return float("inf")

    def overran(self, used: float) -> bool:
        return False

    def step_ended(self, base: dict, status: int, cpu: float, stdout, stderr: bytes) -> None:
        """Judge one step from the runner's reading of how it ended (`base`: not passed, and why)."""
        step = self.steps_spec[self.index]
        name, compile_step = step["name"], bool(step.get("compile"))
        out = _after_first_frame(bytes(stdout.head))
        failed_exec = self._exec_failure()
        if failed_exec is not None:  # before any of the sample's code ran: the toolchain is broken
            self._end(name, status, cpu, {"status": "error", "reason": f"{name} step: {failed_exec}"})
            return
        tail = bytes(stdout.tail)
        why = None
        if base["status"] in ("timeout", "error") or base.get("suspect"):
            why = {**base, "reason": f"{name} step: {base['reason']}"}
        elif os.WIFSIGNALED(status):
            why = {**base, "status": "failed", "reason": f"{name} step: {base['reason']}"}
        else:
            code = os.WEXITSTATUS(status)
            for stream, text, reason in step.get("checks") or ():
                if _fires(stream, text, out, tail, stderr, self.secret):
                    why = {"status": "failed", "reason": f"{reason}: {_excerpt(out, stderr)}"}
                    break
            if why is None and code not in (step.get("ok") or (0,)):
                kind = "compile error" if compile_step else f"{name} step exited with status {code}"
                why = {"status": "failed", "reason": f"{kind}: {_excerpt(out, stderr)}"}
            last = self.index == len(self.steps_spec) - 1
            if why is None and last and self.mark and self.secret not in out and self.secret not in tail:
                why = {"status": "failed", "reason": "the tests did not reach their end (the program ended with "
                       f"status 0 before printing the end mark): {_excerpt(out, stderr)}"}
        self._end(name, status, cpu, why, _shown(out, stderr, self.secret))

    def _end(self, name, status, cpu, why, output: str = "") -> None:
        self.records.append({"step": name, "cpu": round(cpu, 4), "why": why})
        self.output = output
        if why is not None:
            self.stop = True

    def verdict(self, base: dict, timed_out, captured=None) -> dict:
        steps = [{"step": r["step"], "cpu": r["cpu"]} for r in self.records]
        shown = {"output": getattr(self, "output", "")}
        failed = next((r["why"] for r in self.records if r["why"] is not None), None)
        if failed is not None:
            return {**{k: v for k, v in failed.items() if k != "suspect"}, "steps": steps, **shown,
                    **({"suspect": True} if failed.get("suspect") else {})}
        if len(self.records) < len(self.steps_spec):
            return {"status": "error", "reason": "the runner stopped before every step ran", "steps": steps, **shown}
        return {"status": "passed", "reason": "", "steps": steps, **shown}


def _fires(stream: str, text: str, out: bytes, tail: bytes, stderr: bytes, secret: bytes) -> bool:
    """Whether a check sees its text on its stream (an empty text: any output there but the end mark's line)."""
    seen = {"stdout": out + tail, "stderr": stderr, "any": out + tail + stderr}[stream]
    if text:
        return text.encode() in seen
    if stream == "stderr":
        return bool(stderr)
    return bool(out.replace(secret + b"\n", b"", 1)) or (stream == "any" and bool(stderr))


def _after_first_frame(data: bytes) -> bytes:
    """The stream after the zygote's `A` frame (written before the step's program existed)."""
    if data[:2] == b"\0A" and len(data) >= frames.HEADER:
        return data[frames.HEADER + int(data[2:frames.HEADER], 16):]
    return data


def _shown(stdout: bytes, stderr: bytes, secret: bytes) -> str:
    """What a verdict shows of a step's output (the secret never: a verdict is not the sample's to read,
    but a run's files should not carry a live mark either)."""
    text = stdout[:1024].replace(secret, b"<end mark>")
    if stderr:
        text += b"\n--- stderr ---\n" + stderr[:1024]
    return text.decode("utf-8", "replace")


def _excerpt(stdout: bytes, stderr: bytes) -> str:
    """The first lines of what a failing step said: stderr first (a compiler's errors), else stdout."""
    text = (stderr.strip() or stdout.strip()).decode("utf-8", "replace")
    return " ".join(text[:EXCERPT].split()) or "(no output)"


# ---- in the sample's process ------------------------------------------------------------------------------

def child_main(job: dict, ver_fd: int) -> None:  # pragma: no cover - runs in the sample's process
    """Exec the step: stdout onto the verdict pipe (the runner keeps its head and tail: the end mark is
    there), stderr where the zygote put it, nothing else open. Never returns."""
    env = dict(os.environ)
    env.update(job.get("env") or {})
    argv = job["argv"]
    try:
        os.dup2(ver_fd, 1)
        os.close(ver_fd)
        os.set_inheritable(EXEC_FD, False)  # closed by a successful exec
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        try:
            frames.write_all(EXEC_FD, f"cannot run {argv[0]}: {exc.strerror}"[:300].encode())
        except OSError:
            pass
        os._exit(127)
