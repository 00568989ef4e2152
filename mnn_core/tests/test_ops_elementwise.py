"""Elementwise ops against onnx.reference, plus type inference on symbolic shapes."""
import numpy as np
import onnx
import pytest

from mnn_core.testing.op_oracle import OPS, check, mnn_run, rand
from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext, OpError

SHAPES = [((7,), (7,)), ((3, 1, 5), (1, 7, 1)), ((2, 3, 1, 13), (13,)), ((1,), (2, 1, 3, 1, 5)),
          ((), (3, 7))]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int8, np.uint8, np.float64])
def test_arithmetic(op, dtype):
    for sa, sb in SHAPES:
        a, b = rand(*sa, dtype=dtype, low=0 if dtype == np.uint8 else -50, high=50), \
            rand(*sb, dtype=dtype, low=1, high=9)
        if dtype != np.uint8:
            b = b * np.where(rand(*sb, dtype=np.bool_), 1, -1).astype(dtype)  # negative divisors
        check(op, [a, b])


def test_integer_division_truncates():
    a, b = np.array([7, -7, 7, -7, 0], np.int64), np.array([2, 2, -2, -2, 3], np.int64)
    assert mnn_run("Div", [a, b], {})[0].tolist() == [3, -3, -3, 3, 0]


@pytest.mark.parametrize("a,b", [
    (rand(3, 7, low=0.1), rand(7)),
    (rand(13, dtype=np.int32, low=-4, high=4), rand(13, dtype=np.int64, low=0, high=5)),
    (rand(2, 5, dtype=np.int32, low=1, high=4), rand(5, low=0, high=3)),  # int base, float exponent
    (rand(1, 4, low=0.1).astype(np.float16), rand(3, 1, low=-2, high=2)),
    (rand(5, low=0.1), rand(5, dtype=np.int64, low=-3, high=3)),
])
def test_pow_keeps_base_dtype(a, b):
    check("Pow", [a, b], rtol=1e-3 if a.dtype == np.float16 else 1e-5)


@pytest.mark.parametrize("fmod,dtype", [(0, np.int32), (1, np.int32), (1, np.float32), (0, np.int64)])
def test_mod(fmod, dtype):
    a = rand(3, 1, 7, dtype=dtype, low=-20, high=20)
    b = rand(5, 1, dtype=dtype, low=1, high=6) * np.array([1, -1, 1, -1, 1], dtype).reshape(5, 1)
    check("Mod", [a, b], {"fmod": fmod})


UNARY = {  # op: (low, high) of the inputs
    "Neg": (-5, 5), "Abs": (-5, 5), "Sign": (-2, 2), "Reciprocal": (0.5, 4), "Sqrt": (0, 9),
    "Exp": (-5, 5), "Log": (0.01, 9), "Floor": (-5, 5), "Ceil": (-5, 5), "Round": (-5, 5),
    "Sin": (-5, 5), "Cos": (-5, 5), "Tan": (-1.4, 1.4), "Asin": (-1, 1), "Acos": (-1, 1),
    "Atan": (-5, 5), "Sinh": (-3, 3), "Cosh": (-3, 3), "Asinh": (-5, 5), "Acosh": (1, 9),
    "Atanh": (-0.99, 0.99), "Erf": (-3, 3), "IsNaN": (-1, 1), "Identity": (-3, 3),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [(13,), (3, 1, 7), (2, 3, 1, 2, 5), ()])
def test_unary_float(op, shape):
    check(op, [rand(*shape, low=UNARY[op][0], high=UNARY[op][1])])


@pytest.mark.parametrize("op", ["Neg", "Abs", "Sign", "Identity"])
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_unary_int(op, dtype):
    check(op, [rand(3, 7, dtype=dtype, low=-100, high=100)])


def test_half_precision_goes_through_f32():
    x = rand(3, 7, low=0.1).astype(np.float16)
    for op in ["Exp", "Log", "Sqrt", "Erf", "Neg"]:
        assert mnn_run(op, [x], {})[0].dtype == np.float16
        check(op, [x], rtol=2e-3, atol=1e-3)
    bf = rand(5).astype(DType.BF16.numpy)
    y = mnn_run("Erf", [bf], {})[0]
    assert y.dtype == DType.BF16.numpy


def test_round_half_to_even_and_special_values():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, np.nan, np.inf, -np.inf], np.float32)
    assert mnn_run("Round", [x], {})[0][:6].tolist() == [0, 2, 2, 0, -2, 2]
    check("Round", [x])
    check("IsNaN", [x])
    for neg, pos in [(1, 1), (0, 1), (1, 0), (0, 0)]:
        check("IsInf", [x], {"detect_negative": neg, "detect_positive": pos})


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
@pytest.mark.parametrize("shapes", [[(7,)], [(3, 7), (7,)], [(1, 5, 1), (3, 1, 4), (1, 4)],
                                    [(2, 1), (2, 3), (1,), ()]])
def test_variadic(op, shapes):
    for dtype in (np.float32, np.int32):
        xs = [rand(*s, dtype=dtype, low=-9, high=9) for s in shapes]
        # onnx.reference's Mean adds in place, so it cannot broadcast the first input
        expected = [(sum(x.astype(np.float64) for x in xs) / len(xs)).astype(dtype)] if op == "Mean" else None
        check(op, xs, expected=expected)


def test_max_propagates_nan():
    a, b = np.array([1, np.nan, 3], np.float32), np.array([np.nan, 2, 1], np.float32)
    check("Max", [a, b])
    check("Min", [a, b])


