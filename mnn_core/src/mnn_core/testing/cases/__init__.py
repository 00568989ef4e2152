"""Every conformance case shipped with mnn-core, by op family."""
from __future__ import annotations

from ..case import OpCase
from . import attention, elementwise, nn, normalization, reduce, tensor

FAMILIES = {"nn": nn.CASES, "elementwise": elementwise.CASES, "normalization": normalization.CASES,
            "reduce": reduce.CASES, "tensor": tensor.CASES, "attention": attention.CASES}


def all_cases() -> list[OpCase]:
    return [case for cases in FAMILIES.values() for case in cases]


__all__ = ["FAMILIES", "all_cases"]
