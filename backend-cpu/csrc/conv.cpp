// Convolution algorithms. Every one fuses bias and activation and packs or transforms its weights
// once, when the op is created:
//  - GEMM: 1x1 convs read the input as the GEMM's B directly; others im2col into packed panels.
//  - depthwise: each plane is copied once into zero-padded stride phases, after which every output
//    of the flattened plane is one vectorised multiply-add per tap (no per-row edge handling, which
//    is what made small maps and stride 2 slow).
//  - channel-blocked depthwise: `vec` channels at a time are interleaved into a zero-padded band
//    of rows, so every tap is one vector multiply-add for any map size and stride; the transposes
//    in and out are in-register. This is the default: small maps and stride 2 cost no more per
//    output than large ones.
//  - planar depthwise (large maps): per channel, a band of padded input rows split into SW column
//    phases, every output row computed along the row in whole vectors with bias and activation in
//    the store. No transposes; a tuner variant (see auto_algo for why it is not the default).
//  - Winograd F(m x m, 3 x 3), m in {2, 4, 6}: tiles fill the GEMM's NR-wide panels, the alpha^2
//    transformed weight matrices are pre-packed, and each tile position is one packed GEMM.
//  - direct (C * KH * KW <= 64, or up to 160 for C <= 4: stems): per output row, the input rows split into column phases,
//    4 output channels x 3 vectors of columns per tap; im2col's gathers cost more than the math.
// Shapes that waste most of a GEMM tile take other routes inside "gemm": one output position is a
// matrix-vector product; maps of <= 64 positions put positions on the MR side (49 of 54 rows used
// instead of 49 of 64 columns); 1x1 projections (K >= M) pack B panel by panel with the fused
// bias/activation micro-kernel (conv_impl.h micro_conv).
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gemm.h"
#include "kernels/conv_kernels.h"
#include "parallel.h"

