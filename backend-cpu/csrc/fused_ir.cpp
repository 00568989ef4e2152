// Inverted-residual fusion (MobileNet v2/v3): an expansion 1x1 conv (+act) whose only consumer is a
// depthwise conv (+act). Unfused, the expanded tensor (e.g. 96 x 112 x 112 floats, 4.8 MB) is
// written to memory by the GEMM and read back by the depthwise conv; both ops are then bound by that
// traffic. Here each task walks a run of output-row bands of one image: the expansion rows a band
// reads are computed into a per-thread buffer sized to stay in L2, and the depthwise conv runs on
// them at once. Rows shared with the next band (the kernel's reach minus the stride) are moved to
// the buffer's front rather than computed again, so every expanded row is computed once per task.
//
// ints: the expansion conv's 18 (N C H W M OH OW KH KW SH SW DH DW PT PL G act has_bias) and then
// the depthwise conv's 18; floats: 2 activation params of each; weights: expansion W (M x C),
// expansion bias (M), depthwise W (M x KH*KW), depthwise bias (M). Python checks the pattern
// (fusion.py); the op re-checks what it relies on.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "conv.h"
#include "gemm.h"
#include "kernels/conv_kernels.h"

namespace mnncpu {
namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

class ConvIrOp : public Op {
 public:
  ConvIrOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
           const KernelTable* k, int threads)
      : ck_(conv_kernels_of(k)) {
    require(v.size() >= 36 && f.size() >= 4 && w.size() >= 4, "conv_ir: expected 36 ints, 4 floats, 4 weights");
    N_ = v[0], C_ = v[1], H_ = v[2], W_ = v[3], M_ = v[4];
    const int64_t* d = v.data() + 18;
    require(v[5] == H_ && v[6] == W_ && v[7] == 1 && v[8] == 1 && v[9] == 1 && v[10] == 1 &&
                v[13] == 0 && v[14] == 0 && v[15] == 1,
            "conv_ir: the expansion must be a plain 1x1 conv");
    require(d[0] == N_ && d[1] == M_ && d[2] == H_ && d[3] == W_ && d[4] == M_ && d[15] == M_,
            "conv_ir: the second conv must be depthwise over the expansion's output");
    OH_ = d[5], OW_ = d[6], KH_ = d[7], KW_ = d[8], SH_ = d[9], SW_ = d[10], DH_ = d[11], DW_ = d[12];
    PT_ = d[13], PL_ = d[14];
    act_e_ = static_cast<int>(v[16]), act_d_ = static_cast<int>(d[16]);
    pe_[0] = f[0], pe_[1] = f[1], pd_[0] = f[2], pd_[1] = f[3];
    require(w[0].numel() == M_ * C_ && w[1].numel() == M_ && w[2].numel() == M_ * KH_ * KW_ &&
                w[3].numel() == M_,
            "conv_ir: weight sizes");

    // Expansion: W (M x C) in MR-row panels, as the 1x1 GEMM reads it.
    const int MR = k->mr, NR = k->nr;
    wexp_ = aligned_array<float>(round_up(M_, MR) * C_);
    pack_a(static_cast<const float*>(w[0].data), C_, 1, M_, C_, MR, wexp_.get());
    const float* be = static_cast<const float*>(w[1].data);
    bexp_.assign(be, be + M_);
    bexp_.resize(round_up(M_, MR), 0.f);  // micro-kernels may read a whole panel of biases

    // Depthwise: per block of V channels, taps x V weights then V biases (as conv.cpp dwblock).
    const int V = ck_->vec;
    T_ = KH_ * KW_;
    vblocks_ = ceil_div(M_, V);
    wdw_ = aligned_array<float>(vblocks_ * (T_ + 1) * V);
    const float* wd = static_cast<const float*>(w[2].data);
    const float* bd = static_cast<const float*>(w[3].data);
    for (int64_t b = 0; b < vblocks_; ++b)
      for (int l = 0; l < V; ++l) {
        const int64_t c = b * V + l;
        float* wb = wdw_.get() + b * (T_ + 1) * V;
        for (int64_t t = 0; t < T_; ++t) wb[t * V + l] = c < M_ ? wd[c * T_ + t] : 0.f;
        wb[T_ * V + l] = c < M_ ? bd[c] : 0.f;
      }
    Wp_ = (OW_ - 1) * SW_ + (KW_ - 1) * DW_ + 1;
    reach_ = (KH_ - 1) * DH_ + 1;
    for (int64_t kh = 0; kh < KH_; ++kh)
      for (int64_t kw = 0; kw < KW_; ++kw) offs_.push_back((kh * DH_ * Wp_ + kw * DW_) * V);

    // Output rows per band: the expansion rows they read (M x rows x W) stay within ~160 KiB, so
    // the buffer, the interleaved band and the outputs fit the L2 together.
    const int64_t row_bytes = M_ * W_ * 4;
    rows_ = std::max<int64_t>(1, ((160 << 10) / row_bytes - reach_) / SH_ + 1);
    rows_ = std::min(rows_, OH_);
    bands_ = ceil_div(OH_, rows_);
    // Tasks: runs of consecutive bands of one image, enough of them to balance the threads; each
    // run computes its first band's overlap rows once more.
    per_task_ = bands_;
    if (threads > 1) per_task_ = std::max<int64_t>(1, bands_ * N_ / (2 * threads));
    runs_ = ceil_div(bands_, per_task_);
    cap_ = std::min(H_, (rows_ - 1) * SH_ + reach_);  // expansion rows a band reads, at most
    band_rows_ = (rows_ - 1) * SH_ + reach_;
    buf_floats_ = round_up(M_ * cap_ * W_ + 16, 16);
    pb_floats_ = kKC * NR + 64;
    dw_floats_ = band_rows_ * Wp_ * V + (rows_ * OW_ + V) * V + 64;
  }

