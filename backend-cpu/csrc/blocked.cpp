// Ops over channel-blocked tensors (layout in kernels/conv_kernels.h). Python (blocked.py) decides
// which chains of 1x1 and depthwise convs, activations, elementwise ops and global pools run in
// this layout and puts reorders at the chain's edges. Depthwise convs are why: in the blocked layout
// each tap is one vector multiply-add of 8 channels at any map size or stride, where planar maps
// need shifted or strided loads (and small maps waste most of each vector). 1x1 convs read the
// blocked input in place: its pixels are already the rows of the GEMM, so nothing is packed.
#include <algorithm>
#include <string>
#include <vector>
#include <stdexcept>

#include "common.h"
#include "conv.h"
#include "gemm.h"
#include "kernels/conv_kernels.h"

namespace mnncpu {
namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

int64_t blocks(int64_t c) { return ceil_div(c, kBlock); }

// `op` after checking that it got between lo and hi ints.
std::string checked(const std::vector<int64_t>& v, size_t lo, size_t hi, const std::string& op) {
  require(v.size() >= lo && v.size() <= hi, (op + ": expected " + std::to_string(lo) +
                                             (hi > lo ? " or " + std::to_string(hi) : "") + " ints").c_str());
  return op;
}

// Weights [M][K] as [Mb][Kb * 8][8] and bias [M] as [Mb][8], zero-padded.
AlignedPtr<float> pack_pointwise(const Weight& w, int64_t M, int64_t K) {
  const int64_t Mb = blocks(M), Kp = blocks(K) * kBlock;
  AlignedPtr<float> out = aligned_array<float>(Mb * Kp * kBlock);
  std::fill(out.get(), out.get() + Mb * Kp * kBlock, 0.f);
  const float* src = static_cast<const float*>(w.data);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) out[((m / kBlock) * Kp + k) * kBlock + m % kBlock] = src[m * K + k];
  return out;
}

// Depthwise weights [C][taps] as [Cb][taps][8], zero-padded.
AlignedPtr<float> pack_depthwise(const Weight& w, int64_t C, int64_t taps) {
  const int64_t n = blocks(C) * taps * kBlock;
  AlignedPtr<float> out = aligned_array<float>(n);
  std::fill(out.get(), out.get() + n, 0.f);
  const float* src = static_cast<const float*>(w.data);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < taps; ++t) out[((c / kBlock) * taps + t) * kBlock + c % kBlock] = src[c * taps + t];
  return out;
}

AlignedPtr<float> pack_bias(const Weight* b, int64_t M) {
  const int64_t n = blocks(M) * kBlock;
  AlignedPtr<float> out = aligned_array<float>(n);
  std::fill(out.get(), out.get() + n, 0.f);
  if (b) std::copy_n(static_cast<const float*>(b->data), M, out.get());
  return out;
}

// A 1x1 conv as pw_blocked and pw_planar take it: ints N K M P act has_bias; floats: 2 activation
// params; weights: W (M x K), bias (M), packed for the blocked tile.
struct Pointwise {
  int64_t N, K, M, P;
  int act;
  float params[2] = {0.f, 0.f};
  AlignedPtr<float> weights, bias;

  Pointwise(const std::string& op, const std::vector<int64_t>& v, const std::vector<float>& f,
            const std::vector<Weight>& w)
      : N(v.at(0)), K(v.at(1)), M(v.at(2)), P(v.at(3)), act(static_cast<int>(v.at(4))) {
    require(N > 0 && K > 0 && M > 0 && P > 0, (op + ": empty geometry").c_str());
    require(act >= 0 && act <= 5, (op + ": activation code must be 0-5").c_str());
    require(!w.empty() && w[0].numel() == M * K, (op + ": weight size").c_str());
    require(!v.at(5) || (w.size() > 1 && w[1].numel() == M), (op + ": bias size").c_str());
    for (size_t i = 0; i < f.size() && i < 2; ++i) params[i] = f[i];
    weights = pack_pointwise(w[0], M, K);
    bias = pack_bias(v[5] ? &w[1] : nullptr, M);
  }
};

