"""Options shared by several commands, each declared once, and the option objects built from them.

Each `*_options` decorator adds one part's flags; the matching `take_*` pops them from the command's
keyword arguments into the library's option object (orchestrate/options.py). Choices come from the
registries (datasets, sandbox providers), so a new dataset or provider needs no edit here.
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


def split_ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def take_dataset(kw: dict, name: str):
    """DatasetSelection from the popped dataset flags (those the command has)."""
    from coderun.orchestrate.options import DatasetSelection

    return DatasetSelection(name=name, path=kw.pop("dataset_path"), from_hub=kw.pop("from_hub", False),
                            challenge_tests=kw.pop("challenge_tests", False), task_ids=split_ids(kw.pop("task_ids")))


def take_execution(kw: dict):
    """ExecutionOptions from the popped execution flags; --memory is checked here (exit 2 before anything runs)."""
    from coderun.orchestrate.options import ExecutionOptions

    execution = ExecutionOptions(timeout=kw.pop("timeout"), workers=kw.pop("workers"), provider=kw.pop("provider"),
                                 memory=kw.pop("memory"), ray=kw.pop("ray"), all_inputs=kw.pop("all_inputs"))
    execution.memory_bytes  # noqa: B018 - parses, or raises InputError naming --memory
    return execution


def take_output(kw: dict, gate_ks: list[int] | None = None):
    """OutputOptions from --out and --k; the gates' ks join an explicit --k (validated before the run)."""
    from coderun.orchestrate.options import OutputOptions
    from coderun.summary import parse_ks

    ks = parse_ks(kw.pop("k_text"))
    if ks and gate_ks:
        ks = sorted(set(ks) | set(gate_ks))
    return OutputOptions(out=kw.pop("out"), k=ks)
