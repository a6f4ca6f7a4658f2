"""`judge+exec`: execution first, the judge among what execution cannot tell apart.

Candidates are ranked by examples matched (as `exec`), then by their output cluster's judge-weighted size
(the sum of its members' P(Yes): agreement counts more when the judge believes the agreeing candidates),
then by their own P(Yes), which splits a cluster whose members behave alike on the examples.
"""

from __future__ import annotations

from collections import defaultdict

from coderun.rerank.base import Reranker, register
from coderun.rerank.execution import ExecReranker, signature
from coderun.rerank.judge import JudgeReranker


@register("judge+exec")
class JudgeExecReranker(Reranker):
    def __init__(self, options):
        super().__init__(options)
        self.exec, self.judge = ExecReranker(options), JudgeReranker(options)

    def information(self, bench) -> dict:
        e, j = self.exec.information(bench), self.judge.information(bench)
        return {**e, "uses": f"{e['uses']}; {j['uses']}", "judge_model": j["judge_model"]}

    def features(self, ctx, candidates):
        e, j = self.exec.features(ctx, candidates), self.judge.features(ctx, candidates)
        return {key: {"exec": e.get(key), "judge": j.get(key)} for key in e}

    def scores(self, problem, candidates, features):
        n = len(candidates)
        p = [(f.get("judge") or {}).get("p_yes") or 0.0 for f in features]
        sigs = [signature(f.get("exec")) for f in features]
        weight = defaultdict(float)
        for s, pi in zip(sigs, p):
            if s is not None:
                weight[s] += pi
        out = []
        for f, s, pi in zip(features, sigs, p):
            matched = ((f.get("exec") or {}).get("ok") or "").count("1")
            cluster = weight[s] if s is not None else pi
            out.append(matched + cluster / (n + 1) + pi / (n + 1) ** 2)
        return out

    def calibration(self, features):
        return self.judge.calibration((features or {}).get("judge"))