// Pointwise ints, then [residual]: with residual = 1 a second input of the output's shape is added
// after the activation (the skip connection of a residual block, which then costs no pass of its own).
class PwBlockedOp : public Op {
 public:
  PwBlockedOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
              const KernelTable* k, int threads)
      : ck_(conv_kernels_of(k)), pw_(checked(v, 6, 7, "pw_blocked"), v, f, w),
        N_(pw_.N), K_(pw_.K), M_(pw_.M), P_(pw_.P) {
    residual_ = v.size() == 7 && v[6] != 0;
    // Tasks: pixel chunks whose input (K x chunk floats) stays in L1-L2 while every output block
    // runs over it (the whole map when its input fits L2, so weights are read once). With several
    // threads, at least 4 tasks per thread for the pool's guided split to even out: smaller chunks
    // first, then runs of output block pairs (7x7 maps: 49 pixels, one chunk).
    const int64_t Kp = blocks(K_) * kBlock, Mb = blocks(M_);
    chunk_ = P_ * Kp <= 65536 ? P_ : std::max<int64_t>(24, (16384 / Kp) / 12 * 12);
    chunk_ = std::min(chunk_, P_);
    int64_t obsplit = 1;
    if (threads > 1) {
      const int64_t want = 4 * threads;
      if (N_ * ceil_div(P_, chunk_) < want)
        chunk_ = std::min(chunk_, std::max<int64_t>(12, round_up(ceil_div(P_ * N_, want), 6)));
      const int64_t tasks = N_ * ceil_div(P_, chunk_);
      if (tasks < want) obsplit = std::min(ceil_div(Mb, 2), ceil_div(want, tasks));
    }
    chunks_ = ceil_div(P_, chunk_);
    obper_ = std::min(Mb, round_up(ceil_div(Mb, obsplit), 2));  // whole register pairs
    obsplit_ = ceil_div(Mb, obper_);
  }

  const char* note() const override { return "blocked 1x1"; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    const float* r = residual_ ? ctx.at(in.at(1)) : nullptr;
    float* y = ctx.at(out[0]);
    const int64_t Kb = blocks(K_), Mb = blocks(M_), img_in = Kb * P_ * kBlock, img_out = Mb * P_ * kBlock;
    ctx.pool->parallel_for(N_ * chunks_ * obsplit_, [&](int64_t task, int) {
      const int64_t n = task / (chunks_ * obsplit_), rest = task % (chunks_ * obsplit_);
      const int64_t c = rest / obsplit_, s = rest % obsplit_;
      const int64_t p0 = c * chunk_, p1 = std::min(P_, p0 + chunk_);
      const int64_t ob0 = s * obper_, ob1 = std::min(Mb, ob0 + obper_);
      ck_->pw_blocked(x + n * img_in, P_ * kBlock, Kb, pw_.weights.get(), pw_.bias.get(), y + n * img_out,
                      P_ * kBlock, r ? r + n * img_out : nullptr, p0, p1, ob0, ob1, pw_.act, pw_.params);
    });
  }

 private:
  const ConvKernels* ck_;
  Pointwise pw_;
  const int64_t N_, K_, M_, P_;
  int64_t chunk_ = 1, chunks_ = 1, obsplit_ = 1, obper_ = 1;
  bool residual_ = false;
};

