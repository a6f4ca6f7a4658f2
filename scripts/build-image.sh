#!/usr/bin/env bash
# Build the coderun image (top-level Dockerfile) without reaching a package index from inside the build:
#   1. ask the base image for its Python version and glibc,
#   2. build a wheelhouse on this host: `pip wheel .` when the host's Python matches the base's, else the
#      coderun wheel plus binary wheels of its dependencies downloaded for the base's Python and platform,
#   3. `docker build` with that wheelhouse as the build context.
# Usage: scripts/build-image.sh [TAG]            (default coderun:latest)
#   BASE_IMAGE  base with python3 (+ venv) [default: python:3.12-slim if present, else coderun-base:bookworm]
#   CONTEXT     where the wheelhouse goes  [default: build/image]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[build-image] %s\n' "$*" >&2; }

tag=${1:-coderun:latest}
base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  base=python:3.12-slim
  if ! docker image inspect "$base" >/dev/null 2>&1 && docker image inspect coderun-base:bookworm >/dev/null 2>&1; then
    base=coderun-base:bookworm
  fi
fi
ctx=${CONTEXT:-build/image}
python=${PYTHON:-python3}

read -r pyver glibc < <(docker run --rm --network none --entrypoint python3 "$base" -c \
  'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.libc_ver()[1] or "2.17")')
hostver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
say "base $base: Python $pyver, glibc $glibc; wheelhouse in $ctx"

rm -rf "$ctx" && mkdir -p "$ctx"
if [ "$pyver" = "$hostver" ]; then
  "$python" -m pip wheel -q -w "$ctx" .
else
  # Another Python in the base: binary wheels only, for its version and every manylinux its glibc runs.
  "$python" -m pip wheel -q --no-deps -w "$ctx" .
  arch=$(uname -m)
  platforms=(--platform "manylinux2014_$arch" --platform "linux_$arch")
  for minor in $(seq 17 "${glibc#2.}"); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
  mapfile -t deps < <("$python" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
  "$python" -m pip download -q --only-binary=:all: --python-version "$pyver" "${platforms[@]}" -d "$ctx" "${deps[@]}"
fi
say "$(ls "$ctx" | wc -l) wheels; building $tag"
# --network none: proof that the image installs from the wheelhouse alone.
docker build -q --network none -f Dockerfile --build-arg BASE_IMAGE="$base" -t "$tag" "$ctx" >/dev/null
# The classic builder keeps each build's first stage (and a re-tagged image) as a dangling image: drop
# coderun's own, nothing else.
for label in coderun-build coderun; do
  docker image prune -f --filter "label=io.coderun.image=$label" >/dev/null
done
say "built $tag from $base"
