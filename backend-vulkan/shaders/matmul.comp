#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Batched (broadcasting) matrix product with Gemm's alpha/beta/C and a fused activation.
// Operands are read through row/column strides, so transposes cost nothing; batch dims are
// collapsed to at most 3 with per-operand strides (0 where broadcast). Each invocation computes a
// 4x4 block of the output, so 8 loads feed 16 multiply-adds.
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
  uint rb = (p.M + 3u) / 4u, cb = (p.N + 3u) / 4u, per = rb * cb;
  if (i >= per * p.bd0 * p.bd1 * p.bd2) return;
  uint j0 = (i % cb) * 4u, r0 = ((i / cb) % rb) * 4u, bi = i / per;
  uint b2 = bi % p.bd2, b1 = (bi / p.bd2) % p.bd1, b0 = bi / (p.bd2 * p.bd1);
  uint abase = b0 * p.as0 + b1 * p.as1 + b2 * p.as2;
  uint bbase = b0 * p.bs0 + b1 * p.bs1 + b2 * p.bs2;
  uint ao[4], bo[4];
  for (uint t = 0u; t < 4u; ++t) {  // out-of-range rows/columns re-read the last one; never stored
    ao[t] = abase + min(r0 + t, p.M - 1u) * p.a_rs;
    bo[t] = bbase + min(j0 + t, p.N - 1u) * p.b_cs;
  }
  vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
  for (uint k = 0u; k < p.K; ++k) {
    uint ak = k * p.a_cs, bk = k * p.b_rs;
    vec4 bv = vec4(b[bo[0] + bk], b[bo[1] + bk], b[bo[2] + bk], b[bo[3] + bk]);
    for (uint t = 0u; t < 4u; ++t) {
#ifdef FP16
      acc[t] += vec4(f16vec4(bv) * float16_t(a[ao[t] + ak]));
#else
      acc[t] += bv * a[ao[t] + ak];
#endif
    }
  }
  uint obase = bi * p.M * p.N;
  for (uint t = 0u; t < 4u; ++t) {
    uint r = r0 + t;
    if (r >= p.M) break;
    for (uint q = 0u; q < 4u; ++q) {
      uint j = j0 + q;
      if (j >= p.N) break;
      float v = acc[t][q] * p.alpha;
      if (p.has_c != 0u) v += p.beta * c[r * p.c_rs + j * p.c_cs];
      y[obase + r * p.N + j] = activate(v, p.act, p.p0, p.p1);
    }
  }
}
