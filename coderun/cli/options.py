"""Options shared by several commands, each declared once.

Each `*_options` decorator adds one part's flags; the commands hand them to the Python API (coderun/api.py),
which builds the library's option objects (orchestrate/options.py). Choices come from the registries
(datasets, sandbox providers), so a new dataset or provider needs no edit here.
"""

from __future__ import annotations

import click

from coderun.datasets.base import dataset_names
from coderun.execute.base import provider_names


def _apply(f, options):
    for option in reversed(options):
        f = option(f)
    return f


def dataset_choice(f):
    """--dataset: any registered dataset (evaluate)."""
    return click.option("--dataset", type=click.Choice(dataset_names()), default="humaneval", show_default=True)(f)


def dataset_options(f):
    """Which copy of the dataset and which of its problems (evaluate, humaneval, mbpp)."""
    return _apply(f, [
        click.option("--dataset-path", type=click.Path(), help="Read the dataset from this file."),
        click.option("--task-ids", help="Comma-separated task ids [default: every problem]."),
        click.option("--strict", is_flag=True,
                     help="HumanEval, MBPP: run the asserts' inputs as call tests judged outside the sample's process "
                          "(docs/SECURITY.md); tests that cannot be converted are judged classically and named."),
    ])


def dataset_source_options(f):
    """Where else a dataset can come from, and MBPP's extra asserts (evaluate)."""
    return _apply(f, [
        click.option("--from-hub", is_flag=True, help="Load the dataset from the Hugging Face hub."),
        click.option("--challenge-tests", is_flag=True, help="MBPP: also run challenge_test_list."),
    ])


def execution_options(f):
    """How samples run and where results go (every command that executes)."""
    return _apply(f, [
        click.option("--k", "k_text", help="pass@k values, e.g. 1,10,100 [default: those the samples allow]."),
        click.option("--out", type=click.Path(file_okay=False), help="Run directory [default: runs/NAME-DATASET]."),
        click.option("--timeout", type=click.FloatRange(0.05, 3600), help="CPU seconds per sample "
                     "[default: calibrated per problem: max(0.5 s, 4 x its reference solution's CPU time)]."),
        click.option("--workers", type=click.IntRange(1, 256), help="Sandboxes in the pool [default: CPU count]."),
        click.option("--memory", help="Memory per sample (and its sandbox) [default: 1g; 4g for HumanEval+ and "
                                       "MBPP+, as EvalPlus allows]."),
        click.option("--ray", "ray", is_flag=False, flag_value="auto", metavar="[ADDRESS]",
                     help="Execute on a Ray cluster: a sandbox pool on every node (ADDRESS: HOST:PORT or "
                          "ray://...; alone: the cluster this machine belongs to). Sizes --workers per node."),
        click.option("--provider", type=click.Choice(provider_names()), default="docker", show_default=True,
                     help="Where samples run. `local` does NOT isolate: trusted code only."),
        click.option("--plus-details", "all_inputs", is_flag=True,
                     help="HumanEval+/MBPP+: run every input (not only up to the first failing one) and record "
                          "how many of each tier passed."),
    ])
