"""Quantisation (with quantised MatMul/Conv), random generators, signal windows and spectral ops,
BitCast, Det and TensorScatter.

Random ops draw from a numpy Generator seeded with the `seed` attribute when given, so seeded
models are reproducible across runs of the reference backend (not bit-equal to other runtimes).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..dtypes import DType
from ..ir import TensorType
from .infer import UNKNOWN, normalize_axis, same_as_input
from .nn import WINDOW_ATTRS, _add_bias, _infer_conv, _matmul_shape, conv_integer
from .schema import REQUIRED, InferContext, OpError, OpSet

OPS = OpSet()


def _dtype_attr(value) -> Optional[DType]:
    """A dtype-valued attribute; None, "" and 0 (ONNX UNDEFINED) mean unset."""
    if value in (None, "", 0):
        return None
    return value if isinstance(value, DType) else DType.parse(value)


def _in(ctx: InferContext, index: int = 0) -> TensorType:
    return ctx.input(index) or UNKNOWN


# ---- quantisation -------------------------------------------------------------------------------
_QUANT_TYPES = (DType.U8, DType.I8, DType.U16, DType.I16, DType.I32)


def _expand_scale(param: np.ndarray, shape: tuple, axis: int, block_size: int) -> np.ndarray:
    """Broadcast a per-tensor, per-axis or blocked scale/zero point to the data's shape."""
    if param.size == 1 and param.ndim <= 1:
        return param.reshape(())
    axis = axis % len(shape)
    if param.ndim == 1 and not block_size:
        return param.reshape([-1 if i == axis else 1 for i in range(len(shape))])
    if not block_size:
        raise ValueError(f"a scale of shape {param.shape} for data {shape} needs block_size")
    return np.repeat(param, block_size, axis=axis).take(np.arange(shape[axis]), axis=axis)


def _quant_output_type(ctx: InferContext) -> DType:
    given = _dtype_attr(ctx.attrs["output_dtype"])
    zero_point = ctx.input(2)
    if zero_point is not None and zero_point.dtype is not None:
        return zero_point.dtype
    return given or DType.U8


@OPS.define("QuantizeLinear",
            infer=lambda ctx: [TensorType(_quant_output_type(ctx), _in(ctx).shape)],
            attrs={"axis": 1, "block_size": 0, "output_dtype": None, "saturate": 1,
                   "precision": None},
            inputs=(2, 3))
def quantize_linear(ctx, x, scale, zero_point=None):
    """y = saturate(round_half_even(x / scale) + zero_point), divided in the scale's precision."""
    out = (zero_point.dtype if zero_point is not None
           else (_dtype_attr(ctx.attrs["output_dtype"]) or DType.U8).numpy)
    if out.kind not in "iu":
        raise OpError(f"QuantizeLinear to {out} is not supported: only integer outputs (u8, i8, u16, i16)")
    compute = (_dtype_attr(ctx.attrs["precision"]) or DType.from_numpy(scale.dtype)).numpy
    axis, block = ctx.attrs["axis"], ctx.attrs["block_size"]
    scale = _expand_scale(scale, x.shape, axis, block).astype(compute)
    y = np.rint(x.astype(compute) / scale)
    if zero_point is not None:
        y = y + _expand_scale(zero_point, x.shape, axis, block).astype(np.float64)
    info = np.iinfo(out)
    return np.clip(y, info.min, info.max).astype(out)


def _dequant_output_type(ctx: InferContext) -> Optional[DType]:
    return _dtype_attr(ctx.attrs["output_dtype"]) or _in(ctx, 1).dtype


@OPS.define("DequantizeLinear",
            infer=lambda ctx: [TensorType(_dequant_output_type(ctx), _in(ctx).shape)],
            attrs={"axis": 1, "block_size": 0, "output_dtype": None}, inputs=(2, 3))
def dequantize_linear(ctx, x, scale, zero_point=None):
    """y = (x - zero_point) * scale; the subtraction is exact, the product in the output type."""
    out = (_dtype_attr(ctx.attrs["output_dtype"]) or DType.from_numpy(scale.dtype)).numpy
    axis, block = ctx.attrs["axis"], ctx.attrs["block_size"]
    q = x.astype(np.int64)
    if zero_point is not None:
        q = q - _expand_scale(zero_point, x.shape, axis, block).astype(np.int64)
    return (q.astype(out) * _expand_scale(scale, x.shape, axis, block).astype(out)).astype(out)


