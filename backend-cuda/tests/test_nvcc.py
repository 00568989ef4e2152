"""The kernel sources are valid CUDA: nvcc compiles each to PTX (skipped without nvcc)."""
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
KERNELS = sorted((CSRC / "kernels").glob("*.cu"))


def test_kernel_files_exist():
    assert {p.stem for p in KERNELS} >= {"conv", "gemm", "pool", "elementwise", "normalization", "copy", "resize"}


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
def test_nvcc_compiles_every_kernel_file(tmp_path):
    # One nvcc call for all files keeps this to a few seconds; compute_90 is the PTX the build ships.
    result = subprocess.run(["nvcc", "--ptx", "-arch=compute_90", "-std=c++17", f"-I{CSRC}", "-odir", str(tmp_path),
                             *map(str, KERNELS)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for kernel in KERNELS:
        ptx = (tmp_path / f"{kernel.stem}.ptx").read_text()
        assert ".entry" in ptx, f"no kernel entry in {kernel.name}"
