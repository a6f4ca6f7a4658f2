"""The one Problem type and the dataset registry.

A dataset module turns (problem, completion) into a Program (execute/program.py): a `solution` part (the
model's code) and a `test` part (the benchmark's checks), which the sandbox runs in that order in one
namespace, passed only when the `test` part ran to its end; or call tiers, judged outside the sample's
process under the rules the dataset module declares. The execution layer knows nothing about benchmarks.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import importlib
import json
import os
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, ClassVar

from coderun.errors import CoderunError, InputError
from coderun.execute.program import CallTier, Judging, Program  # noqa: F401 - what dataset modules build


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, the same shape for every dataset.

    task_id: the id as written in the dataset ("HumanEval/3", "11" for MBPP; always a str here).
    prompt: the text a model is given (HumanEval: signature + docstring; MBPP: the description).
    canonical_solution: a whole program that solves the problem (HumanEval: prompt + reference body).
    test: the dataset's checks as one program, ending in the call that runs them.
    entry_point: the function under test, when the dataset names it.
    extra: dataset-specific fields (MBPP: test_list, ...), kept for prompt builders and rerankers.
    """

    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class PublicExamples:
    """What a problem shows a model about its expected behaviour: the input rerankers may use.

    text: prose to parse examples from (a docstring); asserts: test lines shown in the prompt; setup: code
    those need; leaks_hidden_tests: the shown asserts *are* hidden tests, so a reranker that runs them
    measures the answer key; note: what a reader of the results must know.
    """

    text: str = ""
    asserts: tuple[str, ...] = ()
    setup: str = ""
    leaks_hidden_tests: bool = False
    note: str = ""


class Benchmark(ABC):
    """A loaded dataset: its problems in dataset order, where they came from, and its program rules."""

    name: ClassVar[str]
    default_file: ClassVar[str]  # file name in coderun/data
    hub_id: ClassVar[tuple[str, ...]]  # arguments to datasets.load_dataset for --from-hub

    def __init__(self, problems: list[Problem], source: str, sha256: str):
        self.problems = problems
        self.source = source
        self.sha256 = sha256
        self._by_id = {p.task_id: p for p in problems}
        self._strict_plans: dict[str, Any] = {}  # task -> (tier, judging), or why its tests do not convert

    def __len__(self) -> int:
        return len(self.problems)

    def task_id(self, raw: Any) -> str:
        """Normalise a task id from user input (str or int) to the dataset's; unknown ids are InputError."""
        key = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
        if key is None or key not in self._by_id:
            raise InputError(f"unknown task id {raw!r} for dataset {self.name}")
        return key

    def get(self, task_id: str) -> Problem:
        return self._by_id[self.task_id(task_id)]

    def select(self, task_ids: list[Any]) -> "Benchmark":
        """A benchmark restricted to `task_ids` (kept in dataset order)."""
        wanted = {self.task_id(t) for t in task_ids}
        sub = copy.copy(self)  # keeps what a subclass holds (its caches, its options)
        sub.problems = [p for p in self.problems if p.task_id in wanted]
        sub._by_id = {p.task_id: p for p in sub.problems}
        return sub

    @abstractmethod
    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> Program:
        """The program for one sample: `completion` (dataset-specific meaning) or a whole `solution`."""

    def canonical(self, problem: Problem) -> Program | None:
        """The reference solution's program (None: the dataset has none for this problem)."""
        return self.program(problem, solution=problem.canonical_solution)

    language: str = "python"  # the language of its programs (coderun/languages): the sandbox image runs it
    default_cpu: float | None = None  # the run limit of a problem without a reference solution

    def unpassable(self) -> dict[str, str]:
        """Problems no program can pass (a fault in the dataset), with the reason: reported in the summary."""
        return {}

    def known_bad(self) -> dict[str, str]:
        """Reference solutions known to fail (a fault in the dataset's solution, not in the problem), with the
        reason: the summary reports them apart from a failure nobody expected, a sandbox or limits fault."""
        return {}

    def known_bad_by_chance(self) -> set[str]:
        """Those of `known_bad` that fail in some runs only: their result depends on something random."""
        return set()

    # Datasets whose programs have call tiers declare how they are judged on the Program (execute/program.py
    # Judging); these tiers get a pass@k of their own in summary.json ("base").
    score_tiers: ClassVar[tuple[str, ...]] = ()
    strict: bool = False  # set by a loader given strict=True: the original asserts judged as call tests

    def judging(self, task_ids: list[str]) -> dict[str, Any]:
        """How the run's problems are judged, for summary.json: "mode" (classic, strict or plus) and, in strict
        mode, the problems whose tests could not be converted ("classic": {task: why}), judged classically."""
        if self.score_tiers:
            return {"mode": "plus"}
        if not self.strict:
            return {"mode": "classic"}
        classic = {t: why for t in task_ids if isinstance(why := self._strict(self.get(t)), str)}
        return {"mode": "strict", "classic": classic}

    def strict_tests(self, problem: Problem):
        """The problem's asserts as strict.StrictTests, or why they cannot be (a str)."""
        return f"{self.name} has no strict judging"

    def judged(self, problem: Problem, code: str) -> Program:
        """`code` with the problem's tests: as call tests in strict mode where they convert, else classic."""
        plan = self._strict(problem) if self.strict else None
        if plan is None or isinstance(plan, str):
            return Program(code, problem.test)
        tier, judging = plan
        return Program(code, "", (tier,), judging)

    def _strict(self, problem: Problem):
        cache = self._strict_plans
        if problem.task_id not in cache:  # converted once per problem: samples share the plan
            from coderun.datasets import strict

            tests = self.strict_tests(problem)
            cache[problem.task_id] = tests if isinstance(tests, str) else strict.plan(problem.task_id, tests)
        return cache[problem.task_id]

    def public_examples(self, problem: Problem) -> PublicExamples:
        """Default: the examples written in the prompt's text, which the hidden tests need not contain."""
        return PublicExamples(text=problem.prompt)


