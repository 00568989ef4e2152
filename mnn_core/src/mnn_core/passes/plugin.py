"""Built-in plugin registering the standard optimisation pipeline."""
from ..hookspecs import hookimpl
from ..registry import GraphPass
from .cleanup import (eliminate_common_subexpressions, eliminate_dead_code, fold_constants,
                      fold_shapes, remove_identities)
from .fusion import fold_conv_affine, fold_conv_batchnorm, fuse_activations, fuse_matmul_add
from .patterns import fuse_attention, fuse_gelu, fuse_layer_norm

STANDARD_PIPELINE: tuple[GraphPass, ...] = (
    GraphPass("identity", remove_identities, "drop Identity, inference Dropout, no-op Reshape/Transpose"),
    GraphPass("fold-shapes", fold_shapes, "fold shape computations on static shapes", repeat=True),
    GraphPass("fold", fold_constants, "evaluate nodes whose inputs are all constants", repeat=True),
    GraphPass("cse", eliminate_common_subexpressions, "merge duplicate nodes and constants", repeat=True),
    GraphPass("conv-bn", fold_conv_batchnorm, "fold BatchNormalization into Conv weights"),
    GraphPass("conv-affine", fold_conv_affine, "fold per-channel Mul/Add into Conv weights", repeat=True),
    GraphPass("layernorm", fuse_layer_norm, "fuse the LayerNorm op pattern"),
    GraphPass("gelu", fuse_gelu, "fuse the erf GELU op pattern"),
    GraphPass("attention", fuse_attention, "fuse MatMul/Softmax/MatMul into Attention"),
    GraphPass("gemm", fuse_matmul_add, "MatMul + bias -> Gemm"),
    GraphPass("act", fuse_activations, "fuse activations into Conv/Gemm/MatMul"),
    GraphPass("noop", remove_identities, "drop no-ops and merge Reshape/Transpose chains"),
    GraphPass("dce", eliminate_dead_code, "drop unused nodes, constants and types"),
)


@hookimpl
def mnn_register_passes(registry) -> None:
    for graph_pass in STANDARD_PIPELINE:
        registry.add(graph_pass)
