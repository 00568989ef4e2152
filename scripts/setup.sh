#!/usr/bin/env bash
# Creates .venv and installs every mnn distribution from this checkout (non-editable, as users get
# them), plus the test tools. Usage: scripts/setup.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
packages=(./mnn_core ./plugins/frontend-onnx)
for dir in backend-*/; do
  [ -f "$dir/pyproject.toml" ] && packages+=("./${dir%/}")
done
"$venv/bin/python" -m pip install -q "${packages[@]}" pytest onnxruntime tox
echo "installed into $venv: ${packages[*]}"
