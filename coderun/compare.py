"""Comparing runs: each run's pass@k, and each run against a baseline over the problems both scored.

Definitions (docs/design.md, "Scores"; docs/ci.md):
- A run's score per problem is the unbiased pass@k from its (n, c), `error` rows left out. Problems
  whose every sample is an `error` have no score and take no part.
- Paired statistics use the problems both runs scored (the intersection); how many each side loses
  is reported. The difference is mean(run - baseline) of per-problem pass@k, with a paired bootstrap
  CI over problems, a sign-flip permutation p-value, Holm-adjusted across every (run, k, dataset) of
  the comparison, and the minimum detectable difference at alpha 0.05 and 80% power.
- A flip is a common problem that one run solves and the other does not, where "solves" means at
  least one passing sample (per-problem pass@1 > 0, which is the same as pass@k > 0 for every k).
  `gained`: unsolved by the baseline, solved by the run; `lost`: the other way round.
- Runs are compared per dataset. Two runs of one dataset must agree on its sha256, the prompt format's
  version (config.json generation.identity.prompt.version) and challenge tests, unless forced. A run
  without a prompt version (samples made elsewhere) against one with a version gets a warning: its prompt
  cannot be checked.

Loading reads files (read-only); everything after that is pure. No click, no rich.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coderun import stats
from coderun.errors import InputError
from coderun.records import RunRecord, load_run
from coderun.summary import resolve_ks as resolve_run_ks

ALPHA = 0.05
POWER = 0.8


# ---- loading ------------------------------------------------------------------------------------------

Run = RunRecord  # one run of one dataset, read through the run record (records.py)


@dataclass
class Entry:
    """One RUN argument: a run directory, a results.jsonl, or a directory of run directories (one per dataset)."""

    label: str
    runs: list[Run]


def load_entry(path: str) -> Entry:
    p = Path(path)
    label = path.rstrip("/") or path
    if p.is_file():
        return Entry(label, [load_run(p, label)])
    if not p.is_dir():
        raise InputError(f"run not found: {path}")
    if (p / "results.jsonl").is_file():
        return Entry(label, [load_run(p, label)])
    subdirs = sorted(d for d in p.iterdir() if (d / "results.jsonl").is_file())
    if not subdirs:
        raise InputError(f"{path}: no results.jsonl in it or in its subdirectories")
    return Entry(label, [load_run(d, f"{label}/{d.name}") for d in subdirs])


def identity(run: Run) -> dict[str, Any]:
    """What must match for two runs of a dataset to be comparable (a prompt version of None: samples
    made elsewhere, whose prompt coderun cannot know)."""
    config = run.config
    out = {"dataset sha256": config.dataset.sha256, "prompt version": config.prompt_version,
           "challenge tests": config.dataset.challenge_tests,
           "judging": "strict" if config.dataset.strict else "classic"}
    toolchain = (config.execution.sandbox or {}).get("toolchain")
    if toolchain:  # another language: its compiler's and runtime's versions decide verdicts too
        out["toolchain"] = toolchain
    return out


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
            if run.config is None and run.label not in seen:
                seen.add(run.label)
                warnings.append(f"{run.label}: a bare results file; nothing about it (dataset, prompt, "
                                f"settings) can be checked")
        if pair.baseline.config is None or pair.run.config is None:
            continue
        a, b = identity(pair.baseline), identity(pair.run)
        unknown = [run.label for run, ident in ((pair.baseline, a), (pair.run, b)) if ident["prompt version"] is None]
        if len(unknown) == 1:  # samples made elsewhere against a generated run: nothing to check the prompt with
            warnings.append(f"{unknown[0]} has no recorded prompt version (samples made elsewhere); its prompt "
                            f"cannot be checked against the other run's")
            a.pop("prompt version"), b.pop("prompt version")
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
    for d, adjusted in zip(diffs, stats.holm([d.p for d in diffs])):
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
    """The ks every run allows: explicit ones must fit every problem's sample count in every run (the
    rule of summary.resolve_ks, checked against the run with the fewest samples); default 1, 10, 100."""
    per_run = [{t: n for t, (n, _) in c.items()} for c in counts]
    fewest = min(range(len(per_run)), key=lambda i: min(per_run[i].values()))
    return resolve_run_ks(explicit, per_run[fewest], where=labels[fewest])


def score(label: str, counts: dict[str, tuple[int, int]], k: int, seed: int, resamples: int) -> Score:
    """pass@k over the run's own problems; the same figure (and seed) as its summary.json."""
    est = stats.estimate_pass_at_k(list(counts.values()), k, seed=seed, resamples=resamples)
    return Score(label, k, est.value, est.low, est.high, len(counts))


def paired_diff(dataset: str, pair: Pair, base: dict, run: dict, common: list[str], k: int, seed: int,
                resamples: int) -> Diff:
    a = stats.per_problem_pass_at_k([base[t] for t in common], k)
    b = stats.per_problem_pass_at_k([run[t] for t in common], k)
    low, high = stats.paired_bootstrap_ci(a, b, seed=seed, resamples=resamples)
    p = stats.sign_flip_permutation_test(b - a, resamples=resamples, seed=seed)
    mde = stats.minimum_detectable_difference(b - a, ALPHA, POWER) if len(common) > 1 else None
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
