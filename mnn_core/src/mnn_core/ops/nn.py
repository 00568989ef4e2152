"""Neural-network ops: convolution, pooling, matrix products, resampling and detection helpers.

Windowed ops (Conv, pools) share `_axis_geometry` for padding and output size, so type inference
and kernels cannot disagree, and run on strided window views (im2col + matmul) rather than Python
loops over pixels.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..dtypes import DType
from ..ir import TensorType
from .fused import FUSED_ATTRS, apply_activation
from .infer import UNKNOWN, broadcast_dims, same_as_input
from .schema import REQUIRED, OpSet

OPS = OpSet()

WINDOW_ATTRS = {"auto_pad": "NOTSET", "dilations": None, "kernel_shape": None, "pads": None,
                "strides": None}


# ---- geometry shared by inference and kernels ---------------------------------------------------
def _spatial(value, n: int, default: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if value is not None and len(value) else (default,) * n


def _axis_geometry(size, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
                   auto_pad: str, ceil_mode: bool = False):
    """(pad_begin, pad_end, output size) of one spatial axis; size may be symbolic (-> None)."""
    span = (kernel - 1) * dilation + 1
    if not isinstance(size, int):
        return pad_begin, pad_end, None
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = -(-size // stride)
        total = max(0, (out - 1) * stride + span - size)
        small, large = total // 2, total - total // 2
        begin, end = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        return begin, end, out
    if auto_pad == "VALID":
        return 0, 0, max(0, (size - span) // stride + 1)
    room = size + pad_begin + pad_end - span
    if ceil_mode:
        out = -(-room // stride) + 1
        if (out - 1) * stride >= size + pad_begin:  # the last window would start in the end padding
            out -= 1
    else:
        out = room // stride + 1
    return pad_begin, pad_end, max(0, out)


def _window_params(attrs, n: int, kernel: Sequence[int]):
    strides = _spatial(attrs["strides"], n, 1)
    dilations = _spatial(attrs["dilations"], n, 1)
    pads = _spatial(attrs["pads"], 2 * n, 0)
    return strides, dilations, pads


def _geometry(attrs, spatial: Sequence, kernel: Sequence[int], ceil_mode: bool = False):
    """Per-axis (begins, ends, outputs) for a windowed op over `spatial` input dims."""
    n = len(spatial)
    strides, dilations, pads = _window_params(attrs, n, kernel)
    auto_pad = attrs.get("auto_pad") or "NOTSET"
    rows = [_axis_geometry(spatial[i], kernel[i], strides[i], dilations[i], pads[i], pads[n + i],
                           auto_pad, ceil_mode) for i in range(n)]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _windows(x: np.ndarray, kernel, strides, dilations, out) -> np.ndarray:
    """Read-only view of x (N, C, *S) as (N, C, *out, *kernel) sliding windows."""
    st = x.strides
    n = len(kernel)
    shape = x.shape[:2] + tuple(out) + tuple(kernel)
    strides_ = st[:2] + tuple(st[2 + i] * strides[i] for i in range(n)) + \
        tuple(st[2 + i] * dilations[i] for i in range(n))
    return as_strided(x, shape, strides_, writeable=False)


def _pad_for_windows(x, begins, ends, kernel, strides, dilations, out, value):
    """Pad the spatial axes so every window of the output fits (ceil mode may need extra end pad)."""
    widths = [(0, 0), (0, 0)]
    for i, size in enumerate(x.shape[2:]):
        need = (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 if out[i] else 0
        widths.append((begins[i], max(ends[i], need - size - begins[i], 0)))
    return np.pad(x, widths, constant_values=value)


def _kernel_of(attrs, w_shape) -> Optional[tuple]:
    if attrs["kernel_shape"] is not None and len(attrs["kernel_shape"]):
        return tuple(int(k) for k in attrs["kernel_shape"])
    return None if w_shape is None else tuple(w_shape[2:])


def _channels_first(ctx, out_spatial, channels, dtype=None) -> list[TensorType]:
    x = ctx.input(0) or UNKNOWN
    batch = x.shape[0] if x.shape is not None else None
    return [TensorType(dtype or x.dtype, (batch, channels, *out_spatial))]


# ---- convolution -------------------------------------------------------------------------------
def _infer_conv(ctx):
    x, w = ctx.input(0) or UNKNOWN, ctx.input(1) or UNKNOWN
    kernel = _kernel_of(ctx.attrs, w.shape)
    if x.shape is None or kernel is None or any(not isinstance(k, int) for k in kernel):
        shape = None if x.shape is None else (x.shape[0],) + (None,) * (len(x.shape) - 1)
        return [TensorType(x.dtype, shape)]
    _, _, out = _geometry(ctx.attrs, x.shape[2:], kernel)
    channels = w.shape[0] if w.shape is not None else None
    return _channels_first(ctx, out, channels)


def _conv_core(x: np.ndarray, w: np.ndarray, attrs) -> np.ndarray:
    """im2col convolution: windows of the padded input are copied into rows and multiplied by W."""
    n = x.ndim - 2
    kernel = w.shape[2:]
    strides, dilations, _ = _window_params(attrs, n, kernel)
    begins, ends, out = _geometry(attrs, x.shape[2:], kernel)
    xp = _pad_for_windows(x, begins, ends, kernel, strides, dilations, out, 0)
    batch, channels = x.shape[:2]
    groups, m = int(attrs["group"]), w.shape[0]
    cols = _windows(xp, kernel, strides, dilations, out).reshape(
        batch, groups, channels // groups, *out, *kernel)
    order = (0, 1, *range(3, 3 + n), 2, *range(3 + n, 3 + 2 * n))
    cols = cols.transpose(order).reshape(batch, groups, int(np.prod(out)), -1)
    weights = w.reshape(groups, m // groups, -1).transpose(0, 2, 1)
    y = np.matmul(cols, weights)  # (N, g, P, M/g)
    return y.transpose(0, 1, 3, 2).reshape(batch, m, *out)


def _add_bias(y, b):
    return y if b is None else y + b.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype)


@OPS.define("Conv", infer=_infer_conv, inputs=(2, 3),
            attrs={**WINDOW_ATTRS, "group": 1, **FUSED_ATTRS})
def conv(ctx, x, w, b=None):
    y = _add_bias(_conv_core(x, w, ctx.attrs), b)
    return apply_activation(y.astype(x.dtype, copy=False), ctx.attrs["activation"],
                            ctx.attrs["activation_params"])


@OPS.define("ConvInteger", infer=lambda ctx: [TensorType(DType.I32, _infer_conv(ctx)[0].shape)],
            inputs=(2, 4), attrs={**WINDOW_ATTRS, "group": 1})
def conv_integer(ctx, x, w, x_zero_point=None, w_zero_point=None):
    xi = x.astype(np.int32) - (0 if x_zero_point is None else np.int32(x_zero_point.reshape(-1)[0]))
    wi = w.astype(np.int32)
    if w_zero_point is not None:
        wi = wi - w_zero_point.astype(np.int32).reshape((-1,) + (1,) * (w.ndim - 1))
    return _conv_core(xi, wi, ctx.attrs).astype(np.int32)


def _conv_transpose_geometry(attrs, spatial, kernel):
    """Per-axis (pad_begin, output size) of ConvTranspose; output_shape overrides pads."""
    n = len(spatial)
    strides, dilations, pads = _window_params(attrs, n, kernel)
    out_pad = _spatial(attrs["output_padding"], n, 0)
    shape = attrs["output_shape"]
    auto_pad = attrs["auto_pad"] or "NOTSET"
    if shape is not None and len(shape):
        shape = tuple(int(s) for s in shape)[-n:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        shape = tuple(s * st if isinstance(s, int) else None for s, st in zip(spatial, strides))
    begins, outs = [], []
    for i in range(n):
        if not isinstance(spatial[i], int):
            begins.append(pads[i])
            outs.append(shape[i] if shape is not None else None)
            continue
        full = strides[i] * (spatial[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1
        if shape is not None:
            total = full - shape[i]
            begins.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
            outs.append(shape[i])
        else:
            begins.append(pads[i])
            outs.append(full - pads[i] - pads[n + i])
    return begins, outs


def _infer_conv_transpose(ctx):
    x, w = ctx.input(0) or UNKNOWN, ctx.input(1) or UNKNOWN
    kernel = _kernel_of(ctx.attrs, w.shape)
    if x.shape is None or kernel is None or any(not isinstance(k, int) for k in kernel):
        return [TensorType(x.dtype, None)]
    _, out = _conv_transpose_geometry(ctx.attrs, x.shape[2:], kernel)
    m = w.shape[1] * int(ctx.attrs["group"]) if w.shape is not None and isinstance(w.shape[1], int) else None
    return _channels_first(ctx, out, m)


@OPS.define("ConvTranspose", infer=_infer_conv_transpose, inputs=(2, 3),
            attrs={**WINDOW_ATTRS, "group": 1, "output_padding": None, "output_shape": None,
                   **FUSED_ATTRS})
def conv_transpose(ctx, x, w, b=None):
    """Each input pixel scatters W-weighted copies into the output (col2im), one kernel tap at a time."""
    n = x.ndim - 2
    kernel, spatial = w.shape[2:], x.shape[2:]
    strides, dilations, _ = _window_params(ctx.attrs, n, kernel)
    begins, outs = _conv_transpose_geometry(ctx.attrs, spatial, kernel)
    batch, channels = x.shape[:2]
    groups = int(ctx.attrs["group"])
    mg = w.shape[1]
    xm = x.reshape(batch, groups, channels // groups, -1).transpose(0, 1, 3, 2)
    cols = np.matmul(xm, w.reshape(groups, channels // groups, -1))  # (N, g, P, Mg*K)
    cols = cols.reshape(batch, groups, *spatial, mg, *kernel)
    cols = cols.transpose(0, 1, 2 + n, *range(3 + n, 3 + 2 * n), *range(2, 2 + n))
    cols = cols.reshape(batch, groups * mg, *kernel, *spatial)
    full = [st * (s - 1) + (k - 1) * d + 1 for s, k, st, d in zip(spatial, kernel, strides, dilations)]
    lo = [min(0, b_) for b_ in begins]
    hi = [max(f, b_ + o) for f, b_, o in zip(full, begins, outs)]
    buf = np.zeros((batch, groups * mg, *[h - l for h, l in zip(hi, lo)]), dtype=cols.dtype)
    for tap in np.ndindex(*kernel):
        region = tuple(slice(t * d - l, t * d - l + (s - 1) * st + 1, st)
                       for t, d, l, s, st in zip(tap, dilations, lo, spatial, strides))
        buf[(slice(None), slice(None), *region)] += cols[(slice(None), slice(None), *tap)]
    y = buf[(slice(None), slice(None), *(slice(b_ - l, b_ - l + o) for b_, l, o in zip(begins, lo, outs)))]
    y = _add_bias(y, b).astype(x.dtype, copy=False)
    return apply_activation(y, ctx.attrs["activation"], ctx.attrs["activation_params"])


@OPS.define("DeformConv", infer=_infer_conv, inputs=(3, 5),
            attrs={"dilations": None, "group": 1, "kernel_shape": None, "offset_group": 1,
                   "pads": None, "strides": None})
def deform_conv(ctx, x, w, offset, b=None, mask=None):
    """Conv whose taps sample the input bilinearly at learned offsets (zero outside), times a mask."""
    n = x.ndim - 2
    kernel = w.shape[2:]
    attrs = {**ctx.attrs, "auto_pad": "NOTSET"}
    strides, dilations, pads = _window_params(attrs, n, kernel)
    _, _, out = _geometry(attrs, x.shape[2:], kernel)
    batch, channels = x.shape[:2]
    taps = int(np.prod(kernel))
    og = int(ctx.attrs["offset_group"])
    off = offset.reshape(batch, og, taps, n, *out).astype(np.float64)
    msk = np.ones((batch, og, taps, *out)) if mask is None else mask.reshape(batch, og, taps, *out)
    grid = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
    cols = np.zeros((batch, channels, taps, *out), dtype=np.float64)
    xg = x.reshape(batch, og, channels // og, *x.shape[2:])
    for t, tap in enumerate(np.ndindex(*kernel)):
        for g in range(og):
            pos = [grid[i] * strides[i] - pads[i] + tap[i] * dilations[i] + off[:, g, t, i]
                   for i in range(n)]
            vals = _sample_linear(xg[:, g], pos, "zeros", None)  # (N, Cg, *out)
            cols[:, g * (channels // og):(g + 1) * (channels // og), t] = vals * msk[:, g, t][:, None]
    groups, m = int(ctx.attrs["group"]), w.shape[0]
    cols = cols.reshape(batch, groups, (channels // groups) * taps, -1).transpose(0, 1, 3, 2)
    y = np.matmul(cols, w.reshape(groups, m // groups, -1).transpose(0, 2, 1).astype(np.float64))
    y = y.transpose(0, 1, 3, 2).reshape(batch, m, *out)
    return _add_bias(y, b).astype(x.dtype)


# ---- pooling -----------------------------------------------------------------------------------
POOL_ATTRS = {**WINDOW_ATTRS, "kernel_shape": REQUIRED, "ceil_mode": 0}


def _infer_pool(ctx):
    x = ctx.input(0) or UNKNOWN
    if x.shape is None:
        return [UNKNOWN] * ctx.num_outputs
    kernel = tuple(int(k) for k in ctx.attrs["kernel_shape"])
    _, _, out = _geometry(ctx.attrs, x.shape[2:], kernel, bool(ctx.attrs["ceil_mode"]))
    y = TensorType(x.dtype, (x.shape[0], x.shape[1], *out))
    return [y, TensorType(DType.I64, y.shape)][:ctx.num_outputs]


def _pool_windows(x, attrs, fill):
    """(windows of x, windows of an in-bounds mask, window of a pads-included mask) for pooling."""
    n = x.ndim - 2
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    strides, dilations, _ = _window_params(attrs, n, kernel)
    begins, ends, out = _geometry(attrs, x.shape[2:], kernel, bool(attrs["ceil_mode"]))
    padded = _pad_for_windows(x, begins, ends, kernel, strides, dilations, out, fill)
    inside = np.zeros((1, 1) + padded.shape[2:], dtype=bool)
    inside[(0, 0, *(slice(b, b + s) for b, s in zip(begins, x.shape[2:])))] = True
    in_pads = np.zeros_like(inside)
    in_pads[(0, 0, *(slice(0, b + s + e) for b, s, e in zip(begins, x.shape[2:], ends)))] = True
    view = lambda a: _windows(a, kernel, strides, dilations, out)
    return view(padded), view(inside), view(in_pads), out


def _lowest(dtype):
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


@OPS.define("MaxPool", infer=_infer_pool, inputs=(1, 1), attrs={**POOL_ATTRS, "storage_order": 0})
def max_pool(ctx, x):
    n = x.ndim - 2
    windows, inside, _, out = _pool_windows(x, ctx.attrs, _lowest(x.dtype))
    flat = windows.reshape(*windows.shape[:2 + n], -1)
    valid = np.broadcast_to(inside.reshape(*inside.shape[:2 + n], -1), flat.shape)
    masked = np.where(valid, flat, _lowest(x.dtype))
    arg = np.argmax(masked, axis=-1)
    any_valid = valid.any(axis=-1)
    y = np.where(any_valid, np.take_along_axis(masked, arg[..., None], -1)[..., 0], 0).astype(x.dtype)
    if ctx.num_outputs < 2:
        return y
    # flat input index of each input element, in row- or column-major order over spatial axes
    spatial = x.shape[2:]
    order = np.arange(int(np.prod(spatial)), dtype=np.int64)
    if ctx.attrs["storage_order"]:
        order = order.reshape(spatial[::-1]).transpose(*range(n - 1, -1, -1))
    base = (np.arange(x.shape[0] * x.shape[1], dtype=np.int64) * int(np.prod(spatial)))
    index = base.reshape(x.shape[:2] + (1,) * n) + order.reshape((1, 1) + tuple(spatial))
    iw, _, _, _ = _pool_windows(index, ctx.attrs, -1)
    iflat = iw.reshape(*iw.shape[:2 + n], -1)
    indices = np.take_along_axis(iflat, arg[..., None], -1)[..., 0]
    return y, np.where(any_valid, indices, -1).astype(np.int64)


@OPS.define("AveragePool", infer=_infer_pool, inputs=(1, 1),
            attrs={**POOL_ATTRS, "count_include_pad": 0})
def average_pool(ctx, x):
    n = x.ndim - 2
    windows, inside, in_pads, _ = _pool_windows(x, ctx.attrs, 0)
    axes = tuple(range(-n, 0))
    total = windows.sum(axis=axes, dtype=np.float64)
    count = (in_pads if ctx.attrs["count_include_pad"] else inside).sum(axis=axes)
    return (total / np.maximum(count, 1)).astype(x.dtype)


@OPS.define("LpPool", infer=_infer_pool, inputs=(1, 1), attrs={**POOL_ATTRS, "p": 2})
def lp_pool(ctx, x):
    n = x.ndim - 2
    p = float(ctx.attrs["p"])
    windows, _, _, _ = _pool_windows(np.abs(x).astype(np.float64) ** p, ctx.attrs, 0)
    return (windows.sum(axis=tuple(range(-n, 0))) ** (1 / p)).astype(x.dtype)


def _infer_global(ctx):
    x = ctx.input(0) or UNKNOWN
    shape = None if x.shape is None else x.shape[:2] + (1,) * (len(x.shape) - 2)
    return [TensorType(x.dtype, shape)]


@OPS.define("GlobalAveragePool", infer=_infer_global, inputs=(1, 1))
def global_average_pool(ctx, x):
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)


@OPS.define("GlobalMaxPool", infer=_infer_global, inputs=(1, 1))
def global_max_pool(ctx, x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)


@OPS.define("GlobalLpPool", infer=_infer_global, inputs=(1, 1), attrs={"p": 2})
def global_lp_pool(ctx, x):
    p = float(ctx.attrs["p"])
    total = (np.abs(x).astype(np.float64) ** p).sum(axis=tuple(range(2, x.ndim)), keepdims=True)
    return (total ** (1 / p)).astype(x.dtype)


def _unpool_shape(attrs, spatial):
    n = len(spatial)
    kernel = [int(k) for k in attrs["kernel_shape"]]
    strides = _spatial(attrs["strides"], n, 1)
    pads = _spatial(attrs["pads"], 2 * n, 0)
    return [(s - 1) * st - pads[i] - pads[n + i] + k if isinstance(s, int) else None
            for i, (s, st, k) in enumerate(zip(spatial, strides, kernel))]


def _infer_max_unpool(ctx):
    x = ctx.input(0) or UNKNOWN
    shape = ctx.const(2)
    if shape is not None:
        return [TensorType(x.dtype, tuple(int(s) for s in shape))]
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    return [TensorType(x.dtype, (*x.shape[:2], *_unpool_shape(ctx.attrs, x.shape[2:])))]


@OPS.define("MaxUnpool", infer=_infer_max_unpool, inputs=(2, 3),
            attrs={"kernel_shape": REQUIRED, "pads": None, "strides": None})
def max_unpool(ctx, x, indices, output_shape=None):
    """Indices address the default (un-padded pooling) output; a larger output_shape is zero-filled."""
    shape = (*x.shape[:2], *_unpool_shape(ctx.attrs, x.shape[2:]))
    y = np.zeros(int(np.prod(shape)), dtype=x.dtype)
    y[indices.reshape(-1)] = x.reshape(-1)
    y = y.reshape(shape)
    if output_shape is None:
        return y
    result = np.zeros(tuple(int(s) for s in output_shape), dtype=x.dtype)
    region = tuple(slice(0, min(a, b)) for a, b in zip(shape, result.shape))
    result[region] = y[region]
    return result


def _infer_roi(height_attr, width_attr, rois_index=1):
    def infer(ctx):
        x, rois = ctx.input(0) or UNKNOWN, ctx.input(rois_index) or UNKNOWN
        if height_attr == "pooled_shape":
            h, w = (int(v) for v in ctx.attrs["pooled_shape"])
        else:
            h, w = int(ctx.attrs[height_attr]), int(ctx.attrs[width_attr])
        r = rois.shape[0] if rois.shape is not None else None
        c = x.shape[1] if x.shape is not None else None
        return [TensorType(x.dtype, (r, c, h, w))]
    return infer


@OPS.define("MaxRoiPool", infer=_infer_roi("pooled_shape", None), inputs=(2, 2),
            attrs={"pooled_shape": REQUIRED, "spatial_scale": 1.0})
def max_roi_pool(ctx, x, rois):
    """Caffe ROI pooling: each ROI (batch, x1, y1, x2, y2) is split into bins of the max."""
    ph, pw = (int(v) for v in ctx.attrs["pooled_shape"])
    scale = float(ctx.attrs["spatial_scale"])
    height, width = x.shape[2:]
    y = np.zeros((rois.shape[0], x.shape[1], ph, pw), dtype=x.dtype)
    for r, (b, *box) in enumerate(rois.astype(np.float64)):
        x1, y1, x2, y2 = (int(np.round(v * scale)) for v in box)
        roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        for i in range(ph):
            h0 = min(max(int(np.floor(i * roi_h / ph)) + y1, 0), height)
            h1 = min(max(int(np.ceil((i + 1) * roi_h / ph)) + y1, 0), height)
            for j in range(pw):
                w0 = min(max(int(np.floor(j * roi_w / pw)) + x1, 0), width)
                w1 = min(max(int(np.ceil((j + 1) * roi_w / pw)) + x1, 0), width)
                if h1 > h0 and w1 > w0:
                    y[r, :, i, j] = x[int(b), :, h0:h1, w0:w1].max(axis=(1, 2))
    return y


@OPS.define("RoiAlign", infer=_infer_roi("output_height", "output_width"), inputs=(3, 3),
            attrs={"coordinate_transformation_mode": "half_pixel", "mode": "avg",
                   "output_height": 1, "output_width": 1, "sampling_ratio": 0,
                   "spatial_scale": 1.0})
def roi_align(ctx, x, rois, batch_indices):
    """Mask R-CNN RoiAlign: bins average (or max) bilinear samples on a regular grid."""
    a = ctx.attrs
    oh, ow = int(a["output_height"]), int(a["output_width"])
    scale, ratio = float(a["spatial_scale"]), int(a["sampling_ratio"])
    half_pixel = a["coordinate_transformation_mode"] == "half_pixel"
    height, width = x.shape[2:]
    y = np.zeros((rois.shape[0], x.shape[1], oh, ow), dtype=np.float64)
    for r, box in enumerate(rois.astype(np.float64)):
        x0, y0, x1, y1 = box * scale - (0.5 if half_pixel else 0.0)
        roi_w, roi_h = x1 - x0, y1 - y0
        if not half_pixel:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        gh = ratio if ratio > 0 else int(np.ceil(roi_h / oh))
        gw = ratio if ratio > 0 else int(np.ceil(roi_w / ow))
        if gh <= 0 or gw <= 0:
            continue
        ys = y0 + (np.arange(oh)[:, None] + (np.arange(gh)[None, :] + 0.5) / gh) * (roi_h / oh)
        xs = x0 + (np.arange(ow)[:, None] + (np.arange(gw)[None, :] + 0.5) / gw) * (roi_w / ow)
        (ylo, yhi, wy0, wy1, vy), (xlo, xhi, wx0, wx1, vx) = _roi_taps(ys, height), _roi_taps(xs, width)
        img = x[int(batch_indices[r])].astype(np.float64)  # (C, H, W)
        # sample axes: (C, oh, gh, ow, gw); per corner: weight * value
        def corner(yi, xi, wy, wx):
            w = (wy * vy)[:, :, None, None] * (wx * vx)[None, None]
            return img[:, yi[:, :, None, None], xi[None, None]] * w
        corners = [corner(ylo, xlo, wy0, wx0), corner(ylo, xhi, wy0, wx1),
                   corner(yhi, xlo, wy1, wx0), corner(yhi, xhi, wy1, wx1)]
        if a["mode"] == "avg":
            y[r] = sum(corners).sum(axis=(2, 4)) / max(gh * gw, 1)
        else:
            y[r] = np.max(np.stack(corners), axis=0).max(axis=(2, 4))
    return y.astype(x.dtype)


def _roi_taps(coords, size):
    """Bilinear taps along one axis as RoiAlign defines them (clamped at the far edge)."""
    valid = (coords >= -1.0) & (coords <= size)
    c = np.maximum(coords, 0.0)
    lo = np.floor(c).astype(np.int64)
    at_edge = lo >= size - 1
    lo = np.where(at_edge, size - 1, lo)
    hi = np.where(at_edge, size - 1, lo + 1)
    c = np.where(at_edge, lo, c)
    frac = c - lo
    return lo, hi, 1.0 - frac, frac, valid.astype(np.float64)


# ---- matrix products ---------------------------------------------------------------------------
def _matmul_shape(a, b):
    if a is None or b is None:
        return None
    if len(a) == 0 or len(b) == 0:
        raise ValueError("MatMul inputs must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    batch = broadcast_dims([a2[:-2], b2[:-2]])
    shape = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(b) == 1:
        shape = shape[:-1]
    return shape


def _infer_matmul(dtype=None):
    def infer(ctx):
        a, b = ctx.input(0) or UNKNOWN, ctx.input(1) or UNKNOWN
        return [TensorType(dtype or a.dtype, _matmul_shape(a.shape, b.shape))]
    return infer


@OPS.define("MatMul", infer=_infer_matmul(), inputs=(2, 2), attrs=dict(FUSED_ATTRS))
def matmul(ctx, a, b):
    y = np.matmul(a, b).astype(a.dtype, copy=False)
    return apply_activation(y, ctx.attrs["activation"], ctx.attrs["activation_params"])


@OPS.define("MatMulInteger", infer=_infer_matmul(DType.I32), inputs=(2, 4))
def matmul_integer(ctx, a, b, a_zero_point=None, b_zero_point=None):
    ai, bi = a.astype(np.int32), b.astype(np.int32)
    if a_zero_point is not None:  # per-row zero points apply along A's row axis
        zp = a_zero_point.astype(np.int32)
        ai = ai - (zp.reshape(()) if zp.size == 1 else zp.reshape(-1, 1))
    if b_zero_point is not None:  # per-column zero points broadcast along the last axis
        bi = bi - b_zero_point.astype(np.int32)
    return np.matmul(ai, bi).astype(np.int32)


def _infer_gemm(ctx):
    a, b = ctx.input(0) or UNKNOWN, ctx.input(1) or UNKNOWN
    m = None if a.shape is None else a.shape[1 if ctx.attrs["transA"] else 0]
    n = None if b.shape is None else b.shape[0 if ctx.attrs["transB"] else 1]
    return [TensorType(a.dtype, (m, n))]


@OPS.define("Gemm", infer=_infer_gemm, inputs=(2, 3),
            attrs={"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0, **FUSED_ATTRS})
def gemm(ctx, a, b, c=None):
    a = a.T if ctx.attrs["transA"] else a
    b = b.T if ctx.attrs["transB"] else b
    alpha, beta = ctx.attrs["alpha"], ctx.attrs["beta"]
    y = np.matmul(a, b)
    if alpha != 1.0:
        y = y * a.dtype.type(alpha) if np.issubdtype(a.dtype, np.floating) else y * alpha
    if c is not None and beta != 0:
        y = y + (c * beta if beta != 1.0 else c)
    return apply_activation(np.asarray(y).astype(a.dtype, copy=False), ctx.attrs["activation"],
                            ctx.attrs["activation_params"])


def _parse_einsum(equation: str, ranks: Sequence[int]):
    """Split an equation into per-input label lists (ellipsis as '...') and the output labels."""
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum equation {equation!r} has {len(terms)} operands, got {len(ranks)}")
    if "->" not in equation:
        letters = re.sub(r"[^A-Za-z]", "", lhs)
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, rhs


def _infer_einsum(ctx):
    types = [t or UNKNOWN for t in ctx.inputs]
    dtype = types[0].dtype if types else None
    if any(t.shape is None for t in types):
        return [TensorType(dtype, None)]
    terms, rhs = _parse_einsum(ctx.attrs["equation"], [len(t.shape) for t in types])
    sizes: dict[str, object] = {}
    ellipses = []
    for term, t in zip(terms, types):
        head, _, tail = term.partition("...")
        labels_head, labels_tail = list(head), list(tail)
        n_ell = len(t.shape) - len(labels_head) - len(labels_tail) if "..." in term else 0
        dims = list(t.shape)
        ellipses.append(tuple(dims[len(labels_head):len(labels_head) + n_ell]))
        labelled = labels_head + labels_tail
        labelled_dims = dims[:len(labels_head)] + dims[len(labels_head) + n_ell:]
        for label, dim in zip(labelled, labelled_dims):
            if sizes.get(label) in (None, 1) or isinstance(sizes.get(label), str):
                sizes[label] = dim if sizes.get(label) in (None, 1) else sizes[label]
    ellipsis = broadcast_dims(ellipses) if ellipses else ()
    shape = []
    head, _, tail = rhs.partition("...")
    shape += [sizes.get(c) for c in head]
    if "..." in rhs:
        shape += list(ellipsis or ())
    shape += [sizes.get(c) for c in tail]
    return [TensorType(dtype, tuple(shape))]


@OPS.define("Einsum", infer=_infer_einsum, inputs=(1, 1 << 30), attrs={"equation": REQUIRED})
def einsum(ctx, *inputs):
    terms, rhs = _parse_einsum(ctx.attrs["equation"], [x.ndim for x in inputs])
    dtype = inputs[0].dtype
    if dtype.kind == "V" or dtype.name == "bfloat16":  # numpy's einsum lacks ml_dtypes' bf16
        inputs = [x.astype(np.float32) for x in inputs]
    return np.asarray(np.einsum(",".join(terms) + "->" + rhs, *inputs)).astype(dtype)


# ---- resampling --------------------------------------------------------------------------------
def _cubic_filter(a: float):
    def f(t):
        t = np.abs(t)
        near = ((a + 2) * t - (a + 3)) * t * t + 1
        far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
        return np.where(t <= 1, near, np.where(t < 2, far, 0.0))
    return f


def _triangle(t):
    return np.clip(1 - np.abs(t), 0, 1)


def _resize_plan(shape, attrs, scales, sizes):
    """(output shape, per-axis scale factors, resized axes) from the scales or sizes input."""
    rank = len(shape)
    axes = [int(a) % rank for a in attrs["axes"]] if attrs["axes"] is not None else list(range(rank))
    factors = [1.0] * rank
    out = list(shape)
    if sizes is not None and np.size(sizes):
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        for a, s in zip(axes, sizes):
            factors[a] = s / shape[a] if isinstance(shape[a], int) and shape[a] else None
            out[a] = s
        policy = attrs["keep_aspect_ratio_policy"]
        if policy != "stretch" and all(factors[a] is not None for a in axes):
            pick = min if policy == "not_larger" else max
            scale = pick(factors[a] for a in axes)
            for a in axes:
                factors[a] = scale
                out[a] = int(scale * shape[a] + 0.5)
    else:
        values = np.asarray(scales, dtype=np.float32).reshape(-1)
        for a, s in zip(axes, values):
            factors[a] = float(s)
            out[a] = int(np.floor(np.float64(shape[a]) * float(s))) if isinstance(shape[a], int) else None
    return out, factors, axes


def _infer_resize(ctx):
    x = ctx.input(0) or UNKNOWN
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    scales, sizes = ctx.const(2), ctx.const(3)
    sizes_given = len(ctx.node.inputs) > 3 and ctx.node.inputs[3]
    if (sizes_given and sizes is None) or (not sizes_given and scales is None):
        return [TensorType(x.dtype, (None,) * len(x.shape))]
    out, _, _ = _resize_plan(x.shape, ctx.attrs, scales, sizes if sizes_given else None)
    return [TensorType(x.dtype, tuple(out))]


def _source_coords(mode, out_len, in_len, scale, roi):
    """Where each output index samples the input, and a mask of extrapolated positions."""
    y = np.arange(out_len, dtype=np.float64)
    length = scale * in_len
    extrapolated = None
    if mode == "align_corners":
        x = np.zeros(out_len) if length == 1 else y * (in_len - 1) / (length - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        start, end = roi
        if length == 1:
            x = np.full(out_len, (end - start) * (in_len - 1) / 2)
        else:
            x = y * (end - start) * (in_len - 1) / (length - 1)
        x = x + start * (in_len - 1)
        extrapolated = (x < 0) | (x > in_len - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / length)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"unknown coordinate_transformation_mode {mode!r}")
    return x, extrapolated


def _resize_matrix(attrs, out_len, in_len, scale, roi):
    """Dense (out_len, in_len) interpolation weights for one axis, plus extrapolated rows."""
    x, extrapolated = _source_coords(attrs["coordinate_transformation_mode"], out_len, in_len,
                                     scale, roi)
    rows = np.arange(out_len)
    weights = np.zeros((out_len, in_len))
    if attrs["mode"] == "nearest":
        rounding = {"round_prefer_floor": lambda v: np.ceil(v - 0.5),
                    "round_prefer_ceil": lambda v: np.floor(v + 0.5),
                    "floor": np.floor, "ceil": np.ceil}[attrs["nearest_mode"]]
        index = np.where(x == np.floor(x), x, rounding(x))
        weights[rows, np.clip(index, 0, in_len - 1).astype(np.int64)] = 1.0
        return weights, extrapolated
    cubic = attrs["mode"] == "cubic"
    filt = _cubic_filter(float(attrs["cubic_coeff_a"])) if cubic else _triangle
    support = 2 if cubic else 1
    s = min(scale, 1.0) if attrs["antialias"] else 1.0
    taps = 2 - 2 * (int(np.floor(-support / s)) + 1)
    floor = np.floor(x)
    first = np.where(x == floor, x - taps // 2, floor - taps // 2 + 1).astype(np.int64)
    index = first[:, None] + np.arange(taps)[None, :]
    w = filt((index - x[:, None]) * s)
    if attrs["antialias"]:
        w = w / w.sum(axis=1, keepdims=True)
    if attrs["exclude_outside"]:
        w = np.where((index < 0) | (index >= in_len), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    np.add.at(weights, (np.repeat(rows, taps), np.clip(index, 0, in_len - 1).reshape(-1)), w.reshape(-1))
    return weights, extrapolated


@OPS.define("Resize", infer=_infer_resize, inputs=(1, 4),
            attrs={"antialias": 0, "axes": None, "coordinate_transformation_mode": "half_pixel",
                   "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0,
                   "keep_aspect_ratio_policy": "stretch", "mode": "nearest",
                   "nearest_mode": "round_prefer_floor"})
def resize(ctx, x, roi=None, scales=None, sizes=None):
    """Separable resize: one dense weight matrix per resized axis, applied with tensordot."""
    a = ctx.attrs
    out, factors, axes = _resize_plan(x.shape, a, scales, sizes)
    if roi is not None and roi.size:
        roi = np.asarray(roi, dtype=np.float64).reshape(-1)
        k = len(roi) // 2
        starts, ends = dict(zip(axes if k == len(axes) else range(x.ndim), roi[:k])), \
            dict(zip(axes if k == len(axes) else range(x.ndim), roi[k:]))
    else:
        starts, ends = {}, {}
    y = x.astype(np.float64)
    for axis in axes:
        axis_roi = (starts.get(axis, 0.0), ends.get(axis, 1.0))
        if (math.isclose(factors[axis], 1.0) and out[axis] == x.shape[axis]
                and np.allclose(axis_roi, (0.0, 1.0))):
            continue
        weights, extrapolated = _resize_matrix(a, out[axis], x.shape[axis], factors[axis], axis_roi)
        y = np.moveaxis(np.tensordot(weights, y, axes=([1], [axis])), 0, axis)
        if extrapolated is not None and extrapolated.any():
            mask = extrapolated.reshape((-1,) + (1,) * (x.ndim - axis - 1))
            y = np.where(mask, float(a["extrapolation_value"]), y)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        y = np.clip(np.round(y), info.min, info.max)
    return y.astype(x.dtype)


def _reflect(x, lo, hi):
    """Fold coordinates back into [lo, hi] by mirroring at the borders (GridSample reflection)."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below = x < lo
    dist = np.where(below, lo - x, x - hi)
    folds = np.trunc(dist / span)
    rest = dist - folds * span
    even = folds % 2 == 0
    folded = np.where(below, np.where(even, lo + rest, hi - rest), np.where(even, hi - rest, lo + rest))
    return np.where(below | (x > hi), folded, x)


