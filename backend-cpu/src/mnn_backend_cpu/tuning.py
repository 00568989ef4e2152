"""Semi-automatic search: where a lowered op has variants (tile sizes, algorithms), time each one
once at plan time and remember the fastest on disk, keyed by CPU model, ISA, threads and the op's
signature, so the next load of a model measures nothing.

Any lowering takes part by filling `LOp.variants` (name -> alternative LOp over the same tensors)
and `LOp.cost` (flops). MNN_CPU_TUNING: off (always the default lowering), fast (default: measure
ops of at least FAST_MIN_COST flops), full (measure every op with variants). The cache lives in
$MNN_CPU_CACHE_DIR/cpu-tuning.json, default ~/.cache/mnn/cpu-tuning.json.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

FAST_MIN_COST = 1e7
MODES = ("off", "fast", "full")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path() -> Path:
    root = os.environ.get("MNN_CPU_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "mnn") / "cpu-tuning.json"


def tuning_mode() -> str:
    mode = os.environ.get("MNN_CPU_TUNING", "fast").strip().lower() or "fast"
    if mode not in MODES:
        raise ValueError(f"MNN_CPU_TUNING={mode!r} is not one of {', '.join(MODES)}")
    return mode


class Tuner:
    """Picks a variant per op signature; `measurements` counts the candidates timed so far."""

    def __init__(self, isa: str, threads: int, mode: Optional[str] = None,
                 path: Optional[Path] = None) -> None:
        self.mode = mode or tuning_mode()
        self.path = path or cache_path()
        self.prefix = f"{cpu_model()}|{isa}|t{threads}"
        self.choices: Optional[dict[str, str]] = None
        self.measurements = 0

    def _load(self) -> dict[str, str]:
        if self.choices is None:
            try:
                self.choices = dict(json.loads(self.path.read_text()))
            except (OSError, ValueError, TypeError):
                self.choices = {}
        return self.choices

    def _save(self, key: str, name: str) -> None:
        # Merge with what other processes wrote meanwhile, then replace the file atomically.
        try:
            on_disk = dict(json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError):
            on_disk = {}
        on_disk[key] = name
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(on_disk, f, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home still tunes, it just re-measures next time

    def key(self, lop, signature: str) -> str:
        digest = hashlib.sha1(f"{lop.kind}|{lop.ints}|{signature}".encode()).hexdigest()[:20]
        return f"{self.prefix}|{lop.kind}|{digest}"

    def choose(self, lop, signature: str, timer: Callable[[object], float]):
        """The variant of `lop` to use; `timer(candidate)` returns seconds for one run."""
        if not lop.variants or self.mode == "off" or (self.mode == "fast" and lop.cost < FAST_MIN_COST):
            return lop
        candidates = {"default": lop, **lop.variants}
        key = self.key(lop, signature)
        choices = self._load()
        if key in choices and choices[key] in candidates:
            return candidates[choices[key]]
        times = {}
        for name, cand in candidates.items():
            try:
                times[name] = timer(cand)
            except Exception:  # a variant that cannot be built here is no candidate
                continue
            self.measurements += 1
        best = min(times, key=times.get) if times else "default"
        choices[key] = best
        self._save(key, best)
        return candidates[best]


def time_runs(run: Callable[[], object], repeats: int) -> float:
    """Best of `repeats` timed runs after one warm-up (the minimum resists a busy machine best)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
