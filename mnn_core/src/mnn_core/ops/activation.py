"""Activation functions and the Softmax family.

Kernels use the numerically stable forms (no exp overflow for large |x|) and keep the input's type.
A few activations carry a `decompose` into primitive ops for backends that lack them.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import Node, TensorType
from .elementwise import _erf, broadcast_from, quiet, widen
from .infer import normalize_axis, same_as_input
from .schema import DecomposeContext, InferContext, OpSet

OPS = OpSet()


def _activation(name: str, attrs=None, decompose=None):
    """Declare a one-input activation from `fn(x, **attrs)` computed in at least f32."""
    def register(fn):
        @OPS.define(name, infer=same_as_input(0), attrs=attrs, inputs=(1, 1), decompose=decompose)
        @quiet
        def kernel(ctx, x):
            return np.asarray(fn(widen(x), **ctx.attrs)).astype(x.dtype, copy=False)
        kernel.__name__ = kernel.__qualname__ = name
        kernel.__doc__ = fn.__doc__
        return fn
    return register


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    return np.logaddexp(np.zeros((), x.dtype), x)


# ---- decompositions -----------------------------------------------------------------------------
class _Builder:
    """Emits a chain of primitive nodes; constants get the dtype of the decomposed node's input."""

    def __init__(self, node: Node, ctx: DecomposeContext) -> None:
        self.node, self.ctx, self.nodes = node, ctx, []
        dtype = ctx.graph.type_of(node.inputs[0]).dtype
        self.dtype = dtype.numpy if dtype is not None else np.float32
        self.base = node.name or node.outputs[0]

    def const(self, value) -> str:
        return self.ctx.constant(f"{self.base}_c", np.asarray(value, self.dtype))

    def op(self, op: str, *inputs, out: str = "", **attrs) -> str:
        out = out or self.ctx.fresh(f"{self.base}_{op.lower()}")
        self.nodes.append(Node(op, list(inputs), [out], attrs, name=out))
        return out


def _decompose_gelu(node: Node, ctx: DecomposeContext) -> list[Node]:
    b, x, y = _Builder(node, ctx), node.inputs[0], node.outputs[0]
    if node.attrs.get("approximate", "none") == "tanh":
        cube = b.op("Mul", b.op("Mul", x, x), x)
        inner = b.op("Add", x, b.op("Mul", cube, b.const(0.044715)))
        t = b.op("Tanh", b.op("Mul", inner, b.const(math.sqrt(2 / math.pi))))
    else:
        t = b.op("Erf", b.op("Div", x, b.const(math.sqrt(2))))
    b.op("Mul", b.op("Mul", x, b.op("Add", t, b.const(1))), b.const(0.5), out=y)
    return b.nodes


def _decompose_hard_swish(node: Node, ctx: DecomposeContext) -> list[Node]:
    b, x = _Builder(node, ctx), node.inputs[0]
    b.op("Mul", x, b.op("HardSigmoid", x, alpha=1 / 6, beta=0.5), out=node.outputs[0])
    return b.nodes


def _decompose_swish(node: Node, ctx: DecomposeContext) -> list[Node]:
    b, x = _Builder(node, ctx), node.inputs[0]
    alpha = node.attrs.get("alpha", 1.0)
    scaled = x if alpha == 1.0 else b.op("Mul", x, b.const(alpha))
    b.op("Mul", x, b.op("Sigmoid", scaled), out=node.outputs[0])
    return b.nodes


def _decompose_mish(node: Node, ctx: DecomposeContext) -> list[Node]:
    b, x = _Builder(node, ctx), node.inputs[0]
    b.op("Mul", x, b.op("Tanh", b.op("Softplus", x)), out=node.outputs[0])
    return b.nodes


def _decompose_softsign(node: Node, ctx: DecomposeContext) -> list[Node]:
    b, x = _Builder(node, ctx), node.inputs[0]
    b.op("Div", x, b.op("Add", b.op("Abs", x), b.const(1)), out=node.outputs[0])
    return b.nodes


# ---- pointwise activations ----------------------------------------------------------------------
@_activation("Relu")
def relu(x):
    return np.maximum(x, 0)


@_activation("LeakyRelu", attrs={"alpha": 0.01})
def leaky_relu(x, alpha):
    return np.where(x >= 0, x, x * alpha)


@_activation("Elu", attrs={"alpha": 1.0})
def elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@_activation("Selu", attrs={"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875})
def selu(x, alpha, gamma):
    return gamma * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@_activation("Celu", attrs={"alpha": 1.0})
def celu(x, alpha):
    return np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))


@_activation("Sigmoid")
def sigmoid(x):
    return _sigmoid(x)


@_activation("HardSigmoid", attrs={"alpha": 0.2, "beta": 0.5})
def hard_sigmoid(x, alpha, beta):
    return np.clip(x * alpha + beta, 0, 1)


@_activation("HardSwish", decompose=_decompose_hard_swish)
def hard_swish(x):
    return x * np.clip(x / 6 + 0.5, 0, 1)


@_activation("Tanh")
def tanh(x):
    return np.tanh(x)


@_activation("Softplus")
def softplus(x):
    return _softplus(x)


@_activation("Softsign", decompose=_decompose_softsign)
def softsign(x):
    return x / (1 + np.abs(x))


@_activation("Gelu", attrs={"approximate": "none"}, decompose=_decompose_gelu)
def gelu(x, approximate):
    """approximate="tanh" is the GPT-2 formula; "none" the exact erf form."""
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if approximate != "none":
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', not {approximate!r}")
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


@_activation("Mish", decompose=_decompose_mish)
def mish(x):
    return x * np.tanh(_softplus(x))


@_activation("ThresholdedRelu", attrs={"alpha": 1.0})
def thresholded_relu(x, alpha):
    return np.where(x > alpha, x, 0)


@_activation("Shrink", attrs={"bias": 0.0, "lambd": 0.5})
def shrink(x, bias, lambd):
    return np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0))


@_activation("Swish", attrs={"alpha": 1.0}, decompose=_decompose_swish)
def swish(x, alpha):
    return x * _sigmoid(alpha * x)


@OPS.define("PRelu", infer=broadcast_from(0), inputs=(2, 2))
def prelu(ctx, x, slope):
    """`slope` broadcasts to x (per-channel slopes are usually shaped [C, 1, 1])."""
    return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)


# ---- softmax family (opset-13 semantics: normalise along `axis` only) ---------------------------
def _infer_softmax(ctx: InferContext) -> list[TensorType]:
    t = ctx.input(0) or TensorType(None, None)
    if t.shape is not None:
        normalize_axis(ctx.attrs["axis"], len(t.shape), ctx)
    return [t]


def _softmax_family(name: str):
    def register(fn):
        @OPS.define(name, infer=_infer_softmax, attrs={"axis": -1}, inputs=(1, 1))
        @quiet
        def kernel(ctx, x):
            if x.size == 0:
                return x.copy()
            return np.asarray(fn(widen(x), ctx.attrs["axis"])).astype(x.dtype, copy=False)
        kernel.__name__ = kernel.__qualname__ = name
        return fn
    return register


@_softmax_family("Softmax")
def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@_softmax_family("LogSoftmax")
def log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@_softmax_family("Hardmax")
def hardmax(x, axis):
    """1 at the first maximum along `axis`, 0 elsewhere."""
    first = np.expand_dims(np.argmax(x, axis=axis), axis)
    y = np.zeros_like(x)
    np.put_along_axis(y, first, 1, axis=axis)
    return y
