"""The run directory: config.json, append-only results.jsonl, summary.json; resuming.

Typed, versioned records. results.jsonl is append-only and written one whole line per os.write, so a run
killed at any moment leaves at most one partial last line, which the next start cuts off. A verdict is
reused only when its (task_id, sample_index, program digest) matches and the execution settings in
config.json are unchanged, so nothing is redone and nothing is counted twice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from coderun.errors import CoderunError, InputError

RESULTS_FORMAT = 1
SUMMARY_FORMAT = 1


@dataclass
class ResultRow:
    """One row of results.jsonl (stable contract: task_id, sample_index, status, passed, reason, time)."""

    task_id: str
    sample_index: int
    status: str
    passed: bool
    reason: str
    time: float  # wall-clock seconds the sample ran
    cpu_time: float
    finished_at: str  # when it ran (UTC, ISO 8601)
    program: str  # sha256 of the program (solution + test), the key for resuming and de-duplication
    attempts: int = 1
    sandbox: str = ""
    output: str = ""
    node: str = ""  # the machine (Ray node) that ran it
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)  # flat fields only: asdict's deep copy costs ~80 us a row
        extra = d.pop("extra")
        return {**d, **{k: v for k, v in extra.items() if k not in d}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ResultRow":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        base = {k: d[k] for k in known if k in d}
        base.setdefault("time", 0.0)
        base.setdefault("cpu_time", 0.0)
        base.setdefault("finished_at", "")
        base.setdefault("program", "")
        base.setdefault("reason", "")
        return cls(**base, extra={k: v for k, v in d.items() if k not in known})


class RowRef(NamedTuple):
    """Where one recorded row is, and what scoring and resuming need of it."""

    task_id: str
    sample_index: int
    program: bytes  # sha256 of the program, binary
    status: str
    passed: bool
    offset: int
    length: int


def _digest_bytes(hexdigest: str) -> bytes:
    try:
        return bytes.fromhex(hexdigest)
    except (ValueError, TypeError):
        return b""


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class RunDir:
    """One run directory. All writes go through here so every file stays readable after a kill."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.results_path = self.path / "results.jsonl"
        self.summary_path = self.path / "summary.json"
        self._fd: int | None = None

    # ---- config ------------------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any] | None:
        if not self.config_path.exists():
            return None
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.config_path}: unreadable run config ({exc})") from None

    def write_config(self, config: dict[str, Any]) -> None:
        self.write_json(self.config_path, config)

    # ---- results -----------------------------------------------------------------------------------
    def read_results(self) -> list[ResultRow]:
        """Rows recorded so far; a partial last line (a kill mid-write) is cut off the file."""
        return [ResultRow.from_json(d) for d, _ in self._scan_results()]

    def index_results(self) -> dict[tuple[str, int], RowRef]:
        """The last row recorded per sample, as a small reference into the file (bounded memory)."""
        index = {}
        for d, (offset, length) in self._scan_results():
            # Interned ids and statuses, and a binary digest: a long run keeps ~200 bytes per row here.
            key = (sys.intern(str(d["task_id"])), int(d["sample_index"]))
            index[key] = RowRef(key[0], key[1], _digest_bytes(d.get("program", "")), sys.intern(str(d["status"])),
                                bool(d["passed"]), offset, length)
        return index

    def _scan_results(self) -> Iterator[tuple[dict[str, Any], tuple[int, int]]]:
        if not self.results_path.exists():
            return
        cut_partial_line(self.results_path)
        with open(self.results_path, "rb") as f:
            offset = 0
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        d = json.loads(line)
                        d["task_id"], d["sample_index"], d["status"], d["passed"]  # noqa: B018 - must exist
                    except (ValueError, TypeError, KeyError) as exc:
                        raise InputError(f"{self.results_path} line {n}: not a result row ({exc})") from None
                    yield d, (offset, len(line))
                offset += len(line)

    def rewrite_from(self, refs: Iterable[RowRef]) -> None:
        """Replace results.jsonl with the rows `refs` point at, in that order, atomically."""
        with open(self.results_path, "rb") as src:
            def lines() -> Iterator[bytes]:
                for ref in refs:
                    src.seek(ref.offset)
                    yield src.read(ref.length)

            self._replace_results(lines())

    def rewrite_rows(self, rows: Iterable[ResultRow]) -> None:
        """Replace results.jsonl with `rows` (e.g. with rerank fields added), atomically."""
        self._replace_results((json.dumps(r.to_json(), ensure_ascii=False) + "\n").encode() for r in rows)

    def _replace_results(self, lines: Iterable[bytes]) -> None:
        tmp = self.results_path.with_suffix(".jsonl.tmp")
        try:
            with open(tmp, "wb") as dst:
                for line in lines:
                    dst.write(line)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, self.results_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CoderunError(f"cannot write {self.results_path}: {exc.strerror}") from None

    def set_aside_results(self) -> None:
        """Keep earlier verdicts that no longer apply (execution settings changed) out of the way."""
        if self.results_path.exists():
            os.replace(self.results_path, self.path / "results.prev.jsonl")

    def append(self, row: ResultRow) -> None:
        if self._fd is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        line = (json.dumps(row.to_json(), ensure_ascii=False) + "\n").encode()
        try:
            written = os.write(self._fd, line)  # one write per row: a kill leaves at most one partial line
        except OSError as exc:
            raise CoderunError(f"cannot write {self.results_path}: {exc.strerror}") from None
        if written != len(line):  # a full disk can take part of a line; the next start cuts it off
            raise CoderunError(f"cannot write {self.results_path}: No space left on device")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

    # ---- summary -----------------------------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any]) -> None:
        self.write_json(self.summary_path, summary)

    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        return json.loads(self.summary_path.read_text())

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        """Atomic: a temp file renamed into place, so a reader never sees half a file."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CoderunError(f"cannot write {path}: {exc.strerror}") from None


def cut_partial_line(path: Path) -> None:
    """Cut an append-only JSONL file back to its last newline: a kill mid-write leaves one partial row."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(max(size - 1, 0))
        if f.read(1) == b"\n":
            return
        pos = size  # walk back to the last newline: everything after it is one partial row
        while pos > 0:
            step = min(pos, 1 << 16)
            f.seek(pos - step)
            chunk = f.read(step)
            i = chunk.rfind(b"\n")
            if i >= 0:
                f.truncate(pos - step + i + 1)
                return
            pos -= step
        f.truncate(0)


def latest_rows(rows: Iterable[ResultRow]) -> dict[tuple[str, int], ResultRow]:
    """One row per sample: the last one recorded wins (a retry after an error appends a new row)."""
    return {(r.task_id, r.sample_index): r for r in rows}
