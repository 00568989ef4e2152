// Convolution kernels written so the compiler vectorises them; compiled once per ISA inside
// namespace MNN_KNS with MNN_CONV_LANES (= that ISA's GEMM NR) defined.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/conv_kernels.h"
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace mnncpu {
namespace MNN_KNS {

constexpr int kLanes = MNN_CONV_LANES;

// One native vector (MNN_CONV_VEC floats: 4 SSE/NEON, 8 AVX2, 16 AVX-512), GCC vector extension.
// Explicit vectors because auto-vectorisation of the transforms below came out as scalar code
// plus shuffles; lanes are processed one native vector at a time.
constexpr int kVec = MNN_CONV_VEC;
typedef float vec __attribute__((vector_size(kVec * 4)));

static inline vec vload(const float* p) { vec v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float* p, vec v) { __builtin_memcpy(p, &v, sizeof v); }

// Fixed tap count: weights broadcast once, one store per output vector. n is rounded up to whole
// vectors (callers leave room: the outputs past n are junk, the reads past the plane are padding).
template <int T>
static void dw_taps(const float* src, int64_t n, const int64_t* offs, const float* w, float bias,
                    float* out) {
  const float* s[T];
  vec wk[T];
  for (int t = 0; t < T; ++t) {
    s[t] = src + offs[t];
    wk[t] = vec{} + w[t];
  }
  for (int64_t i = 0; i < n; i += kVec) {
    vec acc = vec{} + bias;
    for (int t = 0; t < T; ++t) acc += wk[t] * vload(s[t] + i);
    vstore(out + i, acc);
  }
}

static void dw_flat(const float* src, int64_t n, const int64_t* offs, int taps, const float* w,
                    float bias, float* out) {
  switch (taps) {
    case 9: return dw_taps<9>(src, n, offs, w, bias, out);
    case 25: return dw_taps<25>(src, n, offs, w, bias, out);
    case 4: return dw_taps<4>(src, n, offs, w, bias, out);
    default: break;
  }
  for (int64_t i = 0; i < n; i += kVec) vstore(out + i, vec{} + bias);
  for (int t = 0; t < taps; ++t) {  // any other kernel: tap by tap over the (L1-sized) block
    const vec wt = vec{} + w[t];
    const float* s = src + offs[t];
    for (int64_t i = 0; i < n; i += kVec) vstore(out + i, vload(out + i) + wt * vload(s + i));
  }
}

template <int ACT>
static inline vec activate_vec(vec v, const float* p) {
  const vec zero = {};
  if (ACT == 1) return v > zero ? v : zero;
  if (ACT == 2) { v = v < p[0] ? vec{} + p[0] : v; return v > p[1] ? vec{} + p[1] : v; }
  if (ACT == 3) return v >= zero ? v : v * p[0];
  if (ACT == 4) { vec h = v * p[0] + p[1]; h = h < zero ? zero : h; return h > 1.f ? vec{} + 1.f : h; }
  if (ACT == 5) { vec h = v * (1.f / 6.f) + 0.5f; h = h < zero ? zero : h; return v * (h > 1.f ? vec{} + 1.f : h); }
  return v;
}

template <int ACT>
static void bias_act_t(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, const float* p) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    const float b = bias[r];
    const vec bv = vec{} + b;
    int64_t j = 0;
    for (; j + kVec <= cols; j += kVec) vstore(row + j, activate_vec<ACT>(vload(row + j) + bv, p));
    if (j < cols) {  // tail through a vector on the stack
      float t[kVec] = {};
      for (int64_t i = j; i < cols; ++i) t[i - j] = row[i];
      const vec v = activate_vec<ACT>(vload(t) + bv, p);
      vstore(t, v);
      for (int64_t i = j; i < cols; ++i) row[i] = t[i - j];
    }
  }
}

static bool bias_act(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, int act,
                     const float* p) {
  switch (act) {
    case 0: bias_act_t<0>(c, rows, cols, ldc, bias, p); return true;
    case 1: bias_act_t<1>(c, rows, cols, ldc, bias, p); return true;
    case 2: bias_act_t<2>(c, rows, cols, ldc, bias, p); return true;
    case 3: bias_act_t<3>(c, rows, cols, ldc, bias, p); return true;
    case 4: bias_act_t<4>(c, rows, cols, ldc, bias, p); return true;
    case 5: bias_act_t<5>(c, rows, cols, ldc, bias, p); return true;
    default: return false;
  }
}

// even[j] = src[2j], odd[j] = src[2j + 1] for j < n: the column phases of a stride-2 row.
static void deinterleave(const float* src, int64_t n, float* even, float* odd) {
  typedef int32_t ivec __attribute__((vector_size(kVec * 4)));
  ivec ev, od;
  for (int i = 0; i < kVec; ++i) ev[i] = 2 * i, od[i] = 2 * i + 1;
  int64_t j = 0;
  for (; j + kVec <= n; j += kVec) {
    const vec a = vload(src + 2 * j), b = vload(src + 2 * j + kVec);
    vstore(even + j, __builtin_shuffle(a, b, ev));
    vstore(odd + j, __builtin_shuffle(a, b, od));
  }
  for (; j < n; ++j) even[j] = src[2 * j], odd[j] = src[2 * j + 1];
}

// Rows of the (sparse, small-integer) transform matrices: zero coefficients are skipped, so the
// same code serves every tile size at close to hand-written operation counts.
template <int A>
static void wino_in_t(const float* d, const float* bt, float* v, int64_t vstride) {
  for (int h = 0; h < kLanes; h += kVec) {
    vec t[A][A];  // B^T d
    for (int i = 0; i < A; ++i)
      for (int j = 0; j < A; ++j) {
        vec acc = {};
        for (int k = 0; k < A; ++k) {
          const float b = bt[i * A + k];
          if (b != 0.f) acc += b * vload(d + (k * A + j) * kLanes + h);
        }
        t[i][j] = acc;
      }
    for (int i = 0; i < A; ++i)
      for (int j = 0; j < A; ++j) {
        vec acc = {};
        for (int k = 0; k < A; ++k) {
          const float b = bt[j * A + k];
          if (b != 0.f) acc += b * t[i][k];
        }
        vstore(v + (i * A + j) * vstride + h, acc);
      }
  }
}

