#!/usr/bin/env bash
# Create the peers venv used by benchmarks/bench_peers.py and convert the shared models for MNN 3.6.1.
#
# The venv lives OUTSIDE the repository on purpose: MNN's pip package installs a console script named
# `mnn` that would shadow this project's `mnn` CLI if both shared one environment.
#
#   bash benchmarks/setup_peers.sh                       # venv at /work/peers-venv, cache at ~/.cache/mnn-peers
#   PEERS_VENV=/tmp/pv PEERS_CACHE=/tmp/pc bash benchmarks/setup_peers.sh
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${PEERS_VENV:-/work/peers-venv}"
CACHE="${PEERS_CACHE:-$HOME/.cache/mnn-peers}"
MODELS="${MNN_MODELS:-$(cd "$HERE/../.." && pwd)/shared/models}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "mnn==3.6.1" openvino onnxruntime numpy
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("mnn", "openvino", "onnxruntime", "numpy"):
    print(f"{name} {md.version(name)}")
PY

# Convert with the native converter, not the `mnnconvert` script: that script's usage logger
# pip-installs an SDK into whatever environment `pip` on PATH belongs to (see CONVERT in bench_peers.py).
"$VENV/bin/python" "$HERE/bench_peers.py" --convert-only --dir "$MODELS" \
    --peers-venv "$VENV" --mnn-cache "$CACHE"
echo "peers venv: $VENV"
echo "MNN models: $CACHE"