class CommandBenchmark(Benchmark):
    """A benchmark in another language (MultiPL-E, the suites): its programs are built and run by a language
    row's steps, with the row's end mark placed in each problem's tests (placed once per problem)."""

    def __init__(self, problems: list[Problem], source: str, sha256: str, name: str, row: Any):
        super().__init__(problems, source, sha256)
        self.name, self.row, self.language = name, row, row.key
        self.default_cpu = row.run_cpu
        self._marked: dict[str, tuple[str, int]] = {}

    def _tests(self, problem: Problem) -> tuple[str, int]:
        """The problem's tests with the end mark in them, and the mark's offset there."""
        if problem.task_id not in self._marked:
            self._marked[problem.task_id] = self.row.with_mark(problem.test)
        return self._marked[problem.task_id]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: how to load it and how the rest of coderun uses it.

    command/variant: the generating command that runs it (`coderun humaneval`, `coderun mbpp`) and the
    flag of that command that picks it (None: the command's default; "sanitized": `--sanitized`);
    prompt_family: the prompt formats that apply (prompts.py).
    """

    name: str
    loader: Callable[..., Benchmark]
    command: str | None = None
    variant: str | None = None
    prompt_family: str | None = None
    description: str = ""
    memory: str | None = None  # the per-sample memory it needs unless --memory says otherwise (None: coderun's)
    language: str = "python"  # its programs' language (coderun/languages): which sandbox image runs them


_REGISTRY: dict[str, DatasetInfo] = {}


def register(name: str, *, command: str | None = None, variant: str | None = None,
             prompt_family: str | None = None, description: str = "", memory: str | None = None,
             language: str = "python"):
    """Register a loader `f(path=None, from_hub=False, **options) -> Benchmark` under `name`."""

    def deco(loader):
        _REGISTRY[name] = DatasetInfo(name, loader, command, variant, prompt_family or command, description,
                                      memory, language)
        return loader

    return deco


def registry() -> dict[str, DatasetInfo]:
    """Every registered dataset, by name (the one list: the CLI's choices and `coderun datasets` read it)."""
    _import_builtin()
    return dict(sorted(_REGISTRY.items()))


def dataset_names() -> list[str]:
    return list(registry())


def info(name: str) -> DatasetInfo:
    known = registry()
    if name not in known:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    return known[name]


def load(name: str, path: str | None = None, from_hub: bool = False, **options: Any) -> Benchmark:
    """Load a registered dataset: shipped file by default, `path` for another copy, or the hub."""
    return info(name).loader(path=path, from_hub=from_hub, **options)


def load_checked(name: str, sha256: str | None, source: str | None = None, challenge_tests: bool = False,
                 path: str | None = None, strict: bool = False) -> Benchmark:
    """The dataset a run was scored with: `path` if given, else the shipped copy or the run's recorded
    source, whichever has the recorded sha256; InputError when none does."""
    options = loader_options(challenge_tests, strict)
    for candidate in ([path] if path else [None, source]):
        if candidate is not None and not Path(candidate).is_file():
            continue
        bench = load(name, path=candidate, **options)
        if bench.sha256 == sha256:
            return bench
    raise InputError(f"the run's dataset ({name}, sha256 {str(sha256)[:12]}...) is not the shipped copy"
                     + ("" if path else "; pass --dataset-path FILE"))


def loader_options(challenge_tests: bool = False, strict: bool = False) -> dict[str, bool]:
    """The options a loader is given for these flags (only those set: not every loader takes them)."""
    return {**({"challenge_tests": True} if challenge_tests else {}), **({"strict": True} if strict else {})}


_PLUGINS_LOADED = False


def _import_builtin() -> None:
    # Every module of this package registers its datasets when imported: adding a dataset is one module
    # (plus its data file). Done lazily, so `coderun --help` pays only for these small modules.
    import pkgutil

    import coderun.datasets as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "base":
            importlib.import_module(f"coderun.datasets.{module.name}")
    global _PLUGINS_LOADED
    if not _PLUGINS_LOADED:
        _PLUGINS_LOADED = True
        from coderun.registry import load_entry_points

        load_entry_points("coderun.datasets")  # a package's module registers its datasets when imported


# --- Reading dataset files: shared by the dataset modules ----------------------------------------------
#
# A local file (shipped or --dataset-path) is parsed with the standard library and validated row by row;
# the `datasets` library loads the Hugging Face hub's copies (--from-hub), into coderun's own cache dir.

Validator = Callable[[list[dict[str, Any]], str], None]  # (rows, where) -> None, or raises InputError


def cache_dir() -> Path:
    """Where `datasets` caches the hub's copies: $XDG_CACHE_HOME/coderun/datasets (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "coderun" / "datasets"


def normalise_newlines(text: str) -> str:
    """CRLF (MBPP's files) and lone CR to LF, so programs and digests do not depend on the file's origin."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_dataset_file(path: str | None, default_file: str, validate: Validator) -> tuple[list[dict], str, str]:
    """Rows of a dataset file (`path`, or the shipped `default_file`), its sha256 and a source label.

    A local file is parsed with the standard library: it names the bad line, keeps every row exactly as
    written (Arrow would type heterogeneous lists), and costs milliseconds where loading `datasets` and
    its Arrow cache costs seconds a run. `datasets` is what loads the hub's copies (`read_hub`)."""
    if path is None:
        with resources.as_file(resources.files("coderun.data") / default_file) as shipped:
            rows, sha = _read_rows(Path(shipped), str(shipped), validate)
            return rows, sha, str(shipped)
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"dataset file not found: {path}" if not p.exists() else f"dataset path is not a file: {path}")
    rows, sha = _read_rows(p.resolve(), str(path), validate)
    return rows, sha, str(p.resolve())


def read_hub(args: tuple[str, ...], splits: list[str], validate: Validator) -> tuple[list[dict], str, str]:
    """Rows of `splits` of a hub dataset, in that order; sha256 is of a canonical JSON of the rows."""
    datasets = _quiet_datasets()
    label = "hf:" + "/".join(args)
    try:
        rows = [r for s in splits for r in datasets.load_dataset(*args, split=s, cache_dir=str(cache_dir())).to_list()]
    except Exception as e:  # network, auth, unknown name: not the user's input, so exit 1
        raise CoderunError(f"cannot load {label} from the Hugging Face hub: {_first_line(e)}") from e
    validate(rows, label)
    canon = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return rows, hashlib.sha256(canon.encode()).hexdigest(), label


def _read_rows(path: Path, where: str, validate: Validator) -> tuple[list[dict], str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read dataset file {where}: {e.strerror or e}") from e
    rows = _rows_via_json(data, where)
    if not rows:
        raise InputError(f"{where}: the dataset file has no rows")
    validate(rows, where)
    return rows, hashlib.sha256(data).hexdigest()


def _quiet_datasets():
    import datasets  # imported here: it costs ~0.7 s, and `coderun --help` must not pay it

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _rows_via_json(data: bytes, where: str) -> list[dict]:
    """JSON array or JSONL (optionally gzip) parsed with the standard library; errors name the line."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"{where}: not a valid gzip file ({e})") from e
    text = decode_utf8(data, where)
    if not text.strip():
        raise InputError(f"{where}: empty dataset file")
    if text.lstrip().startswith("["):
        rows = parse_json(text, where, document=True)  # a list: valid JSON starting with "[" is one
        places = [f"row {i}" for i in range(1, len(rows) + 1)]
    else:
        rows, places = [], []
        for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): JSON strings may hold U+2028
            if line.strip():
                rows.append(parse_json(line, f"{where} line {n}"))
                places.append(f"line {n}")
    for row, place in zip(rows, places):
        if not isinstance(row, dict):
            raise InputError(f"{where} {place}: expected a JSON object, got {type(row).__name__}")
    return rows


def decode_utf8(data: bytes, where: str) -> str:
    """Bytes to text; non-UTF-8 input is an InputError naming the line (a leading BOM is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{where} line {line}: not UTF-8 text (byte 0x{data[e.start]:02x})") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_json(text: str, where: str, document: bool = False) -> Any:
    """json.loads with one-line InputErrors; for a whole `document` (not one JSONL line, whose `where`
    names it already) the error names the line."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        at = f" line {e.lineno}" if document else ""
        raise InputError(f"{where}{at}: not valid JSON: {e.msg} (column {e.colno})") from None
    except ValueError as e:  # e.g. an integer longer than Python's int-to-str digit limit
        raise InputError(f"{where}: not valid JSON: {_first_line(e)}") from None


def check_fields(row: dict, where: str, fields: dict[str, type], optional: bool = False) -> None:
    """Each of `fields` is present (unless `optional`, where None means absent) with the given type;
    `list` means a list of strings."""
    for name, kind in fields.items():
        value = row.get(name)
        if value is None:
            if optional:
                continue
            raise InputError(f"{where}: missing field {name!r}")
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and kind is list:
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            want = {str: "a string", int: "an integer", list: "a list of strings"}[kind]
            raise InputError(f"{where}: field {name!r} must be {want}, got {type(value).__name__}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]
