// Portable kernels, written so the compiler vectorises them. This file is compiled once per ISA
// (kernels_baseline.cpp, x86/kernels_avx2.cpp, ...) inside namespace MNN_KNS with that ISA's flags.
// Define MNN_KNS and, when the ISA has a hand-written GEMM micro-kernel, MNN_MICRO/MNN_MR/MNN_NR.
#include <cmath>
#include <cstring>

#include "common.h"
#include "kernels/kernels.h"
#include "kernels/portable/math.h"

namespace mnncpu {
namespace MNN_KNS {

// Activation over a contiguous array; one loop per code so each loop vectorises on its own.
static void unary(const float* x, float* y, int64_t n, int code, const float* p) {
  switch (code) {
    case ACT_NONE: if (x != y) std::memmove(y, x, n * sizeof(float)); return;
    case ACT_RELU: for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f; return;
    case ACT_CLIP: {
      const float lo = p[0], hi = p[1];
      for (int64_t i = 0; i < n; ++i) { float v = x[i] < lo ? lo : x[i]; y[i] = v > hi ? hi : v; }
      return;
    }
    case ACT_LEAKY_RELU: { const float a = p[0];
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : x[i] * a; return; }
    case ACT_HARD_SIGMOID: { const float a = p[0], b = p[1];
      for (int64_t i = 0; i < n; ++i) { float v = x[i] * a + b; v = v < 0.f ? 0.f : v; y[i] = v > 1.f ? 1.f : v; }
      return; }
    case ACT_HARD_SWISH:
      for (int64_t i = 0; i < n; ++i) { float v = x[i] / 6.f + 0.5f; v = v < 0.f ? 0.f : v;
        v = v > 1.f ? 1.f : v; y[i] = x[i] * v; }
      return;
    case ACT_SIGMOID: for (int64_t i = 0; i < n; ++i) y[i] = vsigmoid(x[i]); return;
    case ACT_SILU: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * vsigmoid(x[i]); return;
    case ACT_TANH: for (int64_t i = 0; i < n; ++i) y[i] = vtanh(x[i]); return;
    case UN_ERF: for (int64_t i = 0; i < n; ++i) y[i] = verf(x[i]); return;
    case UN_EXP: for (int64_t i = 0; i < n; ++i) y[i] = vexp(x[i]); return;
    case UN_SQRT: for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]); return;
    case UN_NEG: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; return;
    case UN_ABS: for (int64_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]); return;
    case UN_RECIPROCAL: for (int64_t i = 0; i < n; ++i) y[i] = 1.f / x[i]; return;
    case UN_GELU:
      for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + verf(x[i] * 0.70710678118654752f));
      return;
    case UN_LOG: for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]); return;
    default: return;
  }
}

static void bias_act(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* row_bias,
                     const float* col_bias, const float* mat, int64_t ldm, int act, const float* p) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    if (row_bias) { const float b = row_bias[r]; for (int64_t j = 0; j < cols; ++j) row[j] += b; }
    if (col_bias) for (int64_t j = 0; j < cols; ++j) row[j] += col_bias[j];
    if (mat) { const float* m = mat + r * ldm; for (int64_t j = 0; j < cols; ++j) row[j] += m[j]; }
    if (act) unary(row, row, cols, act, p);
  }
}

template <int OP>
static inline float apply_binary(float a, float b) {
  if (OP == BIN_ADD) return a + b;
  if (OP == BIN_SUB) return a - b;
  if (OP == BIN_MUL) return a * b;
  if (OP == BIN_DIV) return a / b;
  if (OP == BIN_MAX) return a > b ? a : b;
  if (OP == BIN_MIN) return a < b ? a : b;
  return std::pow(a, b);
}

template <int OP>
static void binary_loop(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) out[i] = apply_binary<OP>(a[i], b[i]);
  } else if (sa) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = apply_binary<OP>(a[i], bv);
  } else if (sb) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = apply_binary<OP>(av, b[i]);
  } else {
    const float v = apply_binary<OP>(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

static void binary(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  switch (op) {
    case BIN_ADD: return binary_loop<BIN_ADD>(a, sa, b, sb, out, n);
    case BIN_SUB: return binary_loop<BIN_SUB>(a, sa, b, sb, out, n);
    case BIN_MUL: return binary_loop<BIN_MUL>(a, sa, b, sb, out, n);
    case BIN_DIV: return binary_loop<BIN_DIV>(a, sa, b, sb, out, n);
    case BIN_MAX: return binary_loop<BIN_MAX>(a, sa, b, sb, out, n);
    case BIN_MIN: return binary_loop<BIN_MIN>(a, sa, b, sb, out, n);
    default: return binary_loop<BIN_POW>(a, sa, b, sb, out, n);
  }
}

// Direct depthwise convolution of one channel: each output row accumulates KH*KW shifted input
// rows, so the inner loop is a contiguous (stride 1) or strided axpy.
static void depthwise(const float* in, int64_t H, int64_t W, const float* w, int64_t KH, int64_t KW,
                      int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t PT, int64_t PL,
                      float bias, float* out, int64_t OH, int64_t OW, int act, const float* p) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* orow = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = bias;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * SH - PT + kh * DH;
      if (ih < 0 || ih >= H) continue;
      const float* irow = in + ih * W;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const float wv = w[kh * KW + kw];
        const int64_t off = kw * DW - PL;  // iw = ow * SW + off
        // valid ow: 0 <= ow*SW + off < W
        int64_t lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
        int64_t hi = W - off <= 0 ? 0 : (W - off + SW - 1) / SW;
        if (hi > OW) hi = OW;
        if (SW == 1) {
          const float* src = irow + off;
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * src[ow];
        } else if (SW == 2) {
          const float* src = irow + off;
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * src[2 * ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow * SW + off];
        }
      }
    }
    if (act) unary(orow, orow, OW, act, p);
  }
}

static void softmax(const float* x, float* y, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) { y[i] = vexp(x[i] - m); s += y[i]; }
  const float inv = 1.f / s;
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

static void layernorm(const float* x, float* y, int64_t n, const float* scale, const float* bias,
                      float eps) {
  float mean = 0.f;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<float>(n);
  float var = 0.f;
  for (int64_t i = 0; i < n; ++i) { float d = x[i] - mean; var += d * d; }
  var /= static_cast<float>(n);
  const float inv = 1.f / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv;
    if (scale) v *= scale[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
}

#ifndef MNN_MICRO
// Portable micro-kernel: fixed-size accumulators the compiler keeps in vector registers.
constexpr int kMR = 4, kNR = 8;
static void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  float t[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < kNR; ++j) t[i][j] += a[k * kMR + i] * b[k * kNR + j];
  }
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kNR; ++j) c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}
#define MNN_MICRO micro_generic
#define MNN_MR kMR
#define MNN_NR kNR
#else
void MNN_MICRO(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc);
#endif

static const KernelTable kTable = {MNN_ISA_NAME, MNN_MR, MNN_NR, MNN_MICRO, unary, bias_act, binary,
                                   depthwise, softmax, layernorm};

}  // namespace MNN_KNS
}  // namespace mnncpu
