"""Recurrent layers: RNN, GRU and LSTM as the newest ONNX opset defines them.

The three share one driver: inputs are brought to the time-major layout, each direction runs its
cell over the time steps, and `sequence_lens` masks steps past a batch entry's length (its state is
held, its Y rows are zero), so a reverse direction starts at the entry's own last valid step; an
entry of length 0 ends with zero states, as in onnxruntime. Gate pre-activations (after bias and
peepholes) are clipped to [-clip, clip] when `clip` is given, as onnxruntime does. Cells compute in
at least f32 and outputs keep the input dtype.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..ir import TensorType
from .infer import UNKNOWN
from .schema import InferContext, OpSet

OPS = OpSet()

Activation = Callable[[np.ndarray], np.ndarray]

RECURRENT_ATTRS = {"activation_alpha": (), "activation_beta": (), "activations": (), "clip": None,
                   "direction": "forward", "hidden_size": None, "layout": 0}


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # overflow-free logistic


# lower-case name -> (function of x, alpha, beta; default alpha; default beta); None: not used
_ACTIVATIONS = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: _sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x > a, x, 0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(0, x), None, None),
}


def _activations(attrs, defaults: Sequence[str], num_directions: int) -> list[Activation]:
    """One function per (direction, slot). Alphas and betas are consumed in order by the functions
    that take them, defaults filling in when the lists run out; a list naming one direction's
    functions serves both directions of a bidirectional layer."""
    names = list(attrs["activations"]) or list(defaults) * num_directions
    alphas, betas = iter(attrs["activation_alpha"] or ()), iter(attrs["activation_beta"] or ())
    functions = []
    for name in names:
        try:
            fn, alpha, beta = _ACTIVATIONS[name.lower()]
        except KeyError:
            raise ValueError(f"unknown recurrent activation {name!r}") from None
        alpha = next(alphas, alpha) if alpha is not None else None
        beta = next(betas, beta) if beta is not None else None
        functions.append(lambda x, fn=fn, a=alpha, b=beta: fn(x, a, b))
    if len(functions) == len(defaults) and num_directions == 2:
        functions *= 2
    if len(functions) != len(defaults) * num_directions:
        raise ValueError(f"{len(names)} activations given; {len(defaults)} per direction expected")
    return functions


def _num_directions(attrs) -> int:
    direction = attrs["direction"]
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ValueError(f"unknown direction {direction!r}")
    return 2 if direction == "bidirectional" else 1


def _infer_recurrent(ctx: InferContext) -> list[TensorType]:
    x, r = ctx.input(0) or UNKNOWN, ctx.input(2) or UNKNOWN
    hidden = ctx.attrs["hidden_size"]
    if hidden is None and r.shape is not None:
        hidden = r.shape[-1]
    dirs = _num_directions(ctx.attrs)
    seq, batch = (None, None) if x.shape is None else x.shape[:2]
    if ctx.attrs["layout"]:
        seq, batch = batch, seq
        y, state = (batch, seq, dirs, hidden), (batch, dirs, hidden)
    else:
        y, state = (seq, dirs, batch, hidden), (dirs, batch, hidden)
    return [TensorType(x.dtype, y)] + [TensorType(x.dtype, state)] * (ctx.num_outputs - 1)


# A cell maps (projected input x·Wᵀ + Wb at one step, state tuple) -> new state tuple; h is state[0].
Cell = Callable[[np.ndarray, tuple], tuple]


def _clipper(clip: Optional[float]) -> Callable[[np.ndarray], np.ndarray]:
    return (lambda v: v) if clip is None else (lambda v: np.clip(v, -clip, clip))


def _run(ctx, x, w, r, b, sequence_lens, initial_states: Sequence[Optional[np.ndarray]],
         make_cell: Callable[[int, np.ndarray, np.ndarray], Cell], gates: int):
    """Shared driver; `make_cell(direction, R, Rb)` builds one direction's cell."""
    attrs, dtype = ctx.attrs, x.dtype
    acc = np.result_type(dtype, np.float32)
    batchwise = bool(attrs["layout"])
    if batchwise:
        x = x.transpose(1, 0, 2)
        initial_states = [None if s is None else s.transpose(1, 0, 2) for s in initial_states]
    seq, batch, _ = x.shape
    dirs, hidden = w.shape[0], r.shape[-1]
    if b is None:
        b = np.zeros((dirs, 2 * gates * hidden), acc)
    lens = np.full(batch, seq) if sequence_lens is None else np.asarray(sequence_lens).reshape(-1)
    ys, finals = [], []
    for d in range(dirs):
        cell = make_cell(d, r[d].astype(acc), b[d, gates * hidden:].astype(acc))
        projected = x.astype(acc) @ w[d].T.astype(acc) + b[d, :gates * hidden].astype(acc)
        state = tuple(np.zeros((batch, hidden), acc) if s is None else s[d].astype(acc)
                      for s in initial_states)
        y = np.zeros((seq, batch, hidden), acc)
        reverse = attrs["direction"] == "reverse" or d == 1
        for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
            active = (t < lens)[:, None]
            new = cell(projected[t], state)
            state = tuple(np.where(active, n, s) for n, s in zip(new, state))
            y[t] = np.where(active, new[0], 0)
        ys.append(y)
        finals.append(tuple(np.where((lens > 0)[:, None], s, 0) for s in state))
    y = np.stack(ys, axis=1)  # (seq, dirs, batch, hidden)
    states = [np.stack([f[i] for f in finals]) for i in range(len(initial_states))]
    if batchwise:
        y = y.transpose(2, 0, 1, 3)
        states = [s.transpose(1, 0, 2) for s in states]
    return tuple(v.astype(dtype) for v in [y, *states])[:ctx.num_outputs]


