// Convolution kernels compiled with AVX-512 flags; lanes match the 6x32 micro-kernel's NR.
#define MNN_KNS avx512
#define MNN_CONV_LANES 32
#define MNN_CONV_VEC 16
#define MNN_CONV_MR 6  // the GEMM micro-kernel's MR
#include "kernels/portable/conv_impl.h"

namespace mnncpu {
const ConvKernels* conv_kernels_avx512() { return &avx512::kConvKernels; }
}
