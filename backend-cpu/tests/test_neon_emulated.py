"""The AArch64 NEON kernels, cross-compiled and run under qemu-aarch64 (tests/native/neon_check.cpp).

Needs `aarch64-linux-gnu-g++` and `qemu-aarch64` on PATH (Debian/Ubuntu: g++-aarch64-linux-gnu,
qemu-user); skipped otherwise. Object files are cached in pytest's cache directory under a hash of
the sources, headers and flags, so only the first run after a change compiles (~10 s on 2 cores:
the two convolution translation units dominate and are built at -O1 to keep that down; the GEMM
micro-kernel and the driver are built with the module's release flags).
"""
import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
DRIVER = ROOT / "tests" / "native" / "neon_check.cpp"
CXX = "aarch64-linux-gnu-g++"
QEMU = "qemu-aarch64"

COMMON = ["-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-DMNN_ARM64=1", f"-I{CSRC}"]
# (source, optimisation): the heavy conv_impl.h instantiations at -O1 (-O2 takes ~15 s each).
SOURCES = [
    (DRIVER, "-O2"),
    (CSRC / "gemm.cpp", "-O3"),
    (CSRC / "isa.cpp", "-O2"),
    (CSRC / "kernels" / "arm" / "gemm_neon.cpp", "-O3"),
    (CSRC / "kernels" / "arm" / "kernels_neon.cpp", "-O2"),
    (CSRC / "kernels" / "arm" / "conv_neon.cpp", "-O1"),
    (CSRC / "kernels" / "portable" / "kernels_baseline.cpp", "-O2"),
    (CSRC / "kernels" / "portable" / "conv_baseline.cpp", "-O1"),
]

pytestmark = pytest.mark.skipif(
    shutil.which(CXX) is None or shutil.which(QEMU) is None,
    reason=f"needs {CXX} and {QEMU} on PATH (apt: g++-aarch64-linux-gnu qemu-user)",
)


def _digest() -> str:
    h = hashlib.sha256()
    h.update(repr((COMMON, [(str(s.relative_to(ROOT)), o) for s, o in SOURCES])).encode())
    h.update(subprocess.run([CXX, "--version"], capture_output=True, text=True).stdout.encode())
    files = {s for s, _ in SOURCES} | set(CSRC.rglob("*.h"))
    for f in sorted(files):
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def _build(out: Path) -> Path:
    exe = out / "neon_check"
    if exe.exists():
        return exe
    out.mkdir(parents=True, exist_ok=True)

    def compile_one(item):
        src, opt = item
        obj = out / (src.name + ".o")
        r = subprocess.run([CXX, *COMMON, opt, "-c", str(src), "-o", str(obj)],
                           capture_output=True, text=True)
        return src, obj, r

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(compile_one, SOURCES))
    for src, _, r in results:
        assert r.returncode == 0, f"{CXX} failed on {src.name}:\n{r.stderr[-4000:]}"
    tmp = out / "neon_check.tmp"
    r = subprocess.run([CXX, "-static", *[str(o) for _, o, _ in results], "-o", str(tmp)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"link failed:\n{r.stderr[-4000:]}"
    tmp.replace(exe)
    return exe


def test_neon_kernels_under_qemu(request):
    root = Path(request.config.cache.mkdir("neon_check"))
    cache = root / _digest()
    for stale in root.iterdir():  # builds of older sources
        if stale != cache:
            shutil.rmtree(stale, ignore_errors=True)
    exe = _build(cache)
    r = subprocess.run([QEMU, str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ALL OK" in r.stdout, r.stdout[-4000:] + r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert any(line.startswith("neon ") and "mr=8 nr=12 lanes=12" in line and ": ok" in line
               for line in lines), r.stdout
    assert any(line.startswith("baseline ") and ": ok" in line for line in lines), r.stdout
    assert any(line.startswith("isa ") and "best=neon" in line for line in lines), r.stdout