template <int A>
static void wino_out_t(int m, const float* y, int64_t ystride, const float* at, float bias, float* o) {
  for (int h = 0; h < kLanes; h += kVec) {
    vec s[A][A];  // A^T Y, first m rows used
    for (int i = 0; i < m; ++i)
      for (int q = 0; q < A; ++q) {
        vec acc = {};
        for (int p = 0; p < A; ++p) {
          const float a = at[i * A + p];
          if (a != 0.f) acc += a * vload(y + (p * A + q) * ystride + h);
        }
        s[i][q] = acc;
      }
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        vec acc = {};
        acc += bias;
        for (int q = 0; q < A; ++q) {
          const float a = at[j * A + q];
          if (a != 0.f) acc += a * s[i][q];
        }
        vstore(o + (i * m + j) * kLanes + h, acc);
      }
  }
}

static void wino_in(int alpha, const float* d, const float* bt, float* v, int64_t vstride) {
  switch (alpha) {
    case 4: return wino_in_t<4>(d, bt, v, vstride);
    case 6: return wino_in_t<6>(d, bt, v, vstride);
    default: return wino_in_t<8>(d, bt, v, vstride);
  }
}

static void wino_out(int alpha, int m, const float* y, int64_t ystride, const float* at, float bias,
                     float* o) {
  switch (alpha) {
    case 4: return wino_out_t<4>(m, y, ystride, at, bias, o);
    case 6: return wino_out_t<6>(m, y, ystride, at, bias, o);
    default: return wino_out_t<8>(m, y, ystride, at, bias, o);
  }
}

// Fixed patch sizes: the copies unroll into straight loads and stores (this transposition into
// lanes is the part of Winograd that does not vectorise).
template <int A>
static void wino_gather_t(const float* x, int64_t H, int64_t W, const int64_t* corner, int64_t valid,
                          float* d) {
  for (int64_t l = 0; l < valid; ++l) {
    const int64_t ih0 = corner[2 * l], iw0 = corner[2 * l + 1];
    if (ih0 >= 0 && iw0 >= 0 && ih0 + A <= H && iw0 + A <= W) {
      const float* src = x + ih0 * W + iw0;
      for (int a = 0; a < A; ++a, src += W)
        for (int b = 0; b < A; ++b) d[(a * A + b) * kLanes + l] = src[b];
      continue;
    }
    for (int a = 0; a < A; ++a) {
      const int64_t ih = ih0 + a;
      const bool row = ih >= 0 && ih < H;
      for (int b = 0; b < A; ++b) {
        const int64_t iw = iw0 + b;
        d[(a * A + b) * kLanes + l] = row && iw >= 0 && iw < W ? x[ih * W + iw] : 0.f;
      }
    }
  }
}

static void wino_gather(int alpha, const float* x, int64_t H, int64_t W, const int64_t* corner,
                        int64_t valid, float* d) {
  switch (alpha) {
    case 4: return wino_gather_t<4>(x, H, W, corner, valid, d);
    case 6: return wino_gather_t<6>(x, H, W, corner, valid, d);
    default: return wino_gather_t<8>(x, H, W, corner, valid, d);
  }
}

template <int M>
static void wino_scatter_t(const float* o, const int64_t* corner, int64_t valid, float* y, int64_t H,
                           int64_t W) {
  for (int64_t l = 0; l < valid; ++l) {
    const int64_t oh0 = corner[2 * l], ow0 = corner[2 * l + 1];
    float* dst = y + oh0 * W + ow0;
    if (oh0 + M <= H && ow0 + M <= W) {
      for (int i = 0; i < M; ++i, dst += W)
        for (int j = 0; j < M; ++j) dst[j] = o[(i * M + j) * kLanes + l];
      continue;
    }
    const int64_t hi = H - oh0 < M ? H - oh0 : M, wi = W - ow0 < M ? W - ow0 : M;
    for (int64_t i = 0; i < hi; ++i, dst += W)
      for (int64_t j = 0; j < wi; ++j) dst[j] = o[(i * M + j) * kLanes + l];
  }
}

static void wino_scatter(int m, const float* o, const int64_t* corner, int64_t valid, float* y,
                         int64_t H, int64_t W) {
  switch (m) {
    case 2: return wino_scatter_t<2>(o, corner, valid, y, H, W);
    case 4: return wino_scatter_t<4>(o, corner, valid, y, H, W);
    default: return wino_scatter_t<6>(o, corner, valid, y, H, W);
  }
}