// ints: N C H W OH OW KH KW SH SW DH DW PT PL act has_bias; floats: 2 activation params;
// weights: W (C x KH*KW), bias (C).
class DwBlockedOp : public Op {
 public:
  DwBlockedOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
              const KernelTable* k, int threads)
      : ck_(conv_kernels_of(k)) {
    require(v.size() == 16, "dw_blocked: expected 16 ints");
    N_ = v[0], C_ = v[1];
    g_ = {v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
    act_ = static_cast<int>(v[14]);
    require(N_ > 0 && C_ > 0 && g_.H > 0 && g_.W > 0 && g_.OH > 0 && g_.OW > 0 && g_.KH > 0 && g_.KW > 0 &&
                g_.SH > 0 && g_.SW > 0 && g_.DH > 0 && g_.DW > 0,
            "dw_blocked: bad geometry");
    require(act_ >= 0 && act_ <= 5, "dw_blocked: activation code must be 0-5");
    const int64_t taps = g_.KH * g_.KW;
    require(!w.empty() && w[0].numel() == C_ * taps, "dw_blocked: weight size");
    require(!v[15] || (w.size() > 1 && w[1].numel() == C_), "dw_blocked: bias size");
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
    const int64_t Cb = blocks(C_);
    weights_ = pack_depthwise(w[0], C_, taps);
    bias_ = pack_bias(v[15] ? &w[1] : nullptr, C_);
    // Tasks: bands of output rows of one channel block, a few per thread.
    const int64_t planes = N_ * Cb;
    rows_ = g_.OH;
    if (threads > 1 && planes < 4 * threads) rows_ = std::max<int64_t>(1, ceil_div(g_.OH * planes, 4 * threads));
    bands_ = ceil_div(g_.OH, rows_);
  }

  const char* note() const override { return "blocked depthwise"; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t Cb = blocks(C_), taps = g_.KH * g_.KW;
    const int64_t plane_in = g_.H * g_.W * kBlock, plane_out = g_.OH * g_.OW * kBlock;
    ctx.pool->parallel_for(N_ * Cb * bands_, [&](int64_t task, int) {
      const int64_t plane = task / bands_, band = task % bands_, cb = plane % Cb;
      const int64_t oh0 = band * rows_, oh1 = std::min(g_.OH, oh0 + rows_);
      ck_->dw_blocked(g_, x + plane * plane_in, weights_.get() + cb * taps * kBlock, bias_.get() + cb * kBlock,
                      y + plane * plane_out, oh0, oh1, act_, params_);
    });
  }

 private:
  const ConvKernels* ck_;
  int64_t N_, C_, rows_ = 1, bands_ = 1;
  BlockedDwGeom g_;
  int act_;
  float params_[2] = {0.f, 0.f};
  AlignedPtr<float> weights_, bias_;
};

// ints: N C P direction (0: planar -> blocked, 1: blocked -> planar).
class ReorderOp : public Op {
 public:
  ReorderOp(const std::vector<int64_t>& v, const KernelTable* k, int threads) : ck_(conv_kernels_of(k)) {
    require(v.size() == 4 && v[0] > 0 && v[1] > 0 && v[2] > 0 && (v[3] == 0 || v[3] == 1),
            "reorder: expected ints N C P direction");
    N_ = v[0], C_ = v[1], P_ = v[2], to_planar_ = v[3] == 1;
    chunk_ = P_;
    if (threads > 1) chunk_ = std::max<int64_t>(64, ceil_div(P_ * N_, 4 * threads));
    chunk_ = std::min(chunk_, P_);
    chunks_ = ceil_div(P_, chunk_);
  }

  const char* note() const override { return to_planar_ ? "to planar" : "to blocked"; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t planar = C_ * P_, blocked = blocks(C_) * kBlock * P_;
    ctx.pool->parallel_for(N_ * chunks_, [&](int64_t task, int) {
      const int64_t n = task / chunks_, p0 = (task % chunks_) * chunk_, p1 = std::min(P_, p0 + chunk_);
      if (to_planar_) ck_->from_blocked(x + n * blocked + p0 * kBlock, P_ * kBlock, C_, p1 - p0, y + n * planar + p0, P_);
      else ck_->to_blocked(x + n * planar + p0, P_, C_, p1 - p0, y + n * blocked + p0 * kBlock, P_ * kBlock);
    });
  }

 private:
  const ConvKernels* ck_;
  int64_t N_, C_, P_, chunk_ = 1, chunks_ = 1;
  bool to_planar_;
};

