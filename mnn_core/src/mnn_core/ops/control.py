"""Control flow (If, Loop, Scan), sequences and optionals, with ONNX semantics.

Bodies are `Graph` attributes run through `ctx.run_subgraph`, which gives them the enclosing scope.
A sequence value is a Python list of arrays and an empty optional is None; kernels producing one
return it inside a 1-tuple, because a bare list would read as several outputs. Output types come
from the bodies' declared types, as the shapes a body produces may change from one iteration to the
next.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..dtypes import DType
from ..ir import Graph, TensorType
from .infer import UNKNOWN, normalize_axis
from .schema import REQUIRED, InferContext, OpSet

OPS = OpSet()
I64 = DType.I64


def _declared(graph: Graph, name: str) -> TensorType:
    return graph.type_of(name)


def _join(a: TensorType, b: TensorType) -> TensorType:
    """A type that covers both branches of an If."""
    dtype = a.dtype if a.dtype == b.dtype else (a.dtype or b.dtype)
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorType(dtype, None)
    return TensorType(dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))


def _stacked(t: TensorType) -> TensorType:
    return TensorType(t.dtype, None if t.shape is None else (None, *t.shape))


def _empty_scan(graph: Graph, name: str, axis: int = 0) -> np.ndarray:
    """The output of zero iterations: an empty stack of the body's (declared) element type."""
    t = _declared(graph, name)
    dtype = t.dtype.numpy if t.dtype is not None else np.float32
    inner = [d if isinstance(d, int) else 0 for d in (t.shape or ())]
    inner.insert(axis % (len(inner) + 1), 0)
    return np.zeros(inner, dtype=dtype)


# ---- If -----------------------------------------------------------------------------------------
def _infer_if(ctx: InferContext) -> list[TensorType]:
    then_g, else_g = ctx.attrs["then_branch"], ctx.attrs["else_branch"]
    if len(then_g.outputs) != len(else_g.outputs):
        raise ctx.fail(f"branches have {len(then_g.outputs)} and {len(else_g.outputs)} outputs")
    cond = ctx.const(0)
    if cond is not None:  # the taken branch is known at plan time
        g = then_g if bool(np.asarray(cond).reshape(-1)[0]) else else_g
        return [_declared(g, n) for n in g.outputs]
    return [_join(_declared(then_g, a), _declared(else_g, b)) for a, b in zip(then_g.outputs, else_g.outputs)]


@OPS.define("If", infer=_infer_if, attrs={"then_branch": REQUIRED, "else_branch": REQUIRED}, inputs=(1, 1))
def if_(ctx, cond):
    """Run one branch; the other is never evaluated."""
    branch = ctx.attrs["then_branch"] if bool(np.asarray(cond).reshape(-1)[0]) else ctx.attrs["else_branch"]
    return tuple(ctx.run_subgraph(branch, []))


# ---- Loop ---------------------------------------------------------------------------------------
def _infer_loop(ctx: InferContext) -> list[TensorType]:
    body: Graph = ctx.attrs["body"]
    n_state = len(ctx.inputs) - 2
    types = []
    for k in range(n_state):
        declared = _declared(body, body.outputs[1 + k])
        given = ctx.input(2 + k) or UNKNOWN
        same = declared.shape is not None and declared.shape == given.shape
        types.append(TensorType(given.dtype or declared.dtype, given.shape if same else None))
    for name in body.outputs[1 + n_state:]:
        types.append(_stacked(_declared(body, name)))
    return types