// Short copies and fills inline: per-row libc calls dominated small planes (7x7, 14x14).
static inline void copy_floats(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + kVec <= n; i += kVec) vstore(dst + i, vload(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

static inline void zero_floats(float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kVec <= n; i += kVec) vstore(dst + i, vec{});
  for (; i < n; ++i) dst[i] = 0.f;
}

// Row [0, n) of a phase plane from input row `src` read at columns j * SW + b - PL: zeros outside
// [lo, hi), the in-row span.
static void fill_phases(const DwGeom& g, const float* x, float* planes) {
  int64_t jlo[2], jhi[2];
  for (int64_t b = 0; b < g.SW; ++b) {
    const int64_t c0 = b - g.PL;
    const int64_t lo = c0 >= 0 ? 0 : (-c0 + g.SW - 1) / g.SW;
    const int64_t hi = g.W - c0 <= 0 ? 0 : (g.W - c0 + g.SW - 1) / g.SW;
    jlo[b] = lo < g.Wq ? lo : g.Wq;
    jhi[b] = hi < g.Wq ? (hi > jlo[b] ? hi : jlo[b]) : g.Wq;
  }
  for (int64_t a = 0; a < g.SH; ++a)
    for (int64_t i = 0; i <= g.Hq; ++i) {
      const int64_t ih = i * g.SH + a - g.PT;
      const bool inside = i < g.Hq && ih >= 0 && ih < g.H;
      const float* row = x + ih * g.W;
      for (int64_t b = 0; b < g.SW; ++b) {
        float* dst = planes + (a * g.SW + b) * g.phase + i * g.Wq;
        if (!inside) {
          zero_floats(dst, g.Wq);
          continue;
        }
        for (int64_t j = 0; j < jlo[b]; ++j) dst[j] = 0.f;
        for (int64_t j = jhi[b]; j < g.Wq; ++j) dst[j] = 0.f;
        if (g.SW == 1) copy_floats(dst + jlo[b], row + jlo[b] - g.PL, jhi[b] - jlo[b]);
      }
      if (inside && g.SW == 2) {  // both column phases at once over their common span
        const int64_t lo = jlo[0] > jlo[1] ? jlo[0] : jlo[1], hi = jhi[0] < jhi[1] ? jhi[0] : jhi[1];
        float* even = planes + (a * 2) * g.phase + i * g.Wq;
        float* odd = even + g.phase;
        if (hi > lo) deinterleave(row + 2 * lo - g.PL, hi - lo, even + lo, odd + lo);
        for (int64_t b = 0; b < 2; ++b) {  // the few columns outside the common span
          float* dst = b ? odd : even;
          for (int64_t j = jlo[b]; j < (jhi[b] < lo ? jhi[b] : lo); ++j) dst[j] = row[2 * j + b - g.PL];
          for (int64_t j = (jlo[b] > hi ? jlo[b] : hi); j < jhi[b]; ++j) dst[j] = row[2 * j + b - g.PL];
        }
      }
    }
}

template <int ACT>
static void store_rows(const DwGeom& g, const float* flat, int64_t rows, float* y, const float* p) {
  for (int64_t r = 0; r < rows; ++r, flat += g.Wq, y += g.OW) {
    int64_t j = 0;
    for (; j + kVec <= g.OW; j += kVec) vstore(y + j, activate_vec<ACT>(vload(flat + j), p));
    if (j < g.OW) {  // flat has room for a whole vector past the row
      float t[kVec];
      vstore(t, activate_vec<ACT>(vload(flat + j), p));
      for (int64_t i = j; i < g.OW; ++i) y[i] = t[i - j];
    }
  }
}

static bool dw_plane(const DwGeom& g, const float* x, const float* w, float bias, int act,
                     const float* p, float* planes, float* flat, float* y) {
  fill_phases(g, x, planes);
  const int code = act <= 5 ? act : 0;
  for (int64_t oh0 = 0; oh0 < g.OH; oh0 += g.rows) {
    const int64_t rows = g.rows < g.OH - oh0 ? g.rows : g.OH - oh0;
    dw_flat(planes + oh0 * g.Wq, rows * g.Wq, g.offs, g.taps, w, bias, flat);
    float* yr = y + oh0 * g.OW;
    switch (code) {
      case 1: store_rows<1>(g, flat, rows, yr, p); break;
      case 2: store_rows<2>(g, flat, rows, yr, p); break;
      case 3: store_rows<3>(g, flat, rows, yr, p); break;
      case 4: store_rows<4>(g, flat, rows, yr, p); break;
      case 5: store_rows<5>(g, flat, rows, yr, p); break;
      default: store_rows<0>(g, flat, rows, yr, p); break;
    }
  }
  return act == code;
}

// ---- channel-interleaved depthwise ----------------------------------------------------------------
typedef int32_t ivec __attribute__((vector_size(kVec * 4)));

static inline ivec zip_mask(int half) {
  ivec m;
  for (int i = 0; i < kVec / 2; ++i) m[2 * i] = i + half * kVec / 2, m[2 * i + 1] = i + kVec + half * kVec / 2;
  return m;
}

// In-register transpose of a kVec x kVec block: each round zips row i with row i + kVec/2, which
// rotates the (row, column) index bits by one; log2(kVec) rounds swap rows and columns. AVX has a
// cheaper 8 x 8 sequence (24 in-lane shuffles instead of 48 generic ones).
#if defined(__AVX__) && MNN_CONV_VEC == 8
static inline void transpose(vec* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}
#else
static inline void transpose(vec* r) {
  const ivec lo = zip_mask(0), hi = zip_mask(1);
  for (int round = 1; round < kVec; round *= 2) {
    vec t[kVec];
    for (int i = 0; i < kVec / 2; ++i) {
      t[2 * i] = __builtin_shuffle(r[i], r[i + kVec / 2], lo);
      t[2 * i + 1] = __builtin_shuffle(r[i], r[i + kVec / 2], hi);
    }
    for (int i = 0; i < kVec; ++i) r[i] = t[i];
  }
}
#endif

// Columns [0, n) of row `src` of nch planes into dst[col][vec]; missing channels read as zeros.
static void interleave_row(const float* src, int64_t plane, int nch, int64_t n, float* dst) {
  int64_t j = 0;
  for (; j + kVec <= n; j += kVec) {
    vec r[kVec];
    for (int c = 0; c < kVec; ++c) r[c] = c < nch ? vload(src + c * plane + j) : vec{};
    transpose(r);
    for (int i = 0; i < kVec; ++i) vstore(dst + (j + i) * kVec, r[i]);
  }
  for (; j < n; ++j)
    for (int c = 0; c < kVec; ++c) dst[j * kVec + c] = c < nch ? src[c * plane + j] : 0.f;
}

// The inverse: n interleaved columns back into rows of nch planes.
static void deinterleave_row(const float* src, int64_t n, int nch, float* dst, int64_t plane) {
  int64_t j = 0;
  for (; j + kVec <= n; j += kVec) {
    vec r[kVec];
    for (int i = 0; i < kVec; ++i) r[i] = vload(src + (j + i) * kVec);
    transpose(r);
    for (int c = 0; c < nch; ++c) vstore(dst + c * plane + j, r[c]);
  }
  for (; j < n; ++j)
    for (int c = 0; c < nch; ++c) dst[c * plane + j] = src[j * kVec + c];
}

// R neighbouring outputs of one row as R independent chains (one accumulator alone would wait on
// the multiply-add latency at every tap). With the stride fixed (S > 0) every load is the row
// pointer plus the tap's offset plus an immediate.
template <int R, int T, int S, int ACT>
static inline void dw_block_group(const float* src, int64_t sw, const int64_t* offs, int taps,
                                  const vec* wv, vec bias, const float* p, float* O) {
  const int n = T > 0 ? T : taps;
  const int64_t step = (S > 0 ? S : sw) * kVec;
  vec acc[R];
  for (int i = 0; i < R; ++i) acc[i] = bias;
  for (int t = 0; t < n; ++t) {
    const vec w = wv[t];
    const float* s = src + offs[t];
    for (int i = 0; i < R; ++i) acc[i] += w * vload(s + i * step);
  }
  for (int i = 0; i < R; ++i) vstore(O + i * kVec, activate_vec<ACT>(acc[i], p));
}

// One output row in groups of R (8, or 4 on narrow rows); the last group overlaps the previous
// one instead of falling back to short chains (outputs are recomputed identically).
template <int R, int T, int S, int ACT>
static inline void dw_block_row(const DwBlockGeom& g, const float* src, const vec* wv, vec bias,
                                const float* p, float* O) {
  const int64_t step = g.SW * kVec;
  int64_t ow = 0;
  for (; ow + R <= g.OW; ow += R)
    dw_block_group<R, T, S, ACT>(src + ow * step, g.SW, g.offs, g.taps, wv, bias, p, O + ow * kVec);
  if (ow < g.OW) {
    ow = g.OW - R;
    dw_block_group<R, T, S, ACT>(src + ow * step, g.SW, g.offs, g.taps, wv, bias, p, O + ow * kVec);
  }
}

template <int T, int S, int ACT>
static void dw_block_outputs(const DwBlockGeom& g, const float* P, int64_t rows, const vec* wv,
                             vec bias, const float* p, float* O) {
  for (int64_t r = 0; r < rows; ++r, O += g.OW * kVec) {
    const float* src = P + r * g.SH * g.Wp * kVec;
    if (g.OW >= 8) {
      dw_block_row<8, T, S, ACT>(g, src, wv, bias, p, O);
    } else if (g.OW >= 4) {
      dw_block_row<4, T, S, ACT>(g, src, wv, bias, p, O);
    } else {
      for (int64_t ow = 0; ow < g.OW; ++ow)
        dw_block_group<1, T, S, ACT>(src + ow * g.SW * kVec, g.SW, g.offs, g.taps, wv, bias, p,
                                     O + ow * kVec);
    }
  }
}

template <int T, int ACT>
static void dw_block_stride(const DwBlockGeom& g, const float* P, int64_t rows, const vec* wv,
                            vec bias, const float* p, float* O) {
  if (g.SW == 1) dw_block_outputs<T, 1, ACT>(g, P, rows, wv, bias, p, O);
  else if (g.SW == 2) dw_block_outputs<T, 2, ACT>(g, P, rows, wv, bias, p, O);
  else dw_block_outputs<T, 0, ACT>(g, P, rows, wv, bias, p, O);
}

template <int ACT>
static void dw_block_rows(const DwBlockGeom& g, const float* P, const float* w, const float* bias,
                          const float* p, int64_t rows, float* O) {
  constexpr int kMaxTaps = 64;
  vec wv[kMaxTaps];
  const int taps = g.taps <= kMaxTaps ? g.taps : 0;
  for (int t = 0; t < taps; ++t) wv[t] = vload(w + t * kVec);
  const vec bv = vload(bias);
  const int64_t total = rows * g.OW;
  if (taps == 9) dw_block_stride<9, ACT>(g, P, rows, wv, bv, p, O);
  else if (taps == 25) dw_block_stride<25, ACT>(g, P, rows, wv, bv, p, O);
  else if (taps > 0) dw_block_stride<0, ACT>(g, P, rows, wv, bv, p, O);
  else {  // very large kernels: weights read from memory
    for (int64_t q = 0; q < total; ++q) {
      const int64_t r = q / g.OW, c = q - r * g.OW;
      const float* src = P + (r * g.SH * g.Wp + c * g.SW) * kVec;
      vec acc = bv;
      for (int t = 0; t < g.taps; ++t) acc += vload(w + t * kVec) * vload(src + g.offs[t]);
      vstore(O + q * kVec, activate_vec<ACT>(acc, p));
    }
  }
}

static bool dw_block(const DwBlockGeom& g, const float* x, int64_t plane, int nch, const float* w,
                     const float* bias, int act, const float* p, int64_t oh0, int64_t oh1,
                     float* scratch, float* y, int64_t oplane) {
  // Local padded rows of this band: padded row oh * SH + kh * DH of the output rows' reach.
  const int64_t r0 = oh0 * g.SH - g.PT;
  const int64_t nrows = (oh1 - 1 - oh0) * g.SH + g.reach;
  float* P = scratch;
  float* O = scratch + g.band_rows * g.Wp * kVec;
  const int64_t left = g.PL < g.Wp ? g.PL : g.Wp;
  const int64_t span = g.W < g.Wp - left ? g.W : g.Wp - left;  // input columns that are read
  for (int64_t i = 0; i < nrows; ++i) {
    float* row = P + i * g.Wp * kVec;
    const int64_t ih = r0 + i;
    if (ih < 0 || ih >= g.H || span <= 0) {
      zero_floats(row, g.Wp * kVec);
      continue;
    }
    zero_floats(row, left * kVec);
    interleave_row(x + ih * g.W, plane, nch, span, row + left * kVec);
    zero_floats(row + (left + span) * kVec, (g.Wp - left - span) * kVec);
  }
  const int code = act <= 5 ? act : 0;
  const int64_t rows = oh1 - oh0;
  switch (code) {
    case 1: dw_block_rows<1>(g, P, w, bias, p, rows, O); break;
    case 2: dw_block_rows<2>(g, P, w, bias, p, rows, O); break;
    case 3: dw_block_rows<3>(g, P, w, bias, p, rows, O); break;
    case 4: dw_block_rows<4>(g, P, w, bias, p, rows, O); break;
    case 5: dw_block_rows<5>(g, P, w, bias, p, rows, O); break;
    default: dw_block_rows<0>(g, P, w, bias, p, rows, O); break;
  }
  deinterleave_row(O, rows * g.OW, nch, y + oh0 * g.OW, oplane);  // the band is contiguous per plane
  return act == code;
}

// ---- planar depthwise (large maps) ------------------------------------------------------------
// Stored index j of phase b outside [j0, j1) from input row `row`: scalar up to the last input
// column, then whole-vector zeros.
static inline void fill_phase_edges(const DwRowGeom& g, const float* row, int64_t b, int64_t j0,
                                    int64_t j1, float* dst) {
  for (int64_t j = 0; j < j0 && j < g.Wh; ++j) {
    const int64_t iw = j * g.SW + b - g.PL;
    dst[j] = iw >= 0 && iw < g.W ? row[iw] : 0.f;
  }
  int64_t hi = (g.W + g.PL - b + g.SW - 1) / g.SW;  // past the last stored j on an input column
  hi = hi < g.Wh ? hi : g.Wh;
  int64_t j = j1;
  for (; j < hi; ++j) {
    const int64_t iw = j * g.SW + b - g.PL;
    dst[j] = iw >= 0 ? row[iw] : 0.f;
  }
  zero_floats(dst + j, g.Wh - j);
}

// Padded row of input row `row` (null: a padding row) into SW phases of g.Wh floats at dst:
// stored j of phase b holds padded column j * SW + b, i.e. input column j * SW + b - PL.
static void fill_row_phases(const DwRowGeom& g, const float* row, float* dst) {
  if (!row) {
    zero_floats(dst, g.SW * g.Wh);
    return;
  }
  if (g.SW == 1) {
    const int64_t lo = g.PL < g.Wh ? g.PL : g.Wh;
    const int64_t n = g.W < g.Wh - lo ? g.W : g.Wh - lo;
    zero_floats(dst, lo);
    __builtin_memcpy(dst + lo, row, sizeof(float) * n);
    zero_floats(dst + lo + n, g.Wh - lo - n);
    return;
  }
  // SW == 2, both phases in one pass: from input column a (padded column even) on, every 2 * kVec
  // input floats give kVec stored floats of each phase at the same j.
  const int64_t a = g.PL & 1, j0 = (a + g.PL) / 2;
  int64_t nv = g.W > a ? (g.W - a) / (2 * kVec) : 0;
  if (j0 + nv * kVec > g.Wh) nv = g.Wh > j0 ? (g.Wh - j0) / kVec : 0;
  const float* s = row + a;
  // The row's last columns (fewer than 2 * kVec) go through a zero-padded copy as one more pair of
  // vectors when the phases have room: scalar edges cost more than the whole vector part.
  const int64_t rem = g.W > a ? g.W - a - nv * 2 * kVec : 0;
  const bool tail = rem > 0 && j0 + (nv + 1) * kVec <= g.Wh;
  float last[2 * kVec] = {};
  if (tail) __builtin_memcpy(last, s + nv * 2 * kVec, sizeof(float) * rem);
  float* d0 = dst + j0;
  float* d1 = dst + g.Wh + j0;
  for (int64_t v = 0; v < nv + tail; ++v, s += 2 * kVec, d0 += kVec, d1 += kVec) {
    const float* src = v < nv ? s : last;
#if defined(__AVX2__) && MNN_CONV_VEC == 8
    // In-lane even/odd picks, then one 64-bit cross-lane permute each.
    const __m256 x0 = _mm256_loadu_ps(src), x1 = _mm256_loadu_ps(src + kVec);
    const __m256d e = _mm256_castps_pd(_mm256_shuffle_ps(x0, x1, 0x88));
    const __m256d o = _mm256_castps_pd(_mm256_shuffle_ps(x0, x1, 0xDD));
    _mm256_storeu_ps(d0, _mm256_castpd_ps(_mm256_permute4x64_pd(e, 0xD8)));
    _mm256_storeu_ps(d1, _mm256_castpd_ps(_mm256_permute4x64_pd(o, 0xD8)));
#else
    ivec even, odd;
    for (int i = 0; i < kVec; ++i) even[i] = 2 * i, odd[i] = 2 * i + 1;
    const vec x0 = vload(src), x1 = vload(src + kVec);
    vstore(d0, __builtin_shuffle(x0, x1, even));
    vstore(d1, __builtin_shuffle(x0, x1, odd));
#endif
  }
  nv += tail;
  for (int64_t b = 0; b < 2; ++b) fill_phase_edges(g, row, b, j0, j0 + nv * kVec, dst + b * g.Wh);
}

// RR rows x R vectors of neighbouring outputs as RR * R independent chains (fewer would wait on
// the multiply-add latency at every tap); bias and activation in the store. Output row i reads
// stored rows `sstep` floats after row i - 1's.
template <int RR, int R, int T, int ACT>
static inline void dw_row_group(const float* src, int64_t sstep, const int64_t* offs, int taps,
                                const vec* wv, vec bias, const float* p, float* out, int64_t ostep) {
  const int n = T > 0 ? T : taps;
  vec acc[RR][R];
  for (int r = 0; r < RR; ++r)
    for (int i = 0; i < R; ++i) acc[r][i] = bias;
  for (int t = 0; t < n; ++t) {
    const vec w = wv[t];
    const float* s = src + offs[t];
    for (int r = 0; r < RR; ++r)
      for (int i = 0; i < R; ++i) acc[r][i] += w * vload(s + r * sstep + i * kVec);
  }
  for (int r = 0; r < RR; ++r)
    for (int i = 0; i < R; ++i) vstore(out + r * ostep + i * kVec, activate_vec<ACT>(acc[r][i], p));
}

// RR output rows in groups of R vectors, the whole vectors left over as one shorter group, and
// a partial last vector recomputed over the previous one (same outputs, so the overlap is
// harmless). Rows narrower than a vector go through a temporary (stored rows have the room).
template <int RR, int R, int T, int ACT>
static inline void dw_rows_band(const DwRowGeom& g, const float* src, int64_t sstep, const vec* wv,
                                vec bias, const float* p, float* y) {
  const int64_t whole = g.OW / kVec * kVec;
  int64_t ow = 0;
  for (; ow + R * kVec <= whole; ow += R * kVec)
    dw_row_group<RR, R, T, ACT>(src + ow, sstep, g.offs, g.taps, wv, bias, p, y + ow, g.OW);
  switch ((whole - ow) / kVec) {
    case 3: dw_row_group<RR, 3, T, ACT>(src + ow, sstep, g.offs, g.taps, wv, bias, p, y + ow, g.OW); break;
    case 2: dw_row_group<RR, 2, T, ACT>(src + ow, sstep, g.offs, g.taps, wv, bias, p, y + ow, g.OW); break;
    case 1: dw_row_group<RR, 1, T, ACT>(src + ow, sstep, g.offs, g.taps, wv, bias, p, y + ow, g.OW); break;
    default: break;
  }
  if (whole == g.OW) return;
  if (whole > 0) {
    ow = g.OW - kVec;
    dw_row_group<RR, 1, T, ACT>(src + ow, sstep, g.offs, g.taps, wv, bias, p, y + ow, g.OW);
    return;
  }
  float t[RR * kVec];
  dw_row_group<RR, 1, T, ACT>(src, sstep, g.offs, g.taps, wv, bias, p, t, kVec);
  for (int r = 0; r < RR; ++r)
    for (int64_t i = 0; i < g.OW; ++i) y[r * g.OW + i] = t[r * kVec + i];
}

template <int T, int ACT>
static void dw_rows_compute(const DwRowGeom& g, const float* P, const vec* wv, vec bias,
                            const float* p, int64_t rows, float* y) {
  const int64_t sstep = g.SH * g.SW * g.Wh;
  int64_t r = 0;
  if (g.OW >= 4 * kVec) {
    for (; r + 2 <= rows; r += 2) dw_rows_band<2, 4, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
    for (; r < rows; ++r) dw_rows_band<1, 4, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
  } else if (g.OW >= 2 * kVec) {
    for (; r + 2 <= rows; r += 2) dw_rows_band<2, 2, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
    for (; r < rows; ++r) dw_rows_band<1, 2, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
  } else {
    for (; r + 4 <= rows; r += 4) dw_rows_band<4, 1, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
    for (; r < rows; ++r) dw_rows_band<1, 1, T, ACT>(g, P + r * sstep, sstep, wv, bias, p, y + r * g.OW);
  }
}

template <int ACT>
static void dw_rows_act(const DwRowGeom& g, const float* P, const float* w, float bias,
                        const float* p, int64_t rows, float* y) {
  constexpr int kMaxTaps = 64;
  vec wv[kMaxTaps];
  const vec bv = vec{} + bias;
  if (g.taps > kMaxTaps) {  // very large kernels: one output vector at a time, weights from memory
    const int64_t rs = g.SW * g.Wh;
    for (int64_t r = 0; r < rows; ++r, y += g.OW)
      for (int64_t ow = 0; ow < g.OW; ow += kVec) {
        vec acc = bv;
        for (int t = 0; t < g.taps; ++t) acc += w[t] * vload(P + r * g.SH * rs + ow + g.offs[t]);
        float t[kVec];
        vstore(t, activate_vec<ACT>(acc, p));
        for (int64_t i = ow; i < g.OW && i < ow + kVec; ++i) y[i] = t[i - ow];
      }
    return;
  }
  for (int t = 0; t < g.taps; ++t) wv[t] = vec{} + w[t];
  if (g.taps == 9) dw_rows_compute<9, ACT>(g, P, wv, bv, p, rows, y);
  else if (g.taps == 25) dw_rows_compute<25, ACT>(g, P, wv, bv, p, rows, y);
  else dw_rows_compute<0, ACT>(g, P, wv, bv, p, rows, y);
}

static bool dw_rows(const DwRowGeom& g, const float* x, const float* w, float bias, int act,
                    const float* p, int64_t oh0, int64_t oh1, float* scratch, float* y) {
  const int64_t r0 = oh0 * g.SH - g.PT, rs = g.SW * g.Wh;
  const int64_t nrows = (oh1 - 1 - oh0) * g.SH + g.reach;
  for (int64_t i = 0; i < nrows; ++i) {
    const int64_t ih = r0 + i;
    fill_row_phases(g, ih >= 0 && ih < g.H ? x + ih * g.W : nullptr, scratch + i * rs);
  }
  const int code = act <= 5 ? act : 0;
  const int64_t rows = oh1 - oh0;
  float* yr = y + oh0 * g.OW;
  switch (code) {
    case 1: dw_rows_act<1>(g, scratch, w, bias, p, rows, yr); break;
    case 2: dw_rows_act<2>(g, scratch, w, bias, p, rows, yr); break;
    case 3: dw_rows_act<3>(g, scratch, w, bias, p, rows, yr); break;
    case 4: dw_rows_act<4>(g, scratch, w, bias, p, rows, yr); break;
    case 5: dw_rows_act<5>(g, scratch, w, bias, p, rows, yr); break;
    default: dw_rows_act<0>(g, scratch, w, bias, p, rows, yr); break;
  }
  return act == code;
}

// ---- matrix-vector ------------------------------------------------------------------------------
// Four k-chains per panel: one accumulator set alone would wait on the multiply-add latency, and
// the weights stream from L2/L3 once, so the loads set the pace.
static void gemv(int64_t K, const float* x, int64_t xs, const float* panels, int64_t n,
                 const float* bias, float* y) {
  constexpr int NV = kLanes / kVec;
  for (int64_t j0 = 0; j0 < n; j0 += kLanes, panels += K * kLanes) {
    vec acc[4][NV] = {};
    const float* p = panels;
    int64_t k = 0;
    for (; k + 4 <= K; k += 4, p += 4 * kLanes)
      for (int u = 0; u < 4; ++u) {
        if ((u * kLanes) % 16 == 0) __builtin_prefetch(p + u * kLanes + 1024);
        const vec xv = vec{} + x[(k + u) * xs];
        for (int v = 0; v < NV; ++v) acc[u][v] += xv * vload(p + u * kLanes + v * kVec);
      }
    for (; k < K; ++k, p += kLanes) {
      const vec xv = vec{} + x[k * xs];
      for (int v = 0; v < NV; ++v) acc[0][v] += xv * vload(p + v * kVec);
    }
    float out[kLanes];
    for (int v = 0; v < NV; ++v) vstore(out + v * kVec, (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]));
    const int64_t cols = n - j0 < kLanes ? n - j0 : kLanes;
    for (int64_t j = 0; j < cols; ++j) y[j0 + j] = bias ? out[j] + bias[j0 + j] : out[j];
  }
}

