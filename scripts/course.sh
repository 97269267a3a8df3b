#!/usr/bin/env bash
# Set everything up, then open the course: JupyterLab on notebooks/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jupyter lab notebooks/ "$@"
