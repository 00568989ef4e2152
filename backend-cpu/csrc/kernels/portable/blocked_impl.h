// Kernels over channel-blocked tensors ([N][ceil(C/8)][H][W][8], see conv_kernels.h): included by
// conv_impl.h inside namespace MNN_KNS, so each ISA compiles them with its own flags. The block is
// 8 floats on every ISA (one AVX2 register; two SSE/NEON registers; AVX-512 builds use ymm).

#include "kernels/portable/v8.h"

template <int ACT>
static inline v8 act8(v8 v, const float* p) {
  const v8 zero = {};
  switch (ACT) {
    case 1: return v > zero ? v : zero;
    case 2: v = v < p[0] ? bc8(p[0]) : v; return v > p[1] ? bc8(p[1]) : v;
    case 3: return v >= zero ? v : v * p[0];
    case 4: { v8 h = v * p[0] + p[1]; h = h < zero ? zero : h; return h > 1.f ? bc8(1.f) : h; }
    case 5: { v8 h = v * (1.f / 6.f) + 0.5f; h = h < zero ? zero : h; return v * (h > 1.f ? bc8(1.f) : h); }
    default: return v;
  }
}

// f(std::integral_constant<int, ACT>) for the activation codes 0-5 the kernels fuse: one switch
// turns a run-time code into the template argument.
template <class F>
static inline void with_act(int act, F&& f) {
  switch (act) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

// ---- pointwise (1x1) convolution --------------------------------------------------------------------
// PT pixels x OB output blocks held in registers; per input channel, OB weight vectors and PT
// broadcast input scalars: no packing of the input, which already has pixels as rows.
template <int OB, int PT, int ACT>
__attribute__((always_inline)) static inline void pw_tile(const float* x, int64_t xstride, int64_t Kb, const float* w, int64_t wstride,
                           const float* bias, float* y, int64_t ystride, const float* res, const float* prm) {
  v8 acc[OB][PT];
  for (int o = 0; o < OB; ++o) {
    const v8 b = ld8(bias + o * 8);
    for (int p = 0; p < PT; ++p) acc[o][p] = b;
  }
  const float* const x_end = x + Kb * xstride;  // Kb >= 1: a do-while keeps acc in registers
  do {
#pragma GCC unroll 8
    for (int kk = 0; kk < 8; ++kk) {
      v8 wv[OB];
      for (int o = 0; o < OB; ++o) wv[o] = ld8(w + o * wstride + kk * 8);
      for (int p = 0; p < PT; ++p) {
        const v8 xs = bc8(x[p * 8 + kk]);
        for (int o = 0; o < OB; ++o) acc[o][p] += wv[o] * xs;
      }
    }
    x += xstride;
    w += 64;
  } while (x != x_end);
  if (res) {
    for (int o = 0; o < OB; ++o)
      for (int p = 0; p < PT; ++p)
        st8(y + o * ystride + p * 8, act8<ACT>(acc[o][p], prm) + ld8(res + o * ystride + p * 8));
  } else {
    for (int o = 0; o < OB; ++o)
      for (int p = 0; p < PT; ++p) st8(y + o * ystride + p * 8, act8<ACT>(acc[o][p], prm));
  }
}

// Pixels [p0, p1) of OB output blocks: full tiles of PT, then one tile of the remainder.
template <int OB, int PT, int ACT>
static void pw_run(const float* x, int64_t xs, int64_t Kb, const float* w, int64_t K8, const float* bias,
                   float* y, int64_t ys, const float* res, int64_t p0, int64_t p1, const float* prm) {
  int64_t p = p0;
  for (; p + PT <= p1; p += PT)
    pw_tile<OB, PT, ACT>(x + p * 8, xs, Kb, w, K8, bias, y + p * 8, ys, res ? res + p * 8 : nullptr, prm);
  const int64_t r = p1 - p;
  if (r <= 0) return;
  const float* xp = x + p * 8;
  float* yp = y + p * 8;
  const float* rp = res ? res + p * 8 : nullptr;
#define MNN_PW_REM(n) \
  case n: if (n < PT) pw_tile<OB, (n < PT ? n : 1), ACT>(xp, xs, Kb, w, K8, bias, yp, ys, rp, prm); break;
  switch (r) {
    MNN_PW_REM(1) MNN_PW_REM(2) MNN_PW_REM(3) MNN_PW_REM(4) MNN_PW_REM(5) MNN_PW_REM(6)
    MNN_PW_REM(7) MNN_PW_REM(8) MNN_PW_REM(9) MNN_PW_REM(10) MNN_PW_REM(11)
    default: break;
  }
#undef MNN_PW_REM
}

template <int OB, int PT>
static void pw_run_act(const float* x, int64_t xs, int64_t Kb, const float* w, int64_t K8, const float* bias,
                       float* y, int64_t ys, const float* res, int64_t p0, int64_t p1, int act, const float* prm) {
  with_act(act, [&](auto a) {
    pw_run<OB, PT, decltype(a)::value>(x, xs, Kb, w, K8, bias, y, ys, res, p0, p1, prm);
  });
}

// y[ob][p] = act(bias[ob] + sum_k w[ob][k] * x[k / 8][p][k % 8]) (+ res[ob][p]) for pixels
// [p0, p1) and output blocks [ob0, ob1). x: Kb blocks xs floats apart; w: [Mb][Kb * 8][8]; bias:
// [Mb][8]; y and res (may be null): blocks ys floats apart.
static void pw_blocked(const float* x, int64_t xs, int64_t Kb, const float* w, const float* bias, float* y,
                       int64_t ys, const float* res, int64_t p0, int64_t p1, int64_t ob0, int64_t ob1, int act,
                       const float* prm) {
  const int64_t K8 = Kb * 64;  // floats per output block of weights
  int64_t ob = ob0;
  while (ob < ob1) {
    const int64_t left = ob1 - ob;
    const int OB = left >= 2 ? (left == 3 ? 3 : 2) : 1;  // pairs; an odd tail of 3 as one group
    const float* wb = w + ob * K8;
    const float* bb = bias + ob * 8;
    float* yb = y + ob * ys;
    const float* rb = res ? res + ob * ys : nullptr;
    if (OB == 2) pw_run_act<2, 6>(x, xs, Kb, wb, K8, bb, yb, ys, rb, p0, p1, act, prm);
    else if (OB == 3) pw_run_act<3, 4>(x, xs, Kb, wb, K8, bb, yb, ys, rb, p0, p1, act, prm);
    else pw_run_act<1, 12>(x, xs, Kb, wb, K8, bb, yb, ys, rb, p0, p1, act, prm);
    ob += OB;
  }
}

// ---- direct convolution of few input channels into channel blocks (network stems) ------------------
// PT output columns x OB output blocks in registers; tap t of column ow reads rows[offs[t] + ow]
// (direct_fill's phase-split rows), broadcast against OB weight vectors ([Mb][taps][8]).
template <int OB, int PT, int ACT>
__attribute__((always_inline)) static inline void stem_tile(const float* src, const int64_t* offs, int taps,
                                                            const float* w, int64_t wstride, const float* bias,
                                                            float* y, int64_t ystride, const float* prm) {
  v8 acc[OB][PT];
  for (int o = 0; o < OB; ++o) {
    const v8 b = ld8(bias + o * 8);
    for (int p = 0; p < PT; ++p) acc[o][p] = b;
  }
  for (int t = 0; t < taps; ++t) {
    const float* s = src + offs[t];
    v8 wv[OB];
    for (int o = 0; o < OB; ++o) wv[o] = ld8(w + o * wstride + t * 8);
    for (int p = 0; p < PT; ++p) {
      const v8 xs = bc8(s[p]);
      for (int o = 0; o < OB; ++o) acc[o][p] += wv[o] * xs;
    }
  }
  for (int o = 0; o < OB; ++o)
    for (int p = 0; p < PT; ++p) st8(y + o * ystride + p * 8, act8<ACT>(acc[o][p], prm));
}

template <int OB, int PT, int ACT>
static void stem_run(const float* rows, const DirectGeom& g, const float* w, int64_t wstride, const float* bias,
                     float* y, int64_t ystride, const float* prm) {
  int64_t ow = 0;
  for (; ow + PT <= g.OW; ow += PT)
    stem_tile<OB, PT, ACT>(rows + ow, g.offs, g.taps, w, wstride, bias, y + ow * 8, ystride, prm);
  const int64_t r = g.OW - ow;
  const float* src = rows + ow;
  float* yp = y + ow * 8;
#define MNN_STEM_REM(n) \
  case n: if (n < PT) stem_tile<OB, (n < PT ? n : 1), ACT>(src, g.offs, g.taps, w, wstride, bias, yp, ystride, prm); break;
  switch (r) {
    MNN_STEM_REM(1) MNN_STEM_REM(2) MNN_STEM_REM(3) MNN_STEM_REM(4) MNN_STEM_REM(5) MNN_STEM_REM(6)
    MNN_STEM_REM(7) MNN_STEM_REM(8) MNN_STEM_REM(9) MNN_STEM_REM(10) MNN_STEM_REM(11)
    default: break;
  }
#undef MNN_STEM_REM
}

template <int ACT>
static void stem_row_t(const DirectGeom& g, const float* rows, const float* w, const float* bias, int64_t Mb,
                       float* y, int64_t ystride, const float* prm) {
  const int64_t wstride = g.taps * 8;
  for (int64_t ob = 0; ob < Mb;) {
    const int64_t left = Mb - ob;
    const float* wb = w + ob * wstride;
    float* yb = y + ob * ystride;
    if (left >= 2) {
      stem_run<2, 6, ACT>(rows, g, wb, wstride, bias + ob * 8, yb, ystride, prm);
      ob += 2;
    } else {
      stem_run<1, 12, ACT>(rows, g, wb, wstride, bias + ob * 8, yb, ystride, prm);
      ob += 1;
    }
  }
}

// Output row oh of a direct conv into channel blocks: y is row oh of block 0, blocks ystride floats
// apart; w: [Mb][taps][8], bias: [Mb][8] (zero-padded); act codes 0-5. rows: as direct_row's.
static void stem_blocked(const DirectGeom& g, const float* x, int64_t oh, const float* w, const float* bias,
                         int64_t Mb, int act, const float* prm, float* rows, float* y, int64_t ystride) {
  direct_fill(g, x, oh, rows);
  with_act(act, [&](auto a) { stem_row_t<decltype(a)::value>(g, rows, w, bias, Mb, y, ystride, prm); });
}

// ---- depthwise convolution --------------------------------------------------------------------------
// One output row of one channel block: columns whose taps all fall inside the row go U at a time
// with no bounds checks; the edge columns check each tap. KW and SW are compile-time for the
// common kernels (0: read from g), so the unrolled taps address with constants.
template <int KW, int SW, int ACT>
static inline void dw_blocked_row(const BlockedDwGeom& g, const float* x, const float* w, v8 bias,
                                  int64_t kh0, int64_t kh1, int64_t ih0, float* y, const float* prm) {
  const int64_t kw_n = KW ? KW : g.KW, sw = SW ? SW : g.SW;
  const int64_t W8 = g.W * 8;
  // Interior columns: ow * SW - PL >= 0 and ow * SW - PL + (KW - 1) * DW <= W - 1.
  int64_t lo = (g.PL + sw - 1) / sw;
  const int64_t last = g.W - 1 - (kw_n - 1) * g.DW + g.PL;  // largest ow * SW allowed
  int64_t hi = last < 0 ? 0 : last / sw + 1;
  if (hi > g.OW) hi = g.OW;
  if (lo > hi) lo = hi;
  auto edge = [&](int64_t ow) {
    v8 acc = bias;
    const int64_t iw0 = ow * sw - g.PL;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* row = x + (ih0 + kh * g.DH) * W8;
      for (int64_t kw = 0; kw < kw_n; ++kw) {
        const int64_t iw = iw0 + kw * g.DW;
        if (iw >= 0 && iw < g.W) acc += ld8(w + (kh * kw_n + kw) * 8) * ld8(row + iw * 8);
      }
    }
    st8(y + ow * 8, act8<ACT>(acc, prm));
  };
  for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
  constexpr int U = 4;
  const int64_t step = sw * 8, dstep = g.DW * 8;
  int64_t ow = lo;
  for (; ow + U <= hi; ow += U) {
    v8 acc[U];
    for (int u = 0; u < U; ++u) acc[u] = bias;
    const float* base = x + (ow * sw - g.PL) * 8;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* row = base + (ih0 + kh * g.DH) * W8;
      const float* wk = w + kh * kw_n * 8;
      for (int64_t kw = 0; kw < kw_n; ++kw) {
        const v8 wv = ld8(wk + kw * 8);
        const float* src = row + kw * dstep;
        for (int u = 0; u < U; ++u) acc[u] += wv * ld8(src + u * step);
      }
    }
    for (int u = 0; u < U; ++u) st8(y + (ow + u) * 8, act8<ACT>(acc[u], prm));
  }
  for (; ow < hi; ++ow) {
    v8 acc = bias;
    const float* base = x + (ow * sw - g.PL) * 8;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* row = base + (ih0 + kh * g.DH) * W8;
      for (int64_t kw = 0; kw < kw_n; ++kw) acc += ld8(w + (kh * kw_n + kw) * 8) * ld8(row + kw * dstep);
    }
    st8(y + ow * 8, act8<ACT>(acc, prm));
  }
  for (ow = hi > lo ? hi : lo; ow < g.OW; ++ow) edge(ow);
}

