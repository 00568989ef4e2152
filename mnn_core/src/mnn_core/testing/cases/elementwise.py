"""Elementwise ops over ranks 0-5 with numpy broadcasting, unary activations (every fusable one
among them) and softmax."""

from ..case import OMIT, OpCase, c, w, x

BROADCAST_SHAPES = [
    ((7,), (7,)),
    ((3, 13), (13,)),
    ((3, 13), (3, 1)),
    ((), (3, 7)),
    ((2, 3, 1), (1, 17)),
    ((2, 1, 5), (3, 1)),
    ((1, 3, 1, 7), (2, 1, 5, 1)),
    ((1, 2, 3, 1, 5), (5,)),
    ((1, 3, 7, 7), (3, 1, 1)),
    ((31,), ()),
]


def binary(op, A, B, dtype="float32", low=-1.0, high=1.0, blow=None, bhigh=None, label="",
           const_b=False):
    b = (w if const_b else x)(*B, dtype=dtype, low=low if blow is None else blow,
                               high=high if bhigh is None else bhigh)
    return OpCase(op, (x(*A, dtype=dtype, low=low, high=high), b), {}, label)


BINARY = [
    *(binary(op, A, B) for op in ("Add", "Sub", "Mul") for A, B in BROADCAST_SHAPES),
    *(binary("Div", A, B, blow=0.5, bhigh=2.0) for A, B in BROADCAST_SHAPES[:6]),
    binary("Add", (1, 3, 7, 7), (3, 1, 1), const_b=True, label="const-bias"),
    binary("Mul", (2, 3, 17), (17,), const_b=True, label="const-scale"),
    binary("Add", (3, 7), (7,), dtype="int32", low=-100, high=100, label="int32"),
    binary("Mul", (2, 13), (2, 1), dtype="int64", low=-1000, high=1000, label="int64"),
    binary("Sub", (7,), (3, 7), dtype="int64", low=-5, high=5, label="int64"),
    binary("Div", (3, 7), (7,), dtype="int32", low=1, high=50, label="int32"),
    binary("Div", (13,), (13,), dtype="int64", low=-50, high=50, blow=1, bhigh=7, label="int64-neg"),
    binary("Pow", (3, 7), (7,), low=0.1, high=2.0, blow=-2.0, bhigh=2.0),
    binary("Pow", (2, 13), (), low=0.1, high=3.0, blow=2.0, bhigh=2.0, label="square"),
    binary("Max", (3, 7), (7,)), binary("Min", (2, 1, 5), (3, 1)),
    binary("Mod", (3, 7), (7,), dtype="int32", low=-20, high=20, blow=1, bhigh=6),
    binary("PRelu", (1, 3, 7, 7), (3, 1, 1), blow=0.0, bhigh=0.5, const_b=True),
    binary("PRelu", (2, 13), (13,), blow=0.0, bhigh=0.5, const_b=True),
    OpCase("Max", (x(3, 1, 7), x(5, 1), x(7)), {}, "variadic3"),
    OpCase("Min", (x(2, 3, 5), x(5), x(3, 1), x(1)), {}, "variadic4"),
    OpCase("Sum", (x(2, 3, 5), x(5), x(3, 1)), {}, "variadic3"),
    OpCase("Mean", (x(7, 13), x(13)), {}),
    *(binary(op, A, B) for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
      for A, B in (((3, 7), (7,)), ((2, 1, 5), (3, 1)))),
    binary("Equal", (3, 7), (7,), dtype="int32", low=0, high=2, label="int32"),
    OpCase("Where", (x(3, 7, dtype="bool"), x(3, 7), x(7)), {}),
    OpCase("Where", (x(2, 1, 5, dtype="bool"), x(3, 5), x(2, 3, 1)), {}, "broadcast"),
]

SHAPES = [(7,), (3, 13), (2, 3, 17), (1, 3, 7, 7), (1, 2, 3, 5, 7)]


