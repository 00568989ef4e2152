"""RNN, GRU and LSTM against onnx.reference (default attributes) and onnxruntime (sequence_lens,
clip, activations, input_forget, linear_before_reset, which onnx.reference ignores). onnxruntime
has no batchwise layout, so layout=1 is checked against its layout=0 result transposed."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext
from mnn_core.testing.op_oracle import OPS, check, rand

ort = pytest.importorskip("onnxruntime")

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
OUTPUTS = {"RNN": 2, "GRU": 2, "LSTM": 3}
SEQ, BATCH, INPUT, HIDDEN = 5, 3, 7, 4


def ort_run(op, inputs, attrs, num_outputs):
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    outs = [f"y{i}" for i in range(num_outputs)]
    graph = helper.make_graph(
        [helper.make_node(op, names, outs, **attrs)], "one",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
         for n, x in zip(names, inputs) if n],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)], ir_version=10)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {n: x for n, x in zip(names, inputs) if n})


def layer_inputs(op, direction, *, bias=True, lens=None, initial=True, peepholes=False):
    """Time-major inputs with omitted optional ones as None (trailing Nones dropped)."""
    dirs, gates = (2 if direction == "bidirectional" else 1), GATES[op]
    inputs = [rand(SEQ, BATCH, INPUT), rand(dirs, gates * HIDDEN, INPUT, low=-0.6, high=0.6),
              rand(dirs, gates * HIDDEN, HIDDEN, low=-0.6, high=0.6),
              rand(dirs, 2 * gates * HIDDEN) if bias else None,
              None if lens is None else np.array(lens, np.int32),
              rand(dirs, BATCH, HIDDEN) if initial else None]
    if op == "LSTM":
        inputs += [rand(dirs, BATCH, HIDDEN) if initial else None,
                   rand(dirs, 3 * HIDDEN) if peepholes else None]
    while inputs[-1] is None:
        inputs.pop()
    return inputs


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_against_onnx_reference(op, direction):
    inputs = layer_inputs(op, direction, peepholes=True)
    check(op, inputs, {"hidden_size": HIDDEN, "direction": direction},
          num_outputs=OUTPUTS[op], rtol=1e-5, atol=1e-5)
    check(op, layer_inputs(op, direction, bias=False, initial=False), {"hidden_size": HIDDEN,
          "direction": direction}, num_outputs=OUTPUTS[op], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op,extra", [
    ("RNN", {}), ("GRU", {"linear_before_reset": 0}), ("GRU", {"linear_before_reset": 1}),
    ("LSTM", {"input_forget": 0}), ("LSTM", {"input_forget": 1})])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_sequence_lens_clip_and_gate_options(op, extra, direction):
    """Entries of length 5, 2 and 0: padding steps are zero and states stop at each entry's end."""
    inputs = layer_inputs(op, direction, lens=[5, 2, 0], peepholes=True)
    attrs = {"hidden_size": HIDDEN, "direction": direction, "clip": 1.25, **extra}
    ys = check(op, inputs, attrs, num_outputs=OUTPUTS[op],
               expected=ort_run(op, inputs, attrs, OUTPUTS[op]), atol=1e-5)
    assert not ys[0][2:, :, 1].any() and not ys[0][:, :, 2].any()


@pytest.mark.parametrize("op,activations,alpha,beta", [
    ("RNN", ["LeakyRelu", "ScaledTanh"], [0.3, 0.7], [1.4]),
    ("RNN", ["Relu"], [], []),
    ("GRU", ["HardSigmoid", "Softsign", "Sigmoid", "Elu"], [0.3, 0.6], [0.4]),
    ("LSTM", ["Sigmoid", "Affine", "Softplus", "HardSigmoid", "Tanh", "ThresholdedRelu"],
     [0.8, 0.25, 0.1], [0.2, 0.3])])
def test_activations_consume_alpha_beta_in_order(op, activations, alpha, beta):
    direction = "bidirectional" if len(activations) > {"RNN": 1, "GRU": 2, "LSTM": 3}[op] else "forward"
    inputs = layer_inputs(op, direction)
    attrs = {"hidden_size": HIDDEN, "direction": direction, "activations": activations,
             "activation_alpha": alpha, "activation_beta": beta}
    attrs = {k: v for k, v in attrs.items() if v != []}
    check(op, inputs, attrs, num_outputs=OUTPUTS[op],
          expected=ort_run(op, inputs, attrs, OUTPUTS[op]), atol=1e-5)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_batchwise_layout(op):
    inputs = layer_inputs(op, "bidirectional", lens=[3, 5, 1], peepholes=True)
    attrs = {"hidden_size": HIDDEN, "direction": "bidirectional"}
    time_major = ort_run(op, inputs, attrs, OUTPUTS[op])
    batchwise = [x.transpose(1, 0, 2) if i in (0, 5, 6) else x for i, x in enumerate(inputs)]
    expected = [time_major[0].transpose(2, 0, 1, 3)] + [s.transpose(1, 0, 2) for s in time_major[1:]]
    check(op, batchwise, {**attrs, "layout": 1}, num_outputs=OUTPUTS[op], expected=expected, atol=1e-5)


def test_half_precision_keeps_dtype_and_optional_outputs():
    inputs = [x if x is None else x.astype(np.float16) for x in layer_inputs("GRU", "forward")]
    (y,) = check("GRU", inputs, {"hidden_size": HIDDEN}, num_outputs=1, rtol=1e-2, atol=1e-2)
    assert y.dtype == np.float16 and y.shape == (SEQ, 1, BATCH, HIDDEN)


def test_infer_symbolic_and_hidden_from_r():
    f32 = DType.F32
    x = TensorType(f32, ("T", "N", INPUT))
    r = TensorType(f32, (2, 4 * HIDDEN, HIDDEN))
    node = Node("LSTM", ["x", "w", "r"], ["y", "y_h", "y_c"], {"direction": "bidirectional", "layout": 1})
    schema = OPS.get("LSTM")
    types = schema.infer(InferContext(node, [x, None, r], schema.resolve_attrs(node), [None] * 3))
    assert types == [TensorType(f32, ("T", "N", 2, HIDDEN))] + [TensorType(f32, ("T", 2, HIDDEN))] * 2
    with pytest.raises(Exception, match="sideways"):
        check("RNN", layer_inputs("RNN", "forward"), {"hidden_size": HIDDEN, "direction": "sideways"},
              num_outputs=2)
