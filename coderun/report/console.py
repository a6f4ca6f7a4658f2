"""Terminal rendering with rich: the live progress bar with verdict counts, the score table, comparisons,
quality gates, and the JSON payloads of --json."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from coderun.records import Status

# Not a terminal (a CI log, a pipe): rich would assume 80 columns and squeeze the tables; use 140 unless
# COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140
out = Console(width=_WIDTH)
console = err = Console(stderr=True, width=_WIDTH)

STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.TIMEOUT: "yellow", Status.ERROR: "magenta"}


def counts_text(counts: Counter, nodes: Counter | None = None) -> str:
    text = "  ".join(f"[{STYLE[s]}]{s} {counts.get(s, 0)}[/]" for s in STYLE)
    if nodes and len(nodes) > 1:  # a Ray run: verdicts per node, to see each node's throughput
        text += "  |  " + "  ".join(f"{node} {n}" for node, n in sorted(nodes.items()))
    return text


class RichProgress:
    """Implements pipeline.Progress: one bar, live pass/fail/timeout/error counts."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.nodes: Counter = Counter()
        self.seen = self.shown = 0
        self.bar: Progress | None = None
        self.task = None

    def start(self, total: int, done: Counter) -> None:
        self.counts = Counter(done)
        self.bar = Progress(TextColumn("executing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[counts]}"), console=console, transient=False)
        self.task = self.bar.add_task("run", total=total, completed=sum(done.values()),
                                      counts=counts_text(self.counts))
        self.bar.start()

    def advance(self, row) -> None:
        self.counts[row.status] += 1
        self.nodes[row.node] += 1
        self.seen += 1
        if self.seen % 32 == 0 or row.status not in (Status.PASSED, Status.FAILED):  # the bar redraws 10x/s anyway
            self.bar.update(self.task, advance=self.seen - self.shown, counts=counts_text(self.counts, self.nodes))
            self.shown = self.seen

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=self.seen - self.shown, counts=counts_text(self.counts, self.nodes))
            self.bar.stop()
            self.bar = None



def tier_prefixes(summary: dict[str, Any]) -> list[str]:
    """"base_" and the like: the tiers a summary scores besides the verdict itself (summary.json's
    "<tier>_pass@k")."""
    return sorted(key[: -len("pass@k")] for key in summary if key.endswith("_pass@k"))


