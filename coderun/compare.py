"""Comparing runs: each run's pass@k, and each run against a baseline over the problems both scored.

Definitions (DESIGN.md, "Scores"; docs/ci.md):
- A run's score per problem is the unbiased pass@k from its (n, c), `error` rows left out. Problems
  whose every sample is an `error` have no score and take no part.
- Paired statistics use the problems both runs scored (the intersection); how many each side loses
  is reported. The difference is mean(run - baseline) of per-problem pass@k, with a paired bootstrap
  CI over problems, a sign-flip permutation p-value, Holm-adjusted across every (run, k, dataset) of
  the comparison, and the minimum detectable difference at alpha 0.05 and 80% power.
- A flip is a common problem that one run solves and the other does not, where "solves" means at
  least one passing sample (per-problem pass@1 > 0, which is the same as pass@k > 0 for every k).
  `gained`: unsolved by the baseline, solved by the run; `lost`: the other way round.
- Runs are compared per dataset. Two runs of one dataset must agree on its sha256, the prompt version
  (config key prompt.version; absent on both counts as equal) and challenge tests, unless forced.

Loading reads files (read-only); everything after that is pure. No click, no rich.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coderun import metrics
from coderun.errors import InputError
from coderun.execute.base import STATUSES
from coderun.runs import ResultRow, latest_rows
from coderun.scoring import DEFAULT_KS

ALPHA = 0.05
POWER = 0.8


# ---- loading ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run of one dataset: its rows and, when it has one, its config.json and summary.json."""

    label: str
    path: str
    rows: list[ResultRow]
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None

    @property
    def checked(self) -> bool:
        """Whether a config.json says what this run is (a bare results.jsonl says nothing)."""
        return self.config is not None

    @property
    def dataset(self) -> str | None:
        return (self.config or {}).get("dataset", {}).get("name")

    def identity(self) -> dict[str, Any]:
        """What must match for two runs of a dataset to be comparable."""
        config = self.config or {}
        return {"dataset sha256": config.get("dataset", {}).get("sha256"),
                "prompt version": (config.get("prompt") or {}).get("version"),
                "challenge tests": bool(config.get("dataset", {}).get("challenge_tests"))}

    def counts(self) -> dict[str, tuple[int, int]]:
        """(n, c) per problem in first-seen order; `error` rows left out, problems without a verdict dropped."""
        counts: dict[str, list[int]] = {}
        for r in self.rows:
            entry = counts.setdefault(r.task_id, [0, 0])
            if r.status != "error":
                entry[0] += 1
                entry[1] += int(r.passed)
        return {t: (n, c) for t, (n, c) in counts.items() if n > 0}


@dataclass
class Entry:
    """One RUN argument: a run directory, a results.jsonl, or a directory of run directories (one per dataset)."""

    label: str
    runs: list[Run]


def load_entry(path: str) -> Entry:
    p = Path(path)
    label = path.rstrip("/") or path
    if p.is_file():
        return Entry(label, [Run(label, str(p), read_rows(p))])
    if not p.is_dir():
        raise InputError(f"run not found: {path}")
    if (p / "results.jsonl").is_file():
        return Entry(label, [load_run_dir(p, label)])
    subdirs = sorted(d for d in p.iterdir() if (d / "results.jsonl").is_file())
    if not subdirs:
        raise InputError(f"{path}: no results.jsonl in it or in its subdirectories")
    return Entry(label, [load_run_dir(d, f"{label}/{d.name}") for d in subdirs])


