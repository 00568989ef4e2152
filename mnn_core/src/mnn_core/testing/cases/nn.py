"""Conv (plain, strided, padded, dilated, grouped, depthwise, 1-3 spatial dims), ConvTranspose,
Gemm, MatMul and pooling, with every fused activation on Conv and Gemm."""
from ...ops.fused import FUSABLE
from ..case import ACCUMULATING, OpCase, w, x

FUSED_PARAMS = {"Clip": (-0.5, 0.5), "LeakyRelu": (0.1,), "HardSigmoid": (0.2, 0.5)}
"""Parameters for the fused activations that take some; each name in FUSABLE is exercised."""


def fused(name: str) -> dict:
    return {"activation": name, "activation_params": FUSED_PARAMS.get(name, ())}


def conv(label, X, W, B=None, **attrs):
    inputs = (x(*X), w(*W)) + ((w(B),) if B else ())
    return OpCase("Conv", inputs, attrs, label, tol=ACCUMULATING)


CONV = [
    conv("3x3", (1, 3, 7, 7), (4, 3, 3, 3), 4),
    conv("nobias", (2, 3, 7, 7), (4, 3, 3, 3)),
    conv("1x1", (1, 17, 7, 7), (13, 17, 1, 1), 13),
    conv("pad1", (1, 3, 7, 7), (4, 3, 3, 3), 4, pads=(1, 1, 1, 1)),
    conv("pad-asym", (1, 3, 13, 7), (5, 3, 3, 3), 5, pads=(0, 1, 2, 1)),
    conv("stride2", (1, 3, 13, 13), (4, 3, 3, 3), 4, strides=(2, 2), pads=(1, 1, 1, 1)),
    conv("stride2x1", (1, 3, 17, 7), (4, 3, 3, 5), 4, strides=(2, 1)),
    conv("dilation2", (1, 3, 13, 13), (4, 3, 3, 3), 4, dilations=(2, 2), pads=(2, 2, 2, 2)),
    conv("kernel5x3", (1, 3, 13, 17), (7, 3, 5, 3), 7, pads=(2, 1, 2, 1)),
    conv("group2", (1, 4, 7, 7), (6, 2, 3, 3), 6, group=2, pads=(1, 1, 1, 1)),
    conv("group3-stride2", (2, 6, 13, 13), (9, 2, 3, 3), 9, group=3, strides=(2, 2)),
    conv("depthwise", (1, 8, 13, 13), (8, 1, 3, 3), 8, group=8, pads=(1, 1, 1, 1)),
    conv("depthwise-mult2", (1, 3, 7, 7), (6, 1, 3, 3), 6, group=3),
    conv("depthwise-stride2", (1, 17, 31, 31), (17, 1, 3, 3), 17, group=17, strides=(2, 2),
         pads=(1, 1, 1, 1)),
    conv("same-upper", (1, 3, 13, 13), (4, 3, 3, 3), 4, auto_pad="SAME_UPPER", strides=(2, 2)),
    conv("same-lower", (1, 3, 13, 13), (4, 3, 4, 4), 4, auto_pad="SAME_LOWER"),
    conv("valid", (1, 3, 7, 7), (4, 3, 3, 3), 4, auto_pad="VALID"),
    conv("kernel-shape", (1, 3, 7, 7), (4, 3, 3, 3), 4, kernel_shape=(3, 3)),
    conv("1d", (2, 3, 17), (5, 3, 3), 5, pads=(1, 1)),
    conv("1d-stride-dil", (1, 4, 31), (4, 2, 3), 4, strides=(2,), dilations=(2,), group=2),
    conv("3d", (1, 2, 5, 7, 7), (3, 2, 3, 3, 3), 3, pads=(1, 1, 1, 1, 1, 1)),
    conv("batch3", (3, 1, 7, 7), (1, 1, 3, 3), 1),
    *(OpCase("Conv", (x(1, 3, 7, 7), w(4, 3, 3, 3), w(4)), {"pads": (1, 1, 1, 1), **fused(a)},
             f"fused-{a}", tol=ACCUMULATING) for a in sorted(FUSABLE)),
    OpCase("Conv", (x(1, 4, 7, 7), w(4, 1, 3, 3), w(4)), {"group": 4, **fused("Relu")},
           "depthwise-fused-Relu", tol=ACCUMULATING),
]


