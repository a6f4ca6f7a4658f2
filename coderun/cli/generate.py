"""`coderun humaneval` and `coderun mbpp`: generate n completions per problem, execute them, score them."""

from __future__ import annotations

import json
import time
from collections import Counter
from contextlib import contextmanager

import click

from coderun.cli import main
from coderun.cli.options import dataset_options, execution_options
from coderun.cli.outputs import check_evalplus_results, finish_run, output_options, parse_gates, with_gate_ks
from coderun.cli.rerank import rerank_option, rerank_settings, run_rerank
from coderun.datasets.base import registry
from coderun.errors import CoderunError, InputError
from coderun.generate.base import backend_names


def generation_options(f):
    options = [
        click.option("--no-execute", is_flag=True, help="Generate only: write samples.jsonl, run nothing."),
        click.option("--overwrite", is_flag=True, help="Replace a run directory made with other generation options."),
        click.option("--concurrency", type=click.IntRange(1, 1024), default=16, show_default=True,
                     help="openai: requests in flight."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="openai: environment variable holding the API key."),
        click.option("--base-url", help="openai: the server's API root, e.g. http://127.0.0.1:8000/v1."),
        click.option("--revision", help="vllm: model revision (hub ids)."),
        click.option("--gpu-memory-utilization", type=click.FloatRange(0.01, 1.0),
                     help="vllm: share of accelerator memory (CPU build: of CPU memory) to reserve "
                          "[default: 0.9 on GPU, 0.5 on CPU]."),
        click.option("--max-model-len", type=click.IntRange(1), help="vllm: context length."),
        click.option("--enforce-eager", is_flag=True,
                     help="vllm: no torch.compile or CUDA graphs: the engine starts in about half the time and "
                          "decodes slower (small runs, debugging)."),
        click.option("--dtype", default="auto", show_default=True, help="vllm: weights and activations dtype."),
        click.option("--tensor-parallel-size", type=click.IntRange(1), default=1, show_default=True),
        click.option("--response-prefix", default="", help="--chat: text the assistant's reply starts with."),
        click.option("--chat-template-kwargs", help='--chat: JSON object for the chat template, e.g. '
                                                    '\'{"enable_thinking": false}\'.'),
        click.option("--system-prompt", help="--chat: a system message."),
        click.option("--chat", is_flag=True, help="Prompt through the model's chat template; extract the code."),
        click.option("--limit", type=click.IntRange(1), help="Only the first N problems (smoke runs)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Engine seed."),
        click.option("--max-tokens", type=click.IntRange(1), default=512, show_default=True),
        click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True),
        click.option("--temperature", type=click.FloatRange(0), help="[default: 0.8 when n > 1, else greedy]"),
        click.option("--n", type=click.IntRange(1), default=1, show_default=True, help="Completions per problem."),
        click.option("--samples", type=click.Path(), help="--backend samples: the completions file."),
        click.option("--no-base", is_flag=True, help="With --lora: skip the base model."),
        click.option("--lora", multiple=True, help="A LoRA adapter directory (peft). Repeatable."),
        click.option("--backend", type=click.Choice(backend_names()), default="vllm", show_default=True),
        click.option("--model", "models", multiple=True, help="Hub id or local directory. Repeatable."),
    ]
    f = dataset_options(execution_options(output_options(rerank_option(f))))
    for option in options:
        f = option(f)
    return f


def _run(dataset: str, prompt_style: str | None, kw: dict) -> None:
    from coderun import api
    from coderun.gates import raise_if_tripped

    gates = parse_gates(kw.pop("fail_under"))
    models = kw.get("models") or ()
    rerank = rerank_settings(kw, default_model=models[0] if len(models) == 1 else None,
                             default_backend=kw.get("backend"), default_base_url=kw.get("base_url"))
    junit, as_json, evalplus_results = kw.pop("junit"), kw.pop("as_json"), kw.pop("evalplus_results")
    chat_template_kwargs = _json_object(kw.pop("chat_template_kwargs"))
    opts = api.generation_options(
        dataset, models=kw.pop("models"), loras=kw.pop("lora"), base=not kw.pop("no_base"),
        execute=not kw.pop("no_execute"), prompt_style=prompt_style, chat_template_kwargs=chat_template_kwargs,
        k=kw.pop("k_text"), plus_details=kw.pop("all_inputs"), **kw)
    opts.output.k = with_gate_ks(opts.output.k, gates)
    check_evalplus_results(evalplus_results, opts.dataset)
    with _generator_for_judge(rerank, opts) as generator:
        outcomes = _generate(opts, generator)  # the engine is closed by now, unless the judge will ask it
        with _judge(rerank, outcomes, generator) as judge:
            tripped = _finish(opts, outcomes, rerank, judge, gates, junit, as_json, evalplus_results)
    incomplete = [o.run_dir for o in outcomes if opts.execute and not o.summary.get("complete")]
    if incomplete:
        raise CoderunError(f"incomplete run ({', '.join(incomplete)}): harness errors or missing verdicts; "
                           "run the same command again to retry them")
    for results in tripped:
        raise_if_tripped(results)


