"""Reference outputs for call tiers (HumanEval+, MBPP+): the reference solution run on every input, in the
sandbox, with its CPU time per input; cached on the host and reused by every later run.

The cache is content-addressed: one small file per tier, named by what decides its outputs (the reference
solution, the entry point, the inputs, how outputs are reported and kept), in a directory per execution
environment (the executor's fingerprint, the per-sample memory limit and this module's FORMAT). So a dataset
file is computed once, and its variants (HumanEval+ and HumanEval+ NoExtreme share most problems) share what
they have in common. An entry holds each input's output as plain-data text (what the judge compares with),
its CPU seconds, and the inputs on which the reference itself failed: those are reported and not judged,
never dropped silently.
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
DIGEST_PREFIX = '{"t":"h"'  # how plaindata writes a Digest


@dataclass
class TierReference:
    expected: Blob  # the outputs as plain-data text, a list with null where the reference failed
    cpu: list[float]
    failed: dict[int, str] = field(default_factory=dict)  # input index -> why the reference failed on it
    digests: tuple[int, ...] = ()  # inputs whose expected value is kept as a digest


class References:
    """The reference outputs of one benchmark's call tiers, for one execution environment."""

    def __init__(self, bench: Benchmark, fingerprint: str | None, memory: int, root: Path | None = None):
        self.bench, self.memory = bench, memory
        key = hashlib.sha256(json.dumps([FORMAT, fingerprint, memory]).encode()).hexdigest()[:16]
        self.path = (root or cache_dir().parent / "references") / key
        self.data: dict[tuple[str, str], dict[str, Any]] = {}  # (task, tier) -> entry
        self._tiers: dict[tuple[str, str], TierReference] = {}
        self.computed_seconds = 0.0  # time spent computing what the cache lacked, this run
        self.computed_tasks = 0

    def _file(self, task: str, tier: CallTier) -> Path:
        problem = self.bench.get(task)
        h = hashlib.sha256()
        for part in (problem.canonical_solution, tier.entry_point, tier.mode, str(self.bench.digest_threshold(problem)),
                     tier.inputs):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return self.path / f"{h.hexdigest()[:32]}.json.gz"

    def _load(self, task: str, tier: CallTier) -> bool:
        try:
            with gzip.open(self._file(task, tier), "rt", encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError, EOFError):
            return False  # not cached, or unreadable: computed again
        self.data[(task, tier.name)] = entry
        return True

    def ensure(self, executor: Executor, tasks: list[str]) -> None:
        """Compute (in the sandbox) every tier of `tasks` the cache lacks, and save each to the cache."""
        jobs, keys = [], []
        for task in dict.fromkeys(tasks):
            problem = self.bench.get(task)
            for tier in self.bench.canonical(problem).tiers:
                if (task, tier.name) in self.data or self._load(task, tier):
                    continue
                jobs.append(record_job(problem.canonical_solution, tier, self.memory,
                                       self.bench.digest_threshold(problem)))
                keys.append((task, tier))
        if not jobs:
            return
        began = time.monotonic()
        errors = []
        for (task, tier), verdict in zip(keys, executor.run_all(jobs)):
            if verdict.status == Status.ERROR:  # the harness failed, not the reference: nothing to cache
                errors.append(f"{task} {tier.name}: {verdict.reason}")
                continue
            entry = _entry(tier, verdict)
            self.data[(task, tier.name)] = entry
            self._write(self._file(task, tier), entry)
        self.computed_seconds += time.monotonic() - began
        self.computed_tasks += len({task for task, _ in keys})
        if errors:
            raise CoderunError(f"the reference outputs could not be computed ({errors[0]}); run again to retry")

    def tier(self, task: str, tier: str) -> TierReference:
        if (task, tier) not in self._tiers:
            entry = self.data[(task, tier)]
            outputs = entry["outputs"]
            text = "[" + ",".join("null" if o is None else o for o in outputs) + "]"
            failed = {int(i): why for i, why in entry.get("failed", {}).items()}
            digests = tuple(i for i, o in enumerate(outputs) if o is not None and o.startswith(DIGEST_PREFIX))
            self._tiers[(task, tier)] = TierReference(Blob(text), [float(c) for c in entry["cpu"]], failed, digests)
        return self._tiers[(task, tier)]

    def failures(self, tasks: list[str]) -> dict[str, dict[str, dict[int, str]]]:
        """{task: {tier: {input: why}}} for the inputs on which the reference failed."""
        wanted, out = set(tasks), {}
        for (task, tier), entry in self.data.items():
            if task in wanted and entry.get("failed"):
                out.setdefault(task, {})[tier] = {int(i): w for i, w in entry["failed"].items()}
        return out

    def _write(self, path: Path, entry: dict[str, Any]) -> None:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
                json.dump(entry, f, separators=(",", ":"))
            os.replace(tmp, path)  # atomic: a concurrent run reads the old entry or the new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CoderunError(f"cannot write the reference cache {path}: {exc.strerror or exc}") from None


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
