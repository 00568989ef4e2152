// Convolution kernels compiled with AVX2+FMA flags; lanes match the 6x16 micro-kernel's NR.
#define MNN_KNS avx2
#define MNN_CONV_LANES 16
#define MNN_CONV_VEC 8
#define MNN_CONV_MR 6  // the GEMM micro-kernel's MR
#include "kernels/portable/conv_impl.h"

namespace mnncpu {
const ConvKernels* conv_kernels_avx2() { return &avx2::kConvKernels; }
}