// ---- direct convolution of few input channels ---------------------------------------------------
// A broadcast without `vec{} + x`: that adds 0.f (kept, since -0.f + 0.f != -0.f) and ties up a
// register holding the zero, which the 12-accumulator loop below cannot spare.
static inline vec splat(float x) {
#if defined(__AVX512F__) && MNN_CONV_VEC == 16
  return _mm512_set1_ps(x);
#elif defined(__AVX__) && MNN_CONV_VEC == 8
  return _mm256_set1_ps(x);
#endif
  vec v;
  for (int i = 0; i < kVec; ++i) v[i] = x;
  return v;
}

// Wh is a multiple of the 3-vector group plus the taps' reach: every group reads whole vectors.
constexpr int kDirectGroup = 3 * kVec;

template <int ACT>
static void direct_row_t(const DirectGeom& g, const float* rows, const float* w, const float* bias,
                         int64_t M, const float* p, float* y, int64_t ystride) {
  // 4 output channels x 3 vectors of columns: 12 accumulators, each tap 3 loads + 4 broadcasts.
  const int T = g.taps;
  for (int64_t m0 = 0; m0 < M; m0 += 4) {
    const float* wg = w + m0 * T;
    const int64_t mcount = M - m0 < 4 ? M - m0 : 4;
    float b4[4] = {};
    for (int64_t i = 0; i < mcount; ++i) b4[i] = bias[m0 + i];
    for (int64_t ow = 0; ow < g.OW; ow += kDirectGroup) {
      vec acc[4][3];
      for (int i = 0; i < 4; ++i)
        for (int v = 0; v < 3; ++v) acc[i][v] = splat(b4[i]);
      for (int t = 0; t < T; ++t) {
        const float* s = rows + g.offs[t] + ow;
        const vec x0 = vload(s), x1 = vload(s + kVec), x2 = vload(s + 2 * kVec);
        for (int i = 0; i < 4; ++i) {
          const vec wi = splat(wg[t * 4 + i]);
          acc[i][0] += wi * x0;
          acc[i][1] += wi * x1;
          acc[i][2] += wi * x2;
        }
      }
      const int64_t cnt = g.OW - ow < kDirectGroup ? g.OW - ow : kDirectGroup;
      // Compile-time row indices: a runtime index into acc would keep it in memory, not registers.
      for (int i = 0; i < 4; ++i) {
        if (i >= mcount) break;
        float* yi = y + (m0 + i) * ystride + ow;
        if (cnt == kDirectGroup) {
          for (int v = 0; v < 3; ++v) vstore(yi + v * kVec, activate_vec<ACT>(acc[i][v], p));
        } else {
          float t[kDirectGroup];
          for (int v = 0; v < 3; ++v) vstore(t + v * kVec, activate_vec<ACT>(acc[i][v], p));
          for (int64_t j = 0; j < cnt; ++j) yi[j] = t[j];
        }
      }
    }
  }
}

