"""The sandbox pool: warm sandboxes, one worker thread each, identical programs run once.

The pool is a context manager that owns its sandboxes: nothing outlives the `with` block, Ctrl-C
included. A sandbox that dies or stops answering is replaced and its in-flight job re-run in a fresh one;
a job that kills its sandbox twice is a failure with that reason. A provider that can no longer make
sandboxes (the Docker daemon went away) stops the run with a SandboxError: nothing is guessed, and the
run resumes later from what was recorded.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import OrderedDict
from typing import Any, Iterable, Iterator

from coderun.errors import SandboxError
from coderun.execute.base import Job, Provider, Sandbox, SandboxDied, Verdict

ANSWER_GRACE = 15.0  # seconds past a job's wall limit before its sandbox counts as hung
MAX_ATTEMPTS = 2  # a job whose sandbox died this many times is the job's fault
CACHE_SIZE = 200_000  # verdicts kept for running identical programs once (no outputs: bounded memory)


class SandboxPool:
    def __init__(self, provider: Provider, workers: int | None = None, max_jobs_per_sandbox: int = 1000):
        self.provider = provider
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_jobs = max_jobs_per_sandbox
        self.info: dict[str, Any] = {}
        self.stats = {"executed": 0, "reused": 0, "replaced": 0, "retried": 0}
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self._live: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._fatal: BaseException | None = None
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> "SandboxPool":
        self.info = self.provider.prepare()
        ready = [threading.Event() for _ in range(self.workers)]
        for i in range(self.workers):
            t = threading.Thread(target=self._work, args=(i, ready[i]), name=f"pool-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        for event in ready:
            while not event.wait(0.2):
                self._raise_fatal()
        self._raise_fatal()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            live = list(self._live)
        for sandbox in live:
            sandbox.close()
        for t in self._threads:
            t.join(timeout=5)
        self.provider.close()

    # ---- running -----------------------------------------------------------------------------------
    def run(self, items: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, Verdict]]:
        """Yield (tag, verdict) for every (tag, job), as verdicts arrive; each distinct job runs once.

        Items are pulled lazily, a bounded number ahead, so a generator feeding this (generation
        streaming into execution) is consumed as fast as the sandboxes drain it.
        """
        it = iter(items)
        waiting: dict[str, list[Any]] = {}
        exhausted, ahead = False, 4 * self.workers
        while True:
            while not exhausted and len(waiting) < ahead:
                try:
                    tag, job = next(it)
                except StopIteration:
                    exhausted = True
                    break
                key = job.key()
                if key in self._cache:
                    self._cache.move_to_end(key)
                    self.stats["reused"] += 1
                    yield tag, self._cache[key]
                elif key in waiting:
                    self.stats["reused"] += 1
                    waiting[key].append(tag)
                else:
                    waiting[key] = [tag]
                    self._jobs.put((key, job, 0))
            if not waiting:
                return
            key, verdict = self._next_result()
            self._remember(key, verdict)
            for tag in waiting.pop(key):
                yield tag, verdict

    def run_all(self, jobs: list[Job]) -> list[Verdict]:
        """Convenience: verdicts for `jobs`, in order."""
        out: list[Verdict | None] = [None] * len(jobs)
        for i, verdict in self.run(enumerate(jobs)):
            out[i] = verdict
        return out  # type: ignore[return-value]

    def _next_result(self) -> tuple[str, Verdict]:
        while True:
            try:
                return self._results.get(timeout=0.2)
            except queue.Empty:
                self._raise_fatal()

    def _remember(self, key: str, verdict: Verdict) -> None:
        if verdict.status == "error":
            return  # a harness error is never cached: a later run must try again
        self._cache[key] = verdict
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    # ---- workers -----------------------------------------------------------------------------------
    def _work(self, index: int, ready: threading.Event) -> None:
        sandbox, done = None, 0
        try:
            sandbox = self._start(index)
            ready.set()
            while not self._stop.is_set():
                try:
                    key, job, attempt = self._jobs.get(timeout=0.2)
                except queue.Empty:
                    continue
                if sandbox is None:
                    sandbox, done = self._start(index), 0
                try:
                    verdict, dirty = self._execute(sandbox, key, job, attempt)
                except SandboxDied as died:
                    self._retire(sandbox)
                    sandbox = None
                    self._on_death(key, job, attempt, died)
                    continue
                done += 1
                if dirty or done >= self.max_jobs:
                    self._retire(sandbox)
                    sandbox = None
                if verdict.status == "error" and attempt + 1 < MAX_ATTEMPTS:
                    self.stats["retried"] += 1
                    self._jobs.put((key, job, attempt + 1))  # a fresh sandbox gets one more try
                    self._retire(sandbox)
                    sandbox = None
                    continue
                self._results.put((key, verdict))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, never swallowed
            if not self._stop.is_set() and self._fatal is None:
                self._fatal = exc if isinstance(exc, SandboxError) else SandboxError(f"sandbox worker failed: {exc}")
        finally:
            ready.set()
            if sandbox is not None:
                self._retire(sandbox)

    def _start(self, index: int) -> Sandbox:
        sandbox = self.provider.sandbox(index)
        with self._lock:
            self._live.add(sandbox)
        try:
            sandbox.start()
        except SandboxDied as exc:
            self._retire(sandbox)
            raise SandboxError(f"a sandbox failed to start: {exc}") from None
        except Exception as exc:
            self._retire(sandbox)
            raise SandboxError(f"a sandbox failed to start: {str(exc).splitlines()[0][:200]}") from None
        return sandbox

    def _retire(self, sandbox: Sandbox | None) -> None:
        if sandbox is None:
            return
        sandbox.close()
        with self._lock:
            if sandbox in self._live:
                self._live.discard(sandbox)
                self.stats["replaced"] += 1

    def _execute(self, sandbox: Sandbox, key: str, job: Job, attempt: int) -> tuple[Verdict, bool]:
        started = time.monotonic()
        sandbox.send(job.message(key[:16]))
        while True:
            msg = sandbox.receive(timeout=job.wall + ANSWER_GRACE)
            if msg.get("id") == key[:16]:
                break  # anything else is a stale answer to a job given up on; skip it
        self.stats["executed"] += 1
        verdict = Verdict(status=msg.get("status", "error"), reason=msg.get("reason", ""),
                          cpu=float(msg.get("cpu", 0.0)), wall=float(msg.get("wall", time.monotonic() - started)),
                          output=msg.get("output", "")[:2048], attempts=attempt + 1, sandbox=sandbox.name)
        return verdict, bool(msg.get("dirty"))

    def _on_death(self, key: str, job: Job, attempt: int, died: SandboxDied) -> None:
        if not self.provider.healthy():
            raise SandboxError("the sandbox provider stopped answering (is the Docker daemon running?); "
                               "finished verdicts are saved, run the same command again to resume")
        if attempt + 1 >= MAX_ATTEMPTS:
            self._results.put((key, Verdict("failed", reason=f"the sample killed its sandbox {MAX_ATTEMPTS} "
                                                             f"times ({died})", attempts=attempt + 1)))
        else:
            self.stats["retried"] += 1
            self._jobs.put((key, job, attempt + 1))
