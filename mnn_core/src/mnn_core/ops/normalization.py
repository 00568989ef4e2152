"""Normalisation ops and the fused ONNX Attention, each with a decomposition into primitives.

Statistics are computed in the stash type (f32 by default, as ONNX's `stash_type`), so f16 models
keep f32 accuracy in their means and variances; outputs keep the input dtype.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..dtypes import DType
from ..ir import Node, TensorType
from .infer import UNKNOWN, normalize_axis, same_as_input
from .schema import REQUIRED, DecomposeContext, OpError, OpSet

OPS = OpSet()

ONNX_DTYPES = {1: "f32", 10: "f16", 11: "f64", 16: "bf16"}
"""ONNX enum values a frontend might leave in stash_type / softmax_precision."""


def _stash_dtype(value) -> np.dtype:
    if value is None:
        return np.dtype(np.float32)
    name = ONNX_DTYPES.get(value, value) if isinstance(value, (int, np.integer)) else value
    return DType.parse(name).numpy


# ---- decomposition helpers ----------------------------------------------------------------------
class _Builder:
    """Emits primitive nodes into a list; constants are typed like the computation."""

    def __init__(self, node: Node, ctx: DecomposeContext, dtype: Optional[np.dtype]) -> None:
        self.node, self.ctx, self.nodes = node, ctx, []
        self.dtype = dtype if dtype is not None else np.dtype(np.float32)

    def op(self, op: str, inputs, out: Optional[str] = None, **attrs) -> str:
        out = out or self.ctx.fresh(f"{self.node.name or self.node.outputs[0]}_{op.lower()}")
        self.nodes.append(Node(op, list(inputs), [out], attrs, name=out))
        return out

    def const(self, base: str, value, dtype=None) -> str:
        return self.ctx.constant(f"{self.node.outputs[0]}_{base}",
                                 np.asarray(value, dtype=dtype or self.dtype))

    def axes(self, axes) -> str:
        return self.const("axes", list(axes), np.int64)


def _input_type(node: Node, ctx: DecomposeContext, index: int) -> TensorType:
    if index >= len(node.inputs) or not node.inputs[index]:
        return UNKNOWN
    return ctx.graph.type_of(node.inputs[index])


def _need_rank(node, ctx, index=0) -> int:
    rank = _input_type(node, ctx, index).rank
    if rank is None:
        raise OpError(f"cannot decompose {node}: the rank of {node.inputs[index]!r} is unknown")
    return rank


def _stash_cast(b: _Builder, x: str, x_dtype: Optional[DType], stash: np.dtype) -> str:
    if x_dtype is None or x_dtype.numpy == stash:
        return x
    return b.op("Cast", [x], to=DType.from_numpy(stash).value)


def _normalize_nodes(b: _Builder, x: str, axes, epsilon: float, mean_out=None, inv_out=None) -> str:
    """(x - mean) / sqrt(var + eps) over `axes`, returning the normalised tensor's name."""
    axes_name = b.axes(axes)
    mean = b.op("ReduceMean", [x, axes_name], mean_out, keepdims=1)
    diff = b.op("Sub", [x, mean])
    var = b.op("ReduceMean", [b.op("Mul", [diff, diff]), axes_name], keepdims=1)
    std = b.op("Sqrt", [b.op("Add", [var, b.const("eps", epsilon)])])
    inv = b.op("Div", [b.const("one", 1.0), std], inv_out)
    return b.op("Mul", [diff, inv])


def _finish(b: _Builder, y: str, x_dtype: Optional[DType], stash: np.dtype, out: str) -> list[Node]:
    """Cast back from the stash type and make the last node produce the op's output."""
    if x_dtype is not None and x_dtype.numpy != stash:
        b.op("Cast", [y], out, to=x_dtype.value)
    else:
        b.nodes[-1].outputs = [out]
    return b.nodes


