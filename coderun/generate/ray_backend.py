"""Data-parallel generation on a Ray cluster: one engine per node (or per GPU group), prompts split between
them, completions streamed back as each chunk of prompts finishes.

Tensor parallelism stays inside an engine (vLLM's --tensor-parallel-size over a node's GPUs); data
parallelism is across engines: a node with G GPUs holds G // tensor_parallel_size engines, a node without
GPUs (our CPU machines) one. Each engine is an EngineActor pinned to its node that owns an ordinary backend
(the vllm one); the driver keeps two chunks in flight per engine, so engines never wait for work, and an
engine lost with its node only costs its in-flight chunks, which go to the others. The outputs contract is
the single-engine one: the caller cannot tell the difference, except in `info()`.

Sampled generations are as random as ever, but not the same random draws as one engine would make (each
engine has its own seed stream); greedy decoding gives the same completions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

from coderun import cluster
from coderun.errors import CoderunError
from coderun.generate.base import Adapter, Backend, Completion, EngineOptions, Request, Sampling

CHUNK = 8  # prompts per chunk: small enough to stream, large enough to batch inside an engine
IN_FLIGHT = 2
START_TIMEOUT = 900.0


class EngineActor:
    """The actor: a backend on this node. Wrapped with ray.remote when RayDataParallel starts."""

    def __init__(self, name: str, options: dict[str, Any]):
        from coderun.generate.base import create

        self.label = cluster.this_node()
        self.backend = create(name, EngineOptions(**options))

    def info(self) -> dict[str, Any]:
        return {"node": self.label, **self.backend.info()}

    def generate(self, requests: list[dict], sampling: dict, adapter: dict | None) -> list[tuple[int, list[dict]]]:
        reqs = [Request(**{**r, "stop": tuple(r.get("stop") or ())}) for r in requests]
        lora = Adapter(**adapter) if adapter else None
        out = []
        for request, completions in self.backend.generate(reqs, Sampling(**sampling), lora):
            out.append((int(request.task_id), [dataclasses.asdict(c) for c in completions]))
        return out

    def close(self) -> None:
        self.backend.close()


@dataclasses.dataclass
class _Engine:
    label: str
    actor: Any
    in_flight: int = 0


class RayDataParallel(Backend):
    """A backend made of one `inner` backend per node or GPU group of a Ray cluster."""

    name = "ray"

    def __init__(self, inner: str, options: EngineOptions, address: str):
        self.inner, self.address = inner, address
        cluster.connect(address)  # the pool or the process's exit disconnects
        fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name != "benchmark"}
        tp = max(1, options.tensor_parallel_size)
        placements = []
        for node in cluster.alive_nodes():
            gpus = int(node.get("Resources", {}).get("GPU", 0))
            placements += [(node, {"num_cpus": 0, "num_gpus": tp if gpus else 0}, (inner, fields))] \
                * (gpus // tp if gpus else 1)
        started, failed = cluster.start_pinned(EngineActor, placements, START_TIMEOUT)
        self.engines = [_Engine(detail["node"], actor) for actor, detail in started]
        self.layout = [detail for _, detail in started] + [{"error": f["reason"], "node": f["node"]} for f in failed]
        if not self.engines:
            self.close()
            raise CoderunError(f"no engine could start on the Ray cluster: {self.layout}")

    def info(self) -> dict[str, Any]:
        return {"ray": {"address": self.address, "engines": self.layout}}

    def generate(self, requests: list[Request], sampling: Sampling,
                 adapter: Adapter | None = None) -> Iterator[tuple[Request, list[Completion]]]:
        ray = cluster.ray_module()
        payload = [dataclasses.asdict(dataclasses.replace(r, task_id=str(i))) for i, r in enumerate(requests)]
        size = max(1, min(CHUNK, -(-len(payload) // (IN_FLIGHT * len(self.engines)))))  # every engine gets work
        chunks = [payload[i:i + size] for i in range(0, len(payload), size)]
        lora = dataclasses.asdict(adapter) if adapter else None
        flights: dict[Any, tuple[_Engine, list[dict]]] = {}
        try:
            yield from self._stream(ray, requests, chunks, flights, sampling, lora)
        finally:
            for future, (engine, _) in flights.items():  # the caller stopped early: drop what is left
                ray.cancel(future)
                engine.in_flight -= 1

    def _stream(self, ray, requests, chunks, flights, sampling, lora):
        while chunks or flights:
            while chunks and self.engines:  # one chunk at a time to the least busy engine
                engine = min(self.engines, key=lambda e: e.in_flight)
                if engine.in_flight >= IN_FLIGHT:
                    break
                chunk = chunks.pop(0)
                flights[engine.actor.generate.remote(chunk, dataclasses.asdict(sampling), lora)] = (engine, chunk)
                engine.in_flight += 1
            ready, _ = ray.wait(list(flights), num_returns=1)
            engine, chunk = flights.pop(ready[0])
            engine.in_flight -= 1
            try:
                done = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - the engine is gone: its chunks go to the others
                self._lose(engine, chunk, flights, chunks, exc)
                continue
            for index, completions in done:
                yield requests[index], [Completion(**c) for c in completions]

    def _lose(self, engine: _Engine, chunk, flights: dict, chunks: list, exc: BaseException) -> None:
        chunks.insert(0, chunk)
        for future, (owner, other) in list(flights.items()):
            if owner is engine:
                del flights[future]
                chunks.insert(0, other)
        if engine in self.engines:
            self.engines.remove(engine)
        if not self.engines:
            raise CoderunError(f"every engine on the Ray cluster was lost (last: {engine.label}: "
                               f"{type(exc).__name__}); generations so far are saved, run again to resume")

    def close(self) -> None:
        cluster.stop([engine.actor for engine in self.engines], timeout=120)
        self.engines = []
