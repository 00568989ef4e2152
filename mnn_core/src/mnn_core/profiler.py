"""Per-op and per-backend timing of session runs, exportable as a Chrome trace (Perfetto opens it)."""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from .backend import ProfileSink
from .ir import Node


@dataclass(frozen=True)
class Event:
    name: str
    category: str
    """"op", "segment" or "copy"."""
    backend: str
    start_ns: int
    end_ns: int
    op: str = ""

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class Profiler(ProfileSink):
    """Collects events; pass one to `Session.run(..., profiler=p)`."""

    events: list[Event] = field(default_factory=list)
    runs: int = 0

    def op(self, node: Node, backend: str, start_ns: int, end_ns: int) -> None:
        self.events.append(Event(node.name or node.outputs[0], "op", backend, start_ns, end_ns, node.op))

    def span(self, name: str, category: str, backend: str, start_ns: int) -> None:
        self.events.append(Event(name, category, backend, start_ns, time.perf_counter_ns()))

    # ---- reports -------------------------------------------------------------------------------
    def by_op_type(self) -> dict[tuple[str, str], tuple[int, float]]:
        """(backend, op type) -> (calls, total ms), for op events."""
        table: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0.0])
        for e in self.events:
            if e.category == "op":
                row = table[(e.backend, e.op)]
                row[0] += 1
                row[1] += e.ms
        return {k: (v[0], v[1]) for k, v in table.items()}

    def by_backend(self) -> dict[str, float]:
        """Backend (or "copy") -> total ms of segments and copies."""
        totals: dict[str, float] = defaultdict(float)
        for e in self.events:
            if e.category == "segment":
                totals[e.backend] += e.ms
            elif e.category == "copy":
                totals["copy"] += e.ms
        return dict(totals)

    def table(self, top: int = 20) -> str:
        rows = sorted(self.by_op_type().items(), key=lambda kv: -kv[1][1])
        total = sum(ms for _, (_, ms) in rows) or 1.0
        runs = max(self.runs, 1)
        lines = [f"{'backend':<12} {'op':<24} {'calls':>7} {'ms/run':>9} {'share':>6}"]
        for (backend, op), (calls, ms) in rows[:top]:
            lines.append(f"{backend:<12} {op:<24} {calls // runs:>7} {ms / runs:>9.3f} {ms / total:>6.1%}")
        for backend, ms in sorted(self.by_backend().items()):
            lines.append(f"{'total':<12} {backend:<24} {'':>7} {ms / runs:>9.3f}")
        return "\n".join(lines)

    def chrome_trace(self) -> dict:
        pid = os.getpid()
        lanes = {"segment": 0, "copy": 0, "op": 1}
        trace = []
        for e in self.events:
            trace.append({"name": e.name if e.category != "op" else f"{e.op} {e.name}",
                          "cat": e.category, "ph": "X", "ts": e.start_ns / 1e3,
                          "dur": (e.end_ns - e.start_ns) / 1e3, "pid": pid,
                          "tid": f"{e.backend}/{'ops' if lanes[e.category] else 'segments'}",
                          "args": {"backend": e.backend, "op": e.op}})
        return {"traceEvents": trace, "displayTimeUnit": "ms"}

    def save_chrome_trace(self, path: Union[str, Path]) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.chrome_trace()))
        return path