def _channel_shaped(b: _Builder, name: str, rank: int) -> str:
    """Per-channel (C,) vector -> (C, 1, ..., 1) so it broadcasts over N, C, *spatial."""
    if rank <= 2:
        return name
    return b.op("Unsqueeze", [name, b.axes(range(1, rank - 1))])


# ---- batch / instance / group / layer / RMS ---------------------------------------------------
def _per_channel(v: np.ndarray, rank: int) -> np.ndarray:
    return v.reshape((-1,) + (1,) * (rank - 2))


def _infer_batch_norm(ctx):
    x = ctx.input(0) or UNKNOWN
    mean = ctx.input(3) or UNKNOWN
    return [TensorType(x.dtype, x.shape)] + [TensorType(mean.dtype, mean.shape)] * (ctx.num_outputs - 1)


@OPS.define("BatchNormalization", infer=_infer_batch_norm, inputs=(5, 5),
            attrs={"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0})
def batch_normalization(ctx, x, scale, bias, mean, var):
    eps, momentum = ctx.attrs["epsilon"], ctx.attrs["momentum"]
    rank = x.ndim
    if not ctx.attrs["training_mode"]:
        inv = 1 / np.sqrt(var.astype(np.float64) + eps)
        y = (x - _per_channel(mean, rank)) * _per_channel(inv * scale, rank) + _per_channel(bias, rank)
        return y.astype(x.dtype)
    axes = (0, *range(2, rank))
    batch_mean = x.mean(axis=axes, dtype=np.float64)
    batch_var = x.var(axis=axes, dtype=np.float64)
    y = ((x - _per_channel(batch_mean, rank)) / np.sqrt(_per_channel(batch_var, rank) + eps)
         * _per_channel(scale, rank) + _per_channel(bias, rank))
    running_mean = (mean * momentum + batch_mean * (1 - momentum)).astype(mean.dtype)
    running_var = (var * momentum + batch_var * (1 - momentum)).astype(var.dtype)
    return (y.astype(x.dtype), running_mean, running_var)[:ctx.num_outputs]


def _normalize(x: np.ndarray, axes, epsilon: float, stash: np.dtype):
    xs = x.astype(stash)
    mean = xs.mean(axis=axes, keepdims=True)
    diff = xs - mean
    var = (diff * diff).mean(axis=axes, keepdims=True)
    inv = (1 / np.sqrt(var + stash.type(epsilon))).astype(stash)
    return diff * inv, mean, inv


def _decompose_instance_norm(node, ctx):
    rank = _need_rank(node, ctx)
    x_type = _input_type(node, ctx, 0)
    b = _Builder(node, ctx, x_type.dtype.numpy if x_type.dtype else None)
    attrs = node.attrs
    norm = _normalize_nodes(b, node.inputs[0], range(2, rank), attrs.get("epsilon", 1e-5))
    y = b.op("Mul", [norm, _channel_shaped(b, node.inputs[1], rank)])
    b.op("Add", [y, _channel_shaped(b, node.inputs[2], rank)], node.outputs[0])
    return b.nodes


@OPS.define("InstanceNormalization", infer=same_as_input(0), inputs=(3, 3),
            attrs={"epsilon": 1e-5}, decompose=_decompose_instance_norm)
def instance_normalization(ctx, x, scale, bias):
    norm, _, _ = _normalize(x, tuple(range(2, x.ndim)), ctx.attrs["epsilon"], x.dtype)
    return (norm * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)).astype(x.dtype)


def _infer_layer_norm(ctx):
    x = ctx.input(0) or UNKNOWN
    stash = DType.from_numpy(_stash_dtype(ctx.attrs["stash_type"]))
    out = [TensorType(x.dtype, x.shape)]
    if x.shape is None:
        return out + [TensorType(stash, None)] * (ctx.num_outputs - 1)
    axis = normalize_axis(ctx.attrs["axis"], len(x.shape), ctx)
    reduced = tuple(x.shape[:axis]) + (1,) * (len(x.shape) - axis)
    return out + [TensorType(stash, reduced)] * (ctx.num_outputs - 1)


def _decompose_layer_norm(node, ctx):
    rank = _need_rank(node, ctx)
    attrs = node.attrs
    axis = normalize_axis(attrs.get("axis", -1), rank)
    x_dtype = _input_type(node, ctx, 0).dtype
    stash = _stash_dtype(attrs.get("stash_type", 1))
    b = _Builder(node, ctx, stash)
    outs = list(node.outputs) + [""] * (3 - len(node.outputs))
    x = _stash_cast(b, node.inputs[0], x_dtype, stash)
    y = _normalize_nodes(b, x, range(axis, rank), attrs.get("epsilon", 1e-5),
                         outs[1] or None, outs[2] or None)
    y = b.op("Mul", [y, _stash_cast(b, node.inputs[1], _input_type(node, ctx, 1).dtype, stash)])
    if len(node.inputs) > 2 and node.inputs[2]:
        y = b.op("Add", [y, _stash_cast(b, node.inputs[2], _input_type(node, ctx, 2).dtype, stash)])
    return _finish(b, y, x_dtype, stash, outs[0])


@OPS.define("LayerNormalization", infer=_infer_layer_norm, inputs=(2, 3),
            attrs={"axis": -1, "epsilon": 1e-5, "stash_type": 1}, decompose=_decompose_layer_norm)
def layer_normalization(ctx, x, scale, bias=None):
    axis = normalize_axis(ctx.attrs["axis"], x.ndim)
    stash = _stash_dtype(ctx.attrs["stash_type"])
    norm, mean, inv = _normalize(x, tuple(range(axis, x.ndim)), ctx.attrs["epsilon"], stash)
    y = norm * scale.astype(stash)
    if bias is not None:
        y = y + bias.astype(stash)
    return (y.astype(x.dtype), mean, inv)[:ctx.num_outputs]


def _decompose_group_norm(node, ctx):
    rank = _need_rank(node, ctx)
    attrs = node.attrs
    x_dtype = _input_type(node, ctx, 0).dtype
    stash = _stash_dtype(attrs.get("stash_type", 1))
    b = _Builder(node, ctx, stash)
    x = _stash_cast(b, node.inputs[0], x_dtype, stash)
    groups = int(attrs["num_groups"])
    grouped = b.op("Reshape", [x, b.const("group_shape", [0, groups, -1], np.int64)])
    norm = _normalize_nodes(b, grouped, [2], attrs.get("epsilon", 1e-5))
    norm = b.op("Reshape", [norm, b.op("Shape", [x])])
    scale = _stash_cast(b, node.inputs[1], _input_type(node, ctx, 1).dtype, stash)
    bias = _stash_cast(b, node.inputs[2], _input_type(node, ctx, 2).dtype, stash)
    y = b.op("Mul", [norm, _channel_shaped(b, scale, rank)])
    y = b.op("Add", [y, _channel_shaped(b, bias, rank)])
    return _finish(b, y, x_dtype, stash, node.outputs[0])


@OPS.define("GroupNormalization", infer=same_as_input(0), inputs=(3, 3),
            attrs={"epsilon": 1e-5, "num_groups": REQUIRED, "stash_type": 1},
            decompose=_decompose_group_norm)
def group_normalization(ctx, x, scale, bias):
    """Opset 21 form: statistics per group of channels, scale and bias per channel."""
    groups = int(ctx.attrs["num_groups"])
    stash = _stash_dtype(ctx.attrs["stash_type"])
    grouped = x.reshape(x.shape[0], groups, -1)
    norm, _, _ = _normalize(grouped, (2,), ctx.attrs["epsilon"], stash)
    norm = norm.reshape(x.shape)
    y = norm * _per_channel(scale.astype(stash), x.ndim) + _per_channel(bias.astype(stash), x.ndim)
    return y.astype(x.dtype)


def _decompose_rms_norm(node, ctx):
    rank = _need_rank(node, ctx)
    attrs = node.attrs
    axis = normalize_axis(attrs.get("axis", -1), rank)
    x_dtype = _input_type(node, ctx, 0).dtype
    stash = _stash_dtype(attrs.get("stash_type", 1))
    b = _Builder(node, ctx, stash)
    x = _stash_cast(b, node.inputs[0], x_dtype, stash)
    square_mean = b.op("ReduceMean", [b.op("Mul", [x, x]), b.axes(range(axis, rank))], keepdims=1)
    rms = b.op("Sqrt", [b.op("Add", [square_mean, b.const("eps", attrs.get("epsilon", 1e-5))])])
    y = b.op("Div", [x, rms])
    y = b.op("Mul", [y, _stash_cast(b, node.inputs[1], _input_type(node, ctx, 1).dtype, stash)])
    return _finish(b, y, x_dtype, stash, node.outputs[0])


@OPS.define("RMSNormalization", infer=same_as_input(0), inputs=(2, 2),
            attrs={"axis": -1, "epsilon": 1e-5, "stash_type": 1}, decompose=_decompose_rms_norm)
def rms_normalization(ctx, x, scale):
    axis = normalize_axis(ctx.attrs["axis"], x.ndim)
    stash = _stash_dtype(ctx.attrs["stash_type"])
    xs = x.astype(stash)
    square_mean = (xs * xs).mean(axis=tuple(range(axis, x.ndim)), keepdims=True)
    inv = 1 / np.sqrt(square_mean + stash.type(ctx.attrs["epsilon"]))
    return (xs * inv * scale.astype(stash)).astype(x.dtype)


@OPS.define("MeanVarianceNormalization", infer=same_as_input(0), inputs=(1, 1),
            attrs={"axes": (0, 2, 3)})
def mean_variance_normalization(ctx, x):
    """ONNX's function body: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)."""
    axes = tuple(int(a) for a in ctx.attrs["axes"])
    mean = x.mean(axis=axes, keepdims=True)
    std = np.sqrt(np.maximum((x * x).mean(axis=axes, keepdims=True) - mean * mean, 0))
    return ((x - mean) / (std + x.dtype.type(1e-9))).astype(x.dtype)


@OPS.define("LpNormalization", infer=same_as_input(0), inputs=(1, 1), attrs={"axis": -1, "p": 2})
def lp_normalization(ctx, x):
    axis, p = int(ctx.attrs["axis"]), int(ctx.attrs["p"])
    norm = np.abs(x).sum(axis=axis, keepdims=True) if p == 1 else \
        np.sqrt((x * x).sum(axis=axis, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm == 0, 0, x / norm).astype(x.dtype)


# ---- Attention ---------------------------------------------------------------------------------
ATTENTION_ATTRS = {"is_causal": 0, "kv_num_heads": None, "q_num_heads": None,
                   "qk_matmul_output_mode": 0, "scale": None, "softcap": 0.0,
                   "softmax_precision": None, "left_window_size": -1, "right_window_size": -1}


def _infer_attention(ctx):
    q, k, v = (ctx.input(i) or UNKNOWN for i in range(3))
    past = ctx.input(4)
    dtype = q.dtype
    if q.shape is None or k.shape is None or v.shape is None:
        return [TensorType(dtype, None)] * ctx.num_outputs
    batch = q.shape[0]
    if len(q.shape) == 3:
        y = (batch, q.shape[1], _mul(ctx.attrs["q_num_heads"], _div(v.shape[2], ctx.attrs["kv_num_heads"])))
        kv_heads = ctx.attrs["kv_num_heads"]
        q_heads, q_len = ctx.attrs["q_num_heads"], q.shape[1]
        k_head, v_head = _div(k.shape[2], kv_heads), _div(v.shape[2], kv_heads)
        kv_len = k.shape[1]
    else:
        y = (batch, q.shape[1], q.shape[2], v.shape[3])
        kv_heads, q_heads, q_len = k.shape[1], q.shape[1], q.shape[2]
        k_head, v_head, kv_len = k.shape[3], v.shape[3], k.shape[2]
    if past is not None and past.shape is not None:
        past_len = past.shape[2]
        kv_len = past_len + kv_len if isinstance(kv_len, int) and isinstance(past_len, int) else None
    types = [TensorType(dtype, y), TensorType(dtype, (batch, kv_heads, kv_len, k_head)),
             TensorType(dtype, (batch, kv_heads, kv_len, v_head)),
             TensorType(dtype, (batch, q_heads, q_len, kv_len))]
    return types[:ctx.num_outputs]


def _mul(a, b):
    return a * b if isinstance(a, int) and isinstance(b, int) else None


def _div(a, b):
    return a // b if isinstance(a, int) and isinstance(b, int) and b else None


def _to_heads(t: np.ndarray, heads: int) -> np.ndarray:
    """(B, S, H*D) -> (B, H, S, D)."""
    return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(0, 2, 1, 3)


def _attention_bias(attrs, q_len: int, kv_len: int, mask, past_len: Optional[int], nonpad, dtype):
    """Additive bias (0 or -inf) combining the mask, causal and sliding-window constraints."""
    bias = np.zeros((q_len, kv_len), dtype=dtype)
    if mask is not None:
        if mask.shape[-1] < kv_len:  # a short mask leaves the trailing keys masked out
            fill = False if mask.dtype == np.bool_ else -np.inf
            mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, kv_len - mask.shape[-1])],
                          constant_values=fill)
        bias = bias + (np.where(mask, 0, -np.inf).astype(dtype) if mask.dtype == np.bool_ else mask)
    if past_len is None and nonpad is not None:
        offset = (nonpad.reshape(-1) - q_len).reshape(-1, 1, 1, 1)
    else:
        offset = past_len or 0
    diff = np.arange(q_len)[:, None] + offset - np.arange(kv_len)[None, :]  # query pos - key pos
    allowed = np.ones(np.shape(diff), dtype=bool)
    if attrs["is_causal"]:
        allowed &= diff >= 0
    left, right = int(attrs["left_window_size"]), int(attrs["right_window_size"])
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    bias = bias + np.where(allowed, 0, -np.inf).astype(dtype)
    if nonpad is not None:
        keep = np.arange(kv_len)[None, :] < nonpad.reshape(-1, 1)
        bias = bias + np.where(keep, 0, -np.inf).astype(dtype).reshape(-1, 1, 1, kv_len)
    return bias