// A blocked tensor with a per-channel operand (squeeze-excite scales, per-channel shifts):
// y[n][cb][p] = x[n][cb][p] op s[n or 0][cb] (s op x when chan_first). ints: op N Cb P s_batched
// chan_first (op: BinaryCode Add, Sub, Mul, Max, Min).
class ChanBinaryOp : public Op {
 public:
  ChanBinaryOp(const std::vector<int64_t>& v, int threads) {
    require(v.size() == 6 && v[1] > 0 && v[2] > 0 && v[3] > 0, "chan_binary: expected ints op N Cb P s_batched chan_first");
    op_ = static_cast<int>(v[0]), N_ = v[1], Cb_ = v[2], P_ = v[3], batched_ = v[4] != 0, first_ = v[5] != 0;
    require(op_ == BIN_ADD || op_ == BIN_SUB || op_ == BIN_MUL || op_ == BIN_MAX || op_ == BIN_MIN,
            "chan_binary: op must be Add, Sub, Mul, Max or Min");
    per_ = threads > 1 ? std::max<int64_t>(1, ceil_div(N_ * Cb_, 4 * threads)) : N_ * Cb_;
  }

  const char* note() const override { return "blocked per-channel"; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[first_ ? 1 : 0]);
    const float* s = ctx.at(in[first_ ? 0 : 1]);
    float* y = ctx.at(out[0]);
    const int64_t planes = N_ * Cb_;
    ctx.pool->parallel_for(ceil_div(planes, per_), [&](int64_t task, int) {
      for (int64_t pl = task * per_; pl < std::min(planes, (task + 1) * per_); ++pl) {
        const float* sv = s + (batched_ ? pl : pl % Cb_) * kBlock;
        const float* xp = x + pl * P_ * kBlock;
        float* yp = y + pl * P_ * kBlock;
        switch (op_) {
          case BIN_ADD: apply(xp, sv, yp, [](float a, float b) { return a + b; }); break;
          case BIN_SUB:
            if (first_) apply(xp, sv, yp, [](float a, float b) { return b - a; });
            else apply(xp, sv, yp, [](float a, float b) { return a - b; });
            break;
          case BIN_MUL: apply(xp, sv, yp, [](float a, float b) { return a * b; }); break;
          case BIN_MAX: apply(xp, sv, yp, [](float a, float b) { return a > b ? a : b; }); break;
          default: apply(xp, sv, yp, [](float a, float b) { return a < b ? a : b; }); break;
        }
      }
    });
  }

 private:
  template <class F>
  void apply(const float* x, const float* s, float* y, F f) const {
    float sv[kBlock];
    for (int l = 0; l < kBlock; ++l) sv[l] = s[l];
    for (int64_t p = 0; p < P_; ++p)
      for (int l = 0; l < kBlock; ++l) y[p * kBlock + l] = f(x[p * kBlock + l], sv[l]);
  }

  int op_;
  int64_t N_, Cb_, P_, per_ = 1;
  bool batched_, first_;
};

// Global average / max pooling of a blocked tensor: [N][Cb][P][8] -> [N][Cb][8]. ints: N Cb P kind
// (1 mean, 2 max).
class GapBlockedOp : public Op {
 public:
  GapBlockedOp(const std::vector<int64_t>& v, int threads) {
    require(v.size() == 4 && v[0] > 0 && v[1] > 0 && v[2] > 0 && (v[3] == 1 || v[3] == 2),
            "gap_blocked: expected ints N Cb P kind");
    planes_ = v[0] * v[1], P_ = v[2], max_ = v[3] == 2;
    per_ = threads > 1 ? std::max<int64_t>(1, ceil_div(planes_, 4 * threads)) : planes_;
  }

  const char* note() const override { return "blocked global pool"; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    ctx.pool->parallel_for(ceil_div(planes_, per_), [&](int64_t task, int) {
      for (int64_t pl = task * per_; pl < std::min(planes_, (task + 1) * per_); ++pl) {
        if (max_) pool<true>(x + pl * P_ * kBlock, y + pl * kBlock);
        else pool<false>(x + pl * P_ * kBlock, y + pl * kBlock);
      }
    });
  }

