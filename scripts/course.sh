#!/usr/bin/env bash
# Set everything up, then open the course: JupyterLab with notebooks/00_start_here.ipynb open.
# The server's root is the repository (the notebooks link to the library's files); the options
# are in scripts/lab.py, which the browser test uses too. Extra arguments go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/lab.py "$@"
