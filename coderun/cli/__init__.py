"""The `coderun` command line: thin click commands that parse, call the library, and render.

One module per command family (evaluate.py, sandbox.py, ...); each registers its commands on `main`.
Heavy modules (datasets, docker, numpy, rich) are imported inside the commands, so `coderun --help` is
fast. Every CoderunError becomes one line on stderr and its exit code (README, "Contracts").
"""

from __future__ import annotations

import sys

import click

from coderun import __version__
from coderun.errors import CoderunError


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


# Importing the command modules registers their commands on `main` (click only; nothing heavy).
from coderun.cli import evaluate, generate, sandbox  # noqa: E402,F401
from coderun.cli import compare, report  # noqa: E402,F401  (compare, gates, reports)
from coderun.cli import rerank  # noqa: E402,F401
