"""Elementwise arithmetic, math, comparison, logic and conversion ops with numpy broadcasting.

Kernels keep the element type of their (first) input: numpy promotes int8 + int64 or f32 ** f64 to the
wider type, while the IR, like ONNX, says the result has the input's type. Half-precision floats are
computed in f32 and rounded once, which is what accelerators do and keeps the oracle accurate.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..dtypes import DType
from ..ir import TensorType
from .infer import UNKNOWN, broadcast, broadcast_dims, same_as_input
from .schema import REQUIRED, InferContext, OpSet

try:
    from scipy.special import erf as _erf
except ImportError:  # scipy is optional; math.erf is exact but slow
    _erf = np.vectorize(math.erf, otypes=[np.float64])

OPS = OpSet()

_HALF = {np.dtype(np.float16), DType.BF16.numpy}


def widen(x: np.ndarray) -> np.ndarray:
    """f16/bf16 -> f32 so numpy (and ml_dtypes) compute transcendental functions accurately."""
    return x.astype(np.float32) if x.dtype in _HALF else x


def quiet(fn):
    """Run under np.errstate(all="ignore"): inf, nan and wrap-around are defined results here."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapped


# ---- type inference -----------------------------------------------------------------------------
def broadcast_from(index: int, dtype=None):
    """Broadcast of all inputs, with the dtype of input `index` (Where, PRelu) or a fixed one."""
    def infer(ctx: InferContext) -> list[TensorType]:
        shapes = [t.shape for t in ctx.inputs if t is not None]
        return [TensorType(dtype or (ctx.input(index) or UNKNOWN).dtype, broadcast_dims(shapes))]
    return infer


def same_shape(dtype: DType):
    def infer(ctx: InferContext) -> list[TensorType]:
        return [TensorType(dtype, (ctx.input(0) or UNKNOWN).shape)]
    return infer


# ---- arithmetic ---------------------------------------------------------------------------------
def _binary(name: str, fn, dtype=None):
    @OPS.define(name, infer=broadcast(dtype), inputs=(2, 2))
    @quiet
    def kernel(ctx, a, b):
        return np.asarray(fn(a, b)).astype(dtype.numpy if dtype else a.dtype, copy=False)
    kernel.__name__ = name
    return kernel


_binary("Add", np.add)
_binary("Sub", np.subtract)
_binary("Mul", np.multiply)


