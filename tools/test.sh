#!/usr/bin/env bash
# Set up .venv, then run the test suite and execute the tutorial notebooks (nbmake). Tests and notebooks on real
# data read LD_MONAI_DATA_DIR (e.g. ../shared/data).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest tests --nbmake --nbmake-timeout=900 tutorials "$@"
