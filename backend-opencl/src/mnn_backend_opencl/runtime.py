"""Process-wide OpenCL state: devices, one context per device, programs built once per build options
with their binaries cached on disk, and the work-group tuning cache."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np

KERNEL_FILES = ("common.cl", "elementwise.cl", "nn.cl", "reduce.cl", "data.cl", "select.cl")
TUNING_MODES = ("none", "fast", "normal", "heavy")
_lock = threading.Lock()


def native():
    from . import _native  # deferred: importing the plugin must stay cheap
    return _native


def cache_dir() -> Path:
    path = os.environ.get("MNN_OPENCL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mnn", "opencl")
    return Path(path)


def unavailable_reason() -> Optional[str]:
    """None when at least one OpenCL device exists, else why not (for `probe()`)."""
    try:
        mod = native()
    except ImportError as error:
        return f"native module unusable: {error}"
    error = mod.loader_error()
    if error:
        return error if error.startswith("no OpenCL ICD loader") else f"no OpenCL ICD loader (libOpenCL.so.1): {error}"
    if not devices():
        return "no OpenCL platform/device"
    return None


@lru_cache(maxsize=None)
def _devices() -> tuple:
    return tuple(native().devices())


def devices() -> list[dict]:
    return [dict(d) for d in _devices()]


@lru_cache(maxsize=None)
def kernel_source() -> str:
    root = resources.files(__package__) / "kernels"
    return "\n".join(f"// ---- {name}\n" + (root / name).read_text() for name in KERNEL_FILES)


class Device:
    """One OpenCL device: context and queue, programs by build options, tuned work-group sizes."""

    _instances: dict[int, "Device"] = {}

    def __init__(self, index: int) -> None:
        self.index = index
        self.info = devices()[index]
        self.ctx = native().Context(index)
        self.programs: dict[str, object] = {}
        self._tuning: Optional[dict] = None

    @classmethod
    def get(cls, index: int) -> "Device":
        with _lock:
            if index not in cls._instances:
                cls._instances[index] = Device(index)
            return cls._instances[index]

    def alloc(self, nbytes: int):
        return native().Buffer(self.ctx, max(int(nbytes), 1))

    def upload(self, array: np.ndarray):
        array = np.ascontiguousarray(array)
        buf = self.alloc(array.nbytes)
        if array.nbytes:
            buf.write(array.reshape(-1).view(np.uint8))
        return buf

    # ---- programs ------------------------------------------------------------------------------
    def program(self, half: bool):
        options = "-cl-std=CL1.2" + (" -DMNN_HALF=1" if half else "")
        prog = self.programs.get(options)
        if prog is None:
            source = kernel_source()
            key = hashlib.sha256("\0".join([self.info["name"], self.info["driver"], self.info["platform"],
                                            hashlib.sha256(source.encode()).hexdigest(), options]).encode()).hexdigest()
            path = cache_dir() / f"program-{key[:32]}.bin"
            binary = None
            try:
                binary = path.read_bytes()
            except OSError:
                pass
            prog, built = native().build_program(self.ctx, source, options, binary)
            if built:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_bytes(built)
                    os.replace(tmp, path)
                except OSError:
                    pass  # a read-only cache only costs rebuild time
            self.programs[options] = prog
        return prog

    # ---- work-group tuning cache ---------------------------------------------------------------
    def _tuning_path(self) -> Path:
        tag = hashlib.sha256(f"{self.info['name']}|{self.info['driver']}".encode()).hexdigest()[:16]
        return cache_dir() / f"tuning-{tag}.json"

    def tuned(self, key: str) -> Optional[list]:
        if self._tuning is None:
            try:
                self._tuning = json.loads(self._tuning_path().read_text())
            except (OSError, ValueError):
                self._tuning = {}
        return self._tuning.get(key)

    def remember(self, key: str, local: list) -> None:
        self.tuned(key)
        self._tuning[key] = local
        try:
            path = self._tuning_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._tuning, sort_keys=True))
            os.replace(tmp, path)
        except OSError:
            pass
