#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// The data-movement workhorse (Transpose, Slice, Pad, Tile, Expand, Concat, Split, DepthToSpace,
// constant-index Gather): for an output region of rank <= 6, each output coordinate k on axis d
// reads the element offset table[off[d] + k] (already multiplied by the input stride); the source
// element is the sum over axes, or `fill` when any entry is INT_MIN. Elements are `width` words;
// the output is written at base + sum(k * out_stride).
layout(std430, binding = 0) readonly buffer In { uint src[]; };
layout(std430, binding = 1) readonly buffer Tb { int table[]; };
layout(std430, binding = 2) writeonly buffer Out { uint dst[]; };
layout(push_constant) uniform P { uint count, width, fill_lo, fill_hi, base, shape[6], off[6], ostride[6]; } p;

void main() {
  uint i = global_index();
  if (i >= p.count) return;
  uint rem = i, out_at = p.base;
  int from = 0;
  bool fill = false;
  for (int d = 5; d >= 0; --d) {
    uint k = rem % p.shape[d];
    rem /= p.shape[d];
    int e = table[p.off[d] + k];
    fill = fill || e == int(0x80000000u);
    from += e;
    out_at += k * p.ostride[d];
  }
  if (fill) {
    dst[out_at * p.width] = p.fill_lo;
    if (p.width > 1u) dst[out_at * p.width + 1u] = p.fill_hi;
    return;
  }
  for (uint w = 0u; w < p.width; ++w) dst[out_at * p.width + w] = src[uint(from) * p.width + w];
}