template <int KW, int SW, int ACT>
static void dw_blocked_rows(const BlockedDwGeom& g, const float* x, const float* w, const float* bias, float* y,
                            int64_t oh0, int64_t oh1, const float* prm) {
  const v8 b = ld8(bias);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * g.SH - g.PT;
    int64_t kh0 = 0, kh1 = g.KH;
    while (kh0 < kh1 && ih0 + kh0 * g.DH < 0) ++kh0;
    while (kh1 > kh0 && ih0 + (kh1 - 1) * g.DH >= g.H) --kh1;
    dw_blocked_row<KW, SW, ACT>(g, x, w, b, kh0, kh1, ih0, y + oh * g.OW * 8, prm);
  }
}

template <int ACT>
static void dw_blocked_act(const BlockedDwGeom& g, const float* x, const float* w, const float* bias, float* y,
                           int64_t oh0, int64_t oh1, const float* prm) {
  if (g.KW == 3 && g.SW == 1) return dw_blocked_rows<3, 1, ACT>(g, x, w, bias, y, oh0, oh1, prm);
  if (g.KW == 3 && g.SW == 2) return dw_blocked_rows<3, 2, ACT>(g, x, w, bias, y, oh0, oh1, prm);
  if (g.KW == 5 && g.SW == 1) return dw_blocked_rows<5, 1, ACT>(g, x, w, bias, y, oh0, oh1, prm);
  if (g.KW == 5 && g.SW == 2) return dw_blocked_rows<5, 2, ACT>(g, x, w, bias, y, oh0, oh1, prm);
  dw_blocked_rows<0, 0, ACT>(g, x, w, bias, y, oh0, oh1, prm);
}