  const char* note() const override { return "expand+dwblock"; }
  int64_t scratch_bytes() const override { return (buf_floats_ + pb_floats_ + dw_floats_) * 4 + 256; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const int V = ck_->vec;
    const int64_t plane = H_ * W_, oplane = OH_ * OW_;
    ctx.pool->parallel_for(N_ * runs_, [&](int64_t task, int tid) {
      const int64_t n = task / runs_, b0 = (task % runs_) * per_task_;
      const int64_t b1 = std::min(bands_, b0 + per_task_);
      float* buf = ctx.thread_scratch(tid);
      float* pb = buf + buf_floats_;
      float* dws = pb + pb_floats_;
      const float* xn = x + n * C_ * plane;
      float* yn = y + n * M_ * oplane;
      const int64_t bstride = cap_ * W_;  // floats between channels in buf
      int64_t lo_prev = 0, hi_prev = 0;  // expansion rows held in buf: [lo_prev, hi_prev)
      for (int64_t band = b0; band < b1; ++band) {
        const int64_t oh0 = band * rows_, oh1 = std::min(OH_, oh0 + rows_);
        const int64_t lo = std::clamp<int64_t>(oh0 * SH_ - PT_, 0, H_);
        const int64_t hi = std::clamp<int64_t>((oh1 - 1) * SH_ - PT_ + reach_, lo, H_);
        int64_t have = lo;  // rows [lo, have) are in place at the front of buf
        if (hi_prev > lo && lo >= lo_prev) {  // overlap with the previous band: slide it down
          have = std::min(hi_prev, hi);
          if (lo > lo_prev)
            for (int64_t c = 0; c < M_; ++c)
              std::memmove(buf + c * bstride, buf + c * bstride + (lo - lo_prev) * W_,
                           sizeof(float) * (have - lo) * W_);
        }
        if (hi > have)
          conv_gemm_pointwise(k, M_, (hi - have) * W_, C_, wexp_.get(), xn + have * W_, plane,
                              buf + (have - lo) * W_, bstride, bexp_.data(), act_e_, pe_, pb);
        lo_prev = lo, hi_prev = hi;
        // The band as a map of its own: rows [lo, hi) of the expanded map, the rest padding.
        const DwBlockGeom dg{hi - lo, W_, OH_, OW_, SH_, SW_, PT_ + lo, PL_, Wp_,
                             static_cast<int>(T_), offs_.data(), reach_, band_rows_};
        for (int64_t vb = 0; vb < vblocks_; ++vb) {
          const int nch = static_cast<int>(std::min<int64_t>(V, M_ - vb * V));
          const float* wb = wdw_.get() + vb * (T_ + 1) * V;
          float* yb = yn + vb * V * oplane;
          if (!ck_->dw_block(dg, buf + vb * V * bstride, bstride, nch, wb, wb + T_ * V, act_d_, pd_,
                             oh0, oh1, dws, yb, oplane))
            for (int c = 0; c < nch; ++c)
              k->unary(yb + c * oplane + oh0 * OW_, yb + c * oplane + oh0 * OW_, (oh1 - oh0) * OW_,
                       act_d_, pd_);
        }
      }
    });
  }

 private:
  const ConvKernels* ck_;
  int64_t N_, C_, H_, W_, M_, OH_, OW_, KH_, KW_, SH_, SW_, DH_, DW_, PT_, PL_, T_ = 0;
  int act_e_, act_d_;
  float pe_[2], pd_[2];
  AlignedPtr<float> wexp_, wdw_;
  std::vector<float> bexp_;
  std::vector<int64_t> offs_;
  int64_t vblocks_ = 0, Wp_ = 0, reach_ = 0, rows_ = 1, bands_ = 1, per_task_ = 1, runs_ = 1;
  int64_t cap_ = 0, band_rows_ = 0, buf_floats_ = 0, pb_floats_ = 0, dw_floats_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_conv_ir_op(const std::vector<int64_t>& ints, const std::vector<float>& floats,
                                    const std::vector<Weight>& weights, const KernelTable* k, int threads) {
  return std::unique_ptr<Op>(new ConvIrOp(ints, floats, weights, k, threads));
}

}  // namespace mnncpu
