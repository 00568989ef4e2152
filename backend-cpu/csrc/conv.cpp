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
//  - Winograd F(m x m, 3 x 3), m in {2, 4, 6}: tiles fill the GEMM's NR-wide panels, the alpha^2
//    transformed weight matrices are pre-packed, and each tile position is one packed GEMM.
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gemm.h"
#include "kernels/conv_kernels.h"

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

int auto_algo(const ConvGeom& g, const KernelTable* k) {
  if (dwblock_ok(g)) return CONV_DWBLOCK;
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

// GEMM tiling over M x N, repeated `outer` times: column tiles of nc (a multiple of NR) and row
// chunks of mc (a multiple of MR), enough tasks to feed every thread.
struct Tiling {
  int64_t nc, ntiles, mc, mchunks;
};

Tiling make_tiling(int64_t M, int64_t N, int MR, int NR, int64_t outer, int threads, int64_t nc_max) {
  Tiling t;
  t.nc = std::max<int64_t>(NR, std::min(round_up(N, NR), round_up(nc_max, NR)));
  t.ntiles = ceil_div(N, t.nc);
  if (threads > 1) {
    while (outer * t.ntiles < threads * 4 && t.nc > 4 * NR) {
      t.nc = round_up(t.nc / 2, NR);
      t.ntiles = ceil_div(N, t.nc);
    }
  }
  t.mchunks = 1;
  if (threads > 1 && outer * t.ntiles < threads * 2)
    t.mchunks = std::min(ceil_div(M, MR), ceil_div(threads * 2, outer * t.ntiles));
  t.mc = round_up(ceil_div(M, std::max<int64_t>(t.mchunks, 1)), MR);
  t.mchunks = std::max<int64_t>(1, ceil_div(M, t.mc));
  return t;
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
    else if (algo_ == CONV_GEMM) init_gemm(wd, k, threads);
    else init_winograd(wd, k, threads);
  }

  const char* note() const override { return conv_algo_name(algo_); }
  int64_t scratch_bytes() const override { return scratch_floats_ * 4 + 256; }

  void run(const RunCtx& ctx) override {
    if (algo_ == CONV_DEPTHWISE) run_depthwise(ctx);
    else if (algo_ == CONV_DWBLOCK) run_dwblock(ctx);
    else if (algo_ == CONV_GEMM) run_gemm(ctx);
    else run_winograd(ctx);
  }

 private:
  // ---- GEMM (im2col or 1x1) ---------------------------------------------------------------------
  void init_gemm(const float* wd, const KernelTable* k, int threads) {
    pointwise_ = g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 && g_.PL == 0 &&
                 g_.OH == g_.H && g_.OW == g_.W;
    const int MR = k->mr;
    panel_stride_ = round_up(Mg_, MR) * Kg_;
    weights_ = aligned_array<float>(g_.G * panel_stride_);
    for (int64_t gi = 0; gi < g_.G; ++gi)
      pack_a(wd + gi * Mg_ * Kg_, Kg_, 1, Mg_, Kg_, MR, weights_.get() + gi * panel_stride_);
    tiling_ = make_tiling(Mg_, P_, MR, k->nr, g_.N * g_.G, threads, 384);
    scratch_floats_ = Kg_ * tiling_.nc + 16 + (2 * tiling_.nc + 2) * (sizeof(Segment) / 4);
  }

  void run_gemm(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const Tiling& t = tiling_;
    const int64_t tasks = g_.N * g_.G * t.ntiles * t.mchunks;
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
      if (pointwise_) {
        pack_b(xg + n0, g_.H * g_.W, 1, Kg_, nc, k->nr, pb);
      } else {
        Segment* seg = reinterpret_cast<Segment*>(pb + round_up(Kg_ * t.nc, 16));
        im2col_pack(g_, xg, Cg_, n0, nc, k->nr, pb, seg);
      }
      float* yb = y + (n * g_.M + gi * Mg_ + m0) * P_ + n0;
      gemm_bias_act(k, ck_, mc, nc, Kg_, weights_.get() + gi * panel_stride_ + m0 * Kg_, pb, yb, P_,
                    bias_.data() + gi * Mg_ + m0, act_, params_);
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
    blocks_ = ceil_div(tiles_, tb_);
    mc_ = round_up(g_.M, MR);
    if (threads > 1 && g_.N * blocks_ < 2 * threads) {
      const int64_t chunks = std::min(ceil_div(g_.M, MR), ceil_div(2 * threads, g_.N * blocks_));
      mc_ = round_up(ceil_div(g_.M, chunks), MR);
    }
    mchunks_ = ceil_div(g_.M, mc_);
    mi_ = std::min(mc_, round_up(64, MR));  // output rows per GEMM pass: Y stays in L2
    scratch_floats_ = A2 * (g_.C * tb_ + 16) + A2 * mi_ * tb_ + A2 * NR + m_ * m_ * NR + 4 * NR + 64;
  }

  void run_winograd(const RunCtx& ctx) {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const int A = alpha_, A2 = A * A, m = m_, NR = k->nr;
    const int64_t tasks = g_.N * blocks_ * mchunks_;
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
      const float* xn = x + n * g_.C * g_.H * g_.W;
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t valid = std::min<int64_t>(NR, nt - p * NR);
        for (int64_t l = 0; l < valid; ++l) {
          const int64_t t = t0 + p * NR + l;
          corner[2 * l] = (t / TW_) * m - g_.PT;
          corner[2 * l + 1] = (t % TW_) * m - g_.PL;
        }
        if (valid < NR) std::memset(D, 0, sizeof(float) * A2 * NR);
        for (int64_t c = 0; c < g_.C; ++c) {
          ck_->wino_gather(A, xn + c * g_.H * g_.W, g_.H, g_.W, corner, valid, D);
          ck_->wino_in(A, D, bt_.data(), V + p * g_.C * NR + c * NR, vstride);
        }
      }
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

  ConvGeom g_;
  const ConvKernels* ck_;
  int act_, algo_ = CONV_GEMM;
  float params_[2] = {0.f, 0.f};
  int64_t Cg_, Mg_, Kg_, P_, scratch_floats_ = 0;
  std::vector<float> bias_;
  AlignedPtr<float> weights_;
  // GEMM
  bool pointwise_ = false;
  int64_t panel_stride_ = 0;
  Tiling tiling_{};
  // depthwise
  int64_t Hq_ = 0, Wq_ = 0, phase_ = 0, rows_ = 1;
  int64_t vblocks_ = 0, bands_ = 0;  // channel-blocked: Wq_ padded columns, Hq_ rows per band
  std::vector<int64_t> offs_;
  // Winograd
  int m_ = 0, alpha_ = 0;
  int64_t ustride_ = 0, TW_ = 0, tiles_ = 0, tb_ = 0, blocks_ = 0, mc_ = 0, mchunks_ = 0, mi_ = 0;
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
    default: return "auto";
  }
}

std::vector<int> conv_candidates(const std::vector<int64_t>& ints, const KernelTable* k) {
  const ConvGeom g = parse_geom(ints);
  std::vector<int> out{CONV_GEMM};
  if (depthwise_ok(g)) out.push_back(CONV_DEPTHWISE);
  if (dwblock_ok(g)) out.push_back(CONV_DWBLOCK);
  if (winograd_ok(g, k)) out.insert(out.end(), {CONV_WINO2, CONV_WINO4, CONV_WINO6});
  return out;
}

std::unique_ptr<Op> make_conv_op(const std::vector<int64_t>& ints, const std::vector<float>& floats,
                                 const std::vector<Weight>& weights, const KernelTable* k, int threads) {
  return std::unique_ptr<Op>(new ConvOp(ints, floats, weights, k, threads));
}

}  // namespace mnncpu
