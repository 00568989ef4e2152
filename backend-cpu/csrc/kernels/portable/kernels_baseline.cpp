// Portable kernels for the target's baseline ISA (SSE2 on x86-64, NEON on aarch64).
#define MNN_KNS baseline
#define MNN_ISA_NAME "baseline"
#include "kernels/portable/kernels_impl.h"

namespace mnncpu {
const KernelTable* baseline_table() { return &baseline::kTable; }
}
