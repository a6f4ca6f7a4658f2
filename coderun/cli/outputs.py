"""--fail-under, --junit, --json and --mlflow for the commands that finish a run (evaluate; humaneval/mbpp too).

`output_options` adds the options; the gates' ks join an explicit --k before the run (the commands'
`with_gate_ks`), so they are validated (exit 2) before anything executes; `finish_run` prints the table or
the JSON, writes the JUnit file, evaluates the gates and, with --mlflow (kept in the click context,
cli/track.py), logs the run to MLflow. The caller then raises for an incomplete run (exit 1) before
`gates.raise_if_tripped` (exit 3).
"""

from __future__ import annotations

import click

from coderun.cli.track import log_run_if_wanted, mlflow_option


def output_options(f):
    f = mlflow_option(f)
    f = click.option("--evalplus-results", "evalplus_results", type=click.Path(dir_okay=False),
                     help="HumanEval+/MBPP+: also write EvalPlus's eval_results.json shape to this file.")(f)
    f = click.option("--json", "as_json", is_flag=True,
                     help="Print the summary (and gates) as JSON on stdout instead of the table.")(f)
    f = click.option("--junit", "junit", type=click.Path(dir_okay=False),
                     help="Write JUnit XML: one testcase per problem, one per gate.")(f)
    f = click.option("--fail-under", "fail_under", multiple=True, metavar="pass@K=X",
                     help="Exit 3 when pass@K's point estimate is below X (a fraction). Repeatable.")(f)
    return f


def parse_gates(fail_under: tuple[str, ...]) -> list:
    from coderun.gates import parse_fail_under

    return [parse_fail_under(text) for text in fail_under]


def with_gate_ks(ks: list[int] | None, gates: list) -> list[int] | None:
    """The gates' ks join an explicit --k, so they are validated (exit 2) before anything runs."""
    return sorted(set(ks) | {g.k for g in gates}) if ks and gates else ks


def check_evalplus_results(path: str | None, dataset) -> None:
    """--evalplus-results on a dataset without base and plus tiers is exit 2, before anything runs."""
    if path and not dataset.load().score_tiers:
        from coderun.errors import InputError

        raise InputError(f"--evalplus-results needs a HumanEval+ or MBPP+ dataset, not {dataset.name}")


def finish_run(outcome, gates: list, junit: str | None, as_json: bool, evalplus_results: str | None = None) -> list:
    """Render the outcome, write JUnit (and EvalPlus's results file), evaluate the gates; returns the gate
    results (raises nothing tripped)."""
    from coderun import gates as gate_lib
    from coderun.records import load_run
    from coderun.report import junit as junit_xml
    from coderun.report.console import print_gates, print_json
    from coderun.report.console import print_outcome

    run = load_run(outcome.run_dir) if (gates or junit or evalplus_results) else None
    if evalplus_results:
        from coderun.datasets import load_checked
        from coderun.report import evalplus_results as evalplus_file

        d = run.config.dataset
        evalplus_file.write(evalplus_results, run, load_checked(d.name, d.sha256, d.source, d.challenge_tests))
    complete = bool(outcome.summary.get("complete"))  # an incomplete run exits 1 and is not gated
    results = [gate_lib.check_fail_under(list(run.counts().values()), g) for g in gates] if complete else []
    if junit:
        junit_xml.write(junit, junit_xml.evaluation_xml(run.rows, outcome.summary.get("dataset", "coderun"), results))
    if as_json:
        print_json({**outcome.summary, "run_dir": outcome.run_dir, "notes": outcome.notes,
                    "gates": [r.to_dict() for r in results]})
    else:
        print_outcome(outcome)
        print_gates(results)
        if gates and not complete:
            click.echo("quality gates not evaluated: the run is incomplete", err=True)
    log_run_if_wanted(outcome.run_dir)  # --mlflow: one warning line at worst, never the result
    return results
