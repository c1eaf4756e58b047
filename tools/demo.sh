#!/usr/bin/env bash
# Set up .venv, then run LD pretraining on the fundus photograph that scikit-image ships (or on --dataset_dir DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
exec "$root/.venv/bin/ld-monai" demo "$@"