def _decompose_attention(node, ctx):
    """The common case: 4-D Q/K/V, optional mask, optional causal; Y only."""
    attrs = {**ATTENTION_ATTRS, **node.attrs}
    q_type, k_type = _input_type(node, ctx, 0), _input_type(node, ctx, 1)
    extra_inputs = [n for n in node.inputs[4:] if n]
    extra_outputs = [n for n in node.outputs[1:] if n]
    four_d = q_type.rank == 4 and k_type.rank == 4
    if (not four_d or q_type.shape[1] != k_type.shape[1] or extra_inputs or extra_outputs
            or attrs["softcap"] or attrs["left_window_size"] >= 0 or attrs["right_window_size"] >= 0):
        raise OpError(f"cannot decompose {node}: only 4-D attention with equal head counts, an "
                      "optional mask and is_causal decompose")
    scale = attrs["scale"]
    if scale is None:
        if not isinstance(q_type.shape[3], int):
            raise OpError(f"cannot decompose {node}: the head size is not static")
        scale = 1 / np.sqrt(q_type.shape[3])
    b = _Builder(node, ctx, q_type.dtype.numpy if q_type.dtype else None)
    scores = b.op("MatMul", [node.inputs[0], b.op("Transpose", [node.inputs[1]], perm=(0, 1, 3, 2))])
    scores = b.op("Mul", [scores, b.const("scale", scale)])
    mask = node.inputs[3] if len(node.inputs) > 3 else ""
    if mask:
        mask_type = _input_type(node, ctx, 3)
        if mask_type.dtype is DType.BOOL:
            mask = b.op("Where", [mask, b.const("zero", 0.0), b.const("neg_inf", -np.inf)])
        scores = b.op("Add", [scores, mask])
    if attrs["is_causal"]:
        q_len, kv_len = q_type.shape[2], k_type.shape[2]
        if not (isinstance(q_len, int) and isinstance(kv_len, int)):
            raise OpError(f"cannot decompose causal {node}: sequence lengths are not static")
        causal = np.where(np.tri(q_len, kv_len, dtype=bool), 0.0, -np.inf)
        scores = b.op("Add", [scores, b.const("causal", causal)])
    probs = b.op("Softmax", [scores], axis=-1)
    b.op("MatMul", [probs, node.inputs[2]], node.outputs[0])
    return b.nodes


