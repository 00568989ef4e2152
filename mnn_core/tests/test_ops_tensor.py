"""Tensor-manipulation ops against onnx.reference, plus type inference with and without plan-time
values (symbolic dims, unknown shape inputs)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext
from mnn_core.reference import run_node
from mnn_core.testing.op_oracle import OPS, check, onnx_run, rand


def tensor_proto(array):
    return numpy_helper.from_array(array, "v")


def i64(*values):
    return np.array(values, dtype=np.int64)


def infer(op, types, attrs=None, values=None, num_outputs=1):
    """Run only type inference; `types` are TensorTypes or shapes (f32)."""
    types = [t if t is None or isinstance(t, TensorType) else TensorType(DType.F32, tuple(t))
             for t in types]
    node = Node(op, [f"x{i}" if t is not None else "" for i, t in enumerate(types)],
                [f"y{i}" for i in range(num_outputs)], dict(attrs or {}))
    schema = OPS.get(op)
    values = list(values or []) + [None] * (len(types) - len(values or []))
    return schema.infer(InferContext(node, types, schema.resolve_attrs(node), values))


def check_dynamic(op, inputs, attrs=None, num_outputs=1):
    """For data-dependent output shapes: values as onnx.reference, inferred dims None or exact."""
    attrs = attrs or {}
    names = [f"x{i}" for i in range(len(inputs))]
    node = Node(op, names, [f"y{i}" for i in range(num_outputs)], dict(attrs))
    ours = run_node(node, inputs, OPS)
    for a, b in zip(ours, onnx_run(op, inputs, attrs, num_outputs)):
        np.testing.assert_array_equal(a, np.asarray(b), err_msg=op)
        assert a.dtype == np.asarray(b).dtype
    for t, y in zip(infer(op, [TensorType.of(x) for x in inputs], attrs, num_outputs=num_outputs), ours):
        assert t.dtype == DType.from_numpy(y.dtype) and len(t.shape) == y.ndim
        assert all(d is None or d == n for d, n in zip(t.shape, y.shape)), (op, t, y.shape)
    return ours


# ---- reshaping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,target,allowzero", [
    ((2, 3, 7), (0, -1), 0), ((13,), (1, 13, 1), 0), ((3, 1, 7), (-1,), 0),
    ((2, 3, 4, 5, 1), (0, 0, -1), 0), ((2, 0, 3), (3, 0, 2), 1), ((6,), (2, -1, 3), 0)])
def test_reshape(shape, target, allowzero):
    check("Reshape", [rand(*shape), i64(*target)], {"allowzero": allowzero}, known=[1])


def test_reshape_symbolic():
    t = TensorType(DType.F32, ("batch", 3, 4))
    assert infer("Reshape", [t, TensorType(DType.I64, (2,))], values=[None, i64(0, -1)])[0].shape \
        == ("batch", 12)
    assert infer("Reshape", [t, None], values=[None, i64(-1, 12)])[0].shape == ("batch", 12)
    assert infer("Reshape", [t, None], values=[None, i64(2, -1)])[0].shape == (2, None)
    unknown = TensorType(DType.F32, (None, 3, 4))
    assert infer("Reshape", [unknown, None], values=[None, i64(0, -1)])[0].shape == (None, 12)
    assert infer("Reshape", [t, TensorType(DType.I64, (3,))])[0].shape == (None, None, None)


@pytest.mark.parametrize("shape,axis", [((2, 3, 7), 1), ((2, 3, 7), 0), ((2, 3, 7), 3), ((5, 1, 3, 2), -2)])
def test_flatten(shape, axis):
    check("Flatten", [rand(*shape)], {"axis": axis})
    sym = infer("Flatten", [("n", 3, 4)], {"axis": 1})[0]
    assert sym.shape == ("n", 12)


@pytest.mark.parametrize("shape,perm", [((2, 3, 7), None), ((2, 3, 7), (1, 0, 2)),
                                        ((1, 3, 5, 7, 2), (0, 4, 1, 3, 2)), ((13,), None)])
def test_transpose(shape, perm):
    check("Transpose", [rand(*shape)], {} if perm is None else {"perm": perm})


@pytest.mark.parametrize("shape,axes", [((1, 3, 1, 7), (0, -2)), ((1, 3, 1, 7), None), ((3, 1), (1,))])
def test_squeeze(shape, axes):
    check("Squeeze", [rand(*shape)] + ([] if axes is None else [i64(*axes)]), known=[1])


@pytest.mark.parametrize("shape,axes", [((3, 7), (0, -1)), ((13,), (1,)), ((), (0, 1)), ((2, 3), (3, 1))])
def test_unsqueeze(shape, axes):
    check("Unsqueeze", [rand(*shape), i64(*axes)], known=[1])
    assert infer("Unsqueeze", [shape, (len(axes),)])[0].shape == (None,) * (len(shape) + len(axes))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    shapes = [[3, 5, 7]] * 3
    for i, extra in enumerate((1, 2, 4)):
        shapes[i] = list(shapes[i])
        shapes[i][axis] = extra
    check("Concat", [rand(*s) for s in shapes], {"axis": axis})
    sym = infer("Concat", [("n", 2), ("n", 3)], {"axis": 1})[0]
    assert sym.shape == ("n", 5)


@pytest.mark.parametrize("shape,axis,split,n", [
    ((7, 3), 0, None, 3), ((2, 13), -1, None, 4), ((6, 2), 0, (1, 2, 3), 3), ((3, 8), 1, (8,), 1)])
def test_split(shape, axis, split, n):
    attrs = {"axis": axis} if split is not None else {"axis": axis, "num_outputs": n}
    ins = [rand(*shape)] + ([] if split is None else [i64(*split)])
    out = check("Split", ins, attrs, num_outputs=n, known=[1])
    assert sum(o.shape[axis] for o in out) == shape[axis]


@pytest.mark.parametrize("shape,starts,ends,axes,steps", [
    ((13, 7), (2, 1), (9, 100), None, None),
    ((13, 7), (-1,), (-100,), (0,), (-2,)),
    ((3, 5, 7), (10, -3), (-20, 2**63 - 1), (1, 2), (-1, 2)),
    ((2, 3, 4, 5, 6), (1, 0), (-1, 4), (-1, 2), (3, 1)),
    ((7,), (5,), (1,), None, None),
])
def test_slice(shape, starts, ends, axes, steps):
    ins = [rand(*shape), i64(*starts), i64(*ends), None if axes is None else i64(*axes),
           None if steps is None else i64(*steps)]
    while ins[-1] is None:
        ins.pop()
    check("Slice", ins, known=[1, 2, 3, 4])


def test_slice_symbolic():
    t = infer("Slice", [("n", 10), (1,), (1,), (1,)], values=[None, i64(2), i64(8), i64(1)])[0]
    assert t.shape == ("n", 6)
    t = infer("Slice", [("n", 10), (1,), (1,), (1,)], values=[None, i64(0), i64(2**63 - 1), i64(0)])[0]
    assert t.shape == ("n", 10)


# ---- indexing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,idx,axis", [((5, 4, 3), (2, 3), 1), ((13,), (), 0),
                                            ((3, 7), (4,), -1), ((2, 3, 4, 5), (1, 2), 0)])
def test_gather(shape, idx, axis):
    dim = shape[axis]
    check("Gather", [rand(*shape), rand(*idx, dtype=np.int64, low=-dim, high=dim - 1)], {"axis": axis})


@pytest.mark.parametrize("shape,idx,axis", [((3, 4), (2, 4), 0), ((3, 5, 2), (3, 7, 2), 1),
                                            ((4, 3), (4, 2), -1)])
def test_gather_elements(shape, idx, axis):
    dim = shape[axis]
    check("GatherElements", [rand(*shape), rand(*idx, dtype=np.int64, low=-dim, high=dim - 1)],
          {"axis": axis}, onnx_attrs={"axis": axis % len(shape)})  # onnx.reference needs axis >= 0


@pytest.mark.parametrize("shape,idx,b", [((3, 4, 5), (2, 2), 0), ((3, 4, 5), (7, 1), 0),
                                         ((3, 4, 5), (3, 2, 1), 1), ((2, 3, 4, 5), (2, 3, 1), 2),
                                         ((5, 6), (2, 3, 2), 0)])
def test_gather_nd(shape, idx, b):
    k = idx[-1]
    hi = min(shape[b:b + k])
    check("GatherND", [rand(*shape), rand(*idx, dtype=np.int64, low=-hi, high=hi - 1)], {"batch_dims": b})


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements(reduction):
    x = rand(4, 5)
    idx = rand(3, 5, dtype=np.int64, low=-4, high=3)
    if reduction == "none":  # duplicates are undefined without a reduction
        idx = np.stack([RNGperm(4)[:3] for _ in range(5)], axis=1)
    check("ScatterElements", [x, idx, rand(3, 5)], {"axis": 0, "reduction": reduction})
    check("ScatterElements", [x, rand(4, 2, dtype=np.int64, low=0, high=4), rand(4, 2)],
          {"axis": -1, "reduction": "add"})


def RNGperm(n):
    return np.random.default_rng(n).permutation(n)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_nd(reduction):
    x = rand(4, 3, 5)
    idx = i64([0, 1], [-1, 2], [0, 1]) if reduction != "none" else i64([0, 1], [3, 2], [1, 0])
    check("ScatterND", [x, idx, rand(3, 5)], {"reduction": reduction})
    check("ScatterND", [x, i64([2], [0]), rand(2, 3, 5)], {"reduction": reduction})


# ---- padding, broadcasting, repetition ----------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("shape,pads,axes", [((3, 7), (1, 2, 2, 1), None), ((2, 3, 5), (2, 1), (-1,)),
                                             ((4, 5), (0, 1, 1, 2), None), ((13,), (3, 0), None)])
def test_pad(mode, shape, pads, axes):
    ins = [rand(*shape), i64(*pads), np.array(1.5, np.float32) if mode == "constant" else None]
    if axes is not None:
        ins.append(i64(*axes))
    while ins[-1] is None:
        ins.pop()
    check("Pad", ins, {"mode": mode}, known=[1, 3])


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_negative_crops(mode):
    x = rand(5, 6)
    pads = [-1, 2, 1, -2]  # onnx.reference cannot do negative pads: compare with crop + pad
    (y,) = run_node(Node("Pad", ["x", "p"], ["y"], {"mode": mode}), [x, i64(*pads)], OPS)
    (expected,) = onnx_run("Pad", [x[1:, :4], i64(0, 2, 1, 0)], {"mode": mode})
    np.testing.assert_array_equal(y, expected)
    assert infer("Pad", [x.shape, (4,)], values=[None, i64(*pads)])[0].shape == y.shape


@pytest.mark.parametrize("shape,target", [((3, 1), (2, 1, 6)), ((1,), (7,)), ((2, 1, 3), (1, 5, 1)),
                                          ((3,), ())])
def test_expand(shape, target):
    check("Expand", [rand(*shape), i64(*target)], known=[1])
    assert infer("Expand", [("n", 1), (2,)], values=[None, i64(1, 5)])[0].shape == ("n", 5)


@pytest.mark.parametrize("shape,reps", [((2, 3), (1, 4)), ((7,), (3,)), ((1, 2, 3), (2, 1, 2))])
def test_tile(shape, reps):
    check("Tile", [rand(*shape), i64(*reps)], known=[1])


@pytest.mark.parametrize("start,limit,delta,dtype", [(0, 10, 3, np.int64), (10, 1, -2, np.int32),
                                                     (0.5, 7.3, 0.7, np.float32), (1, 1, 1, np.int64),
                                                     (-2.0, 3.0, 0.25, np.float64), (0, 3, 0.5, np.float16)])
def test_range(start, limit, delta, dtype):
    check("Range", [np.array(v, dtype) for v in (start, limit, delta)], known=[0, 1, 2])


# ---- shape queries and constants ----------------------------------------------------------------
@pytest.mark.parametrize("attrs", [{}, {"start": 1}, {"start": -2}, {"end": -1}, {"start": 1, "end": 10},
                                   {"start": 3, "end": 1}])
def test_shape_and_size(attrs):
    x = rand(2, 3, 5)
    check("Shape", [x], attrs)
    check("Size", [x])
    assert infer("Shape", [None])[0] == TensorType(DType.I64, (None,))


@pytest.mark.parametrize("value", [None, np.array([7], np.int32), np.array([1.5], np.float64)])
def test_constant_of_shape(value):
    check("ConstantOfShape", [i64(2, 3, 1)], {} if value is None else {"value": value},
          onnx_attrs={} if value is None else {"value": tensor_proto(value)},
          known=[0])
    check("ConstantOfShape", [i64()], known=[0])


@pytest.mark.parametrize("key,value", [("value_float", 2.5), ("value_floats", [1.0, 2.0]), ("value_int", 3),
                                       ("value_ints", [1, -2, 3])])
def test_constant(key, value):
    check("Constant", [], {key: value})
    arr = rand(3, 7)
    (y,) = check("Constant", [], {"value": arr}, onnx_attrs={"value": tensor_proto(arr)})
    assert np.array_equal(y, arr)


@pytest.mark.parametrize("shape,k,dtype", [((3, 7), 0, None), ((5, 5), 2, "i32"), ((4, 2), -1, "f64")])
def test_eye_like(shape, k, dtype):
    onnx_dtype = {} if dtype is None else {"dtype": helper.np_dtype_to_tensor_dtype(DType(dtype).numpy)}
    check("EyeLike", [rand(*shape)], {"k": k, **({} if dtype is None else {"dtype": dtype})},
          onnx_attrs={"k": k, **onnx_dtype})


@pytest.mark.parametrize("shape,axis", [((3,), -1), ((2, 3), 0), ((2, 3), 1), ((1, 3, 2), -2)])
def test_one_hot(shape, axis):
    idx = rand(*shape, dtype=np.int64, low=-6, high=6)  # includes out-of-range values
    check("OneHot", [idx, np.array(5, np.int64), np.array([0.5, 2.0], np.float32)], {"axis": axis}, known=[1])


# ---- data-dependent shapes ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 1, 4)])
def test_nonzero(shape):
    x = rand(*shape, dtype=np.int32, low=0, high=1)
    ours = check_dynamic("NonZero", [x])
    assert infer("NonZero", [shape])[0].shape == (len(shape), None)
    assert ours[0].shape[0] == len(shape)


@pytest.mark.parametrize("shape,k,axis,largest", [((3, 13), 4, -1, 1), ((7, 3), 7, 0, 0),
                                                  ((2, 5, 3), 2, 1, 1), ((6,), 0, 0, 1)])
def test_topk(shape, k, axis, largest):
    x = rand(*shape, dtype=np.int32, low=0, high=3).astype(np.float32)  # many ties
    check("TopK", [x, i64(k)], {"axis": axis, "largest": largest}, num_outputs=2, known=[1])


def test_topk_ties_keep_lower_index():
    x = np.array([1, 3, 3, 2, 3], np.float32)
    _, idx = check("TopK", [x, i64(3)], {}, num_outputs=2, known=[1])
    assert idx.tolist() == [1, 2, 4]
    _, idx = check("TopK", [x, i64(2)], {"largest": 0}, num_outputs=2, known=[1])
    assert idx.tolist() == [0, 3]


@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), -1), ((3, 4), None), ((5,), 0)])
def test_compress(shape, axis):
    n = shape[axis] if axis is not None else int(np.prod(shape))
    cond = np.arange(n - 1) % 2 == 0  # shorter than the axis is allowed
    check("Compress", [rand(*shape), cond], {} if axis is None else {"axis": axis}, known=[1])


@pytest.mark.parametrize("sorted_,axis", [(1, None), (1, 0), (1, 1), (1, -1)])
def test_unique(sorted_, axis):
    x = rand(4, 3, dtype=np.int64, low=0, high=2)
    x[2] = x[0]
    x[:, 2] = x[:, 0]
    attrs = {"sorted": sorted_, **({} if axis is None else {"axis": axis})}
    ours = check_dynamic("Unique", [x], attrs, num_outputs=4)
    t = infer("Unique", [TensorType.of(x)], attrs, num_outputs=4)
    assert t[2].shape == ((12,) if axis is None else (x.shape[axis],))
    assert ours[0].dtype == x.dtype


def test_unique_first_occurrence_order():
    """onnx.reference mishandles sorted=0; expectations from the spec and onnxruntime."""
    def run(x, **attrs):
        node = Node("Unique", ["x"], ["y", "i", "v", "c"], attrs)
        return [a.tolist() for a in run_node(node, [x], OPS)]
    assert run(i64(2, 1, 1, 3, 4, 3), sorted=0) == [[2, 1, 3, 4], [0, 1, 3, 4], [0, 1, 1, 2, 3, 2],
                                                     [1, 2, 2, 1]]
    x = i64([1, 0, 1], [2, 3, 2], [1, 0, 1], [0, 5, 0])
    assert run(x, sorted=0, axis=1) == [[[1, 0], [2, 3], [1, 0], [0, 5]], [0, 1], [0, 1, 0], [2, 1]]
    assert run(x, sorted=0, axis=0) == [[[1, 0, 1], [2, 3, 2], [0, 5, 0]], [0, 1, 3], [0, 1, 0, 2],
                                        [2, 1, 1]]


# ---- layout and structure -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("shape,b", [((1, 8, 3, 5), 2), ((2, 9, 1, 2), 3)])
def test_depth_space(mode, shape, b):
    x = rand(*shape)
    (y,) = check("DepthToSpace", [x], {"blocksize": b, "mode": mode})
    (z,) = check("SpaceToDepth", [y], {"blocksize": b, "mode": mode})
    np.testing.assert_array_equal(z, x)  # the two are inverse


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("shape,k", [((4, 5), None), ((3, 7), 2), ((2, 3, 5, 4), -1), ((1, 3), 5)])
def test_trilu(upper, shape, k):
    check("Trilu", [rand(*shape)] + ([] if k is None else [i64(k)]), {"upper": upper})


@pytest.mark.parametrize("batch_axis,time_axis", [(1, 0), (0, 1)])
def test_reverse_sequence(batch_axis, time_axis):
    shape = [5, 5]
    shape[batch_axis] = 3
    check("ReverseSequence", [rand(*shape, 2), i64(5, 1, 3)],
          {"batch_axis": batch_axis, "time_axis": time_axis})


@pytest.mark.parametrize("shape,target,axes", [((10, 7, 3), (5, 10, 3), None), ((10, 7, 3), (3, 8), (0, 1)),
                                               ((5, 4), (7,), (-1,)), ((6, 6), (2, 9), None)])
def test_center_crop_pad(shape, target, axes):
    check("CenterCropPad", [rand(*shape), i64(*target)], {} if axes is None else {"axes": axes}, known=[1])


@pytest.mark.parametrize("image,block,attrs", [
    ((5, 5), (1, 5), {}), ((5, 5), (2, 2), {"strides": (2, 2)}),
    ((6, 7), (3, 2), {"pads": (1, 0, 1, 2), "dilations": (2, 1), "strides": (1, 2)}),
    ((4, 3, 5), (2, 1, 3), {"strides": (1, 2, 1)})])
def test_col2im(image, block, attrs):
    nd = len(image)
    pads = attrs.get("pads", (0,) * 2 * nd)
    dil, stride = attrs.get("dilations", (1,) * nd), attrs.get("strides", (1,) * nd)
    grid = [(image[i] + pads[i] + pads[i + nd] - dil[i] * (block[i] - 1) - 1) // stride[i] + 1
            for i in range(nd)]
    x = rand(2, 3 * int(np.prod(block)), int(np.prod(grid)))
    check("Col2Im", [x, i64(*image), i64(*block)], attrs, known=[1, 2])


def test_infer_unknown_values_stay_safe():
    """Shape-like inputs unknown at plan time give unknown dims, never wrong ones."""
    assert infer("Pad", [(3, 4), (4,)])[0].shape == (None, None)
    assert infer("Tile", [("n", 4), (2,)])[0].shape == (None, None)
    assert infer("Slice", [(3, 4), (1,), (1,)])[0].shape == (None, None)
    assert infer("Split", [("n", 4)], {"num_outputs": 2}, num_outputs=2)[0].shape == (None, 4)
    assert infer("Gather", [("n", 4, 5), ("a", "b")], {"axis": 1})[0].shape == ("n", "a", "b", 5)
    assert infer("Range", [TensorType(DType.I32, ())] * 3)[0] == TensorType(DType.I32, (None,))
    assert infer("ConstantOfShape", [(3,)])[0] == TensorType(DType.F32, (None, None, None))
    assert infer("TopK", [("n", 9), (1,)], num_outputs=2)[1] == TensorType(DType.I64, ("n", None))
