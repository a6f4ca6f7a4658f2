"""`coderun rerank RUN_DIR` and the `--rerank` option of evaluate/humaneval/mbpp."""

from __future__ import annotations

import click

from coderun.cli import main
from coderun.cli.track import log_run_if_wanted, mlflow_option
from coderun.generate.base import judge_backend_names
from coderun.rerank import method_names  # the registry's table only: no reranker is imported

METHODS = method_names()


def judge_options(f):
    options = [
        click.option("--judge-pairwise", type=click.IntRange(0), default=0, show_default=True,
                     help="Compare the top K candidates pairwise (both orders) to break ties; 0: off."),
        click.option("--judge-chat", is_flag=True, help="Ask the judge through its chat template."),
        click.option("--judge-max-model-len", type=click.IntRange(1), help="vllm judge: context length."),
        click.option("--judge-enforce-eager", is_flag=True, help="vllm judge: as --enforce-eager, for its engine."),
        click.option("--judge-gpu-memory-utilization", type=click.FloatRange(0.01, 1.0),
                     help="vllm judge: share of accelerator (CPU build: CPU) memory for its engine."),
        click.option("--judge-base-url", help="openai judge: the server's API root."),
        click.option("--judge-backend", type=click.Choice(judge_backend_names()),
                     help="Where the judge runs [default: the generation backend, else vllm]."),
        click.option("--judge-model", help="The judge (hub id or directory) [humaneval/mbpp: the generating "
                                           "model; evaluate/rerank: required]."),
    ]
    for option in options:
        f = option(f)
    return f


def rerank_option(f):
    return judge_options(click.option("--rerank", "rerank_method", type=click.Choice(METHODS),
                                      help="Also pick 1 of n per problem and report rerank@1 and the gap closed.")(f))


def rerank_settings(kw: dict, default_model: str | None = None, default_backend: str | None = None,
                    default_base_url: str | None = None):
    """Options for coderun.orchestrate.rerank from --rerank and the judge flags, popped from `kw` (each
    once, here); None without --rerank. Bad options are exit 2 before anything runs."""
    from coderun.generate.base import judge_backend_names
    from coderun.rerank.base import Options

    method = kw.pop("rerank_method", None)
    judge = {k: kw.pop(k) for k in list(kw) if k.startswith("judge_")}
    if method is None:
        return None
    backend = judge["judge_backend"] or (default_backend if default_backend in judge_backend_names() else "vllm")
    options = Options(method=method, judge_model=judge["judge_model"] or default_model, judge_backend=backend,
                      judge_base_url=judge["judge_base_url"] or (default_base_url if backend == "openai" else None),
                      judge_chat=judge["judge_chat"], judge_pairwise=judge["judge_pairwise"],
                      judge_max_model_len=judge["judge_max_model_len"],
                      judge_gpu_memory_utilization=judge["judge_gpu_memory_utilization"],
                      judge_enforce_eager=judge["judge_enforce_eager"])
    from coderun.orchestrate.rerank import check_options

    check_options(options)
    return options


def run_rerank(run_dir: str, options, as_json: bool = False, dataset_path: str | None = None, judge=None) -> dict:
    from coderun.report.console import RerankProgress, print_rerank
    from coderun.orchestrate.rerank import rerank_run

    with RerankProgress() as progress:
        block = rerank_run(run_dir, options, dataset_path=dataset_path, judge=judge, progress=progress)
    if not as_json:
        print_rerank(block, run_dir)
    return block


@main.command("rerank")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--method", type=click.Choice(METHODS), required=True)
@judge_options
@click.option("--dataset-path", type=click.Path(dir_okay=False), help="The run's dataset file, if not the shipped one.")
@click.option("--json", "as_json", is_flag=True, help="Print the rerank block as JSON.")
@mlflow_option
def rerank_command(run_dir, method, dataset_path, as_json, **kw):
    """Pick 1 of n per problem in a finished RUN_DIR, without generating or evaluating again."""
    from coderun.report.console import print_json

    options = rerank_settings({**kw, "rerank_method": method})
    block = run_rerank(run_dir, options, as_json, dataset_path)
    if as_json:
        print_json(block)
    log_run_if_wanted(run_dir)  # --mlflow: into the run's MLflow run, with the rerank figures
