"""ONNX frontend: opset normalisation, unsupported-op reports, corrupt files, subgraphs, function
inlining and an end-to-end run, each checked against onnxruntime where numbers are involved."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mnn_core
from mnn_core.ops import standard_ops
from mnn_core.ops.schema import OpRegistry
from mnn_core.reference import Interpreter
from mnn_frontend_onnx import OnnxFrontend

ort = pytest.importorskip("onnxruntime")
F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def model_of(nodes, inputs, outputs, opset, initializers=(), functions=(), extra_opsets=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    imports = [helper.make_opsetid("", opset), *extra_opsets]
    ir = 7 if opset < 13 else 8 if opset < 15 else 10
    return helper.make_model(graph, opset_imports=imports, functions=list(functions), ir_version=ir)


def vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def run_both(model, feeds, ops=None):
    """(mnn outputs, onnxruntime outputs) for the same feeds."""
    graph = OnnxFrontend(ops).convert(model)
    ours = Interpreter(graph, standard_ops()).run(feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = sess.run(None, feeds)
    return graph, ours, theirs


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


X = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)

# (name, node, opset, expected IR op, expected IR input count)
LEGACY = [
    ("reduce_sum_axes_attr", helper.make_node("ReduceSum", ["x"], ["y"], axes=[1, 3], keepdims=0), 11,
     "ReduceSum", 2),
    ("reduce_mean_axes_attr", helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1]), 13, "ReduceMean", 2),
    ("squeeze_axes_attr", helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, 5]), 11, "Unsqueeze", 2),
    ("slice_attrs", helper.make_node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, -1], axes=[2, 3]), 9,
     "Slice", 4),
    ("pad_attrs", helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 1, 2, 0, 0, 2, 1], value=1.5), 10,
     "Pad", 3),
    ("clip_attrs", helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.25), 10, "Clip", 3),
    ("topk_attr", helper.make_node("TopK", ["x"], ["y", "i"], k=2, axis=1), 9, "TopK", 2),
    ("softmax_2d_coercion", helper.make_node("Softmax", ["x"], ["y"], axis=1), 11, "Softmax", 1),
    ("logsoftmax_last_axis", helper.make_node("LogSoftmax", ["x"], ["y"], axis=3), 11, "LogSoftmax", 1),
    ("upsample_to_resize", helper.make_node("Upsample", ["x", "s"], ["y"], mode="nearest"), 9, "Resize", 3),
    ("resize_10_asymmetric", helper.make_node("Resize", ["x", "s"], ["y"], mode="linear"), 10, "Resize", 3),
    ("split_attr", helper.make_node("Split", ["x"], ["a", "b"], axis=3, split=[2, 3]), 11, "Split", 2),
    ("split_equal", helper.make_node("Split", ["x"], ["a", "b"], axis=2), 13, "Split", 1),
]


@pytest.mark.parametrize("name,node,opset,ir_op,n_inputs", LEGACY, ids=[c[0] for c in LEGACY])
def test_legacy_forms_are_normalised(name, node, opset, ir_op, n_inputs):
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")] if "s" in node.input else []
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output]
    model = model_of([node], [vi("x", X.shape)], outputs, opset, inits)
    graph, ours, theirs = run_both(model, {"x": X})
    main = [n for n in graph.nodes if n.op == ir_op]
    assert len(main) == 1 and len(main[0].inputs) == n_inputs, graph.nodes
    assert not {"axes", "starts", "pads", "min", "k", "split", "scales"} & set(main[0].attrs)
    assert_same(ours, theirs)


def test_batchnorm_and_dropout_opset7_drop_legacy_attributes():
    c = 3
    params = [numpy_helper.from_array(RNG.random(c).astype(np.float32) + 0.5, n)
              for n in ("scale", "bias", "mean", "var")]
    bn = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["b"], spatial=1,
                          epsilon=1e-3)
    drop = helper.make_node("Dropout", ["b"], ["y"], ratio=0.3)
    model = model_of([bn, drop], [vi("x", X.shape)], [vi("y", X.shape)], 7, params)
    graph, ours, theirs = run_both(model, {"x": X})
    assert "spatial" not in graph.nodes[0].attrs
    assert graph.nodes[1].op == "Dropout" and "ratio" not in graph.nodes[1].attrs
    assert_same(ours, theirs)


def test_cast_to_becomes_dtype_string_and_unnamed_nodes_get_unique_names():
    nodes = [helper.make_node("Cast", ["x"], ["c"], to=TensorProto.INT64),
             helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)]
    graph = OnnxFrontend().convert(model_of(nodes, [vi("x", [2])], [vi("y", [2])], 17))
    assert [n.attrs["to"] for n in graph.nodes] == ["i64", "f32"]
    assert len({n.name for n in graph.nodes}) == 2 and all(n.name for n in graph.nodes)


def test_unsupported_ops_are_listed_at_once():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("Frobnicate", ["a"], ["b"], name="custom", domain="acme"),
             helper.make_node("StringSplit", ["a"], ["c", "d"], name="strings")]
    model = model_of(nodes, [vi("x", [2])], [helper.make_empty_tensor_value_info("b")], 20,
                     extra_opsets=[helper.make_opsetid("acme", 1)])
    with pytest.raises(mnn_core.ConversionError) as info:
        OnnxFrontend().convert(model)
    found = {(u.op, u.node) for u in info.value.unsupported}
    assert found == {("Frobnicate", "custom"), ("StringSplit", "strings")}
    assert "Frobnicate" in str(info.value) and "StringSplit" in str(info.value)
    report = OnnxFrontend().check(model)
    assert not report.ok and {u.op for u in report.unsupported} == {"Frobnicate", "StringSplit"}
    assert report.ops == {"Relu": 1, "Frobnicate": 1, "StringSplit": 1}


def test_corrupt_and_truncated_files_name_the_file(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xff not a protobuf \x12\x99" * 7)
    good = model_of([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], 17)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.SerializeToString()[:-9])
    for path in (garbage, truncated, tmp_path / "missing.onnx"):
        with pytest.raises(mnn_core.ConversionError, match=path.name):
            OnnxFrontend().convert(path)


def test_if_loop_scan_subgraphs_with_constants_and_outer_names():
    # If: branches hold Constant nodes and read the outer "x".
    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.float32(2))),
         helper.make_node("Mul", ["x", "two"], ["t"])], "then", [], [vi("t", [3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", [3])])
    # Loop: 3 iterations, carried sum and a scan output of each partial sum.
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Add", ["acc_in", "x"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["scan_out"])], "body",
        [vi("i", [], TensorProto.INT64), vi("c_in", [], TensorProto.BOOL), vi("acc_in", [3])],
        [vi("c_out", [], TensorProto.BOOL), vi("acc_out", [3]), vi("scan_out", [3])])
    # Scan: running sum over the rows of m, reversed output direction.
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "row"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["y"])],
        "scan_body", [vi("s_in", [2]), vi("row", [2])], [vi("s_out", [2]), vi("y", [2])])
    nodes = [helper.make_node("If", ["cond"], ["r_if"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Loop", ["n", "", "zero"], ["r_loop", "r_scan"], body=body),
             helper.make_node("Scan", ["s0", "m"], ["r_state", "r_rows"], body=scan_body, num_scan_inputs=1,
                              scan_output_directions=[1])]
    inits = [numpy_helper.from_array(np.array(3, np.int64), "n"),
             numpy_helper.from_array(np.zeros(3, np.float32), "zero"),
             numpy_helper.from_array(np.zeros(2, np.float32), "s0")]
    model = model_of(nodes, [vi("x", [3]), vi("cond", [], TensorProto.BOOL), vi("m", [4, 2])],
                     [vi("r_if", [3]), vi("r_loop", [3]), vi("r_scan", [3, 3]), vi("r_state", [2]),
                      vi("r_rows", [4, 2])], 17, inits)
    x = np.arange(3, dtype=np.float32)
    m = RNG.standard_normal((4, 2)).astype(np.float32)
    for cond in (True, False):
        graph, ours, theirs = run_both(model, {"x": x, "cond": np.array(cond), "m": m})
        assert_same(ours, theirs)
    branch = graph.nodes[0].attrs["then_branch"]
    assert isinstance(branch, mnn_core.Graph) and "two" in branch.constants


def test_functions_are_inlined_local_and_schema():
    # A model-local function in a custom domain, and Celu (an ONNX function op) hidden from the IR.
    fn = helper.make_function(
        "acme", "Swish", ["a"], ["b"],
        [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])],
        opset_imports=[helper.make_opsetid("", 17)])
    nodes = [helper.make_node("Swish", ["x"], ["h"], domain="acme"),
             helper.make_node("Celu", ["h"], ["y"], alpha=0.7)]
    model = model_of(nodes, [vi("x", X.shape)], [vi("y", X.shape)], 17, functions=[fn],
                     extra_opsets=[helper.make_opsetid("acme", 1)])
    without_celu = OpRegistry(s for s in standard_ops() if s.name != "Celu")
    graph, ours, theirs = run_both(model, {"x": X}, ops=without_celu)
    ops = {n.op for n in graph.nodes}
    assert "Swish" not in ops and "Celu" not in ops and "Sigmoid" in ops
    assert_same(ours, theirs)


def test_sparse_initializer_and_external_data(tmp_path):
    w = RNG.standard_normal((4, 4)).astype(np.float32)
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(np.array([5.0, -1.0], np.float32), "sp"),
                                       numpy_helper.from_array(np.array([1, 6], np.int64)), [2, 4])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["m"]),
                               helper.make_node("Add", ["m", "sp"], ["y"])], "g",
                              [vi("x", [2, 4])], [vi("y", [2, 4])],
                              initializer=[numpy_helper.from_array(w, "w")], sparse_initializer=[sparse])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    converted = OnnxFrontend().convert(path)
    np.testing.assert_array_equal(converted.constants["w"], w)
    np.testing.assert_array_equal(converted.constants["sp"], [[0, 5, 0, 0], [0, 0, -1, 0]])


def test_small_model_end_to_end_through_the_plugin_system(tmp_path):
    conv_w = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.2
    fc_w = RNG.standard_normal((8, 10)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("MatMul", ["f", "fw"], ["l"]),
             helper.make_node("Softmax", ["l"], ["y"], axis=1)]
    model = model_of(nodes, [vi("x", ["batch", 3, 16, 16])], [vi("y", ["batch", 10])], 11,
                     [numpy_helper.from_array(conv_w, "cw"), numpy_helper.from_array(fc_w, "fw")])
    path = tmp_path / "small.onnx"
    onnx.save(model, str(path))
    context = mnn_core.Context()
    frontend = context.frontends.for_source(str(path))
    assert isinstance(frontend, OnnxFrontend)
    assert frontend.accepts(model) and frontend.accepts(model.SerializeToString())
    assert not frontend.accepts(b"TFL3 not onnx")
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    loaded = mnn_core.load(str(path), context)
    assert loaded.graph.types["x"].shape == ("batch", 3, 16, 16)
    ours = loaded.session(backends=["reference"]).run({"x": x})["y"]
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