@OPS.define("DynamicQuantizeLinear",
            infer=lambda ctx: [TensorType(DType.U8, _in(ctx).shape), TensorType(_in(ctx).dtype, ()),
                               TensorType(DType.U8, ())],
            inputs=(1, 1))
def dynamic_quantize_linear(ctx, x):
    """uint8 affine quantisation over a range that always includes zero."""
    lo = np.float32(min(0.0, float(np.min(x)))) if x.size else np.float32(0)
    hi = np.float32(max(0.0, float(np.max(x)))) if x.size else np.float32(0)
    scale = np.float32((hi - lo) if hi != lo else 1.0) / np.float32(255)
    zero_point = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
    y = np.clip(np.rint(x.astype(np.float32) / scale) + zero_point, 0, 255)
    return y.astype(np.uint8), np.array(scale, dtype=x.dtype), np.array(zero_point, dtype=np.uint8)


def _requantize(acc: np.ndarray, multiplier: np.ndarray, zero_point: Optional[np.ndarray],
                out: np.dtype) -> np.ndarray:
    """Integer accumulator -> saturate(round_half_even(acc * multiplier) + zero_point); the
    multiplier (x_scale * w_scale / y_scale) is formed in the scales' own precision."""
    y = np.rint(acc.astype(np.float64) * multiplier.astype(np.float64))
    if zero_point is not None:
        y = y + zero_point.astype(np.float64)
    info = np.iinfo(out)
    return np.clip(y, info.min, info.max).astype(out)


def _qlinear_dtype(ctx: InferContext) -> Optional[DType]:
    return (_in(ctx, 7).dtype if _has(ctx, 7) else None) or _in(ctx).dtype


def _per_row(param: np.ndarray) -> np.ndarray:
    """A 1-D scale or zero point of a 2-D A holds one value per row."""
    return param.reshape(-1, 1) if param.ndim == 1 and param.size > 1 else param


@OPS.define("QLinearMatMul",
            infer=lambda ctx: [TensorType(_qlinear_dtype(ctx), _matmul_shape(_in(ctx).shape,
                                                                              _in(ctx, 3).shape))],
            inputs=(8, 8))
