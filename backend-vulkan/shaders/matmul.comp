#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Batched (broadcasting) matrix product with Gemm's alpha/beta/C and a fused activation.
// Operands are read through row/column strides, so transposes cost nothing; batch dims are
// collapsed to at most 3 with per-operand strides (0 where broadcast). One invocation per output,
// a 16x4 tile per workgroup so neighbouring invocations share rows of A.
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer Bm { float b[]; };
layout(std430, binding = 2) readonly buffer Cm { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint bd0, bd1, bd2, as0, as1, as2, bs0, bs1, bs2;
  uint M, N, K, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs, has_c, act;
  float alpha, beta, p0, p1;
} p;

void main() {
  uint i = global_index();
  uint per = p.M * p.N;
  if (i >= per * p.bd0 * p.bd1 * p.bd2) return;
  uint j = i % p.N, r = (i / p.N) % p.M, bi = i / per;
  uint b2 = bi % p.bd2, b1 = (bi / p.bd2) % p.bd1, b0 = bi / (p.bd2 * p.bd1);
  uint ao = b0 * p.as0 + b1 * p.as1 + b2 * p.as2 + r * p.a_rs;
  uint bo = b0 * p.bs0 + b1 * p.bs1 + b2 * p.bs2 + j * p.b_cs;
  float acc = 0.0;
  uint k = 0u;
  for (; k + 4u <= p.K; k += 4u) {
    T s = T(a[ao + k * p.a_cs]) * T(b[bo + k * p.b_rs]);
    s += T(a[ao + (k + 1u) * p.a_cs]) * T(b[bo + (k + 1u) * p.b_rs]);
    s += T(a[ao + (k + 2u) * p.a_cs]) * T(b[bo + (k + 2u) * p.b_rs]);
    s += T(a[ao + (k + 3u) * p.a_cs]) * T(b[bo + (k + 3u) * p.b_rs]);
    acc += float(s);
  }
  for (; k < p.K; ++k) acc += float(T(a[ao + k * p.a_cs]) * T(b[bo + k * p.b_rs]));
  acc *= p.alpha;
  if (p.has_c != 0u) acc += p.beta * c[r * p.c_rs + j * p.c_cs];
  y[i] = activate(acc, p.act, p.p0, p.p1);
}
