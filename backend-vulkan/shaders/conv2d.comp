#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Direct NCHW convolution (grouped / depthwise) with bias and a fused activation; one invocation
// per output element, weights [M, C/group, KH, KW].
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, group, act, has_bias;
  float p0, p1;
} p;

void main() {
  uint i = global_index();
  uint total = p.N * p.M * p.OH * p.OW;
  if (i >= total) return;
  uint ow = i % p.OW, oh = (i / p.OW) % p.OH, m = (i / (p.OW * p.OH)) % p.M, n = i / (p.OW * p.OH * p.M);
  uint cg = p.C / p.group, mg = p.M / p.group;
  uint c0 = (m / mg) * cg;
  int ih0 = int(oh * p.SH) - int(p.PH), iw0 = int(ow * p.SW) - int(p.PW);
  float acc = 0.0;
  for (uint c = 0u; c < cg; ++c) {
    uint xbase = (n * p.C + c0 + c) * p.H * p.W;
    uint wbase = (m * cg + c) * p.KH * p.KW;
    for (uint kh = 0u; kh < p.KH; ++kh) {
      int ih = ih0 + int(kh * p.DH);
      if (ih < 0 || ih >= int(p.H)) continue;
      for (uint kw = 0u; kw < p.KW; ++kw) {
        int iw = iw0 + int(kw * p.DW);
        if (iw < 0 || iw >= int(p.W)) continue;
        acc += float(T(x[xbase + uint(ih) * p.W + uint(iw)]) * T(w[wbase + kh * p.KW + kw]));
      }
    }
  }
  if (p.has_bias != 0u) acc += bias[m];
  y[i] = activate(acc, p.act, p.p0, p.p1);
}
