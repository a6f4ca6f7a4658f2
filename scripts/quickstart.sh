#!/usr/bin/env bash
# Set up what is missing (scripts/setup.sh), then score 200 real CodeGen-16B completions of HumanEval
# in the Docker sandbox pool. The sandbox image builds itself on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec python3 -m coderun evaluate examples/codegen16b-humaneval-slice.jsonl --dataset humaneval --out runs/quickstart "$@"
