"""Options shared by several commands."""

from __future__ import annotations

import click

DATASETS = ["humaneval", "mbpp", "mbpp-sanitized"]


def dataset_options(f):
    f = click.option("--challenge-tests", is_flag=True, help="MBPP: also run challenge_test_list.")(f)
    f = click.option("--task-ids", help="Comma-separated task ids to evaluate (default: all in the samples).")(f)
    f = click.option("--from-hub", is_flag=True, help="Load the dataset from the Hugging Face hub.")(f)
    f = click.option("--dataset-path", type=click.Path(), help="Read the dataset from this file.")(f)
    f = click.option("--dataset", type=click.Choice(DATASETS), default="humaneval", show_default=True)(f)
    return f


def execution_options(f):
    f = click.option("--provider", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
                     help="Where samples run. `local` does NOT isolate: trusted code only.")(f)
    f = click.option("--ray", "ray", is_flag=False, flag_value="auto", metavar="[ADDRESS]",
                     help="Execute on a Ray cluster: a sandbox pool on every node (ADDRESS: HOST:PORT or "
                          "ray://...; alone: the cluster this machine belongs to). Sizes --workers per node.")(f)
    f = click.option("--memory", default="1g", show_default=True, help="Memory per sandbox (and per sample).")(f)
    f = click.option("--workers", type=click.IntRange(1, 256), help="Sandboxes in the pool [default: CPU count].")(f)
    f = click.option("--timeout", type=click.FloatRange(0.05, 3600), help="CPU seconds per sample "
                     "[default: calibrated per problem from its reference solution, at least 1 s].")(f)
    f = click.option("--out", type=click.Path(file_okay=False), help="Run directory [default: runs/NAME-DATASET].")(f)
    f = click.option("--k", "k_text", help="pass@k values, e.g. 1,10,100 [default: those the samples allow].")(f)
    return f


def split_ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]
