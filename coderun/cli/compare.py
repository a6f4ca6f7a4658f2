"""`coderun compare`: runs against a baseline, with paired statistics, flips and a regression gate."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.cli.track import mlflow_option, quietly, wanted


@main.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--baseline", metavar="RUN", help="The run the others are compared with [default: the first RUN].")
@click.option("--k", "k_text", help="pass@k values, e.g. 1,10 [default: 1, 10, 100 where every run allows].")
@click.option("--force", is_flag=True, help="Compare runs even if their dataset sha256 or prompt version differ.")
@click.option("--fail-if-regression", "margin", metavar="M",
              help="Exit 3 when a run is below the baseline by more than M (a fraction, 0.02 = 2 points) "
                   "and significantly so (Holm-adjusted p < 0.05).")
@click.option("--junit", type=click.Path(dir_okay=False),
              help="Write JUnit XML: one testcase per common problem (failed = lost against the baseline).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of tables.")
@mlflow_option
def compare_command(runs, baseline, k_text, force, margin, junit, as_json):
    """Compare RUNS (run directories, directories of runs per dataset, or results.jsonl files).

    Each run against the baseline, per dataset and k: the difference of pass@k with a paired bootstrap
    CI over common problems, a sign-flip permutation p-value (Holm-adjusted), the minimum detectable
    difference, and the problems one solves and the other does not.
    """
    from coderun import compare as lib, gates
    from coderun.errors import InputError
    from coderun.report import junit as junit_xml
    from coderun.report.console import print_comparison, print_gates, print_json
    from coderun.summary import parse_ks

    margin_value = gates.parse_margin(margin) if margin is not None else None
    paths, index = with_baseline(list(runs), baseline)
    if len(paths) < 2:
        raise InputError("compare needs at least two runs")
    entries = [lib.load_entry(p) for p in paths]
    comparison = lib.compare(entries, baseline=index, ks=parse_ks(k_text), force=force)
    results = gates.check_regression(comparison.all_diffs(), margin_value) if margin_value is not None else []
    if junit:
        by_label = {run.label: run for e in entries for run in e.runs}
        junit_xml.write(junit, junit_xml.comparison_xml(comparison, by_label, results))
    report = {**comparison.to_dict(), "gates": [r.to_dict() for r in results]}
    if as_json:
        print_json(report)
    else:
        print_comparison(comparison)
        print_gates(results)
    if wanted():  # --mlflow: one MLflow run for the comparison; a failure to log only warns
        from coderun import tracking

        quietly("the comparison", tracking.log_comparison, report, paths, later="")
    gates.raise_if_tripped(results)


def with_baseline(paths: list[str], baseline: str | None) -> tuple[list[str], int]:
    """The runs and the baseline's index; a --baseline not among RUNS joins them first."""
    if baseline is None:
        return paths, 0
    from pathlib import Path

    same = [i for i, p in enumerate(paths) if Path(p).resolve() == Path(baseline).resolve()]
    if same:
        return paths, same[0]
    return [baseline, *paths], 0
