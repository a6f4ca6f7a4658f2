"""`logprob`: the candidate the generator found likeliest per token (a baseline every paper reports)."""

from __future__ import annotations

import math

from coderun.rerank.base import Reranker, register


@register("logprob")
class LogprobReranker(Reranker):
    languages = ("*",)

    def information(self, bench) -> dict:
        return {"uses": "the generator's mean token logprob (samples' mean_logprob)",
                "leaks_hidden_tests": False}

    def features(self, ctx, candidates):
        out = {}
        missing = 0
        for cands in candidates.values():
            for c in cands:
                out[c.key] = {"mean_logprob": c.mean_logprob}
                missing += c.mean_logprob is None
        if missing:
            ctx.notes.append(f"{missing} candidates have no mean_logprob; they rank last (ties among them)")
        return out

    def scores(self, problem, candidates, features):
        return [f["mean_logprob"] if f.get("mean_logprob") is not None and math.isfinite(f["mean_logprob"])
                else float("nan") for f in features]