 private:
  template <bool MAX>
  void pool(const float* x, float* y) const {
    float acc[4][kBlock];  // four partial rows: a quarter of the dependency chain
    for (int r = 0; r < 4; ++r)
      for (int l = 0; l < kBlock; ++l) acc[r][l] = MAX ? x[l] : 0.f;
    int64_t p = 0;
    for (; p + 4 <= P_; p += 4)
      for (int r = 0; r < 4; ++r)
        for (int l = 0; l < kBlock; ++l) {
          const float v = x[(p + r) * kBlock + l];
          acc[r][l] = MAX ? (v > acc[r][l] ? v : acc[r][l]) : acc[r][l] + v;
        }
    for (; p < P_; ++p)
      for (int l = 0; l < kBlock; ++l) {
        const float v = x[p * kBlock + l];
        acc[0][l] = MAX ? (v > acc[0][l] ? v : acc[0][l]) : acc[0][l] + v;
      }
    for (int l = 0; l < kBlock; ++l) {
      float a = acc[0][l];
      for (int r = 1; r < 4; ++r) a = MAX ? (acc[r][l] > a ? acc[r][l] : a) : a + acc[r][l];
      y[l] = MAX ? a : a / static_cast<float>(P_);
    }
  }

  int64_t planes_, P_, per_ = 1;
  bool max_;
};

// A 1x1 conv between planar tensors through the blocked kernel: per chunk of pixels the input is
// transposed into channel blocks in scratch (8 x 8 register transposes), the blocked 1x1 tile runs
// on it, and the result is transposed back. The transposes stand in for the GEMM's B packing, and
// the tile keeps all 16 output channels of a pair busy where MR = 6 rows would leave 2 of 18 idle
// (M = 16, 32: squeezenet's squeezes). ints, floats, weights: Pointwise.
class PwPlanarOp : public Op {
 public:
  PwPlanarOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
             const KernelTable* k, int threads)
      : ck_(conv_kernels_of(k)), pw_(checked(v, 6, 6, "pw_planar"), v, f, w),
        N_(pw_.N), K_(pw_.K), M_(pw_.M), P_(pw_.P) {
    // Equal chunks of pixels whose blocked input stays in L1 (~24 KiB, at least 24 pixels); with
    // several threads at least 4 tasks per thread, their count a multiple of the threads, so all
    // finish together (squeezenet's 13x13 head: 169 = 8 x 22 rather than 7 x 24 + 1).
    const int64_t Kp = blocks(K_) * kBlock;
    int64_t n = ceil_div(P_, std::max<int64_t>(24, 6144 / Kp));
    if (threads > 1) {
      const int64_t want = std::min(ceil_div(4 * threads, N_), ceil_div(P_, 8));
      n = round_up(std::max(n, want), threads);
    }
    chunk_ = ceil_div(P_, n);
    chunks_ = ceil_div(P_, chunk_);
  }

  const char* note() const override { return "planar 1x1 via blocks"; }
  int64_t scratch_bytes() const override { return (blocks(K_) + blocks(M_)) * kBlock * chunk_ * 4 + 256; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t Kb = blocks(K_), Mb = blocks(M_);
    ctx.pool->parallel_for(N_ * chunks_, [&](int64_t task, int tid) {
      const int64_t n = task / chunks_, p0 = (task % chunks_) * chunk_, cnt = std::min(chunk_, P_ - p0);
      float* xb = ctx.thread_scratch(tid);
      float* yb = xb + Kb * kBlock * chunk_;
      ck_->to_blocked(x + n * K_ * P_ + p0, P_, K_, cnt, xb, cnt * kBlock);
      ck_->pw_blocked(xb, cnt * kBlock, Kb, pw_.weights.get(), pw_.bias.get(), yb, cnt * kBlock, nullptr, 0, cnt,
                      0, Mb, pw_.act, pw_.params);
      ck_->from_blocked(yb, cnt * kBlock, M_, cnt, y + n * M_ * P_ + p0, P_);
    });
  }

 private:
  const ConvKernels* ck_;
  Pointwise pw_;
  const int64_t N_, K_, M_, P_;
  int64_t chunk_ = 1, chunks_ = 1;
};