def _generate(opts, generator) -> list:
    from coderun.generate.base import create
    from coderun.orchestrate import generate as orchestrator

    return orchestrator.run(opts, RichGenerationProgress(), generator.create if generator else create)


def _finish(opts, outcomes, rerank, judge, gates, junit, as_json, evalplus_results) -> list:
    """Rerank, print and write each run's reports; the results of the runs whose gates tripped."""
    tripped = []
    for outcome in outcomes:
        if not opts.execute:
            click.echo(f"{outcome.run_dir}: {outcome.notes[0]} (not executed: --no-execute)")
            continue
        if rerank is not None and outcome.summary.get("complete"):
            outcome.summary["rerank"] = run_rerank(outcome.run_dir, rerank, as_json=True,
                                                   dataset_path=opts.dataset.path, judge=judge)
        single = len(outcomes) == 1  # one file each: with several runs, use their run directories
        tripped.append(finish_run(outcome, gates, junit if single else None, as_json,
                                  evalplus_results if single else None))
    return tripped


def dataset_for(command: str, variant: str | None) -> str:
    """The registered dataset a generating command runs: the one registered for (command, variant)."""
    for name, entry in registry().items():
        if entry.command == command and entry.variant == variant:
            return name
    raise InputError(f"no dataset is registered for coderun {command}" + (f" {variant_flags(variant)}" if variant else ""))


@contextmanager
def _generator_for_judge(rerank, opts):
    """A keeper of the generating engine when the judge is the generating model (it asks that engine rather
    than loading the model again in a process of its own), else None; the engine is closed on the way out."""
    from coderun.orchestrate.rerank import GeneratorKeeper, judge_is_generator

    if not judge_is_generator(rerank, opts):
        yield None
        return
    keeper = GeneratorKeeper()
    try:
        yield keeper
    finally:
        keeper.close()


@contextmanager
def _judge(rerank, outcomes, generator=None):
    """One judge engine for every run directory of this command, started when first asked, closed at the end."""
    from pathlib import Path

    from coderun.orchestrate.rerank import JUDGED, SharedJudge

    if rerank is None or rerank.method not in JUDGED or not outcomes:
        yield None
        return
    judge = SharedJudge(rerank, Path(outcomes[0].run_dir), generator)
    try:
        yield judge
    finally:
        judge.close()


