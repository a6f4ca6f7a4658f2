"""Execution spread over a Ray cluster: one warm sandbox pool per node, as a Ray actor on that node.

Each alive node gets a NodePool actor pinned to it (NodeAffinitySchedulingStrategy, not soft), which opens
an ordinary SandboxPool there (its own Docker daemon, sized to the node's CPUs) and runs batches of jobs.
The driver keeps a couple of batches in flight per node, so a node with free capacity always has the
next batch waiting, and streams verdicts back to the caller as batches finish, each tagged with the node
that ran it. A node lost mid-run (its actor dies with it) only costs its in-flight batches, which go to
the remaining nodes; when none is left the run stops with a SandboxError and resumes later.

RayPool implements the Executor interface (execute/base.py), as SandboxPool does, so the orchestrators do
not know which one they hold. Nodes need coderun installed and Docker running; a node whose pool cannot
start is left out and said so in `info["cluster"]["skipped"]`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import queue
import socket
import sys
import threading
from collections import deque
from typing import Any, Iterable, Iterator

from coderun import cluster
from coderun.errors import SandboxError
from coderun.execute.base import Executor, Job, Verdict
from coderun.execute.pool import SandboxPool

BATCH_PER_WORKER = 32  # jobs per batch, per sandbox of the node: batches long enough to amortise a round trip
IN_FLIGHT = 3  # batches per node: the node's pool takes jobs from all of them, so a slow job idles no sandbox
START_TIMEOUT = 600.0  # seconds for a node's pool to start (it may build the sandbox image first)


class NodePool:
    """The actor: a SandboxPool on this node. Wrapped with ray.remote (threaded, so the batches in flight
    are served at once) when a RayPool starts. One pool.run() stream, fed from a queue, serves every batch:
    a batch waiting on one slow job leaves no sandbox idle while other batches have work."""

    def __init__(self, provider: str, options: dict[str, Any], workers: int):
        from coderun.execute.base import get_provider

        self.label = cluster.this_node()
        self.pool = SandboxPool(get_provider(provider, **options), workers=workers)
        self.pool.__enter__()
        self._feed: queue.Queue = queue.Queue()
        self._batches: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count()
        self._error: BaseException | None = None
        self._pulled = self._finished = 0  # jobs handed to the pool, verdicts back (both on the serving thread)
        threading.Thread(target=self._serve, name="node-pool", daemon=True).start()

    def _items(self):
        from coderun.execute.pool import IDLE

        while True:
            busy = self._pulled > self._finished  # jobs running: never block here, their verdicts are due
            try:
                item = self._feed.get_nowait() if busy else self._feed.get(timeout=0.05)
            except queue.Empty:
                yield IDLE
                continue
            if item is None:
                return
            self._pulled += 1
            yield item

    def _serve(self) -> None:
        try:
            for (batch, i), verdict in self.pool.run(self._items()):
                self._finished += 1
                entry = self._batches[batch]
                entry["out"].append((i, verdict))
                if len(entry["out"]) == entry["size"]:
                    entry["done"].set()
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting batch
            self._error = exc
            for entry in list(self._batches.values()):
                entry["done"].set()

    def info(self) -> dict[str, Any]:
        return {**self.pool.info, "node": self.label, "hostname": socket.gethostname(), "workers": self.pool.workers}

    def run(self, batch: list[tuple[int, Job]]) -> list[tuple[int, Verdict]]:
        bid = next(self._ids)
        entry = self._batches[bid] = {"size": len(batch), "out": [], "done": threading.Event()}
        for i, job in batch:
            self._feed.put(((bid, i), job))
        while not entry["done"].wait(1.0) and self._error is None:
            pass
        del self._batches[bid]
        if self._error is not None:
            raise self._error
        return entry["out"]

    def stats(self) -> dict[str, int]:
        return dict(self.pool.stats)

    def close(self) -> None:
        self._feed.put(None)
        self.pool.close()


@dataclasses.dataclass
class _Node:
    label: str
    actor: Any
    workers: int
    in_flight: int = 0


class RayPool(Executor):
    def __init__(self, address: str, provider: str = "docker", options: dict[str, Any] | None = None,
                 workers_per_node: int | None = None):
        self.address = address
        self.provider, self.options = provider, options or {}
        self.workers_per_node = workers_per_node
        self.nodes: list[_Node] = []
        self.info: dict[str, Any] = {}
        self.stats = {"executed": 0, "reused": 0, "requeued": 0, "nodes_lost": 0}
        self._started_ray = False
        self._stdout = None

    def owns_connection(self) -> "RayPool":
        """This pool disconnects from the cluster when it closes (the caller connected for it)."""
        self._started_ray = True
        return self

    @property
    def workers(self) -> int:
        return sum(n.workers for n in self.nodes)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> "RayPool":
        self._started_ray = cluster.connect(self.address) or self._started_ray
        # Ray's driver prints cluster events ("node ... marked dead") on sys.stdout from a thread of its
        # own; stdout is coderun's (--json), so they go to stderr while the pool lives.
        self._stdout, sys.stdout = sys.stdout, sys.stderr
        try:
            self._start_nodes()
        except BaseException:
            self.close()
            raise
        return self

    def _start_nodes(self) -> None:
        """A NodePool on every alive node (threaded: its batches in flight are served at once); a node
        without Docker is left out, and said so."""
        options = {"num_cpus": 0, "max_concurrency": IN_FLIGHT + 2}
        placements = []
        for node in cluster.alive_nodes():
            workers = self.workers_per_node or int(node.get("Resources", {}).get("CPU", 1)) or 1
            placements.append((node, options, (self.provider, self.options, workers)))
        started, skipped = cluster.start_pinned(NodePool, placements, START_TIMEOUT)
        self.nodes = [_Node(detail["node"], actor, detail["workers"]) for actor, detail in started]
        layout = [detail for _, detail in started]
        if not self.nodes:
            raise SandboxError(f"no node of the Ray cluster could start a sandbox pool: {skipped}")
        first = layout[0]
        self.info = {**{k: v for k, v in first.items() if k not in ("node", "hostname", "workers")},
                     "fingerprint": cluster_fingerprint(layout),
                     "cluster": {"address": self.address, "nodes": layout, "skipped": skipped}}

    def close(self) -> None:
        cluster.stop([node.actor for node in self.nodes], timeout=60)
        self.nodes = []
        if self._started_ray:
            cluster.ray_module().shutdown()
            self._started_ray = False
        if self._stdout is not None:
            sys.stdout, self._stdout = self._stdout, None

    # ---- running -----------------------------------------------------------------------------------
    def run(self, items: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, Verdict]]:
        """Yield (tag, verdict) for every (tag, job) as batches finish; each distinct job runs once."""
        ray = cluster.ray_module()
        it = iter(items)
        tags: dict[str, list[Any]] = {}
        queued: deque[tuple[str, Job]] = deque()
        flights: dict[Any, tuple[_Node, list[tuple[str, Job]]]] = {}
        exhausted = False
        while True:
            exhausted = self._read_ahead(it, tags, queued, exhausted)
            self._dispatch(queued, flights)
            if not flights:
                if exhausted and not queued:
                    return
                continue
            ready, _ = ray.wait(list(flights), num_returns=1)
            node, batch = flights.pop(ready[0])
            node.in_flight -= 1
            try:
                results = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - the node is gone: its batches go elsewhere
                self._lose(node, batch, flights, queued, exc)
                continue
            for i, verdict in results:
                key, _ = batch[i]
                verdict.extra["node"] = node.label
                self.stats["executed"] += 1
                for tag in tags.pop(key):
                    yield tag, verdict

    def _read_ahead(self, it, tags, queued, exhausted: bool) -> bool:
        want = sum(IN_FLIGHT * n.workers * BATCH_PER_WORKER for n in self.nodes) * 2
        while not exhausted and len(queued) < want:
            try:
                tag, job = next(it)
            except StopIteration:
                return True
            key = job.key()
            if key in tags:
                tags[key].append(tag)
                self.stats["reused"] += 1
            else:
                tags[key] = [tag]
                queued.append((key, job))
        return exhausted

    def _dispatch(self, queued: deque, flights: dict) -> None:
        """One batch at a time to the least busy node, until every node has IN_FLIGHT batches."""
        while queued and self.nodes:
            node = min(self.nodes, key=lambda n: n.in_flight / n.workers)
            if node.in_flight >= IN_FLIGHT:
                return
            batch = [queued.popleft() for _ in range(min(len(queued), node.workers * BATCH_PER_WORKER))]
            payload = [(i, job) for i, (_, job) in enumerate(batch)]  # pickled as they are: Ray's own format
            flights[node.actor.run.remote(payload)] = (node, batch)
            node.in_flight += 1

    def _lose(self, node: _Node, batch, flights: dict, queued: deque, exc: BaseException) -> None:
        """Requeue the lost node's batches (this one and any other in flight) and drop the node."""
        lost = [batch]
        for future, (owner, other) in list(flights.items()):
            if owner is node:
                del flights[future]
                lost.append(other)
        for b in reversed(lost):
            queued.extendleft(reversed(b))
            self.stats["requeued"] += len(b)
        if node in self.nodes:
            self.nodes.remove(node)
            self.stats["nodes_lost"] += 1
        if not self.nodes:
            raise SandboxError(f"every Ray node with a sandbox pool was lost (last: {node.label}: "
                               f"{type(exc).__name__}); finished verdicts are saved, run again to resume")


def cluster_fingerprint(layout: list[dict[str, Any]]) -> str | None:
    """The environment of a cluster: its nodes' fingerprint when they share one (the usual case: one
    sandbox image everywhere), else a digest of all of them."""
    prints = sorted({str(node.get("fingerprint")) for node in layout})
    if len(prints) == 1:
        return layout[0].get("fingerprint")
    return "cluster:" + hashlib.sha256("|".join(prints).encode()).hexdigest()
