#!/usr/bin/env bash
# Sets up a checkout: system packages the GPU backends run on (PoCL for OpenCL, Mesa's lavapipe for
# Vulkan, glslang and spirv-cross for shader builds) and the aarch64 cross compiler with qemu-user
# (the CPU backend's NEON kernels are checked under emulation) when run as root with apt, then .venv with every
# mnn distribution installed from this checkout (non-editable, as users get them) and the test tools.
# Usage: scripts/setup.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"

SYSTEM_PACKAGES=(pocl-opencl-icd ocl-icd-opencl-dev opencl-headers mesa-vulkan-drivers libvulkan-dev
                 glslang-tools spirv-cross g++-aarch64-linux-gnu qemu-user)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "not root or no apt: skipping system packages (${SYSTEM_PACKAGES[*]}); GPU backends will report themselves unavailable"
fi

python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
packages=(./mnn_core ./plugins/frontend-onnx)
for dir in backend-*/; do
  [ -f "$dir/pyproject.toml" ] && packages+=("./${dir%/}")
done
"$venv/bin/python" -m pip install -q "${packages[@]}" pytest onnxruntime tox
echo "installed into $venv: ${packages[*]}"