namespace mnncpu {
namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

struct ConvGeom {
  int64_t N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL, G;
};

ConvGeom parse_geom(const std::vector<int64_t>& v) {
  check(v.size() == 18 || v.size() == 19, "conv: expected 18 or 19 ints");
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

const ConvKernels* conv_kernels_for(const KernelTable* k) {
#ifdef MNN_X86
  if (std::strcmp(k->isa, "avx512") == 0) return conv_kernels_avx512();
  if (std::strcmp(k->isa, "avx2") == 0) return conv_kernels_avx2();
#endif
#ifdef MNN_ARM64
  if (std::strcmp(k->isa, "neon") == 0) return conv_kernels_neon();
#endif
  return conv_kernels_baseline();
}

bool depthwise_ok(const ConvGeom& g) {
  return g.G == g.C && g.M == g.C && g.SH <= 2 && g.SW <= 2;
}

bool winograd_ok(const ConvGeom& g, const KernelTable* k) {
  return g.G == 1 && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 &&
         conv_kernels_for(k)->lanes == k->nr;
}

int wino_m(int algo) { return algo == CONV_WINO2 ? 2 : algo == CONV_WINO4 ? 4 : 6; }

// Multiply-adds of F(m, 3) per image, transforms included (about half their coefficients are
// zeros and skipped). Tiles are padded to whole NR panels, which is what rules out big tiles on
// small maps.
double winograd_cost(const ConvGeom& g, int m, int nr) {
  const double a = m + 2;
  const double tiles = static_cast<double>(round_up(ceil_div(g.OH, m) * ceil_div(g.OW, m), nr));
  const double gemm = a * a * tiles * g.C * g.M;
  const double in = tiles * g.C * a * a * a;
  const double out = tiles * g.M * (a * a * m + a * m * m) / 2;
  return gemm + in + out;
}

bool dwblock_ok(const ConvGeom& g) { return g.G == g.C && g.M == g.C; }

bool dwrow_ok(const ConvGeom& g) { return dwblock_ok(g) && g.SW <= 2; }


// Few input channels (stems: RGB in): im2col's gathers would cost more than the arithmetic.
bool direct_ok(const ConvGeom& g) {
  const int64_t taps = g.C * g.KH * g.KW;
  return g.G == 1 && g.SW <= 2 && g.DW == 1 && g.KH * g.KW > 1 && (taps <= 64 || (g.C <= 4 && taps <= 160));
}

int auto_algo(const ConvGeom& g, const KernelTable* k) {
  // Channel blocks stay the default for every map size: planar rows (dwrow) measured no faster
  // anywhere on mobilenet_v2 shapes (AMD EPYC, AVX2, 1 thread): 32 x 112x112 s1 240-260 vs
  // 240-245 us, 96 x 112x112 s2 429 vs 284 (its phase-split pass), 144 x 56x56 300 vs 260, 960 x
  // 7x7 260 vs 57 (per-plane row setup). Offered to the tuner as a variant.
  if (dwblock_ok(g)) return CONV_DWBLOCK;
  // RGB stems up to 7x7: resnet18's 3 -> 64, 7x7 s2 at 224: 2.8 ms direct vs 4.1 ms im2col (1 thread).
  if (direct_ok(g) && g.C <= 4 && g.M >= 8 && g.OW >= 16) return CONV_DIRECT;
  int best = CONV_GEMM;
  if (winograd_ok(g, k)) {
    // Direct cost with a margin for im2col, which Winograd's transforms partly replace.
    double best_cost = 1.1 * static_cast<double>(g.OH * g.OW) * 9 * g.C * g.M;
    for (int algo : {CONV_WINO2, CONV_WINO4, CONV_WINO6}) {
      const double cost = winograd_cost(g, wino_m(algo), k->nr);
      if (cost < best_cost) best = algo, best_cost = cost;
    }
  }
  return best;
}

// Cook-Toom matrices of F(m, 3) over the points 0, 1, -1, 2, -2, 1/2, -1/2 and infinity:
// y = A^T [(G g) * (B^T d)]. Row j of B^T holds the coefficients of prod_{l != j} (x - p_l), the
// last row those of prod_l (x - p_l); G carries the 1 / prod_{l != j} (p_j - p_l) normalisation.
struct WinoMatrices {
  std::vector<double> at, g, bt;  // m x alpha, alpha x 3, alpha x alpha
};

WinoMatrices cook_toom(int m) {
  static const double points[] = {0, 1, -1, 2, -2, 0.5, -0.5};
  const int r = 3, alpha = m + r - 1, n = alpha - 1;
  WinoMatrices w;
  w.at.assign(m * alpha, 0.0);
  w.g.assign(alpha * r, 0.0);
  w.bt.assign(alpha * alpha, 0.0);
  auto poly_except = [&](int skip, double* out) {  // coefficients, lowest power first
    std::vector<double> p(1, 1.0);
    for (int l = 0; l < n; ++l) {
      if (l == skip) continue;
      std::vector<double> q(p.size() + 1, 0.0);
      for (size_t i = 0; i < p.size(); ++i) {
        q[i + 1] += p[i];
        q[i] -= points[l] * p[i];
      }
      p.swap(q);
    }
    for (size_t i = 0; i < p.size(); ++i) out[i] = p[i];
  };
  for (int j = 0; j < n; ++j) {
    double f = 1.0;
    for (int l = 0; l < n; ++l)
      if (l != j) f *= points[j] - points[l];
    for (int i = 0; i < m; ++i) w.at[i * alpha + j] = std::pow(points[j], i);
    for (int k = 0; k < r; ++k) w.g[j * r + k] = std::pow(points[j], k) / f;
    poly_except(j, &w.bt[j * alpha]);
  }
  w.at[(m - 1) * alpha + n] = 1.0;
  w.g[n * r + r - 1] = 1.0;
  poly_except(-1, &w.bt[n * alpha]);
  return w;
}


// Panels per task (at most pmax) of `images` x `panels` equal panels on `threads` threads that take
// tasks in order as they finish: the fewest panels on the busiest thread, then the largest tasks.
// (Winograd's 13 panels at 55x55 in blocks of 4 leave one thread 8 panels where 7 will do.)
int64_t balanced_panels(int64_t images, int64_t panels, int64_t pmax, int threads) {
  int64_t best = pmax, best_span = INT64_MAX;
  for (int64_t per = pmax; per >= 1; --per) {
    std::vector<int64_t> load(threads, 0);
    for (int64_t n = 0; n < images; ++n)
      for (int64_t p0 = 0; p0 < panels; p0 += per)
        *std::min_element(load.begin(), load.end()) += std::min(per, panels - p0);
    const int64_t span = *std::max_element(load.begin(), load.end());
    if (span < best_span) best = per, best_span = span;
  }
  return best;
}

// C[mc x nc] = A * B from packed panels, then c = act(c + bias[row]) strip by strip (MR rows) while
// the strip is still in L1, instead of one more pass over the whole tile.
void gemm_bias_act(const KernelTable* k, const ConvKernels* ck, int64_t mc, int64_t nc, int64_t K,
                   const float* pa, const float* pb, float* c, int64_t ldc, const float* bias, int act,
                   const float* params) {
  const int MR = k->mr, NR = k->nr;
  alignas(64) float tmp[8 * 64];
  for (int64_t k0 = 0; k0 < std::max<int64_t>(K, 1); k0 += kKC) {
    const int64_t kc = std::min(kKC, K - k0);
    const bool acc = k0 > 0, last = k0 + kKC >= K;
    for (int64_t i = 0; i < mc; i += MR) {
      const float* ap = pa + (i / MR) * K * MR + k0 * MR;
      const int64_t mr = std::min<int64_t>(MR, mc - i);
      float* ci = c + i * ldc;
      for (int64_t j = 0; j < nc; j += NR) {
        const float* bp = pb + (j / NR) * K * NR + k0 * NR;
        const int64_t nr = std::min<int64_t>(NR, nc - j);
        if (kc <= 0) {
          for (int64_t r = 0; r < mr; ++r) std::memset(ci + r * ldc + j, 0, sizeof(float) * nr);
        } else if (mr == MR && nr == NR) {
          k->micro(kc, ap, bp, ci + j, ldc, acc);
        } else {
          k->micro(kc, ap, bp, tmp, NR, false);
          for (int64_t r = 0; r < mr; ++r)
            for (int64_t t = 0; t < nr; ++t)
              ci[r * ldc + j + t] = acc ? ci[r * ldc + j + t] + tmp[r * NR + t] : tmp[r * NR + t];
        }
      }
      if (last && !ck->bias_act(ci, mr, nc, ldc, bias + i, act, params)) {
        ck->bias_act(ci, mr, nc, ldc, bias + i, 0, params);
        for (int64_t r = 0; r < mr; ++r) k->unary(ci + r * ldc, ci + r * ldc, nc, act, params);
      }
    }
  }
}

// kc rows of nr <= NR columns (row stride ldb) into one zero-padded NR-column panel. Fixed-size
// copies for the usual widths: per-row library calls cost more than the copy itself.
void pack_panel(const float* b, int64_t ldb, int64_t kc, int64_t nr, int NR, float* dst) {
  if (nr == NR && (NR == 8 || NR == 16 || NR == 32)) {
    for (int64_t r = 0; r < kc; ++r, b += ldb, dst += NR) {
      if (NR == 16) std::memcpy(dst, b, 64);
      else if (NR == 32) std::memcpy(dst, b, 128);
      else std::memcpy(dst, b, 32);
    }
    return;
  }
  for (int64_t r = 0; r < kc; ++r, b += ldb, dst += NR) {
    for (int64_t t = 0; t < nr; ++t) dst[t] = b[t];
    for (int64_t t = nr; t < NR; ++t) dst[t] = 0.f;
  }
}

// 1x1 convolutions: B is the input itself. Each NR-column panel is packed just before use into an
// L1 buffer and reused by every MR-row panel of an L2-sized block of A; bias and activation then
// run on that block's columns while they are still in L1. Packing a whole tile first went through
// L2, which cost as much as the arithmetic when K (input channels) is small.
void gemm_pointwise(const KernelTable* k, const ConvKernels* ck, int64_t mc, int64_t nc, int64_t K,
                    const float* pa, const float* b, int64_t ldb, float* c, int64_t ldc,
                    const float* bias, int act, const float* params, float* pb) {
  const int MR = k->mr, NR = k->nr;
  const int64_t mb_max = std::max<int64_t>(MR, 32768 / kKC / MR * MR);  // A block: ~128 KiB
  const bool fused = ck->mr == MR && ck->lanes == NR && act >= 0 && act <= 5;
  alignas(64) float tmp[8 * 64];
  for (int64_t k0 = 0; k0 < K; k0 += kKC) {
    const int64_t kc = std::min(kKC, K - k0);
    const bool acc = k0 > 0, last = k0 + kKC >= K;
    for (int64_t m0 = 0; m0 < mc; m0 += mb_max) {
      const int64_t mb = std::min(mb_max, mc - m0);
      for (int64_t j = 0; j < nc; j += NR) {
        const int64_t nr = std::min<int64_t>(NR, nc - j);
        // The panel's rows are kc streams, too many for the hardware prefetcher: fetch the rows
        // of the panel after next now (the input is usually cold: the producer wrote it to L3).
        if (j + 2 * NR < nc)
          for (int64_t r = 0; r < kc; ++r) __builtin_prefetch(b + (k0 + r) * ldb + j + 2 * NR, 0, 3);
        pack_panel(b + k0 * ldb + j, ldb, kc, nr, NR, pb);
        for (int64_t i = m0; i < m0 + mb; i += MR) {
          const float* ap = pa + (i / MR) * K * MR + k0 * MR;
          const int64_t mr = std::min<int64_t>(MR, mc - i);
          float* ci = c + i * ldc + j;
          // The block's rows are too many streams for the hardware prefetcher: ask for the lines
          // of the next panel's outputs now, a whole panel of micro-kernels ahead.
          if (last && j + NR < nc)
            for (int64_t r = 0; r < mr; ++r) __builtin_prefetch(ci + r * ldc + NR, 1, 3);
          if (fused && nr == NR) {
            ck->micro_conv(kc, ap, pb, ci, ldc, static_cast<int>(mr), !acc, last, bias + i, act, params);
            continue;
          }
          if (fused) {  // last columns: through a full-width buffer
            for (int64_t r = 0; r < mr && acc; ++r)
              for (int64_t t = 0; t < nr; ++t) tmp[r * NR + t] = ci[r * ldc + t];
            ck->micro_conv(kc, ap, pb, tmp, NR, static_cast<int>(mr), !acc, last, bias + i, act, params);
            for (int64_t r = 0; r < mr; ++r)
              for (int64_t t = 0; t < nr; ++t) ci[r * ldc + t] = tmp[r * NR + t];
            continue;
          }
          if (mr == MR && nr == NR) {
            k->micro(kc, ap, pb, ci, ldc, acc);
            continue;
          }
          k->micro(kc, ap, pb, tmp, NR, false);
          for (int64_t r = 0; r < mr; ++r)
            for (int64_t t = 0; t < nr; ++t)
              ci[r * ldc + t] = acc ? ci[r * ldc + t] + tmp[r * NR + t] : tmp[r * NR + t];
        }
        if (!last || fused) continue;
        float* cb = c + m0 * ldc + j;
        if (!ck->bias_act(cb, mb, nr, ldc, bias + m0, act, params)) {
          ck->bias_act(cb, mb, nr, ldc, bias + m0, 0, params);
          for (int64_t r = 0; r < mb; ++r) k->unary(cb + r * ldc, cb + r * ldc, nr, act, params);
        }
      }
    }
  }
}

// im2col straight into NR-column panels: columns [n0, n0+nc) of the [Cg*KH*KW, OH*OW] matrix.
// A segment is a run of output columns inside one output row and one panel, so every (k, segment)
// pair is a clipped (strided) copy of one input row.
struct Segment {
  int64_t dst, len, ih0, iw0;
};

void im2col_pack(const ConvGeom& g, const float* x, int64_t Cg, int64_t n0, int64_t nc, int NR,
                 float* dst, Segment* seg) {
  const int64_t K = Cg * g.KH * g.KW;
  int64_t nseg = 0;
  for (int64_t n = n0; n < n0 + nc;) {
    const int64_t oh = n / g.OW, ow = n % g.OW, col = n - n0;
    const int64_t t = col % NR, panel = col / NR;
    const int64_t len = std::min({g.OW - ow, NR - t, n0 + nc - n});
    seg[nseg++] = {panel * K * NR + t, len, oh * g.SH - g.PT, ow * g.SW - g.PL};
    n += len;
  }
  const int64_t tail = round_up(nc, NR) - nc;  // zero columns of the last panel
  float* tail_dst = dst + (nc / NR) * K * NR + nc % NR;
  for (int64_t c = 0; c < Cg; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t k = (c * g.KH + kh) * g.KW + kw;
        for (int64_t s = 0; s < nseg; ++s) {
          const Segment& sg = seg[s];
          float* d = dst + sg.dst + k * NR;
          const int64_t ih = sg.ih0 + kh * g.DH;
          if (ih < 0 || ih >= g.H) {
            std::memset(d, 0, sizeof(float) * sg.len);
            continue;
          }
          const float* row = xc + ih * g.W;
          const int64_t iw = sg.iw0 + kw * g.DW;  // input column of the segment's first element
          int64_t lo = iw >= 0 ? 0 : ceil_div(-iw, g.SW);
          int64_t hi = g.W - iw <= 0 ? 0 : ceil_div(g.W - iw, g.SW);
          lo = std::min(lo, sg.len);
          hi = std::max(lo, std::min(hi, sg.len));
          for (int64_t i = 0; i < lo; ++i) d[i] = 0.f;
          if (g.SW == 1) {
            std::memcpy(d + lo, row + iw + lo, sizeof(float) * (hi - lo));
          } else if (g.SW == 2) {  // every other column: even lanes of vector pairs (~4x a scalar loop)
            typedef float v4 __attribute__((vector_size(16)));
            typedef int32_t i4 __attribute__((vector_size(16)));
            const i4 even = {0, 2, 4, 6};
            const float* src = row + iw;
            int64_t i = lo;
            for (; i + 4 < hi; i += 4) {  // reads src[2i, 2i + 8), all before the last column read
              v4 a, b;
              std::memcpy(&a, src + 2 * i, sizeof a);
              std::memcpy(&b, src + 2 * i + 4, sizeof b);
              const v4 e = __builtin_shuffle(a, b, even);
              std::memcpy(d + i, &e, sizeof e);
            }
            for (; i < hi; ++i) d[i] = src[2 * i];
          } else {
            for (int64_t i = lo; i < hi; ++i) d[i] = row[iw + i * g.SW];
          }
          for (int64_t i = hi; i < sg.len; ++i) d[i] = 0.f;
        }
        for (int64_t i = 0; i < tail; ++i) tail_dst[k * NR + i] = 0.f;
      }
    }
  }
}

