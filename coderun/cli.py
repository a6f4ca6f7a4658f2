"""The `coderun` command line: thin click commands that parse, call the library, and render.

Heavy modules (datasets, docker, numpy) are imported inside the commands, so `coderun --help` is fast.
Every CoderunError becomes one line on stderr and its exit code (README, "Contracts").
"""

from __future__ import annotations

import sys

import click

from coderun import __version__
from coderun.errors import CoderunError

DATASETS = ["humaneval", "mbpp", "mbpp-sanitized"]


class CoderunGroup(click.Group):
    """Turns CoderunError (and Ctrl-C) into a clean message and exit code at the edge."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CoderunError as exc:
            click.echo(f"coderun: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("coderun: interrupted; verdicts so far are saved, run the same command to resume",
                       err=True)
            sys.exit(1)


@click.group(cls=CoderunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coderun")
def main() -> None:
    """Run and score code-LLM benchmarks (HumanEval, MBPP) in warm, locked-down Docker sandboxes."""


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
    f = click.option("--memory", default="1g", show_default=True, help="Memory per sandbox (and per sample).")(f)
    f = click.option("--workers", type=click.IntRange(1, 256), help="Sandboxes in the pool [default: CPU count].")(f)
    f = click.option("--timeout", type=click.FloatRange(0.05, 3600), help="CPU seconds per sample "
                     "[default: calibrated per problem from its reference solution, at least 1 s].")(f)
    f = click.option("--out", type=click.Path(file_okay=False), help="Run directory [default: runs/NAME-DATASET].")(f)
    f = click.option("--k", "k_text", help="pass@k values, e.g. 1,10,100 [default: those the samples allow].")(f)
    return f


@main.command()
@click.argument("samples", type=click.Path())
@dataset_options
@execution_options
def evaluate(samples, dataset, dataset_path, from_hub, task_ids, challenge_tests, k_text, out, timeout, workers,
             memory, provider):
    """Score SAMPLES (JSONL with task_id and completion or solution, or a generations.json)."""
    from coderun.pipeline import EvaluateOptions, evaluate as run_evaluate
    from coderun.report.console import RichProgress, print_outcome
    from coderun.scoring import parse_ks

    opts = EvaluateOptions(samples=samples, dataset=dataset, dataset_path=dataset_path, from_hub=from_hub,
                           challenge_tests=challenge_tests, task_ids=_ids(task_ids), k=parse_ks(k_text),
                           out=out, timeout=timeout, workers=workers, provider=provider, memory=memory)
    outcome = run_evaluate(opts, RichProgress())
    print_outcome(outcome)
    if not outcome.summary.get("complete"):
        raise CoderunError(f"the run is incomplete ({outcome.summary['counts']['error']} harness errors, "
                           f"{outcome.summary['missing']} missing); run the same command again to retry them")


@main.group()
def sandbox() -> None:
    """Build and check the sandbox image."""


@sandbox.command("build")
@click.option("--base-image", help="Base image with python3 [default: $CODERUN_BASE_IMAGE, python:3.12-slim, "
              "or a local coderun-base:bookworm].")
@click.option("--tag", help="Image tag [default: coderun-sandbox:<hash of the sandbox sources>].")
def sandbox_build(base_image, tag):
    """Build the sandbox image from the packaged sources."""
    from coderun.execute import image
    from coderun.execute.docker_provider import client

    image_id = image.build_image(client(), tag, base_image)
    click.echo(f"built {tag or image.default_tag()} ({image_id[:19]})")


@sandbox.command("check")
@click.option("--provider", type=click.Choice(["docker", "local"]), default="docker", show_default=True)
def sandbox_check(provider):
    """Start a sandbox and prove its isolation and limits work; say what is wrong if not."""
    from coderun.execute.selfcheck import run_checks
    from coderun.report.console import print_checks

    results = run_checks(provider)
    print_checks(results)
    if not all(ok for _, ok, _ in results):
        raise CoderunError("the sandbox check failed (see above)")


@main.command("datasets")
def list_datasets():
    """List the registered datasets and their problem counts."""
    from coderun.datasets import dataset_names, load

    for name in dataset_names():
        bench = load(name)
        click.echo(f"{name:16} {len(bench):4} problems  {bench.source}")


def _ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    main()