def _json_object(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--chat-template-kwargs is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError("--chat-template-kwargs must be a JSON object, like '{\"enable_thinking\": false}'")
    return value


def plus_options(variants: list[str]):
    def decorate(f):
        f = click.option("--plus-variant", "plus_variant_name", type=click.Choice(variants),
                         help="With --plus: EvalPlus's reduced or no-extreme-inputs release.")(f)
        return click.option("--plus", is_flag=True, help="EvalPlus's rigorous tests (HumanEval+ / MBPP+): a "
                            "sample passes only if it passes the base and the plus inputs.")(f)

    return decorate


def variant_flags(variant: str | None) -> str:
    """The flags of a generating command that select a dataset variant (`coderun datasets` shows them)."""
    if not variant:
        return ""
    if variant.startswith("plus-"):
        return f"--plus --plus-variant {variant.removeprefix('plus-')}"
    if variant.startswith("language-"):
        return f"--language {variant.removeprefix('language-')}"
    if variant.startswith("humaneval-x-"):
        return f"--suite humaneval-x --language {variant.removeprefix('humaneval-x-')}"
    return f"--{variant}"


def plus_variant(plus: bool, variant: str | None) -> str | None:
    if variant and not plus:
        raise InputError("--plus-variant needs --plus")
    return ("plus-" + variant if variant else "plus") if plus else None


def _language(language: str | None) -> str | None:
    """The language key of --language (None: Python, the command's own dataset)."""
    if not language or language.lower() in ("python", "py"):
        return None
    from coderun import languages

    return languages.get(language).key


@main.command("humaneval")
@click.option("--language", help="HumanEval in another language: cpp, java, js, ts, php, sh, cs, go, rs, lua "
                                 "(MultiPL-E's prompts), or with --suite humaneval-x cpp, go, java, js "
                                 "(`coderun datasets` lists them).")
@click.option("--suite", type=click.Choice(["multipl-e", "humaneval-x"]), default="multipl-e", show_default=True,
              help="With --language: whose translation of HumanEval (MultiPL-E's, or HumanEval-X with its "
                   "reference solutions).")
@plus_options(["mini", "noextreme"])
@generation_options
def humaneval_command(language, suite, plus, plus_variant_name, **kw):
    """Generate --n completions per HumanEval problem, execute them in the sandbox, report pass@k."""
    if language and plus:
        raise InputError("--language and --plus are two datasets; choose one")
    key = _language(language)
    if key is None and suite != "multipl-e":
        raise InputError(f"--suite {suite} needs --language")
    if key is not None:
        variant = f"language-{key}" if suite == "multipl-e" else f"{suite}-{key}"
        _run(dataset_for("humaneval", variant), None, kw)
        return
    _run(dataset_for("humaneval", plus_variant(plus, plus_variant_name)), None, kw)


@main.command("mbpp")
@click.option("--sanitized", is_flag=True, help="Sanitized MBPP (257 test problems) instead of the full set (500).")
@click.option("--prompt", "prompt_style", type=click.Choice(["3shot", "0shot"]), default="3shot", show_default=True,
              help="Completion prompt: the original 3-shot [BEGIN]/[DONE] format, or zero-shot.")
@click.option("--language", help="MBPP in another language (MBXP, with mxeval's rules): cpp, java, js, ts, php, go, "
                                 "rb, pl (`coderun datasets` lists them).")
@plus_options(["noextreme"])
@generation_options
def mbpp_command(sanitized, prompt_style, language, plus, plus_variant_name, **kw):
    """Generate --n completions per MBPP problem (test split), execute them, report pass@k."""
    if sanitized and plus:
        raise InputError("--sanitized and --plus are two datasets; choose one")
    key = _language(language)
    if key is not None:
        if sanitized or plus:
            raise InputError("--language is MBXP's translation of MBPP: it has no --sanitized or --plus")
        _run(dataset_for("mbpp", f"language-{key}"), None, kw)
        return
    variant = plus_variant(plus, plus_variant_name) or ("sanitized" if sanitized else None)
    style = None if kw.get("chat") or plus else prompt_style  # MBPP+ has its own prompt: the dataset's
    _run(dataset_for("mbpp", variant), style, kw)


class RichGenerationProgress:
    """One live display per run: generation (completions/s, tokens/s) above execution (verdict counts)."""

    def __init__(self) -> None:
        from coderun.report.console import console

        self.console = console
        self.bar = None
        self.counts: Counter = Counter()
        self.nodes: Counter = Counter()
        self.tokens = self.done = 0
        self.t0 = time.monotonic()

    def begin(self, label: str, run_dir: str) -> None:
        self.console.print(f"[bold]{label}[/] -> {run_dir}")

    def start(self, total, done) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.counts = Counter(done)
        self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=self.console)
        self.exec_task = self.bar.add_task("executing", total=total, completed=sum(done.values()),
                                           info=self._counts())
        self.bar.start()

    def _counts(self) -> str:
        from coderun.report.console import counts_text

        return counts_text(self.counts, self.nodes)

    def advance(self, row) -> None:
        self.counts[row.status] += 1
        self.nodes[row.node] += 1
        self.bar.update(self.exec_task, advance=1, info=self._counts())

    def generating(self, total: int) -> None:
        self.tokens = self.done = 0
        self.t0 = time.monotonic()
        self.gen_task = self.bar.add_task("generating", total=total, info="")

    def generated(self, completions: int, tokens: int) -> None:
        self.done += completions
        self.tokens += tokens
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        rate = f"{self.done / elapsed:.1f} completions/s  {self.tokens / elapsed:.0f} tokens/s"
        self.bar.update(self.gen_task, advance=completions, info=rate)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
