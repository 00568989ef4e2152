"""Static memory planning: give every intermediate tensor an offset in one arena so that tensors
whose lifetimes do not overlap share bytes. Greedy best-fit by size, largest first."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

ALIGNMENT = 64


@dataclass(frozen=True)
class Lifetime:
    name: str
    nbytes: int
    first: int
    """Index of the step that produces the tensor."""
    last: int
    """Index of the last step that reads it (inclusive)."""


@dataclass
class MemoryPlan:
    offsets: dict[str, int] = field(default_factory=dict)
    peak_bytes: int = 0
    unplanned: list[str] = field(default_factory=list)
    """Tensors whose size is known only at run time (data-dependent shapes)."""

    @property
    def naive_bytes(self) -> int:
        return self._naive

    _naive: int = 0


def align(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


def plan_memory(lifetimes: Sequence[Lifetime]) -> MemoryPlan:
    """Place tensors in an arena; two tensors overlap in bytes only if their lifetimes are disjoint."""
    plan = MemoryPlan()
    placed: list[tuple[int, int, Lifetime]] = []  # (offset, size, lifetime)
    for life in sorted(lifetimes, key=lambda l: (-l.nbytes, l.first)):
        size = align(max(life.nbytes, 1))
        busy = sorted((off, off + sz) for off, sz, other in placed
                      if not (other.last < life.first or life.last < other.first))
        best, best_gap, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, end)
        offset = best if best is not None else cursor
        placed.append((offset, size, life))
        plan.offsets[life.name] = offset
        plan.peak_bytes = max(plan.peak_bytes, offset + size)
    plan._naive = sum(align(max(l.nbytes, 1)) for l in lifetimes)
    return plan
