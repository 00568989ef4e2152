// Convolution kernels compiled for AArch64; lanes match the 8x12 NEON micro-kernel's NR, and
// micro_conv reads the same 8-row A panels.
#define MNN_KNS neon
#define MNN_CONV_LANES 12
#define MNN_CONV_VEC 4
#define MNN_CONV_MR 8  // the GEMM micro-kernel's MR
#include "kernels/portable/conv_impl.h"

namespace mnncpu {
const ConvKernels* conv_kernels_neon() { return &neon::kConvKernels; }
}
