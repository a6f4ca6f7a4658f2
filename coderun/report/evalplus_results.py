"""`--evalplus-results FILE`: a HumanEval+/MBPP+ run in the shape of EvalPlus's eval_results.json, for tools
that read that file.

{"date": "YYYY-MM-DD HH:MM", "hash": md5 of the dataset's JSONL (EvalPlus's dataset hash), "eval": {task_id:
[{"task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests"}, ...]}}, samples
in their order, statuses "pass" / "fail" / "timeout" (a harness error is written as "fail": EvalPlus has no
such status; coderun's own results.jsonl says which), the failing input of each tier (the first, as EvalPlus
reports without --test-details) with MBPP+'s inputs written back to JSON as EvalPlus writes them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

from coderun.errors import InputError
from coderun.report import write_text

STATUS = {"passed": "pass", "failed": "fail", "timeout": "timeout", "error": "fail"}


def write(path: str, run, bench) -> None:
    """Write `run` (a records.RunRecord of an EvalPlus dataset) to `path`."""
    if not bench.score_tiers:
        raise InputError(f"--evalplus-results needs a HumanEval+ or MBPP+ run, not {bench.name}")
    programs = _programs(run, bench)
    out: dict[str, list] = {}
    for row in sorted(run.rows, key=lambda r: (r.task_id, r.sample_index)):
        problem = bench.get(row.task_id)
        out.setdefault(row.task_id, []).append({
            "task_id": row.task_id,
            "solution": programs.get((row.task_id, row.sample_index), ""),
            "base_status": STATUS.get(row.extra.get("base_status", row.status), "fail"),
            "plus_status": STATUS.get(row.extra.get("plus_status", row.status), "fail"),
            "base_fail_tests": _failing(problem, "base", row.extra.get("base_failed_input"), bench),
            "plus_fail_tests": _failing(problem, "plus", row.extra.get("plus_failed_input"), bench),
        })
    order = {p.task_id: i for i, p in enumerate(bench.problems)}
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "hash": dataset_md5(bench.source),
               "eval": {t: out[t] for t in sorted(out, key=lambda t: order.get(t, len(order)))}}
    write_text(path, json.dumps(results))


def _programs(run, bench) -> dict[tuple[str, int], str]:
    from coderun.samples import read_samples

    found = run.config.samples_file(run.path) if run.config else None
    if found is None or not found.is_file():
        return {}
    return {(s.task_id, s.sample_index): bench.program(bench.get(s.task_id), completion=s.completion,
                                                       solution=s.solution).solution
            for s in read_samples(found, bench)}


def _failing(problem, tier: str, index, bench) -> list:
    if index is None:
        return []
    inputs = problem.extra[f"{tier}_input"]
    if not 0 <= int(index) < len(inputs):
        return []
    return serialize_inputs(problem.task_id, [inputs[int(index)]]) if bench.family == "mbpp" else [inputs[int(index)]]


def serialize_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ inputs back to JSON, as EvalPlus's mbpp_serialize_inputs writes them (tuples become lists)."""
    n = int(task_id.split("/")[-1])
    if n == 115:
        inputs = [[[list(item) for item in inp[0]]] for inp in inputs]
    elif n == 124:
        inputs = [(str(inp[0]), str(inp[1])) for inp in inputs]
    elif n == 252:
        inputs = [[str(inp[0])] for inp in inputs]
    return json.loads(json.dumps(inputs, default=_jsonable))


def _jsonable(value):
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, complex):
        return str(value)
    raise TypeError(type(value).__name__)


def dataset_md5(source: str) -> str:
    data = Path(source).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return hashlib.md5(data).hexdigest()
