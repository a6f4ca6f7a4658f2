"""MLflow tracking: one MLflow run per run directory (a LoRA sweep: a parent run with a child per adapter), one
per comparison.

MLflow's conventions: MLFLOW_TRACKING_URI (unset: a file store in ./mlruns, which the client-only
mlflow-skinny opens; MLflow's own default, sqlite, needs the full package), MLFLOW_EXPERIMENT_NAME (default
"coderun") or MLFLOW_EXPERIMENT_ID. A run directory remembers its MLflow run per tracking URI in
RUN_DIR/mlflow.json (a sweep's parent run: the sweep directory's mlflow.json), so a resumed run, a rerank and
`coderun track` log into the same MLflow run.

mlflow is imported inside `session` only. Whatever logging raises comes out as one TrackingError with a
one-line message; the client's retries and timeouts are bounded (CLIENT_DEFAULTS, unless the user set them),
so a server that is down or refuses costs seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple
from urllib.parse import urlparse

from coderun.errors import CoderunError, InputError
from coderun.records import RunConfig, RunDir, RunRecord, load_run

RECORD = "mlflow.json"
DEFAULT_URI = "file:./mlruns"
DEFAULT_EXPERIMENT = "coderun"
# Set when the user has not: no retries and 10 s per request. MLflow's defaults (7 retries with backoff, 120 s)
# would hold a finished evaluation for minutes, and its retries resend POSTs, so a slow answer to "create run"
# makes two runs; a failed logging costs a warning and `coderun track` does it later. No usage telemetry.
CLIENT_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
                   "MLFLOW_DISABLE_TELEMETRY": "true"}
MAX_PARAM = 500  # MLflow's limit on a param value in older servers


class TrackingError(CoderunError):
    """Logging to MLflow failed; the run directory is unchanged (exit 1 from `coderun track`)."""


class ReportMissing(TrackingError):
    """The run is logged, all but its HTML report."""


class Logged(NamedTuple):
    run_id: str
    uri: str
    experiment_id: str


def available() -> bool:
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else ./mlruns; a local store as an absolute file URI (the key in mlflow.json)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file") and not parsed.netloc:
        return Path(parsed.path if parsed.scheme else uri).expanduser().resolve().as_uri()
    return uri


# ---- what is logged --------------------------------------------------------------------------------------


def params_of(run: RunRecord) -> dict[str, str]:
    c = run.config
    settings = c.execution.settings
    p = {"dataset": c.dataset.name, "dataset_sha256": c.dataset.sha256, "prompt_version": c.prompt_version,
         "timeout": settings.get("timeout") or "calibrated", "memory": settings.get("memory"),
         "provider": settings.get("provider"), "sandbox_fingerprint": c.execution.fingerprint}
    p.update(_generation_params(c) if c.generated else {"samples": c.samples_path, "n": _samples_per_task(run)})
    return {k: str(v)[:MAX_PARAM] for k, v in p.items() if v is not None}


def _generation_params(c: RunConfig) -> dict[str, Any]:
    ident = c.generation.get("identity") or {}
    model, adapter, sampling = ident.get("model") or {}, ident.get("adapter"), ident.get("sampling") or {}
    return {"backend": ident.get("backend"), "model": model.get("name") or model.get("samples"),
            "model_sha256": model.get("sha256"), "model_revision": model.get("revision"),
            "adapter": adapter["name"] if adapter else "none", "adapter_sha256": (adapter or {}).get("sha256"),
            **{k: sampling.get(k) for k in ("n", "temperature", "top_p", "max_tokens", "seed")}}


def _samples_per_task(run: RunRecord) -> str:
    per_task: dict[str, int] = {}
    for row in run.rows:
        per_task[row.task_id] = per_task.get(row.task_id, 0) + 1
    low, high = min(per_task.values()), max(per_task.values())
    return str(low) if low == high else f"{low}-{high}"


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """pass_at_K (+ _ci_low/_ci_high), base_pass_at_K, count_STATUS, and the rerank block's figures."""
    out: dict[str, Any] = {}
    for prefix in ("", "base_"):
        for k, value in (summary.get(f"{prefix}pass@k") or {}).items():
            ci = (summary.get(f"{prefix}pass@k_ci") or {}).get(k) or {}
            _figure(out, f"{prefix}pass_at_{k}", value, ci)
    out.update({f"count_{status}": n for status, n in (summary.get("counts") or {}).items()})
    out.update({key: summary.get(key) for key in ("num_problems", "num_samples", "missing")})
    out.update(_rerank_metrics(summary.get("rerank") or {}))
    return {k: float(v) for k, v in out.items() if _finite(v)}


