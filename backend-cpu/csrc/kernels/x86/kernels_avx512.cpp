// Portable kernels compiled with AVX-512 flags, plus the hand-written AVX-512 GEMM micro-kernel.
#define MNN_KNS avx512
#define MNN_ISA_NAME "avx512"
#define MNN_MICRO micro_6x32
#define MNN_MR 6
#define MNN_NR 32
#include "kernels/portable/kernels_impl.h"

namespace mnncpu {
const KernelTable* avx512_table() { return &avx512::kTable; }
}
