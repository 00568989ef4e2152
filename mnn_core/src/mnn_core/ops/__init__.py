"""The standard op set: schemas with type inference and numpy reference kernels.

Each module below declares its ops on an `OpSet` named ``OPS``; `standard_ops()` gathers them into a
fresh `OpRegistry`.
"""
from __future__ import annotations

import importlib

from .schema import (REQUIRED, DecomposeContext, InferContext, KernelContext, OpError, OpRegistry,
                     OpSchema, OpSet)

OP_MODULES = ("elementwise", "activation", "reduce", "tensor", "nn", "normalization", "control",
              "misc", "recurrent")


def standard_ops() -> OpRegistry:
    registry = OpRegistry()
    for module_name in OP_MODULES:
        registry.add_set(importlib.import_module(f"{__name__}.{module_name}").OPS)
    return registry


__all__ = ["REQUIRED", "DecomposeContext", "InferContext", "KernelContext", "OpError", "OpRegistry",
           "OpSchema", "OpSet", "standard_ops"]
