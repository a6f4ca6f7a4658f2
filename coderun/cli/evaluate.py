"""`coderun evaluate`: score a samples file made anywhere."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.cli.options import dataset_choice, dataset_options, dataset_source_options, execution_options
from coderun.cli.outputs import check_evalplus_results, finish_run, output_options, parse_gates, with_gate_ks
from coderun.cli.rerank import rerank_option, rerank_settings, run_rerank
from coderun.errors import CoderunError


@main.command("evaluate")
@click.argument("samples", type=click.Path())
@dataset_choice
@dataset_options
@dataset_source_options
@execution_options
@output_options
@rerank_option
def evaluate_command(samples, dataset, fail_under, junit, as_json, evalplus_results, **kw):
    """Score SAMPLES (JSONL with task_id and completion or solution, or a generations.json)."""
    from coderun import api
    from coderun.gates import raise_if_tripped
    from coderun.report.console import RichProgress

    gates = parse_gates(fail_under)  # bad gates and rerank options are exit 2 before anything runs
    rerank = rerank_settings(kw)
    opts = api.evaluation_options(
        samples, dataset, k=kw.pop("k_text"), out=kw.pop("out"), timeout=kw.pop("timeout"), workers=kw.pop("workers"),
        memory=kw.pop("memory"), provider=kw.pop("provider"), dataset_path=kw.pop("dataset_path"),
        task_ids=kw.pop("task_ids"), plus_details=kw.pop("all_inputs"), from_hub=kw.pop("from_hub"),
        challenge_tests=kw.pop("challenge_tests"), ray=kw.pop("ray"), strict=kw.pop("strict"))
    opts.output.k = with_gate_ks(opts.output.k, gates)
    check_evalplus_results(evalplus_results, opts.dataset)
    outcome = api.run_evaluation(opts, RichProgress()).outcome
    if rerank is not None and outcome.summary.get("complete"):
        outcome.summary["rerank"] = run_rerank(outcome.run_dir, rerank, as_json=True, dataset_path=opts.dataset.path)
    results = finish_run(outcome, gates, junit, as_json, evalplus_results)  # table or JSON, JUnit, gates
    if not outcome.summary.get("complete"):
        raise CoderunError(f"the run is incomplete ({outcome.summary['counts']['error']} harness errors, "
                           f"{outcome.summary['missing']} missing); run the same command again to retry them")
    raise_if_tripped(results)

