// Included first by every kernel file: real CUDA under nvcc, the host emulation under a C++ compiler.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
// kernel<<<grid, block>>>(args), spelled so that the emulation can provide it too.
#define MNN_LAUNCH(kernel, grid, block) kernel<<<(grid), (block)>>>
#else
#include "emulation/cuda_host.h"
#endif

#include "kernels.h"

namespace mnn_cuda {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 8192;  // grid-stride loops cover the rest

inline unsigned blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

#define MNN_GRID_STRIDE(i, n)                                                         \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// Unary ops and the activations fused into Conv/Gemm share codes (see kernels.h).
__device__ __forceinline__ float unary_op(int code, float x, float p0, float p1) {
  switch (code) {
    case kRelu: return fmaxf(x, 0.0f);
    case kClip: return fminf(fmaxf(x, p0), p1);
    case kLeakyRelu: return x >= 0.0f ? x : x * p0;
    case kHardSigmoid: return fminf(fmaxf(x * p0 + p1, 0.0f), 1.0f);
    case kHardSwish: return x * fminf(fmaxf(x / 6.0f + 0.5f, 0.0f), 1.0f);
    case kSigmoid: return 1.0f / (1.0f + expf(-x));
    case kSiLU: return x / (1.0f + expf(-x));
    case kTanh: return tanhf(x);
    case kErf: return erff(x);
    case kExp: return expf(x);
    case kSqrt: return sqrtf(x);
    case kNeg: return -x;
    case kAbs: return fabsf(x);
    case kReciprocal: return 1.0f / x;
    case kGelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case kLog: return logf(x);
    case kFloor: return floorf(x);
    case kCeil: return ceilf(x);
    case kElu: return x >= 0.0f ? x : p0 * (expf(x) - 1.0f);
    case kSoftplus: return x > 20.0f ? x : logf(1.0f + expf(x));
    default: return x;
  }
}

}  // namespace mnn_cuda
