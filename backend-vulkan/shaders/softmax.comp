#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"
// Softmax / LogSoftmax of [outer, R, inner] over R: one workgroup per row, its invocations stride
// over R; max and sum are reduced with subgroup operations where available, else in shared memory.
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows, R, inner, log_softmax; } p;

shared float partial[WG];

float reduce_wg(float v, bool is_max) {
#ifdef SUBGROUP
  v = is_max ? subgroupMax(v) : subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0u) partial[gl_SubgroupID] = v;
  barrier();
  float r = partial[0];
  for (uint s = 1u; s < gl_NumSubgroups; ++s) r = is_max ? max(r, partial[s]) : r + partial[s];
#else
  partial[gl_LocalInvocationID.x] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (gl_LocalInvocationID.x < s) {
      float o = partial[gl_LocalInvocationID.x + s];
      partial[gl_LocalInvocationID.x] = is_max ? max(partial[gl_LocalInvocationID.x], o) : partial[gl_LocalInvocationID.x] + o;
    }
    barrier();
  }
  float r = partial[0];
#endif
  barrier();  // partial[] is reused by the next reduction
  return r;
}

void main() {
  uint row = group_index();
  if (row >= p.rows) return;  // uniform per workgroup
  uint base = (row / p.inner) * p.R * p.inner + row % p.inner;
  uint t = gl_LocalInvocationID.x;
  float m = -1.0 / 0.0;
  for (uint r = t; r < p.R; r += WG) m = max(m, x[base + r * p.inner]);
  m = reduce_wg(m, true);
  float s = 0.0;
  for (uint r = t; r < p.R; r += WG) s += float(exp(T(x[base + r * p.inner] - m)));
  s = reduce_wg(s, false);
  float ls = log(s);
  for (uint r = t; r < p.R; r += WG) {
    float v = x[base + r * p.inner] - m;
    y[base + r * p.inner] = p.log_softmax != 0u ? v - ls : float(exp(T(v))) / s;
  }
}