def load_run_dir(p: Path, label: str) -> Run:
    return Run(label, str(p), read_rows(p / "results.jsonl"), _read_json(p / "config.json"),
               _read_json(p / "summary.json"))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def read_rows(path: Path) -> list[ResultRow]:
    """Rows of a results.jsonl, one per sample (the last recorded wins); never writes the file.

    A partial last line (a run killed mid-write) is ignored, as the run itself would cut it off.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1] if _unparsable(lines[-1]) else lines
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            rows.append(_row(line, f"{path} line {n}"))
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
        data = json.loads(line)
        row = ResultRow.from_json(data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{at}: not a result row ({exc})") from None
    if row.status not in STATUSES or not isinstance(row.passed, bool):
        raise InputError(f"{at}: status must be one of {', '.join(STATUSES)} and passed a boolean")
    row.task_id = str(row.task_id)
    return row


# ---- pairing runs by dataset ----------------------------------------------------------------------------


@dataclass
class Pair:
    dataset: str
    baseline: Run
    run: Run


def pair_runs(baseline: Entry, entry: Entry) -> list[Pair]:
    """The runs of `entry` matched to the baseline's by dataset name.

    A run without a config (a bare results.jsonl) has no dataset name: it pairs only when both
    entries hold a single run, since nothing else can tell which dataset it is.
    """
    if len(baseline.runs) == 1 and len(entry.runs) == 1:
        b, r = baseline.runs[0], entry.runs[0]
        if b.dataset is None or r.dataset is None or b.dataset == r.dataset:
            return [Pair(b.dataset or r.dataset or "results", b, r)]
        return []
    by_name = {b.dataset: b for b in baseline.runs if b.dataset}
    unnamed = [r.label for r in entry.runs + baseline.runs if r.dataset is None]
    if unnamed:
        raise InputError(f"cannot tell which dataset {unnamed[0]} is (no config.json); compare it only with "
                         f"single-dataset runs")
    return [Pair(r.dataset, by_name[r.dataset], r) for r in entry.runs if r.dataset in by_name]


def check_pairs(pairs: list[Pair], force: bool) -> list[str]:
    """Warnings about what cannot be checked; InputError on a mismatch unless `force` (then a warning)."""
    warnings, seen = [], set()
    for pair in pairs:
        for run in (pair.baseline, pair.run):
            if not run.checked and run.label not in seen:
                seen.add(run.label)
                warnings.append(f"{run.label}: a bare results file; nothing about it (dataset, prompt, "
                                f"settings) can be checked")
        if not (pair.baseline.checked and pair.run.checked):
            continue
        a, b = pair.baseline.identity(), pair.run.identity()
        diff = [key for key in a if a[key] != b[key]]
        if diff:
            what = ", ".join(f"{key} {_short(a[key])} vs {_short(b[key])}" for key in diff)
            message = f"{pair.run.label} and {pair.baseline.label} differ in {what}"
            if not force:
                raise InputError(f"{message}; not comparable (--force compares them anyway)")
            warnings.append(f"{message}; compared anyway (--force)")
    return warnings


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if len(text) == 64 else text  # a sha256 reads fine by its first 12 digits


# ---- statistics ----------------------------------------------------------------------------------------


@dataclass
class Score:
    label: str
    k: int
    value: float
    low: float
    high: float
    num_problems: int


@dataclass
class Diff:
    """run - baseline over the common problems, for one dataset and k."""

    dataset: str
    run: str
    baseline: str
    k: int
    value: float
    low: float
    high: float
    p: float
    p_holm: float
    mde: float | None  # None with fewer than two common problems
    num_problems: int

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass
class Flips:
    dataset: str
    run: str
    baseline: str
    gained: list[str]  # unsolved by the baseline, solved by the run
    lost: list[str]  # solved by the baseline, unsolved by the run
    common: int
    only_baseline: list[str]  # problems dropped from the paired statistics
    only_run: list[str]


@dataclass
class DatasetComparison:
    dataset: str
    ks: list[int]
    scores: list[Score]  # every run's own pass@k over its own problems, baseline first
    diffs: list[Diff]
    flips: list[Flips]


@dataclass
class Comparison:
    baseline: str
    datasets: list[DatasetComparison]
    warnings: list[str] = field(default_factory=list)

    def all_diffs(self) -> list[Diff]:
        return [d for ds in self.datasets for d in ds.diffs]

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "alpha": ALPHA, "power": POWER, "warnings": self.warnings,
                "datasets": [asdict(ds) for ds in self.datasets]}


def compare(entries: list[Entry], baseline: int = 0, ks: list[int] | None = None, force: bool = False,
            seed: int = 0, resamples: int = 10_000) -> Comparison:
    """Every entry against entries[baseline], per dataset; p-values Holm-adjusted across all of it."""
    if len(entries) < 2:
        raise InputError("compare needs at least two runs")
    base = entries[baseline]
    others = [e for i, e in enumerate(entries) if i != baseline]
    groups: dict[str, list[Pair]] = {}
    for entry in others:
        pairs = pair_runs(base, entry)
        if not pairs:
            raise InputError(f"{entry.label} has no dataset in common with the baseline {base.label}")
        for pair in pairs:
            groups.setdefault(pair.dataset, []).append(pair)
    warnings = check_pairs([p for pairs in groups.values() for p in pairs], force)
    datasets = [compare_dataset(name, pairs, ks, seed, resamples) for name, pairs in groups.items()]
    diffs = [d for ds in datasets for d in ds.diffs]
    for d, adjusted in zip(diffs, metrics.holm([d.p for d in diffs])):
        d.p_holm = adjusted
    for ds in datasets:
        for f in ds.flips:
            if f.only_baseline or f.only_run:
                warnings.append(f"{ds.dataset}: {f.run} vs {f.baseline}: paired over {f.common} common problems; "
                                f"dropped {len(f.only_baseline)} only in the baseline, {len(f.only_run)} only "
                                f"in {f.run}")
    return Comparison(base.label, datasets, warnings)


def compare_dataset(name: str, pairs: list[Pair], ks: list[int] | None, seed: int,
                    resamples: int) -> DatasetComparison:
    runs = [pairs[0].baseline] + [p.run for p in pairs]
    counts = [r.counts() for r in runs]
    if any(not c for c in counts):
        empty = runs[[bool(c) for c in counts].index(False)]
        raise InputError(f"{empty.label}: no problem has a verdict (every row is an error)")
    ks = resolve_ks(ks, counts, [r.label for r in runs])
    scores = [score(r.label, c, k, seed, resamples) for r, c in zip(runs, counts) for k in ks]
    diffs, flips = [], []
    for pair, run_counts in zip(pairs, counts[1:]):
        common = [t for t in counts[0] if t in run_counts]
        if not common:
            raise InputError(f"{pair.run.label} and {pair.baseline.label} have no problem in common")
        diffs += [paired_diff(name, pair, counts[0], run_counts, common, k, seed, resamples) for k in ks]
        flips.append(find_flips(name, pair, counts[0], run_counts, common))
    return DatasetComparison(name, ks, scores, diffs, flips)


def resolve_ks(explicit: list[int] | None, counts: list[dict[str, tuple[int, int]]], labels: list[str]) -> list[int]:
    """Explicit ks must fit every problem's sample count in every run; default: 1, 10, 100 where they fit."""
    smallest = [min(n for n, _ in c.values()) for c in counts]
    least = min(smallest)
    if not explicit:
        return [k for k in DEFAULT_KS if k <= least]
    bad = [k for k in explicit if k < 1]
    if bad:
        raise InputError(f"--k values must be positive integers, got {bad[0]}")
    too_big = [k for k in explicit if k > least]
    if too_big:
        who = labels[smallest.index(least)]
        raise InputError(f"--k {too_big[0]} is larger than the {least} samples of some problem in {who}")
    return sorted(set(explicit))


