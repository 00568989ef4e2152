"""Conformance testing shipped with mnn-core, so a backend plugin can prove it matches the reference
kernels (in the spirit of PennyLane's device test suite).

Declarative op cases live in `cases`; `conformance` is the pytest suite that runs them, plus
lifecycle and allocator checks, against any installed backend:

    mnn-conformance --backend cpu [--precision low] [-- pytest args]
    mnn_core.testing.run_conformance("cpu", ["-x", "-k", "Conv"])
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence, Union

from .case import ACCUMULATING, OMIT, TOL, Input, OpCase, Tolerance, c, fixed, w, x

CONFORMANCE_DIR = Path(__file__).resolve().parent / "conformance"


def conformance_args(backend: Union[str, Iterable[str], None] = None, pytest_args: Sequence[str] = (),
                     precision: Union[str, Iterable[str], None] = None) -> list[str]:
    """pytest arguments that run the suite on the named backends (all available ones when None)."""
    backends = [backend] if isinstance(backend, str) else list(backend or ())
    precisions = [precision] if isinstance(precision, str) else list(precision or ())
    args = [str(CONFORMANCE_DIR), "--rootdir", str(CONFORMANCE_DIR), "-p", "no:cacheprovider"]
    for name in backends:
        args += ["--mnn-backend", name]
    for p in precisions:
        args += ["--mnn-precision", p]
    return args + list(pytest_args)


def run_conformance(backend: Union[str, Iterable[str], None] = None, pytest_args: Sequence[str] = (),
                    precision: Union[str, Iterable[str], None] = None) -> int:
    """Run the conformance suite in this process; returns pytest's exit code (0 when all pass)."""
    import pytest

    return int(pytest.main(conformance_args(backend, pytest_args, precision)))


__all__ = ["ACCUMULATING", "CONFORMANCE_DIR", "OMIT", "TOL", "Input", "OpCase", "Tolerance", "c",
           "conformance_args", "fixed", "run_conformance", "w", "x"]
