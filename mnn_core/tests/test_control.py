"""Control-flow and sequence ops on IR graphs built by hand (no ONNX involved)."""
from __future__ import annotations

import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.ops import standard_ops
from mnn_core.reference import Interpreter, KernelError
from mnn_core.shape_inference import infer_types

OPS = standard_ops()
F32 = TensorType(DType.F32, (3,))


def run(graph: Graph, **feeds):
    return Interpreter(graph, OPS).run(feeds)


def test_if_runs_only_the_taken_branch_and_reads_outer_names():
    then_g = Graph([Node("Add", ["x", "one"], ["t"])], [], ["t"], {"t": F32}, {"one": np.float32(1)})
    else_g = Graph([Node("Div", ["x", "zero"], ["e"])], [], ["e"], {"e": F32},
                   {"zero": np.array([1, 0, 1], np.int64)})  # would fail if it ran (dtype clash)
    g = Graph([Node("If", ["c"], ["y"], {"then_branch": then_g, "else_branch": else_g})], ["x", "c"], ["y"])
    x = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(run(g, x=x, c=np.array(True))[0], x + 1)
    types, _ = infer_types(g, OPS, {"x": F32, "c": TensorType(DType.BOOL, ())})
    assert types["y"] == TensorType(DType.F32, (3,))


def test_loop_carries_state_stacks_scan_outputs_and_stops_on_condition():
    body = Graph([Node("Add", ["acc", "x"], ["acc2"]), Node("Less", ["i", "two"], ["go"]),
                  Node("Identity", ["acc2"], ["out"])],
                 ["i", "cond", "acc"], ["go", "acc2", "out"], {"out": F32})
    g = Graph([Node("Loop", ["n", "", "init"], ["final", "all"], {"body": body})], ["x", "n", "init"],
              ["final", "all"])
    g.constants["two"] = np.array(2, np.int64)
    x = np.ones(3, np.float32)
    final, stacked = run(g, x=x, n=np.array(10, np.int64), init=np.zeros(3, np.float32))
    np.testing.assert_array_equal(final, [3, 3, 3])  # i = 0, 1, 2; the condition stops after i == 2
    assert stacked.shape == (3, 3) and stacked.dtype == np.float32
    final, stacked = run(g, x=x, n=np.array(0, np.int64), init=np.zeros(3, np.float32))
    assert stacked.shape == (0, 3)


def test_scan_axes_and_directions():
    body = Graph([Node("Add", ["s", "col"], ["s2"]), Node("Identity", ["s2"], ["y"])],
                 ["s", "col"], ["s2", "y"])
    node = Node("Scan", ["s0", "m"], ["final", "ys"],
                {"body": body, "num_scan_inputs": 1, "scan_input_axes": (1,), "scan_output_directions": (1,)})
    g = Graph([node], ["s0", "m"], ["final", "ys"])
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    final, ys = run(g, s0=np.zeros(2, np.float32), m=m)
    running = np.cumsum(m, axis=1).T  # one row per step
    np.testing.assert_array_equal(final, running[-1])
    np.testing.assert_array_equal(ys, running[::-1])


def test_sequence_ops():
    a, b = np.zeros((2, 2), np.float32), np.ones((1, 2), np.float32)
    nodes = [Node("SequenceConstruct", ["a"], ["s1"]), Node("SequenceInsert", ["s1", "b"], ["s2"]),
             Node("SequenceInsert", ["s2", "a", "zero"], ["s3"]), Node("SequenceErase", ["s3"], ["s4"]),
             Node("SequenceLength", ["s4"], ["n"]), Node("SequenceAt", ["s4", "minus1"], ["last"]),
             Node("ConcatFromSequence", ["s4"], ["cat"], {"axis": 0}),
             Node("SplitToSequence", ["cat"], ["parts"], {"axis": 0, "keepdims": 0}),
             Node("SequenceEmpty", [], ["empty"], {"dtype": "f32"})]
    g = Graph(nodes, ["a", "b"], ["n", "last", "cat", "parts", "empty"],
              constants={"zero": np.array(0, np.int64), "minus1": np.array(-1, np.int64)})
    n, last, cat, parts, empty = run(g, a=a, b=b)
    assert n == 2 and n.dtype == np.int64
    np.testing.assert_array_equal(last, a)
    assert cat.shape == (4, 2) and len(parts) == 4 and parts[0].shape == (2,) and empty == []
    g.nodes[5].inputs[1] = "two"
    g.constants["two"] = np.array(2, np.int64)
    with pytest.raises(KernelError, match="out of range"):
        run(g, a=a, b=b)
