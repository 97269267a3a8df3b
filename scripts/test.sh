#!/usr/bin/env bash
# Set everything up, then run every check: lint, types, unit tests and every notebook (nbval).
# The browser test (tests/test_course_in_browser.py) needs chromium and playwright; without them
# it is skipped, unless TASKQ_REQUIRE_BROWSER=1 (as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
.venv/bin/ruff check taskq_lib tests benchmarks scripts
.venv/bin/mypy
.venv/bin/mypy scripts/lab.py
.venv/bin/python -m pytest tests notebooks \
  --nbval --nbval-current-env --nbval-cell-timeout=60 \
  --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --durations=10 "$@"
