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

// One depthwise output row over a zero-padded plane: with the kernel size and stride fixed at
// compile time the loop over output columns vectorises (one store per output, taps in registers).
template <int K, int S>
static void dw_row(const float* const* rows, const float* w, int64_t DW, float bias, float* out,
                   int64_t OW) {
  const float* r[K];
  float wk[K * K];
  for (int i = 0; i < K; ++i) r[i] = rows[i];
  for (int i = 0; i < K * K; ++i) wk[i] = w[i];
  if (DW == 1) {
    for (int64_t ow = 0; ow < OW; ++ow) {
      float acc = bias;
      for (int kh = 0; kh < K; ++kh)
        for (int kw = 0; kw < K; ++kw) acc += wk[kh * K + kw] * r[kh][ow * S + kw];
      out[ow] = acc;
    }
  } else {
    for (int64_t ow = 0; ow < OW; ++ow) {
      float acc = bias;
      for (int kh = 0; kh < K; ++kh)
        for (int kw = 0; kw < K; ++kw) acc += wk[kh * K + kw] * r[kh][ow * S + kw * DW];
      out[ow] = acc;
    }
  }
}

// Stride 2 over a row stored as [even columns | odd columns] (even part `half` long): each tap
// reads contiguous memory, so it vectorises like stride 1.
template <int K>
static void dw_row_s2(const float* const* rows, const float* w, int64_t half, float bias, float* out,
                      int64_t OW) {
  const float* r[K][K];
  float wk[K * K];
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) r[kh][kw] = rows[kh] + (kw & 1 ? half : 0) + kw / 2;
  for (int i = 0; i < K * K; ++i) wk[i] = w[i];
  for (int64_t ow = 0; ow < OW; ++ow) {
    float acc = bias;
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw) acc += wk[kh * K + kw] * r[kh][kw][ow];
    out[ow] = acc;
  }
}

static void dw_row_any(const float* const* rows, const float* w, int64_t KH, int64_t KW, int64_t SW,
                       int64_t DW, float bias, float* out, int64_t OW) {
  for (int64_t ow = 0; ow < OW; ++ow) out[ow] = bias;
  for (int64_t kh = 0; kh < KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const float wv = w[kh * KW + kw];
      const float* src = rows[kh] + kw * DW;
      for (int64_t ow = 0; ow < OW; ++ow) out[ow] += wv * src[ow * SW];
    }
}

