"""Per-problem time limits calibrated from the reference (canonical) solution's CPU time on this machine.

CPU time, not wall time, so a verdict does not depend on what else the machine is doing; a floor, so a
fast reference solution does not leave a correct-but-slower sample too little room (EvalPlus uses the
same rule: max(floor, factor x reference time)). The executor knows programs, not benchmarks: callers
hand in each problem's reference program as a (solution, test) pair.
"""

from __future__ import annotations

from typing import Mapping

from coderun.execute.base import Executor, Job

FLOOR = 0.5  # seconds of CPU: 10x the slowest passing HumanEval sample seen, and CPU time ignores load
FACTOR = 4.0
CALIBRATION_LIMIT = 20.0  # CPU seconds a reference solution may take while being measured


def wall_backstop(cpu: float) -> float:
    """Wall-clock limit for sleepers and blocked programs: generous, so load never decides a verdict."""
    return round(2 * cpu + 2.0, 3)


def job(solution: str, test: str, cpu: float, memory: int) -> Job:
    return Job(solution, test, cpu=cpu, wall=wall_backstop(cpu), mem=memory)


def check(pool: Executor, references: Mapping[str, tuple[str, str]], cpu: float, memory: int) -> dict[str, dict]:
    """Each task's reference program under a fixed limit (--timeout): {task: {"cpu", "reference_cpu",
    "reference": status}}."""
    tasks = list(references)
    verdicts = pool.run_all([job(*references[t], cpu, memory) for t in tasks])
    return {t: {"cpu": cpu, "reference_cpu": round(v.cpu, 4), "reference": v.status} for t, v in zip(tasks, verdicts)}


def calibrate(pool: Executor, references: Mapping[str, tuple[str, str]], memory: int) -> dict[str, dict]:
    """{task_id: {"cpu": limit, "reference_cpu": seconds, "reference": status}} for each task's
    reference (solution, test) program."""
    tasks = list(references)
    jobs = [job(*references[t], CALIBRATION_LIMIT, memory) for t in tasks]
    out = {}
    for task, v in zip(tasks, pool.run_all(jobs)):
        limit = max(FLOOR, round(FACTOR * v.cpu, 2)) if v.passed else FLOOR
        out[task] = {"cpu": limit, "reference_cpu": round(v.cpu, 4), "reference": v.status}
    return out
