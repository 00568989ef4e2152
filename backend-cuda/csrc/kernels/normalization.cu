// Softmax / LogSoftmax and LayerNormalization: one block of threads per row, with tree reductions in
// shared memory between barriers.
#include "common.cuh"

namespace mnn_cuda {

constexpr int kRowThreads = 256;

// Reduces v over the block (sum, or max when is_max); every thread gets the result.
__device__ float block_reduce(float v, bool is_max, float* scratch) {
  const int t = threadIdx.x;
  scratch[t] = v;
  __syncthreads();
  for (int half = kRowThreads / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] = is_max ? fmaxf(scratch[t], scratch[t + half]) : scratch[t] + scratch[t + half];
    __syncthreads();
  }
  const float result = scratch[0];
  __syncthreads();  // scratch is reused by the next reduction
  return result;
}

// x viewed as [outer, n, inner]; block r handles row (r / inner, :, r % inner).
__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                               int64_t inner, int log) {
  __shared__ float scratch[kRowThreads];
  const int64_t r = blockIdx.x;
  const int64_t base = (r / inner) * n * inner + r % inner;
  const float* xr = x + base;
  float* yr = y + base;
  float m = -INFINITY;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) m = fmaxf(m, xr[k * inner]);
  m = block_reduce(m, true, scratch);
  float s = 0.0f;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) s += expf(xr[k * inner] - m);
  s = block_reduce(s, false, scratch);
  const float log_s = logf(s);
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const float d = xr[k * inner] - m;
    yr[k * inner] = log ? d - log_s : expf(d) / s;
  }
}

__global__ void layernorm_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                                 const float* __restrict__ bias, float* __restrict__ y, int64_t n,
                                 float eps) {
  __shared__ float scratch[kRowThreads];
  const float* xr = x + int64_t(blockIdx.x) * n;
  float* yr = y + int64_t(blockIdx.x) * n;
  float s = 0.0f;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) s += xr[k];
  const float mean = block_reduce(s, false, scratch) / float(n);
  float q = 0.0f;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const float d = xr[k] - mean;
    q += d * d;
  }
  const float inv = rsqrtf(block_reduce(q, false, scratch) / float(n) + eps);
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    float v = (xr[k] - mean) * inv;
    if (scale) v *= scale[k];
    if (bias) v += bias[k];
    yr[k] = v;
  }
}

// Rows go to grid.x (up to 2^31-1 blocks), so no row count limit in practice.
void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, int log) {
  MNN_LAUNCH(softmax_kernel, unsigned(outer * inner), kRowThreads)(x, y, n, inner, log);
}

void layernorm(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
               float eps) {
  MNN_LAUNCH(layernorm_kernel, unsigned(rows), kRowThreads)(x, scale, bias, y, n, eps);
}

}  // namespace mnn_cuda
