"""Reference outputs for call tiers: the reference solution run on every input of a tier, in the sandbox,
with its CPU time per input; cached on the host and reused by every later run.

The cache is content-addressed: one small file per tier, named by what decides its outputs (the reference
solution, the entry point, the inputs, how outputs are reported and kept), in a directory per execution
environment (the executor's fingerprint, the per-sample memory limit and this module's FORMAT). So a dataset
file is computed once, and its variants (HumanEval+ and HumanEval+ NoExtreme share most problems) share what
they have in common. An entry holds each input's output as plain-data text (what the judge compares with),
its CPU seconds, and the inputs on which the reference itself failed: those are reported and not judged,
never dropped silently. The execution service (service.py) runs the reference jobs; this module keeps them.

It also remembers the checks of reference programs in other languages (`checked/`, one file per program
digest and CPU limit): building and running a suite's references costs as much as its samples, and an image,
its memory limit and a program fix a pass or a plain failure. Timeouts and harness errors are not kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coderun.errors import CoderunError
from coderun.execute.base import Blob
from coderun.execute.program import CallTier
from coderun.records import Status

FORMAT = 1
REFERENCE_INPUT_CPU = 60.0  # CPU seconds one input may take the reference solution
REFERENCE_TIER_CPU = 900.0  # and a whole tier
DIGEST_PREFIX = '{"t":"h"'  # how plaindata writes a Digest
KEPT = (Status.PASSED, Status.FAILED)  # reference checks whose verdict is the program's own, whatever the load


@dataclass
class TierReference:
    expected: Blob  # the outputs as plain-data text, a list with null where the reference failed
    cpu: list[float]
    failed: dict[int, str] = field(default_factory=dict)  # input index -> why the reference failed on it
    digests: tuple[int, ...] = ()  # inputs whose expected value is kept as a digest


class References:
    """The reference outputs of one benchmark's call tiers, for one execution environment."""

    def __init__(self, fingerprint: str | None, memory: int, root: Path | None = None):
        self.memory = memory
        key = hashlib.sha256(json.dumps([FORMAT, fingerprint, memory]).encode()).hexdigest()[:16]
        self.path = (root or default_root()) / key
        self.data: dict[tuple[str, str], dict[str, Any]] = {}  # (task, tier) -> entry
        self._tiers: dict[tuple[str, str], TierReference] = {}
        self.computed_seconds = 0.0  # time spent computing what the cache lacked, this run
        self.computed_tasks = 0
        self.reused_checks = 0  # reference programs whose verdict was read from the cache, this run

    def _file(self, solution: str, tier: CallTier, digest_over: int) -> Path:
        h = hashlib.sha256()
        for part in (solution, tier.entry_point, tier.mode, str(digest_over), tier.inputs):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return self.path / f"{h.hexdigest()[:32]}.json.gz"

    def has(self, solution: str, tier: CallTier, digest_over: int) -> bool:
        """Known for this run, or read from the cache now."""
        key = (tier.task, tier.name)
        if key in self.data:
            return True
        try:
            with gzip.open(self._file(solution, tier, digest_over), "rt", encoding="utf-8") as f:
                self.data[key] = json.load(f)
        except (OSError, ValueError, EOFError):
            return False  # not cached, or unreadable: computed again
        return True

    def store(self, solution: str, tier: CallTier, digest_over: int, frames: list, reason: str) -> None:
        """The outputs of a reference job (`frames`: [kind, body, cpu] per input, as the runner recorded them)."""
        entry = _entry(tier, frames, reason)
        self.data[(tier.task, tier.name)] = entry
        self._write(self._file(solution, tier, digest_over), entry)

    def checked_before(self, program: str, cpu: float) -> tuple[Status, float] | None:
        """(status, CPU seconds) of a reference program (by digest) checked under this CPU limit in an earlier
        run on this execution environment; None if it was not. Only passes and plain failures (a compile
        error, a failed test: what the program decides) are kept; a timeout or a harness error may be the
        machine's, so it is checked again every time."""
        try:
            with gzip.open(self._check_file(program, cpu), "rt", encoding="utf-8") as f:
                entry = json.load(f)
            return Status(entry.get("status", "passed")), float(entry["cpu"])
        except (OSError, ValueError, EOFError, KeyError, TypeError):
            return None

    def store_check(self, program: str, cpu: float, status: Status, used: float) -> None:
        if status in KEPT:
            self._write(self._check_file(program, cpu), {"status": status.value, "cpu": used})

    def _check_file(self, program: str, cpu: float) -> Path:
        name = hashlib.sha256(f"{program}|{cpu!r}".encode()).hexdigest()[:32]
        return self.path / "checked" / f"{name}.json.gz"

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


def default_root() -> Path:
    """$XDG_CACHE_HOME/coderun/references (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "coderun" / "references"


def _entry(tier: CallTier, frames: list, reason: str) -> dict[str, Any]:
    outputs, cpu, failed = [], [], {}
    for i in range(tier.count):
        if i < len(frames) and frames[i][0] == "V":
            outputs.append(frames[i][1])
            cpu.append(round(float(frames[i][2]), 6))
            continue
        outputs.append(None)
        cpu.append(round(float(frames[i][2]), 6) if i < len(frames) else 0.0)
        why = frames[i][1] if i < len(frames) else reason
        failed[str(i)] = str(why)[:200] or "failed"
    return {"outputs": outputs, "cpu": cpu, "failed": failed}
