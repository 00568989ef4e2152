// Batched GEMM tiled through threadgroup memory: a 16x16 threadgroup computes a 16x16 tile of
// C[z] = act(alpha * A[z] @ B[z] + bias). Batch strides of 0 broadcast an operand over the batch.
#include "mnn_common.h"

constant int kTile = 16;

struct GemmParams {
  int M, N, K, batch;
  int a_rs, a_cs, b_rs, b_cs, a_bs, b_bs;
  int bias_kind, act;  // bias_kind: 0 none, 1 per column, 2 per row, 3 full M x N
  float alpha, p0, p1;
};

kernel void gemm(device const float* A [[buffer(0)]], device const float* B [[buffer(1)]],
                 device const float* bias [[buffer(2)]], device float* C [[buffer(3)]],
                 constant GemmParams& g [[buffer(4)]], uint3 tg [[threadgroup_position_in_grid]],
                 uint3 lid [[thread_position_in_threadgroup]]) {
  threadgroup float As[kTile][kTile];
  threadgroup float Bs[kTile][kTile + 1];
  const int tx = int(lid.x), ty = int(lid.y), z = int(tg.z);
  const int row = int(tg.y) * kTile + ty, col = int(tg.x) * kTile + tx;
  device const float* a = A + z * g.a_bs;
  device const float* b = B + z * g.b_bs;
  float acc = 0.0f;
  for (int k0 = 0; k0 < g.K; k0 += kTile) {
    const int ka = k0 + tx, kb = k0 + ty;
    As[ty][tx] = (row < g.M && ka < g.K) ? a[row * g.a_rs + ka * g.a_cs] : 0.0f;
    Bs[ty][tx] = (kb < g.K && col < g.N) ? b[kb * g.b_rs + col * g.b_cs] : 0.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (row >= g.M || col >= g.N) return;
  float v = g.alpha * acc;
  if (g.bias_kind == 1) v += bias[col];
  else if (g.bias_kind == 2) v += bias[row];
  else if (g.bias_kind == 3) v += bias[row * g.N + col];
  C[(z * g.M + row) * g.N + col] = unary_op(g.act, v, g.p0, g.p1);
}
