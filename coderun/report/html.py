"""`coderun report --html`: one self-contained page (styles, data, plotly.js inline; nothing fetched).

Sections: the runs and their scores with 95% CIs (summary.json's own figures when it exists), pass@k
curves (k = 1..n) and the failure taxonomy drawn with plotly, the comparison against the first run
(differences, p-values, MDE, flips) when several are given, and per problem a passing and a failing
sample. Programs come from the run's samples (DIR/samples.jsonl, or config.json's samples.path) when
they can be found; otherwise the failing reason alone is shown. Every text from a run is escaped.
"""

from __future__ import annotations

import html
import time
from typing import Any

import coderun
from coderun.report import write_text as write  # noqa: F401  (html.write / junit.write)
from coderun import compare as cmp, stats, summary
from coderun.errors import CoderunError
from coderun.records import Status
from coderun.report.console import tier_prefixes
from coderun.report.taxonomy import taxonomy

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False,
               "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}
CODE_CAP = 4000  # characters of a program shown per sample
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem} h3{margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f4f6f8} td.num{text-align:right;white-space:nowrap} .muted{color:#666} .good{color:#137333} .bad{color:#b3261e}
pre{background:#f7f7f7;padding:.5rem;max-height:22rem;overflow:auto;margin:.3rem 0;font-size:12px}
details summary{cursor:pointer;color:#1a4f8b} code{font-size:12px} .warn{color:#8a5300}
ul.flips{columns:3;margin:.3rem 0}
"""


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def pts(value: float, sign: bool = False) -> str:
    """Points (percent units); a value that rounds to zero prints as 0.00, never -0.00."""
    value = 0.0 if round(100 * value, 2) == 0 else 100 * value
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def ci_text(low: float, high: float, sign: bool = False) -> str:
    return f"{pts(low, sign)} – {pts(high, sign)}"


# ---- data --------------------------------------------------------------------------------------------


def run_summary(run: cmp.Run) -> dict[str, Any]:
    """A summary.json for a run without one (a bare results.jsonl), computed as `evaluate` computes it."""
    counts = run.counts()
    ks = summary.resolve_ks(None, {t: n for t, (n, _) in counts.items()}) if counts else []
    return {**summary.summarize(run.rows, ks, len(run.rows), run.dataset or "results"), "complete": None}


def shared_ks(entries: list[cmp.Entry]) -> list[int] | None:
    """The ks every run's summary reports (the comparison shows those), else compare's default."""
    runs = [r for e_ in entries for r in e_.runs]
    common = set.intersection(*(set(map(int, r.summary["pass@k"])) for r in runs))
    fits = min((n for r in runs for n, _ in r.counts().values()), default=0)  # error rows shrink n
    return sorted(k for k in common if k <= fits) or None


def curve(counts: dict[str, tuple[int, int]]) -> tuple[list[int], list[float]]:
    """Mean pass@k over problems for k = 1..(smallest n)."""
    top = min(n for n, _ in counts.values())
    ks = list(range(1, top + 1))
    return ks, [stats.mean_pass_at_k(list(counts.values()), k) for k in ks]


def load_programs(run: cmp.Run) -> tuple[dict[tuple[str, int], str] | None, str]:
    """(task_id, sample_index) -> program text, or None and why not. The run's samples are read with the
    dataset it was scored with (checked by sha256), as `coderun rerank` reads them."""
    from coderun.datasets.base import load_checked
    from coderun.samples import read_samples

    found = run.config.samples_file(run.path) if run.config else None
    if found is None or not found.is_file():
        return None, "the samples file is not available, so only reasons are shown"
    d = run.config.dataset
    try:
        bench = load_checked(d.name, d.sha256, d.source, d.challenge_tests)
        samples = read_samples(found, bench)
    except (CoderunError, OSError, ValueError) as exc:
        return None, f"the samples could not be read ({exc}), so only reasons are shown"
    return {(s.task_id, s.sample_index): s.solution if s.solution is not None else s.completion
            for s in samples}, ""


# ---- sections ----------------------------------------------------------------------------------------


def runs_section(entries: list[cmp.Entry]) -> str:
    ks = sorted({int(k) for e_ in entries for r in e_.runs for k in r.summary["pass@k"]})
    prefixes = [""] + sorted({p for e_ in entries for r in e_.runs for p in tier_prefixes(r.summary)})
    head = "".join(f"<th>{p.replace('_', ' ')}pass@{k}</th><th>95% CI</th>" for p in prefixes for k in ks)
    rows = []
    for entry in entries:
        for run in entry.runs:
            s, data = run.summary, f'data-run="{e(run.label)}"'
            cells = []
            for prefix in prefixes:
                css = "score" if not prefix else f"{prefix}score"
                for k in ks:
                    value = s.get(f"{prefix}pass@k", {}).get(str(k))
                    ci = s.get(f"{prefix}pass@k_ci", {}).get(str(k))
                    cells.append(f'<td class="num {css}" {data} data-k="{k}">{pct(value)}</td>'
                                 f'<td class="num ci" {data} data-k="{k}">{ci_text(ci["low"], ci["high"])}</td>'
                                 if value is not None else "<td></td><td></td>")
            counts = " · ".join(f"{n} {st}" for st, n in s["counts"].items())
            rows.append(f"<tr><td>{e(run.label)}</td><td>{e(run.dataset or 'unknown')}</td>"
                        f'<td class="num problem-count">{s["num_problems"]}</td><td class="num">{s["num_samples"]}</td>'
                        f"{''.join(cells)}<td>{e(counts)}</td></tr>")
    return ("<h2>Scores</h2><p class=muted>pass@k is the unbiased estimator averaged over problems; 95% CIs are "
            "over problems (bootstrap, or Wilson when every problem scores 0 or every problem 1).</p>"
            f"<table id=scores><tr><th>run</th><th>dataset</th><th>problems</th><th>samples</th>{head}"
            f"<th>samples by status</th></tr>{''.join(rows)}</table>")


def _figure_html(fig, first: bool, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=420)
    return fig.to_html(full_html=False, include_plotlyjs=first, div_id=div_id, config=PLOT_CONFIG)


def _plotly():
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise CoderunError("coderun report needs plotly: pip install 'plotly>=5.20'") from None
    return go


def curves_section(entries: list[cmp.Entry]) -> tuple[str, int]:
    go = _plotly()

    by_dataset: dict[str, list[cmp.Run]] = {}
    for entry in entries:
        for run in entry.runs:
            by_dataset.setdefault(run.dataset or "results", []).append(run)
    parts = []
    for i, (name, runs) in enumerate(by_dataset.items()):
        fig = go.Figure()
        for run in (r for r in runs if r.counts()):  # a run with no verdict at all has no curve
            ks, values = curve(run.counts())
            fig.add_trace(go.Scatter(x=ks, y=[100 * v for v in values], mode="lines+markers", name=run.label,
                                     hovertemplate="pass@%{x}: %{y:.2f}%<extra>%{fullData.name}</extra>"))
        top = max((len(t.x) for t in fig.data), default=1)
        fig.update_layout(title=f"pass@k — {name}", xaxis_title="k" + (" (log scale)" if top > 20 else ""),
                          yaxis_title="pass@k (%)", yaxis_range=[0, 100])
        if top > 20:
            fig.update_xaxes(type="log")
        elif top <= 12:
            fig.update_xaxes(dtick=1)
        parts.append(_figure_html(fig, first=i == 0, div_id=f"curve-{i}"))
    return "<h2>pass@k curves</h2>" + "".join(parts), len(parts)


def taxonomy_section(entries: list[cmp.Entry], first_plot: bool) -> str:
    go = _plotly()

    runs = [r for entry in entries for r in entry.runs]
    tallies = [taxonomy(r.rows) for r in runs]
    kinds = sorted({k for t in tallies for k in t}, key=lambda k: -sum(t[k] for t in tallies))
    if not kinds:
        return "<h2>Failure taxonomy</h2><p>No failing sample.</p>"
    fig = go.Figure([go.Bar(name=r.label, y=kinds, x=[t[k] for k in kinds], orientation="h")
                     for r, t in zip(runs, tallies)])
    fig.update_layout(title="Failing samples by kind", barmode="group", xaxis_title="samples",
                      yaxis_autorange="reversed")
    head = "".join(f"<th>{e(r.label)}</th>" for r in runs)
    body = "".join(f"<tr><td>{e(k)}</td>" + "".join(f'<td class="num">{t[k]}</td>' for t in tallies) + "</tr>"
                   for k in kinds)
    return ("<h2>Failure taxonomy</h2><p class=muted>Each failing sample by its reason: syntax error, "
            "assertion, each exception type, timeout, memory, early exit, crash.</p>"
            + _figure_html(fig, first=first_plot, div_id="taxonomy")
            + f"<table id=taxonomy-table><tr><th>kind</th>{head}</tr>{body}</table>")


def comparison_section(comparison: cmp.Comparison) -> str:
    parts = ["<h2 id=comparison>Comparison</h2><p class=muted>Each run against the baseline "
             f"<b>{e(comparison.baseline)}</b> over the problems both scored: the difference of pass@k "
             "(points) with a paired bootstrap 95% CI, a sign-flip permutation p-value Holm-adjusted across "
             "runs × k × datasets, and the minimum detectable difference (80% power, α = 0.05). A flip is a "
             "problem solved (at least one passing sample) by one run and not the other.</p>"]
    parts += [f"<p class=warn>warning: {e(w)}</p>" for w in comparison.warnings]
    for ds in comparison.datasets:
        rows = "".join(
            f"<tr><td>{e(d.run)}</td><td>pass@{d.k}</td><td class='num diff {'good' if d.value > 0 else 'bad'}'>"
            f"{pts(d.value, True)}</td><td class=num>{ci_text(d.low, d.high, True)}</td>"
            f"<td class=num>{d.p_holm:.4f}</td><td class=num>{'n/a' if d.mde is None else pts(d.mde)}"
            f"</td><td class=num>{d.num_problems}</td></tr>" for d in ds.diffs)
        parts.append(f"<h3>{e(ds.dataset)}</h3><table class=diffs><tr><th>run</th><th>metric</th><th>Δ (points)</th>"
                     f"<th>95% CI</th><th>p (Holm)</th><th>MDE</th><th>common problems</th></tr>{rows}</table>")
        for f in ds.flips:
            parts.append(f"<h4>{e(f.run)} vs {e(f.baseline)}: {len(f.gained)} gained, {len(f.lost)} lost</h4>"
                         + _flip_list("gained", f"solved by {f.run} only", f.gained)
                         + _flip_list("lost", f"solved by {f.baseline} only", f.lost))
    return "".join(parts)


def _flip_list(kind: str, title: str, tasks: list[str]) -> str:
    items = "".join(f"<li>{e(t)}</li>" for t in tasks) or "<li class=muted>none</li>"
    return f"<p>{e(title)}:</p><ul class='flips {kind}'>{items}</ul>"


def problems_section(run: cmp.Run) -> tuple[str, str]:
    programs, why = load_programs(run)
    by_task: dict[str, list] = {}
    for r in run.rows:
        by_task.setdefault(r.task_id, []).append(r)
    rows = []
    for task, samples in sorted(by_task.items(), key=lambda item: cmp.natural(item[0])):
        scored = [r for r in samples if r.status != Status.ERROR]
        c = sum(r.passed for r in scored)
        p1 = f"{100 * c / len(scored):.1f}%" if scored else "n/a"
        good = next((r for r in samples if r.passed), None)
        bad = next((r for r in samples if not r.passed), None)
        rows.append(f"<tr><td>{e(task)}</td><td class=num>{c}/{len(scored)}</td><td class=num>{p1}</td>"
                    f"<td>{_sample_cell(good, programs)}</td><td>{_sample_cell(bad, programs)}</td></tr>")
    note = f"<p class=muted>{e(why)}</p>" if why else ""
    table = (f"<h3>{e(run.label)}</h3>{note}<table class=problems><tr><th>problem</th><th>passed</th><th>pass@1</th>"
             f"<th>a passing sample</th><th>a failing sample</th></tr>{''.join(rows)}</table>")
    return table, why


def _sample_cell(row, programs) -> str:
    if row is None:
        return "<span class=muted>none</span>"
    label = f"sample {row.sample_index}" + ("" if row.passed else f" ({row.status}): {row.reason}")
    code = (programs or {}).get((row.task_id, row.sample_index))
    if code is None:
        return e(label)
    shown = code if len(code) <= CODE_CAP else code[:CODE_CAP] + "\n… (cut)"
    return f"<details><summary>{e(label)}</summary><pre><code>{e(shown)}</code></pre></details>"


# ---- the page ----------------------------------------------------------------------------------------


def build_report(paths: list[str], force: bool = False) -> tuple[str, list[str]]:
    entries = [cmp.load_entry(p) for p in paths]
    for run in (r for entry in entries for r in entry.runs):
        if not (run.summary and run.summary.get("pass@k")):
            run.summary = run_summary(run)
    comparison = cmp.compare(entries, 0, ks=shared_ks(entries), force=force) if len(entries) > 1 else None
    warnings = list(comparison.warnings) if comparison else []
    curves, plots = curves_section(entries)
    body = [runs_section(entries), curves, taxonomy_section(entries, first_plot=plots == 0)]
    if comparison:
        body.append(comparison_section(comparison))
    body.append("<h2>Problems</h2>")
    for entry in entries:
        for run in entry.runs:
            table, why = problems_section(run)
            body.append(table)
            if why:
                warnings.append(f"{run.label}: {why}")
    title = "coderun report — " + ", ".join(en.label for en in entries)
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{STYLE}</style></head><body>"
            f"<h1>{e(title)}</h1><p class=muted>coderun {e(coderun.__version__)} · generated "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>{''.join(body)}</body></html>")
    return page, warnings
