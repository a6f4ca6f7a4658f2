"""`coderun evaluate`: score a samples file made anywhere."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.cli.options import dataset_options, execution_options, split_ids
from coderun.errors import CoderunError


@main.command("evaluate")
@click.argument("samples", type=click.Path())
@dataset_options
@execution_options
def evaluate_command(samples, dataset, dataset_path, from_hub, task_ids, challenge_tests, k_text, out, timeout,
                     workers, memory, provider):
    """Score SAMPLES (JSONL with task_id and completion or solution, or a generations.json)."""
    from coderun.pipeline import EvaluateOptions, evaluate as run_evaluate
    from coderun.report.console import RichProgress, print_outcome
    from coderun.scoring import parse_ks

    opts = EvaluateOptions(samples=samples, dataset=dataset, dataset_path=dataset_path, from_hub=from_hub,
                           challenge_tests=challenge_tests, task_ids=split_ids(task_ids), k=parse_ks(k_text),
                           out=out, timeout=timeout, workers=workers, provider=provider, memory=memory)
    outcome = run_evaluate(opts, RichProgress())
    print_outcome(outcome)
    if not outcome.summary.get("complete"):
        raise CoderunError(f"the run is incomplete ({outcome.summary['counts']['error']} harness errors, "
                           f"{outcome.summary['missing']} missing); run the same command again to retry them")