def _resolve_tap(index, size, padding_mode, bounds):
    """Integer tap positions -> (clamped index, validity) under the padding mode."""
    if padding_mode == "zeros":
        return np.clip(index, 0, size - 1), (index >= 0) & (index < size)
    if padding_mode == "border":
        return np.clip(index, 0, size - 1), np.ones(index.shape, bool)
    reflected = _reflect(index.astype(np.float64), *bounds).astype(np.int64)
    return np.clip(reflected, 0, size - 1), np.ones(index.shape, bool)


def _sample_linear(x, coords, padding_mode, bounds, cubic=False):
    """Interpolate x (N, C, *S) at per-batch coordinates (each (N, *O)); returns (N, C, *O)."""
    batch, n = x.shape[0], x.ndim - 2
    per_axis = []
    for i, c in enumerate(coords):
        base = np.floor(c)
        frac = c - base
        if cubic:
            offsets, weights = range(-1, 3), _cubic_weights(frac)
        else:
            offsets, weights = (0, 1), (1 - frac, frac)
        taps = []
        for off, w in zip(offsets, weights):
            idx, ok = _resolve_tap(base.astype(np.int64) + off, x.shape[2 + i], padding_mode,
                                   None if bounds is None else bounds[i])
            taps.append((idx, w * ok))
        per_axis.append(taps)
    b_idx = np.arange(batch).reshape((batch,) + (1,) * (coords[0].ndim - 1))
    out = 0.0
    for combo in itertools.product(*per_axis):
        weight = np.prod([w for _, w in combo], axis=0)
        values = x[(b_idx, slice(None), *(idx for idx, _ in combo))]  # (N, *O, C)
        out = out + values * weight[..., None]
    return np.moveaxis(np.asarray(out, dtype=np.float64), -1, 1)