// Direct depthwise convolution of one channel, bias and activation fused. The plane is first copied
// into `padded` (Hp x Wp, zeros around) so that no output needs bounds checks.
static void depthwise(const float* in, int64_t H, int64_t W, const float* w, int64_t KH, int64_t KW,
                      int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t PT, int64_t PL,
                      float bias, float* out, int64_t OH, int64_t OW, int act, const float* p,
                      float* padded) {
  const int64_t Hp = (OH - 1) * SH + (KH - 1) * DH + 1, Wp = (OW - 1) * SW + (KW - 1) * DW + 1;
  // Stride 2 stores each padded row as [even columns | odd columns] so taps read contiguously.
  const bool split = SW == 2 && DW == 1 && KH == KW && (KH == 3 || KH == 5 || KH == 7);
  const int64_t half = (Wp + 1) / 2;
  for (int64_t r = 0; r < Hp; ++r) {
    float* dst = padded + r * Wp;
    const int64_t ih = r - PT;
    if (ih < 0 || ih >= H) {
      std::memset(dst, 0, sizeof(float) * Wp);
      continue;
    }
    const float* src = in + ih * W;
    if (split) {
      for (int64_t j = 0; j < half; ++j) {
        const int64_t c = 2 * j - PL;
        dst[j] = c >= 0 && c < W ? src[c] : 0.f;
      }
      for (int64_t j = 0; j < Wp / 2; ++j) {
        const int64_t c = 2 * j + 1 - PL;
        dst[half + j] = c >= 0 && c < W ? src[c] : 0.f;
      }
      continue;
    }
    const int64_t lo = PL < Wp ? PL : Wp;
    const int64_t n = W < Wp - lo ? W : Wp - lo;
    std::memset(dst, 0, sizeof(float) * lo);
    std::memcpy(dst + lo, src, sizeof(float) * (n > 0 ? n : 0));
    for (int64_t c = lo + (n > 0 ? n : 0); c < Wp; ++c) dst[c] = 0.f;
  }
  const float* rows[16];
  const bool fast = KH == KW && (KH == 3 || KH == 5 || KH == 7) && (SW == 1 || SW == 2);
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* orow = out + oh * OW;
    for (int64_t kh = 0; kh < KH && kh < 16; ++kh) rows[kh] = padded + (oh * SH + kh * DH) * Wp;
    if (!fast || KH > 16) {
      if (KH > 16) {  // rare: very tall kernels, no row table
        for (int64_t ow = 0; ow < OW; ++ow) {
          float acc = bias;
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
              acc += w[kh * KW + kw] * padded[(oh * SH + kh * DH) * Wp + ow * SW + kw * DW];
          orow[ow] = acc;
        }
      } else {
        dw_row_any(rows, w, KH, KW, SW, DW, bias, orow, OW);
      }
    } else {
      switch (split ? KH * 10 + 9 : KH * 10 + SW) {
        case 39: dw_row_s2<3>(rows, w, half, bias, orow, OW); break;
        case 59: dw_row_s2<5>(rows, w, half, bias, orow, OW); break;
        case 79: dw_row_s2<7>(rows, w, half, bias, orow, OW); break;
        case 31: dw_row<3, 1>(rows, w, DW, bias, orow, OW); break;
        case 32: dw_row<3, 2>(rows, w, DW, bias, orow, OW); break;
        case 51: dw_row<5, 1>(rows, w, DW, bias, orow, OW); break;
        case 52: dw_row<5, 2>(rows, w, DW, bias, orow, OW); break;
        case 71: dw_row<7, 1>(rows, w, DW, bias, orow, OW); break;
        default: dw_row<7, 2>(rows, w, DW, bias, orow, OW); break;
      }
    }
    if (act) unary(orow, orow, OW, act, p);
  }
}