def unary(op, attrs=None, low=-3.0, high=3.0, shapes=SHAPES, extra=()):
    suffix = "".join(f"-{k}={v}" for k, v in (attrs or {}).items())
    return [OpCase(op, (x(*s, low=low, high=high), *extra), attrs or {}, f"r{len(s)}-{'x'.join(map(str, s))}{suffix}")
            for s in shapes]


UNARY = [
    *unary("Relu"), *unary("Sigmoid", low=-10, high=10), *unary("Tanh"),
    *unary("LeakyRelu", {"alpha": 0.1}, shapes=SHAPES[1:3]),
    *unary("HardSigmoid", {"alpha": 0.2, "beta": 0.5}, shapes=SHAPES[1:4]),
    *unary("HardSwish", low=-5, high=5), *unary("Erf"),
    *unary("Gelu", shapes=SHAPES[1:4]), *unary("Gelu", {"approximate": "tanh"}, shapes=SHAPES[1:3]),
    *unary("Swish", shapes=SHAPES[1:3]), *unary("Swish", {"alpha": 1.702}, shapes=SHAPES[2:3]),
    *unary("Elu", {"alpha": 0.5}, shapes=SHAPES[1:2]), *unary("Selu", shapes=SHAPES[1:2]),
    *unary("Softplus", shapes=SHAPES[1:2]), *unary("Mish", shapes=SHAPES[1:2]),
    *unary("Exp", shapes=SHAPES[1:3]), *unary("Log", low=0.01, high=5, shapes=SHAPES[1:3]),
    *unary("Sqrt", low=0.0, high=5, shapes=SHAPES[1:3]),
    *unary("Reciprocal", low=0.5, high=5, shapes=SHAPES[1:2]),
    *unary("Abs", shapes=SHAPES[1:2]), *unary("Neg", shapes=SHAPES[1:2]),
    *unary("Floor", shapes=SHAPES[1:2]), *unary("Ceil", shapes=SHAPES[1:2]),
    *unary("Sin", shapes=SHAPES[1:2]), *unary("Cos", shapes=SHAPES[1:2]),
    OpCase("Sigmoid", (x(3, 13, low=-4, high=4),), {}, "silu-pattern",
           then=(("Mul", {}, (w(13, low=0.5, high=1.5),)),)),
    OpCase("Clip", (x(3, 13, low=-2, high=2), c(-0.5, "float32"), c(0.5, "float32")), {}, "min-max"),
    OpCase("Clip", (x(1, 3, 7, 7, low=-2, high=8), c(0.0, "float32"), c(6.0, "float32")), {}, "relu6"),
    OpCase("Clip", (x(2, 3, 17, low=-2, high=2), OMIT, c(0.3, "float32")), {}, "max-only"),
    OpCase("Clip", (x(2, 13, low=-2, high=2), c(0.1, "float32")), {}, "min-only"),
    OpCase("Clip", (x(2, 13, dtype="int32", low=-20, high=20), c(-5, "int32"), c(7, "int32")), {}, "int32"),
    OpCase("Clip", (x(7),), {}, "no-bounds"),
]


def softmax(op, shape, axis=None, low=-5.0, high=5.0):
    attrs = {} if axis is None else {"axis": axis}
    return OpCase(op, (x(*shape, low=low, high=high),), attrs,
                  f"{'x'.join(map(str, shape))}-axis{'default' if axis is None else axis}")


SOFTMAX = [
    *(softmax(op, shape, axis) for op in ("Softmax", "LogSoftmax")
      for shape, axis in (((31,), None), ((3, 13), None), ((3, 7, 13), 1), ((3, 7, 13), 0),
                          ((1, 3, 7, 7), 1), ((2, 3, 5, 7), -2), ((1, 2, 3, 5, 7), 3))),
    softmax("Softmax", (3, 17), -1, low=-60, high=60),
    softmax("LogSoftmax", (3, 17), -1, low=-60, high=60),
]

CASES = BINARY + UNARY + SOFTMAX