// Output rows [oh0, oh1) of one channel block: x [H][W][8], y [OH][OW][8], w [KH * KW][8], bias [8].
static void dw_blocked(const BlockedDwGeom& g, const float* x, const float* w, const float* bias, float* y,
                       int64_t oh0, int64_t oh1, int act, const float* prm) {
  with_act(act, [&](auto a) { dw_blocked_act<decltype(a)::value>(g, x, w, bias, y, oh0, oh1, prm); });
}

// ---- layout changes ---------------------------------------------------------------------------------
// n pixels of C planar channels (x: pixel 0 of channel 0, channels xs floats apart) into blocks
// (y: pixel 0 of block 0, blocks ys floats apart); pad lanes are written as 0.
static void to_blocked(const float* x, int64_t xs, int64_t C, int64_t n, float* y, int64_t ys) {
  for (int64_t cb = 0; cb * 8 < C; ++cb) {
    const int64_t nc = C - cb * 8 < 8 ? C - cb * 8 : 8;
    const float* xc = x + cb * 8 * xs;
    float* yb = y + cb * ys;
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
      v8 r[8];
      for (int l = 0; l < 8; ++l) r[l] = l < nc ? ld8(xc + l * xs + p) : v8{};
      transpose8(r);
      for (int u = 0; u < 8; ++u) st8(yb + (p + u) * 8, r[u]);
    }
    for (; p < n; ++p)
      for (int l = 0; l < 8; ++l) yb[p * 8 + l] = l < nc ? xc[l * xs + p] : 0.f;
  }
}

// The inverse: n pixels of blocks (x, xs floats apart) into C planar channels (y, ys floats apart).
static void from_blocked(const float* x, int64_t xs, int64_t C, int64_t n, float* y, int64_t ys) {
  for (int64_t cb = 0; cb * 8 < C; ++cb) {
    const int64_t nc = C - cb * 8 < 8 ? C - cb * 8 : 8;
    const float* xb = x + cb * xs;
    float* yc = y + cb * 8 * ys;
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
      v8 r[8];
      for (int u = 0; u < 8; ++u) r[u] = ld8(xb + (p + u) * 8);
      transpose8(r);
      for (int l = 0; l < nc; ++l) st8(yc + l * ys + p, r[l]);
    }
    for (; p < n; ++p)
      for (int l = 0; l < nc; ++l) yc[l * ys + p] = xb[p * 8 + l];
  }
}