class ConvOp : public Op {
 public:
  // ints: N C H W M OH OW KH KW SH SW DH DW PT PL G act has_bias [algo]
  ConvOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
         const KernelTable* k, int threads)
      : g_(parse_geom(v)), ck_(conv_kernels_for(k)) {
    act_ = static_cast<int>(v[16]);
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
    Cg_ = g_.C / g_.G;
    Mg_ = g_.M / g_.G;
    Kg_ = Cg_ * g_.KH * g_.KW;
    P_ = g_.OH * g_.OW;
    check(w.size() >= 1 && w[0].numel() == g_.M * Kg_, "conv: weight size mismatch");
    bias_.assign(g_.M, 0.f);
    if (v[17]) {
      check(w.size() >= 2 && w[1].numel() == g_.M, "conv: bias size mismatch");
      const float* b = static_cast<const float*>(w[1].data);
      bias_.assign(b, b + g_.M);
    }
    const float* wd = static_cast<const float*>(w[0].data);
    const auto allowed = conv_candidates(v, k);
    const int want = v.size() > 18 ? static_cast<int>(v[18]) : CONV_AUTO;
    algo_ = std::find(allowed.begin(), allowed.end(), want) != allowed.end() ? want : auto_algo(g_, k);
    if (algo_ == CONV_DEPTHWISE) init_depthwise(wd);
    else if (algo_ == CONV_DWBLOCK) init_dwblock(wd, threads);
    else if (algo_ == CONV_DWROW) init_dwrow(wd, threads);
    else if (algo_ == CONV_GEMM) init_gemm(wd, k, threads);
    else if (algo_ == CONV_DIRECT) init_direct(wd, threads);
    else init_winograd(wd, k, threads);
  }

  const char* note() const override { return conv_algo_name(algo_); }
  int64_t scratch_bytes() const override { return scratch_floats_ * 4 + 256; }
  int64_t shared_bytes() const override {
    if (shared_v_) return g_.N * blocks_ * vblock_floats() * 4 + 64;
    return shared_b_ ? g_.N * g_.G * bstride_ * 4 + 64 : 0;
  }

  void run(const RunCtx& ctx) override {
    if (algo_ == CONV_DEPTHWISE) run_depthwise(ctx);
    else if (algo_ == CONV_DWBLOCK) run_dwblock(ctx);
    else if (algo_ == CONV_DWROW) run_dwrow(ctx);
    else if (algo_ == CONV_GEMM) run_gemm(ctx);
    else if (algo_ == CONV_DIRECT) run_direct(ctx);
    else run_winograd(ctx);
  }

 private:
  // ---- GEMM (im2col or 1x1) ---------------------------------------------------------------------
  void init_gemm(const float* wd, const KernelTable* k, int threads) {
    pointwise_ = g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 && g_.PL == 0 &&
                 g_.OH == g_.H && g_.OW == g_.W;
    // One output position (SE blocks, 1x1 heads): a matrix-vector product over W^T in NR-column
    // panels, since the GEMM would pad the single column to NR.
    gemv_ = pointwise_ && P_ == 1 && g_.G == 1 && ck_->lanes == k->nr;
    if (gemv_) {
      weights_ = aligned_array<float>(round_up(g_.M, k->nr) * Kg_);
      pack_b(wd, 1, Kg_, Kg_, g_.M, k->nr, weights_.get());
      const int64_t panels = ceil_div(g_.M, k->nr);
      gemv_per_ = threads > 1 ? std::max<int64_t>(1, ceil_div(panels, 2 * threads)) : panels;
      gemv_chunks_ = ceil_div(panels, gemv_per_);
      return;
    }
    // Small maps (7x7): output positions would pad to NR columns (49 of 64 used). With the roles
    // swapped they are the MR rows (49 of 54) and output channels the NR columns; the result
    // goes out transposed, with bias and activation, once per NR channels.
    const auto used = [](int64_t n, int64_t r) { return static_cast<double>(n) / round_up(n, r); };
    swap_ = pointwise_ && g_.G == 1 && P_ <= 64 &&  // larger maps: measured no better
            used(P_, k->mr) * used(g_.M, k->nr) > 1.08 * used(g_.M, k->mr) * used(P_, k->nr);
    if (swap_) {
      weights_ = aligned_array<float>(round_up(g_.M, k->nr) * Kg_);
      pack_b(wd, 1, Kg_, Kg_, g_.M, k->nr, weights_.get());
      const int64_t panels = ceil_div(g_.M, k->nr);
      swap_per_ = threads > 1 ? std::max<int64_t>(1, ceil_div(panels, threads)) : panels;
      swap_chunks_ = ceil_div(panels, swap_per_);
      scratch_floats_ = round_up(P_, k->mr) * (Kg_ + k->nr) + 64;
      return;
    }
    const int MR = k->mr;
    panel_stride_ = round_up(Mg_, MR) * Kg_;
    weights_ = aligned_array<float>(g_.G * panel_stride_);
    for (int64_t gi = 0; gi < g_.G; ++gi)
      pack_a(wd + gi * Mg_ * Kg_, Kg_, 1, Mg_, Kg_, MR, weights_.get() + gi * panel_stride_);
    tiling_ = make_tiling(Mg_, P_, MR, k->nr, g_.N * g_.G, threads, 384);
    if (threads > 1) {  // tasks that balance on the pool (parallel.h)
      // Packing B costs nothing extra in any split: where row chunks would each pack the same
      // columns again, B is packed once, in parallel, into the shared buffer (phase 1 of run_gemm).
      const GemmSplit s = split_gemm(Mg_, P_, Kg_, MR, k->nr, g_.N * g_.G, threads, 384, 0.0, 0.3);
      tiling_ = {s.nc, ceil_div(P_, s.nc), s.mc, ceil_div(Mg_, s.mc)};
      // Projections (1x1, K >= M) with weights that stay in L2 (squeezes): whole columns per task
      // where there are enough of them. Each task then packs its B panels into L1 and runs every
      // row on them (gemm_pointwise), instead of row chunks reading B from a shared buffer filled
      // in a pass of its own (through L3 for large maps, and one more barrier): measured 10-30%
      // faster on squeezenet's squeezes at 2 threads.
      if (pointwise_ && Kg_ >= Mg_ && Mg_ * Kg_ <= 65536 && ceil_div(P_, k->nr) >= 2 * threads) {
        const int64_t nc = std::min<int64_t>(384, round_up(ceil_div(P_, 2 * threads), k->nr));
        tiling_ = {nc, ceil_div(P_, nc), round_up(Mg_, MR), 1};
      }
      shared_b_ = tiling_.mchunks > 1;
      bstride_ = round_up(P_, k->nr) * Kg_;
    }
    scratch_floats_ = Kg_ * tiling_.nc + 16 + (2 * tiling_.nc + 2) * (sizeof(Segment) / 4);
  }

  void run_gemm(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    if (gemv_) {
      const int64_t span = gemv_per_ * k->nr;
      ctx.pool->parallel_for(g_.N * gemv_chunks_, [&](int64_t task, int) {
        const int64_t n = task / gemv_chunks_, j0 = (task % gemv_chunks_) * span;
        const int64_t cnt = std::min(span, g_.M - j0);
        float* yj = y + n * g_.M + j0;
        gemv_packed(k, Kg_, x + n * g_.C, 1, weights_.get() + j0 * Kg_, cnt, bias_.data() + j0, yj);
        if (act_) k->unary(yj, yj, cnt, act_, params_);
      });
      return;
    }
    if (swap_) {
      run_swapped(ctx);
      return;
    }
    const Tiling& t = tiling_;
    const int64_t tasks = g_.N * g_.G * t.ntiles * t.mchunks;
    float* shared = reinterpret_cast<float*>(ctx.shared);
    if (shared_b_) {  // phase 1: B of every (image, group) once, tasks over runs of NR-column panels
      const int64_t panels = ceil_div(P_, k->nr);
      const int64_t per = std::min(t.nc / k->nr, std::max<int64_t>(1, ceil_div(panels, 4 * ctx.pool->size())));
      const int64_t runs = ceil_div(panels, per);
      ctx.pool->parallel_for(g_.N * g_.G * runs, [&](int64_t task, int tid) {
        const int64_t ng = task / runs, n0 = (task % runs) * per * k->nr, nc = std::min(per * k->nr, P_ - n0);
        const float* xg = x + ((ng / g_.G) * g_.C + (ng % g_.G) * Cg_) * g_.H * g_.W;
        float* pb = shared + ng * bstride_ + n0 * Kg_;
        if (pointwise_) {
          pack_b(xg + n0, g_.H * g_.W, 1, Kg_, nc, k->nr, pb);
        } else {
          float* scratch = ctx.thread_scratch(tid);
          im2col_pack(g_, xg, Cg_, n0, nc, k->nr, pb,
                      reinterpret_cast<Segment*>(scratch + round_up(Kg_ * t.nc, 16)));
        }
      });
    }
    ctx.pool->parallel_for(tasks, [&](int64_t task, int tid) {
      const int64_t mi = task % t.mchunks;
      int64_t rest = task / t.mchunks;
      const int64_t ni = rest % t.ntiles;
      rest /= t.ntiles;
      const int64_t gi = rest % g_.G, n = rest / g_.G;
      const int64_t n0 = ni * t.nc, nc = std::min(t.nc, P_ - n0);
      const int64_t m0 = mi * t.mc, mc = std::min(t.mc, Mg_ - m0);
      const float* xg = x + (n * g_.C + gi * Cg_) * g_.H * g_.W;
      float* pb = ctx.thread_scratch(tid);
      if (shared_b_) {
        pb = shared + (n * g_.G + gi) * bstride_ + n0 * Kg_;
      } else if (pointwise_ && Kg_ < Mg_) {  // expansions: the whole tile packed, row strips
        pack_b(xg + n0, g_.H * g_.W, 1, Kg_, nc, k->nr, pb);
      } else if (pointwise_) {  // projections (K >= M): panel by panel, measured ~1% faster
        gemm_pointwise(k, ck_, mc, nc, Kg_, weights_.get() + gi * panel_stride_ + m0 * Kg_, xg + n0, P_,
                       y + (n * g_.M + gi * Mg_ + m0) * P_ + n0, P_, bias_.data() + gi * Mg_ + m0, act_,
                       params_, pb);
        return;
      } else {
        Segment* seg = reinterpret_cast<Segment*>(pb + round_up(Kg_ * t.nc, 16));
        im2col_pack(g_, xg, Cg_, n0, nc, k->nr, pb, seg);
      }
      float* yb = y + (n * g_.M + gi * Mg_ + m0) * P_ + n0;
      gemm_bias_act(k, ck_, mc, nc, Kg_, weights_.get() + gi * panel_stride_ + m0 * Kg_, pb, yb, P_,
                    bias_.data() + gi * Mg_ + m0, act_, params_);
    });
  }

  // Pointwise with positions as rows: A = the input's positions packed into MR-row panels once per
  // task, B = W^T in NR-column panels (packed at creation); C^T = X^T W^T gathers in a small
  // [positions][NR] buffer, K in L1-sized chunks.
  void run_swapped(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const int MR = k->mr, NR = k->nr;
    const int64_t Pp = round_up(P_, MR), span = swap_per_ * NR;
    ctx.pool->parallel_for(g_.N * swap_chunks_, [&](int64_t task, int tid) {
      const int64_t n = task / swap_chunks_, j0 = (task % swap_chunks_) * span;
      const int64_t j1 = std::min(g_.M, j0 + span);
      const float* xn = x + n * g_.C * P_;
      float* pa = ctx.thread_scratch(tid);
      float* cp = pa + Pp * Kg_;
      for (int64_t i = 0; i < Pp; i += MR) {  // panel i / MR, depth kk: x[kk][i .. i + MR)
        const int64_t rows = std::min<int64_t>(MR, P_ - i);
        float* d = pa + i * Kg_;
        for (int64_t kk = 0; kk < Kg_; ++kk, d += MR) {
          const float* src = xn + kk * P_ + i;
          for (int64_t r = 0; r < rows; ++r) d[r] = src[r];
          for (int64_t r = rows; r < MR; ++r) d[r] = 0.f;
        }
      }
      for (int64_t j = j0; j < j1; j += NR) {
        const float* pb = weights_.get() + j * Kg_;
        for (int64_t k0 = 0; k0 < Kg_; k0 += kKC) {
          const int64_t kc = std::min(kKC, Kg_ - k0);
          for (int64_t i = 0; i < Pp; i += MR)
            k->micro(kc, pa + i * Kg_ + k0 * MR, pb + k0 * NR, cp + i * NR, NR, k0 > 0);
        }
        const int64_t cols = std::min<int64_t>(NR, g_.M - j);
        for (int64_t c = 0; c < cols; ++c) {
          float* yr = y + (n * g_.M + j + c) * P_;
          const float b = bias_[j + c];
          for (int64_t p = 0; p < P_; ++p) yr[p] = cp[p * NR + c] + b;
          if (act_) k->unary(yr, yr, P_, act_, params_);
        }
      }
    });
  }

  // ---- depthwise --------------------------------------------------------------------------------
  // The zero-padded plane is stored as SH x SW phase planes (phase (a, b) holds padded rows a, a+SH,
  // ... and columns b, b+SW, ...), each Hq x Wq plus one spare row. A tap is then a fixed offset into
  // this buffer for every output, and output (oh, ow) sits at flat index oh * Wq + ow: computing
  // whole blocks of rows at once (junk in the Wq - OW spare columns) keeps every loop long.
  void init_depthwise(const float* wd) {
    weights_ = aligned_array<float>(g_.M * Kg_);
    std::memcpy(weights_.get(), wd, sizeof(float) * g_.M * Kg_);
    const int64_t dy = (g_.KH - 1) * g_.DH / g_.SH, dx = (g_.KW - 1) * g_.DW / g_.SW;
    Hq_ = g_.OH + dy;
    Wq_ = g_.OW + dx;
    phase_ = (Hq_ + 1) * Wq_;
    for (int64_t kh = 0; kh < g_.KH; ++kh)
      for (int64_t kw = 0; kw < g_.KW; ++kw) {
        const int64_t ph = (kh * g_.DH) % g_.SH, pw = (kw * g_.DW) % g_.SW;
        offs_.push_back((ph * g_.SW + pw) * phase_ + (kh * g_.DH / g_.SH) * Wq_ + kw * g_.DW / g_.SW);
      }
    rows_ = std::max<int64_t>(1, std::min(g_.OH, ceil_div(1024, Wq_)));  // ~4 KiB of flat output
    // dw_flat works in whole vectors: up to 16 junk outputs, and reads as far past the planes.
    scratch_floats_ = round_up(g_.SH * g_.SW * phase_ + 32, 16) + round_up(rows_ * Wq_, 16) + 32;
  }

  void run_depthwise(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const DwGeom dg{g_.H, g_.W, g_.OH, g_.OW, g_.SH, g_.SW, g_.PT, g_.PL, Hq_, Wq_, phase_, rows_,
                    static_cast<int>(Kg_), offs_.data()};
    ctx.pool->parallel_for(g_.N * g_.C, [&](int64_t t, int tid) {
      const int64_t c = t % g_.C;
      float* planes = ctx.thread_scratch(tid);
      float* flat = planes + round_up(g_.SH * g_.SW * phase_ + 32, 16);
      float* yc = y + t * P_;
      if (!ck_->dw_plane(dg, x + t * g_.H * g_.W, weights_.get() + c * Kg_, bias_[c], act_, params_,
                         planes, flat, yc))
        k->unary(yc, yc, P_, act_, params_);
    });
  }

  // ---- channel-blocked depthwise ----------------------------------------------------------------
  void init_dwblock(const float* wd, int threads) {
    const int V = ck_->vec;
    const int64_t T = Kg_;
    vblocks_ = ceil_div(g_.C, V);
    weights_ = aligned_array<float>(vblocks_ * (T + 1) * V);  // per block: taps x V, then V biases
    float* wb = weights_.get();
    for (int64_t b = 0; b < vblocks_; ++b, wb += (T + 1) * V)
      for (int l = 0; l < V; ++l) {
        const int64_t c = b * V + l;
        for (int64_t t = 0; t < T; ++t) wb[t * V + l] = c < g_.C ? wd[c * T + t] : 0.f;
        wb[T * V + l] = c < g_.C ? bias_[c] : 0.f;
      }
    Wq_ = (g_.OW - 1) * g_.SW + (g_.KW - 1) * g_.DW + 1;  // padded columns read
    const int64_t reach = (g_.KH - 1) * g_.DH + 1;
    for (int64_t kh = 0; kh < g_.KH; ++kh)
      for (int64_t kw = 0; kw < g_.KW; ++kw) offs_.push_back((kh * g_.DH * Wq_ + kw * g_.DW) * V);
    // Output rows per band: the interleaved input band stays within ~32 KiB (L1/L2), and with
    // several threads there are enough (block, band) tasks to balance.
    const int64_t row_floats = Wq_ * V;
    rows_ = std::max<int64_t>(1, std::min(g_.OH, (8192 / row_floats - reach) / g_.SH + 1));
    while (threads > 1 && rows_ > 1 && g_.N * vblocks_ * ceil_div(g_.OH, rows_) < 4 * threads)
      rows_ = ceil_div(rows_, 2);
    bands_ = ceil_div(g_.OH, rows_);
    Hq_ = (rows_ - 1) * g_.SH + reach;
    scratch_floats_ = Hq_ * row_floats + (rows_ * g_.OW + V) * V + 64;
  }

  void run_dwblock(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int V = ck_->vec;
    const int64_t T = Kg_, plane = g_.H * g_.W;
    const DwBlockGeom dg{g_.H, g_.W, g_.OH, g_.OW, g_.SH, g_.SW, g_.PT, g_.PL, Wq_,
                         static_cast<int>(T), offs_.data(), (g_.KH - 1) * g_.DH + 1, Hq_};
    ctx.pool->parallel_for(g_.N * vblocks_ * bands_, [&](int64_t task, int tid) {
      const int64_t band = task % bands_, b = (task / bands_) % vblocks_, n = task / (bands_ * vblocks_);
      const int nch = static_cast<int>(std::min<int64_t>(V, g_.C - b * V));
      const int64_t oh0 = band * rows_, oh1 = std::min(g_.OH, oh0 + rows_);
      const float* wb = weights_.get() + b * (T + 1) * V;
      float* yb = y + (n * g_.C + b * V) * P_;
      if (!ck_->dw_block(dg, x + (n * g_.C + b * V) * plane, plane, nch, wb, wb + T * V, act_, params_,
                         oh0, oh1, ctx.thread_scratch(tid), yb, P_))
        for (int c = 0; c < nch; ++c)
          ctx.k->unary(yb + c * P_ + oh0 * g_.OW, yb + c * P_ + oh0 * g_.OW, (oh1 - oh0) * g_.OW, act_,
                       params_);
    });
  }

  // ---- planar depthwise -------------------------------------------------------------------------
  DwRowGeom dwrow_geom() const {
    return DwRowGeom{g_.H, g_.W, g_.OH, g_.OW, g_.SH, g_.SW, g_.PT, g_.PL, Wq_,
                     (g_.KH - 1) * g_.DH + 1, static_cast<int>(Kg_), offs_.data()};
  }

  void init_dwrow(const float* wd, int threads) {
    weights_ = aligned_array<float>(g_.M * Kg_);
    std::memcpy(weights_.get(), wd, sizeof(float) * g_.M * Kg_);
    const int64_t V = ck_->vec, dx = (g_.KW - 1) * g_.DW;
    Wq_ = round_up(g_.OW, V) + dx / g_.SW + 1;  // a phase: whole output vectors plus the taps' reach
    for (int64_t kh = 0; kh < g_.KH; ++kh)
      for (int64_t kw = 0; kw < g_.KW; ++kw)
        offs_.push_back(kh * g_.DH * g_.SW * Wq_ + (kw * g_.DW % g_.SW) * Wq_ + kw * g_.DW / g_.SW);
    // Output rows per band: the stored input band stays within ~32 KiB (L1), and with several
    // threads there are enough (channel, band) tasks to balance.
    const int64_t row_floats = g_.SW * Wq_, reach = (g_.KH - 1) * g_.DH + 1;
    rows_ = std::max<int64_t>(1, std::min(g_.OH, (8192 / row_floats - reach) / g_.SH + 1));
    while (threads > 1 && rows_ > 1 && g_.N * g_.C * ceil_div(g_.OH, rows_) < 4 * threads)
      rows_ = ceil_div(rows_, 2);
    bands_ = ceil_div(g_.OH, rows_);
    scratch_floats_ = dw_rows_scratch_floats(dwrow_geom(), rows_);
  }

  void run_dwrow(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const DwRowGeom dg = dwrow_geom();
    ctx.pool->parallel_for(g_.N * g_.C * bands_, [&](int64_t task, int tid) {
      const int64_t band = task % bands_, t = task / bands_, c = t % g_.C;
      const int64_t oh0 = band * rows_, oh1 = std::min(g_.OH, oh0 + rows_);
      float* yc = y + t * P_;
      if (!ck_->dw_rows(dg, x + t * g_.H * g_.W, weights_.get() + c * Kg_, bias_[c], act_, params_,
                        oh0, oh1, ctx.thread_scratch(tid), yc))
        ctx.k->unary(yc + oh0 * g_.OW, yc + oh0 * g_.OW, (oh1 - oh0) * g_.OW, act_, params_);
    });
  }

  // ---- direct (few input channels) --------------------------------------------------------------
  void init_direct(const float* wd, int threads) {
    const int64_t T = Kg_, mg = ceil_div(g_.M, 4);
    weights_ = aligned_array<float>(mg * T * 4);  // [M / 4][tap][4]: one group's taps contiguous
    for (int64_t m = 0; m < mg * 4; ++m)
      for (int64_t t = 0; t < T; ++t) weights_[((m / 4) * T + t) * 4 + m % 4] = m < g_.M ? wd[m * T + t] : 0.f;
    const int64_t group = 3 * ck_->vec;
    Wq_ = round_up(g_.OW, group) + (g_.KW - 1) / g_.SW + 1;
    for (int64_t c = 0; c < g_.C; ++c)
      for (int64_t kh = 0; kh < g_.KH; ++kh)
        for (int64_t kw = 0; kw < g_.KW; ++kw)
          offs_.push_back(((c * g_.KH + kh) * g_.SW + kw % g_.SW) * Wq_ + kw / g_.SW);
    rows_ = threads > 1 ? std::max<int64_t>(1, ceil_div(g_.OH, 4 * threads)) : g_.OH;  // per task
    bands_ = ceil_div(g_.OH, rows_);
    scratch_floats_ = (g_.C * g_.KH + 1) * g_.SW * Wq_ + 64;
  }

  void run_direct(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const DirectGeom dg{g_.C, g_.H, g_.W, g_.KH, g_.SH, g_.SW, g_.DH, g_.PT, g_.PL, g_.OW, Wq_,
                        static_cast<int>(Kg_), offs_.data()};
    ctx.pool->parallel_for(g_.N * bands_, [&](int64_t task, int tid) {
      const int64_t n = task / bands_, oh0 = (task % bands_) * rows_;
      const int64_t oh1 = std::min(g_.OH, oh0 + rows_);
      const float* xn = x + n * g_.C * g_.H * g_.W;
      float* yn = y + n * g_.M * P_;
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        float* yr = yn + oh * g_.OW;
        if (!ck_->direct_row(dg, xn, oh, weights_.get(), bias_.data(), g_.M, act_, params_,
                             ctx.thread_scratch(tid), yr, P_))
          for (int64_t m = 0; m < g_.M; ++m) ctx.k->unary(yr + m * P_, yr + m * P_, g_.OW, act_, params_);
      }
    });
  }

  // ---- Winograd ---------------------------------------------------------------------------------
  void init_winograd(const float* wd, const KernelTable* k, int threads) {
    m_ = wino_m(algo_);
    alpha_ = m_ + 2;
    const int A = alpha_, A2 = A * A, MR = k->mr, NR = k->nr;
    const WinoMatrices mats = cook_toom(m_);
    at_.assign(mats.at.begin(), mats.at.end());
    bt_.assign(mats.bt.begin(), mats.bt.end());
    // U[pos] = (G g G^T)[pos] for every (output, input) channel pair, in double, then packed.
    std::vector<float> u(static_cast<size_t>(A2) * g_.M * g_.C);
    for (int64_t o = 0; o < g_.M; ++o)
      for (int64_t c = 0; c < g_.C; ++c) {
        const float* gk = wd + (o * g_.C + c) * 9;
        double tmp[8][3];
        for (int i = 0; i < A; ++i)
          for (int j = 0; j < 3; ++j) {
            double s = 0;
            for (int q = 0; q < 3; ++q) s += mats.g[i * 3 + q] * gk[q * 3 + j];
            tmp[i][j] = s;
          }
        for (int i = 0; i < A; ++i)
          for (int j = 0; j < A; ++j) {
            double s = 0;
            for (int q = 0; q < 3; ++q) s += tmp[i][q] * mats.g[j * 3 + q];
            u[(static_cast<size_t>(i * A + j) * g_.M + o) * g_.C + c] = static_cast<float>(s);
          }
      }
    ustride_ = round_up(g_.M, MR) * g_.C;
    weights_ = aligned_array<float>(A2 * ustride_);
    for (int p = 0; p < A2; ++p)
      pack_a(u.data() + static_cast<size_t>(p) * g_.M * g_.C, g_.C, 1, g_.M, g_.C, MR,
             weights_.get() + p * ustride_);
    TW_ = ceil_div(g_.OW, m_);
    tiles_ = ceil_div(g_.OH, m_) * TW_;
    // Tiles per task: whole NR panels, up to 4 while the transformed input stays within 256 KiB.
    const int64_t panel_floats = A2 * g_.C * NR;
    tb_ = NR * std::max<int64_t>(1, std::min<int64_t>({4, 65536 / panel_floats, ceil_div(tiles_, NR)}));
    if (threads > 1) tb_ = NR * balanced_panels(g_.N, ceil_div(tiles_, NR), tb_ / NR, threads);
    blocks_ = ceil_div(tiles_, tb_);
    mc_ = round_up(g_.M, MR);
    if (threads > 1 && g_.N * blocks_ < 2 * threads) {
      const int64_t chunks = std::min(ceil_div(g_.M, MR), ceil_div(2 * threads, g_.N * blocks_));
      mc_ = round_up(ceil_div(g_.M, chunks), MR);
    }
    mchunks_ = ceil_div(g_.M, mc_);
    mi_ = std::min(mc_, round_up(64, MR));  // output rows per GEMM pass: Y stays in L2
    // Tasks split M when there are too few tile blocks for the threads: rather than each one
    // transforming the same input again, transform it once (in parallel over channels) into the
    // op's shared buffer.
    shared_v_ = mchunks_ > 1;
    scratch_floats_ = A2 * (g_.C * tb_ + 16) + A2 * mi_ * tb_ + A2 * NR + m_ * m_ * NR + 4 * NR + 64;
  }

  void run_winograd(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const int A = alpha_, A2 = A * A, m = m_, NR = k->nr;
    const int64_t tasks = g_.N * blocks_ * mchunks_;
    float* shared = reinterpret_cast<float*>(ctx.shared);
    if (shared_v_) {  // phase 1: V of every (image, block), tasks over channel ranges
      const int64_t cper = std::max<int64_t>(4, ceil_div(g_.C, 4 * ctx.pool->size()));
      const int64_t cchunks = ceil_div(g_.C, cper);
      ctx.pool->parallel_for(g_.N * blocks_ * cchunks, [&](int64_t task, int tid) {
        const int64_t c0 = (task % cchunks) * cper, nb = task / cchunks;
        const int64_t t0 = (nb % blocks_) * tb_;
        float* scratch = ctx.thread_scratch(tid) + A2 * (g_.C * tb_ + 16) + A2 * mi_ * tb_;
        transform_input(x + (nb / blocks_) * g_.C * g_.H * g_.W, t0, std::min(tb_, tiles_ - t0), c0,
                        std::min(g_.C, c0 + cper), NR, shared + nb * vblock_floats(), scratch,
                        reinterpret_cast<int64_t*>(scratch + A2 * NR + m * m * NR));
      });
    }
    ctx.pool->parallel_for(tasks, [&](int64_t task, int tid) {
      const int64_t mchunk = task % mchunks_, block = (task / mchunks_) % blocks_;
      const int64_t n = task / (mchunks_ * blocks_);
      const int64_t t0 = block * tb_, nt = std::min(tb_, tiles_ - t0);
      const int64_t panels = ceil_div(nt, NR), ncols = panels * NR;
      // V[pos] holds packed B panels; the 16-float pad keeps the alpha^2 positions a tile writes
      // from mapping to one L1 set (C * ncols floats is often a multiple of 4 KiB).
      const int64_t vstride = g_.C * ncols + 16;
      float* V = ctx.thread_scratch(tid);
      float* Y = V + A2 * (g_.C * tb_ + 16);
      float* D = Y + A2 * mi_ * tb_;
      float* O = D + A2 * NR;
      int64_t* corner = reinterpret_cast<int64_t*>(O + m * m * NR);  // per lane: ih0, iw0
      if (shared_v_)
        V = shared + (n * blocks_ + block) * vblock_floats();
      else
        transform_input(x + n * g_.C * g_.H * g_.W, t0, nt, 0, g_.C, NR, V, D, corner);
      const int64_t mlo = mchunk * mc_, mhi = std::min(g_.M, mlo + mc_);
      for (int64_t m0 = mlo; m0 < mhi; m0 += mi_) {
        const int64_t rows = std::min(mi_, mhi - m0);
        // Y[row][pos][col]: the output transform of one channel then reads one contiguous block.
        for (int pos = 0; pos < A2; ++pos)
          gemm_packed(k, rows, ncols, g_.C, weights_.get() + pos * ustride_ + m0 * g_.C,
                      V + pos * vstride, Y + pos * ncols, A2 * ncols);
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t valid = std::min<int64_t>(NR, nt - p * NR);
          for (int64_t l = 0; l < valid; ++l) {  // output corners of this panel's tiles
            const int64_t t = t0 + p * NR + l;
            corner[2 * l] = (t / TW_) * m;
            corner[2 * l + 1] = (t % TW_) * m;
          }
          for (int64_t r = 0; r < rows; ++r) {
            ck_->wino_out(A, m, Y + r * A2 * ncols + p * NR, ncols, at_.data(), bias_[m0 + r], O);
            if (act_) k->unary(O, O, m * m * NR, act_, params_);
            ck_->wino_scatter(m, O, corner, valid, y + (n * g_.M + m0 + r) * P_, g_.OH, g_.OW);
          }
        }
      }
    });
  }

  // V (packed B panels, one per alpha^2 position) of channels [c0, c1) of tiles [t0, t0 + nt) of
  // one image xn; D (alpha^2 x NR floats) and corner (2 x NR) are the caller's scratch.
  void transform_input(const float* xn, int64_t t0, int64_t nt, int64_t c0, int64_t c1, int NR,
                       float* V, float* D, int64_t* corner) const {
    const int A = alpha_, A2 = A * A, m = m_;
    const int64_t panels = ceil_div(nt, NR);
    const int64_t vstride = g_.C * panels * NR + 16;  // as run_winograd's
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t valid = std::min<int64_t>(NR, nt - p * NR);
      for (int64_t l = 0; l < valid; ++l) {
        const int64_t t = t0 + p * NR + l;
        corner[2 * l] = (t / TW_) * m - g_.PT;
        corner[2 * l + 1] = (t % TW_) * m - g_.PL;
      }
      if (valid < NR) std::memset(D, 0, sizeof(float) * A2 * NR);
      for (int64_t c = c0; c < c1; ++c) {
        ck_->wino_gather(A, xn + c * g_.H * g_.W, g_.H, g_.W, corner, valid, D);
        ck_->wino_in(A, D, bt_.data(), V + p * g_.C * NR + c * NR, vstride);
      }
    }
  }
  int64_t vblock_floats() const { return alpha_ * alpha_ * (g_.C * tb_ + 16); }

  ConvGeom g_;
  const ConvKernels* ck_;
  int act_, algo_ = CONV_GEMM;
  float params_[2] = {0.f, 0.f};
  int64_t Cg_, Mg_, Kg_, P_, scratch_floats_ = 0;
  std::vector<float> bias_;
  AlignedPtr<float> weights_;
  // GEMM
  bool pointwise_ = false, gemv_ = false;
  bool shared_b_ = false;  // B is packed once into the op's shared buffer (phase 1 of run_gemm)
  int64_t bstride_ = 0;    // shared B: floats per (image, group)
  int64_t panel_stride_ = 0, gemv_per_ = 0, gemv_chunks_ = 0;  // gemv: panels per task, tasks
  bool swap_ = false;                                            // positions as the GEMM's rows
  int64_t swap_per_ = 0, swap_chunks_ = 0;                       // NR-channel panels per task, tasks
  Tiling tiling_{};
  // depthwise
  int64_t Hq_ = 0, Wq_ = 0, phase_ = 0, rows_ = 1;
  int64_t vblocks_ = 0, bands_ = 0;  // channel-blocked: Wq_ padded columns, Hq_ rows per band
  std::vector<int64_t> offs_;
  // Winograd
  int m_ = 0, alpha_ = 0;
  int64_t ustride_ = 0, TW_ = 0, tiles_ = 0, tb_ = 0, blocks_ = 0, mc_ = 0, mchunks_ = 0, mi_ = 0;
  bool shared_v_ = false;  // V is transformed once into the op's shared buffer (phase 1)
  std::vector<float> at_, bt_;
};

}  // namespace

