#!/usr/bin/env bash
# Run the benchmarks (a few minutes): taskq against plain baselines on a real Redis on loopback.
# Prints a table; writes JSON and a PNG to benchmarks/results/. Options go to benchmarks.run:
#   bash scripts/bench.sh --quick            # small sizes, a smoke run
#   bash scripts/bench.sh --only redis,delayed --redis-url redis://127.0.0.1:6379/0
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
exec .venv/bin/python -m benchmarks.run "$@"
