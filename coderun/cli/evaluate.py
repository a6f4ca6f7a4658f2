"""`coderun evaluate`: score a samples file made anywhere."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.cli.options import dataset_options, execution_options, split_ids
from coderun.cli.outputs import finish_run, gate_ks, output_options, parse_gates
from coderun.cli.rerank import rerank_option, rerank_settings, run_rerank
from coderun.errors import CoderunError


@main.command("evaluate")
@click.argument("samples", type=click.Path())
@dataset_options
@execution_options
@output_options
@rerank_option
def evaluate_command(samples, dataset, dataset_path, from_hub, task_ids, challenge_tests, k_text, out, timeout,
                     workers, memory, provider, ray, fail_under, junit, as_json, rerank_method, **judge):
    """Score SAMPLES (JSONL with task_id and completion or solution, or a generations.json)."""
    from coderun.gates import raise_if_tripped
    from coderun.pipeline import EvaluateOptions, evaluate as run_evaluate
    from coderun.report.console import RichProgress
    from coderun.scoring import parse_ks

    gates = parse_gates(fail_under)  # bad gates and rerank options are exit 2 before anything runs
    rerank = rerank_settings(rerank_method, judge)
    opts = EvaluateOptions(samples=samples, dataset=dataset, dataset_path=dataset_path, from_hub=from_hub,
                           challenge_tests=challenge_tests, task_ids=split_ids(task_ids),
                           k=gate_ks(parse_ks(k_text), gates), out=out, timeout=timeout, workers=workers,
                           provider=provider, memory=memory, ray=ray)
    outcome = run_evaluate(opts, RichProgress())
    if rerank is not None and outcome.summary.get("complete"):
        outcome.summary["rerank"] = run_rerank(outcome.run_dir, rerank, as_json=True, dataset_path=dataset_path)
    results = finish_run(outcome, gates, junit, as_json)  # table or JSON, JUnit, gates
    if not outcome.summary.get("complete"):
        raise CoderunError(f"the run is incomplete ({outcome.summary['counts']['error']} harness errors, "
                           f"{outcome.summary['missing']} missing); run the same command again to retry them")
    raise_if_tripped(results)