@OPS.define("RNN", infer=_infer_recurrent, attrs=dict(RECURRENT_ATTRS), inputs=(3, 6))
def rnn(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None):
    """Ht = f(Xt·Wᵀ + Ht-1·Rᵀ + Wb + Rb)."""
    fs = _activations(ctx.attrs, ("Tanh",), _num_directions(ctx.attrs))
    clip = _clipper(ctx.attrs["clip"])

    def make_cell(d, rd, rb):
        return lambda xw, state: (fs[d](clip(xw + state[0] @ rd.T + rb)),)
    return _run(ctx, x, w, r, b, sequence_lens, [initial_h], make_cell, 1)


@OPS.define("GRU", infer=_infer_recurrent,
            attrs={**RECURRENT_ATTRS, "linear_before_reset": 0}, inputs=(3, 6))
def gru(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None):
    """Gates z, r, h (in W, R, B order). linear_before_reset applies the reset gate after the
    recurrent product: h~ = g(Xt·Whᵀ + r ⊙ (Ht-1·Rhᵀ + Rbh) + Wbh)."""
    fs = _activations(ctx.attrs, ("Sigmoid", "Tanh"), _num_directions(ctx.attrs))
    clip, linear_before_reset = _clipper(ctx.attrs["clip"]), ctx.attrs["linear_before_reset"]

    def make_cell(d, rd, rb):
        f, g = fs[2 * d], fs[2 * d + 1]
        rz_r, rh = np.split(rd, [2 * rd.shape[1]])
        rb_zr, rb_h = np.split(rb, [2 * rd.shape[1]])

        def cell(xw, state):
            h = state[0]
            xw_z, xw_r, xw_h = np.split(xw, 3, axis=-1)
            hz, hr = np.split(h @ rz_r.T + rb_zr, 2, axis=-1)
            z, reset = f(clip(xw_z + hz)), f(clip(xw_r + hr))
            if linear_before_reset:
                candidate = g(clip(xw_h + reset * (h @ rh.T + rb_h)))
            else:
                candidate = g(clip(xw_h + (reset * h) @ rh.T + rb_h))
            return ((1 - z) * candidate + z * h,)
        return cell
    return _run(ctx, x, w, r, b, sequence_lens, [initial_h], make_cell, 3)


@OPS.define("LSTM", infer=_infer_recurrent, attrs={**RECURRENT_ATTRS, "input_forget": 0},
            inputs=(3, 8))
def lstm(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None):
    """Gates i, o, f, c (in W, R, B order); peepholes P are (i, o, f). input_forget couples the
    forget gate to the input gate: f = 1 - i."""
    fs = _activations(ctx.attrs, ("Sigmoid", "Tanh", "Tanh"), _num_directions(ctx.attrs))
    clip, input_forget = _clipper(ctx.attrs["clip"]), ctx.attrs["input_forget"]
    acc = np.result_type(x.dtype, np.float32)

    def make_cell(d, rd, rb):
        f, g, h_act = fs[3 * d: 3 * d + 3]
        hidden = rd.shape[1]
        pi, po, pf = (np.zeros(hidden, acc),) * 3 if p is None else np.split(p[d].astype(acc), 3)

        def cell(xw, state):
            h, c = state
            gi, go, gf, gc = np.split(xw + h @ rd.T + rb, 4, axis=-1)
            i = f(clip(gi + pi * c))
            forget = 1 - i if input_forget else f(clip(gf + pf * c))
            c_new = forget * c + i * g(clip(gc))
            o = f(clip(go + po * c_new))
            return o * h_act(c_new), c_new
        return cell
    return _run(ctx, x, w, r, b, sequence_lens, [initial_h, initial_c], make_cell, 4)
