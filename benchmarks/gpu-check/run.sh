#!/usr/bin/env bash
# The GPU check as one prepared command for a lent GPU machine: installs uv if missing, then runs run.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 benchmarks/gpu-check/run.py "$@"
