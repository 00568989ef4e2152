#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// One axis of a separable Resize: [outer, L, inner] -> [outer, OL, inner]. For each output
// coordinate the table holds `taps` (input index, weight) pairs; index -1 marks a coordinate
// outside the crop window, which takes the extrapolation value.
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Tb { int table[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint outer, L, OL, inner, taps; float extrapolation; } p;

void main() {
  uint i = global_index();
  if (i >= p.outer * p.OL * p.inner) return;
  uint in_ = i % p.inner, o = (i / p.inner) % p.OL, ou = i / (p.inner * p.OL);
  uint t0 = o * p.taps * 2u;
  if (table[t0] < 0) { y[i] = p.extrapolation; return; }
  float acc = 0.0;
  for (uint t = 0u; t < p.taps; ++t) {
    int k = table[t0 + 2u * t];
    float wt = intBitsToFloat(table[t0 + 2u * t + 1u]);
    if (wt != 0.0) acc += wt * x[(ou * p.L + uint(k)) * p.inner + in_];
  }
  y[i] = acc;
}