def deconv(label, X, W, B=None, **attrs):
    inputs = (x(*X), w(*W)) + ((w(B),) if B else ())
    return OpCase("ConvTranspose", inputs, attrs, label, tol=ACCUMULATING)


CONV_TRANSPOSE = [
    deconv("3x3", (1, 4, 5, 5), (4, 3, 3, 3), 3),
    deconv("nobias", (1, 4, 5, 5), (4, 3, 3, 3)),
    deconv("stride2-pad1", (1, 4, 7, 7), (4, 3, 3, 3), 3, strides=(2, 2), pads=(1, 1, 1, 1)),
    deconv("output-padding", (1, 3, 5, 7), (3, 2, 3, 3), 2, strides=(2, 2), output_padding=(1, 1)),
    deconv("group2", (1, 4, 5, 5), (4, 3, 3, 3), 6, group=2, strides=(2, 2)),
    deconv("depthwise", (1, 3, 7, 7), (3, 1, 4, 4), 3, group=3, strides=(2, 2), pads=(1, 1, 1, 1)),
    deconv("dilation2", (1, 2, 5, 5), (2, 3, 3, 3), 3, dilations=(2, 2)),
    deconv("output-shape", (1, 2, 7, 7), (2, 3, 3, 3), 3, strides=(2, 2), output_shape=(14, 14)),
    deconv("same-upper", (1, 2, 7, 7), (2, 3, 3, 3), 3, strides=(2, 2), auto_pad="SAME_UPPER"),
    deconv("1d", (2, 3, 13), (3, 5, 3), 5, strides=(2,)),
    deconv("3d", (1, 2, 3, 5, 5), (2, 3, 3, 3, 3), 3, strides=(1, 2, 2)),
    OpCase("ConvTranspose", (x(1, 4, 5, 5), w(4, 3, 3, 3), w(3)), fused("Relu"), "fused-Relu",
           tol=ACCUMULATING),
    OpCase("ConvTranspose", (x(1, 4, 5, 5), w(4, 3, 3, 3), w(3)), fused("Clip"), "fused-Clip",
           tol=ACCUMULATING),
]


def gemm(label, A, B, C=None, const_b=True, **attrs):
    inputs = (x(*A), (w if const_b else x)(*B)) + ((w(*C),) if C is not None else ())
    return OpCase("Gemm", inputs, attrs, label, tol=ACCUMULATING)


GEMM = [
    gemm("plain", (3, 7), (7, 13), (13,)),
    gemm("noC", (7, 13), (13, 3)),
    gemm("runtime-B", (3, 7), (7, 13), (13,), const_b=False),
    gemm("transA", (7, 3), (7, 13), (13,), transA=1),
    gemm("transB", (3, 7), (13, 7), (13,), transB=1),
    gemm("transAB", (7, 3), (13, 7), (3, 13), transA=1, transB=1),
    gemm("alpha-beta", (3, 7), (7, 13), (13,), alpha=0.5, beta=2.0),
    gemm("C-row", (3, 7), (7, 13), (1, 13)),
    gemm("C-col", (3, 7), (7, 13), (3, 1)),
    gemm("C-scalar", (3, 7), (7, 13), ()),
    gemm("vector-1", (1, 31), (31, 17), (17,), transB=0),
    gemm("fc-transB", (2, 31), (17, 31), (17,), transB=1),
    *(gemm(f"fused-{a}", (3, 7), (13, 7), (13,), transB=1, **fused(a)) for a in sorted(FUSABLE)),
]


def matmul(label, A, B, const_b=False, **attrs):
    return OpCase("MatMul", (x(*A), (w if const_b else x)(*B)), attrs, label, tol=ACCUMULATING)