def qlinear_matmul(ctx, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """Per-tensor, per-row (A) or per-column (B) quantised matmul, exact in int32/int64."""
    ai = a.astype(np.int64) - _per_row(a_zero_point).astype(np.int64)
    bi = b.astype(np.int64) - b_zero_point.astype(np.int64)
    multiplier = _per_row(a_scale) * b_scale / y_scale
    out = y_zero_point.dtype if y_zero_point is not None else a.dtype
    return _requantize(np.matmul(ai, bi), multiplier, y_zero_point, out)


def _infer_qlinear_conv(ctx: InferContext) -> list[TensorType]:
    conv = InferContext(ctx.node, [ctx.input(0), ctx.input(3)], ctx.attrs, [None, ctx.const(3)])
    return [TensorType(_qlinear_dtype(ctx), _infer_conv(conv)[0].shape)]


@OPS.define("QLinearConv", infer=_infer_qlinear_conv, inputs=(8, 9),
            attrs={**WINDOW_ATTRS, "group": 1})
def qlinear_conv(ctx, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                 bias=None):
    """ConvInteger plus an int32 bias, requantised; w_scale/w_zero_point may be per output channel."""
    acc = _add_bias(conv_integer(ctx, x, w, x_zero_point, w_zero_point), bias)
    per_channel = (1, -1) + (1,) * (x.ndim - 2)
    w_scale = w_scale.reshape(per_channel) if w_scale.size > 1 else w_scale.reshape(())
    out = y_zero_point.dtype if y_zero_point is not None else x.dtype
    return _requantize(acc, x_scale * w_scale / y_scale, y_zero_point, out)


# ---- random generators --------------------------------------------------------------------------
def _rng(attrs) -> np.random.Generator:
    """ONNX seeds are floats; their bits seed the generator so 0.5 and 0.7 differ."""
    seed = attrs.get("seed")
    return np.random.default_rng(None if seed is None else int(np.float64(seed).view(np.uint64)))


def _random_infer(like: bool):
    def infer(ctx: InferContext) -> list[TensorType]:
        dtype = _dtype_attr(ctx.attrs["dtype"])
        if like:
            t = _in(ctx)
            return [TensorType(dtype or t.dtype, t.shape)]
        return [TensorType(dtype or DType.F32, tuple(int(d) for d in ctx.attrs["shape"]))]
    return infer


def _random_dtype(attrs, like: Optional[np.ndarray] = None) -> np.dtype:
    dtype = _dtype_attr(attrs["dtype"])
    if dtype is not None:
        return dtype.numpy
    return like.dtype if like is not None else np.dtype(np.float32)


_NORMAL = {"mean": 0.0, "scale": 1.0, "seed": None}
_UNIFORM = {"low": 0.0, "high": 1.0, "seed": None}


@OPS.define("RandomNormal", infer=_random_infer(False),
            attrs={**_NORMAL, "dtype": "f32", "shape": None}, inputs=(0, 0))
def random_normal(ctx):
    a = ctx.attrs
    return _rng(a).normal(a["mean"], a["scale"], [int(d) for d in a["shape"]]).astype(_random_dtype(a))


@OPS.define("RandomUniform", infer=_random_infer(False),
            attrs={**_UNIFORM, "dtype": "f32", "shape": None}, inputs=(0, 0))
def random_uniform(ctx):
    a = ctx.attrs
    return _rng(a).uniform(a["low"], a["high"], [int(d) for d in a["shape"]]).astype(_random_dtype(a))


@OPS.define("RandomNormalLike", infer=_random_infer(True), attrs={**_NORMAL, "dtype": None},
            inputs=(1, 1))
def random_normal_like(ctx, x):
    a = ctx.attrs
    return _rng(a).normal(a["mean"], a["scale"], x.shape).astype(_random_dtype(a, x))


@OPS.define("RandomUniformLike", infer=_random_infer(True), attrs={**_UNIFORM, "dtype": None},
            inputs=(1, 1))
def random_uniform_like(ctx, x):
    a = ctx.attrs
    return _rng(a).uniform(a["low"], a["high"], x.shape).astype(_random_dtype(a, x))


@OPS.define("Bernoulli", infer=_random_infer(True), attrs={"dtype": None, "seed": None},
            inputs=(1, 1))
def bernoulli(ctx, p):
    return (_rng(ctx.attrs).uniform(size=p.shape) < p).astype(_random_dtype(ctx.attrs, p))


def _infer_multinomial(ctx):
    t = _in(ctx)
    batch = t.shape[0] if t.shape else None
    return [TensorType(_dtype_attr(ctx.attrs["dtype"]) or DType.I32,
                       (batch, ctx.attrs["sample_size"]))]


@OPS.define("Multinomial", infer=_infer_multinomial,
            attrs={"dtype": "i32", "sample_size": 1, "seed": None}, inputs=(1, 1))
def multinomial(ctx, logits):
    """Samples class indices from each row's unnormalised log-probabilities."""
    rng, n = _rng(ctx.attrs), ctx.attrs["sample_size"]
    p = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    draws = rng.uniform(size=(logits.shape[0], n, 1))
    samples = np.minimum((draws >= cdf[:, None, :]).sum(axis=-1), logits.shape[1] - 1)
    return samples.astype((_dtype_attr(ctx.attrs["dtype"]) or DType.I32).numpy)


# ---- signal windows -----------------------------------------------------------------------------
def _infer_window(ctx):
    size = ctx.const(0)
    n = None if size is None else int(np.asarray(size).reshape(-1)[0])
    return [TensorType(_dtype_attr(ctx.attrs["output_datatype"]) or DType.F32, (n,))]


def _cosine_window(name: str, coefficients: tuple[float, ...]):
    """Generalised cosine windows: sum_k (-1)^k a_k cos(2 pi k n / N)."""
    @OPS.define(name, infer=_infer_window, attrs={"output_datatype": "f32", "periodic": 1},
                inputs=(1, 1))
    def kernel(ctx, size):
        n = int(np.asarray(size).reshape(-1)[0])
        denominator = n if ctx.attrs["periodic"] else n - 1
        phase = 2 * np.pi * np.arange(n) / max(denominator, 1)
        y = sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))
        dtype = _dtype_attr(ctx.attrs["output_datatype"]) or DType.F32
        return np.asarray(y, dtype=np.float64).reshape(n).astype(dtype.numpy)
    kernel.__name__ = name
    return kernel


