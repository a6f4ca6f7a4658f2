"""Generation end to end on a real vLLM engine (CPU build) with a tiny model trained in the session.

The tiny model (tests/tiny_model.py) has memorised HumanEval/0, /2 and /4: greedy decoding must solve
exactly those. One engine serves the in-process tests; the CLI tests run `coderun` as a user does, in
subprocesses that start their own engine (30-50 s each); one vLLM OpenAI-compatible server serves the
openai backend's tests. Several engines share the machine, so each reserves a small share of memory.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from coderun import datasets
from coderun.datasets.humaneval import STOP_SEQUENCES
from coderun.errors import InputError
from tests.conftest import ENGINE, Lent, coderun, processes_left, session_processes
from tests.tiny_model import MEMORISED, build_adapter

CLI_ENGINE = ["--dtype", "float32", "--gpu-memory-utilization", "0.1", "--enforce-eager"]
DEFAULT_ENGINE = CLI_ENGINE[:-1]  # torch.compile, as users run it: one test keeps it
MAX_TOKENS = 64  # the longest memorised solution (HumanEval/0) is 54 tokens


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def passed_tasks(run: Path) -> set[str]:
    return {r["task_id"] for r in jsonl(run / "results.jsonl") if r["passed"]}


# ---- fixtures ----------------------------------------------------------------------------------------------

def lend(engine):
    """The session's engine for in-process runs (they must not close it), and a factory handing it out."""
    lent = Lent(engine)
    return lent, lambda name, options: lent


def options(tiny_model, out: Path, **kw):
    from coderun.orchestrate.generate import GenerateOptions
    from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions

    execution = ExecutionOptions(**{k: kw.pop(k) for k in ("timeout", "workers", "provider", "memory") if k in kw})
    output = OutputOptions(out=str(out), k=kw.pop("k", None))
    base = dict(dataset=DatasetSelection("humaneval"), models=[str(tiny_model)], max_tokens=MAX_TOKENS, **ENGINE)
    return GenerateOptions(**{**base, **kw}, execution=execution, output=output)


# ---- the engine, in process --------------------------------------------------------------------------------

