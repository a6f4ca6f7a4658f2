"""Terminal rendering (rich) of a comparison and of quality gates; JSON payloads for --json."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Not a terminal (a CI log, a pipe): rich would assume 80 columns and squeeze the tables; use 140 unless
# COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)
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
