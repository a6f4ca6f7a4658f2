#!/usr/bin/env bash
# Set up what is missing (scripts/setup.sh), then run the whole test suite, Docker tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
CODERUN_SETUP_TESTS=1 source scripts/setup.sh
exec python3 -m pytest -q "$@"
