#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Gather with run-time indices: data [outer, A, inner] -> out [outer, I, inner]; elements of
// `width` words; indices int32 or int64 (low word read, negatives wrap once).
layout(std430, binding = 0) readonly buffer D { uint d[]; };
layout(std430, binding = 1) readonly buffer Ix { int idx[]; };
layout(std430, binding = 2) writeonly buffer O { uint o[]; };
layout(push_constant) uniform P { uint outer, A, inner, I, width, idx64; } p;

void main() {
  uint i = global_index();
  if (i >= p.outer * p.I * p.inner) return;
  uint in_ = i % p.inner, j = (i / p.inner) % p.I, ou = i / (p.inner * p.I);
  int k = idx[p.idx64 != 0u ? 2u * j : j];
  if (k < 0) k += int(p.A);
  k = clamp(k, 0, int(p.A) - 1);  // out-of-range indices are invalid models; never read outside
  uint src = ((ou * p.A + uint(k)) * p.inner + in_) * p.width;
  for (uint w = 0u; w < p.width; ++w) o[i * p.width + w] = d[src + w];
}
