#!/usr/bin/env bash
# A venv with the full `mlflow` package, only to run a tracking server on loopback for tests/test_tracking.py.
# Kept out of the main environment: full mlflow pins pyarrow below the version `datasets` got and moves
# cloudpickle under vLLM; coderun itself needs only the client (`pip install 'coderun[mlflow]'`: mlflow-skinny).
# Prints the venv's `mlflow` executable. Idempotent: a venv that has this mlflow version is kept.
set -euo pipefail
VENV="${CODERUN_MLFLOW_VENV:-$HOME/.cache/coderun-test/mlflow-venv}"
VERSION="3.17.2"
installed=$("$VENV/bin/python" -c "from importlib.metadata import version; print(version('mlflow'))" 2>/dev/null || true)
if [ "$installed" != "$VERSION" ]; then
  printf '[setup] creating %s with mlflow==%s (about two minutes)\n' "$VENV" "$VERSION" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "mlflow==$VERSION" >&2
fi
echo "$VENV/bin/mlflow"
