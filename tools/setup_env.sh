#!/usr/bin/env bash
# Create .venv with the pinned, tested dependencies (requirements/constraints.txt) and ld_monai itself.
# Re-running is fast: nothing is installed again unless the constraints, setup.cfg or setup.py changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.ld_monai_installed"
want="$(cat "$root/requirements/constraints.txt" "$root/setup.cfg" "$root/setup.py" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing pinned dependencies into $venv (first run takes a few minutes)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
  "$venv/bin/python" -m pip install -q -c "$root/requirements/constraints.txt" torch
  "$venv/bin/python" -m pip install -q -c "$root/requirements/constraints.txt" -e "$root[itk,test,docs]"
  echo "$want" > "$stamp"
fi
