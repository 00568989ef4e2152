// Portable kernels compiled for AArch64 (NEON is part of the base ISA there), plus the hand-written
// NEON GEMM micro-kernel (gemm_neon.cpp).
#define MNN_KNS neon
#define MNN_ISA_NAME "neon"
#define MNN_MICRO micro_8x12
#define MNN_MR 8
#define MNN_NR 12
#include "kernels/portable/kernels_impl.h"

namespace mnncpu {
const KernelTable* neon_table() { return &neon::kTable; }
}
