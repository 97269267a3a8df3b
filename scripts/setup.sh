#!/usr/bin/env bash
# Create .venv and install the course, its tests and taskq_lib (editable) into it.
# Safe to run again: it reinstalls only when requirements.txt or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.installed"

if ! command -v "$PYTHON" >/dev/null; then
  echo "setup: $PYTHON not found; install Python 3.10 or newer first" >&2; exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "setup: could not create a virtual environment." >&2
    echo "       On Debian or Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing packages into $VENV (a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
