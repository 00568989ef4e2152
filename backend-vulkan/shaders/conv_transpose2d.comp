#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Transposed NCHW convolution as a gather: output (oh, ow) takes input (ih, iw) where
// oh + PH - kh*DH == ih*SH. Weights [C, M/group, KH, KW].
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
  if (i >= p.N * p.M * p.OH * p.OW) return;
  uint ow = i % p.OW, oh = (i / p.OW) % p.OH, m = (i / (p.OW * p.OH)) % p.M, n = i / (p.OW * p.OH * p.M);
  uint cg = p.C / p.group, mg = p.M / p.group;
  uint g = m / mg, mm = m % mg;
  float acc = 0.0;
  for (uint kh = 0u; kh < p.KH; ++kh) {
    int th = int(oh) + int(p.PH) - int(kh * p.DH);
    if (th < 0 || th % int(p.SH) != 0) continue;
    uint ih = uint(th) / p.SH;
    if (ih >= p.H) continue;
    for (uint kw = 0u; kw < p.KW; ++kw) {
      int tw = int(ow) + int(p.PW) - int(kw * p.DW);
      if (tw < 0 || tw % int(p.SW) != 0) continue;
      uint iw = uint(tw) / p.SW;
      if (iw >= p.W) continue;
      for (uint c = 0u; c < cg; ++c) {
        uint ci = g * cg + c;
        acc += float(T(x[((n * p.C + ci) * p.H + ih) * p.W + iw]) * T(w[((ci * mg + mm) * p.KH + kh) * p.KW + kw]));
      }
    }
  }
  if (p.has_bias != 0u) acc += bias[m];
  y[i] = activate(acc, p.act, p.p0, p.p1);
}