@pytest.mark.vllm
@pytest.mark.slow
def test_logprobs_and_stops_from_the_engine(engine):
    from coderun import datasets
    from coderun.generate.base import Request, Sampling

    bench = datasets.load("humaneval")
    requests = [Request(p.task_id, 3, text=p.prompt, stop=STOP_SEQUENCES) for p in bench.problems[:8]]
    got = list(engine.generate(requests, Sampling(n=3, temperature=0.8, top_p=0.95, max_tokens=MAX_TOKENS)))
    assert sorted(r.task_id for r, _ in got) == sorted(r.task_id for r in requests)
    for request, completions in got:
        assert len(completions) == 3
        for c in completions:
            assert len(c.token_logprobs) == c.num_tokens > 0
            assert c.cumulative_logprob == pytest.approx(sum(c.token_logprobs), abs=1e-4)
            assert not any(s in c.text for s in STOP_SEQUENCES)


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_greedy_solves_exactly_the_memorised_problems(engine, tiny_model, tmp_path):
    from coderun.orchestrate import generate as generation

    out = tmp_path / "greedy"
    [outcome] = generation.run(options(tiny_model, out, n=1), backend_factory=lend(engine)[1])
    assert outcome.summary["num_samples"] == 164 and outcome.summary["complete"]
    assert passed_tasks(out) == set(MEMORISED)
    stops = STOP_SEQUENCES
    for row in jsonl(out / "samples.jsonl"):
        assert not any(s in row["completion"] or s in row["raw_completion"] for s in stops), row["task_id"]
        assert row["cumulative_logprob"] == pytest.approx(row["mean_logprob"] * row["num_tokens"], abs=1e-3)
    config = json.loads((out / "config.json").read_text())
    assert config["generation"]["identity"]["sampling"]["temperature"] == 0.0
    assert config["generation"]["identity"]["model"]["sha256"]


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_interrupted_run_resumes_without_regenerating(engine, tiny_model, tmp_path):
    from coderun.orchestrate import generate as generation

    out, (shared, factory) = tmp_path / "resume", lend(engine)
    opts = options(tiny_model, out, n=3, limit=20, temperature=0.8)
    generation.run(opts, backend_factory=factory)
    samples, results = (out / "samples.jsonl").read_bytes(), (out / "results.jsonl").read_bytes()
    kept = b"".join(samples.splitlines(keepends=True)[:25])
    (out / "samples.jsonl").write_bytes(kept + b'{"task_id": "HumanEval/8", "sampl')  # killed mid-write
    (out / "results.jsonl").write_bytes(b"".join(results.splitlines(keepends=True)[:10]))

    shared.requests = 0
    [outcome] = generation.run(opts, backend_factory=factory)
    assert outcome.generated == 60 - 25 and shared.requests == 20 - 25 // 3
    assert (out / "samples.jsonl").read_bytes().startswith(kept)
    assert len(jsonl(out / "results.jsonl")) == 60 and outcome.summary["complete"]

    shared.requests = 0
    [again] = generation.run(opts, backend_factory=factory)  # finished: no generator, nothing executed
    assert (again.generated, again.executed, again.engine_started, shared.requests) == (0, 0, False, 0)

    [rescored] = generation.run(options(tiny_model, out, n=3, limit=20, temperature=0.8, k=[1, 3]),
                                backend_factory=factory)
    assert rescored.executed == 0 and set(rescored.summary["pass@k"]) == {"1", "3"}
    [reexecuted] = generation.run(options(tiny_model, out, n=3, limit=20, temperature=0.8, timeout=2.0),
                                  backend_factory=factory)
    assert reexecuted.generated == 0 and reexecuted.executed > 0 and reexecuted.summary["complete"]

    with pytest.raises(InputError, match=r"sampling.temperature 0.8 -> 0.2.*--overwrite"):
        generation.run(options(tiny_model, out, n=3, limit=20, temperature=0.2), backend_factory=factory)
    [fresh] = generation.run(options(tiny_model, out, n=3, limit=20, temperature=0.2, overwrite=True),
                             backend_factory=factory)
    assert fresh.generated == 60 and shared.requests == 20


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_chat_through_the_engine_and_two_models_on_one_warm_pool(engine, tiny_model, tmp_path):
    from coderun import prompts
    from coderun.orchestrate import generate as generation

    twin = tmp_path / "twin"
    twin.symlink_to(tiny_model, target_is_directory=True)  # a second "checkpoint" (the same weights)
    chat = prompts.PromptOptions(chat=True, system_prompt="You write Python.", response_prefix="```python\n",
                                 chat_template_kwargs={"enable_thinking": False})
    lent, factory = lend(engine)
    outcomes = generation.run(options(tiny_model, tmp_path / "runs", models=[str(tiny_model), str(twin)], limit=3,
                                      n=2, temperature=0.5, max_tokens=16, prompt=chat), backend_factory=factory)
    assert [Path(o.run_dir).name for o in outcomes] == ["model", "twin"]
    assert all(o.summary["num_samples"] == 6 and o.summary["complete"] for o in outcomes) and lent.requests == 6
    sandboxes = [{r["sandbox"] for r in jsonl(Path(o.run_dir) / "results.jsonl")} for o in outcomes]
    assert sandboxes[0] & sandboxes[1]  # the second model's programs ran in the same warm containers
    config = json.loads((Path(outcomes[0].run_dir) / "config.json").read_text())
    assert config["generation"]["identity"]["prompt"]["chat"] is True


# ---- the command line, as users run it ---------------------------------------------------------------------

