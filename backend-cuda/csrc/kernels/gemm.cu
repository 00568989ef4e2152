// Batched GEMM tiled through shared memory: each 16x16 block of threads computes a 16x16 tile of C,
// staging 16x16 tiles of A and B in shared memory per step along K.
#include "common.cuh"

namespace mnn_cuda {

constexpr int kTile = 16;

__global__ void gemm_kernel(const float* __restrict__ A, const float* __restrict__ B,
                            const float* __restrict__ bias, float* __restrict__ C,
                            const int64_t* __restrict__ offsets, GemmArgs g) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile + 1];  // padded: the inner loop reads a column
  const int z = blockIdx.z, tx = threadIdx.x, ty = threadIdx.y;
  const float* a = A + offsets[2 * z];
  const float* b = B + offsets[2 * z + 1];
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < g.K; k0 += kTile) {
    const int ka = k0 + tx, kb = k0 + ty;
    As[ty][tx] = (row < g.M && ka < g.K) ? a[row * g.a_rs + ka * g.a_cs] : 0.0f;
    Bs[ty][tx] = (kb < g.K && col < g.N) ? b[kb * g.b_rs + col * g.b_cs] : 0.0f;
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (row < g.M && col < g.N) {
    float v = g.alpha * acc;
    if (g.bias_kind == 1) v += bias[col];
    else if (g.bias_kind == 2) v += bias[row];
    else if (g.bias_kind == 3) v += bias[int64_t(row) * g.N + col];
    C[int64_t(z) * g.M * g.N + int64_t(row) * g.N + col] = unary_op(g.act, v, g.p0, g.p1);
  }
}

void gemm(const float* a, const float* b, const float* bias, float* c, const int64_t* offsets, int batch,
          const GemmArgs& g) {
  const dim3 grid((g.N + kTile - 1) / kTile, (g.M + kTile - 1) / kTile, batch);
  MNN_LAUNCH(gemm_kernel, grid, dim3(kTile, kTile))(a, b, bias, c, offsets, g);
}

}  // namespace mnn_cuda
