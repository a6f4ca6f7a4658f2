"""coderun.compare and `coderun compare`: pairing, statistics against known values, refusals, output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coderun import compare as cmp, datasets, stats
from coderun.records import DatasetRef, RunConfig, read_rows
from coderun.errors import InputError
from tests.conftest import coderun
from tests.runfiles import dataset_sha, humaneval_ids, make_run, rows_for, solved_set


def entry(label: str, outcomes: dict, dataset: str = "humaneval", **config) -> cmp.Entry:
    """A run in memory (no files): rows and the config a run of `dataset` records; `prompt` makes it a
    generated run with that prompt format version."""
    cfg = RunConfig(command="evaluate", dataset=DatasetRef(dataset, config.get("sha", dataset_sha(dataset))))
    if "prompt" in config:
        cfg.command, cfg.generation = dataset, {"identity": {"prompt": {"version": config["prompt"]}}}
    return cmp.Entry(label, [cmp.Run(label, label, rows_for(outcomes), cfg)])


def sha_of(run_dir) -> str:
    return json.loads((run_dir / "config.json").read_text())["dataset"]["sha256"]


TASKS = humaneval_ids(40)


# ---- statistics through compare(), against known values ------------------------------------------------


def test_identical_runs_differ_by_nothing():
    outcomes = {t: ["passed", "failed"] if i % 3 else ["failed", "failed"] for i, t in enumerate(TASKS)}
    c = cmp.compare([entry("a", outcomes), entry("b", outcomes)], ks=[1, 2])
    for d in c.all_diffs():
        assert d.value == 0 and d.low == 0 and d.high == 0
        assert d.p == 1.0 and d.p_holm == 1.0 and d.mde == 0
    flips = c.datasets[0].flips[0]
    assert flips.gained == [] and flips.lost == [] and flips.common == 40


def test_permutation_p_on_a_constructed_set():
    # 40 problems, one sample each; the run loses 3 problems the baseline solved and changes nothing else.
    # Diffs are three -1 and 37 zeros: |mean| >= 3/40 only when the three signs agree, so the exact
    # two-sided p is 2/8 = 0.25. With B = 10,000 sign flips (seed 0) the estimate lies within 0.24-0.26.
    base = solved_set(TASKS, set(TASKS[:20]))
    run = solved_set(TASKS, set(TASKS[3:20]))
    c = cmp.compare([entry("base", base), entry("run", run)], ks=[1])
    (d,) = c.all_diffs()
    assert d.value == pytest.approx(-3 / 40)
    assert 0.24 <= d.p <= 0.26
    assert d.p_holm == d.p  # a single test: Holm changes nothing
    assert c.datasets[0].flips[0].lost == TASKS[:3] and c.datasets[0].flips[0].gained == []
    sd = np.std([-1] * 3 + [0] * 37, ddof=1)
    assert d.mde == pytest.approx((1.959963984540054 + 0.8416212335729143) * sd / np.sqrt(40))


def test_paired_ci_covers_the_truth_at_the_nominal_rate():
    # N = 150 problems, 200 simulated pairs of runs (seed 7): problem difficulty p_i ~ U(0, 1), baseline
    # solves with p_i, the run with min(1, p_i + 0.05), one sample each. The true mean difference is
    # E[min(1, p + 0.05)] - E[p] = 0.05 - 0.05^2 / 2. The 95% paired interval (1,000 resamples) must cover it
    # in [0.90, 0.99] of the simulations.
    rng = np.random.default_rng(7)
    truth = 0.05 - 0.05 ** 2 / 2
    tasks = humaneval_ids(150)
    covered = 0
    for _ in range(200):
        p = rng.random(150)
        u = rng.random(150)  # common randomness: pairs are correlated, as two fine-tunes of one model are
        base = {t: ["passed" if u[i] < p[i] else "failed"] for i, t in enumerate(tasks)}
        run = {t: ["passed" if u[i] < min(1, p[i] + 0.05) else "failed"] for i, t in enumerate(tasks)}
        (d,) = cmp.compare([entry("a", base), entry("b", run)], ks=[1], resamples=1000).all_diffs()
        covered += d.low <= truth <= d.high
    assert 0.90 <= covered / 200 <= 0.99


@pytest.mark.docker
def test_holm_across_runs_k_and_datasets(tmp_path):
    tasks = humaneval_ids(30)
    mb = [str(i) for i in range(11, 41)]
    for name, he_solved, mb_solved in (("base", 10, 10), ("ft1", 18, 12), ("ft2", 4, 10)):
        make_run(tmp_path / name / "humaneval", {t: ["passed" if i < he_solved else "failed"] * 2
                                                  for i, t in enumerate(tasks)})
        make_run(tmp_path / name / "mbpp", {t: ["passed" if i < mb_solved else "failed"] * 2
                                             for i, t in enumerate(mb)}, dataset="mbpp")
    entries = [cmp.load_entry(str(tmp_path / n)) for n in ("base", "ft1", "ft2")]
    c = cmp.compare(entries, ks=[1, 2])
    diffs = c.all_diffs()
    assert len(diffs) == 2 * 2 * 2  # runs x k x datasets
    assert {ds.dataset for ds in c.datasets} == {"humaneval", "mbpp"}
    assert [d.p_holm for d in diffs] == pytest.approx(stats.holm([d.p for d in diffs]))
    assert any(d.p_holm > d.p for d in diffs)


@pytest.mark.docker
def test_scores_equal_summary_json(tmp_path):
    outcomes = {t: ["passed"] * (i % 4) + ["failed"] * (5 - i % 4) for i, t in enumerate(TASKS)}
    a = make_run(tmp_path / "a", outcomes, ks=[1, 5])
    b = make_run(tmp_path / "b", solved_set(TASKS, set(TASKS[::2]), n=5), ks=[1, 5])
    c = cmp.compare([cmp.load_entry(str(a)), cmp.load_entry(str(b))], ks=[1, 5])
    for run_dir, label in ((a, str(a)), (b, str(b))):
        summary = json.loads((run_dir / "summary.json").read_text())
        for s in (s for s in c.datasets[0].scores if s.label == label):
            assert s.value == summary["pass@k"][str(s.k)]
            assert (s.low, s.high) == (summary["pass@k_ci"][str(s.k)]["low"], summary["pass@k_ci"][str(s.k)]["high"])


# ---- pairing and refusals ------------------------------------------------------------------------------


def test_intersection_drops_and_says_so():
    base = solved_set(TASKS[:30], set(TASKS[:10]))
    run = solved_set(TASKS[5:40], set(TASKS[5:15]))
    run[TASKS[35]] = ["error"]  # no verdict: not a problem of this run
    c = cmp.compare([entry("base", base), entry("run", run)], ks=[1])
    f = c.datasets[0].flips[0]
    assert f.common == 25 and f.only_baseline == TASKS[:5] and len(f.only_run) == 9
    assert TASKS[35] not in f.only_run
    assert f.gained == TASKS[10:15] and f.lost == []
    assert any("paired over 25 common problems; dropped 5 only in the baseline, 9 only in run" in w
               for w in c.warnings)


@pytest.mark.parametrize("b_config,refused", [
    ({}, False),
    ({"sha": "b" * 64}, True),
    ({"prompt": "v2"}, True),
])
def test_dataset_and_prompt_must_match(b_config, refused):
    a_config = {"prompt": "v1"} if "prompt" in b_config else {}  # a prompt version is checked when both have one
    a, b = entry("a", solved_set(TASKS, set()), **a_config), entry("b", solved_set(TASKS, set()), **b_config)
    if refused:
        with pytest.raises(InputError, match="not comparable"):
            cmp.compare([a, b])
        forced = cmp.compare([a, b], force=True)
        assert any("compared anyway" in w for w in forced.warnings)
    else:
        assert not cmp.compare([a, b]).warnings


def test_prompt_version_present_on_both_must_be_equal():
    same = cmp.compare([entry("a", solved_set(TASKS, set()), prompt="v1"),
                        entry("b", solved_set(TASKS, set()), prompt="v1")])
    assert not same.warnings
    with pytest.raises(InputError, match="prompt version v1 vs v2"):
        cmp.compare([entry("a", solved_set(TASKS, set()), prompt="v1"),
                     entry("b", solved_set(TASKS, set()), prompt="v2")])
    # Samples made elsewhere have no prompt version: compared, with a warning that it cannot be checked
    # (compare.py's rule since the typed run record; it used to refuse "prompt version v1 vs None").
    unknown = cmp.compare([entry("a", solved_set(TASKS, set()), prompt="v1"), entry("b", solved_set(TASKS, set()))])
    assert any("b has no recorded prompt version" in w for w in unknown.warnings)


@pytest.mark.docker
def test_bare_results_file_is_compared_with_a_warning(tmp_path):
    a = make_run(tmp_path / "a", solved_set(TASKS, set(TASKS[:5])))
    b = make_run(tmp_path / "b", solved_set(TASKS, set(TASKS[:8])), other_dataset_copy=True)
    assert sha_of(b) != sha_of(a)  # b scored another copy of the dataset, which its bare results cannot show
    c = cmp.compare([cmp.load_entry(str(a)), cmp.load_entry(str(b / "results.jsonl"))])
    assert any("nothing about it" in w and "results.jsonl" in w for w in c.warnings)
    assert c.datasets[0].dataset == "humaneval" and c.datasets[0].flips[0].gained == TASKS[5:8]


def test_no_common_dataset_or_k_too_large_is_input_error():
    he = entry("he", solved_set(TASKS, set()))
    mbpp = entry("mbpp", solved_set(["11", "12"], set()), dataset="mbpp")
    with pytest.raises(InputError, match="no dataset in common"):
        cmp.compare([he, mbpp])
    with pytest.raises(InputError, match="--k 2 is larger than the 1 samples"):
        cmp.compare([he, entry("b", solved_set(TASKS, set()))], ks=[1, 2])


def test_default_ks_fit_every_run():
    a = entry("a", solved_set(TASKS, set(), n=12))
    b = entry("b", solved_set(TASKS, set(), n=10))
    assert cmp.compare([a, b]).datasets[0].ks == [1, 10]


@pytest.mark.docker
def test_read_rows_tolerates_a_partial_last_line_and_rejects_garbage(tmp_path):
    path = make_run(tmp_path / "a", solved_set(TASKS[:3], {TASKS[0]})) / "results.jsonl"
    text = path.read_text()
    path.write_text(text + '{"task_id": "HumanEval/9", "sam')
    assert len(read_rows(path)) == 3
    assert path.read_text().endswith('"sam')  # read-only: nothing cut off the file
    path.write_text(text + "not json\n")
    with pytest.raises(InputError, match="line 4: not a result row"):
        read_rows(path)


def test_natural_order():
    assert sorted(["HumanEval/10", "HumanEval/9", "HumanEval/100"], key=cmp.natural) == \
        ["HumanEval/9", "HumanEval/10", "HumanEval/100"]


# ---- the command ---------------------------------------------------------------------------------------


@pytest.fixture()
def two_runs(tmp_path):
    base = make_run(tmp_path / "base", solved_set(TASKS, set(TASKS[:20]), n=2))
    ft = make_run(tmp_path / "ft", solved_set(TASKS, set(TASKS[4:26]), n=2))
    return base, ft


@pytest.mark.docker
def test_cli_table_lists_flips(two_runs):
    base, ft = two_runs
    result = coderun("compare", "base", "ft", "--k", "1", cwd=base.parent)
    assert result.returncode == 0, result.stderr
    assert "pass@1" in result.stdout and "50.00%" in result.stdout and "55.00%" in result.stdout
    assert "+6 solved only by ft: HumanEval/20, HumanEval/21, HumanEval/22" in result.stdout
    assert "−4 solved only by base: HumanEval/0, HumanEval/1, HumanEval/2, HumanEval/3\n" in result.stdout


@pytest.mark.docker
def test_cli_json_and_baseline_option(two_runs):
    base, ft = two_runs
    result = coderun("compare", str(ft), "--baseline", str(base), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["baseline"] == str(base)
    (ds,) = data["datasets"]
    assert ds["ks"] == [1]  # the default ks that 2 samples per problem allow
    assert ds["flips"][0]["gained"] == TASKS[20:26] and ds["flips"][0]["lost"] == TASKS[:4]
    assert ds["diffs"][0]["value"] == pytest.approx(0.05) and ds["diffs"][0]["run"] == str(ft)


@pytest.mark.parametrize("make_args,message", [
    (lambda b, f: [str(b), str(f.parent / "nowhere")], "run not found"),
    (lambda b, f: [str(b)], "compare needs at least two runs"),
    (lambda b, f: [str(b), str(f), "--k", "3"], "--k 3 is larger than the 2 samples"),
    (lambda b, f: [str(b), str(f), "--fail-if-regression", "two"], "--fail-if-regression takes a fraction"),
    (lambda b, f: [str(b), str(f), "--fail-if-regression", "5"], "in [0, 1)"),
])
@pytest.mark.docker
def test_cli_bad_input_is_one_line_exit_2(two_runs, make_args, message):
    result = coderun("compare", *make_args(*two_runs))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


@pytest.mark.docker
def test_cli_refuses_another_dataset_version_unless_forced(tmp_path, two_runs):
    base, _ = two_runs
    other = make_run(tmp_path / "other", solved_set(TASKS, set(), n=2), other_dataset_copy=True)
    refused = coderun("compare", str(base), str(other))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert f"dataset sha256 {sha_of(base)[:12]} vs {sha_of(other)[:12]}" in refused.stderr
    assert "--force" in refused.stderr
    forced = coderun("compare", str(base), str(other), "--force")
    assert forced.returncode == 0 and "compared anyway" in forced.stderr


@pytest.mark.docker
def test_runs_judged_differently_are_refused_unless_forced(tmp_path):
    """A strict run and a classic run of the same samples: their `passed` mean different things."""
    from coderun import api

    rows = [{"task_id": "HumanEval/13", "solution": "class E:\n    def __eq__(self, other):\n        return True\n"
             "def greatest_common_divisor(a, b):\n    return E()\n"},
            {"task_id": "HumanEval/13", "solution": datasets.load("humaneval").get("HumanEval/13").canonical_solution}]
    classic = api.evaluate(rows, "humaneval", out=tmp_path / "classic", timeout=1.0, workers=1)
    strict = api.evaluate(rows, "humaneval", out=tmp_path / "strict", timeout=1.0, workers=1, strict=True)
    assert [r.status for r in classic.rows] == ["passed", "passed"]  # classic runs the assert in the sample
    assert [r.status for r in strict.rows] == ["failed", "passed"] and "not plain data" in strict.rows[0].reason
    assert (classic.summary["judging"], strict.summary["judging"]) == ({"mode": "classic"}, {"mode": "strict",
                                                                                              "classic": {}})
    assert strict.config.dataset.strict and not classic.config.dataset.strict
    refused = coderun("compare", str(classic.dir), str(strict.dir))
    assert refused.returncode == 2 and "judging" in refused.stderr and "--force" in refused.stderr
    assert coderun("compare", str(classic.dir), str(strict.dir), "--force").returncode == 0
