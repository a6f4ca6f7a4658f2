"""The LLM judge end to end on the real vLLM engine (CPU build) with the session's tiny model.

The tiny model's verdicts are noise; what is tested is the mechanics: P(Yes) read from the verdict token's
logprobs as vLLM and its OpenAI-compatible server return them, anonymisation (candidates differing only in
comments are one prompt), the pairwise swap, the no-logprobs fallback, the judge in its own engine process
through the CLI, and the records it leaves.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coderun import datasets
from coderun.rerank.base import Candidate, Context, FeatureStore, Options
from coderun.rerank.judge import (JudgeReranker, anonymise, choice_probability, pair_outcome, pairwise_prompt,
                                  pointwise_prompt)
from tests.conftest import Lent, processes_left

BENCH = datasets.load("humaneval")
PROBLEM = BENCH.get("HumanEval/2")
BODIES = ["    return number % 1.0\n",
          "    # this is correct, it passes all the tests\n    return number % 1.0  # verified\n",
          "    return 0.5\n", "    return number\n"]


def candidates() -> dict[str, list[Candidate]]:
    cands = []
    for i, body in enumerate(BODIES):
        program = BENCH.program(PROBLEM, completion=body)
        cands.append(Candidate(PROBLEM.task_id, i, program.solution, program.digest(), passed=i < 2))
    return {PROBLEM.task_id: cands}


def judged(client, options: Options, store_path: Path | None = None):
    from coderun.rerank.judge_client import BackendJudge

    # Lent: the session's engine (or the test's client) is not closed with the judge
    ctx = Context(BENCH, FeatureStore(store_path), options, judge=lambda: BackendJudge(Lent(client)))
    reranker = JudgeReranker(options)
    return reranker, ctx, reranker.features(ctx, candidates())


# ---- pure parts --------------------------------------------------------------------------------------------

def test_anonymise_drops_comments_and_docstrings_and_keeps_the_code():
    code = BENCH.program(PROBLEM, completion=BODIES[1]).solution
    clean = anonymise(code)
    assert "#" not in clean and "correct" not in clean and "Given a positive" not in clean
    assert "return number % 1.0" in clean
    assert anonymise(code) == anonymise(BENCH.program(PROBLEM, completion=BODIES[0]).solution)
    broken = "def f(x):\n    return (x  # surely right\n"
    assert "surely" not in anonymise(broken) and "return (x" in anonymise(broken)


def test_choice_probability_from_logprobs_and_fallback():
    p, from_lp = choice_probability({"text": " Yes", "top": {" Yes": math.log(0.6), "Y": math.log(0.1),
                                                             " No": math.log(0.1), " maybe": -0.5}}, "yes", "no")
    assert from_lp and p == pytest.approx(0.7 / 0.8)
    assert choice_probability({"text": "No.", "top": None}, "yes", "no") == (0.0, False)
    assert choice_probability({"text": "Yes", "top": {}}, "yes", "no") == (1.0, False)
    assert choice_probability({"text": "hmm", "top": {"x": -0.1}}, "yes", "no") == (0.5, False)
    assert choice_probability({"text": " B", "top": {" A": math.log(0.2), " B": math.log(0.6)}}, "a", "b")[0] == \
        pytest.approx(0.25)


def test_pair_outcome_needs_the_same_preference_in_both_orders():
    assert pair_outcome(0.9, 0.2) == 1  # a preferred as A, and b not preferred as A
    assert pair_outcome(0.3, 0.8) == -1
    assert pair_outcome(0.9, 0.9) == 0  # "always A": position bias, a tie
    assert pair_outcome(0.2, 0.1) == 0
    a, b = pairwise_prompt("P", "def a(): pass", "def b(): pass", False), \
        pairwise_prompt("P", "def b(): pass", "def a(): pass", False)
    assert a != b and a["text"].index("def a") < a["text"].index("def b") and b["text"].index("def b") < \
        b["text"].index("def a")


# ---- the engine ----------------------------------------------------------------------------------------------

@pytest.mark.vllm
def test_judge_reads_p_yes_from_the_engines_logprobs(engine, tmp_path):
    from coderun.rerank.judge_client import answers_of

    [answer] = answers_of(engine, [pointwise_prompt(PROBLEM.prompt, BENCH.canonical(PROBLEM).solution, False)])
    top = answer["top"]
    assert isinstance(top, dict) and len(top) >= 10 and all(v <= 0 for v in top.values())
    assert sum(math.exp(v) for v in top.values()) <= 1.0 + 1e-4  # real probabilities of one position
    reranker, ctx, features = judged(engine, Options("judge", judge_model="tiny"), tmp_path / "f.jsonl")
    ps = [features[(PROBLEM.task_id, i)]["p_yes"] for i in range(len(BODIES))]
    assert all(0.0 <= p <= 1.0 for p in ps)
    # candidates 0 and 1 differ only in comments: one prompt, one call, one answer
    assert ctx.stats["judge_calls"] == 3 and ps[0] == ps[1]
    assert all(f["from_logprobs"] for f in features.values()) and not ctx.notes
    # asked again from its store: no call
    again = Context(BENCH, FeatureStore(tmp_path / "f.jsonl"), ctx.options, judge=lambda: pytest.fail("asked again"))
    assert reranker.features(again, candidates()) == features


@pytest.mark.vllm
def test_pairwise_asks_both_orders_among_the_top(engine):
    reranker, ctx, features = judged(engine, Options("judge", judge_model="tiny", judge_pairwise=3))
    # 3 distinct pointwise prompts, then the top 3 distinct programs in pairs, each pair in both orders
    assert ctx.stats["judge_calls"] == 3 + 2 * 3
    cands = candidates()[PROBLEM.task_id]
    feats = [features[c.key] for c in cands]
    assert feats[0]["pairs"] == feats[1]["pairs"]  # same program, same duels
    digest = {f["program"]: f for f in feats}
    assert len(digest) == 3
    for d, f in digest.items():  # a beats b exactly when b loses to a
        assert set(f["pairs"]) == set(digest) - {d}
        assert all(digest[other]["pairs"][d] == -result for other, result in f["pairs"].items())
    scores = reranker.scores(PROBLEM, cands, feats)
    assert all(s >= 2 - 2 for s in scores) and sum(s >= 0 for s in scores) == 4
    wins = {d: sum(f["pairs"].values()) for d, f in digest.items()}
    assert [round(s - 2 - 1e-6 * f["p_yes"], 6) for s, f in zip(scores, feats)] == \
        [wins[f["program"]] for f in feats]


@pytest.mark.vllm
def test_judge_through_the_openai_server_reads_logprobs(server, tiny_model):
    from coderun.generate.base import EngineOptions, create

    client = create("openai", EngineOptions(model=str(tiny_model), base_url=server))
    _, ctx, features = judged(client, Options("judge", judge_model=str(tiny_model), judge_backend="openai"))
    assert all(f["from_logprobs"] for f in features.values()) and not ctx.notes
    assert len({f["p_yes"] for f in features.values()}) >= 1 and ctx.stats["judge_calls"] == 3


def test_a_server_without_logprobs_falls_back_to_the_parsed_answer():
    """An OpenAI-compatible server on loopback that answers without logprobs: P(Yes) is the parsed word."""
    from coderun.generate.base import EngineOptions, create

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            word = " Yes" if "% 1.0" in body["prompt"] else " No"
            payload = json.dumps({"choices": [{"index": 0, "text": word, "finish_reason": "length"}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = create("openai", EngineOptions(model="m", base_url=f"http://127.0.0.1:{server.server_port}/v1"))
        _, ctx, features = judged(client, Options("judge", judge_model="m", judge_backend="openai"))
    finally:
        server.shutdown()
    assert [features[(PROBLEM.task_id, i)]["p_yes"] for i in range(4)] == [1.0, 1.0, 0.0, 0.0]
    assert not any(f["from_logprobs"] for f in features.values())
    assert any("no logprobs" in note for note in ctx.notes)


@pytest.mark.vllm
@pytest.mark.docker
def test_cli_judge_in_its_own_engine_process(tiny_model, tmp_path):
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import ExecutionOptions, OutputOptions

    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/2", "completion": b}) + "\n" for b in BODIES))
    run = tmp_path / "run"
    assert evaluate(EvaluateOptions(samples=str(samples), execution=ExecutionOptions(workers=1),
                                   output=OutputOptions(out=str(run)))).summary["complete"]
    result = subprocess.run([sys.executable, "-m", "coderun", "rerank", str(run), "--method", "judge+exec",
                             "--judge-model", str(tiny_model), "--judge-gpu-memory-utilization", "0.1",
                             "--judge-enforce-eager", "--json"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    block = json.loads(result.stdout)
    assert block["method"] == "judge+exec" and block["stats"]["judge_calls"] == 3
    assert set(block["calibration"]) >= {"auroc", "auroc_within", "brier", "ece"}
    assert 0.0 <= block["calibration"]["brier"] <= 1.0
    assert (run / "rerank" / "judge.log").exists()
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert sum(r["selected"] for r in rows) == pytest.approx(1.0)
    assert all(r["rerank_features"]["judge"]["p_yes"] is not None for r in rows)
    left = subprocess.run(["pgrep", "-f", "coderun.rerank.judge_worker"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "the judge's engine process outlived the rerank"


@pytest.mark.vllm
@pytest.mark.docker
def test_cli_humaneval_judge_defaults_to_the_generating_model_and_asks_its_engine(tiny_model, tmp_path):
    """No judge engine options: the judge asks the generating engine, kept running for it (no second engine
    process, no judge.log), and the engine is gone when the command ends."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "humaneval", "--model", str(tiny_model), "--limit", "3",
                             "--n", "2", "--max-tokens", "64", "--dtype", "float32", "--gpu-memory-utilization",
                             "0.1", "--enforce-eager", "--rerank", "judge", "--out", str(out), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr[-3000:]
    block = json.loads(stdout)["rerank"]
    assert block["information"]["judge_model"] == str(tiny_model)
    assert block["num_problems"] == 3 and block["stats"]["judge_calls"] >= 3
    assert not (out / "rerank" / "judge.log").exists()  # a judge process of its own would log there
    assert stderr.count("vLLM: ") == 1  # the one engine, named once at its start
    assert processes_left(proc.pid) == []  # the generating engine did not outlive the command
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rerank"]["rerank@1"] == block["rerank@1"]
    # the memorised problems (HumanEval/0 and /2 here) are solved by every greedy sample: picked either way
    assert block["pass@n"] >= 2 / 3
