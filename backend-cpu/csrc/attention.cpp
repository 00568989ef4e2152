// Fused scaled-dot-product attention: softmax(Q K^T * scale + mask) V per (batch, head), a block of
// query rows at a time. Only one block of scores (rows x kv_len) exists at once; K^T and V are
// packed into GEMM panels once per task and reused by every row block of that task.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gemm.h"
#include "ops_extra.h"

namespace mnncpu {
namespace {

class AttentionOp : public Op {
 public:
  // ints: B Hq Hkv Lq Lkv D Dv causal mask_kind(0 none, 1 additive f32, 2 bool)
  //       mask_sb mask_sh mask_sq (element strides of the mask, 0 where broadcast; kv stride is 1)
  //       block (query rows per score block, 0 = default); floats: scale
  AttentionOp(const std::vector<int64_t>& v, const std::vector<float>& f, const KernelTable* k, int threads) {
    if (v.size() != 13 || f.size() != 1) throw std::invalid_argument("attention: 13 ints, 1 float");
    B_ = v[0]; Hq_ = v[1]; Hkv_ = v[2]; Lq_ = v[3]; Lkv_ = v[4]; D_ = v[5]; Dv_ = v[6];
    causal_ = v[7] != 0; mask_kind_ = static_cast<int>(v[8]);
    msb_ = v[9]; msh_ = v[10]; msq_ = v[11];
    scale_ = f[0];
    if (Hkv_ <= 0 || Hq_ % Hkv_) throw std::invalid_argument("attention: q heads must be a multiple of kv heads");
    mr_ = k->mr; nr_ = k->nr;
    block_ = round_up(v[12] > 0 ? v[12] : 4 * mr_, mr_);
    // Split each head's rows into chunks only when heads alone cannot feed the threads; each chunk
    // packs K and V again, so keep them as few as possible.
    const int64_t heads = B_ * Hq_;
    chunks_ = threads > 1 && heads < 2 * threads ? std::min(ceil_div(Lq_, mr_), ceil_div(2 * threads, heads)) : 1;
    chunk_rows_ = round_up(ceil_div(Lq_, chunks_), mr_);
    chunks_ = ceil_div(Lq_, chunk_rows_);
    block_ = std::min(block_, chunk_rows_);
  }

  int64_t scratch_bytes() const override {
    return 4 * (kt_floats() + v_floats() + a_floats() + block_ * Lkv_) + 4 * 64;
  }

  void run(const RunCtx& ctx) override {
    const float* q = ctx.at(in[0]);
    const float* kx = ctx.at(in[1]);
    const float* vx = ctx.at(in[2]);
    const void* mask = mask_kind_ ? ctx.ptr[in[3]] : nullptr;
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const int64_t group = Hq_ / Hkv_;
    ctx.pool->parallel_for(B_ * Hq_ * chunks_, [&](int64_t task, int tid) {
      const int64_t c = task % chunks_, bh = task / chunks_, b = bh / Hq_, h = bh % Hq_;
      const int64_t kvh = b * Hkv_ + h / group;
      float* kt = ctx.thread_scratch(tid);
      float* vp = kt + round_up(kt_floats(), 16);
      float* pa = vp + round_up(v_floats(), 16);
      float* s = pa + round_up(a_floats(), 16);
      // K^T as the B operand: element (d, j) = K[j][d]; V as B: element (j, e) = V[j][e].
      k->pack_bt_rows(kx + kvh * Lkv_ * D_, D_, Lkv_, D_, kt);
      pack_b(vx + kvh * Lkv_ * Dv_, Dv_, 1, Lkv_, Dv_, nr_, vp);
      const int64_t r_end = std::min(Lq_, (c + 1) * chunk_rows_);
      for (int64_t r0 = c * chunk_rows_; r0 < r_end; r0 += block_) {
        const int64_t mb = std::min(block_, r_end - r0);
        pack_a_for(k, q + (bh * Lq_ + r0) * D_, D_, 1, mb, D_, pa);
        for (int64_t i = 0, n = round_up(mb, mr_) * D_; i < n; ++i) pa[i] *= scale_;  // Q*scale, not S
        gemm_packed(k, mb, Lkv_, D_, pa, kt, s, Lkv_);
        for (int64_t i = 0; i < mb; ++i) softmax_row(k, s + i * Lkv_, b, h, r0 + i, mask);
        pack_a_for(k, s, Lkv_, 1, mb, Lkv_, pa);
        gemm_packed(k, mb, Dv_, Lkv_, pa, vp, y + (bh * Lq_ + r0) * Dv_, Dv_);
      }
    });
  }

 private:
  int64_t kt_floats() const { return round_up(Lkv_, nr_) * D_; }
  int64_t v_floats() const { return round_up(Dv_, nr_) * Lkv_; }
  int64_t a_floats() const { return block_ * std::max(D_, Lkv_); }

  // Scores of query row `i` in place -> probabilities. A row with every key masked gives zeros.
  void softmax_row(const KernelTable* k, float* row, int64_t b, int64_t h, int64_t i, const void* mask) const {
    const int64_t n = Lkv_;  // the scale is already in: Q's panels carry it
    const int64_t moff = b * msb_ + h * msh_ + i * msq_;
    if (mask_kind_ == 1) {
      const float* m = static_cast<const float*>(mask) + moff;
      for (int64_t j = 0; j < n; ++j) row[j] += m[j];
    } else if (mask_kind_ == 2) {
      const uint8_t* m = static_cast<const uint8_t*>(mask) + moff;
      for (int64_t j = 0; j < n; ++j) row[j] = m[j] ? row[j] : -INFINITY;
    }
    if (causal_)
      for (int64_t j = i + 1; j < n; ++j) row[j] = -INFINITY;
    // 16 partial maxima: a single running max is a serial compare chain that does not vectorise.
    float part[16];
    for (int l = 0; l < 16; ++l) part[l] = -INFINITY;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
      for (int l = 0; l < 16; ++l) part[l] = row[j + l] > part[l] ? row[j + l] : part[l];
    float top = -INFINITY;
    for (; j < n; ++j) top = row[j] > top ? row[j] : top;
    for (int l = 0; l < 16; ++l) top = part[l] > top ? part[l] : top;
    if (top == -INFINITY) {
      for (int64_t j = 0; j < n; ++j) row[j] = 0.f;
      return;
    }
    k->softmax(row, row, n);
  }

  int64_t B_, Hq_, Hkv_, Lq_, Lkv_, D_, Dv_, msb_, msh_, msq_, block_, chunks_, chunk_rows_;
  int mr_, nr_, mask_kind_;
  bool causal_;
  float scale_;
};

}  // namespace

std::unique_ptr<Op> make_attention_op(const std::vector<int64_t>& v, const std::vector<float>& f,
                                      const KernelTable* k, int threads) {
  return std::unique_ptr<Op>(new AttentionOp(v, f, k, threads));
}

}  // namespace mnncpu
