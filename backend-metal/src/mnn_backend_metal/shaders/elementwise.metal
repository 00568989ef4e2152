// Elementwise unary ops, and binary ops with numpy broadcasting. One thread per output element.
#include "mnn_common.h"

struct UnaryParams {
  uint n;
  int code;
  float p0, p1;
};

kernel void unary(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  constant UnaryParams& p [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (i < p.n) y[i] = unary_op(p.code, x[i], p.p0, p.p1);
}

// Output index decomposed over shape (row-major); sa / sb are the operands' element strides.
struct BinaryParams {
  uint n;
  int op, rank;
  int shape[kMaxDims];
  int sa[kMaxDims];
  int sb[kMaxDims];
};

kernel void binary(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                   device float* y [[buffer(2)]], constant BinaryParams& p [[buffer(3)]],
                   uint i [[thread_position_in_grid]]) {
  if (i >= p.n) return;
  int rest = int(i), ia = 0, ib = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const int q = rest / p.shape[d], r = rest - q * p.shape[d];
    ia += r * p.sa[d];
    ib += r * p.sb[d];
    rest = q;
  }
  const float u = a[ia], v = b[ib];
  float out;
  switch (p.op) {
    case 0: out = u + v; break;
    case 1: out = u - v; break;
    case 2: out = u * v; break;
    case 3: out = u / v; break;
    case 4: out = max(u, v); break;
    case 5: out = min(u, v); break;
    case 6: out = pow(u, v); break;
    default: out = u < 0.0f ? u * v : u;  // PRelu
  }
  y[i] = out;
}