@OPS.define("Loop", infer=_infer_loop, attrs={"body": REQUIRED}, inputs=(2, 1 << 30))
def loop(ctx, trip_count, cond, *initial):
    """for i in range(M) while cond: state = body(i, cond, state); scan outputs are stacked."""
    body: Graph = ctx.attrs["body"]
    state = list(initial)
    n_scan = ctx.num_outputs - len(state)
    scans: list[list[np.ndarray]] = [[] for _ in range(n_scan)]
    limit = None if trip_count is None else int(np.asarray(trip_count).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    i = 0
    while keep_going and (limit is None or i < limit):
        outs = ctx.run_subgraph(body, [np.array(i, np.int64), np.array(keep_going), *state])
        keep_going = bool(np.asarray(outs[0]).reshape(-1)[0])
        state = list(outs[1:1 + len(state)])
        for acc, value in zip(scans, outs[1 + len(state):]):
            acc.append(value)
        i += 1
    stacked = [np.stack(acc) if acc else _empty_scan(body, name)
               for acc, name in zip(scans, body.outputs[1 + len(state):])]
    return (*state, *stacked)


# ---- Scan ---------------------------------------------------------------------------------------
SCAN_ATTRS = {"body": REQUIRED, "num_scan_inputs": REQUIRED, "scan_input_axes": None,
              "scan_input_directions": None, "scan_output_axes": None, "scan_output_directions": None}


def _infer_scan(ctx: InferContext) -> list[TensorType]:
    body: Graph = ctx.attrs["body"]
    n_state = len(ctx.inputs) - ctx.attrs["num_scan_inputs"]
    types = [TensorType((ctx.input(k) or UNKNOWN).dtype, (ctx.input(k) or UNKNOWN).shape)
             for k in range(n_state)]
    for name in body.outputs[n_state:]:
        t = _declared(body, name)
        types.append(TensorType(t.dtype, None if t.shape is None else (None,) * (len(t.shape) + 1)))
    return types


@OPS.define("Scan", infer=_infer_scan, attrs=SCAN_ATTRS, inputs=(1, 1 << 30))
def scan(ctx, *inputs):
    """Iterate the body over slices of the scan inputs, carrying state; stack the per-step outputs."""
    a, body = ctx.attrs, ctx.attrs["body"]
    m = a["num_scan_inputs"]
    n_state = len(inputs) - m
    state, xs = list(inputs[:n_state]), list(inputs[n_state:])
    in_axes = a["scan_input_axes"] or [0] * m
    in_dirs = a["scan_input_directions"] or [0] * m
    xs = [np.moveaxis(x, normalize_axis(ax, x.ndim), 0) for x, ax in zip(xs, in_axes)]
    xs = [x[::-1] if d else x for x, d in zip(xs, in_dirs)]
    steps = {x.shape[0] for x in xs}
    if len(steps) > 1:
        raise ValueError(f"scan inputs have different lengths {sorted(steps)}")
    n_out = ctx.num_outputs - n_state
    per_step: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    for t in range(steps.pop() if steps else 0):
        outs = ctx.run_subgraph(body, [*state, *(x[t] for x in xs)])
        state = list(outs[:n_state])
        for acc, value in zip(per_step, outs[n_state:]):
            acc.append(value)
    out_axes = a["scan_output_axes"] or [0] * n_out
    out_dirs = a["scan_output_directions"] or [0] * n_out
    results = []
    for acc, name, axis, direction in zip(per_step, body.outputs[n_state:], out_axes, out_dirs):
        if not acc:
            results.append(_empty_scan(body, name))
            continue
        stacked = np.stack(acc[::-1] if direction else acc)
        results.append(np.moveaxis(stacked, 0, normalize_axis(axis, stacked.ndim)))
    return (*state, *results)


# ---- sequences ----------------------------------------------------------------------------------
SEQUENCE = TensorType(None, None)
"""Sequences have no tensor type of their own in the IR."""


def _sequence(ctx: InferContext) -> list[TensorType]:
    return [SEQUENCE]


def _position(pos: Optional[np.ndarray], length: int, default: int, insert: bool = False) -> int:
    if pos is None:
        return default
    p = int(np.asarray(pos).reshape(-1)[0])
    limit = length + 1 if insert else length
    if not -limit + (1 if insert else 0) <= p < limit:
        raise IndexError(f"sequence position {p} is out of range for length {length}")
    return p + length if p < 0 else p


@OPS.define("SequenceEmpty", infer=_sequence, attrs={"dtype": None}, inputs=(0, 0))
def sequence_empty(ctx):
    return ([],)


@OPS.define("SequenceConstruct", infer=_sequence, inputs=(1, 1 << 30))
def sequence_construct(ctx, *tensors):
    return (list(tensors),)


@OPS.define("SequenceAt", infer=lambda ctx: [UNKNOWN], inputs=(2, 2))
def sequence_at(ctx, seq, pos):
    return seq[_position(pos, len(seq), 0)]


@OPS.define("SequenceInsert", infer=_sequence, inputs=(2, 3))
def sequence_insert(ctx, seq, tensor, pos=None):
    out = list(seq)
    out.insert(_position(pos, len(seq), len(seq), insert=True), tensor)
    return (out,)


@OPS.define("SequenceErase", infer=_sequence, inputs=(1, 2))
def sequence_erase(ctx, seq, pos=None):
    out = list(seq)
    del out[_position(pos, len(seq), len(seq) - 1)]
    return (out,)


@OPS.define("SequenceLength", infer=lambda ctx: [TensorType(I64, ())], inputs=(1, 1))
def sequence_length(ctx, seq):
    return np.array(len(seq), np.int64)


@OPS.define("SplitToSequence", infer=_sequence, attrs={"axis": 0, "keepdims": 1}, inputs=(1, 2))
def split_to_sequence(ctx, x, split=None):
    axis = normalize_axis(ctx.attrs["axis"], x.ndim)
    length = x.shape[axis]
    if split is None:  # one element per index along axis
        parts = np.split(x, length, axis=axis) if length else []
        return ([np.squeeze(p, axis) if not ctx.attrs["keepdims"] else p for p in parts],)
    split = np.asarray(split)
    if split.ndim == 0:  # chunks of equal size, the last one possibly shorter
        sizes = [int(split)] * (length // int(split)) + ([length % int(split)] if length % int(split) else [])
    else:
        sizes = [int(s) for s in split]
    return (np.split(x, np.cumsum(sizes)[:-1], axis=axis),)


@OPS.define("ConcatFromSequence", infer=lambda ctx: [UNKNOWN], attrs={"axis": REQUIRED, "new_axis": 0},
            inputs=(1, 1))
def concat_from_sequence(ctx, seq):
    axis = ctx.attrs["axis"]
    if ctx.attrs["new_axis"]:
        return np.stack(seq, axis=normalize_axis(axis, seq[0].ndim + 1))
    return np.concatenate(seq, axis=normalize_axis(axis, seq[0].ndim))


# ---- optionals ----------------------------------------------------------------------------------
@OPS.define("Optional", infer=lambda ctx: [ctx.input(0) or UNKNOWN], attrs={"type": None}, inputs=(0, 1))
def optional(ctx, value=None):
    return (value,)


@OPS.define("OptionalHasElement", infer=lambda ctx: [TensorType(DType.BOOL, ())], inputs=(0, 1))
def optional_has_element(ctx, value=None):
    return np.array(value is not None)


@OPS.define("OptionalGetElement", infer=lambda ctx: [ctx.input(0) or UNKNOWN], inputs=(1, 1))
def optional_get_element(ctx, value):
    if value is None:
        raise ValueError("OptionalGetElement of an empty optional")
    return (value,)
