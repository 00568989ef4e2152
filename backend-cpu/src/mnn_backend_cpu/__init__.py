"""mnn-backend-cpu: the native CPU backend of mnn (C++17 kernels for AVX-512, AVX2 and a portable
baseline, chosen at run time; cap with MNN_CPU_ISA or `set_isa`). Importing this package is cheap;
the native module loads on first use."""
__version__ = "0.1.0"


def set_isa(cap: str) -> None:
    """Cap the ISA of plans built from now on: "avx512", "avx2" (x86), "neon" (Arm), "baseline", or
    "" for the best."""
    from .backend import set_isa as _set_isa

    _set_isa(cap)


def supported_isas() -> list[str]:
    from . import _native

    return list(_native.supported_isas())