def _rerank_metrics(block: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key in (("rerank@1", "rerank_at_1"), ("pass@1", "rerank_pass_at_1"), ("pass@n", "rerank_pass_at_n"),
                      ("gap_closed", "gap_closed")):
        if name in block:
            _figure(out, key, block[name], (block.get("ci") or {}).get(name) or {})
    calibration = block.get("calibration") or {}
    out.update({f"judge_{k}": v for k, v in calibration.items() if k in ("auroc", "auroc_within", "brier", "ece")})
    return out


def _figure(out: dict, key: str, value: Any, ci: dict) -> None:
    out[key] = value
    out[f"{key}_ci_low"], out[f"{key}_ci_high"] = ci.get("low"), ci.get("high")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def tags_of(run: RunRecord, run_dir: Path, logged_by: str) -> dict[str, str]:
    from coderun import __version__

    tags = {"coderun.version": run.config.coderun_version or __version__, "coderun.command": run.config.command,
            "coderun.logged_by": logged_by, "coderun.run_dir": str(run_dir),
            "coderun.complete": str(bool(run.summary.get("complete"))).lower()}
    if (run.summary.get("rerank") or {}).get("method"):
        tags["coderun.rerank_method"] = run.summary["rerank"]["method"]
    return tags


def comparison_metrics(comparison: dict[str, Any]) -> dict[str, float]:
    """Per run, dataset and k: the paired difference against the baseline, its CI, Holm p and MDE."""
    out: dict[str, Any] = {}
    for d in comparison.get("datasets", []):
        for diff in d.get("diffs", []):
            key = f"diff_pass_at_{diff['k']}/{_key_part(diff['dataset'])}/{_key_part(diff['run'])}"
            _figure(out, key, diff.get("value"), diff)
            out[f"{key}_p_holm"], out[f"{key}_mde"] = diff.get("p_holm"), diff.get("mde")
    return {k: float(v) for k, v in out.items() if _finite(v)}


def _key_part(text: Any) -> str:
    """A piece of a metric key: MLflow's allowed characters, never a path step of its own."""
    part = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text)).strip(".")
    return part or "_"


# ---- the LoRA sweep a run belongs to ------------------------------------------------------------------------


def _identity(config: RunConfig | None) -> dict[str, Any]:
    return ((config.generation or {}).get("identity") or {}) if config is not None else {}


def _sweep_key(config: RunConfig) -> str:
    """Everything that defines the generations except the adapter: the runs of one `--lora` command share it."""
    rest = {k: v for k, v in _identity(config).items() if k != "adapter"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sweep_of(run_dir: Path, config: RunConfig) -> str | None:
    """The sweep key when run_dir is one of several sibling runs (same directory) that share their generation
    identity but the adapter, at least one with an adapter; else None."""
    if not _identity(config):
        return None
    key = _sweep_key(config)
    members = [config] + [c for c in _sibling_configs(run_dir) if _identity(c) and _sweep_key(c) == key]
    if len(members) < 2 or not any(_identity(c).get("adapter") for c in members):
        return None
    return key


def _sibling_configs(run_dir: Path) -> Iterator[RunConfig]:
    for d in sorted(run_dir.parent.iterdir()):
        if d != run_dir and d.is_dir() and (d / "config.json").is_file():
            try:
                yield RunDir(d).read_config()
            except InputError:
                continue


# ---- mlflow.json: which MLflow run a directory is, per tracking URI ---------------------------------------------


def recorded_id(directory: Path, uri: str, key: str = "run") -> str | None:
    try:
        data = json.loads((directory / RECORD).read_text())
        return data["runs"][uri][key]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_id(directory: Path, uri: str, run_id: str, key: str = "run") -> None:
    path = directory / RECORD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data.get("runs"), dict):
        data = {"format": 1, "runs": {}}
    data["runs"].setdefault(uri, {})[key] = run_id
    RunDir(directory).write_json(path, data)


