"""The run record: typed, versioned records of a run directory (config.json, results.jsonl, summary.json)
and the only code that reads or writes them.

results.jsonl is append-only and written one whole line per os.write, so a run killed at any moment leaves
at most one partial last line, which the next start cuts off. A verdict is reused only when its (task_id,
sample_index, program digest) matches and the execution settings in config.json are unchanged, so nothing
is redone and nothing is counted twice.

Compatibility: every reader here accepts the files of earlier releases (format 1 with or without the
fields added since, e.g. `node` in rows, `execution.sandbox.fingerprint`) and keeps fields it does not know,
so a file written by a later release reads too and is written back with those fields intact.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from coderun.errors import CoderunError, InputError

CONFIG_FORMAT = 1
SUMMARY_FORMAT = 1
SAMPLES_FILE = "samples.jsonl"  # a generated run's completions, inside its run directory


class Status(str, Enum):
    """A sample's verdict (stable contract). A str, so rows and summaries hold the plain word."""

    PASSED = "passed"  # the tests ran to their end
    FAILED = "failed"  # an exception, a wrong answer, a crash, memory exhausted, an early exit
    TIMEOUT = "timeout"
    ERROR = "error"  # the harness could not get a verdict: not an answer, left out of pass@k

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Any) -> "Status":
        try:
            return cls(value)
        except ValueError:
            raise InputError(f"unknown status {value!r}; known: {', '.join(STATUSES)}") from None


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)


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
    base_passed: bool | None = None  # datasets with a base tier (HumanEval+, MBPP+): the base tier's verdict


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
    def read_config(self) -> RunConfig | None:
        data = self._read_json(self.config_path)
        return None if data is None else RunConfig.from_json(data, str(self.config_path))

    def write_config(self, config: RunConfig) -> None:
        self.write_json(self.config_path, config.to_json())

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not readable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object")
        return data

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
                                bool(d["passed"]), offset, length, d.get("base_passed"))
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
        return self._read_json(self.summary_path)

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


# ---- config.json ---------------------------------------------------------------------------------------


@dataclass
class DatasetRef:
    """Which dataset a run scored: its registered name and the sha256 of the file it was read from."""

    name: str
    sha256: str | None = None
    source: str | None = None  # the file (or hub id) it was read from
    challenge_tests: bool = False
    task_ids: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # limit, num_problems, ... (kept as written)
    strict: bool = False  # judged strictly (call tests outside the sample's process); absent in older runs: False

    def to_json(self) -> dict[str, Any]:
        strict = {"strict": True} if self.strict else {}  # absent for classic, so older files write back unchanged
        return {"name": self.name, "sha256": self.sha256, "source": self.source,
                "challenge_tests": self.challenge_tests, "task_ids": self.task_ids, **strict, **self.extra}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DatasetRef":
        known = ("name", "sha256", "source", "challenge_tests", "task_ids", "strict")
        return cls(str(d.get("name") or ""), d.get("sha256"), d.get("source"), bool(d.get("challenge_tests")),
                   d.get("task_ids"), {k: v for k, v in d.items() if k not in known}, bool(d.get("strict")))


@dataclass
class ExecutionRecord:
    """How the samples were executed. `settings` decide verdicts (change them and programs re-run);
    `sandbox` describes the environment, `fingerprint` identifies it provider-neutrally; `limits` are the
    per-task CPU limits in force (kept when a run resumes)."""

    settings: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str | None:
        """The execution environment's identity. Runs written before the fingerprint existed recorded a
        Docker image id, or for the local provider its Python; both map to what those providers give now."""
        s = self.sandbox
        if s.get("fingerprint"):
            return s["fingerprint"]
        if s.get("provider") == "local" and s.get("python"):
            return f"local:python-{s['python']}"
        return s.get("image_id")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"settings": self.settings, "workers": self.workers}
        if self.sandbox:
            out["sandbox"] = self.sandbox
        if self.limits:
            out["limits"] = self.limits
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ExecutionRecord":
        known = ("settings", "workers", "sandbox", "limits")
        return cls(d.get("settings") or {}, d.get("workers"), d.get("sandbox") or {}, d.get("limits") or {},
                   {k: v for k, v in d.items() if k not in known})


