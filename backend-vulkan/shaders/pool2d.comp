#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Max / average pooling over [NC, H, W] with pads, strides, dilations and ceil-mode windows.
// Average divides by the taps inside the input, or inside the padded input (count_include_pad).
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint NC, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, PEH, PEW, is_max, include_pad;
} p;

void main() {
  uint i = global_index();
  if (i >= p.NC * p.OH * p.OW) return;
  uint ow = i % p.OW, oh = (i / p.OW) % p.OH, nc = i / (p.OW * p.OH);
  int ih0 = int(oh * p.SH) - int(p.PH), iw0 = int(ow * p.SW) - int(p.PW);
  float best = -1.0 / 0.0, sum = 0.0;
  uint inside = 0u, padded = 0u;
  for (uint kh = 0u; kh < p.KH; ++kh) {
    int ih = ih0 + int(kh * p.DH);
    bool h_in = ih >= 0 && ih < int(p.H);
    bool h_pad = ih >= -int(p.PH) && ih < int(p.H + p.PEH);
    for (uint kw = 0u; kw < p.KW; ++kw) {
      int iw = iw0 + int(kw * p.DW);
      bool w_in = iw >= 0 && iw < int(p.W);
      if (h_pad && iw >= -int(p.PW) && iw < int(p.W + p.PEW)) padded++;
      if (!(h_in && w_in)) continue;
      float v = x[(nc * p.H + uint(ih)) * p.W + uint(iw)];
      best = max(best, v);
      sum += v;
      inside++;
    }
  }
  if (p.is_max != 0u) y[i] = best;
  else y[i] = sum / float(max(p.include_pad != 0u ? padded : inside, 1u));
}
