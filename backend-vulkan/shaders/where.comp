#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Where(cond, x, y) with broadcasting (rank <= 6, strides 0 on broadcast dims) over elements of
// `width` 32-bit words (2 for int64).
layout(std430, binding = 0) readonly buffer Cd { uint cond[]; };
layout(std430, binding = 1) readonly buffer X { uint xa[]; };
layout(std430, binding = 2) readonly buffer Yb { uint ya[]; };
layout(std430, binding = 3) writeonly buffer O { uint o[]; };
layout(push_constant) uniform P { uint count, width, shape[6], sc[6], sx[6], sy[6]; } p;

void main() {
  uint i = global_index();
  if (i >= p.count) return;
  uint rem = i, ic = 0u, ix = 0u, iy = 0u;
  for (int d = 5; d >= 0; --d) {
    uint k = rem % p.shape[d];
    rem /= p.shape[d];
    ic += k * p.sc[d]; ix += k * p.sx[d]; iy += k * p.sy[d];
  }
  bool take_x = cond[ic] != 0u;
  for (uint w = 0u; w < p.width; ++w) o[i * p.width + w] = take_x ? xa[ix * p.width + w] : ya[iy * p.width + w];
}