// A network stem (few input channels, direct_ok in conv.cpp) writing channel blocks, so a blocked
// chain can start at the image with no reorder. ints: the conv op's (N C H W M OH OW KH KW SH SW DH
// DW PT PL G act has_bias [algo]); weights: W (M x C*KH*KW), bias (M).
class StemBlockedOp : public Op {
 public:
  StemBlockedOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
                const KernelTable* k, int threads)
      : ck_(conv_kernels_of(k)) {
    require(v.size() >= 18, "stem_blocked: expected the conv op's ints");
    N_ = v[0], C_ = v[1], H_ = v[2], W_ = v[3], M_ = v[4], OH_ = v[5], OW_ = v[6];
    const int64_t KH = v[7], KW = v[8], SH = v[9], SW = v[10], DH = v[11], DW = v[12], PT = v[13], PL = v[14];
    act_ = static_cast<int>(v[16]);
    require(v[15] == 1 && DW == 1 && (SW == 1 || SW == 2) && SH > 0 && DH > 0 && KH > 0 && KW > 0,
            "stem_blocked: one group, column stride 1 or 2, no column dilation");
    require(act_ >= 0 && act_ <= 5, "stem_blocked: activation code must be 0-5");
    taps_ = C_ * KH * KW;
    require(w[0].numel() == M_ * taps_ && (!v[17] || (w.size() > 1 && w[1].numel() == M_)), "stem_blocked: weight sizes");
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
    weights_ = pack_depthwise(w[0], M_, taps_);  // [Mb][taps][8]: the same packing
    bias_ = pack_bias(v[17] ? &w[1] : nullptr, M_);
    Wq_ = round_up(OW_, 24) + (KW - 1) / SW + 1;
    for (int64_t c = 0; c < C_; ++c)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw) offs_.push_back(((c * KH + kh) * SW + kw % SW) * Wq_ + kw / SW);
    geom_ = {C_, H_, W_, KH, SH, SW, DH, PT, PL, OW_, Wq_, static_cast<int>(taps_), offs_.data()};
    rows_ = threads > 1 ? std::max<int64_t>(1, ceil_div(OH_ * N_, 4 * threads)) : OH_;
    bands_ = ceil_div(OH_, rows_);
    scratch_floats_ = (C_ * KH + 1) * SW * Wq_ + 64;
  }

  const char* note() const override { return "blocked direct"; }
  int64_t scratch_bytes() const override { return scratch_floats_ * 4 + 256; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t Mb = blocks(M_), oplane = OH_ * OW_ * kBlock;
    ctx.pool->parallel_for(N_ * bands_, [&](int64_t task, int tid) {
      const int64_t n = task / bands_, oh0 = (task % bands_) * rows_, oh1 = std::min(OH_, oh0 + rows_);
      for (int64_t oh = oh0; oh < oh1; ++oh)
        ck_->stem_blocked(geom_, x + n * C_ * H_ * W_, oh, weights_.get(), bias_.get(), Mb, act_, params_,
                          ctx.thread_scratch(tid), y + n * Mb * oplane + oh * OW_ * kBlock, oplane);
    });
  }

 private:
  const ConvKernels* ck_;
  int64_t N_, C_, H_, W_, M_, OH_, OW_, taps_ = 0, Wq_ = 0, rows_ = 1, bands_ = 1, scratch_floats_ = 0;
  int act_;
  float params_[2] = {0.f, 0.f};
  std::vector<int64_t> offs_;
  DirectGeom geom_;
  AlignedPtr<float> weights_, bias_;
};

}  // namespace

std::unique_ptr<Op> make_blocked_op(const std::string& kind, const std::vector<int64_t>& ints,
                                    const std::vector<float>& floats, const std::vector<Weight>& weights,
                                    const KernelTable* k, int threads) {
  if (kind == "pw_blocked") return std::unique_ptr<Op>(new PwBlockedOp(ints, floats, weights, k, threads));
  if (kind == "dw_blocked") return std::unique_ptr<Op>(new DwBlockedOp(ints, floats, weights, k, threads));
  if (kind == "reorder") return std::unique_ptr<Op>(new ReorderOp(ints, k, threads));
  if (kind == "pw_planar") return std::unique_ptr<Op>(new PwPlanarOp(ints, floats, weights, k, threads));
  if (kind == "stem_blocked") return std::unique_ptr<Op>(new StemBlockedOp(ints, floats, weights, k, threads));
  if (kind == "chan_binary") return std::unique_ptr<Op>(new ChanBinaryOp(ints, threads));
  if (kind == "gap_blocked") return std::unique_ptr<Op>(new GapBlockedOp(ints, threads));
  return nullptr;
}

}  // namespace mnncpu
