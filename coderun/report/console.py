"""Terminal rendering with rich: a live progress bar with verdict counts, then the score table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=True)
out = Console()

STYLE = {"passed": "green", "failed": "red", "timeout": "yellow", "error": "magenta"}


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
        if self.seen % 32 == 0 or row.status not in ("passed", "failed"):  # the bar redraws 10x/s anyway
            self.bar.update(self.task, advance=self.seen - self.shown, counts=counts_text(self.counts, self.nodes))
            self.shown = self.seen

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=self.seen - self.shown, counts=counts_text(self.counts, self.nodes))
            self.bar.stop()
            self.bar = None



def summary_table(summary: dict[str, Any], title: str = "") -> Table:
    table = Table(title=title or None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI (over problems)", justify="right")
    for k, value in summary["pass@k"].items():
        ci = summary["pass@k_ci"][k]
        table.add_row(f"pass@{k}", f"{100 * value:.2f}%", f"{100 * ci['low']:.2f} – {100 * ci['high']:.2f}")
    counts = summary["counts"]
    table.add_row("problems", str(summary["num_problems"]), "")
    table.add_row("samples", str(summary["num_samples"]), "  ".join(f"{s} {n}" for s, n in counts.items()))
    return table


def print_outcome(outcome) -> None:
    s = outcome.summary
    out.print(summary_table(s, title=f"{s['dataset']} — {outcome.run_dir}"))
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
