"""Metal backend checks that run without Metal: the probe, the MSL sources compiled as C++ against a
shim (a syntax and type check only), host/shader agreement on parameter layouts and buffer slots, the
lowering, and SPIR-V -> MSL translation of the Vulkan backend's shaders when spirv-cross is present."""
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnn_backend_metal.backend import SHADERS, MetalFactory, library_source
from mnn_backend_metal.lowering import PARAMS, Env, lower
from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType

SHIM = Path(__file__).parent / "msl_shim"
METAL_FILES = sorted(SHADERS.glob("*.metal"))
CXX = shutil.which("clang++") or shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler (clang++ or g++)")


def compile_as_cpp(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CXX, "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-attributes", "-Wno-unknown-pragmas",
                           "-Wno-unknown-attributes", "-x", "c++", f"-I{SHIM}", f"-I{SHADERS}", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the probe looks for a real device")
def test_probe_reports_metal_requires_macos():
    probe = MetalFactory().probe()
    assert not probe.available and probe.unavailable_reason == "Metal requires macOS"


def test_every_op_family_has_a_kernel():
    names = set(re.findall(r"kernel void (\w+)\(", library_source()))
    assert names == {"unary", "binary", "conv2d", "gemm", "pool2d", "reduce_axis", "softmax", "layernorm"}


@needs_cxx
@pytest.mark.parametrize("path", METAL_FILES, ids=lambda p: p.name)
def test_msl_compiles_as_cpp_against_the_shim(path):
    result = compile_as_cpp(path)
    assert result.returncode == 0, result.stderr


@needs_cxx
def test_shim_check_rejects_broken_msl(tmp_path):
    bad = tmp_path / "bad.metal"
    bad.write_text('#include "mnn_common.h"\nkernel void bad(device float* y [[buffer(0)]], '
                   'uint i [[thread_position_in_grid]]) { y[i] = erf(y[i]); }\n')  # MSL has no erf
    assert compile_as_cpp(bad).returncode != 0


@needs_cxx
def test_param_layouts_and_library_source_agree_with_the_host(tmp_path):
    # The single source the host hands to Metal must compile, and every parameter struct must have the
    # size the host packs (all fields are 4 bytes, so C++ and MSL lay them out alike).
    src = tmp_path / "library.metal"
    asserts = "".join(f"static_assert(sizeof({name}) == {struct.calcsize(fmt)}, \"{name}\");\n"
                      for name, (_, fmt) in PARAMS.items())
    src.write_text(library_source() + "\n" + asserts)
    result = compile_as_cpp(src)
    assert result.returncode == 0, result.stderr


def signature_slots(kernel: str) -> int:
    match = re.search(rf"kernel void {kernel}\((.*?)\)\s*{{", library_source(), re.S)
    return len(re.findall(r"\[\[buffer\(\d+\)\]\]", match.group(1)))


def test_lowering_binds_the_slots_each_kernel_declares():
    rng = np.random.default_rng(0)
    f32 = lambda *s: TensorType(DType.F32, s)
    types = {"x": f32(1, 3, 8, 8), "c": f32(1, 4, 8, 8), "p": f32(1, 4, 4, 4), "g": f32(1, 4, 1, 1),
             "f": f32(1, 4), "m": f32(1, 5), "s": f32(1, 5), "n": f32(1, 5), "a": f32(1, 5), "r": f32(1, 5), "wg": f32(4, 5), "gamma": f32(5)}
    values = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "b": np.zeros(4, np.float32),
              "wg": rng.standard_normal((4, 5)).astype(np.float32), "gamma": np.ones(5, np.float32)}
    env = Env(types, values)
    nodes = [Node("Conv", ["x", "w", "b"], ["c"], {"pads": [1, 1, 1, 1], "activation": "Relu"}),
             Node("MaxPool", ["c"], ["p"], {"kernel_shape": [2, 2], "strides": [2, 2]}),
             Node("GlobalAveragePool", ["c"], ["g"]), Node("Reshape", ["g", ""], ["f"]),
             Node("MatMul", ["f", "wg"], ["m"]), Node("Softmax", ["m"], ["s"]),
             Node("LayerNormalization", ["s", "gamma"], ["n"]), Node("Add", ["n", "m"], ["a"]),
             Node("Relu", ["a"], ["r"])]
    kernels = []
    for node in nodes:
        for d in lower(node, env):
            if d.kernel == "alias":
                continue
            kernels.append(d.kernel)
            assert len(d.buffers) == signature_slots(d.kernel) - 1, d.kernel  # the last slot: params
            fmt = next(f for k, f in PARAMS.values() if k == d.kernel)
            assert len(d.params) == struct.calcsize(fmt)
    assert kernels == ["conv2d", "pool2d", "reduce_axis", "gemm", "softmax", "layernorm", "binary", "unary"]
    conv = struct.unpack(PARAMS["ConvParams"][1], lower(nodes[0], env)[0].params)
    assert conv[:7] == (1, 3, 8, 8, 4, 8, 8) and conv[16:18] == (1, 1)  # geometry, act=Relu, has_bias


def vulkan_spirv() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "backend-vulkan"
    return sorted(root.glob("build/**/*.spv"))[:24] if root.exists() else []


@pytest.mark.skipif(shutil.which("spirv-cross") is None, reason="spirv-cross is not installed")
def test_vulkan_spirv_translates_to_msl(tmp_path):
    modules = vulkan_spirv()
    if not modules:
        pytest.skip("backend-vulkan has no built SPIR-V shaders")
    for spv in modules:
        result = subprocess.run(["spirv-cross", "--msl", "--msl-version", "20300", str(spv)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, f"{spv.name}: {result.stderr}"
        assert "kernel void" in result.stdout, spv.name
