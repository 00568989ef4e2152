#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Register-tiled NCHW convolution for constant weights: each invocation computes 4 output
// channels x 4 output pixels, so one vec4 weight load and 4 input loads feed 16 multiply-adds.
// Weights are packed on the host as [group][C/group * KH * KW][MG4 / 4] vec4 (channels of a group
// padded to a multiple of 4 with zeros).
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { vec4 w[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, group, act, has_bias;
  float p0, p1;
  uint MQ;  // vec4 blocks per group
} p;

void main() {
  uint i = global_index();
  uint npix = p.OH * p.OW, pblocks = (npix + 3u) / 4u, mblocks = p.group * p.MQ;
  if (i >= p.N * mblocks * pblocks) return;
  uint pb = i % pblocks, mb = (i / pblocks) % mblocks, n = i / (pblocks * mblocks);
  uint g = mb / p.MQ, mq = mb % p.MQ;
  uint cg = p.C / p.group, mg = p.M / p.group, K = cg * p.KH * p.KW;
  int ih0[4], iw0[4];
  for (uint j = 0u; j < 4u; ++j) {
    uint px = min(pb * 4u + j, npix - 1u);
    ih0[j] = int((px / p.OW) * p.SH) - int(p.PH);
    iw0[j] = int((px % p.OW) * p.SW) - int(p.PW);
  }
  vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
  uint wrow = g * K * p.MQ + mq;
  for (uint c = 0u; c < cg; ++c) {
    uint xbase = (n * p.C + g * cg + c) * p.H * p.W;
    for (uint kh = 0u; kh < p.KH; ++kh) {
      for (uint kw = 0u; kw < p.KW; ++kw) {
        vec4 wv = w[wrow];
        wrow += p.MQ;
        for (uint j = 0u; j < 4u; ++j) {
          int ih = ih0[j] + int(kh * p.DH), iw = iw0[j] + int(kw * p.DW);
          float xv = (ih >= 0 && ih < int(p.H) && iw >= 0 && iw < int(p.W)) ? x[xbase + uint(ih) * p.W + uint(iw)] : 0.0;
#ifdef FP16
          acc[j] += vec4(f16vec4(wv) * float16_t(xv));
#else
          acc[j] += wv * xv;
#endif
        }
      }
    }
  }
  for (uint q = 0u; q < 4u; ++q) {
    uint mm = mq * 4u + q;
    if (mm >= mg) break;
    uint m = g * mg + mm;
    float b = p.has_bias != 0u ? bias[m] : 0.0;
    for (uint j = 0u; j < 4u; ++j) {
      uint px = pb * 4u + j;
      if (px < npix) y[(n * p.M + m) * npix + px] = activate(acc[j][q] + b, p.act, p.p0, p.p1);
    }
  }
}
