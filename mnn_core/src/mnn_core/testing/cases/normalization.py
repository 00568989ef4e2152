"""LayerNormalization, BatchNormalization (inference form) and InstanceNormalization."""
from ..case import ACCUMULATING, OpCase, w, x


def layer_norm(label, X, axis=-1, bias=True, **attrs):
    normalized = X[axis:] if axis != 0 else X
    inputs = (x(*X, low=-3, high=3), w(*normalized, low=0.5, high=1.5)) + ((w(*normalized),) if bias else ())
    return OpCase("LayerNormalization", inputs, {"axis": axis, **attrs}, label, tol=ACCUMULATING)


def batch_norm(label, X, **attrs):
    C = X[1]
    inputs = (x(*X, low=-3, high=3), w(C, low=0.5, high=1.5), w(C), w(C), w(C, low=0.5, high=2.0))
    return OpCase("BatchNormalization", inputs, attrs, label, tol=ACCUMULATING)


def instance_norm(label, X, **attrs):
    C = X[1]
    inputs = (x(*X, low=-3, high=3), w(C, low=0.5, high=1.5), w(C))
    return OpCase("InstanceNormalization", inputs, attrs, label, tol=ACCUMULATING)


CASES = [
    layer_norm("last", (2, 7, 13)),
    layer_norm("rank1", (31,)),
    layer_norm("nobias", (3, 17), bias=False),
    layer_norm("axis1", (2, 3, 5, 7), axis=1),
    layer_norm("axis-2", (2, 3, 5, 7), axis=-2),
    layer_norm("eps1e-3", (1, 7, 31), epsilon=1e-3),
    layer_norm("rank5", (1, 2, 3, 5, 7), axis=-1),
    batch_norm("2d", (2, 3, 7, 7)),
    batch_norm("rank2", (5, 13)),
    batch_norm("1d", (2, 3, 17)),
    batch_norm("3d", (1, 4, 3, 5, 5), epsilon=1e-3),
    batch_norm("momentum-ignored", (1, 17, 7, 7), momentum=0.5),
    instance_norm("2d", (2, 3, 7, 7)),
    instance_norm("1d", (1, 4, 17)),
    instance_norm("3d", (1, 2, 3, 5, 7), epsilon=1e-3),
    OpCase("RMSNormalization", (x(2, 7, 13), w(13, low=0.5, high=1.5)), {}, "last", tol=ACCUMULATING),
]
