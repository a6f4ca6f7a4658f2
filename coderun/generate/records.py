"""samples.jsonl: one row per generated completion, appended as requests finish, read back to resume.

A row: task_id, sample_index, completion (what is executed: appended to the prompt for HumanEval, the whole
program for MBPP), solution (only when the answer was a whole program for HumanEval; it wins over completion
in `coderun evaluate` too), raw_completion (the model's text as generated), num_tokens, mean_logprob,
cumulative_logprob, finish_reason, and adapter for LoRA runs. The file is itself a valid samples file for
`coderun evaluate`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from coderun.errors import InputError
from coderun.generate.base import Adapter, Completion
from coderun.records import cut_partial_line


class SamplesLog:
    """samples.jsonl: append-only, each request's rows in one os.write; a partial last line is cut off."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[tuple[str, int], dict[str, Any]]:
        if not self.path.exists():
            return {}
        cut_partial_line(self.path)
        rows = {}
        with open(self.path, "rb") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        d = json.loads(line)
                        rows[(str(d["task_id"]), int(d["sample_index"]))] = d
                    except (ValueError, KeyError, TypeError) as exc:
                        raise InputError(f"{self.path} line {n}: not a sample row ({exc})") from None
        return rows

    def append(self, rows: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            view = memoryview(data)
            while view:  # one write unless the kernel takes less (a full disk); then the rest
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def sample_row(task_id: str, index: int, c: Completion, completion: str, solution: str | None,
               adapter: Adapter | None) -> dict[str, Any]:
    row: dict[str, Any] = {"task_id": task_id, "sample_index": index, "completion": completion}
    if solution is not None:
        row["solution"] = solution  # a whole program: wins over completion, as in `evaluate`
    mean = c.mean_logprob
    row.update(raw_completion=c.text, num_tokens=c.num_tokens,
               mean_logprob=None if mean is None else round(mean, 6),
               cumulative_logprob=None if c.cumulative_logprob is None else round(c.cumulative_logprob, 6),
               finish_reason=c.finish_reason)
    if adapter is not None:
        row["adapter"] = adapter.name
    return row
