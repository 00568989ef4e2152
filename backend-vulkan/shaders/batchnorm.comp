#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Inference BatchNormalization over [N, C, inner]: y = (x - mean[c]) / sqrt(var[c] + eps) * s[c] + b[c].
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) readonly buffer Mn { float mean[]; };
layout(std430, binding = 4) readonly buffer V { float var_[]; };
layout(std430, binding = 5) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint count, C, inner; float eps; } p;

void main() {
  uint i = global_index();
  if (i >= p.count) return;
  uint c = (i / p.inner) % p.C;
  float k = s[c] * inversesqrt(var_[c] + p.eps);
  y[i] = float(T(x[i] - mean[c]) * T(k)) + b[c];
}