@dataclass
class RunConfig:
    """config.json. `command` is `evaluate` for a samples file scored as given, else the generating command
    (`humaneval`, `mbpp`), whose `generation` block holds the run's identity (stable contract: the prompt
    format's version is `generation.identity.prompt.version`, an int)."""

    command: str
    dataset: DatasetRef
    execution: ExecutionRecord = field(default_factory=ExecutionRecord)
    samples_path: str | None = None  # evaluate: the samples file it scored
    k: list[int] | None = None
    generation: dict[str, Any] | None = None
    coderun_version: str = ""
    created: str = ""
    format: int = CONFIG_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)  # packages, and fields of later releases

    # ---- what readers ask of a run ---------------------------------------------------------------------
    @property
    def generated(self) -> bool:
        return self.generation is not None

    @property
    def prompt(self) -> dict[str, Any] | None:
        """The prompt format record of a generated run; None for samples made elsewhere."""
        if self.generation is not None:
            return (self.generation.get("identity") or {}).get("prompt")
        return self.extra.get("prompt")  # never written by coderun; read in case a tool added it

    @property
    def prompt_version(self) -> Any:
        return (self.prompt or {}).get("version")

    def samples_file(self, run_dir: str | os.PathLike) -> Path | None:
        """Where the run's samples are: a generated run's samples.jsonl, or the file `evaluate` scored
        (relative paths are tried against the working directory, then the run directory)."""
        if self.generated:
            return Path(run_dir) / SAMPLES_FILE
        if not self.samples_path:
            return None
        given = Path(self.samples_path)
        if given.is_absolute() or given.exists():
            return given
        return Path(run_dir) / given

    def same_execution(self, other: "RunConfig") -> bool:
        """Whether verdicts recorded under `other` hold for this config (same settings, same dataset)."""
        return self.execution.settings == other.execution.settings and self.dataset.sha256 == other.dataset.sha256

    # ---- file shape ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, "command": self.command, "coderun_version": self.coderun_version,
                               "created": self.created, "dataset": self.dataset.to_json()}
        if not self.generated or self.samples_path is not None:
            out["samples"] = {"path": self.samples_path}
        out["k"] = self.k
        out["execution"] = self.execution.to_json()
        if self.generation is not None:
            out["generation"] = self.generation
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str = "config.json") -> "RunConfig":
        if not isinstance(d, dict) or not isinstance(d.get("dataset", {}), dict):
            raise InputError(f"{where}: not a coderun run config")
        known = ("format", "command", "coderun_version", "created", "dataset", "samples", "k", "execution",
                 "generation")
        samples = d.get("samples") if isinstance(d.get("samples"), dict) else {}
        return cls(command=str(d.get("command") or "evaluate"), dataset=DatasetRef.from_json(d.get("dataset") or {}),
                   execution=ExecutionRecord.from_json(d.get("execution") or {}), samples_path=samples.get("path"),
                   k=d.get("k"), generation=d.get("generation"), coderun_version=str(d.get("coderun_version") or ""),
                   created=str(d.get("created") or ""), format=int(d.get("format") or 1),
                   extra={k: v for k, v in d.items() if k not in known})


# ---- reading a finished run (compare, report, gates) ------------------------------------------------------


@dataclass
class RunRecord:
    """One run as readers see it: its rows (one per sample) and, for a run directory, its config and
    summary. A bare results.jsonl has neither, and nothing about it can be checked."""

    label: str
    path: str
    rows: list[ResultRow]
    config: RunConfig | None = None
    summary: dict[str, Any] | None = None

    @property
    def dataset(self) -> str | None:
        return self.config.dataset.name if self.config else None

    def counts(self) -> dict[str, tuple[int, int]]:
        """(n, c) per problem in first-seen order; `error` rows left out, problems without a verdict dropped."""
        return {t: nc for t, nc in task_counts(self.rows).items() if nc[0] > 0}


def task_counts(rows: Iterable[ResultRow], passed=None) -> dict[str, tuple[int, int]]:
    """(n, c) per task over rows with a verdict, in first-seen order; `error` rows are left out (they are
    not answers), so a task whose every row is an error has n = 0. `passed(row)` counts c another way (a
    tier's own verdict)."""
    counts: dict[str, list[int]] = {}
    for r in rows:
        entry = counts.setdefault(r.task_id, [0, 0])
        if r.status != Status.ERROR:
            entry[0] += 1
            entry[1] += int(r.passed if passed is None else passed(r))
    return {t: (n, c) for t, (n, c) in counts.items()}


def load_run(path: str | os.PathLike, label: str | None = None) -> RunRecord:
    """A run directory, or a bare results.jsonl; read-only (a partial last line is ignored, not cut)."""
    p = Path(path)
    label = label or str(path)
    if p.is_file():
        return RunRecord(label, str(p), read_rows(p))
    run = RunDir(p)
    return RunRecord(label, str(p), read_rows(run.results_path), run.read_config(), run.read_summary())


def read_rows(path: Path) -> list[ResultRow]:
    """Rows of a results.jsonl, one per sample (the last recorded wins); never writes the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1] if _unparsable(lines[-1]) else lines
    rows = [_row(line, f"{path} line {n}") for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise InputError(f"{path}: no result rows")
    return list(latest_rows(rows).values())


def _unparsable(line: str) -> bool:
    try:
        json.loads(line)
        return False
    except ValueError:
        return True


def _row(line: str, at: str) -> ResultRow:
    try:
        row = ResultRow.from_json(json.loads(line))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{at}: not a result row ({exc})") from None
    if row.status not in STATUSES or not isinstance(row.passed, bool):
        raise InputError(f"{at}: status must be one of {', '.join(STATUSES)} and passed a boolean")
    row.task_id = str(row.task_id)
    return row
