"""Tensor element types of the IR and their numpy counterparts."""
from __future__ import annotations

import enum

import numpy as np

try:  # bf16 and the 8-bit floats have no numpy dtype of their own
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - ml_dtypes is a declared dependency
    _ml = None


class DType(enum.Enum):
    """Element type of a tensor. The value is the short name used in files and reports."""

    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    F64 = "f64"
    I8 = "i8"
    U8 = "u8"
    I16 = "i16"
    U16 = "u16"
    I32 = "i32"
    U32 = "u32"
    I64 = "i64"
    U64 = "u64"
    BOOL = "bool"
    STRING = "string"

    @property
    def numpy(self) -> np.dtype:
        return _TO_NUMPY[self]

    @property
    def itemsize(self) -> int:
        return 8 if self is DType.STRING else self.numpy.itemsize

    @property
    def is_float(self) -> bool:
        return self in (DType.F32, DType.F16, DType.BF16, DType.F64)

    @property
    def is_int(self) -> bool:
        return self.name[0] in "IU"

    @classmethod
    def from_numpy(cls, dtype) -> "DType":
        dtype = np.dtype(dtype)
        if dtype.kind in "OUS":
            return cls.STRING
        try:
            return _FROM_NUMPY[dtype]
        except KeyError:
            raise TypeError(f"numpy dtype {dtype} has no mnn element type") from None

    @classmethod
    def parse(cls, name: str) -> "DType":
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"unknown dtype {name!r}; known: {', '.join(d.value for d in cls)}") from None

    def __str__(self) -> str:
        return self.value


_TO_NUMPY = {
    DType.F32: np.dtype(np.float32),
    DType.F16: np.dtype(np.float16),
    DType.F64: np.dtype(np.float64),
    DType.I8: np.dtype(np.int8),
    DType.U8: np.dtype(np.uint8),
    DType.I16: np.dtype(np.int16),
    DType.U16: np.dtype(np.uint16),
    DType.I32: np.dtype(np.int32),
    DType.U32: np.dtype(np.uint32),
    DType.I64: np.dtype(np.int64),
    DType.U64: np.dtype(np.uint64),
    DType.BOOL: np.dtype(np.bool_),
    DType.STRING: np.dtype(object),
    DType.BF16: np.dtype(_ml.bfloat16) if _ml is not None else np.dtype(np.uint16),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items() if k is not DType.STRING}