// The C * KH input rows output row oh reads, zero-padded and split into column phases (DirectGeom).
static void direct_fill(const DirectGeom& g, const float* x, int64_t oh, float* rows) {
  const int64_t span = g.SW * g.Wh;  // padded columns of one input row
  float* line = rows + g.C * g.KH * span;
  // Input columns [lo, hi) land inside the padded row at lo + PL.
  const int64_t lo = g.PL >= 0 ? 0 : -g.PL;
  const int64_t hi = g.W < span - g.PL ? g.W : span - g.PL;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      float* dst = rows + (c * g.KH + kh) * span;
      const int64_t ih = oh * g.SH - g.PT + kh * g.DH;
      if (ih < 0 || ih >= g.H || hi <= lo) {
        zero_floats(dst, span);
        continue;
      }
      const float* src = x + (c * g.H + ih) * g.W;
      float* pad = g.SW == 1 ? dst : line;
      zero_floats(pad, lo + g.PL);
      copy_floats(pad + lo + g.PL, src + lo, hi - lo);
      zero_floats(pad + hi + g.PL, span - hi - g.PL);
      if (g.SW == 2) deinterleave(line, g.Wh, dst, dst + g.Wh);
    }
}

static bool direct_row(const DirectGeom& g, const float* x, int64_t oh, const float* w,
                       const float* bias, int64_t M, int act, const float* p, float* rows, float* y,
                       int64_t ystride) {
  direct_fill(g, x, oh, rows);
  const int code = act <= 5 ? act : 0;
  switch (code) {
    case 1: direct_row_t<1>(g, rows, w, bias, M, p, y, ystride); break;
    case 2: direct_row_t<2>(g, rows, w, bias, M, p, y, ystride); break;
    case 3: direct_row_t<3>(g, rows, w, bias, M, p, y, ystride); break;
    case 4: direct_row_t<4>(g, rows, w, bias, M, p, y, ystride); break;
    case 5: direct_row_t<5>(g, rows, w, bias, M, p, y, ystride); break;
    default: direct_row_t<0>(g, rows, w, bias, M, p, y, ystride); break;
  }
  return act == code;
}

