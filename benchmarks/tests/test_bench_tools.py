"""Fast checks of the benchmark tooling on a tiny generated model (a few seconds in all)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

BENCH = Path(__file__).resolve().parents[1]


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_peers = _module("bench_peers")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """A folder with one small CNN: Conv+Relu, global pool, Gemm."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
               (("w", (16, 3, 3, 3)), ("b", (16,)), ("fc_w", (10, 16)), ("fc_b", (10,)))]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["output"], transB=1)]
    graph = helper.make_graph(nodes, "tiny",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("models")
    onnx.save(model, folder / "tiny_cnn.onnx")
    return folder


def _run(folder: Path, tmp_path: Path, engines: str, capsys, *extra) -> list[dict]:
    out = tmp_path / "rows.json"
    code = bench_peers.main(["--dir", str(folder), "--engines", engines, "--threads", "1", "--rounds", "2",
                             "--runs", "2", "--warmup", "1", "--json", str(out), *extra])
    assert code == 0
    text = capsys.readouterr().out
    assert "| tiny_cnn | 1 |" in text
    return json.loads(out.read_text())


def test_mnn_and_ort_interleaved(tiny_models, tmp_path, capsys):
    [row] = _run(tiny_models, tmp_path, "mnn,ort", capsys)
    for engine in ("mnn", "ort"):
        result = row["engines"][engine]
        assert "error" not in result, result
        assert result["runs"] == 4 and result["median_ms"] > 0
        assert result["busy_cores"] <= 1.1  # one thread means at most one busy core
        assert result["cosine"] > 0.9999  # both ran the same model on the same inputs
    assert row["engines"]["mnn"]["placement"].startswith("cpu")


def test_peers_venv(tiny_models, tmp_path, capsys):
    if not (bench_peers.DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no peers venv at {bench_peers.DEFAULT_VENV} (benchmarks/setup_peers.sh makes it)")
    [row] = _run(tiny_models, tmp_path, "ort,mnn361,openvino", capsys, "--mnn-cache", str(tmp_path / "cache"))
    for engine in ("mnn361", "openvino"):
        result = row["engines"][engine]
        assert "error" not in result, result
        assert result["cosine"] > 0.9999 and result["busy_cores"] <= 1.1


def test_missing_engine_is_reported_not_fatal(tiny_models, tmp_path, capsys):
    [row] = _run(tiny_models, tmp_path, "mnn,ort,mnn361", capsys, "--peers-venv", str(tmp_path / "none"))
    assert "no peers venv" in row["engines"]["mnn361"]["error"]
    assert row["engines"]["ort"]["median_ms"] > 0  # ORT falls back to this interpreter


def test_markdown_ratios():
    def result(ms):
        return {"median_ms": ms, "p10_ms": ms, "p90_ms": ms, "runs": 4, "busy_cores": 2.5, "cosine": 0.5}

    rows = [{"model": "m", "threads": 2, "engines": {"mnn": result(10.0), "ort": result(5.0),
                                                      "mnn361": {"error": "boom"}, "openvino": result(4.0)}}]
    text = bench_peers.markdown(rows, list(bench_peers.ENGINES))
    assert "| m | 2 | 10.00 | 5.00 | error | 4.00 | 2.00 | - | 2.50 | 2.50 (OpenVINO) |" in text
    assert "**over cap**" in text and "**mismatch**" in text and "error: boom" in text


def test_profile_ops(tiny_models, capsys):
    profile_ops = _module("profile_ops")
    assert profile_ops.main([str(tiny_models / "tiny_cnn.onnx"), "--runs", "2", "--peak", "100"]) == 0
    text = capsys.readouterr().out
    conv = next(line for line in text.splitlines() if line.split()[1:2] == ["Conv"])
    # 16x32x32 outputs x 27 MACs x 2 FLOPs (+ the fused Relu's 16x32x32) = 0.000901 GFLOP
    assert conv.split()[5] == "0.001" and float(conv.split()[6]) > 0
    assert "heaviest" in text