def _cubic_weights(frac, a=-0.75):
    f = _cubic_filter(a)
    return [f(frac + 1), f(frac), f(1 - frac), f(2 - frac)]


def _infer_grid_sample(ctx):
    x, grid = ctx.input(0) or UNKNOWN, ctx.input(1) or UNKNOWN
    if grid.shape is None:
        return [TensorType(x.dtype, None)]
    channels = x.shape[1] if x.shape is not None else None
    return [TensorType(x.dtype, (grid.shape[0], channels, *grid.shape[1:-1]))]


@OPS.define("GridSample", infer=_infer_grid_sample, inputs=(2, 2),
            attrs={"align_corners": 0, "mode": "linear", "padding_mode": "zeros"})
def grid_sample(ctx, x, grid):
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(ctx.attrs["mode"], ctx.attrs["mode"])
    padding_mode, align = ctx.attrs["padding_mode"], bool(ctx.attrs["align_corners"])
    spatial = x.shape[2:]
    n = len(spatial)
    coords, bounds = [], []
    for i in range(n):
        g = grid[..., n - 1 - i].astype(np.float32)  # grid's last axis lists (x, y, ...) = reversed dims
        size = spatial[i]
        c = (g + 1) / 2 * (size - 1) if align else ((g + 1) * size - 1) / 2
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if mode == "nearest":
            c = np.rint(c)
        outside = (c < lo) | (c > hi)
        if padding_mode == "border":
            c = np.where(outside, np.clip(c, 0, size - 1), c)
        elif padding_mode == "reflection":
            c = np.where(outside, _reflect(c.astype(np.float64), lo, hi), c)
        coords.append(c.astype(np.float64))
        bounds.append((lo, hi))
    if mode == "nearest":
        batch = x.shape[0]
        b_idx = np.arange(batch).reshape((batch,) + (1,) * (coords[0].ndim - 1))
        idx, ok = zip(*(_resolve_tap(c.astype(np.int64), s, padding_mode, b)
                        for c, s, b in zip(coords, spatial, bounds)))
        values = x[(b_idx, slice(None), *idx)] * np.logical_and.reduce(ok)[..., None]
        return np.moveaxis(values, -1, 1).astype(x.dtype)
    return _sample_linear(x, coords, padding_mode, bounds, cubic=mode == "cubic").astype(x.dtype)


