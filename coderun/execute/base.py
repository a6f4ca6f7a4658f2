"""What the pool runs (Job), what comes back (Verdict), and the small Sandbox/Provider interface.

A provider makes sandboxes; a sandbox is one warm worker speaking the runner's line protocol
(sandbox/runner.py). The pool (pool.py) only ever talks to this interface, so one test suite runs
against every provider.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

STATUSES = ("passed", "failed", "timeout", "error")


@dataclass(frozen=True)
class Job:
    """One program to run: `solution` then `test`, with its limits. Identical jobs run once."""

    solution: str
    test: str
    cpu: float  # CPU-time limit, seconds
    wall: float  # wall-clock backstop, seconds
    mem: int = 1 << 30  # address-space limit, bytes

    def key(self) -> str:
        h = hashlib.sha256(f"{self.cpu!r}|{self.wall!r}|{self.mem!r}|{len(self.solution)}|".encode())
        h.update(self.solution.encode("utf-8", "surrogatepass"))
        h.update(self.test.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def message(self, job_id: str) -> dict[str, Any]:
        return {"id": job_id, "solution": self.solution, "test": self.test, "cpu": self.cpu, "wall": self.wall,
                "mem": self.mem}


@dataclass
class Verdict:
    """Failure is data: every execution ends in one of these, harness failures as `error`."""

    status: str
    reason: str = ""
    cpu: float = 0.0
    wall: float = 0.0
    output: str = ""
    attempts: int = 1
    sandbox: str = ""  # which sandbox gave the verdict (short container id)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class SandboxDied(Exception):
    """The sandbox stopped answering or its channel closed while a job was in flight."""


class Sandbox:
    """One warm worker: send a job message, receive its verdict message."""

    name: str = ""

    def start(self) -> dict[str, Any]:
        """Start and wait for the runner's hello; return it."""
        raise NotImplementedError

    def send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; raises SandboxDied on a closed channel or after `timeout` seconds."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop and remove; safe to call twice and from another thread."""
        raise NotImplementedError


class ChannelSandbox(Sandbox):
    """A sandbox whose runner writes one JSON message per line to a byte stream.

    The worker thread that waits for a verdict reads the stream itself (no reader thread, no hand-off):
    per sample that saves two thread wake-ups, which on a busy two-core machine is CPU the samples get.
    """

    def __init__(self) -> None:
        self._pending = b""  # bytes of an incomplete line
        self._lines: deque[bytes] = deque()
        self._eof = False

    def _read_some(self, timeout: float) -> bytes:
        """Up to 64 KiB from the channel within `timeout` (b"" at its end); TimeoutError if none."""
        raise NotImplementedError

    def _feed(self, data: bytes) -> None:
        """Stdout bytes of the runner; split into lines."""
        self._pending += data
        if b"\n" in self._pending:
            *lines, self._pending = self._pending.split(b"\n")
            self._lines.extend(line for line in lines if line.strip())

    def receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self._lines:
            remaining = deadline - time.monotonic()
            if self._eof:
                raise SandboxDied("the runner's channel closed (container or runner exited)")
            if remaining <= 0:
                raise SandboxDied(f"no answer in {timeout:.0f} s")
            try:
                data = self._read_some(remaining)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self._eof = True
                continue
            self._feed(data)
        try:
            return json.loads(self._lines.popleft())
        except ValueError as exc:
            raise SandboxDied(f"runner sent a malformed message ({exc})") from None

    def _await_hello(self, timeout: float) -> dict[str, Any]:
        hello = self.receive(timeout)
        if not hello.get("ready"):
            raise SandboxDied(f"runner did not start: {hello}")
        return hello


class Provider:
    """Makes sandboxes. `prepare` checks the machine once and returns facts for the run's config."""

    name: ClassVar[str]
    isolates: ClassVar[bool] = True

    def prepare(self) -> dict[str, Any]:
        raise NotImplementedError

    def sandbox(self, index: int) -> Sandbox:
        raise NotImplementedError

    def healthy(self) -> bool:
        """Can new sandboxes still be made? (A dead daemon is a harness failure, not a sample's.)"""
        return True

    def close(self) -> None:
        pass


PROVIDERS: dict[str, Callable[..., Provider]] = {}


def register_provider(name: str):
    def deco(cls):
        cls.name = name
        PROVIDERS[name] = cls
        return cls

    return deco


def get_provider(name: str, **options: Any) -> Provider:
    from coderun.execute import docker_provider, local_provider  # noqa: F401  (registers both)
    from coderun.errors import InputError

    if name not in PROVIDERS:
        raise InputError(f"unknown sandbox provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return PROVIDERS[name](**options)


def parse_size(size: str) -> int:
    """'512m', '2g', '1024' -> bytes; anything else is an InputError naming the value."""
    from coderun.errors import InputError

    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = str(size).strip().lower().rstrip("b")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise InputError(f"--memory takes a size like 512m or 2g, got {size!r}") from None
