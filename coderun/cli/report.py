"""`coderun report`: one self-contained HTML page for one or several runs."""

from __future__ import annotations

import click

from coderun.cli import main


@main.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--html", "html_path", required=True, type=click.Path(dir_okay=False),
              help="Write the page here (self-contained: scripts and plots inline, no network).")
@click.option("--force", is_flag=True, help="Compare runs even if their dataset sha256 or prompt version differ.")
def report_command(runs, html_path, force):
    """Write an HTML report of RUNS: scores with CIs, pass@k curves, failure taxonomy, per-problem samples,
    and, for several runs, the comparison against the first (flips)."""
    from coderun.report.html import build_report, write

    page, warnings = build_report(list(runs), force=force)
    for warning in warnings:
        click.echo(f"coderun: warning: {warning}", err=True)
    write(html_path, page)
    click.echo(f"wrote {html_path}")