// One plane of 2-D max or average pooling. Rows accumulate tap by tap over the in-bounds column
// range of each tap (vectorisable); average divisors are separable into row and column counts.
static void pool2d(const float* in, int64_t H, int64_t W, float* out, int64_t OH, int64_t OW,
                   int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t PT,
                   int64_t PL, int64_t PB, int64_t PR, bool is_max, bool include_pad, float* colcount) {
  for (int64_t ow = 0; ow < OW; ++ow) {
    int64_t c = 0;
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t iw = ow * SW - PL + kw * DW;
      c += include_pad ? (iw >= -PL && iw < W + PR) : (iw >= 0 && iw < W);
    }
    colcount[ow] = static_cast<float>(c);
  }
  if (is_max) {
    // Separable: the window max along each input row (computed once per row, kept in a ring of
    // the rows one output row reads), then the max of those rows, contiguous and vectorised.
    const int64_t OWp = (OW + 15) & ~int64_t(15);
    const int64_t R = (KH - 1) * DH + 1, span = (OW - 1) * SW + (KW - 1) * DW + 1;
    float* ring = colcount + OWp;
    float* pad = ring + R * OWp;                      // the row padded with -inf: span floats
    int64_t* held = reinterpret_cast<int64_t*>(pad + ((span + 2 * KW + 15) & ~int64_t(15)));
    for (int64_t r = 0; r < R; ++r) held[r] = -1;
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* orow = out + oh * OW;
      int64_t any = 0;
      for (int64_t kh = 0; kh < KH; ++kh) {
        const int64_t ih = oh * SH - PT + kh * DH;
        if (ih < 0 || ih >= H) continue;
        float* hrow = ring + (ih % R) * OWp;
        if (held[ih % R] != ih) {
          held[ih % R] = ih;
          const float* irow = in + ih * W;
          if (SW == 2 && DW == 1) {  // even and odd columns apart: every window tap is contiguous
            const int64_t half = (span + KW + 1) / 2;
            float* ev = pad;
            float* od = pad + half;
            // interior columns [lo, hi): both phases inside the row, no checks (vectorises)
            int64_t lo = (PL + 1) / 2, hi = (W + PL - 1) / 2;
            lo = lo < half ? lo : half;
            hi = hi < half ? (hi > lo ? hi : lo) : half;
            const float* src = irow - PL;
            for (int64_t j = lo; j < hi; ++j) ev[j] = src[2 * j], od[j] = src[2 * j + 1];
            for (int64_t j = 0; j < half; ++j) {
              if (j == lo) j = hi;
              if (j >= half) break;
              const int64_t i0 = 2 * j - PL, i1 = i0 + 1;
              ev[j] = i0 >= 0 && i0 < W ? irow[i0] : -INFINITY;
              od[j] = i1 >= 0 && i1 < W ? irow[i1] : -INFINITY;
            }
            for (int64_t ow = 0; ow < OW; ++ow) hrow[ow] = ev[ow];
            for (int64_t kw = 1; kw < KW; ++kw) {
              const float* q = (kw & 1 ? od : ev) + kw / 2;
              for (int64_t ow = 0; ow < OW; ++ow) hrow[ow] = hrow[ow] > q[ow] ? hrow[ow] : q[ow];
            }
          } else {
            for (int64_t j = 0; j < span; ++j) {
              const int64_t iw = j - PL;
              pad[j] = iw >= 0 && iw < W ? irow[iw] : -INFINITY;
            }
            for (int64_t ow = 0; ow < OW; ++ow) hrow[ow] = pad[ow * SW];
            for (int64_t kw = 1; kw < KW; ++kw) {
              const float* q = pad + kw * DW;
              for (int64_t ow = 0; ow < OW; ++ow) hrow[ow] = hrow[ow] > q[ow * SW] ? hrow[ow] : q[ow * SW];
            }
          }
        }
        if (!any++) {
          for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = hrow[ow];
        } else {
          for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = orow[ow] > hrow[ow] ? orow[ow] : hrow[ow];
        }
      }
      for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = (any && colcount[ow] > 0.f) ? orow[ow] : 0.f;
    }
    return;
  }
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* orow = out + oh * OW;
    const float init = is_max ? -INFINITY : 0.f;
    for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = init;
    int64_t rows = 0, any = 0;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * SH - PT + kh * DH;
      rows += include_pad ? (ih >= -PT && ih < H + PB) : (ih >= 0 && ih < H);
      if (ih < 0 || ih >= H) continue;
      ++any;
      const float* irow = in + ih * W;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t off = kw * DW - PL;
        int64_t lo = off >= 0 ? 0 : ceil_div(-off, SW);
        int64_t hi = W - off <= 0 ? 0 : ceil_div(W - off, SW);
        if (hi > OW) hi = OW;
        const float* src = irow + off;
        if (is_max) {
          if (SW == 1) for (int64_t ow = lo; ow < hi; ++ow) orow[ow] = orow[ow] > src[ow] ? orow[ow] : src[ow];
          else if (SW == 2) for (int64_t ow = lo; ow < hi; ++ow) orow[ow] = orow[ow] > src[2 * ow] ? orow[ow] : src[2 * ow];
          else for (int64_t ow = lo; ow < hi; ++ow) orow[ow] = orow[ow] > src[ow * SW] ? orow[ow] : src[ow * SW];
        } else {
          if (SW == 1) for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += src[ow];
          else if (SW == 2) for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += src[2 * ow];
          else for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += src[ow * SW];
        }
      }
    }
    if (is_max) {
      for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = (any && colcount[ow] > 0.f) ? orow[ow] : 0.f;
    } else {
      const float r = static_cast<float>(rows);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float n = r * colcount[ow];
        orow[ow] = orow[ow] / (n > 0.f ? n : 1.f);
      }
    }
  }
}

// Reductions over 16 independent partial results: without -ffast-math a single float
// accumulator is a serial chain, while 16 lanes vectorise (and the order is fixed, so results
// do not depend on the ISA's vector width beyond the final sum).
template <class F>
static inline float sum_of(int64_t n, F&& f) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += f(i + l);
  float s = 0.f;
  for (; i < n; ++i) s += f(i);
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

#include "kernels/portable/v8.h"

