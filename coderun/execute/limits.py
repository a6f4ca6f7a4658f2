"""Time limits: the rules, and the one record of a task's limits that runs keep in config.json.

Per-problem limits are calibrated from the reference (canonical) solution's CPU time on this machine: CPU
time, not wall time, so a verdict does not depend on what else the machine is doing; a floor, so a fast
reference solution does not leave a correct-but-slower sample too little room (EvalPlus uses the same rule:
max(floor, factor x reference time)). The execution service (service.py) applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coderun.records import Status

FLOOR = 0.5  # seconds of CPU: 10x the slowest passing HumanEval sample seen, and CPU time ignores load
FACTOR = 4.0
CALIBRATION_LIMIT = 20.0  # CPU seconds a reference solution may take while being measured


def wall_backstop(cpu: float) -> float:
    """Wall-clock limit for sleepers and blocked programs: generous, so load never decides a verdict."""
    return round(2 * cpu + 2.0, 3)


def calibrated(reference_cpu: float, passed: bool) -> float:
    """A program's CPU limit from its reference solution's CPU time."""
    return max(FLOOR, round(FACTOR * reference_cpu, 2)) if passed else FLOOR


@dataclass
class TierLimits:
    cpu: float  # the tier's calls together
    reference_cpu: float  # the reference solution's calls together
    input_cpu: float = 0.0  # the largest per-input limit (0 in run configs written before it was recorded)


@dataclass
class TaskLimits:
    """One task's limits in a run. `cpu`: the whole program's CPU limit (classic), or, for a task judged by
    call tiers, the largest per-input limit of its first tier (what one call may take: the budget of a probe
    that calls the program); `reference`: how the reference solution fared under them (None: not checked)."""

    cpu: float
    reference: Status | None = None
    reference_cpu: float = 0.0
    tiers: dict[str, TierLimits] = field(default_factory=dict)

    @classmethod
    def fixed(cls, cpu: float) -> "TaskLimits":
        return cls(float(cpu))

    def to_json(self) -> dict[str, Any]:
        if self.tiers:
            out: dict[str, Any] = {"tiers": {n: {"cpu": t.cpu, "reference_cpu": t.reference_cpu,
                                                  "input_cpu": t.input_cpu} for n, t in self.tiers.items()}}
        else:
            out = {"cpu": self.cpu, "reference_cpu": self.reference_cpu}
        if self.reference is not None:
            out["reference"] = self.reference.value
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TaskLimits":
        """Both shapes run configs have held: {"cpu", "reference_cpu", "reference"} (a program), and
        {"tiers": {name: {"cpu", "reference_cpu"[, "input_cpu"]}}, "reference"} (call tiers)."""
        reference = Status(d["reference"]) if d.get("reference") else None
        tiers = {n: TierLimits(float(t["cpu"]), float(t.get("reference_cpu") or 0), float(t.get("input_cpu") or 0))
                 for n, t in (d.get("tiers") or {}).items()}
        if tiers:
            first = next(iter(tiers.values()))
            cpu = first.input_cpu or first.cpu  # older configs did not record input_cpu: the tier's limit
            return cls(cpu, reference, sum(t.reference_cpu for t in tiers.values()), tiers)
        return cls(float(d["cpu"]), reference, float(d.get("reference_cpu") or 0))

    @property
    def checked(self) -> bool:
        return self.reference is not None
