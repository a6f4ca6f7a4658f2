"""Generation overhead: coderun's vLLM path against a bare `LLM.generate`, and end to end against generation.

Both paths share one engine in one process (engine start-up, 30-90 s here, is excluded from every figure),
with the same model, prompts (the 164 HumanEval prompts) and parameters (n, temperature 0.8, top-p 0.95,
max tokens, the dataset's stop sequences, sampled-token logprobs). The prefix cache is reset before every
timed run so none starts warm. Runs alternate (bare, coderun, bare, coderun, ...) and the best of each
is compared; tokens/s counts generated tokens.

  bare        llm.generate(prompts, SamplingParams(n=...)) and nothing else
  coderun     generation.run(..., execute=False): prompts built, requests streamed, code extracted,
              samples.jsonl written (the whole run, dataset loading and model fingerprint included)
  end to end  generation.run(...) with the sandbox pool executing as completions arrive (Docker),
              against the coderun generation-only figure

Usage: python benchmarks/bench_generation.py [--model DIR] [--n 20] [--max-tokens 64] [--repeats 2]
Without --model it trains the tiny test model (tests/tiny_model.py) into a temp dir first (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bare(llm, prompts: list[str], args, stop) -> dict:
    from vllm import SamplingParams

    params = SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, stop=list(stop),
                            logprobs=0)
    llm.reset_prefix_cache()
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    tokens = sum(len(o.token_ids) for out in outputs for o in out.outputs)
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}


class Lent:
    """The benchmark's engine lent to coderun's runs, which must not close it (it is measured again)."""

    def __init__(self, inner):
        self.inner, self.name, self.verbatim = inner, inner.name, inner.verbatim

    def generate(self, requests, sampling, adapter=None):
        return self.inner.generate(requests, sampling, adapter)

    def info(self):
        return self.inner.info()

    def close(self) -> None:
        pass


def coderun(engine, model: str, out: Path, args, execute: bool) -> dict:
    from coderun.orchestrate import generate as generation
    from coderun.orchestrate.options import OutputOptions

    opts = generation.GenerateOptions(models=[model], n=args.n, temperature=0.8, max_tokens=args.max_tokens,
                                      output=OutputOptions(out=str(out)), execute=execute, dtype=args.dtype,
                                      gpu_memory_utilization=args.gpu_memory_utilization)
    lent = Lent(engine)
    engine.llm.reset_prefix_cache()
    start = time.perf_counter()
    [outcome] = generation.run(opts, backend_factory=lambda name, options: lent)
    seconds = time.perf_counter() - start
    tokens = sum(json.loads(line)["num_tokens"] for line in (out / "samples.jsonl").read_text().splitlines())
    result = {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}
    if execute:
        result.update(executed=outcome.executed, counts=outcome.summary["counts"], pass_at_1=outcome.summary["pass@k"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model directory [default: train the tiny test model]")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.5)
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the run with execution (no Docker)")
    args = parser.parse_args()

    from coderun import datasets
    from coderun.generate.base import EngineOptions
    from coderun.generate.vllm_backend import VLLMBackend

    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    print(f"work dir: {work}", file=sys.stderr)
    model = args.model
    if model is None:
        from tests.tiny_model import build_tiny_model

        model = str(build_tiny_model(work / "tiny"))
    bench = datasets.load("humaneval")
    prompts = [p.prompt for p in bench.problems]
    started = time.perf_counter()
    engine = VLLMBackend(EngineOptions(model=model, dtype=args.dtype,
                                       gpu_memory_utilization=args.gpu_memory_utilization))
    load = time.perf_counter() - started
    engine.llm.generate(prompts[:4], use_tqdm=False)  # warm-up: first-call compilation out of the figures

    runs = {"bare": [], "coderun": []}
    for i in range(args.repeats):
        runs["bare"].append(bare(engine.llm, prompts, args, bench.stop))
        runs["coderun"].append(coderun(engine, model, work / f"gen-{i}", args, execute=False))
        print(f"repeat {i + 1}: bare {runs['bare'][-1]['tokens_per_s']:.0f} tok/s, "
              f"coderun {runs['coderun'][-1]['tokens_per_s']:.0f} tok/s", file=sys.stderr)
    best = {name: max(r["tokens_per_s"] for r in results) for name, results in runs.items()}
    report = {"machine": {"cpus": _cpus(), "python": platform.python_version(), "vllm": engine.version},
              "params": {"problems": len(prompts), "n": args.n, "max_tokens": args.max_tokens, "temperature": 0.8,
                         "top_p": 0.95, "dtype": args.dtype, "model": model}, "engine_load_s": round(load, 1),
              "runs": runs, "best_tokens_per_s": best, "ratio": best["coderun"] / best["bare"]}
    if not args.no_end_to_end:
        e2e = coderun(engine, model, work / "e2e", args, execute=True)
        gen_only = min(r["seconds"] for r in runs["coderun"])
        report.update(end_to_end=e2e, end_to_end_over_generation=e2e["seconds"] / gen_only)
    engine.close()
    _print(report)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _print(report: dict) -> None:
    best = report["best_tokens_per_s"]
    print(f"bare LLM.generate   {best['bare']:8.0f} tokens/s")
    print(f"coderun (no exec)   {best['coderun']:8.0f} tokens/s   ratio {report['ratio']:.3f} (target >= 0.95)")
    if "end_to_end" in report:
        e2e = report["end_to_end"]
        print(f"end to end          {e2e['seconds']:8.1f} s         = {report['end_to_end_over_generation']:.2f} x "
              f"generation alone ({e2e['executed']} programs executed; CPU host: both share the cores)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
