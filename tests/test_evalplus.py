"""HumanEval+ and MBPP+ end to end, with real sandboxes: every reference solution passes every variant, a
wrong one fails naming its input, the development set agrees with evalplus 0.3.1's verdicts, and the EvalPlus
options and files. The reference outputs are computed once per dataset file (the host cache), so the tests
share them."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import pytest

from coderun import datasets, stats
from coderun.records import load_run
from tests.conftest import DEV_SAMPLES, SHARED_DATA, coderun

VARIANTS = ["humaneval-plus", "humaneval-plus-mini", "humaneval-plus-noextreme", "mbpp-plus", "mbpp-plus-noextreme"]
VERDICTS = SHARED_DATA / "evalplus-humanevalplus-dev-verdicts.jsonl"
# Differences from evalplus 0.3.1 on the development set, each explained (docs/evalplus.md):
EXPLAINED = {("HumanEval/111", 64): "imports pandas, which EvalPlus's environment had and the sandbox has not",
             # Either way, by the machine's speed: trial division to n/2 (`range(3, n // 2, 2)`, the only two
             # samples that do it) takes 0.8-1.0 CPU-s on its largest plus input, against that input's 1.0 s limit:
             # EvalPlus timed both out; coderun times out one, both or neither, as the machine's load goes.
             ("HumanEval/31", 52): "a timeout at the limit: its slowest input takes about the limit itself",
             ("HumanEval/31", 88): "the same trial division as #52, a timeout at the limit either way"}


def evaluate(samples: Path, out: Path, dataset: str, **execution):
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions

    opts = EvaluateOptions(samples=str(samples), dataset=DatasetSelection(dataset),
                           execution=ExecutionOptions(workers=2, **execution), output=OutputOptions(out=str(out)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(opts)


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# A variant shares most problems with its full dataset byte for byte (same program, inputs and judge): those
# run the same jobs, so their verdicts are the full dataset's, and each variant runs only the problems it changes.
FULL = {"humaneval-plus-mini": "humaneval-plus", "humaneval-plus-noextreme": "humaneval-plus",
        "mbpp-plus-noextreme": "mbpp-plus"}


def identity(bench, problem) -> tuple:
    program = bench.canonical(problem)
    return program.solution, program.test, program.tiers, program.judging.spec, program.judging.digest_over


def own_problems(name: str) -> list:
    bench = datasets.load(name)
    if name not in FULL:
        return bench.problems
    full = datasets.load(FULL[name])
    own = [p for p in bench.problems if identity(bench, p) != identity(full, full.get(p.task_id))]
    assert own, f"{name} is identical to {FULL[name]}"
    return own


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_every_reference_solution_passes(tmp_path, name):
    problems = own_problems(name)
    samples = write_samples(tmp_path / "canonical.jsonl",
                            [{"task_id": p.task_id, "solution": p.canonical_solution} for p in problems])
    outcome = evaluate(samples, tmp_path / "run", name)
    s = outcome.summary
    failed = [(r.task_id, r.reason) for r in load_run(outcome.run_dir).rows if not r.passed]
    assert failed == [] and s["complete"] and s["counts"]["passed"] == len(problems)
    assert s["pass@k"] == {"1": 1.0} and s["base_pass@k"] == {"1": 1.0}
    # the run's own check of the references, from the cached expected-output computation
    assert s["reference_solutions"] == {"problems": len(problems), "passed": len(problems), "failed": []}


@pytest.mark.docker
def test_a_wrong_solution_fails_naming_its_input(tmp_path):
    bench = datasets.load("humaneval-plus")
    problem = bench.get("HumanEval/0")
    wrong = problem.canonical_solution.replace("return True", "return False", 1)
    assert wrong != problem.canonical_solution
    samples = write_samples(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "solution": wrong},
                                                   {"task_id": "HumanEval/0", "solution": problem.canonical_solution}])
    outcome = evaluate(samples, tmp_path / "run", "humaneval-plus", all_inputs=True)
    bad, good = load_run(outcome.run_dir).rows
    assert (bad.status, bad.extra["base_status"], good.status) == ("failed", "failed", "passed")
    assert bad.reason.startswith("base: input ") and "expected True, got False" in bad.reason
    index = bad.extra["base_failed_input"]
    assert str(problem.extra["base_input"][index][1]) in bad.reason  # the input itself, shortened
    # --plus-details: every input ran, and the counts say how many passed
    assert 0 < bad.extra["base_inputs_passed"] < bad.extra["base_inputs"] == len(problem.extra["base_input"])
    assert good.extra["plus_inputs_passed"] == good.extra["plus_inputs"] == len(problem.extra["plus_input"])


@pytest.mark.docker
def test_any_subset_of_problems_scores_and_mbpp_ids_may_be_bare_numbers(tmp_path):
    bench = datasets.load("mbpp-plus")
    rows = [{"task_id": 2, "solution": bench.get("Mbpp/2").canonical_solution},  # bare number: Mbpp/2
            {"task_id": "Mbpp/3", "completion": "    return None\n"}]  # appended to the prompt: wrong
    outcome = evaluate(write_samples(tmp_path / "s.jsonl", rows), tmp_path / "run", "mbpp-plus")
    s = outcome.summary
    assert s["num_problems"] == 2 and s["pass@k"]["1"] == 0.5 and s["complete"]
    assert [r.task_id for r in load_run(outcome.run_dir).rows] == ["Mbpp/2", "Mbpp/3"]


@pytest.mark.docker
@pytest.mark.slow
def test_the_development_set_agrees_with_evalplus(tmp_path):
    """8,200 CodeGen-16B samples: base and plus verdicts each agree with evalplus 0.3.1 on at least 99.5%,
    every difference is one explained, and pass@k matches its figures once those are accounted for."""
    outcome = evaluate(DEV_SAMPLES, tmp_path / "dev", "humaneval-plus")
    assert outcome.summary["complete"]
    ours = {(r.task_id, r.sample_index): r for r in load_run(outcome.run_dir).rows}
    theirs = {(v["task_id"], v["sample_index"]): v for v in map(json.loads, VERDICTS.read_text().splitlines())}
    assert set(ours) == set(theirs) and len(ours) == 8200
    base = {k for k, v in theirs.items() if (v["base_status"] == "pass") != ours[k].extra["base_passed"]}
    plus = {k for k, v in theirs.items() if (v["plus_status"] == "pass") != (ours[k].extra["plus_status"] == "passed")}
    assert 1 - len(base) / 8200 >= 0.995 and 1 - len(plus) / 8200 >= 0.995
    assert base | plus <= set(EXPLAINED), sorted(base | plus - set(EXPLAINED))
    # pass@k against the reference figures, with the explained samples scored as evalplus scored them
    for tier, key in (("base", "base_pass@k"), ("plus", "pass@k")):
        counts: dict[str, list[int]] = {}
        for k, r in ours.items():
            v = theirs[k]
            if k in EXPLAINED:
                passed = v["base_status"] == "pass" and (tier == "base" or v["plus_status"] == "pass")
            else:
                passed = r.extra["base_passed"] if tier == "base" else r.passed
            entry = counts.setdefault(k[0], [0, 0])
            entry[0] += 1
            entry[1] += int(passed)
        published = {"base": {1: 0.210, 10: 0.471, 100: 0.695}, "plus": {1: 0.183, 10: 0.419, 100: 0.659}}[tier]
        for k, figure in published.items():
            assert abs(stats.mean_pass_at_k([tuple(c) for c in counts.values()], k) - figure) <= 0.005, (tier, k)
        assert outcome.summary[key]["1"] == pytest.approx(stats.mean_pass_at_k(
            [(n, c) for n, c in ((v[0], v[1]) for v in counts.values())], 1), abs=1.5 / 8200)


@pytest.mark.docker
def test_evalplus_results_file(tmp_path):
    bench = datasets.load("humaneval-plus")
    rows = [{"task_id": "HumanEval/2", "solution": bench.get("HumanEval/2").canonical_solution},
            {"task_id": "HumanEval/2", "completion": "    return 0.5\n"}]
    samples = write_samples(tmp_path / "s.jsonl", rows)
    result = coderun("evaluate", str(samples), "--dataset", "humaneval-plus", "--out", str(tmp_path / "run"),
                     "--evalplus-results", str(tmp_path / "eval_results.json"), "--workers", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "eval_results.json").read_text())
    raw = gzip.decompress((Path(datasets.load("humaneval-plus").source)).read_bytes())
    import hashlib

    assert data["hash"] == hashlib.md5(raw).hexdigest()
    good, bad = data["eval"]["HumanEval/2"]
    assert (good["base_status"], good["plus_status"], good["base_fail_tests"]) == ("pass", "pass", [])
    assert (bad["base_status"], bad["plus_status"]) == ("fail", "fail")
    assert len(bad["base_fail_tests"]) == 1 and bad["base_fail_tests"][0] in bench.get("HumanEval/2").extra["base_input"]
    assert bad["solution"].endswith("    return 0.5\n") and bad["solution"].startswith(bench.get("HumanEval/2").prompt)
    assert "base pass@1" in result.stdout  # the table shows both tiers


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    unknown = write_samples(tmp_path / "s.jsonl", [{"task_id": "Mbpp/1", "solution": "x = 1"}])
    result = coderun("evaluate", str(unknown), "--dataset", "mbpp-plus", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "unknown task id 'Mbpp/1'" in result.stderr
    assert result.stderr.count("\n") == 1
    rows = [json.loads(line) for line in gzip.decompress(Path(datasets.load("mbpp-plus").source).read_bytes()).decode().splitlines()[:3]]
    del rows[1]["entry_point"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = coderun("evaluate", str(unknown), "--dataset", "mbpp-plus", "--dataset-path", str(broken))
    assert result.returncode == 2 and "row 2: missing field 'entry_point'" in result.stderr
    result = coderun("evaluate", str(unknown), "--dataset", "mbpp", "--evalplus-results", str(tmp_path / "e.json"))
    assert result.returncode == 2 and "--evalplus-results needs a HumanEval+ or MBPP+ dataset" in result.stderr


def test_plus_datasets_are_registered_with_their_commands():
    from coderun.cli.generate import dataset_for

    assert {n for n in datasets.dataset_names() if "plus" in n} == set(VARIANTS)
    assert dataset_for("humaneval", "plus") == "humaneval-plus"
    assert dataset_for("humaneval", "plus-mini") == "humaneval-plus-mini"
    assert dataset_for("mbpp", "plus-noextreme") == "mbpp-plus-noextreme"
    result = coderun("datasets")
    assert result.returncode == 0 and "coderun mbpp --plus --plus-variant noextreme" in result.stdout
    assert "378 problems" in result.stdout and "coderun humaneval --plus " in result.stdout


@pytest.mark.docker
def test_generating_for_humaneval_plus_uses_its_prompts_and_records_them(tmp_path):
    """`coderun humaneval --plus` with completions from a file: HumanEval+'s prompt family, EvalPlus's
    meaning of a completion, both tiers in the results."""
    bench = datasets.load("humaneval-plus")
    body = bench.get("HumanEval/2").canonical_solution[len(bench.get("HumanEval/2").prompt):]
    completions = write_samples(tmp_path / "c.jsonl", [{"task_id": "HumanEval/2", "completion": body},
                                                       {"task_id": "HumanEval/2", "completion": "    return 1.0\n"}])
    result = coderun("humaneval", "--plus", "--backend", "samples", "--samples", str(completions), "--task-ids",
                     "HumanEval/2", "--n", "2", "--k", "1,2", "--out", str(tmp_path / "run"), "--workers", "2")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["dataset"]["name"] == "humaneval-plus" and config["command"] == "humaneval"
    assert config["generation"]["identity"]["prompt"]["family"] == "humaneval-plus"
    rows = load_run(tmp_path / "run").rows
    assert [(r.status, r.extra["base_status"]) for r in rows] == [("passed", "passed"), ("failed", "failed")]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pass@k"]["2"] == summary["base_pass@k"]["2"] == 1.0


def test_evalplus_prompts_and_sanitising():
    from coderun import prompts
    from coderun.datasets.evalplus_prompts import INSTRUCTION_PREFIX, RESPONSE_PREFIX, sanitize

    he = datasets.load("humaneval-plus").get("HumanEval/0")
    raw = prompts.get_format("humaneval-plus", prompts.PromptOptions())
    assert raw.build(he).text == he.prompt and "\nassert " in raw.stop
    assert raw.extract(he, "    return True\n\ndef extra():\n    pass").completion == "    return True\n"
    chat = prompts.get_format("humaneval-plus", prompts.PromptOptions(chat=True))
    built = chat.build(he)
    assert built.messages[0]["content"].startswith(INSTRUCTION_PREFIX + "\n```\n" + he.prompt.strip()[:20])
    assert built.messages[-1] == {"role": "assistant", "content": RESPONSE_PREFIX + "\n```python\n"}
    assert built.continue_final_message and built.stop == ("\n```\n",)
    reply = ("import math\n\ndef helper(x):\n    return math.fabs(x)\n\ndef has_close_elements(numbers, threshold):\n"
             "    return any(helper(a - b) < threshold for a in numbers for b in numbers if a is not b)\n\n"
             "def unused():\n    return 0\n\nprint(has_close_elements([1.0], 0.1))\n```\nThis works because ...")
    extracted = chat.extract(he, reply)
    assert extracted.solution == extracted.completion
    assert "def helper" in extracted.solution and "def unused" not in extracted.solution
    assert "print(" not in extracted.solution and extracted.solution.startswith("import math")
    assert sanitize("Here is the code:\ndef f(x):\n    return x\nand more prose") == "def f(x):\n    return x"
    mbpp = datasets.load("mbpp-plus").get("Mbpp/2")
    assert prompts.get_format("mbpp-plus", prompts.PromptOptions()).build(mbpp).text == mbpp.prompt
