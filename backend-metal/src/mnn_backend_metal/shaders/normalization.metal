// Softmax / LogSoftmax and LayerNormalization: one threadgroup of kRowThreads per row, reductions in
// threadgroup memory between barriers.
#include "mnn_common.h"

constant int kRowThreads = 256;

// Sum (or max) of v over the threadgroup; every thread gets the result.
inline float group_reduce(float v, bool is_max, threadgroup float* scratch, uint t) {
  scratch[t] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint half_size = kRowThreads / 2; half_size > 0; half_size /= 2) {
    if (t < half_size)
      scratch[t] = is_max ? max(scratch[t], scratch[t + half_size]) : scratch[t] + scratch[t + half_size];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  const float result = scratch[0];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return result;
}

struct SoftmaxParams {
  int n, inner, log;  // row r is x[(r / inner) * n * inner + r % inner + k * inner], k < n
};

kernel void softmax(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                    constant SoftmaxParams& p [[buffer(2)]], uint row [[threadgroup_position_in_grid]],
                    uint t [[thread_index_in_threadgroup]]) {
  threadgroup float scratch[kRowThreads];
  const int base = (int(row) / p.inner) * p.n * p.inner + int(row) % p.inner;
  float m = -INFINITY;
  for (int k = int(t); k < p.n; k += kRowThreads) m = max(m, x[base + k * p.inner]);
  m = group_reduce(m, true, scratch, t);
  float s = 0.0f;
  for (int k = int(t); k < p.n; k += kRowThreads) s += exp(x[base + k * p.inner] - m);
  s = group_reduce(s, false, scratch, t);
  for (int k = int(t); k < p.n; k += kRowThreads) {
    const float d = x[base + k * p.inner] - m;
    y[base + k * p.inner] = p.log ? d - log(s) : exp(d) / s;
  }
}

struct LayerNormParams {
  int n, has_scale, has_bias;
  float eps;
};

kernel void layernorm(device const float* x [[buffer(0)]], device const float* scale [[buffer(1)]],
                      device const float* bias [[buffer(2)]], device float* y [[buffer(3)]],
                      constant LayerNormParams& p [[buffer(4)]], uint row [[threadgroup_position_in_grid]],
                      uint t [[thread_index_in_threadgroup]]) {
  threadgroup float scratch[kRowThreads];
  device const float* xr = x + int(row) * p.n;
  device float* yr = y + int(row) * p.n;
  float s = 0.0f;
  for (int k = int(t); k < p.n; k += kRowThreads) s += xr[k];
  const float mean = group_reduce(s, false, scratch, t) / float(p.n);
  float q = 0.0f;
  for (int k = int(t); k < p.n; k += kRowThreads) q += (xr[k] - mean) * (xr[k] - mean);
  const float inv = rsqrt(group_reduce(q, false, scratch, t) / float(p.n) + p.eps);
  for (int k = int(t); k < p.n; k += kRowThreads) {
    float v = (xr[k] - mean) * inv;
    if (p.has_scale) v *= scale[k];
    if (p.has_bias) v += bias[k];
    yr[k] = v;
  }
}
