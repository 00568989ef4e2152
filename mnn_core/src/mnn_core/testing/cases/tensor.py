"""Data movement: Concat, Split, Slice, Transpose, Reshape, Gather, Pad and Resize."""
import numpy as np

from ..case import OMIT, OpCase, c, fixed, x

INT64_MAX = np.iinfo(np.int64).max


def concat(axis, *shapes, dtype="float32"):
    label = f"axis{axis}-" + "+".join("x".join(map(str, s)) for s in shapes) + ("" if dtype == "float32" else f"-{dtype}")
    return OpCase("Concat", tuple(x(*s, dtype=dtype, low=-50, high=50) for s in shapes), {"axis": axis}, label)


CONCAT = [
    concat(0, (7,), (13,)), concat(1, (3, 7), (3, 1), (3, 13)), concat(-1, (2, 3, 5), (2, 3, 7)),
    concat(0, (1, 3, 5), (2, 3, 5)), concat(1, (1, 3, 7, 7), (1, 17, 7, 7)),
    concat(2, (1, 2, 3, 5, 7), (1, 2, 1, 5, 7), (1, 2, 4, 5, 7)), concat(1, (2, 3), (2, 4), dtype="int64"),
    OpCase("Concat", (x(3, 7),), {"axis": 0}, "single"),
]


def split(shape, axis, num_outputs=None, sizes=None):
    inputs = (x(*shape),) + ((c(sizes),) if sizes is not None else ())
    attrs = {"axis": axis} | ({"num_outputs": num_outputs} if num_outputs else {})
    n = num_outputs or len(sizes)
    label = f"{'x'.join(map(str, shape))}-axis{axis}-" + (f"n{n}" if sizes is None else "_".join(map(str, sizes)))
    return OpCase("Split", inputs, attrs, label, num_outputs=n)


SPLIT = [
    split((2, 6, 3), 1, num_outputs=2), split((7,), 0, num_outputs=3), split((3, 13), -1, sizes=[1, 2, 10]),
    split((1, 3, 7, 7), 1, sizes=[1, 2]), split((17, 2), 0, num_outputs=4), split((1, 2, 3, 5, 7), 4, sizes=[3, 4]),
]


def slc(shape, starts, ends, axes=None, steps=None, label=""):
    inputs = [x(*shape), c(starts), c(ends)]
    if axes is not None or steps is not None:
        inputs.append(c(axes) if axes is not None else OMIT)
    if steps is not None:
        inputs.append(c(steps))
    return OpCase("Slice", tuple(inputs), {}, label or f"{'x'.join(map(str, shape))}-{starts}-{ends}-{axes}-{steps}")


SLICE = [
    slc((13,), [2], [9]), slc((3, 13), [0, 1], [2, 12]), slc((3, 13), [1], [INT64_MAX], [1], label="to-end"),
    slc((7, 13), [-5], [-1], [-1], label="negative"), slc((7, 13), [12], [0], [1], [-2], label="neg-step"),
    slc((7, 13), [-1], [-INT64_MAX], [0], [-1], label="reverse"),
    slc((2, 3, 17), [0, 1], [3, 16], [1, 2], [2, 3], label="steps"),
    slc((1, 3, 7, 7), [1, 1], [-1, -1], [2, 3], label="crop"),
    slc((1, 2, 3, 5, 7), [0, 2], [100, 5], [2, 4], label="clamped"),
    slc((3, 7), [5], [2], [1], label="empty"),
]

TRANSPOSE = [
    *(OpCase("Transpose", (x(*shape),), {} if perm is None else {"perm": perm},
             f"{'x'.join(map(str, shape))}-{perm}")
      for shape, perm in (((3, 13), None), ((3, 13), (1, 0)), ((2, 3, 17), (0, 2, 1)), ((2, 3, 17), None),
                          ((1, 3, 7, 5), (0, 2, 3, 1)), ((2, 3, 7, 5), (0, 3, 1, 2)),
                          ((1, 2, 3, 5, 7), (0, 3, 1, 4, 2)), ((7,), (0,)))),
    OpCase("Transpose", (x(3, 7, dtype="int64", low=-9, high=9),), {"perm": (1, 0)}, "int64"),
]

RESHAPE = [
    *(OpCase("Reshape", (x(*shape), c(target)), {}, f"{'x'.join(map(str, shape))}-to-{target}")
      for shape, target in (((3, 13), [39]), ((3, 13), [-1]), ((2, 3, 17), [0, -1]), ((2, 3, 17), [6, 17]),
                            ((1, 3, 7, 7), [1, 3, 49]), ((1, 3, 7, 7), [0, 0, -1, 7]), ((31,), [31, 1, 1]),
                            ((1, 2, 3, 5, 7), [2, 105]))),
    OpCase("Reshape", (x(3, 0, 7), c([0, 7, 0])), {"allowzero": 1}, "allowzero"),
]

