"""Samples files: the model outputs to evaluate, read into typed records.

Two formats, told apart by content (a file whose first non-space character is `[` is the second):
- JSONL, one object per line with `task_id` and `completion` (human-eval) or `solution` (EvalPlus);
  other fields (mean_logprob, cumulative_logprob, num_tokens, ...) are kept in `extra`.
- bigcode-evaluation-harness `generations.json`: a list with one list of strings per problem, in dataset
  order. Those strings are whole programs (the prompt included), so they are read as `solution`.
- MultiPL-E's completions: records {"name", "completions": [...], ...} (one per problem), as JSONL or as a
  directory of `.json`/`.json.gz` files (its `.results.json` files are skipped); each completion follows the
  problem's prompt.

Every problem with the input is an InputError with one line that says where (file, line) and what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from coderun.datasets.base import Benchmark, decode_utf8, parse_json
from coderun.errors import InputError

_CODE_FIELDS = ("completion", "solution")


@dataclass
class Sample:
    """One sample of one task. `sample_index`: 0-based position among that task's samples, input order."""

    task_id: str
    sample_index: int
    completion: str | None
    solution: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def read_samples(path: str | Path, benchmark: Benchmark) -> list[Sample]:
    """All samples of a JSONL or generations.json file, task ids normalised to `benchmark`'s."""
    return list(iter_samples(path, benchmark))


def iter_samples(path: str | Path, benchmark: Benchmark) -> Iterator[Sample]:
    """The samples one at a time, JSONL streamed line by line so a large file never sits in memory.

    Errors are raised where they are met; callers that must not act on a bad file read it through once
    first (the pipeline does)."""
    where = str(path)
    p = Path(path)
    if p.is_dir():  # MultiPL-E's output: one JSON (or .json.gz) record per problem
        yield from _read_multipl_e_dir(p, benchmark)
        return
    if not p.is_file():
        missing = not p.exists()
        raise InputError(f"samples file not found: {where}" if missing else f"samples path is not a file: {where}")
    try:
        f = open(p, "rb")
    except OSError as e:
        raise InputError(f"cannot read samples file {where}: {e.strerror or e}") from e
    with f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        f.seek(0)
        if not head:
            raise InputError(f"{where}: empty samples file")
        if head.startswith(b"["):
            samples = iter(_read_generations(decode_utf8(f.read(), where), where, benchmark))
        else:
            samples = _read_jsonl(f, where, benchmark)
        count = 0
        for sample in samples:
            count += 1
            yield sample
    if not count:
        raise InputError(f"{where}: no samples in the file")


def _read_jsonl(f, where: str, benchmark: Benchmark) -> Iterator[Sample]:
    counts: dict[str, int] = {}
    # Lines end at b"\n" only: splitlines() would also break at U+2028, which JSON allows raw in
    # strings, and would split a row and shift every line number after it.
    for n, raw in enumerate(f, 1):
        at = f"{where} line {n}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{at}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None
        if n == 1 and line.startswith("\ufeff"):
            line = line[1:]
        if not line.strip():
            continue
        if "\x00" in line:
            raise InputError(f"{at}: binary data (NUL byte), not JSON text")
        row = parse_json(line, at)
        if not isinstance(row, dict):
            raise InputError(f"{at}: expected a JSON object with task_id and completion or solution, got {_kind(row)}")
        if "completions" in row and "name" in row and "task_id" not in row:
            yield from _multipl_e_record(row, at, benchmark, counts)
            continue
        yield _sample(row, at, benchmark, counts)


def _multipl_e_record(row: dict[str, Any], at: str, benchmark: Benchmark, counts: dict[str, int]) -> Iterator[Sample]:
    """MultiPL-E's per-problem record {"name", "completions": [...], ...}: one sample per completion."""
    if not isinstance(row["completions"], list):
        raise InputError(f"{at}: completions must be a list of strings, got {_kind(row['completions'])}")
    for j, completion in enumerate(row["completions"]):
        if not isinstance(completion, str):
            raise InputError(f"{at}: completion {j + 1} is a {_kind(completion)}, not a string")
        yield _sample({"task_id": row["name"], "completion": completion}, f"{at} completion {j + 1}", benchmark, counts)