def summary_table(summary: dict[str, Any], title: str = "") -> Table:
    table = Table(title=title or None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI (over problems)", justify="right")
    for prefix in ["", *tier_prefixes(summary)]:  # HumanEval+/MBPP+ add the base tier's pass@k
        for k, value in summary[f"{prefix}pass@k"].items():
            ci = summary[f"{prefix}pass@k_ci"][k]
            label = f"{prefix.replace('_', ' ')}pass@{k}"
            table.add_row(label, f"{100 * value:.2f}%", f"{100 * ci['low']:.2f} – {100 * ci['high']:.2f}")
    counts = summary["counts"]
    table.add_row("problems", str(summary["num_problems"]), "")
    table.add_row("samples", str(summary["num_samples"]), "  ".join(f"{s} {n}" for s, n in counts.items()))
    return table


def print_references(refs: dict[str, Any] | None) -> None:
    """The benchmark's own solutions under the run's limits; a failure is a warning on stderr, by name."""
    if not refs:
        return
    if refs["problems"]:
        out.print(f"reference solutions: {refs['passed']} of {refs['problems']} pass under this run's limits")
    elif refs.get("unchecked"):
        out.print("reference solutions: none (the dataset ships none); limits are the language's")
    if refs.get("unpassable"):
        named = ", ".join(list(refs["unpassable"])[:5]) + (" ..." if len(refs["unpassable"]) > 5 else "")
        err.print(f"[yellow]note[/]: {len(refs['unpassable'])} problems cannot be passed by any program (a fault in "
                  f"the dataset; summary.json says why): {named}")
    known = refs.get("known_bad") or {}
    if known:
        err.print(f"[yellow]note[/]: {len(known)} of the benchmark's own solutions fail as known (faults in the "
                  "dataset's solutions; summary.json says why)")
    unexpected = [t for t in refs["failed"] if t not in known]
    if unexpected:
        shown = ", ".join(unexpected[:10]) + (f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else "")
        err.print(f"[yellow]warning[/]: the benchmark's own solution fails for {shown}: the sandbox image or the "
                  "limits may be deflating every score (scored anyway)")
    if refs.get("failed_inputs"):
        err.print(f"[yellow]warning[/]: the reference solution fails on some inputs of {len(refs['failed_inputs'])} "
                  "problems; those inputs are not judged (summary.json lists them)")


def print_judging(judging: dict[str, Any] | None) -> None:
    """Strict runs: which problems were judged classically, because their tests could not be converted."""
    if not judging or judging.get("mode") != "strict":
        return
    classic = judging.get("classic") or {}
    named = ", ".join(f"{t} ({why})" for t, why in list(classic.items())[:10]) + (
        f" and {len(classic) - 10} more" if len(classic) > 10 else "")
    out.print("judging: strict" + (f"; judged classically, their tests not convertible: {named}" if classic else ""))


def print_outcome(outcome) -> None:
    s = outcome.summary
    out.print(summary_table(s, title=f"{s['dataset']} — {outcome.run_dir}"))
    print_references(s.get("reference_solutions"))
    print_judging(s.get("judging"))
    out.print(f"executed {outcome.executed} programs, reused {outcome.reused} earlier verdicts; "
              f"results in {outcome.run_dir}/results.jsonl")
    if "rerank" in s:
        print_rerank(s["rerank"])
    for note in outcome.notes:
        out.print(f"note: {note}")
    if not s["complete"]:
        out.print("[magenta]incomplete run[/]: harness errors are not counted as answers; run again to retry")


def print_checks(results) -> None:
    table = Table(title="sandbox check")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for name, ok, detail in results:
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAILED[/]", detail)
    out.print(table)


class RerankProgress:
    """A bar per rerank stage (probing candidates in the sandbox, judging them), shown once one starts."""

    def __init__(self) -> None:
        self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "RerankProgress":
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.tasks:
            self.bar.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.tasks:
            self.bar.stop()


def _pct(value, ci=None) -> tuple[str, str]:
    if value is None:
        return "undefined", "(pass@n = pass@1: no gap to close)"
    shown = f"{100 * value:.2f}%"
    if not ci or ci.get("low") is None:
        return shown, ""
    return shown, f"{100 * ci['low']:.2f} – {100 * ci['high']:.2f}"


def print_rerank(block: dict[str, Any], run_dir: str = "") -> None:
    """The rerank block of summary.json: rerank@1 against random (pass@1) and oracle (pass@n) picks."""
    table = Table(title=f"rerank: {block['method']}" + (f" — {run_dir}" if run_dir else ""))
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI (over problems)", justify="right")
    for key, label in (("rerank@1", "rerank@1 (its pick)"), ("pass@1", "pass@1 (a random pick)"),
                       ("pass@n", "pass@n (an oracle's pick)"), ("gap_closed", "gap closed")):
        table.add_row(label, *_pct(block[key], block.get("ci", {}).get(key)))
    cal = block.get("calibration")
    if cal:
        for key in ("auroc", "auroc_within", "brier", "ece"):
            value = cal.get(key)
            table.add_row(f"judge {key.replace('_', ' ')}", "n/a" if value is None else f"{value:.3f}", "")
    stats = block.get("stats", {})
    if "judge_calls" in stats:
        table.add_row("judge calls", str(stats["judge_calls"]), f"{stats.get('judge_seconds', 0):.1f} s")
    out.print(table)
    info = block.get("information", {})
    out.print(f"uses: {info.get('uses', '')}")
    if info.get("leaks_hidden_tests"):
        out.print("[red]leaks[/]: this method ran tests the model was shown, which are the hidden tests")
    for note in [info.get("note")] + block.get("notes", []):
        if note:
            out.print(f"note: {note}")


# ---- comparisons, gates, JSON ----------------------------------------------------------------------------

FLIPS_SHOWN = 40  # a terminal list of flips is cut here; --json and the HTML report have them all


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def pts(value: float | None, sign: bool = False) -> str:
    """Points (percent units); a value that rounds to zero prints as 0.00, never -0.00."""
    if value is None:
        return "n/a"
    value = 0.0 if round(100 * value, 2) == 0 else 100 * value
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def comparison_table(ds) -> Table:
    table = Table(title=f"{ds.dataset}: Δ = run − baseline in points, paired over common problems")
    for name in ("run", "metric", "value (95% CI)", "Δ (95% CI)", "p Holm", "MDE", "problems"):
        table.add_column(name, justify="left" if name in ("run", "metric") else "right",
                         no_wrap=name in ("metric", "p Holm", "MDE"), overflow="fold")
    diffs = {(d.run, d.k): d for d in ds.diffs}
    for s in ds.scores:
        d = diffs.get((s.label, s.k))
        row = [s.label, f"pass@{s.k}", f"{pct(s.value)} ({pts(s.low)}–{pts(s.high)})"]
        if d is None:
            row += ["baseline", "", "", str(s.num_problems)]
        else:
            style = "green" if d.significant and d.value > 0 else "red" if d.significant else ""
            row += [Text(f"{pts(d.value, True)} ({pts(d.low, True)}–{pts(d.high, True)})", style=style),
                    f"{d.p_holm:.4f}", pts(d.mde), f"{d.num_problems}"]
        table.add_row(*row)
    return table


def flips_text(f) -> str:
    def listing(tasks: list[str]) -> str:
        shown = ", ".join(tasks[:FLIPS_SHOWN])
        return shown + (f", … ({len(tasks) - FLIPS_SHOWN} more)" if len(tasks) > FLIPS_SHOWN else "")

    lines = [f"flips {f.run} vs {f.baseline} ({f.common} common problems; solved = at least one passing sample):",
             f"  [green]+{len(f.gained)} solved only by {f.run}[/]: {listing(f.gained) or '—'}",
             f"  [red]−{len(f.lost)} solved only by {f.baseline}[/]: {listing(f.lost) or '—'}"]
    return "\n".join(lines)


def print_comparison(comparison) -> None:
    for warning in comparison.warnings:
        err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    for ds in comparison.datasets:
        out.print(comparison_table(ds))
        for f in ds.flips:
            out.print(flips_text(f), highlight=False)
    out.print("p: two-sided sign-flip permutation test, Holm-adjusted across runs × k × datasets; "
              "MDE: smallest true difference detected with 80% power at α = 0.05.", style="dim")


def gates_table(results) -> Table:
    table = Table(title="quality gates")
    for name in ("gate", "measured", "value (95% CI)", "threshold", "MDE", "p Holm", "result"):
        table.add_column(name, justify="left" if name in ("gate", "measured") else "right",
                         no_wrap=name in ("gate", "threshold", "MDE", "p Holm", "result"), overflow="fold")
    for g in results:
        under = g.gate == "fail-under"
        value = pct(g.value) if under else f"{pts(g.value, True)} pts"
        ci = f" ({pts(g.low, not under)}–{pts(g.high, not under)})" if g.low is not None else ""
        threshold = pct(g.threshold) if under else f"{pts(g.threshold, True)} pts"
        verdict = "[red]TRIPPED[/]" if g.tripped else "[green]ok[/]"
        p = f"{g.p_holm:.4f}" if g.p_holm is not None else ""
        table.add_row(g.gate, g.subject, value + ci, threshold, pts(g.mde), p, verdict)
    return table


def print_gates(results, console: Console | None = None) -> None:
    if not results:
        return
    console = console or out
    console.print(gates_table(results))
    for g in results:
        if g.underpowered and g.gate == "fail-if-regression":
            console.print(f"[yellow]note[/]: {g.subject}: MDE {pts(g.mde)} pts > margin {pts(-g.threshold)} pts; "
                          f"a real regression of the margin would usually not trip this gate", highlight=False)


def print_json(payload: dict[str, Any]) -> None:
    """Plain JSON on stdout (no rich markup, no wrapping), for jq and CI scripts."""
    print(json.dumps(payload, indent=2, ensure_ascii=False))