// ---- GEMM micro-kernel with bias and activation ---------------------------------------------------
constexpr int kMR = MNN_CONV_MR;

template <int ACT>
static void micro_conv_t(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int rows,
                         bool first, bool last, const float* bias, const float* p) {
  constexpr int NV = kLanes / kVec;
  vec r[kMR][NV];
  for (int i = 0; i < kMR; ++i)
    for (int v = 0; v < NV; ++v)
      r[i][v] = i >= rows ? vec{} : first ? splat(bias[i]) : vload(c + i * ldc + v * kVec);
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kLanes) {
    vec bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = vload(b + v * kVec);
    for (int i = 0; i < kMR; ++i) {
      const vec ai = splat(a[i]);
      for (int v = 0; v < NV; ++v) r[i][v] += ai * bv[v];
    }
  }
  for (int i = 0; i < kMR; ++i) {
    if (i >= rows) break;
    for (int v = 0; v < NV; ++v) vstore(c + i * ldc + v * kVec, last ? activate_vec<ACT>(r[i][v], p) : r[i][v]);
  }
}

static bool micro_conv(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int rows,
                       bool first, bool last, const float* bias, int act, const float* p) {
  switch (act) {
    case 0: micro_conv_t<0>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    case 1: micro_conv_t<1>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    case 2: micro_conv_t<2>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    case 3: micro_conv_t<3>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    case 4: micro_conv_t<4>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    case 5: micro_conv_t<5>(kc, a, b, c, ldc, rows, first, last, bias, p); return true;
    default: return false;
  }
}