def _infer_affine_grid(ctx):
    theta = ctx.input(0) or UNKNOWN
    size = ctx.const(1)
    if size is not None:
        size = [int(s) for s in size]
        return [TensorType(theta.dtype, (size[0], *size[2:], len(size) - 2))]
    if theta.shape is not None and isinstance(theta.shape[1], int):
        n = theta.shape[1]
        return [TensorType(theta.dtype, (theta.shape[0],) + (None,) * n + (n,))]
    return [TensorType(theta.dtype, None)]


@OPS.define("AffineGrid", infer=_infer_affine_grid, inputs=(2, 2), attrs={"align_corners": 0})
def affine_grid(ctx, theta, size):
    size = [int(s) for s in size]
    spatial = size[2:]
    n = len(spatial)
    align = bool(ctx.attrs["align_corners"])
    def axis(length):
        if align:
            return np.linspace(-1, 1, length) if length > 1 else np.zeros(1)
        return (2 * np.arange(length) + 1) / length - 1
    # base grid coordinates are (x, y[, z]) = reversed spatial order, plus a homogeneous 1
    mesh = np.meshgrid(*[axis(s) for s in spatial], indexing="ij")
    base = np.stack([*mesh[::-1], np.ones(spatial)], axis=-1).reshape(-1, n + 1)
    grid = np.einsum("pk,njk->npj", base, theta.astype(np.float64))
    return grid.reshape(size[0], *spatial, n).astype(theta.dtype)