GATHER = [
    OpCase("Gather", (x(7, 13), fixed([0, 6, -1, 3], "int64")), {"axis": 0}, "axis0-neg"),
    OpCase("Gather", (x(3, 13), fixed([[1, 12], [0, -2]], "int64")), {"axis": 1}, "axis1-2d"),
    OpCase("Gather", (x(2, 3, 17), fixed(2, "int64")), {"axis": -2}, "scalar-index"),
    OpCase("Gather", (x(31, 7), fixed([30, 0, 15], "int32")), {}, "int32-indices"),
    OpCase("Gather", (x(1, 2, 3, 5, 7), c([4, 0, 0, 2])), {"axis": 3}, "rank5-const"),
    OpCase("Gather", (x(13, dtype="int64", low=-99, high=99), fixed([[3], [7]], "int64")), {}, "int64-data"),
]


def pad(shape, pads, mode=None, value=None, axes=None, label=""):
    inputs = [x(*shape), c(pads)]
    if value is not None or axes is not None:
        inputs.append(c(value, "float32") if value is not None else OMIT)
    if axes is not None:
        inputs.append(c(axes))
    return OpCase("Pad", tuple(inputs), {} if mode is None else {"mode": mode},
                  label or f"{mode or 'constant'}-{'x'.join(map(str, shape))}")


PAD = [
    pad((13,), [2, 3]), pad((3, 7), [1, 2, 3, 0], value=1.5, label="value"),
    pad((1, 3, 7, 7), [0, 0, 1, 1, 0, 0, 1, 1]), pad((1, 3, 7, 7), [0, 0, 2, 1, 0, 0, 1, 2], "reflect"),
    pad((2, 3, 17), [0, 1, 2, 0, 1, 3], "edge"), pad((3, 7), [2, 3, 1, 4], "wrap"),
    pad((3, 7), [-1, 1, 0, -2], label="negative"), pad((1, 3, 7, 7), [1, 2, 1, 2], value=-1.0, axes=[2, 3],
                                                       label="axes"),
    pad((1, 2, 3, 5, 7), [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "reflect", label="reflect-rank5"),
    pad((3, 7), [1, 1, 1, 1], "edge", axes=[-2, -1], label="edge-neg-axes"),
]


def resize(label, shape, scales=None, sizes=None, **attrs):
    inputs = (x(*shape), OMIT, c(scales, "float32") if scales is not None else OMIT) + (
        (c(sizes),) if sizes is not None else ())
    return OpCase("Resize", inputs, attrs, label)


RESIZE = [
    resize("nearest-x2", (1, 3, 7, 7), [1, 1, 2, 2]),
    resize("nearest-asym-floor", (1, 2, 5, 7), [1, 1, 2, 3], coordinate_transformation_mode="asymmetric",
           nearest_mode="floor"),
    resize("nearest-sizes", (1, 3, 7, 7), sizes=[1, 3, 13, 17]),
    resize("nearest-down", (1, 3, 13, 13), [1, 1, 0.5, 0.5]),
    resize("linear-half-pixel", (1, 3, 7, 7), [1, 1, 2, 2], mode="linear"),
    resize("linear-align-corners", (1, 2, 5, 7), sizes=[1, 2, 13, 17], mode="linear",
           coordinate_transformation_mode="align_corners"),
    resize("linear-pytorch", (1, 2, 7, 7), [1, 1, 1.5, 2.5], mode="linear",
           coordinate_transformation_mode="pytorch_half_pixel"),
    resize("linear-down", (1, 3, 13, 17), sizes=[1, 3, 7, 5], mode="linear"),
    resize("cubic", (1, 2, 7, 7), [1, 1, 2, 2], mode="cubic"),
    resize("cubic-a75-exclude", (1, 1, 5, 7), [1, 1, 3, 2], mode="cubic", cubic_coeff_a=-0.75,
           exclude_outside=1),
    resize("nearest-3d", (1, 2, 3, 5, 7), [1, 1, 2, 2, 2]),
    resize("linear-1d", (2, 3, 13), [1, 1, 3], mode="linear"),
    resize("axes", (1, 3, 7, 7), [2, 3], axes=(2, 3)),
]

CASES = CONCAT + SPLIT + SLICE + TRANSPOSE + RESHAPE + GATHER + PAD + RESIZE
