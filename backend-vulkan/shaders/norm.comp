#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"
// Row normalisation, one workgroup per row of n contiguous elements:
//   mode 0 LayerNormalization (scale/bias indexed by position in the row),
//   mode 1 InstanceNormalization (scale/bias indexed by channel = row % C),
//   mode 2 RMSNormalization (no mean; scale by position).
// Optionally writes the mean and 1/std of each row (LayerNormalization's extra outputs).
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer S { float scale[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, binding = 4) writeonly buffer Mn { float mean_out[]; };
layout(std430, binding = 5) writeonly buffer Is { float inv_out[]; };
layout(push_constant) uniform P { uint rows, n, C, mode, has_scale, has_bias, stats; float eps; } p;

shared float partial[WG];

float sum_wg(float v) {
#ifdef SUBGROUP
  v = subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0u) partial[gl_SubgroupID] = v;
  barrier();
  float r = 0.0;
  for (uint s = 0u; s < gl_NumSubgroups; ++s) r += partial[s];
#else
  partial[gl_LocalInvocationID.x] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (gl_LocalInvocationID.x < s) partial[gl_LocalInvocationID.x] += partial[gl_LocalInvocationID.x + s];
    barrier();
  }
  float r = partial[0];
#endif
  barrier();
  return r;
}

void main() {
  uint row = group_index();
  if (row >= p.rows) return;
  uint base = row * p.n, t = gl_LocalInvocationID.x;
  float mean = 0.0;
  if (p.mode != 2u) {
    float s = 0.0;
    for (uint j = t; j < p.n; j += WG) s += x[base + j];
    mean = sum_wg(s) / float(p.n);
  }
  float q = 0.0;
  for (uint j = t; j < p.n; j += WG) { float d = x[base + j] - mean; q += d * d; }
  float inv = inversesqrt(sum_wg(q) / float(p.n) + p.eps);
  if (p.stats != 0u && t == 0u) { mean_out[row] = mean; inv_out[row] = inv; }
  uint ch = row % p.C;
  for (uint j = t; j < p.n; j += WG) {
    uint k = p.mode == 1u ? ch : j;
    T v = T((x[base + j] - mean) * inv);
    if (p.has_scale != 0u) v *= T(scale[k]);
    if (p.has_bias != 0u) v += T(bias[k]);
    y[base + j] = float(v);
  }
}