// Two 8-wide running maxima in explicit vectors: the scalar-select form did not vectorise (0.36 ns
// per element on AVX2, 5x the sum).
static inline float max_of(const float* x, int64_t n) {
  float m = x[0];
  int64_t i = 0;
  if (n >= 16) {
    v8 a = ld8(x), b = ld8(x + 8);
    for (i = 16; i + 16 <= n; i += 16) {
      const v8 u = ld8(x + i), w = ld8(x + i + 8);
      a = a > u ? a : u;
      b = b > w ? b : w;
    }
    a = a > b ? a : b;
    for (int l = 0; l < 8; ++l) m = m > a[l] ? m : a[l];
  }
  for (; i < n; ++i) m = m > x[i] ? m : x[i];
  return m;
}

// vexp (math.h) on 8 lanes for x <= 0 (softmax's shifted inputs): no overflow branch, and the sum
// the caller needs is taken in the same pass.
static inline v8 vexp8_nonpositive(v8 x) {
  x = x < -87.33654f ? bc8(-87.33654f) : x;
  const v8 t = x * 1.44269504088896341f + 12582912.f;
  i8v ti;
  __builtin_memcpy(&ti, &t, sizeof ti);
  const v8 fn = t - 12582912.f;
  const v8 r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
  v8 p = bc8(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const i8v e = (ti - 0x4B400000 + 127) << 23;
  v8 scale;
  __builtin_memcpy(&scale, &e, sizeof scale);
  return (p * r * r + r + 1.f) * scale;
}

static void softmax(const float* x, float* y, int64_t n) {
  const float m = max_of(x, n);
  v8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8 e = vexp8_nonpositive(ld8(x + i) - m);
    st8(y + i, e);
    acc += e;
  }
  float sum = 0.f;
  for (; i < n; ++i) sum += (y[i] = vexp(x[i] - m));
  for (int l = 0; l < 8; ++l) sum += acc[l];
  const float inv = 1.f / sum;
  for (i = 0; i < n; ++i) y[i] *= inv;
}

static void layernorm(const float* x, float* y, int64_t n, const float* scale, const float* bias,
                      float eps) {
  const float mean = sum_of(n, [x](int64_t i) { return x[i]; }) / static_cast<float>(n);
  const float var = sum_of(n, [x, mean](int64_t i) { const float d = x[i] - mean; return d * d; }) /
                    static_cast<float>(n);
  const float inv = 1.f / std::sqrt(var + eps);
  if (scale && bias) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
    return;
  }
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


// Rows [0, mc) of a row-major matrix (row stride rs) into W-row panels dst[p][k][W], zero-padded:
// pack_a's panels for W = MR (activations packed per run), and pack_b's for W = NR when B is given
// transposed (attention's K^T). 8 columns of 8 rows at a time through an 8 x 8 register
// transpose; the scalar loops of gemm.cpp took ~2 cycles per element.
template <int W>
static void pack_rows_t(const float* a, int64_t rs, int64_t mc, int64_t K, float* dst) {
  for (int64_t p = 0; p < mc; p += W, dst += K * W) {
    const int64_t rows = mc - p < W ? mc - p : W;
    const float* src = a + p * rs;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8)
      for (int g = 0; g < W; g += 8) {
        const int n = W - g < 8 ? W - g : 8;
        v8 r[8];
        for (int i = 0; i < 8; ++i) r[i] = i < n && g + i < rows ? ld8(src + (g + i) * rs + k) : v8{};
        transpose8(r);
        for (int u = 0; u < 8; ++u) __builtin_memcpy(dst + (k + u) * W + g, &r[u], n * sizeof(float));
      }
    for (; k < K; ++k)
      for (int i = 0; i < W; ++i) dst[k * W + i] = i < rows ? src[i * rs + k] : 0.f;
  }
}

static void pack_a_rows(const float* a, int64_t rs, int64_t mc, int64_t K, float* dst) {
  pack_rows_t<MNN_MR>(a, rs, mc, K, dst);
}

static void pack_bt_rows(const float* bt, int64_t rs, int64_t nc, int64_t K, float* dst) {
  pack_rows_t<MNN_NR>(bt, rs, nc, K, dst);
}

static const KernelTable kTable = {MNN_ISA_NAME, MNN_MR, MNN_NR, MNN_MICRO, unary, bias_act, binary,
                                   depthwise, pool2d, softmax, layernorm, pack_a_rows,
                                   pack_bt_rows};

}  // namespace MNN_KNS
}  // namespace mnncpu
