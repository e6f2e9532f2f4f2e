#!/usr/bin/env bash
# The GPU check from a clean checkout: install if needed, fetch the models, run
# bench/gpu_check.py (all arguments go to it), JSON on stdout.  Logs go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import tagging, pipeline, tensorflow" 2>/dev/null; then
  echo "gpu_check: installing matchtag into a virtualenv (.venv)" >&2
  "$PY" -m venv .venv && . .venv/bin/activate && PY=python
  "$PY" -m pip install -q -e ".[dev]" >&2
fi
"$PY" -m pipeline.cli models fetch >&2
exec "$PY" bench/gpu_check.py "$@"
