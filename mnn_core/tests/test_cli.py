"""The `mnn` command line (through `mnn_core.cli.main`), model statistics and the demo model."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mnn_core
from mnn_core.cli import main
from mnn_core.demo import DEMO_MODEL
from mnn_core.dtypes import DType
from mnn_core.format import save
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.stats import model_stats, node_cost


def has_onnx_frontend() -> bool:
    return mnn_core.default_context().frontends.for_source(DEMO_MODEL) is not None


needs_onnx = pytest.mark.skipif(not has_onnx_frontend(), reason="mnn-frontend-onnx is not installed")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_mnn(tmp_path):
    """A model made of core ops only, so these tests need no frontend."""
    graph = Graph(
        nodes=[Node("Add", ["x", "bias"], ["sum"], name="add"), Node("Relu", ["sum"], ["y"], name="relu"),
               Node("Add", ["ids", "ids"], ["twice"], name="ids2")],
        inputs=["x", "ids"], outputs=["y", "twice"],
        types={"x": TensorType(DType.F32, ("batch", 4)), "ids": TensorType(DType.I64, (3,))},
        constants={"bias": np.arange(4, dtype=np.float32)})
    return save(graph, tmp_path / "small.mnn")


def test_plugins_reports_plugins_and_backend_devices(capsys):
    code, out, _ = run_cli(capsys, "plugins")
    assert code == 0
    assert "reference" in out and "loaded" in out and "numpy (cpu, host)" in out


def test_info_prints_inputs_ops_params_and_flops(capsys, small_mnn):
    code, out, _ = run_cli(capsys, "info", small_mnn, "-v")
    assert code == 0
    assert "x: f32[batchx4]" in out and "ids: i64[3]" in out
    assert "params: 4 " in out and "Add 2" in out
    assert "node(s) of unknown cost" in out  # the symbolic batch leaves two nodes unsized


def test_run_makes_random_inputs_and_accepts_npy(capsys, small_mnn, tmp_path):
    code, out, _ = run_cli(capsys, "run", small_mnn, "--seed", "3")
    assert code == 0
    assert "output y: f32[1x4]" in out and "output twice: i64[3]" in out
    ids_line = next(line for line in out.splitlines() if line.startswith("input  ids"))
    assert "min=" in ids_line and float(ids_line.split("min=")[1].split()[0]) >= 0
    np.save(tmp_path / "x.npy", np.full((2, 4), -10, np.float32))
    code, out, _ = run_cli(capsys, "run", small_mnn, "--input", f"x={tmp_path / 'x.npy'}",
                           "--save", tmp_path / "out.npz")
    assert code == 0 and "output y: f32[2x4] min=0 max=0" in out
    saved = np.load(tmp_path / "out.npz")
    assert saved["y"].shape == (2, 4)


@pytest.mark.parametrize("argv, message", [
    (["run", "{missing}"], "no such file"),
    (["run", "{small}", "--input", "nope={npy}"], "no input named 'nope'"),
    (["run", "{small}", "--input", "x={npy_bad_shape}"], "expected f32[batchx4]"),
    (["run", "{small}", "--input", "x={npy_bad_dtype}"], "has dtype float64"),
    (["info", "{corrupt}"], "checksum"),
    (["plan", "{not_mnn}"], "wrong magic"),
])
def test_errors_print_one_line_and_exit_2(capsys, small_mnn, tmp_path, argv, message):
    np.save(tmp_path / "ok.npy", np.zeros((1, 4), np.float32))
    np.save(tmp_path / "bad_shape.npy", np.zeros((1, 5), np.float32))
    np.save(tmp_path / "bad_dtype.npy", np.zeros((1, 4), np.float64))
    corrupt = tmp_path / "corrupt.mnn"
    data = bytearray(small_mnn.read_bytes())
    data[-1] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    not_mnn = tmp_path / "other.mnn"
    not_mnn.write_bytes(b"PK\x03\x04" + bytes(300))
    paths = {"missing": tmp_path / "missing.mnn", "small": small_mnn, "npy": tmp_path / "ok.npy",
             "npy_bad_shape": tmp_path / "bad_shape.npy", "npy_bad_dtype": tmp_path / "bad_dtype.npy",
             "corrupt": corrupt, "not_mnn": not_mnn}
    code, out, err = run_cli(capsys, *[a.format(**paths) for a in argv])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_debug_shows_the_traceback(capsys, tmp_path):
    code, _, err = run_cli(capsys, "info", tmp_path / "missing.mnn", "--debug")
    assert code == 2 and "Traceback" in err


def test_usage_errors_return_2(capsys):
    assert run_cli(capsys, "no-such-command")[0] == 2
    assert run_cli(capsys, "run")[0] == 2


def test_plan_bench_and_profile_on_core_ops(capsys, small_mnn, tmp_path):
    code, out, _ = run_cli(capsys, "plan", small_mnn, "--backends", "reference")
    assert code == 0 and "segment 0: reference" in out
    code, out, _ = run_cli(capsys, "bench", small_mnn, "--warmup", "1", "--runs", "5", "--threads", "1",
                           "--json", tmp_path / "b.json")
    assert code == 0
    assert "median" in out and "p10" in out and "p90" in out and "process peak RSS" in out
    figures = json.loads((tmp_path / "b.json").read_text())
    assert figures["p10_ms"] <= figures["median_ms"] <= figures["p90_ms"]
    code, out, _ = run_cli(capsys, "profile", small_mnn, "--runs", "2", "--trace", tmp_path / "t.json")
    assert code == 0 and "Relu" in out
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


def test_compare_needs_an_onnx_source(capsys, small_mnn):
    code, _, err = run_cli(capsys, "bench", small_mnn, "--runs", "1", "--compare", "onnxruntime")
    assert code == 2 and "needs an ONNX model" in err


# ---- statistics --------------------------------------------------------------------------------
def test_node_costs_of_contractions():
    matmul = Node("MatMul", ["a", "b"], ["y"])
    assert node_cost(matmul, [(2, 8, 16), (16, 4)], [(2, 8, 4)]) == (2 * 8 * 4 * 16, 2 * 2 * 8 * 4 * 16)
    gemm = Node("Gemm", ["a", "b"], ["y"], {"transA": 1})
    assert node_cost(gemm, [(16, 3), (16, 5)], [(3, 5)])[0] == 3 * 5 * 16
    conv_t = Node("ConvTranspose", ["x", "w"], ["y"], {"group": 1})
    assert node_cost(conv_t, [(1, 4, 5, 5), (4, 6, 3, 3)], [(1, 6, 7, 7)])[0] == 4 * 25 * 6 * 9
    einsum = Node("Einsum", ["a", "b"], ["y"], {"equation": "...ij,jk->...ik"})
    assert node_cost(einsum, [(3, 2, 5), (5, 7)], [(3, 2, 7)])[0] == 3 * 2 * 5 * 7
    attention = Node("Attention", ["q", "k", "v"], ["y"])
    assert node_cost(attention, [(1, 4, 10, 8), (1, 4, 12, 8), (1, 4, 12, 8)], [(1, 4, 10, 8)])[0] == \
        4 * 10 * 12 * 8 * 2
    assert node_cost(Node("Reshape", ["x", "s"], ["y"]), [(4, 4), (1,)], [(16,)]) == (0, 0)
    assert node_cost(Node("Relu", ["x"], ["y"]), [("n", 4)], [None]) == (None, None)


@needs_onnx
def test_demo_model_stats():
    model = mnn_core.load(DEMO_MODEL)
    from mnn_core.shape_inference import infer_types

    types, _ = infer_types(model.graph, model.context.ops)
    stats = model_stats(model.graph, types)
    # stem 16x32x32x27 + depthwise 16x32x32x9 + pointwise 16x32x32x16 + down 32x16x16x144 + fc 32x10
    assert stats.macs == 442368 + 147456 + 262144 + 1179648 + 320
    assert stats.unknown == 0 and stats.flops >= 2 * stats.macs
    assert 5000 < stats.params < 7000


# ---- with the ONNX frontend --------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_mnn(tmp_path_factory):
    if not has_onnx_frontend():
        pytest.skip("mnn-frontend-onnx is not installed")
    out = tmp_path_factory.mktemp("demo") / "tiny.mnn"
    assert main(["convert", str(DEMO_MODEL), "-o", str(out)]) == 0
    return out


def test_demo_model_is_small_and_reproducible(tmp_path):
    pytest.importorskip("onnx")
    from mnn_core.demo.make_demo_model import main as make

    assert make([str(tmp_path / "again.onnx")]) == 0
    assert (tmp_path / "again.onnx").read_bytes() == DEMO_MODEL.read_bytes()
    assert DEMO_MODEL.stat().st_size < 300_000


@needs_onnx
def test_convert_check_and_dump_passes(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "convert", DEMO_MODEL, "--check")
    assert code == 0 and "Conv x4" in out and "every op is supported" in out
    assert not list(tmp_path.iterdir())
    code, out, _ = run_cli(capsys, "convert", DEMO_MODEL, "-o", tmp_path / "m.mnn", "--dump-passes")
    assert code == 0 and "pass " in out and "->" in out and (tmp_path / "m.mnn").exists()


@needs_onnx
def test_convert_check_reports_unsupported_ops(capsys, tmp_path):
    from onnx import TensorProto, helper, save_model

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Frobnicate", ["r"], ["y"], domain="com.example")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    path = tmp_path / "odd.onnx"
    save_model(model, path)
    code, out, _ = run_cli(capsys, "convert", path, "--check")
    assert code == 1 and "Frobnicate" in out
    code, _, err = run_cli(capsys, "convert", path, "-o", tmp_path / "odd.mnn")
    assert code == 2 and "Frobnicate" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "odd.mnn").exists()


@needs_onnx
def test_info_and_run_on_converted_demo(capsys, demo_mnn):
    code, out, _ = run_cli(capsys, "info", demo_mnn)
    assert code == 0 and "image: f32[1x3x64x64]" in out and "probs: f32[1x10]" in out
    assert "source_path:" in out and "FLOPs: 4." in out
    code, out, _ = run_cli(capsys, "run", demo_mnn)
    assert code == 0 and "output probs: f32[1x10]" in out


@needs_onnx
def test_compare_and_bench_against_onnxruntime(capsys, demo_mnn):
    pytest.importorskip("onnxruntime")
    code, out, _ = run_cli(capsys, "compare", demo_mnn)
    assert code == 0
    cosine = float(out.split("cosine similarity ")[1].split(",")[0])
    assert cosine > 0.9999
    code, out, _ = run_cli(capsys, "bench", demo_mnn, "--warmup", "1", "--runs", "3", "--threads", "1",
                           "--compare", "onnxruntime")
    assert code == 0 and "onnxruntime: median" in out and "ratio mnn/onnxruntime" in out


@needs_onnx
def test_demo_command(capsys):
    code, out, _ = run_cli(capsys, "demo", "--runs", "2")
    assert code == 0
    assert "plan:" in out and "output probs" in out and "median latency" in out
