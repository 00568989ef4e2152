"""Builds `tiny_cnn.onnx`, the demo model that `mnn demo` converts and runs.

A small image classifier exercising the ops of real CNNs: Conv-BatchNorm-Relu blocks, a depthwise
conv, a residual Add, GlobalAveragePool, Flatten, Gemm and Softmax. Weights come from a fixed seed,
so rerunning the script reproduces the committed file byte for byte.

    python -m mnn_core.demo.make_demo_model [OUT.onnx]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED = 20240601
OPSET = 17
INPUT_SHAPE = (1, 3, 64, 64)
CLASSES = 10


def build():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(SEED)
    nodes, weights = [], []

    def weight(name: str, array: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(x: str, name: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1,
                relu: bool = True) -> str:
        fan_in = cin // group * k * k
        w = weight(f"{name}.w", rng.normal(0, np.sqrt(2 / fan_in), (cout, cin // group, k, k)))
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.conv"], name=f"{name}.conv",
                                      kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4, group=group))
        bn = [weight(f"{name}.bn.{p}", v) for p, v in (
            ("scale", rng.uniform(0.5, 1.5, cout)), ("bias", rng.normal(0, 0.1, cout)),
            ("mean", rng.normal(0, 0.1, cout)), ("var", rng.uniform(0.5, 1.5, cout)))]
        out = f"{name}.bn"
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv", *bn], [out],
                                      name=out, epsilon=1e-5))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [f"{name}.relu"], name=f"{name}.relu"))
            out = f"{name}.relu"
        return out

    x = conv_bn("image", "stem", 3, 16, 3, stride=2)                      # 16 x 32 x 32
    y = conv_bn(x, "block.dw", 16, 16, 3, group=16)                       # depthwise
    y = conv_bn(y, "block.pw", 16, 16, 1, relu=False)                     # pointwise
    nodes.append(helper.make_node("Add", [x, y], ["block.add"], name="block.add"))
    nodes.append(helper.make_node("Relu", ["block.add"], ["block.out"], name="block.out"))
    z = conv_bn("block.out", "down", 16, 32, 3, stride=2)                 # 32 x 16 x 16
    nodes.append(helper.make_node("GlobalAveragePool", [z], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flat", axis=1))
    w = weight("fc.w", rng.normal(0, np.sqrt(1 / 32), (CLASSES, 32)))
    b = weight("fc.b", rng.normal(0, 0.1, CLASSES))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))

    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, CLASSES])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mnn_core.demo.make_demo_model", ir_version=8)
    model.doc_string = "mnn demo: a tiny CNN with random weights (seed %d)" % SEED
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv=None) -> int:
    import onnx

    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).with_name("tiny_cnn.onnx")
    onnx.save(build(), out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
