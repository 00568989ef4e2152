// Elementwise unary ops and binary ops with numpy broadcasting.
#include "common.cuh"

namespace mnn_cuda {

__global__ void unary_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, int code,
                             float p0, float p1) {
  MNN_GRID_STRIDE(i, n) { y[i] = unary_op(code, x[i], p0, p1); }
}

__device__ __forceinline__ float binary_op(int op, float a, float b) {
  switch (op) {
    case kAdd: return a + b;
    case kSub: return a - b;
    case kMul: return a * b;
    case kDiv: return a / b;
    case kMax: return fmaxf(a, b);
    case kMin: return fminf(a, b);
    case kPow: return powf(a, b);
    case kPRelu: return a < 0.0f ? a * b : a;
    default: return a;
  }
}

// Output index i is decomposed over s.shape (row-major); s.a / s.b give each operand's strides.
__global__ void binary_kernel(const float* __restrict__ a, const float* __restrict__ b,
                              float* __restrict__ y, int64_t n, Strided s, int op) {
  MNN_GRID_STRIDE(i, n) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      const int64_t q = rest / s.shape[d], r = rest - q * s.shape[d];
      ia += r * s.a[d];
      ib += r * s.b[d];
      rest = q;
    }
    y[i] = binary_op(op, a[ia], b[ib]);
  }
}

void unary(const float* x, float* y, int64_t n, int code, float p0, float p1) {
  MNN_LAUNCH(unary_kernel, blocks_for(n), kThreads)(x, y, n, code, p0, p1);
}

void binary(const float* a, const float* b, float* y, int64_t n, const Strided& s, int op) {
  MNN_LAUNCH(binary_kernel, blocks_for(n), kThreads)(a, b, y, n, s, op);
}

}  // namespace mnn_cuda
