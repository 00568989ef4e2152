"""What a frontend plugin provides: a converter from a model format to the IR."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Optional, Union

from .ir import Graph
from .ops.schema import OpRegistry

Source = Union[str, Path, bytes]


@dataclass(frozen=True)
class UnsupportedOp:
    op: str
    node: str
    opset: str = ""
    reason: str = ""

    def __str__(self) -> str:
        where = f" (opset {self.opset})" if self.opset else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.op}{where} at node {self.node!r}{why}"


class ConversionError(ValueError):
    """A model could not be converted. `unsupported` lists every unsupported op found, at once."""

    def __init__(self, message: str, unsupported: tuple[UnsupportedOp, ...] = ()) -> None:
        if unsupported:
            lines = "\n".join(f"  - {u}" for u in unsupported)
            message = f"{message}\n{len(unsupported)} unsupported op(s):\n{lines}"
        super().__init__(message)
        self.unsupported = unsupported


@dataclass
class CheckReport:
    """What `Frontend.check` finds without converting."""

    format: str
    ops: dict[str, int] = field(default_factory=dict)
    unsupported: list[UnsupportedOp] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported


class Frontend(ABC):
    """Converts one model format. Registered through the `mnn_register_frontends` hook."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    """File suffixes this frontend reads, e.g. (".onnx",)."""

    def accepts(self, source: Source) -> bool:
        return isinstance(source, (str, Path)) and Path(source).suffix.lower() in self.suffixes

    @abstractmethod
    def convert(self, source: Source, ops: Optional[OpRegistry] = None) -> Graph:
        """Return the model as an IR graph (before optimisation passes). Raise ConversionError.

        `ops` is the converting context's registry: ops that plugins added count as supported."""

    @abstractmethod
    def check(self, source: Source, ops: Optional[OpRegistry] = None) -> CheckReport:
        """Report which ops the model uses and which of them cannot be converted."""