_cosine_window("HannWindow", (0.5, 0.5))
_cosine_window("HammingWindow", (25 / 46, 21 / 46))
_cosine_window("BlackmanWindow", (0.42, 0.5, 0.08))


# ---- spectral ops -------------------------------------------------------------------------------
def _as_complex(x: np.ndarray) -> np.ndarray:
    """The IR keeps complex tensors as a trailing [real, imag] axis (or [real] for real signals)."""
    return x[..., 0] if x.shape[-1] == 1 else x[..., 0] + 1j * x[..., 1]


def _as_pairs(z: np.ndarray, dtype) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=-1).astype(dtype)


def _scalar(value, default=None):
    return default if value is None else np.asarray(value).reshape(-1)[0].item()


def _has(ctx: InferContext, index: int) -> bool:
    return index < len(ctx.node.inputs) and bool(ctx.node.inputs[index])


def _infer_dft(ctx):
    t = _in(ctx)
    if t.shape is None or (_has(ctx, 2) and ctx.const(2) is None):
        return [TensorType(t.dtype, None if t.shape is None else (None,) * t.rank)]
    axis = normalize_axis(_scalar(ctx.const(2), -2), t.rank, ctx)
    inverse, onesided = ctx.attrs["inverse"], ctx.attrs["onesided"]
    dim = t.shape[axis]
    if _has(ctx, 1):
        n = _scalar(ctx.const(1))
    elif inverse and onesided:
        n = 2 * (dim - 1) if isinstance(dim, int) else None
    else:
        n = dim
    if onesided and not inverse:
        n = n // 2 + 1 if isinstance(n, int) else None
    last = 1 if inverse and onesided else 2
    return [TensorType(t.dtype, t.shape[:axis] + (n,) + t.shape[axis + 1:-1] + (last,))]


