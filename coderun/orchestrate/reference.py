"""Reference outputs for call tiers (HumanEval+, MBPP+): the reference solution run on every input, in the
sandbox, once per dataset file and execution environment, with its CPU time per input; cached on the host.

The cache is keyed by the dataset file's sha256, the executor's fingerprint (a reference's outputs and
times belong to one environment), the per-sample memory limit and this module's FORMAT. It holds, per
task and tier, each input's output as plain-data text (what the judge compares with), its CPU seconds,
and the inputs on which the reference itself failed: those are reported and not judged, never dropped
silently. A run computes only the tasks the cache lacks, and adds them to it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coderun.datasets.base import Benchmark, CallTier, cache_dir
from coderun.errors import CoderunError
from coderun.execute.base import Blob, Call, Executor, Job
from coderun.execute.limits import wall_backstop
from coderun.records import Status

FORMAT = 1
REFERENCE_INPUT_CPU = 60.0  # CPU seconds one input may take the reference solution
REFERENCE_TIER_CPU = 900.0  # and a whole tier


@dataclass
class TierReference:
    expected: Blob  # the outputs as plain-data text, a list with null where the reference failed
    cpu: list[float]
    failed: dict[int, str] = field(default_factory=dict)  # input index -> why the reference failed on it


class References:
    """The reference outputs of one benchmark's call tiers, for one execution environment."""

    def __init__(self, bench: Benchmark, fingerprint: str | None, memory: int, root: Path | None = None):
        self.bench, self.memory = bench, memory
        key = hashlib.sha256(json.dumps([FORMAT, fingerprint, memory]).encode()).hexdigest()[:16]
        self.path = (root or cache_dir().parent / "references") / f"{bench.name}-{bench.sha256[:16]}-{key}.json.gz"
        self.data: dict[str, dict[str, dict[str, Any]]] = self._read()
        self._tiers: dict[tuple[str, str], TierReference] = {}
        self.computed_seconds = 0.0  # time spent computing what the cache lacked, this run
        self.computed_tasks = 0

    def _read(self) -> dict:
        try:
            with gzip.open(self.path, "rt", encoding="utf-8") as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError, EOFError):
            return {}  # no cache, or an unreadable one: computed again

    def ensure(self, executor: Executor, tasks: list[str]) -> None:
        """Compute (in the sandbox) every tier of `tasks` the cache lacks, and save the cache."""
        missing = [t for t in dict.fromkeys(tasks) if t not in self.data]
        if not missing:
            return
        began = time.monotonic()
        jobs, keys = [], []
        for task in missing:
            problem = self.bench.get(task)
            for tier in self.bench.canonical(problem).tiers:
                jobs.append(record_job(problem.canonical_solution, tier, self.memory,
                                       self.bench.digest_threshold(problem)))
                keys.append((task, tier))
        errors = []
        for (task, tier), verdict in zip(keys, executor.run_all(jobs)):
            if verdict.status == Status.ERROR:  # the harness failed, not the reference: nothing to cache
                errors.append(f"{task} {tier.name}: {verdict.reason}")
                continue
            self.data.setdefault(task, {})[tier.name] = _entry(tier, verdict)
        for task in missing:  # a task is cached whole or not at all
            if task in self.data and len(self.data[task]) < len(self.bench.canonical(self.bench.get(task)).tiers):
                del self.data[task]
        self.computed_seconds += time.monotonic() - began
        self.computed_tasks += len(missing)
        self._write()
        if errors:
            raise CoderunError(f"the reference outputs could not be computed ({errors[0]}); run again to retry")

    def tier(self, task: str, tier: str) -> TierReference:
        if (task, tier) not in self._tiers:
            entry = self.data[task][tier]
            outputs = entry["outputs"]
            text = "[" + ",".join("null" if o is None else o for o in outputs) + "]"
            failed = {int(i): why for i, why in entry.get("failed", {}).items()}
            self._tiers[(task, tier)] = TierReference(Blob(text), [float(c) for c in entry["cpu"]], failed)
        return self._tiers[(task, tier)]

    def failures(self, tasks: list[str]) -> dict[str, dict[str, dict[int, str]]]:
        """{task: {tier: {input: why}}} for the inputs on which the reference failed."""
        out: dict[str, dict[str, dict[int, str]]] = {}
        for task in tasks:
            for tier, entry in self.data.get(task, {}).items():
                if entry.get("failed"):
                    out.setdefault(task, {})[tier] = {int(i): w for i, w in entry["failed"].items()}
        return out

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
                json.dump(self.data, f, separators=(",", ":"))
            os.replace(tmp, self.path)  # atomic: a concurrent run reads the old cache or the new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CoderunError(f"cannot write the reference cache {self.path}: {exc.strerror or exc}") from None


def record_job(solution: str, tier: CallTier, memory: int, digest_over: int = 0) -> Job:
    """The reference solution on every input of a tier, its outputs recorded (no judge); outputs longer than
    `digest_over` characters are recorded as their digest."""
    call = Call(tier.entry_point, Blob(tier.inputs), (REFERENCE_INPUT_CPU,) * tier.count, mode=tier.mode,
                run_all=True, digest_over=digest_over)
    return Job(solution, "", cpu=REFERENCE_TIER_CPU, wall=wall_backstop(REFERENCE_TIER_CPU), mem=memory, call=call)


def _entry(tier: CallTier, verdict) -> dict[str, Any]:
    frames = verdict.extra.get("outputs") or []
    outputs, cpu, failed = [], [], {}
    for i in range(tier.count):
        if i < len(frames) and frames[i][0] == "V":
            outputs.append(frames[i][1])
            cpu.append(round(float(frames[i][2]), 6))
            continue
        outputs.append(None)
        cpu.append(round(float(frames[i][2]), 6) if i < len(frames) else 0.0)
        why = frames[i][1] if i < len(frames) else (verdict.reason or verdict.status)
        failed[str(i)] = str(why)[:200] or "failed"
    return {"outputs": outputs, "cpu": cpu, "failed": failed}