// ---- max pooling ----------------------------------------------------------------------------------
static inline vec vmax(vec a, vec b) { return a > b ? a : b; }

// Per output row: the max over the window's rows into t (whole vectors, the last one overlapping
// instead of a scalar tail), then over its columns straight from t. With SW == 2 each tap is the
// even or odd lanes of two vectors, taken by in-lane shuffles (a full deinterleave costs ~3x more
// on AVX2); the lanes are put back in order once per output vector.
template <int R>
static inline void rows_max(const float* src, int64_t W, int64_t n, int rows, float* t) {
  auto col = [&](int64_t j) {
    vec m = vload(src + j);
    if (R == 3) {
      m = vmax(m, vload(src + W + j));
      m = vmax(m, vload(src + 2 * W + j));
    } else {
      for (int r = 1; r < rows; ++r) m = vmax(m, vload(src + r * W + j));
    }
    vstore(t + j, m);
  };
  int64_t j = 0;
  for (; j + kVec <= n; j += kVec) col(j);
  if (j < n) col(n - kVec);  // idempotent overlap
}

static void maxpool(const float* x, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW, int64_t KH,
                    int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL, float* buf) {
  const int64_t span = (OW - 1) * SW + KW;                 // padded columns the row's windows read
  float* t = buf;                                          // column maxima of the window's rows
  const int64_t c0 = PL < span ? PL : span;                // first padded column holding input
  const int64_t n = W < span - c0 ? W : span - c0;         // input columns read
  for (int64_t j = 0; j < c0; ++j) t[j] = -INFINITY;
  for (int64_t j = c0 + n; j < span + 2 * kVec; ++j) t[j] = -INFINITY;
  // Outputs whose window holds no input column are 0 (with ceil_mode or wide pads).
  int64_t lo = 0, hi = OW;
  while (lo < OW && lo * SW - PL + KW <= 0) ++lo;
  while (hi > lo && (hi - 1) * SW - PL >= W) --hi;
  // Even/odd lanes of (a, b) per 128-bit lane (in-lane shuffles, cheap); the max of the taps is
  // taken in that lane order and put back in order once per output vector (fix).
  typedef int32_t ivec __attribute__((vector_size(kVec * 4)));
  ivec ev, od, fix;
  for (int p = 0; p < kVec; ++p) {
    const int L = p / 4, w = p % 4;
    ev[p] = w < 2 ? L * 4 + 2 * w : kVec + L * 4 + 2 * (w - 2);
    od[p] = ev[p] + 1;
    fix[w < 2 ? 2 * L + w : kVec / 2 + 2 * L + w - 2] = p;
  }
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* yr = y + oh * OW;
    const int64_t r0 = oh * SH - PT < 0 ? 0 : oh * SH - PT;
    const int64_t r1 = oh * SH - PT + KH < H ? oh * SH - PT + KH : H;
    if (r1 <= r0 || lo >= hi) {
      for (int64_t j = 0; j < OW; ++j) yr[j] = 0.f;
      continue;
    }
    const float* src = x + r0 * W;
    float* tc = t + c0;
    if (n < kVec) {
      for (int64_t j = 0; j < n; ++j) {
        float m = src[j];
        for (int64_t r = 1; r < r1 - r0; ++r) m = m > src[r * W + j] ? m : src[r * W + j];
        tc[j] = m;
      }
    } else if (r1 - r0 == 3) {
      rows_max<3>(src, W, n, 3, tc);
    } else {
      rows_max<0>(src, W, n, static_cast<int>(r1 - r0), tc);
    }
    if (hi - lo >= kVec) {
      for (int64_t ow = lo;; ow += kVec) {
        const int64_t o = ow + kVec <= hi ? ow : hi - kVec;  // the last vector overlaps
        vec m;
        if (SW == 2) {
          const float* tp = t + 2 * o;
          m = __builtin_shuffle(vload(tp), vload(tp + kVec), ev);
          for (int64_t kw = 1; kw < KW; ++kw) {
            const float* q = tp + (kw & ~int64_t(1));
            const vec a = vload(q), b = vload(q + kVec);
            m = vmax(m, (kw & 1) ? __builtin_shuffle(a, b, od) : __builtin_shuffle(a, b, ev));
          }
        } else {
          m = vload(t + o);
          for (int64_t kw = 1; kw < KW; ++kw) m = vmax(m, vload(t + o + kw));
        }
        if (SW == 2 && kVec > 4) m = __builtin_shuffle(m, fix);
        vstore(yr + o, m);
        if (o + kVec >= hi) break;
      }
    } else {
      for (int64_t ow = lo; ow < hi; ++ow) {
        float m = t[ow * SW];
        for (int64_t kw = 1; kw < KW; ++kw) m = m > t[ow * SW + kw] ? m : t[ow * SW + kw];
        yr[ow] = m;
      }
    }
    for (int64_t ow = 0; ow < lo; ++ow) yr[ow] = 0.f;
    for (int64_t ow = hi; ow < OW; ++ow) yr[ow] = 0.f;
  }
}

#include "kernels/portable/blocked_impl.h"

static const ConvKernels kConvKernels = {kLanes, kVec, dw_flat, bias_act, dw_plane, dw_block, wino_in,
                                         wino_out, wino_gather, wino_scatter, gemv,
                                         direct_row, kMR, micro_conv, maxpool, dw_rows,
                                         pw_blocked, dw_blocked, stem_blocked, to_blocked,
                                         from_blocked};

}  // namespace MNN_KNS
}  // namespace mnncpu
