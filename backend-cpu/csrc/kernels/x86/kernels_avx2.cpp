// Portable kernels compiled with AVX2+FMA flags, plus the hand-written AVX2 GEMM micro-kernel.
#define MNN_KNS avx2
#define MNN_ISA_NAME "avx2"
#define MNN_MICRO micro_6x16
#define MNN_MR 6
#define MNN_NR 16
#include "kernels/portable/kernels_impl.h"

namespace mnncpu {
const KernelTable* avx2_table() { return &avx2::kTable; }
}
