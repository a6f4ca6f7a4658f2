"""What an executor runs (Job), what comes back (Verdict), and the interfaces of the execution layer.

- Executor: runs jobs and streams verdicts back; a context manager that owns what it starts. The local
  SandboxPool (pool.py) and the RayPool (ray_pool.py, one pool per cluster node) both implement it, so the
  orchestrators never know which one they hold.
- Provider: makes sandboxes; Sandbox: one warm worker speaking the runner's line protocol
  (sandbox/runner.py). The pool only ever talks to these, so one test suite runs against every provider.

The execution layer runs programs and knows nothing about benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import importlib
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Iterable, Iterator

from coderun.errors import InputError
from coderun.records import Status


@dataclass(frozen=True)
class Blob:
    """Data a job names by digest (inputs, expected values, a judge's source): sent to a sandbox once, then
    reused by every job there that names it."""

    text: str

    @property
    def digest(self) -> str:
        return self._digest

    def __post_init__(self) -> None:
        object.__setattr__(self, "_digest", hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest())


@dataclass(frozen=True)
class Call:
    """A call test (sandbox/calltest.py): call `entry` of the program on each input, judge every return value
    in the runner (outside the sample's process) with `judge`'s make_judge(spec, expected, inputs), or with
    `expected` None record the values instead. Per-input CPU `limits`; `run_all` runs every input (else the
    first failing input stops it); `mode` "not_none" reports only whether each value was None."""

    entry: str
    inputs: Blob
    limits: tuple[float, ...]
    expected: Blob | None = None
    judge: Blob | None = None
    spec: tuple[tuple[str, Any], ...] = ()  # the judge's parameters (hashable)
    mode: str = "value"
    run_all: bool = False
    skip: tuple[int, ...] = ()
    digest_over: int = 0  # record mode: outputs longer than this (as text) are kept as a digest
    digest_at: tuple[int, ...] = ()  # inputs whose expected value is a digest: the sample sends its value's
    calls_cpu: float = 0.0  # the tier's limit on its calls' CPU together (the job's own limit adds encoding)
    setup: str = ""  # the benchmark's setup code, run after the program in its namespace (sanitized MBPP's imports)

    def blobs(self) -> list[Blob]:
        return [b for b in (self.inputs, self.expected, self.judge) if b is not None]

    def message(self) -> dict[str, Any]:
        return self._message

    @cached_property
    def key_text(self) -> str:
        """What identifies the call in a job's key (computed once: every sample of a tier shares the call)."""
        return json.dumps(self._message, sort_keys=True)

    @cached_property
    def _message(self) -> dict[str, Any]:
        return {"entry": self.entry, "inputs": self.inputs.digest, "limits": list(self.limits),
                "expected": self.expected.digest if self.expected else None,
                "judge": self.judge.digest if self.judge else None, "spec": dict(self.spec), "mode": self.mode,
                "all": self.run_all, "skip": list(self.skip), "digest_over": self.digest_over,
                "digest_at": list(self.digest_at), "calls_cpu": self.calls_cpu, "setup": self.setup}


@dataclass(frozen=True)
class CommandSpec:
    """A command job (sandbox/command.py): the job's program written to `file`, then `steps` (the runner's
    step messages, as JSON text: hashable, and what the job's key covers); `mark_at`: where in the program the
    runner writes the end mark's secret (None: no mark)."""

    file: str
    steps: str
    mark_at: int | None = None

    def message(self, program: str) -> dict[str, Any]:
        return {"files": {self.file: program}, "mark": None if self.mark_at is None else [self.file, self.mark_at],
                "steps": json.loads(self.steps)}

    @property
    def key_text(self) -> str:
        return f"{self.file}|{self.mark_at}|{self.steps}"


@dataclass(frozen=True)
class Job:
    """One program to run: `solution` then `test`, with its limits (and optionally a call test). Identical
    jobs run once."""

    solution: str
    test: str
    cpu: float  # CPU-time limit, seconds
    wall: float  # wall-clock backstop, seconds
    mem: int = 1 << 30  # address-space limit, bytes
    call: Call | None = None
    command: CommandSpec | None = None

    @property
    def driver(self) -> str:
        """The runner's driver for this job (sandbox/runner.py DRIVERS)."""
        if self.command is not None:
            return "command"
        return "classic" if self.call is None else "call"

    def key(self) -> str:
        h = hashlib.sha256(f"{self.cpu!r}|{self.wall!r}|{self.mem!r}|{len(self.solution)}|".encode())
        h.update(self.solution.encode("utf-8", "surrogatepass"))
        h.update(self.test.encode("utf-8", "surrogatepass"))
        if self.call is not None:
            h.update(self.call.key_text.encode())
        if self.command is not None:
            h.update(self.command.key_text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def message(self, job_id: str) -> dict[str, Any]:
        if self.command is not None:  # the program travels once, as the command's file
            return {"id": job_id, "driver": "command", "cpu": self.cpu, "wall": self.wall, "mem": self.mem,
                    "command": self.command.message(self.solution)}
        message = {"id": job_id, "driver": self.driver, "solution": self.solution, "test": self.test,
                   "cpu": self.cpu, "wall": self.wall, "mem": self.mem}
        if self.call is not None:
            message["call"] = self.call.message()
        return message


@dataclass
class Verdict:
    """Failure is data: every execution ends in one of these, harness failures as `error`."""

    status: Status
    reason: str = ""
    cpu: float = 0.0
    wall: float = 0.0
    output: str = ""
    attempts: int = 1
    sandbox: str = ""  # which sandbox gave the verdict (short container id)
    extra: dict[str, Any] = field(default_factory=dict)  # call tests: inputs, inputs_passed, failed_input, outputs

    @property
    def passed(self) -> bool:
        return self.status == Status.PASSED


PROTOCOL = 3  # the runner's message protocol (sandbox/runner.py says the same in its hello)


class SandboxDied(Exception):
    """The sandbox stopped answering or its channel closed while a job was in flight."""


class Sandbox(ABC):
    """One warm worker: send a job message, receive its verdict message."""

    name: str = ""

    @abstractmethod
    def start(self) -> dict[str, Any]:
        """Start and wait for the runner's hello; return it."""

    @abstractmethod
    def send(self, message: dict[str, Any]) -> None:
        """Hand the runner one job message."""

    @abstractmethod
    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; raises SandboxDied on a closed channel or after `timeout` seconds."""

    @abstractmethod
    def close(self) -> None:
        """Stop and remove; safe to call twice and from another thread."""


class ChannelSandbox(Sandbox):
    """A sandbox whose runner writes one JSON message per line to a byte stream.

    The worker thread that waits for a verdict reads the stream itself (no reader thread, no hand-off):
    per sample that saves two thread wake-ups, which on a busy two-core machine is CPU the samples get.
    """

    def __init__(self) -> None:
        self._pending = bytearray()  # bytes of an incomplete line
        self._lines: deque[bytes] = deque()
        self._eof = False

    @abstractmethod
    def _read_some(self, timeout: float) -> bytes:
        """Up to 64 KiB from the channel within `timeout` (b"" at its end); TimeoutError if none."""

    def _feed(self, data: bytes) -> None:
        """Stdout bytes of the runner; split into lines. A bytearray searched only in what is new: a verdict of
        many MB arrives in 64 KiB chunks, and re-copying or re-scanning all of it per chunk is quadratic."""
        if b"\n" not in data:
            self._pending += data
            return
        head, _, rest = data.partition(b"\n")
        self._pending += head
        lines = [bytes(self._pending), *rest.split(b"\n")]
        self._pending = bytearray(lines.pop())
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
        if hello.get("protocol") != PROTOCOL:  # a sandbox image built by another coderun release
            raise SandboxDied(f"the runner speaks protocol {hello.get('protocol')}, this coderun {PROTOCOL}; "
                              "rebuild the sandbox image (coderun sandbox build)")
        return hello


class Provider(ABC):
    """Makes sandboxes. `prepare` checks the machine once and returns facts for the run's config,
    including `fingerprint`: what identifies the execution environment (verdicts recorded in another one
    are not reused)."""

    name: ClassVar[str]
    isolates: ClassVar[bool] = True

    @abstractmethod
    def prepare(self) -> dict[str, Any]:
        """Check the machine (build the image if needed); the facts recorded in config.json."""

    @abstractmethod
    def sandbox(self, index: int) -> Sandbox:
        """A new, not yet started sandbox for worker `index`."""

    def healthy(self) -> bool:
        """Can new sandboxes still be made? (A dead daemon is a harness failure, not a sample's.)"""
        return True

    def close(self) -> None:
        """Release what `prepare` acquired (clients, locks)."""


class Executor(ABC):
    """Runs jobs; the orchestrators' only view of execution. Enter it once: it starts its sandboxes and
    owns them until exit, Ctrl-C included."""

    info: dict[str, Any]  # facts for config.json (provider, image, limits, nodes), set on entry
    stats: dict[str, int]  # executed, reused, replaced, retried

    @abstractmethod
    def __enter__(self) -> "Executor":
        """Start the sandboxes; returns self."""

    def __exit__(self, *exc_info) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Stop and remove everything it started; safe to call twice."""

    @abstractmethod
    def run(self, items: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, Verdict]]:
        """Yield (tag, verdict) for every (tag, job) as verdicts arrive; identical jobs run once."""

    @property
    def fingerprint(self) -> str | None:
        """The execution environment's identity, provider-neutral (set by the provider's `prepare`)."""
        return self.info.get("fingerprint")

    def run_all(self, jobs: list[Job]) -> list[Verdict]:
        """Verdicts for `jobs`, in order."""
        out: list[Verdict | None] = [None] * len(jobs)
        for i, verdict in self.run(enumerate(jobs)):
            out[i] = verdict
        return out  # type: ignore[return-value]


# The providers, by name -> module; a module registers its class when imported, so listing the names
# (click choices) imports no provider.
PROVIDER_MODULES = {"docker": "coderun.execute.docker_provider", "local": "coderun.execute.local_provider"}
PROVIDERS: dict[str, type[Provider]] = {}


def provider_names() -> list[str]:
    return list(PROVIDER_MODULES)


def register_provider(name: str):
    def deco(cls):
        cls.name = name
        PROVIDERS[name] = cls
        return cls

    return deco


def get_provider(name: str, **options: Any) -> Provider:
    if name not in PROVIDER_MODULES:
        raise InputError(f"unknown sandbox provider {name!r}; known: {', '.join(provider_names())}")
    importlib.import_module(PROVIDER_MODULES[name])
    return PROVIDERS[name](**options)