const char* conv_algo_name(int algo) {
  switch (algo) {
    case CONV_GEMM: return "gemm";
    case CONV_DEPTHWISE: return "depthwise";
    case CONV_WINO2: return "winograd2";
    case CONV_WINO4: return "winograd4";
    case CONV_WINO6: return "winograd6";
    case CONV_DWBLOCK: return "dwblock";
    case CONV_DIRECT: return "direct";
    case CONV_DWROW: return "dwrow";
    default: return "auto";
  }
}

const ConvKernels* conv_kernels_of(const KernelTable* k) { return conv_kernels_for(k); }

bool gemv_packed(const KernelTable* k, int64_t K, const float* x, int64_t xs, const float* panels,
                 int64_t n, const float* bias, float* y) {
  const ConvKernels* ck = conv_kernels_for(k);
  if (ck->lanes != k->nr) return false;
  ck->gemv(K, x, xs, panels, n, bias, y);
  return true;
}

std::vector<int> conv_candidates(const std::vector<int64_t>& ints, const KernelTable* k) {
  const ConvGeom g = parse_geom(ints);
  std::vector<int> out{CONV_GEMM};
  if (depthwise_ok(g)) out.push_back(CONV_DEPTHWISE);
  if (dwblock_ok(g)) out.push_back(CONV_DWBLOCK);
  if (dwrow_ok(g)) out.push_back(CONV_DWROW);
  if (direct_ok(g)) out.push_back(CONV_DIRECT);
  if (winograd_ok(g, k)) out.insert(out.end(), {CONV_WINO2, CONV_WINO4, CONV_WINO6});
  return out;
}

void conv_gemm_pointwise(const KernelTable* k, int64_t mc, int64_t nc, int64_t K, const float* pa,
                         const float* b, int64_t ldb, float* c, int64_t ldc, const float* bias, int act,
                         const float* params, float* pb) {
  gemm_pointwise(k, conv_kernels_for(k), mc, nc, K, pa, b, ldb, c, ldc, bias, act, params, pb);
}

std::unique_ptr<Op> make_conv_op(const std::vector<int64_t>& ints, const std::vector<float>& floats,
                                 const std::vector<Weight>& weights, const KernelTable* k, int threads) {
  return std::unique_ptr<Op>(new ConvOp(ints, floats, weights, k, threads));
}

}  // namespace mnncpu