def score(label: str, counts: dict[str, tuple[int, int]], k: int, seed: int, resamples: int) -> Score:
    """pass@k over the run's own problems; the same figure (and seed) as its summary.json."""
    est = metrics.estimate_pass_at_k(list(counts.values()), k, seed=seed, resamples=resamples)
    return Score(label, k, est.value, est.low, est.high, len(counts))


def paired_diff(dataset: str, pair: Pair, base: dict, run: dict, common: list[str], k: int, seed: int,
                resamples: int) -> Diff:
    a = metrics.per_problem_pass_at_k([base[t] for t in common], k)
    b = metrics.per_problem_pass_at_k([run[t] for t in common], k)
    low, high = metrics.paired_bootstrap_ci(a, b, seed=seed, resamples=resamples)
    p = metrics.sign_flip_permutation_test(b - a, resamples=resamples, seed=seed)
    mde = metrics.minimum_detectable_difference(b - a, ALPHA, POWER) if len(common) > 1 else None
    return Diff(dataset, pair.run.label, pair.baseline.label, k, float((b - a).mean()), low, high, p, p, mde,
                len(common))


def find_flips(dataset: str, pair: Pair, base: dict, run: dict, common: list[str]) -> Flips:
    gained = sorted((t for t in common if base[t][1] == 0 and run[t][1] > 0), key=natural)
    lost = sorted((t for t in common if base[t][1] > 0 and run[t][1] == 0), key=natural)
    only_base = sorted((t for t in base if t not in run), key=natural)
    only_run = sorted((t for t in run if t not in base), key=natural)
    return Flips(dataset, pair.run.label, pair.baseline.label, gained, lost, len(common), only_base, only_run)


def natural(task_id: str) -> list:
    """Sort key that puts HumanEval/9 before HumanEval/10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", task_id)]
