"""Reductions with axes as an optional input (newest opset), keepdims, noop_with_empty_axes; ArgMax/ArgMin."""
from ..case import ACCUMULATING, OpCase, c, x

REDUCE_RANGES = {"ReduceProd": (0.5, 1.5), "ReduceLogSum": (0.1, 2.0)}
AXES = [((3, 7, 13), (1,), 1), ((3, 7, 13), (0, 2), 0), ((3, 7, 13), (-1,), 1), ((3, 7, 13), None, 1),
        ((31,), (0,), 0), ((1, 2, 3, 5, 7), (1, 3), 1), ((2, 3, 17), None, 0)]


def reduce(op, shape, axes, keepdims):
    low, high = REDUCE_RANGES.get(op, (-2.0, 2.0))
    inputs = (x(*shape, low=low, high=high),) + ((c(list(axes)),) if axes is not None else ())
    label = f"{'x'.join(map(str, shape))}-axes{'all' if axes is None else '_'.join(map(str, axes))}-k{keepdims}"
    return OpCase(op, inputs, {"keepdims": keepdims}, label, tol=ACCUMULATING)


OPS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")

CASES = [
    *(reduce(op, shape, axes, k) for op in OPS for shape, axes, k in AXES),
    OpCase("ReduceSum", (x(3, 7), c([], "int64")), {"noop_with_empty_axes": 1}, "noop-empty-axes"),
    OpCase("ReduceMean", (x(3, 7), c([], "int64")), {}, "empty-axes-all", tol=ACCUMULATING),
    OpCase("ReduceSum", (x(2, 13, dtype="int32", low=-100, high=100), c([1])), {}, "int32"),
    OpCase("ReduceMax", (x(2, 13, dtype="int64", low=-100, high=100), c([0])), {"keepdims": 0}, "int64"),
    *(OpCase(op, (x(*shape),), {"axis": axis, "keepdims": k}, f"{'x'.join(map(str, shape))}-axis{axis}-k{k}")
      for op in ("ArgMax", "ArgMin")
      for shape, axis, k in (((3, 7, 13), 1, 1), ((3, 7, 13), -1, 0), ((31,), 0, 0), ((1, 2, 3, 5, 7), 2, 1))),
    OpCase("ArgMax", (x(3, 13, dtype="int32", low=0, high=3),), {"axis": 1, "select_last_index": 1},
           "ties-last"),
    OpCase("ArgMin", (x(3, 13, dtype="int32", low=0, high=3),), {"axis": 1}, "ties-first"),
]