# ---- the client ------------------------------------------------------------------------------------------------


@contextmanager
def session() -> Iterator["Store"]:
    """A Store on the configured tracking URI, MLflow's logging silenced; any failure is a TrackingError."""
    uri = tracking_uri()
    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if uri.startswith("file:"):  # MLflow 3 keeps the file store only on request; mlflow-skinny has no other local one
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow.tracking import MlflowClient

            with _silenced("mlflow", "urllib3", "databricks"):
                yield Store(MlflowClient(uri), uri)
    except TrackingError:
        raise
    except ImportError as exc:
        raise TrackingError(f"MLflow is not installed ({exc}); pip install 'coderun[mlflow]'") from None
    except Exception as exc:  # noqa: BLE001 - whatever the client raises becomes one line
        raise TrackingError(one_line(exc)) from exc


@contextmanager
def _silenced(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


class Store:
    """The MLflow operations coderun needs, on one client."""

    def __init__(self, client, uri: str):
        self.client, self.uri = client, uri
        self._experiment: str | None = None

    @property
    def experiment_id(self) -> str:
        if self._experiment is None:
            self._experiment = os.environ.get("MLFLOW_EXPERIMENT_ID") or self._by_name(
                os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT)
        return self._experiment

    def _by_name(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            return self.client.create_experiment(name)
        if experiment.lifecycle_stage != "active":
            raise TrackingError(f"MLflow experiment {name!r} is deleted: restore it or set MLFLOW_EXPERIMENT_NAME")
        return experiment.experiment_id

    def existing(self, run_id: str | None, params: dict[str, str], directory: Path) -> str | None:
        """run_id if that MLflow run is alive, logs `directory` (not a copy's original) and none of its params
        differ from `params`."""
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return run_id if self._fits(run, params, directory) else None

    def find(self, params: dict[str, str], directory: Path) -> str | None:
        """The latest MLflow run of this experiment that logs `directory`: one whose id was never recorded
        (e.g. its creation answered too late) is reused, not duplicated."""
        if "'" in str(directory):
            return None
        runs = self.client.search_runs([self.experiment_id], f"tags.`coderun.run_dir` = '{directory}'",
                                       max_results=5, order_by=["attributes.start_time DESC"])
        return next((r.info.run_id for r in runs if self._fits(r, params, directory)), None)

    @staticmethod
    def _fits(run, params: dict[str, str], directory: Path) -> bool:
        old = run.data.params
        return (run.info.lifecycle_stage == "active" and run.data.tags.get("coderun.run_dir") == str(directory)
                and all(old.get(k, v) == v for k, v in params.items()))

    def create(self, name: str, tags: dict[str, str]) -> str:
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def log(self, run_id: str, params: dict[str, str] | None = None, metrics: dict[str, float] | None = None,
            tags: dict[str, str] | None = None) -> None:
        """One batch; params the run already has are left out (MLflow params cannot change)."""
        from mlflow.entities import Metric, Param, RunTag

        have = self.client.get_run(run_id).data.params if params else {}
        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
                              params=[Param(k, v) for k, v in (params or {}).items() if k not in have],
                              tags=[RunTag(k, v) for k, v in (tags or {}).items()])

    def artifact(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, str(path))

    def finish(self, run_id: str, complete: bool) -> None:
        self.client.set_terminated(run_id, "FINISHED" if complete else "FAILED")

    def logged(self, run_id: str) -> Logged:
        return Logged(run_id, self.uri, self.client.get_run(run_id).info.experiment_id)


# ---- logging a run directory, a comparison --------------------------------------------------------------------


def log_run(run_dir: str | os.PathLike, logged_by: str) -> Logged:
    """Log a finished run directory: params, metrics, tags, artifacts (config.json, summary.json, results.jsonl,
    limits.json, report.html). Into the MLflow run recorded in its mlflow.json when it still fits."""
    path = Path(run_dir).resolve()
    run = load_run(path)
    if run.config is None or run.summary is None:
        raise InputError(f"{run_dir}: not a finished coderun run directory (no config.json or summary.json)")
    params, complete = params_of(run), bool(run.summary.get("complete"))
    with session() as store:
        tags = tags_of(run, path, logged_by)
        sweep = sweep_of(path, run.config)
        if sweep:
            tags["mlflow.parentRunId"] = _sweep_parent(store, path.parent, sweep, params)
        run_id = (store.existing(recorded_id(path, store.uri), params, path) or store.find(params, path)
                  or store.create(path.name, tags))
        record_id(path, store.uri, run_id)
        store.log(run_id, params, metrics_of(run.summary), tags)
        _log_files(store, run_id, path, run.config)
        store.finish(run_id, complete)
        _log_report(store, run_id, path)
        return store.logged(run_id)


def _sweep_parent(store: Store, sweep_dir: Path, key: str, params: dict[str, str]) -> str:
    shared = {k: v for k, v in params.items() if not k.startswith("adapter")}
    run_id = store.existing(recorded_id(sweep_dir, store.uri, f"sweep:{key}"), {}, sweep_dir)
    if run_id is None:
        run_id = store.create(sweep_dir.name or "sweep", {"coderun.sweep": "lora", "coderun.run_dir": str(sweep_dir)})
        record_id(sweep_dir, store.uri, run_id, f"sweep:{key}")
        store.log(run_id, params=shared)
        store.finish(run_id, True)
    return run_id


def _log_files(store: Store, run_id: str, path: Path, config: RunConfig) -> None:
    for name in ("config.json", "summary.json", "results.jsonl"):
        store.artifact(run_id, path / name)
    with tempfile.TemporaryDirectory(prefix="coderun-mlflow-") as tmp:
        limits = Path(tmp) / "limits.json"
        limits.write_text(json.dumps(config.execution.limits, indent=1) + "\n")
        store.artifact(run_id, limits)


def _log_report(store: Store, run_id: str, path: Path) -> None:
    from coderun.report.html import build_report, write

    try:
        page, _ = build_report([str(path)])
    except Exception as exc:  # noqa: BLE001 - the scores are logged; say what is missing
        raise ReportMissing(f"logged {path} without its HTML report: {one_line(exc)}") from exc
    with tempfile.TemporaryDirectory(prefix="coderun-mlflow-") as tmp:
        write(str(Path(tmp) / "report.html"), page)
        store.artifact(run_id, Path(tmp) / "report.html")


def log_comparison(comparison: dict[str, Any], runs: list[str]) -> Logged:
    """One MLflow run for a `coderun compare`: the differences as metrics, the comparison JSON as an artifact."""
    params = {"baseline": comparison.get("baseline"), "runs": ",".join(runs),
              "datasets": ",".join(d.get("dataset", "") for d in comparison.get("datasets", [])),
              "alpha": comparison.get("alpha")}
    with session() as store:
        from coderun import __version__

        run_id = store.create(f"compare {' '.join(Path(r).name for r in runs)}"[:250],
                              {"coderun.command": "compare", "coderun.version": __version__})
        store.log(run_id, {k: str(v)[:MAX_PARAM] for k, v in params.items() if v is not None},
                  comparison_metrics(comparison))
        with tempfile.TemporaryDirectory(prefix="coderun-mlflow-") as tmp:
            (Path(tmp) / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str) + "\n")
            store.artifact(run_id, Path(tmp) / "comparison.json")
        store.finish(run_id, True)
        return store.logged(run_id)
