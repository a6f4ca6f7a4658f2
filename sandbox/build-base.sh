#!/usr/bin/env bash
# Build a minimal Debian base image without any registry: debootstrap + docker import.
# Usage: sandbox/build-base.sh [TAG]   (default coderun-base:bookworm; needs root, debootstrap, docker)
set -euo pipefail
tag=${1:-coderun-base:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag exists"; exit 0; fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
# python3-venv: the coderun image (top-level Dockerfile) installs into a venv from a wheelhouse.
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" >/dev/null
tar -C "$rootfs" -c . | docker import - "$tag" >/dev/null
echo "built $tag"