def _read_multipl_e_dir(p: Path, benchmark: Benchmark) -> Iterator[Sample]:
    import gzip

    files = sorted(f for f in p.iterdir() if f.name.endswith((".json", ".json.gz")) and ".results.json" not in f.name)
    if not files:
        raise InputError(f"samples path is not a file, nor a directory of MultiPL-E completion files "
                         f"(*.json, *.json.gz): {p}")
    counts: dict[str, int] = {}
    for f in files:
        at = str(f)
        try:
            data = gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
        except (OSError, EOFError) as e:
            raise InputError(f"cannot read {at}: {e}") from None
        row = parse_json(decode_utf8(data, at), at, document=True)
        if not isinstance(row, dict) or "name" not in row or "completions" not in row:
            raise InputError(f"{at}: not a MultiPL-E completions record (an object with name and completions)")
        yield from _multipl_e_record(row, at, benchmark, counts)


def _sample(row: dict[str, Any], at: str, benchmark: Benchmark, counts: dict[str, int]) -> Sample:
    if "task_id" not in row:
        raise InputError(f"{at}: missing task_id")
    task_id = _task_id(row["task_id"], at, benchmark)
    code = {}
    for name in _CODE_FIELDS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{at}: {name} must be a string, got {_kind(value)}")
        code[name] = _check_text(value, name, at)
    if code["completion"] is None and code["solution"] is None:
        raise InputError(f"{at}: neither completion nor solution (task {task_id})")
    extra = {k: v for k, v in row.items() if k not in ("task_id", *_CODE_FIELDS)}
    index = counts.get(task_id, 0)
    counts[task_id] = index + 1
    return Sample(task_id, index, code["completion"], code["solution"], extra)


def _read_generations(text: str, where: str, benchmark: Benchmark) -> list[Sample]:
    try:
        lists = parse_json(text, where, document=True)
    except InputError as e:  # say which format was assumed: it was guessed from the first "["
        raise InputError(f"{e} (read as generations.json, since the file starts with '[')") from None
    problems = benchmark.problems
    if len(lists) > len(problems):
        raise InputError(
            f"{where}: {len(lists)} lists of generations but {benchmark.name} has {len(problems)} problems"
        )
    samples: list[Sample] = []
    # Fewer lists than problems is allowed: the harness's --limit evaluates the first N problems.
    for i, (gens, problem) in enumerate(zip(lists, problems), 1):
        if not isinstance(gens, list):
            raise InputError(f"{where}: item {i} ({problem.task_id}) is a {_kind(gens)}, not a list of strings")
        for j, gen in enumerate(gens):
            if not isinstance(gen, str):
                raise InputError(f"{where}: list {i} ({problem.task_id}) item {j + 1} is a {_kind(gen)}, not a string")
            at = f"{where}: list {i} ({problem.task_id}) item {j + 1}"
            samples.append(Sample(problem.task_id, j, None, _check_text(gen, "generation", at), {}))
    return samples


def _task_id(raw: Any, at: str, benchmark: Benchmark) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise InputError(f"{at}: task_id must be a string or an integer, got {_kind(raw)}")
    try:
        return benchmark.task_id(raw)
    except InputError:
        raise InputError(f"{at}: unknown task id {_short(raw)} for dataset {benchmark.name}") from None


def _check_text(value: str | None, name: str, at: str) -> str | None:
    # JSON can escape lone surrogates ("\ud800"), which Python strings hold but UTF-8 cannot: the program
    # would fail later, far from here, when it is encoded for the sandbox.
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{at}: {name} contains an unpaired surrogate escape (not valid Unicode)") from None
    return value


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