@pytest.mark.parametrize("op", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_comparison(op, dtype):
    for sa, sb in SHAPES:
        check(op, [rand(*sa, dtype=dtype, low=0, high=3), rand(*sb, dtype=dtype, low=0, high=3)])


def test_equal_strings():
    a = np.array(["a", "bc", "", "d"], dtype=object)
    b = np.array(["a", "b", "", "e"], dtype=object)
    assert mnn_run("Equal", [a, b], {})[0].tolist() == [True, False, True, False]


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op):
    for sa, sb in SHAPES:
        check(op, [rand(*sa, dtype=np.bool_), rand(*sb, dtype=np.bool_)])
    check("Not", [rand(3, 1, 7, dtype=np.bool_)])


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int16])
def test_bitwise(op, dtype):
    check(op, [rand(3, 7, dtype=dtype, low=0, high=120), rand(7, dtype=dtype, low=0, high=120)])
    check("BitwiseNot", [rand(13, dtype=dtype, low=0, high=120)])


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
def test_bit_shift(direction, dtype):
    check("BitShift", [rand(3, 7, dtype=dtype, low=0, high=200), rand(7, dtype=dtype, low=0, high=3)],
          {"direction": direction})


def test_where():
    check("Where", [rand(3, 1, dtype=np.bool_), rand(1, 7), rand(3, 7)])
    check("Where", [rand(2, 3, 5, dtype=np.bool_), rand(5, dtype=np.int64), rand(3, 1, dtype=np.int64)])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8])
def test_clip(dtype):
    x = rand(3, 7, dtype=dtype, low=0 if dtype == np.uint8 else -10, high=10)
    lo, hi = np.array(2, dtype), np.array(6, dtype)
    check("Clip", [x])
    check("Clip", [x, lo])
    check("Clip", [x, None, hi])
    check("Clip", [x, lo, hi])
    check("Clip", [x, hi, lo])  # min > max: everything becomes max
    nan = np.array([np.nan, 1.0, -9.0], np.float32)
    check("Clip", [nan, np.array(0, np.float32), np.array(5, np.float32)])


CASTS = [(np.float32, "i32"), (np.float32, "f16"), (np.float64, "f32"), (np.int64, "f32"),
         (np.int32, "u8"), (np.float32, "bool"), (np.bool_, "f32"), (np.int64, "i8"),
         (np.float32, "i64"), (np.float16, "f64"), (np.uint8, "i64")]


@pytest.mark.parametrize("src,to", CASTS)
def test_cast(src, to):
    x = rand(3, 7, dtype=src, low=-5, high=5) if src != np.uint8 else rand(7, dtype=src, low=0, high=9)
    enum = onnx.helper.np_dtype_to_tensor_dtype(DType(to).numpy)
    check("Cast", [x], {"to": to}, onnx_attrs={"to": enum})
    check("CastLike", [x, np.zeros(0, DType(to).numpy)])


def test_cast_strings():
    x = np.array([1.5, -2.0, 0.25], np.float32)
    strings = mnn_run("Cast", [x], {"to": "string"})[0]
    assert strings.dtype == object and strings.tolist() == ["1.5", "-2.0", "0.25"]
    back = mnn_run("Cast", [np.array(["1.5", "-inf", "1e3", "7"], object)], {"to": "f32"})[0]
    assert back.dtype == np.float32 and back.tolist() == [1.5, -np.inf, 1000.0, 7.0]
    ints = mnn_run("Cast", [np.array(["12", "-3", "1e2"], object)], {"to": "i64"})[0]
    assert ints.tolist() == [12, -3, 100]
    bf = mnn_run("Cast", [x], {"to": "bf16"})[0]
    assert bf.dtype == DType.BF16.numpy and bf.astype(np.float32).tolist() == x.tolist()


def _infer(op, types, attrs=None, values=None):
    node = Node(op, [f"x{i}" for i in range(len(types))], ["y"], attrs or {})
    schema = OPS.get(op)
    ctx = InferContext(node, list(types), schema.resolve_attrs(node), values or [None] * len(types))
    return schema.infer(ctx)[0]


def test_infer_symbolic_and_unknown():
    f32, f16, i64, b = DType.F32, DType.F16, DType.I64, DType.BOOL
    assert _infer("Add", [TensorType(f32, ("N", 3, 1)), TensorType(f32, (1, 5))]) \
        == TensorType(f32, ("N", 3, 5))
    assert _infer("Mul", [TensorType(f32, ("N", 3)), TensorType(f32, None)]) == TensorType(f32, None)
    assert _infer("Equal", [TensorType(i64, (None, 4)), TensorType(i64, (4,))]) == TensorType(b, (None, 4))
    assert _infer("Where", [TensorType(b, ("N", 1)), TensorType(i64, (1, 7)), TensorType(i64, (7,))]) \
        == TensorType(i64, ("N", 7))
    assert _infer("Cast", [TensorType(f32, ("N", None))], {"to": "i64"}) == TensorType(i64, ("N", None))
    assert _infer("CastLike", [TensorType(f32, (2,)), TensorType(f16, (0,))]) == TensorType(f16, (2,))
    assert _infer("IsNaN", [TensorType(f32, ("N",))]) == TensorType(b, ("N",))
    assert _infer("Max", [TensorType(f32, (3, 1)), TensorType(f32, (1, "K")), TensorType(f32, ())]) \
        == TensorType(f32, (3, "K"))
    with pytest.raises(OpError):
        _infer("Add", [TensorType(f32, (3,)), TensorType(f32, (4,))])
    with pytest.raises(OpError):
        _infer("Cast", [TensorType(f32, (3,))])  # 'to' is required
