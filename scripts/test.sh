#!/usr/bin/env bash
# Set everything up, then run every check: lint, types, unit tests and every notebook (nbval).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
.venv/bin/ruff check taskq_lib tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest tests notebooks \
  --nbval --nbval-current-env --nbval-cell-timeout=60 \
  --nbval-sanitize-with notebooks/sanitize.cfg \
  --durations=10 "$@"
