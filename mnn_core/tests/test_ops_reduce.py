"""Reductions, ArgMax/ArgMin and CumSum against onnx.reference; type inference with unknown axes."""
import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext, OpError
from mnn_core.testing.op_oracle import OPS, check, mnn_run, rand

REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
CASES = [  # shape, axes (None = input omitted)
    ((13,), None), ((13,), [0]), ((3, 7), [-1]), ((3, 7), [0, 1]), ((2, 3, 5), [0, 2]),
    ((1, 3, 1, 7), [-3, 1 - 4]), ((2, 1, 3, 2, 5), [4, 0, 2]), ((2, 1, 3, 2, 5), None), ((3, 7), []),
]


@pytest.mark.parametrize("op", REDUCE)
@pytest.mark.parametrize("keepdims,noop", [(1, 0), (0, 0), (0, 1)])
def test_reduce(op, keepdims, noop):
    low = 0.1 if op == "ReduceLogSum" else -2
    for shape, axes in CASES:
        if len(set(np.asarray(axes or [], np.int64) % len(shape))) < len(axes or []):
            continue
        x = rand(*shape, low=low, high=2)
        inputs = [x] if axes is None else [x, np.array(axes, np.int64)]
        check(op, inputs, {"keepdims": keepdims, "noop_with_empty_axes": noop}, known=(1,), rtol=1e-4)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                "ReduceL1", "ReduceSumSquare"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16])
def test_reduce_keeps_dtype(op, dtype):
    x = rand(3, 1, 7, dtype=dtype, low=-3, high=3)
    expected = None
    if op == "ReduceSumSquare":  # onnx.reference returns int64 for int32 inputs
        expected = [np.sum(x.astype(np.float64) ** 2, axis=(0, 2), keepdims=True).astype(dtype)]
    ours = check(op, [x, np.array([0, 2], np.int64)], known=(1,), rtol=2e-3, atol=1e-2,
                 expected=expected)
    assert ours[0].dtype == dtype


@pytest.mark.parametrize("op", REDUCE)
def test_empty_reductions(op):
    x = np.zeros((2, 0, 3), np.float32)
    for axes in ([1], [0, 1], [2]):
        check(op, [x, np.array(axes, np.int64)], known=(1,))
    check(op, [x, np.array([1], np.int64)], {"keepdims": 0}, known=(1,))
    if op in ("ReduceMax", "ReduceMin"):
        y = mnn_run(op, [np.zeros((0, 2), np.int32), np.array([0], np.int64)], {}, known=(1,))[0]
        info = np.iinfo(np.int32)
        assert y.tolist() == [[info.min] * 2] if op == "ReduceMax" else [[info.max] * 2]


def test_log_sum_exp_is_stable():
    x = np.array([[1000, 1000], [-1000, -1000], [-np.inf, -np.inf]], np.float32)
    y = mnn_run("ReduceLogSumExp", [x, np.array([1], np.int64)], {"keepdims": 0}, known=(1,))[0]
    np.testing.assert_allclose(y, [1000 + np.log(2), -1000 + np.log(2), -np.inf], rtol=1e-6)


def test_repeated_axis_is_an_error():
    with pytest.raises(Exception, match="repeat"):
        mnn_run("ReduceSum", [rand(3, 4), np.array([1, -1], np.int64)], {})


def _infer(op, data, axes=None, axes_value=None, **attrs):
    inputs = ["x"] if axes is None and axes_value is None else ["x", "a"]
    node = Node(op, inputs, ["y"], attrs)
    schema = OPS.get(op)
    axes_type = axes if axes is not None else (TensorType.of(axes_value) if axes_value is not None else None)
    types = [data] + ([axes_type] if len(inputs) > 1 else [])
    values = [None] + ([axes_value] if len(inputs) > 1 else [])
    return schema.infer(InferContext(node, types, schema.resolve_attrs(node), values))[0]


def test_reduce_infer_symbolic_and_unknown():
    f32, i64 = DType.F32, DType.I64
    x = TensorType(f32, ("N", 3, None, 5))
    unknown_axes = TensorType(i64, (None,))
    assert _infer("ReduceSum", x, axes_value=np.array([-1, 1])) == TensorType(f32, ("N", 1, None, 1))
    assert _infer("ReduceMax", x, axes_value=np.array([0]), keepdims=0) == TensorType(f32, (3, None, 5))
    assert _infer("ReduceMean", x) == TensorType(f32, (1, 1, 1, 1))
    assert _infer("ReduceMean", x, keepdims=0) == TensorType(f32, ())
    assert _infer("ReduceMean", x, noop_with_empty_axes=1) == x
    assert _infer("ReduceL2", x, axes_value=np.zeros(0, np.int64), noop_with_empty_axes=1) == x
    assert _infer("ReduceSum", x, axes=unknown_axes) == TensorType(f32, (None,) * 4)
    assert _infer("ReduceSum", x, axes=unknown_axes, keepdims=0) == TensorType(f32, None)
    assert _infer("ReduceSum", x, axes=TensorType(i64, (2,)), keepdims=0) == TensorType(f32, (None, None))
    assert _infer("ReduceSum", TensorType(f32, None), keepdims=0) == TensorType(f32, ())
    assert _infer("ReduceSum", TensorType(f32, None), axes_value=np.array([0])) == TensorType(f32, None)
    with pytest.raises(OpError):
        _infer("ReduceSum", x, axes_value=np.array([4]))


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("shape,axis", [((13,), 0), ((3, 7), 1), ((3, 7), -2), ((2, 1, 3, 5), 2),
                                        ((2, 3, 1, 2, 3), -1)])
def test_arg(op, shape, axis):
    x = rand(*shape, dtype=np.int32, low=0, high=3)  # small ints: plenty of ties
    for keepdims in (0, 1):
        for last in (0, 1):
            check(op, [x], {"axis": axis, "keepdims": keepdims, "select_last_index": last})
    check(op, [rand(*shape)])


@pytest.mark.parametrize("shape,axis", [((13,), 0), ((3, 7), -1), ((3, 7), 0), ((2, 3, 1, 5), 1),
                                        ((2, 1, 3, 2, 3), -3)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_cumsum(shape, axis, dtype):
    x = rand(*shape, dtype=dtype, low=-5, high=5)
    for exclusive in (0, 1):
        for reverse in (0, 1):
            check("CumSum", [x, np.array(axis, np.int32)], {"exclusive": exclusive, "reverse": reverse})


def test_arg_and_cumsum_infer():
    x = TensorType(DType.F16, ("N", None, 4))
    node = Node("ArgMax", ["x"], ["y"], {"axis": -1, "keepdims": 0})
    ctx = InferContext(node, [x], OPS.get("ArgMax").resolve_attrs(node), [None])
    assert OPS.get("ArgMax").infer(ctx) == [TensorType(DType.I64, ("N", None))]
    node = Node("CumSum", ["x", "a"], ["y"])
    ctx = InferContext(node, [x, TensorType(DType.I64, ())], {"exclusive": 0, "reverse": 0}, [None, None])
    assert OPS.get("CumSum").infer(ctx) == [x]