@OPS.define("Attention", infer=_infer_attention, inputs=(3, 7), attrs=ATTENTION_ATTRS,
            decompose=_decompose_attention)
def attention(ctx, q, k, v, mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None):
    """softmax(softcap(Q K^T * scale) + bias) V with KV cache, GQA and 3-D (B, S, H*D) inputs."""
    a = ctx.attrs
    three_d = q.ndim == 3
    if three_d:
        q, k, v = _to_heads(q, a["q_num_heads"]), _to_heads(k, a["kv_num_heads"]), \
            _to_heads(v, a["kv_num_heads"])
    dtype = q.dtype
    scale = a["scale"] if a["scale"] is not None else 1 / np.sqrt(q.shape[3])
    root = dtype.type(np.sqrt(scale))  # split over Q and K like the ONNX function body
    present_key = k if past_key is None else np.concatenate([past_key, k], axis=2)
    present_value = v if past_value is None else np.concatenate([past_value, v], axis=2)
    k, v = present_key, present_value
    if q.shape[1] != k.shape[1]:  # grouped-query attention: each KV head serves a group of Q heads
        k = np.repeat(k, q.shape[1] // k.shape[1], axis=1)
        v = np.repeat(v, q.shape[1] // v.shape[1], axis=1)
    scores = np.matmul(q * root, np.swapaxes(k * root, -1, -2))
    if a["softcap"] and a["softcap"] > 0:
        scores = (np.tanh(scores / a["softcap"]) * a["softcap"]).astype(dtype)
    bias = _attention_bias(a, q.shape[2], k.shape[2], mask,
                           None if past_key is None else past_key.shape[2], nonpad_kv_seqlen, dtype)
    biased = scores + bias
    qk_out = {0: scores, 1: scores, 2: biased}.get(int(a["qk_matmul_output_mode"]), scores)
    precision = np.dtype(dtype) if a["softmax_precision"] is None else _stash_dtype(a["softmax_precision"])
    logits = biased.astype(precision)
    row_masked = np.isneginf(np.max(np.broadcast_to(bias, biased.shape), axis=-1, keepdims=True))
    top = np.where(row_masked, 0, logits.max(axis=-1, keepdims=True))
    with np.errstate(invalid="ignore"):
        e = np.exp(logits - top)
        total = e.sum(axis=-1, keepdims=True)
        probs = np.where(row_masked, 0, e / np.where(total == 0, 1, total)).astype(dtype)
    if int(a["qk_matmul_output_mode"]) == 3:
        qk_out = probs
    y = np.matmul(probs, v)
    if three_d:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)
    return (y.astype(dtype), present_key, present_value, qk_out.astype(dtype))[:ctx.num_outputs]
