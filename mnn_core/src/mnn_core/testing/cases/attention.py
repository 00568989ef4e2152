"""Attention (opset 23+): 4-D and 3-D layouts, grouped-query heads, boolean and additive masks,
causal masking, explicit scale and softcap."""
import numpy as np

from ..case import ACCUMULATING, OpCase, fixed, x

_rng = np.random.default_rng(7)


def bool_mask(*shape):
    """Random keep-mask with every query row attending to at least one key (no all-masked rows)."""
    mask = _rng.random(shape) < 0.6
    mask[..., 0] = True
    return fixed(mask, "bool")


def float_mask(*shape):
    return fixed(np.where(_rng.random(shape) < 0.3, -1e4, _rng.uniform(-1, 1, shape)), "float32")


def attention(label, q, k, v, mask=None, **attrs):
    inputs = (x(*q), x(*k), x(*v)) + ((mask,) if mask is not None else ())
    return OpCase("Attention", inputs, attrs, label, tol=ACCUMULATING)


CASES = [
    attention("4d", (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)),
    attention("4d-vdim", (1, 2, 7, 16), (1, 2, 13, 16), (1, 2, 13, 4)),
    attention("bool-mask-2d", (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8), bool_mask(5, 7)),
    attention("bool-mask-4d", (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8), bool_mask(2, 1, 5, 7)),
    attention("float-mask", (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8), float_mask(2, 3, 5, 7)),
    attention("causal", (1, 2, 7, 8), (1, 2, 7, 8), (1, 2, 7, 8), is_causal=1),
    attention("causal-bool-mask", (1, 2, 7, 8), (1, 2, 7, 8), (1, 2, 7, 8), bool_mask(7, 7), is_causal=1),
    attention("gqa", (2, 4, 5, 8), (2, 2, 7, 8), (2, 2, 7, 8)),
    attention("mqa-mask", (1, 6, 3, 4), (1, 1, 17, 4), (1, 1, 17, 4), float_mask(3, 17)),
    attention("3d", (2, 5, 24), (2, 7, 24), (2, 7, 24), q_num_heads=3, kv_num_heads=3),
    attention("3d-gqa-mask", (1, 5, 32), (1, 7, 16), (1, 7, 16), bool_mask(5, 7), q_num_heads=4,
              kv_num_heads=2),
    attention("scale", (1, 2, 5, 8), (1, 2, 5, 8), (1, 2, 5, 8), scale=0.5),
    attention("softcap", (1, 2, 5, 8), (1, 2, 7, 8), (1, 2, 7, 8), softcap=2.0),
    attention("single-query", (3, 2, 1, 16), (3, 2, 31, 16), (3, 2, 31, 16)),
]