# ---- detection, normalisation, regularisation ---------------------------------------------------
@OPS.define("NonMaxSuppression", inputs=(2, 5), attrs={"center_point_box": 0},
            infer=lambda ctx: [TensorType(DType.I64, (None, 3))])
def non_max_suppression(ctx, boxes, scores, max_per_class=None, iou_threshold=None,
                        score_threshold=None):
    """Greedy per-(batch, class) selection by descending score; IoU above the threshold suppresses."""
    limit = int(max_per_class.reshape(-1)[0]) if max_per_class is not None and max_per_class.size else 0
    iou_max = float(iou_threshold.reshape(-1)[0]) if iou_threshold is not None and iou_threshold.size else 0.0
    floor = (float(score_threshold.reshape(-1)[0])
             if score_threshold is not None and score_threshold.size else None)
    b = boxes.astype(np.float64)
    if ctx.attrs["center_point_box"]:
        xc, yc, w, h = np.moveaxis(b, -1, 0)
        y1, x1, y2, x2 = yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    else:
        y1, x1, y2, x2 = np.moveaxis(b, -1, 0)
        y1, y2 = np.minimum(y1, y2), np.maximum(y1, y2)
        x1, x2 = np.minimum(x1, x2), np.maximum(x1, x2)
    area = (y2 - y1) * (x2 - x1)
    selected = []
    for n in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[n, c]
            order = np.argsort(-s, kind="stable")
            if floor is not None:
                order = order[s[order] > floor]
            kept: list[int] = []
            for i in order:
                if len(kept) >= limit:
                    break
                if kept:
                    k = np.array(kept)
                    height = np.minimum(y2[n, i], y2[n, k]) - np.maximum(y1[n, i], y1[n, k])
                    width = np.minimum(x2[n, i], x2[n, k]) - np.maximum(x1[n, i], x1[n, k])
                    inter = np.clip(height, 0, None) * np.clip(width, 0, None)
                    union = area[n, i] + area[n, k] - inter
                    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
                    if np.any(iou > iou_max):
                        continue
                kept.append(int(i))
            selected.extend((n, c, i) for i in kept)
    return np.array(selected, dtype=np.int64).reshape(-1, 3)