MATMUL = [
    matmul("2d", (7, 13), (13, 3)),
    matmul("2d-const", (3, 31), (31, 17), const_b=True),
    matmul("vec-mat", (13,), (13, 3)),
    matmul("mat-vec", (3, 13), (13,)),
    matmul("vec-vec", (17,), (17,)),
    matmul("batched", (2, 3, 7, 5), (2, 3, 5, 4)),
    matmul("broadcast-B", (3, 7, 5), (5, 4), const_b=True),
    matmul("broadcast-A", (7, 5), (3, 5, 4)),
    matmul("broadcast-batch", (2, 1, 7, 5), (3, 5, 4)),
    matmul("batched-vec", (2, 3, 7, 5), (5,)),
    matmul("rank5", (1, 2, 3, 7, 5), (2, 1, 5, 3)),
    matmul("fused-Relu", (3, 7), (7, 13), const_b=True, **fused("Relu")),
]


def pool(op, label, X, **attrs):
    return OpCase(op, (x(*X),), attrs, label)


POOL = [
    pool("MaxPool", "3x3-s2", (1, 3, 7, 7), kernel_shape=(3, 3), strides=(2, 2)),
    pool("MaxPool", "2x2", (2, 3, 13, 13), kernel_shape=(2, 2), strides=(2, 2)),
    pool("MaxPool", "pad1", (1, 3, 7, 7), kernel_shape=(3, 3), pads=(1, 1, 1, 1)),
    pool("MaxPool", "pad-asym", (1, 3, 7, 13), kernel_shape=(3, 2), pads=(0, 1, 1, 0)),
    pool("MaxPool", "ceil", (1, 3, 13, 13), kernel_shape=(3, 3), strides=(2, 2), ceil_mode=1),
    pool("MaxPool", "dilation2", (1, 2, 13, 13), kernel_shape=(3, 3), dilations=(2, 2)),
    pool("MaxPool", "same-upper", (1, 3, 7, 7), kernel_shape=(3, 3), strides=(2, 2),
         auto_pad="SAME_UPPER"),
    pool("MaxPool", "same-lower", (1, 3, 7, 7), kernel_shape=(2, 2), auto_pad="SAME_LOWER"),
    pool("MaxPool", "1d", (2, 3, 17), kernel_shape=(3,), strides=(2,)),
    pool("MaxPool", "3d", (1, 2, 5, 7, 7), kernel_shape=(2, 3, 3), strides=(1, 2, 2)),
    pool("AveragePool", "3x3-s2", (1, 3, 7, 7), kernel_shape=(3, 3), strides=(2, 2)),
    pool("AveragePool", "pad-exclude", (1, 3, 7, 7), kernel_shape=(3, 3), pads=(1, 1, 1, 1)),
    pool("AveragePool", "pad-include", (1, 3, 7, 7), kernel_shape=(3, 3), pads=(1, 1, 1, 1),
         count_include_pad=1),
    pool("AveragePool", "ceil", (1, 3, 13, 13), kernel_shape=(3, 3), strides=(2, 2), ceil_mode=1),
    pool("AveragePool", "same-upper", (1, 3, 13, 13), kernel_shape=(3, 3), strides=(2, 2),
         auto_pad="SAME_UPPER"),
    pool("AveragePool", "1d", (2, 3, 31), kernel_shape=(4,), strides=(3,)),
    pool("AveragePool", "3d", (1, 2, 5, 7, 7), kernel_shape=(3, 3, 3), pads=(1, 1, 1, 1, 1, 1)),
    *(pool(op, label, X) for op in ("GlobalAveragePool", "GlobalMaxPool")
      for label, X in (("2d", (1, 3, 7, 7)), ("1d", (2, 5, 13)), ("3d", (1, 2, 3, 5, 7)),
                       ("wide", (1, 31, 17, 1)))),
]

CASES = CONV + CONV_TRANSPOSE + GEMM + MATMUL + POOL
