"""The Python API (coderun.evaluate / generate / compare / Run) and the RL reward (coderun.Reward,
coderun.compute_score): the same numbers as the CLI, on real sandboxes, and TRL's real calling convention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

import pytest

import coderun
from coderun.errors import InputError
from tests.conftest import EXAMPLE_SAMPLES, coderun as cli

REPO = Path(__file__).resolve().parents[1]
TRL_VERSION = "1.16.0"  # the release the GRPOTrainer test ran with (pip download trl --no-deps)


def statuses(run: Path) -> dict[tuple[str, int], str]:
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    return {(r["task_id"], r["sample_index"]): r["status"] for r in rows}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def expected(status: str) -> float:
    return 1.0 if status == "passed" else 0.0


# ---- import and input checks (no sandbox) ---------------------------------------------------------------


def test_import_coderun_is_light():
    code = ("import coderun, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'numpy','docker','rich','datasets','vllm'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_api_names_and_the_modules_of_the_same_name():
    """coderun.compare and coderun.generate are modules too: callable, and still the modules."""
    from coderun import api, compare as cmp

    assert callable(coderun.compare) and callable(coderun.generate)
    assert cmp.load_entry and coderun.compare.compare is cmp.compare
    import coderun.generate.base as gen_base

    assert "samples" in gen_base.backend_names() and callable(coderun.generate)
    assert coderun.evaluate is api.evaluate and coderun.Run is api.Run
    assert coderun.Reward.__module__ == "coderun.reward" and callable(coderun.compute_score)


@pytest.mark.parametrize("call, message", [
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), k="x"), "--k takes comma-separated integers"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), memory="lots"), "--memory takes a size"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), dataset="nope"), "unknown dataset 'nope'"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), timeout=-1), "timeout is CPU seconds"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), workers=0), "workers must be a positive integer"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), provider="nope"), "unknown sandbox provider"),
    (lambda: coderun.evaluate(str(EXAMPLE_SAMPLES), k=[1.5]), "k takes integers"),
    (lambda: coderun.evaluate({"task_id": "HumanEval/0"}), "a path or an iterable of dicts"),
    (lambda: coderun.evaluate([]), "no samples given"),
    (lambda: coderun.evaluate([1]), "samples item 1: expected a dict"),
    (lambda: coderun.evaluate([{"task_id": "HumanEval/0", "completion": object()}]), "samples item 1: not JSON"),
    (lambda: coderun.compare(str(EXAMPLE_SAMPLES)), "at least two runs"),
    (lambda: coderun.Run.open("no/such/run"), "run directory not found"),
    (lambda: coderun.generate("humaneval", models="m", nonsense=1), "unknown option 'nonsense'"),
    (lambda: coderun.Reward("nope"), "unknown dataset 'nope'"),
    (lambda: coderun.Reward(timeout=None), "fixed timeout"),
    (lambda: coderun.Reward(plus_fraction=True), "plus_fraction needs HumanEval+ or MBPP+"),
    (lambda: coderun.Reward()(["    return 1\n"]), "needs each completion's task_id"),
    (lambda: coderun.Reward()(["    return 1\n"], task_id=["HumanEval/999"]), "unknown task id"),
    (lambda: coderun.Reward()(["a", "b"], task_id=["HumanEval/0"]), "2 completions but 1 task ids"),
    (lambda: coderun.Reward()([7], task_id="HumanEval/0"), "a string or a list of chat messages"),
    (lambda: coderun.Reward()([[{"role": "user", "content": "x"}]], task_id="HumanEval/0"), "no assistant message"),
    (lambda: coderun.compute_score(data_sources=["humaneval"], solution_strs=["a", "b"], ground_truths=["HumanEval/0"]),
     "2 solutions, 1 data sources, 1 ground truths"),
    (lambda: coderun.compute_score(solution_str="    return 1\n"), "compute_score needs data_source"),
])
def test_bad_input_is_an_input_error_before_anything_runs(tmp_path, monkeypatch, call, message):
    monkeypatch.chdir(tmp_path)  # the dict samples' default run directory lands here, if anywhere
    with pytest.raises(InputError, match=message.replace("+", r"\+").replace("(", r"\(")):
        call()


def test_reward_of_a_verdict_maps_harness_errors_to_none():
    from coderun.execute.base import Verdict
    from coderun.records import Status
    from coderun.reward import verdict_reward

    assert [verdict_reward(Verdict(s).status) for s in Status] == [1.0, 0.0, 0.0, None]
    assert verdict_reward(Status.ERROR, fraction=0.9) is None and verdict_reward(Status.FAILED, 0.25) == 0.25


def test_tier_rewards_never_score_a_harness_error_as_zero(tmp_path, monkeypatch):
    """HumanEval+: a tier without a verdict gives None; a failed base tier is a real 0 whatever the plus tier."""
    from coderun import datasets
    from coderun.execute.base import Verdict
    from coderun.execute.service import _fold
    from coderun.records import Status
    from coderun.reward import Reward

    bench = datasets.load("humaneval-plus")
    program = bench.canonical(bench.get("HumanEval/0"))

    def reward(base, plus, plus_fraction):
        scorer = Reward.__new__(Reward)
        scorer.plus_fraction = plus_fraction
        return scorer._reward(_fold(program, [base, plus]))

    def v(status, passed=0, inputs=10):
        return Verdict(status, extra={"inputs": inputs, "inputs_passed": passed})

    ok, error = v(Status.PASSED, 10), Verdict(Status.ERROR, reason="the runner vanished")
    assert reward(ok, error, plus_fraction=False) is None
    assert reward(ok, error, plus_fraction=True) is None
    assert reward(v(Status.FAILED, 3), error, plus_fraction=False) == 0.0
    assert reward(ok, v(Status.FAILED, 5), plus_fraction=True) == 0.75
    assert reward(ok, ok, plus_fraction=False) == 1.0


class _ErringSandbox:
    """Answers every job with a harness error, as a runner that lost its child would."""

    name = "erring"

    def __init__(self):
        self.answers: deque = deque()

    def start(self):
        return {"ready": True}

    def send(self, message):
        if "id" in message:
            self.answers.append({"id": message["id"], "status": "error", "reason": "the runner lost its child"})

    def receive(self, timeout):
        return self.answers.popleft()

    def close(self):
        pass


class ErringProvider:
    isolates = False

    def __init__(self, **options):
        self.sandboxes = 0

    def prepare(self):
        return {"provider": "erring", "fingerprint": "erring"}

    def sandbox(self, index):
        self.sandboxes += 1
        return _ErringSandbox()

    def healthy(self):
        return True

    def close(self):
        pass


def test_a_harness_error_through_the_real_pool_is_none_not_zero(monkeypatch):
    """The real SandboxPool (retry in a fresh sandbox included) behind a provider whose runner always errs."""
    from coderun.execute import base

    monkeypatch.setitem(base.PROVIDER_MODULES, "erring", __name__)
    monkeypatch.setitem(base.PROVIDERS, "erring", ErringProvider)
    with coderun.Reward("humaneval", provider="erring", workers=1) as reward:
        assert reward(["    return True\n", "    return False\n"], task_id="HumanEval/0") == [None, None]
        # each tried again in a fresh sandbox before giving up: both samples, and the reference solution's check
        assert reward.pool_stats["retried"] == 3


# ---- evaluate, Run, compare, generate against the CLI (real sandboxes) ------------------------------------


@pytest.fixture(scope="module")
def cli_slice(tmp_path_factory) -> Path:
    """`coderun evaluate` on the example slice with --timeout 1, as a user runs it."""
    run = tmp_path_factory.mktemp("cli") / "run"
    result = cli("evaluate", str(EXAMPLE_SAMPLES), "--timeout", "1", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.mark.docker
def test_evaluate_gives_the_cli_numbers(cli_slice, tmp_path):
    run = coderun.evaluate(EXAMPLE_SAMPLES, timeout=1, out=tmp_path / "api")
    cli_summary = json.loads((cli_slice / "summary.json").read_text())
    assert run.pass_at_k == {int(k): v for k, v in cli_summary["pass@k"].items()} and set(run.pass_at_k) == {1, 10}
    assert statuses(run.dir) == statuses(cli_slice)
    assert run.complete and run.base_pass_at_k is None and run.outcome.executed > 0
    assert [(r.task_id, r.sample_index, r.status) for r in run.rows] == \
        [(k[0], k[1], s) for k, s in statuses(cli_slice).items()]
    assert run.config.execution.settings["timeout"] == 1 and run.config.dataset.name == "humaneval"
    again = coderun.evaluate(str(EXAMPLE_SAMPLES), timeout=1, out=tmp_path / "api")  # resumes: nothing runs
    assert again.outcome.executed == 0 and again.pass_at_k == run.pass_at_k


@pytest.mark.docker
def test_a_list_of_dicts_open_and_compare(cli_slice, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    samples = read_jsonl(EXAMPLE_SAMPLES)
    run = coderun.evaluate(iter(samples), "humaneval", timeout=1, k=[1, 5])
    assert run.dir.parent == Path("runs") and run.dir.name.startswith("python-") and run.dir.name.endswith("-humaneval")
    assert read_jsonl(run.dir / "samples.jsonl") == samples  # the run directory holds its samples
    assert statuses(run.dir) == statuses(cli_slice) and set(run.pass_at_k) == {1, 5}
    assert coderun.evaluate(samples, timeout=1, k=[1, 5]).dir == run.dir  # same dicts, same directory: reused

    opened = coderun.Run.open(run.dir)
    assert opened.summary == json.loads((run.dir / "summary.json").read_text())
    assert opened.pass_at_k == run.pass_at_k and len(opened.rows) == 200 and opened.config.samples_path
    comparison = coderun.compare(cli_slice, opened, k=1)
    [dataset] = comparison.datasets
    assert dataset.dataset == "humaneval" and dataset.diffs[0].value == 0 and comparison.baseline == str(cli_slice)
    assert coderun.compare(cli_slice, run, baseline=run).baseline == str(run.dir)

    with pytest.raises(InputError, match="unknown task id 'HumanEval/999'"):
        coderun.evaluate([{"task_id": "HumanEval/999", "completion": "    return 1\n"}], out=tmp_path / "bad")


@pytest.mark.docker
def test_generate_from_a_samples_file_matches_evaluate(cli_slice, tmp_path):
    [run] = coderun.generate("humaneval", backend="samples", samples=EXAMPLE_SAMPLES, n=20, timeout=1,
                             task_ids=["HumanEval/1", "HumanEval/3"], out=tmp_path / "gen", k=1)
    assert run.config.generated and run.complete
    cli_rows = statuses(cli_slice)
    assert statuses(run.dir) == {key: s for key, s in cli_rows.items() if key[0] in ("HumanEval/1", "HumanEval/3")}


@pytest.mark.docker
@pytest.mark.vllm
@pytest.mark.slow
def test_generate_with_vllm(tiny_model, tmp_path):
    """The tiny model has memorised HumanEval/0 and /2 (greedy), not /1."""
    [run] = coderun.generate("humaneval", models=str(tiny_model), task_ids="HumanEval/0,HumanEval/1,HumanEval/2",
                             timeout=2, workers=1, out=tmp_path / "gen", dtype="float32", gpu_memory_utilization=0.1,
                             enforce_eager=True)
    by_task = {r.task_id: r.status for r in run.rows}
    assert by_task == {"HumanEval/0": "passed", "HumanEval/1": "failed", "HumanEval/2": "passed"}
    assert run.pass_at_k == {1: pytest.approx(2 / 3)}


# ---- Reward against the CLI (real sandboxes) -------------------------------------------------------------


@pytest.fixture(scope="module")
def reward():
    with coderun.Reward("humaneval", timeout=1.0) as r:
        yield r


def canonical_and_wrong(bench, task_ids: list[str]) -> list[dict]:
    """Real completions: each problem's canonical body, a wrong answer, and another problem's canonical body."""
    rows = []
    for i, task in enumerate(task_ids):
        other = bench.get(task_ids[(i + 1) % len(task_ids)]).canonical_solution
        rows += [{"task_id": task, "completion": c}
                 for c in (bench.get(task).canonical_solution, "    return None\n", other)]
    return rows


@pytest.mark.docker
def test_rewards_equal_the_cli_verdicts(reward, humaneval, tmp_path):
    """Reward is strict by default: its values are `coderun evaluate --strict`'s verdicts on the same samples."""
    strict_slice = cli("evaluate", str(EXAMPLE_SAMPLES), "--timeout", "1", "--strict", "--out", str(tmp_path / "sl"))
    assert strict_slice.returncode == 0, strict_slice.stderr
    slice_rows = read_jsonl(EXAMPLE_SAMPLES)
    got = reward([r["completion"] for r in slice_rows], task_id=[r["task_id"] for r in slice_rows])
    assert got == [expected(s) for s in statuses(tmp_path / "sl").values()]
    assert reward.stats["pools_started"] == 1

    executor, replaced = reward._executor, reward.pool_stats["replaced"]
    tasks = [f"HumanEval/{i}" for i in range(12)]
    hack = "    class E:\n        def __eq__(self, other):\n            return True\n    return E()\n"
    rows = canonical_and_wrong(humaneval, tasks) + [{"task_id": "HumanEval/13", "completion": hack}]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    result = cli("evaluate", str(samples), "--timeout", "1", "--strict", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    got = reward([r["completion"] for r in rows], task_id=[r["task_id"] for r in rows])
    assert got == [expected(s) for s in statuses(tmp_path / "run").values()]
    assert got[0:-1:3] == [1.0] * 12 and got[1::3] == [0.0] * 12
    assert got[-1] == 0.0  # an always-equal object passes classic judging, never a strict reward
    # The second call ran on the warm pool: no pool entered, no sandbox started or replaced.
    assert reward.stats["pools_started"] == 1 and reward._executor is executor
    assert reward.pool_stats["replaced"] == replaced


@pytest.mark.docker
def test_chat_messages_and_trls_exact_call(reward, humaneval):
    """GRPOTrainer._calculate_rewards: reward_func(prompts=, completions=, completion_ids=, **reward_kwargs), the
    kwargs holding every dataset column plus trainer_state, log_extra, log_metric; conversational completions
    are lists of message dicts."""
    p0, p2 = humaneval.get("HumanEval/0"), humaneval.get("HumanEval/2")
    good = f"Sure:\n```python\n{p0.prompt}{p0.canonical_solution}```\nThat is all."
    bad = "<think>hmm</think>\n```python\ndef truncate_number(number: float) -> float:\n    return number\n```"
    completions = [[{"role": "assistant", "content": good}], [{"role": "assistant", "content": bad}],
                   [{"role": "assistant", "content": [{"type": "text", "text": good}]}]]
    prompts = [[{"role": "user", "content": p.prompt}] for p in (p0, p2, p0)]
    kwargs = {"task_id": ["HumanEval/0", "HumanEval/2", "HumanEval/0"], "entry_point": ["a", "b", "a"],
              "trainer_state": object(), "log_extra": lambda *a, **k: None, "log_metric": lambda *a, **k: None}
    assert reward(prompts=prompts, completions=completions, completion_ids=[[1, 2]] * 3, **kwargs) == [1.0, 0.0, 1.0]
    # completion models: the dataset prompt as the prompt, the body as the completion (scored as `completion`)
    assert reward(prompts=[p0.prompt] * 2, completions=[p0.canonical_solution, "    return False\n"],
                  completion_ids=[[1]] * 2, task_id=["HumanEval/0"] * 2, trainer_state=None) == [1.0, 0.0]
    assert getattr(reward, "__name__", type(reward).__name__) == "coderun_reward"  # what TRL names it


@pytest.mark.docker
def test_two_threads_at_once(reward, humaneval):
    tasks = [f"HumanEval/{i}" for i in range(20, 30)]
    rows = canonical_and_wrong(humaneval, tasks)
    completions, ids = [r["completion"] for r in rows], [r["task_id"] for r in rows]
    alone = reward(completions, task_id=ids)
    barrier, results = threading.Barrier(2), {}

    def call(name, order):
        barrier.wait()
        results[name] = reward([completions[i] for i in order], task_id=[ids[i] for i in order])

    orders = {"forward": list(range(len(rows))), "backward": list(reversed(range(len(rows))))}
    threads = [threading.Thread(target=call, args=item) for item in orders.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results["forward"] == alone and results["backward"] == alone[::-1]


@pytest.mark.docker
def test_plus_rewards_equal_the_cli_verdicts(tmp_path):
    from coderun import datasets

    bench = datasets.load("humaneval-plus")
    rows = canonical_and_wrong(bench, ["HumanEval/0", "HumanEval/2"])
    rows.append({"task_id": "HumanEval/0", "completion": "    return len(numbers) > 3\n"})  # passes some inputs
    result = cli("evaluate", str(write_jsonl(tmp_path / "s.jsonl", rows)), "--dataset", "humaneval-plus",
                 "--timeout", "2", "--plus-details", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    recorded = read_jsonl(tmp_path / "run" / "results.jsonl")
    completions, ids = [r["completion"] for r in rows], [r["task_id"] for r in rows]
    with coderun.Reward("humaneval-plus", timeout=2.0, workers=2) as reward:
        assert reward(completions, task_id=ids) == [expected(r["status"]) for r in recorded]
    with coderun.Reward("humaneval-plus", timeout=2.0, workers=2, plus_fraction=True) as reward:
        fractions = reward(completions, task_id=ids)
    assert fractions == [(r["base_inputs_passed"] + r["plus_inputs_passed"]) / (r["base_inputs"] + r["plus_inputs"])
                         for r in recorded]
    assert fractions[0] == 1.0 and 0 < fractions[-1] < 1


@pytest.mark.docker
def test_compute_score_for_verl(humaneval, monkeypatch):
    from coderun import reward as reward_lib

    monkeypatch.setenv("CODERUN_REWARD_WORKERS", "1")
    p0 = humaneval.get("HumanEval/0")
    try:
        assert coderun.compute_score(data_source="humaneval", solution_str=p0.canonical_solution,
                                     ground_truth="HumanEval/0", extra_info={"split": "train", "index": 0}) == 1.0
        assert coderun.compute_score("humaneval", "    return False\n", "HumanEval/0", None, return_dict=False) == 0.0
        # verl's batch reward manager: the plural keywords, a list back
        assert coderun.compute_score(data_sources=["humaneval", "humaneval"], solution_strs=[
            "    return False\n", p0.canonical_solution], ground_truths=["HumanEval/0"] * 2,
            extra_infos=[None, None]) == [0.0, 1.0]
        assert reward_lib._rewards["humaneval"].execution.workers == 1
        assert reward_lib._rewards["humaneval"].stats["pools_started"] == 1
    finally:
        reward_lib._close_all()


# ---- TRL: one real GRPOTrainer step ---------------------------------------------------------------------


GRPO_STEP = '''
import json, sys
from datasets import Dataset
from transformers import AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

import coderun
from coderun import datasets

model_dir, out_dir = sys.argv[1], sys.argv[2]
bench = datasets.load("humaneval")
rows = [{"prompt": bench.get(t).prompt, "task_id": t} for t in ("HumanEval/0", "HumanEval/1")]
args = GRPOConfig(output_dir=out_dir, per_device_train_batch_size=8, num_generations=4, max_completion_length=160,
                  max_steps=1, learning_rate=1e-4, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                  bf16=False, fp16=False, seed=0, temperature=0.7, dataloader_num_workers=0)
with coderun.Reward("humaneval", timeout=2.0, workers=1) as reward:
    trainer = GRPOTrainer(model=model_dir, reward_funcs=[reward], args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=AutoTokenizer.from_pretrained(model_dir))
    trainer.train()
    print("RESULT " + json.dumps({"log": trainer.state.log_history, "stats": dict(reward.stats)}))
'''


@pytest.fixture(scope="session")
def trl_python(tmp_path_factory) -> str:
    """A Python that imports TRL. TRL is installed with --no-deps into a venv of its own that sees this
    environment's packages, so vLLM's CPU build keeps its torch and transformers whatever TRL's metadata says."""
    probe = subprocess.run([sys.executable, "-c", "import trl"], capture_output=True)
    if probe.returncode == 0:
        return sys.executable
    venv = tmp_path_factory.mktemp("trl-venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", f"trl=={TRL_VERSION}"],
                             capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        pytest.fail(f"pip install trl=={TRL_VERSION} failed: {install.stderr[-2000:]}")
    return python


@pytest.mark.docker
@pytest.mark.vllm  # the tiny model needs torch and transformers, which vLLM's CPU build brings
@pytest.mark.slow
def test_one_grpo_step_with_the_reward(trl_python, tiny_model, tmp_path):
    """A real GRPOTrainer step on CPU: 2 prompts x 4 generations scored by coderun.Reward. The tiny model has
    memorised HumanEval/0, not HumanEval/1, so the batch's rewards are mixed."""
    script = tmp_path / "grpo_step.py"
    script.write_text(GRPO_STEP)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([trl_python, str(script), str(tiny_model), str(tmp_path / "out")], capture_output=True,
                            text=True, timeout=900, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    [line] = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))
    step = out["log"][0]
    assert out["stats"] == {"calls": 1, "completions": 8, "pools_started": 1}
    assert 0 < step["rewards/coderun_reward/mean"] < 1  # HumanEval/0's answers pass, HumanEval/1's do not


# ---- docs/api.md ------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_the_examples_of_docs_api_run(tmp_path, monkeypatch):
    """Every Python example of docs/api.md runs as written, except those that need a model, TRL or verl."""
    import re

    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    text = (REPO / "docs" / "api.md").read_text()
    blocks = [b for _, b in re.findall(r"^(`{3,4})python\n(.*?)^\1\s*$", text, re.S | re.M)]
    needs_more = ("MODEL", "hub-id", "GRPOTrainer", "my_reward")
    runnable = [b for b in blocks if not any(word in b for word in needs_more)]
    assert len(runnable) >= 5
    for i, block in enumerate(runnable):
        exec(compile(block, f"docs/api.md example {i}", "exec"), {"__name__": "docs_example"})