@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_cli_humaneval_end_to_end_then_rerun_starts_no_engine(tiny_model, tmp_path):
    out = tmp_path / "he"
    cmd = ["humaneval", "--model", str(tiny_model), "--n", "4", "--k", "1,2", "--max-tokens", str(MAX_TOKENS),
           "--out", str(out), *DEFAULT_ENGINE]
    first = coderun(*cmd)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = jsonl(out / "results.jsonl")
    assert len(rows) == 656 and len(jsonl(out / "samples.jsonl")) == 656
    assert Counter(r["task_id"] for r in rows) == {f"HumanEval/{i}": 4 for i in range(164)}
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["pass@k"]) == {"1", "2"} and summary["complete"]
    assert passed_tasks(out) <= set(MEMORISED) and passed_tasks(out)
    config = json.loads((out / "config.json").read_text())["generation"]
    assert config["engine"]["enforce_eager"] is False and "enforce_eager" not in config["backend_info"]["engine"]

    started = time.monotonic()
    again = coderun(*cmd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "no generator was started" in " ".join(again.stdout.split())  # rich wraps lines
    assert time.monotonic() - started < 30  # no engine: an engine alone takes 30 s or more here
    assert json.loads((out / "summary.json").read_text())["pass@k"] == summary["pass@k"]


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_cli_mbpp_limit(tiny_model, tmp_path):
    out = tmp_path / "mbpp"
    result = coderun("mbpp", "--model", str(tiny_model), "--limit", "20", "--n", "2", "--max-tokens", "48",
                     "--out", str(out), "--json", *CLI_ENGINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["num_samples"] == 40  # stdout holds the JSON alone (vLLM logs to stderr)
    rows = jsonl(out / "results.jsonl")
    assert len(rows) == 40 and {r["task_id"] for r in rows} == {str(i) for i in range(11, 31)}
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "mbpp" and config["generation"]["identity"]["prompt"]["style"] == "3shot"
    assert config["generation"]["engine"]["enforce_eager"] is True  # --enforce-eager reached the engine
    assert config["generation"]["backend_info"]["engine"]["enforce_eager"] is True
    assert all("[DONE]" not in r["completion"] for r in jsonl(out / "samples.jsonl"))


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_cli_lora_gives_a_run_directory_per_adapter(tiny_model, tmp_path):
    adapter = build_adapter(tiny_model, tmp_path / "tiny-lora")
    out = tmp_path / "lora"
    result = coderun("humaneval", "--model", str(tiny_model), "--lora", str(adapter), "--limit", "5",
                     "--max-tokens", "32", "--out", str(out), *CLI_ENGINE)
    assert result.returncode == 0, result.stderr[-3000:]
    base, tuned = jsonl(out / "base" / "samples.jsonl"), jsonl(out / "tiny-lora" / "samples.jsonl")
    assert len(base) == len(tuned) == 5
    assert all(r["adapter"] == "tiny-lora" for r in tuned) and all("adapter" not in r for r in base)
    assert [r["raw_completion"] for r in base] != [r["raw_completion"] for r in tuned]
    for run in ("base", "tiny-lora"):
        assert json.loads((out / run / "summary.json").read_text())["num_samples"] == 5
    config = json.loads((out / "tiny-lora" / "config.json").read_text())
    assert config["generation"]["identity"]["adapter"]["name"] == "tiny-lora"


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_cli_openai_backend_against_a_vllm_server(server, tiny_model, tmp_path):
    out = tmp_path / "openai"
    result = coderun("humaneval", "--backend", "openai", "--base-url", server, "--model", str(tiny_model),
                     "--limit", "8", "--n", "2", "--temperature", "0", "--max-tokens", str(MAX_TOKENS),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert passed_tasks(out) == set(MEMORISED)
    samples = jsonl(out / "samples.jsonl")
    assert len(samples) == 16 and all(r["cumulative_logprob"] is not None for r in samples)


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_openai_chat_endpoint_runs_through(server, tiny_model, tmp_path):
    from coderun import prompts
    from coderun.orchestrate import generate as generation

    out = tmp_path / "chat"
    chat = prompts.PromptOptions(chat=True, system_prompt="You write Python.", response_prefix="```python\n")
    [outcome] = generation.run(options(tiny_model, out, backend="openai", base_url=server, limit=3, n=2,
                                       temperature=0.5, max_tokens=24, prompt=chat))
    assert outcome.summary["num_samples"] == 6 and outcome.summary["complete"]
    assert all(r["raw_completion"] is not None for r in jsonl(out / "samples.jsonl"))


# ---- bad input: one line, exit 2, no engine ----------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["humaneval", "--model", "/nonexistent/model"], "--model /nonexistent/model: no such model directory"),
    (["humaneval", "--model", "{repo}"], "not a model directory (no config.json)"),
    (["mbpp", "--model", "x/y", "--chat", "--chat-template-kwargs", "{bad"], "is not valid JSON"),
    (["mbpp", "--model", "x/y", "--chat", "--chat-template-kwargs", "[1]"], "must be a JSON object"),
    (["humaneval", "--model", "x/y", "--system-prompt", "hi"], "need --chat"),
    (["humaneval", "--model", "x/y", "--no-base"], "--no-base needs at least one --lora"),
    (["humaneval", "--model", "x/y", "--lora", "{repo}"], "not a LoRA adapter directory"),
    (["humaneval", "--model", "x/y", "--n", "4", "--k", "5"], "--k 5 is larger than the 4 samples"),
    (["humaneval", "--backend", "openai", "--model", "m"], "needs --base-url"),
    (["humaneval", "--backend", "samples"], "needs --samples FILE"),
    (["humaneval", "--model", "x/y", "--task-ids", "HumanEval/999"], "unknown task id"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    repo = str(Path(__file__).resolve().parents[1])
    result = coderun(*[a.replace("{repo}", repo) for a in args], "--out", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.docker
def test_samples_backend_scores_completions_made_elsewhere(tmp_path):
    from tests.conftest import EXAMPLE_SAMPLES

    out = tmp_path / "samples"
    result = coderun("humaneval", "--backend", "samples", "--samples", str(EXAMPLE_SAMPLES),
                     "--task-ids", "HumanEval/1,HumanEval/11,HumanEval/13",
                     "--n", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = jsonl(out / "samples.jsonl")
    assert len(rows) == 6 and len(jsonl(out / "results.jsonl")) == 6
    evaluated = coderun("evaluate", str(out / "samples.jsonl"), "--out", str(tmp_path / "eval"))
    assert evaluated.returncode == 0, evaluated.stderr
    verdicts = [[(r["task_id"], r["sample_index"], r["status"]) for r in jsonl(run / "results.jsonl")]
                for run in (out, tmp_path / "eval")]
    assert verdicts[0] == verdicts[1]


def test_openai_backend_retries_and_falls_back_to_single_completions():
    """A flaky server on loopback: 429 (Retry-After 0) first, then it refuses n > 1; every answer arrives."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from coderun.generate.base import EngineOptions, Request, Sampling, create

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if len(seen) == 1:
                return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
            if body["n"] > 1:
                return self._send(400, {"error": {"message": "'n' must be 1 for this model"}})
            choice = {"index": 0, "text": "    return 1\n\ndef x", "finish_reason": "stop",
                      "logprobs": {"token_logprobs": [-0.5, -0.25]}}
            self._send(200, {"choices": [choice]})

        def _send(self, status, payload, headers=None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = create("openai", EngineOptions(model="m", base_url=f"http://127.0.0.1:{server.server_port}/v1",
                                                 concurrency=2))
        requests = [Request("A", 3, text="def f():\n", stop=("\ndef ",)), Request("B", 3, text="def g():\n")]
        got = list(backend.generate(requests, Sampling(n=3, temperature=0.8, top_p=0.95, max_tokens=8)))
    finally:
        server.shutdown()
    assert sorted(r.task_id for r, _ in got) == ["A", "B"] and all(len(c) == 3 for _, c in got)
    a = dict((r.task_id, c) for r, c in got)["A"][0]
    assert a.text == "    return 1\n" and a.cumulative_logprob == -0.75 and a.num_tokens == 2
    assert backend.retries >= 1 and not backend.n_supported


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_sigterm_shuts_down_like_ctrl_c(tiny_model, tmp_path):
    """What a CI cancel or `docker stop` sends: the vLLM engine's processes and the sandboxes are gone, the
    recorded completions kept, exit 1 with one line. (SIGHUP takes the same path: tests/test_cli.py.)"""
    signum = signal.SIGTERM
    import docker

    from coderun.execute.docker_provider import OWNER_LABEL

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "coderun", "humaneval", "--model", str(tiny_model), "--n", "4", "--temperature", "0.8",
           "--max-tokens", str(MAX_TOKENS), *CLI_ENGINE, "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "samples.jsonl").exists() and (out / "samples.jsonl").stat().st_size > 0:
            break  # the engine is generating and the sandbox pool is executing
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    assert any(name.startswith("VLLM") for name in session_processes(proc.pid))  # the engine runs in children
    owner = docker.from_env().containers.list(filters={"label": OWNER_LABEL})
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1, stderr
    assert f"coderun: terminated ({signal.Signals(signum).name})" in stderr and "Traceback" not in stderr
    assert processes_left(proc.pid) == []  # no engine process, no judge, nothing of the run
    ours = [c for c in owner if c.labels.get(OWNER_LABEL, "").endswith(f":{proc.pid}")]
    alive = {c.id for c in docker.from_env().containers.list(all=True, filters={"label": OWNER_LABEL})}
    assert ours and not {c.id for c in ours} & alive  # its sandboxes were there, and are gone
    assert len(jsonl(out / "samples.jsonl")) > 0  # what was generated is kept for the resume


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_cli_humaneval_in_another_language_end_to_end(tiny_model, tmp_path):
    """`coderun humaneval --language js` generates with MultiPL-E's prompts and stop tokens, runs the programs in
    the js sandbox image and scores them: every row a verdict, none a harness error."""
    out = tmp_path / "js"
    result = coderun("humaneval", "--language", "js", "--model", str(tiny_model), "--limit", "3", "--n", "2",
                     "--max-tokens", "32", "--out", str(out), "--json", *CLI_ENGINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["num_samples"] == 6
    _check_language_run(out, "js", 6)


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_generation_in_a_compiled_language_through_the_engine(engine, tiny_model, tmp_path):
    """The same for C++ (a build step, then the run), on the session's engine."""
    from coderun.orchestrate import generate as generation
    from coderun.orchestrate.options import DatasetSelection

    out = tmp_path / "cpp"
    [outcome] = generation.run(options(tiny_model, out, dataset=DatasetSelection("multipl-e-humaneval-cpp"), n=2,
                                       limit=3), backend_factory=lend(engine)[1])
    assert outcome.summary["num_samples"] == 6
    rows = _check_language_run(out, "cpp", 6)
    assert all([s["step"] for s in r["steps"]][0] == "compile" for r in rows)


@pytest.mark.vllm
@pytest.mark.docker
@pytest.mark.slow
def test_generation_for_mbxp_prompts_with_the_suites_prompt_and_checks_its_references(engine, tiny_model, tmp_path):
    """`coderun mbpp --language java` (MBXP) on the session's engine: the suite's prompt, completions that keep
    the function's closing line, verdicts from the java sandbox, and the run's check of the references."""
    from coderun.cli.generate import dataset_for
    from coderun.orchestrate import generate as generation
    from coderun.orchestrate.options import DatasetSelection

    name = dataset_for("mbpp", "language-java")
    out = tmp_path / "mbxp"
    [outcome] = generation.run(options(tiny_model, out, dataset=DatasetSelection(name), n=2, limit=3),
                               backend_factory=lend(engine)[1])
    summary = outcome.summary
    assert name == "mbxp-java" and summary["num_samples"] == 6
    rows = jsonl(out / "results.jsonl")
    assert {r["status"] for r in rows} <= {"passed", "failed", "timeout"}
    assert all(r["task_id"].startswith("MBJP/") and r["steps"][0]["step"] == "compile" for r in rows)
    refs = summary["reference_solutions"]
    assert refs["problems"] == 3 and refs["passed"] + len(refs["failed"]) == 3


def _check_language_run(out: Path, language: str, count: int) -> list[dict]:
    rows = jsonl(out / "results.jsonl")
    assert len(rows) == count and {r["status"] for r in rows} <= {"passed", "failed", "timeout"}
    assert all(r["task_id"].startswith("HumanEval_") for r in rows)
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["name"] == f"multipl-e-humaneval-{language}"
    assert config["execution"]["sandbox"]["language"] == language and config["execution"]["sandbox"]["toolchain"]
    stops = set(datasets.load(f"multipl-e-humaneval-{language}").problems[0].extra["stop_tokens"])
    assert all(not any(s in r["completion"] for s in stops) for r in jsonl(out / "samples.jsonl"))
    return rows
