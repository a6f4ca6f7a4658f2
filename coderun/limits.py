"""Per-problem time limits calibrated from the canonical solution's CPU time on this machine.

CPU time, not wall time, so a verdict does not depend on what else the machine is doing; a floor, so a
fast reference solution does not leave a correct-but-slower sample too little room (EvalPlus uses the
same rule: max(floor, factor x reference time)).
"""

from __future__ import annotations

from coderun.datasets.base import Benchmark, Problem
from coderun.execute.base import Job
from coderun.execute.pool import SandboxPool

FLOOR = 0.5  # seconds of CPU: 10x the slowest passing HumanEval sample seen, and CPU time ignores load
FACTOR = 4.0
CALIBRATION_LIMIT = 20.0  # CPU seconds a reference solution may take while being measured


def wall_backstop(cpu: float) -> float:
    """Wall-clock limit for sleepers and blocked programs: generous, so load never decides a verdict."""
    return round(2 * cpu + 2.0, 3)


def job(program, cpu: float, memory: int) -> Job:
    return Job(program.solution, program.test, cpu=cpu, wall=wall_backstop(cpu), mem=memory)


def calibrate(pool: SandboxPool, benchmark: Benchmark, problems: list[Problem], memory: int) -> dict[str, dict]:
    """{task_id: {"cpu": limit, "reference_cpu": seconds, "reference": status}} for `problems`."""
    jobs = [job(benchmark.canonical(p), CALIBRATION_LIMIT, memory) for p in problems]
    out = {}
    for p, v in zip(problems, pool.run_all(jobs)):
        limit = max(FLOOR, round(FACTOR * v.cpu, 2)) if v.passed else FLOOR
        out[p.task_id] = {"cpu": limit, "reference_cpu": round(v.cpu, 4), "reference": v.status}
    return out
