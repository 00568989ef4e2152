#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#include "common.glsl"
// Cast between float32 (0), int32 (1), int64 (2, word pairs) and bool (3, one word 0/1).
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P { uint count, src, dst; } p;

void main() {
  uint i = global_index();
  if (i >= p.count) return;
  bool is_float = p.src == 0u;
  float f = 0.0;
  int64_t v = 0;
  if (is_float) f = uintBitsToFloat(x[i]);
  else if (p.src == 1u) v = int64_t(int(x[i]));
  else if (p.src == 2u) v = int64_t(uint64_t(x[2u * i]) | (uint64_t(x[2u * i + 1u]) << 32));
  else v = x[i] != 0u ? 1 : 0;
  if (p.dst == 0u) y[i] = floatBitsToUint(is_float ? f : float(v));
  else if (p.dst == 1u) y[i] = uint(is_float ? int(f) : int(v));
  else if (p.dst == 2u) {
    int64_t r = is_float ? int64_t(f) : v;
    y[2u * i] = uint(uint64_t(r) & 0xFFFFFFFFul);
    y[2u * i + 1u] = uint(uint64_t(r) >> 32);
  } else y[i] = (is_float ? f != 0.0 : v != 0) ? 1u : 0u;
}
