#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Reductions of [outer, R, inner] over R; one invocation per output. ArgMax/ArgMin write int64
// (low word, then the sign-extended high word).
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P { uint outer, R, inner, kind, select_last; } p;

const uint SUM = 0u, MEAN = 1u, MAX = 2u, MIN = 3u, PROD = 4u, L1 = 5u, L2 = 6u, LOGSUM = 7u,
           LOGSUMEXP = 8u, SUMSQ = 9u, ARGMAX = 10u, ARGMIN = 11u;

void main() {
  uint i = global_index();
  if (i >= p.outer * p.inner) return;
  uint base = (i / p.inner) * p.R * p.inner + i % p.inner;
  float acc = (p.kind == PROD) ? 1.0 : 0.0;
  float best = x[base];
  uint at = 0u;
  if (p.kind == LOGSUMEXP) {
    for (uint r = 1u; r < p.R; ++r) best = max(best, x[base + r * p.inner]);
    if (isinf(best)) best = 0.0;
  }
  for (uint r = 0u; r < p.R; ++r) {
    float v = x[base + r * p.inner];
    switch (p.kind) {
      case MAX: best = max(best, v); break;
      case MIN: best = min(best, v); break;
      case PROD: acc *= v; break;
      case L1: acc += abs(v); break;
      case L2: case SUMSQ: acc += v * v; break;
      case LOGSUMEXP: acc += exp(v - best); break;
      case ARGMAX: if (v > best || (p.select_last != 0u && v == best)) { best = v; at = r; } break;
      case ARGMIN: if (v < best || (p.select_last != 0u && v == best)) { best = v; at = r; } break;
      default: acc += v;
    }
  }
  if (p.kind == ARGMAX || p.kind == ARGMIN) { y[2u * i] = at; y[2u * i + 1u] = 0u; return; }
  float r;
  switch (p.kind) {
    case MEAN: r = acc / float(p.R); break;
    case MAX: case MIN: r = best; break;
    case L2: r = sqrt(acc); break;
    case LOGSUM: r = log(acc); break;
    case LOGSUMEXP: r = log(acc) + best; break;
    default: r = acc;
  }
  y[i] = floatBitsToUint(r);
}
