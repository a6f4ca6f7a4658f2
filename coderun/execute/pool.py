"""The sandbox pool: warm sandboxes, one worker thread each, identical programs run once.

The pool is a context manager that owns its sandboxes: nothing outlives the `with` block, Ctrl-C
included. A sandbox that dies or stops answering is replaced and its in-flight job re-run in a fresh one;
a job that kills its sandbox twice is a failure with that reason. A provider that can no longer make
sandboxes (the Docker daemon went away) stops the run with a SandboxError: nothing is guessed, and the
run resumes later from what was recorded.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from collections import OrderedDict, deque
from typing import Any, Iterable, Iterator

from coderun.errors import SandboxError
from coderun.execute.base import Executor, Job, Provider, Sandbox, SandboxDied, Verdict
from coderun.records import Status

ANSWER_GRACE = 15.0  # seconds past a job's wall limit before its sandbox counts as hung
MAX_ATTEMPTS = 2  # a job whose sandbox died this many times is the job's fault
DAEMON_GONE = ("the sandbox provider stopped answering (is the Docker daemon running?); finished verdicts "
               "are saved, run the same command again to resume")
PIPELINE = 2  # jobs in flight per sandbox: the next job waits in the runner's stdin
IDLE = object()  # what a live feeder of run() yields when it has nothing yet: run() then waits for a verdict
RUNNER_FIELDS = ("id", "status", "reason", "cpu", "wall", "output", "dirty", "suspect")  # the rest: a driver's
PREFETCH = 100  # jobs before a sandbox's recycle at which its successor starts booting
CACHE_SIZE = 10_000  # recent verdicts, for running identical programs once; an LRU keeps memory flat
# (identical samples of one problem arrive close together in a samples file)


class SandboxPool(Executor):
    def __init__(self, provider: Provider, workers: int | None = None, max_jobs_per_sandbox: int = 2000,
                 answer_grace: float = ANSWER_GRACE):
        self.provider = provider
        self.answer_grace = answer_grace
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_jobs = max_jobs_per_sandbox
        self.info: dict[str, Any] = {}
        self.stats = {"executed": 0, "reused": 0, "replaced": 0, "retried": 0}
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self._suspects: dict[str, str] = {}  # job key -> the unexplained kill its first attempt ended in
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

    def close(self) -> None:
        self._stop.set()
        for _ in range(self.workers):
            self._jobs.put(None)  # wakes a worker waiting for work, so it sees the stop at once
        with self._lock:
            live = list(self._live)
        _close_all(live)
        for t in list(self._threads):
            t.join(timeout=30)  # a worker may be mid-way through starting a container
        with self._lock:
            late = [s for s in self._live if s not in live]  # started by a chore after the first sweep
        _close_all(late)
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
                    item = next(it)
                except StopIteration:
                    exhausted = True
                    break
                if item is IDLE:
                    break
                tag, job = item
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
                if exhausted:
                    return
                continue  # a live feeder with nothing yet (it waits a little before yielding IDLE)
            key, verdict = self._next_result()
            self._remember(key, verdict)
            for tag in waiting.pop(key):
                yield tag, verdict

    def _next_result(self) -> tuple[str, Verdict]:
        while True:
            try:
                return self._results.get(timeout=0.2)
            except queue.Empty:
                self._raise_fatal()

    def _remember(self, key: str, verdict: Verdict) -> None:
        if verdict.status == Status.ERROR:
            return  # a harness error is never cached: a later run must try again
        self._cache[key] = dataclasses.replace(verdict, output="")
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    # ---- workers -----------------------------------------------------------------------------------
    def _work(self, index: int, ready: threading.Event) -> None:
        worker = _Worker(self, index)
        try:
            worker.sandbox = self._start(index)
            ready.set()
            while not self._stop.is_set():
                worker.step()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, never swallowed
            if not self._stop.is_set() and self._fatal is None:
                self._fatal = exc if isinstance(exc, SandboxError) else SandboxError(f"sandbox worker failed: {exc}")
        finally:
            ready.set()
            self._retire(worker.sandbox)

    def _start(self, index: int) -> Sandbox:
        sandbox = self.provider.sandbox(index)
        with self._lock:
            self._live.add(sandbox)
        try:
            sandbox.start()
        except Exception as exc:
            self._retire(sandbox)
            if isinstance(exc, ConnectionError) or not self.provider.healthy():
                raise SandboxError(DAEMON_GONE) from None
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

    def _in_background(self, name: str, target) -> threading.Thread:
        """Start a pool chore (a sandbox starting or being retired) that close() waits for."""
        t = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()
        return t


def _close_all(sandboxes: list[Sandbox]) -> None:
    """Close sandboxes side by side: each waits for its container to be gone."""
    closers = [threading.Thread(target=s.close, name="pool-close", daemon=True) for s in sandboxes]
    for t in closers:
        t.start()
    for t in closers:
        t.join()


def _thread(name: str, target) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


class _Background:
    """fn() on a thread of its own: get() waits for it, then returns its value or raises what it raised.
    `spawn(name, target)` starts the thread (a pool's _in_background, so that its close() waits for it)."""

    def __init__(self, fn, name: str, spawn=_thread):
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = spawn(name, lambda: self._run(fn))

    def _run(self, fn) -> None:
        try:
            self.value = fn()
        except BaseException as exc:  # noqa: BLE001 - raised in whoever calls get()
            self.error = exc

    def get(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


class PendingPool:
    """An executor being entered in the background, so containers boot while the caller loads its data.

    The caller never enters the executor itself: `get()` waits for it to be entered here and returns it
    (or raises whatever entering raised), and `close()` always exits it, so it still owns its sandboxes
    from start to end, Ctrl-C included. Use as a context manager."""

    def __init__(self, make_executor):
        self._entering = _Background(lambda: make_executor().__enter__(), "pool-start")

    def get(self) -> Executor:
        return self._entering.get()

    def close(self) -> None:
        self._entering.thread.join()
        if self._entering.value is not None:
            self._entering.value.close()

    def __enter__(self) -> "PendingPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Worker:
    """Feeds one sandbox, keeping PIPELINE jobs in flight so the runner never waits for the host.

    The runner works through its jobs in order, so the oldest job in flight is the one running: when a
    sandbox dies, that job is charged an attempt, and the jobs queued behind it are re-queued as they were.
    """

    def __init__(self, pool: SandboxPool, index: int):
        self.pool, self.index = pool, index
        self.sandbox: Sandbox | None = None
        self.inflight: deque[tuple[str, Job, int]] = deque()
        self.done = 0
        self.next: _Background | None = None  # the sandbox that takes over at the recycle (booting ahead)
        self.blobs: set[str] = set()  # digests this sandbox holds

    def step(self) -> None:
        self._fill()
        if not self.inflight:
            return
        key, job, attempt = self.inflight[0]
        try:
            msg = self._receive(key, job)
        except SandboxDied as died:
            self._replace(requeue_head=False)
            self._on_death(key, job, attempt, died)
            return
        self.inflight.popleft()
        verdict = self._verdict(msg, attempt)
        self.done += 1
        if verdict.status == Status.ERROR and attempt + 1 < MAX_ATTEMPTS:
            self.pool.stats["retried"] += 1
            if msg.get("suspect"):
                self.pool._suspects[key] = verdict.reason
            self.pool._jobs.put((key, job, attempt + 1))  # one more try, in a fresh sandbox
            self._replace()
            return
        if verdict.status == Status.ERROR and msg.get("suspect") and self.pool._suspects.get(key) == verdict.reason:
            # The same unexplained kill again, in a fresh sandbox: the sample brought it on itself (a kill of
            # its own, or memory the host runs out of every time). An operator's kill does not repeat.
            verdict.status = Status.FAILED
            verdict.reason = f"{verdict.reason}, again in a fresh sandbox: the sample's own doing"
        self.pool._suspects.pop(key, None)
        self.pool._results.put((key, verdict))
        if msg.get("dirty") or self.done >= self.pool.max_jobs:
            self._replace()  # the jobs behind it run in a fresh sandbox, not in a dirty one
        elif self.next is None and self.done >= self.pool.max_jobs - PREFETCH:
            pool, index = self.pool, self.index  # a container start (~0.4 s) no longer stalls the worker
            self.next = _Background(lambda: pool._start(index), "pool-successor", spawn=pool._in_background)

    def _fill(self) -> None:
        while len(self.inflight) < PIPELINE:
            try:
                item = self.pool._jobs.get(timeout=0.2 if not self.inflight else 0)
            except queue.Empty:
                return
            if item is None:  # the pool is closing
                return
            if self.sandbox is None:
                fresh = self.next.get() if self.next is not None else self.pool._start(self.index)
                self.sandbox, self.next, self.done, self.blobs = fresh, None, 0, set()
            self.inflight.append(item)
            key, job, _ = item
            try:
                for blob in job.call.blobs() if job.call is not None else ():
                    if blob.digest not in self.blobs:  # sent once per sandbox, before the first job naming it
                        self.sandbox.send({"put": blob.digest, "data": blob.text})
                        self.blobs.add(blob.digest)
                self.sandbox.send(job.message(key[:16]))
            except SandboxDied:
                return  # the receive that follows sees the dead channel and handles it

    def _receive(self, key: str, job: Job) -> dict[str, Any]:
        while True:
            msg = self.sandbox.receive(timeout=job.wall + self.pool.answer_grace)
            if msg.get("id") == key[:16]:
                return msg
            # anything else is an answer to a job given up on earlier; skip it

    def _verdict(self, msg: dict[str, Any], attempt: int) -> Verdict:
        self.pool.stats["executed"] += 1
        extra = {k: v for k, v in msg.items() if k not in RUNNER_FIELDS}  # passed through, unread
        return Verdict(status=Status(msg.get("status", "error")), reason=msg.get("reason", ""),
                       cpu=float(msg.get("cpu", 0.0)), wall=float(msg.get("wall", 0.0)),
                       output=msg.get("output", "")[:2048], attempts=attempt + 1, sandbox=self.sandbox.name,
                       extra=extra)

    def _replace(self, requeue_head: bool = True) -> None:
        """Retire the sandbox (in the background: nothing more runs in it); jobs still in flight go back to the
        queue unchanged."""
        retiring = self.sandbox
        self.pool._in_background("pool-retire", lambda: self.pool._retire(retiring))
        self.sandbox = None
        pending = list(self.inflight) if requeue_head else list(self.inflight)[1:]
        self.inflight.clear()
        for item in pending:
            self.pool._jobs.put(item)

    def _on_death(self, key: str, job: Job, attempt: int, died: SandboxDied) -> None:
        if not self.pool.provider.healthy():
            raise SandboxError(DAEMON_GONE)
        if attempt + 1 >= MAX_ATTEMPTS:
            reason = f"the sample killed its sandbox {MAX_ATTEMPTS} times ({died})"
            self.pool._results.put((key, Verdict(Status.FAILED, reason=reason, attempts=attempt + 1)))
        else:
            self.pool.stats["retried"] += 1
            self.pool._jobs.put((key, job, attempt + 1))
