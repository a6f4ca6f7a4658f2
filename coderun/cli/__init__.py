"""The `coderun` command line: thin click commands that parse, call the library, and render.

One module per command family (evaluate.py, sandbox.py, ...); each registers its commands on `main`.
Heavy modules (datasets, docker, numpy, rich) are imported inside the commands, so `coderun --help` is
fast. Every CoderunError becomes one line on stderr and its exit code (README, "Contracts").
"""

from __future__ import annotations

import signal
import sys

import click

from coderun import __version__
from coderun.errors import CoderunError


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a CI cancel, `docker stop`, a closed terminal): unwinds like Ctrl-C, so every
    context manager on the way out (sandbox pools, vLLM engines, judge workers, Ray actors) shuts down."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum, frame):
    for other in (signal.SIGTERM, signal.SIGHUP):  # one unwind: a second signal must not cut the cleanup short
        signal.signal(other, signal.SIG_IGN)
    raise Terminated(signum)


class CoderunGroup(click.Group):
    """Turns CoderunError (and Ctrl-C, SIGTERM, SIGHUP) into a clean message and exit code at the edge."""

    def invoke(self, ctx):
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _terminate)
        try:
            return super().invoke(ctx)
        except CoderunError as exc:
            click.echo(f"coderun: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # a second signal: no second unwind
                signal.signal(signum, signal.SIG_IGN)
            what = f"terminated ({exc.args[0]})" if isinstance(exc, Terminated) else "interrupted"
            click.echo(f"coderun: {what}; verdicts so far are saved, run the same command to resume", err=True)
            sys.exit(1)


@click.group(cls=CoderunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coderun")
def main() -> None:
    """Run and score code-LLM benchmarks (HumanEval, MBPP) in warm, locked-down Docker sandboxes."""


# Importing the command modules registers their commands on `main` (click only; nothing heavy).
from coderun.cli import evaluate, generate, sandbox  # noqa: E402,F401
from coderun.cli import compare, report  # noqa: E402,F401  (compare, gates, reports)
from coderun.cli import rerank  # noqa: E402,F401
from coderun.cli import track  # noqa: E402,F401  (--mlflow, coderun track)