@OPS.define("LRN", infer=same_as_input(0), inputs=(1, 1),
            attrs={"alpha": 1e-4, "beta": 0.75, "bias": 1.0, "size": REQUIRED})
def lrn(ctx, x):
    size = int(ctx.attrs["size"])
    before, after = (size - 1) // 2, -(-(size - 1) // 2)
    sq = np.pad(x.astype(np.float64) ** 2, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    csum = np.cumsum(np.concatenate([np.zeros_like(sq[:, :1]), sq], axis=1), axis=1)
    window = csum[:, size:] - csum[:, :-size]
    a = ctx.attrs
    return (x / (a["bias"] + a["alpha"] / size * window) ** a["beta"]).astype(x.dtype)


def _infer_dropout(ctx):
    x = ctx.input(0) or UNKNOWN
    return [TensorType(x.dtype, x.shape), TensorType(DType.BOOL, x.shape)][:ctx.num_outputs]


@OPS.define("Dropout", infer=_infer_dropout, inputs=(1, 3), attrs={"seed": None})
def dropout(ctx, x, ratio=None, training_mode=None):
    """Identity at inference; with training_mode, drops with probability `ratio` and rescales."""
    p = float(ratio) if ratio is not None else 0.5
    if training_mode is None or not bool(training_mode) or p == 0:
        return (x, np.ones(x.shape, dtype=bool))[:max(ctx.num_outputs, 1)]
    # the legacy generator seeded like ONNX's own test cases, so seeded runs reproduce them
    rng = np.random.RandomState(int(ctx.attrs["seed"] or 0))
    mask = rng.uniform(0, 1.0, x.shape) >= p
    y = (x * mask / (1 - p)).astype(x.dtype)
    return (y, mask)[:max(ctx.num_outputs, 1)]
