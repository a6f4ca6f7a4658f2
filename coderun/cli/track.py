"""MLflow tracking on the command line: the `--mlflow` flag (evaluate, humaneval, mbpp, rerank, compare) and
`coderun track RUN_DIR...`, which logs finished runs later into the MLflow run each already has, if any.

With `--mlflow`, a failure to log (a server down or refusing, a store that will not open) costs one warning
line on stderr and nothing else: the run is saved and the command's exit code is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import click

from coderun.cli import main

META = "coderun.mlflow"
_gave_up: set[str] = set()  # tracking URIs that failed in this process: one warning, not one per run


def _remember(ctx: click.Context, param, value: bool) -> None:
    if not value:
        return
    from coderun import tracking
    from coderun.errors import InputError

    if not tracking.available():  # exit 2 before anything runs, not a warning after an hour of work
        raise InputError("--mlflow needs the MLflow client: pip install 'coderun[mlflow]'")
    ctx.meta[META] = True


def mlflow_option(f):
    """--mlflow, kept in the click context's meta (no keyword argument for the command to pass on)."""
    return click.option("--mlflow", is_flag=True, expose_value=False, callback=_remember,
                        help="Log to MLflow: MLFLOW_TRACKING_URI [default: ./mlruns], MLFLOW_EXPERIMENT_NAME "
                             "[default: coderun]. A failure to log only warns.")(f)


def wanted() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(META))


def quietly(what: str, log, *args, later: str = "; `coderun track` logs a finished run later") -> None:
    """Call tracking's `log(*args)`; print where it went, or one warning line, never raise (but Ctrl-C)."""
    from coderun import tracking

    uri = tracking.tracking_uri()
    if uri in _gave_up:
        return
    try:
        logged = log(*args)
    except tracking.ReportMissing as exc:
        click.echo(f"coderun: warning: MLflow: {exc}", err=True)
        return
    except Exception as exc:  # noqa: BLE001 - tracking never costs the result
        _gave_up.add(uri)
        message = str(exc) if isinstance(exc, tracking.TrackingError) else tracking.one_line(exc)
        click.echo(f"coderun: warning: MLflow ({uri}): {what} not logged, nor anything after it in this "
                   f"command: {message}{later}", err=True)
        return
    click.echo(f"MLflow: logged {what} as run {logged.run_id} (experiment {logged.experiment_id}, {logged.uri})",
               err=True)


def log_run_if_wanted(run_dir: str) -> None:
    """With --mlflow: log the run directory, tagged with the command that ran (evaluate, humaneval, rerank...)."""
    if wanted():
        from coderun import tracking

        quietly(str(run_dir), tracking.log_run, run_dir, click.get_current_context().info_name)


def run_dirs(paths: tuple[str, ...]) -> list[Path]:
    """Each path a run directory, or a directory of run directories (a sweep's OUT): those inside it."""
    found = []
    for p in map(Path, paths):
        inner = [] if (p / "config.json").is_file() else \
            sorted(d for d in p.iterdir() if d.is_dir() and (d / "config.json").is_file())
        found.extend(inner or [p])
    return found


@main.command("track")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
def track_command(runs):
    """Log finished RUNS (run directories, or directories of them) to MLflow, each into the MLflow run it
    already has (RUN_DIR/mlflow.json), so nothing is logged twice. MLFLOW_TRACKING_URI [default: ./mlruns],
    MLFLOW_EXPERIMENT_NAME [default: coderun]."""
    from coderun import tracking
    from coderun.errors import CoderunError, InputError

    dirs = run_dirs(runs)
    unfinished = [str(d) for d in dirs if not (d / "summary.json").is_file() or not (d / "config.json").is_file()]
    if unfinished:
        raise InputError(f"not a finished coderun run directory: {', '.join(unfinished)}")
    failed = []
    for run_dir in dirs:
        try:
            logged = tracking.log_run(run_dir, "track")
        except tracking.TrackingError as exc:
            click.echo(f"coderun: error: {run_dir}: {exc}", err=True)
            failed.append(str(run_dir))
            continue
        click.echo(f"{run_dir}: MLflow run {logged.run_id} (experiment {logged.experiment_id}, {logged.uri})")
    if failed:
        raise CoderunError(f"not logged: {', '.join(failed)}")