@OPS.define("DFT", infer=_infer_dft, attrs={"inverse": 0, "onesided": 0}, inputs=(1, 3))
def dft(ctx, x, dft_length=None, axis=None):
    """Forward/inverse DFT; onesided keeps the non-redundant half (inverse: a real irfft)."""
    axis = _scalar(axis, -2) % x.ndim
    z = _as_complex(x)
    inverse, onesided = ctx.attrs["inverse"], ctx.attrs["onesided"]
    n = _scalar(dft_length)
    if inverse and onesided:
        return np.fft.irfft(z, n=n or 2 * (x.shape[axis] - 1), axis=axis)[..., None].astype(x.dtype)
    y = (np.fft.ifft if inverse else np.fft.fft)(z, n=n or x.shape[axis], axis=axis)
    if onesided:
        y = y.take(np.arange(y.shape[axis] // 2 + 1), axis=axis)
    return _as_pairs(y, x.dtype)


def _infer_stft(ctx):
    t, step = _in(ctx), _scalar(ctx.const(1))
    if t.shape is None:
        return [TensorType(t.dtype, (None,) * 4)]
    if _has(ctx, 3):
        length = _scalar(ctx.const(3))
    else:
        length = (_in(ctx, 2).shape or (None,))[0] if _has(ctx, 2) else t.shape[1]
    n, known = t.shape[1], isinstance(length, int)
    frames = 1 + (n - length) // step if known and isinstance(n, int) and step else None
    bins = (length // 2 + 1 if ctx.attrs["onesided"] else length) if known else None
    return [TensorType(t.dtype, (t.shape[0], frames, bins, 2))]


@OPS.define("STFT", infer=_infer_stft, attrs={"onesided": 1}, inputs=(2, 4))
def stft(ctx, signal, frame_step, window=None, frame_length=None):
    """Windowed DFT of frames of a [batch, length, 1|2] signal: [batch, frames, bins, 2]."""
    z, step = _as_complex(signal), int(_scalar(frame_step))
    length = int(_scalar(frame_length, window.shape[0] if window is not None else z.shape[1]))
    frames = 1 + (z.shape[1] - length) // step
    starts = np.arange(frames)[:, None] * step + np.arange(length)
    framed = z[:, starts] * (1 if window is None else window)
    spectrum = np.fft.fft(framed, axis=-1)
    if ctx.attrs["onesided"]:
        spectrum = spectrum[..., : length // 2 + 1]
    return _as_pairs(spectrum, signal.dtype)


def _infer_mel(ctx):
    bins, length = _scalar(ctx.const(0)), _scalar(ctx.const(1))
    dtype = _dtype_attr(ctx.attrs["output_datatype"]) or DType.F32
    return [TensorType(dtype, (None if length is None else length // 2 + 1, bins))]


@OPS.define("MelWeightMatrix", infer=_infer_mel, attrs={"output_datatype": "f32"}, inputs=(5, 5))
def mel_weight_matrix(ctx, num_mel_bins, dft_length, sample_rate, lower_hz, upper_hz):
    """Triangular filters between mel-spaced points snapped to DFT bins, as the ONNX spec's
    reference (and onnxruntime) compute them: [dft_length // 2 + 1, num_mel_bins]."""
    bins, length, rate = (int(_scalar(v)) for v in (num_mel_bins, dft_length, sample_rate))
    low, high = (2595 * np.log10(1 + float(_scalar(v)) / 700) for v in (lower_hz, upper_hz))
    mel = low + np.arange(bins + 2) * (high - low) / (bins + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    points = ((length + 1) * hz // rate).astype(np.int64)
    k = np.arange(length // 2 + 1)[:, None]
    left, centre, right = points[:-2], points[1:-1], points[2:]
    rising = (k - left) / np.maximum(centre - left, 1)
    falling = (right - k) / np.maximum(right - centre, 1)
    weights = np.where((k >= left) & (k <= centre), np.where(centre == left, k == centre, rising), 0.0)
    weights = np.where((k >= centre) & (k < right), falling, weights)
    dtype = _dtype_attr(ctx.attrs["output_datatype"]) or DType.F32
    return weights.astype(dtype.numpy)



# ---- bit reinterpretation, determinants, cache updates ------------------------------------------
@OPS.define("BitCast", infer=lambda ctx: [TensorType(_dtype_attr(ctx.attrs["to"]), _in(ctx).shape)],
            attrs={"to": REQUIRED}, inputs=(1, 1))
def bitcast(ctx, x):
    """Same bits, another element type of the same width (little-endian, like numpy's view)."""
    to = _dtype_attr(ctx.attrs["to"]).numpy
    if x.dtype.kind in "OUS" or to.kind in "OUS" or x.dtype.itemsize != to.itemsize:
        raise ValueError(f"BitCast from {x.dtype} to {to}: both must be non-string and equally wide")
    return np.require(x, requirements="C").view(to)  # (ascontiguousarray would make 0-d 1-d)


def _infer_det(ctx: InferContext) -> list[TensorType]:
    t = _in(ctx)
    if t.shape is not None and len(t.shape) < 2:
        raise ctx.fail(f"input of rank {len(t.shape)}; Det needs [..., M, M]")
    return [TensorType(t.dtype, None if t.shape is None else t.shape[:-2])]


@OPS.define("Det", infer=_infer_det, inputs=(1, 1))
def det(ctx, x):
    """Determinants of the trailing M x M matrices, by LU in at least f32."""
    return np.asarray(np.linalg.det(x.astype(np.result_type(x.dtype, np.float32)))).astype(x.dtype)


@OPS.define("TensorScatter", infer=same_as_input(0), attrs={"mode": "linear", "axis": -2},
            inputs=(2, 3))
def tensor_scatter(ctx, past_cache, update, write_indices=None):
    """Writes `update` into the cache along `axis` from each batch entry's write index (KV-cache
    append); circular mode wraps the positions modulo the cache length."""
    mode = ctx.attrs["mode"]
    if mode not in ("linear", "circular"):
        raise ValueError(f"unknown TensorScatter mode {mode!r}")
    axis = normalize_axis(ctx.attrs["axis"], past_cache.ndim)
    if axis == 0:
        raise ValueError("TensorScatter's axis must not be the batch axis")
    batch, length, capacity = past_cache.shape[0], update.shape[axis], past_cache.shape[axis]
    starts = (np.zeros(batch, np.int64) if write_indices is None
              else np.asarray(write_indices, np.int64).reshape(batch))
    positions = starts[:, None] + np.arange(length)
    if mode == "circular":
        positions %= capacity
    elif length and positions.max(initial=0) >= capacity:
        raise ValueError(f"writes reach position {positions.max()} of a cache of length {capacity}")
    shape = [batch] + [1] * (past_cache.ndim - 1)
    shape[axis] = length
    index = np.broadcast_to(positions.reshape(shape), update.shape)
    present = past_cache.copy()
    np.put_along_axis(present, index, update, axis=axis)
    return present