@OPS.define("Div", infer=broadcast(), inputs=(2, 2))
@quiet
def div(ctx, a, b):
    """Integer division truncates toward zero (C semantics), not numpy's floor."""
    if np.issubdtype(a.dtype, np.integer):
        b = b.astype(a.dtype, copy=False)
        return ((a - np.fmod(a, b)) // np.where(b == 0, 1, b)).astype(a.dtype, copy=False)
    return np.divide(widen(a), widen(b)).astype(a.dtype, copy=False)


@OPS.define("Pow", infer=broadcast_from(0), inputs=(2, 2))
@quiet
def pow_(ctx, a, b):
    """The result has the base's type, whatever the exponent's."""
    if np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(b.dtype, np.integer) and not (b < 0).any():
            return np.power(a, b.astype(a.dtype, copy=False)).astype(a.dtype, copy=False)
        return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
    return np.power(widen(a), widen(b).astype(widen(a).dtype, copy=False)).astype(a.dtype, copy=False)


@OPS.define("Mod", infer=broadcast(), attrs={"fmod": 0}, inputs=(2, 2))
@quiet
def mod(ctx, a, b):
    """fmod=0 takes the divisor's sign (Python %), fmod=1 the dividend's (C fmod)."""
    fn = np.fmod if ctx.attrs["fmod"] else np.mod
    return fn(widen(a), widen(b)).astype(a.dtype, copy=False)


# ---- unary math ---------------------------------------------------------------------------------
def _unary(name: str, fn, dtype=None, attrs=None):
    @OPS.define(name, infer=same_shape(dtype) if dtype else same_as_input(0), attrs=attrs,
                inputs=(1, 1))
    @quiet
    def kernel(ctx, x):
        y = fn(widen(x), **ctx.attrs) if attrs else fn(widen(x))
        return np.asarray(y).astype(dtype.numpy if dtype else x.dtype, copy=False)
    kernel.__name__ = name
    return kernel


def _abs(x):
    return x if np.issubdtype(x.dtype, np.unsignedinteger) else np.abs(x)


for _name, _fn in {
    "Neg": np.negative, "Abs": _abs, "Sign": np.sign, "Reciprocal": np.reciprocal,
    "Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log, "Floor": np.floor, "Ceil": np.ceil,
    "Round": np.round,  # numpy rounds half to even, as ONNX asks
    "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos,
    "Atan": np.arctan, "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh,
    "Acosh": np.arccosh, "Atanh": np.arctanh, "Erf": _erf,
    "BitwiseNot": np.invert,
}.items():
    _unary(_name, _fn)

_unary("Not", np.logical_not, DType.BOOL)
_unary("IsNaN", np.isnan, DType.BOOL)


def _isinf(x, detect_negative, detect_positive):
    return np.isinf(x) & (((x < 0) & bool(detect_negative)) | ((x > 0) & bool(detect_positive)))


_unary("IsInf", _isinf, DType.BOOL, attrs={"detect_negative": 1, "detect_positive": 1})


# ---- variadic -----------------------------------------------------------------------------------
def _variadic(name: str, fn, finish=None):
    @OPS.define(name, infer=broadcast(), inputs=(1, 1 << 30))
    @quiet
    def kernel(ctx, *xs):
        acc = widen(xs[0])
        for x in xs[1:]:
            acc = fn(acc, widen(x))
        acc = np.broadcast_to(acc, np.broadcast_shapes(*(x.shape for x in xs)))
        return (finish(acc, len(xs)) if finish else acc).astype(xs[0].dtype)
    kernel.__name__ = name
    return kernel


_variadic("Max", np.maximum)  # NaN propagates, as in ONNX
_variadic("Min", np.minimum)
_variadic("Sum", np.add)
_variadic("Mean", np.add, lambda total, n: total / n)

# ---- comparison and logic -----------------------------------------------------------------------
for _name, _fn in {"Equal": np.equal, "Less": np.less, "LessOrEqual": np.less_equal,
                   "Greater": np.greater, "GreaterOrEqual": np.greater_equal,
                   "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}.items():
    _binary(_name, _fn, DType.BOOL)

for _name, _fn in {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or,
                   "BitwiseXor": np.bitwise_xor}.items():
    _binary(_name, _fn)


@OPS.define("BitShift", infer=broadcast(), attrs={"direction": REQUIRED}, inputs=(2, 2))
def bit_shift(ctx, x, y):
    direction = ctx.attrs["direction"].upper()
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"BitShift direction must be LEFT or RIGHT, not {direction!r}")
    y = y.astype(x.dtype, copy=False)
    return (np.left_shift(x, y) if direction == "LEFT" else np.right_shift(x, y)).astype(x.dtype)


# ---- selection and conversion -------------------------------------------------------------------
@OPS.define("Where", infer=broadcast_from(1), inputs=(3, 3))
def where(ctx, cond, x, y):
    return np.where(cond, x, y).astype(x.dtype, copy=False)


@OPS.define("Clip", infer=same_as_input(0), inputs=(1, 3))
def clip(ctx, x, lo=None, hi=None):
    """min > max gives max everywhere, as ONNX specifies; NaN in x stays NaN."""
    y = x
    if lo is not None:
        y = np.maximum(y, lo.astype(x.dtype, copy=False))
    if hi is not None:
        y = np.minimum(y, hi.astype(x.dtype, copy=False))
    return np.asarray(y).astype(x.dtype, copy=False)


CAST_ATTRS = {"to": REQUIRED, "saturate": 1, "round_mode": "up"}
"""`saturate` and `round_mode` only matter for 8-bit floats, which the IR has no type for."""


def cast_array(x: np.ndarray, to: DType) -> np.ndarray:
    if to is DType.STRING:
        return x.astype(np.str_).astype(object)
    if x.dtype == object:  # strings parse as numbers; ints go through float for "1e3"
        x = x.astype(np.str_)
        if to.is_int or to is DType.BOOL:
            try:
                return x.astype(to.numpy)
            except ValueError:
                x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return x.astype(to.numpy)


def _cast_infer(ctx: InferContext) -> list[TensorType]:
    return [TensorType(DType.parse(ctx.attrs["to"]), (ctx.input(0) or UNKNOWN).shape)]


@OPS.define("Cast", infer=_cast_infer, attrs=dict(CAST_ATTRS), inputs=(1, 1))
def cast(ctx, x):
    """`to` is a DType value string ("f32", "i64", ...)."""
    return cast_array(x, DType.parse(ctx.attrs["to"]))


def _cast_like_infer(ctx: InferContext) -> list[TensorType]:
    return [TensorType((ctx.input(1) or UNKNOWN).dtype, (ctx.input(0) or UNKNOWN).shape)]


@OPS.define("CastLike", infer=_cast_like_infer, attrs={"saturate": 1, "round_mode": "up"},
            inputs=(2, 2))
def cast_like(ctx, x, like):
    return cast_array(x, DType.from_numpy(like.dtype))


@OPS.define("Identity", infer=same_as_input(0), inputs=(1, 1))
def identity(ctx, x):
    """Also passes sequences (lists) and optionals through, so wrap: a bare list would read as outputs."""
    return (x,)
