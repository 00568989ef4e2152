// Convolution kernels for the target's baseline ISA; lanes match the portable GEMM's NR (8).
#define MNN_KNS baseline
#define MNN_CONV_LANES 8
#define MNN_CONV_VEC 4
#define MNN_CONV_MR 4  // the GEMM micro-kernel's MR
#include "kernels/portable/conv_impl.h"

namespace mnncpu {
const ConvKernels* conv_kernels_baseline() { return &baseline::kConvKernels; }
}
