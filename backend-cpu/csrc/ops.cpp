#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "conv.h"
#include "gemm.h"
#include "kernels/conv_kernels.h"
#include "ops_extra.h"
#include "ops_vision.h"
#include "parallel.h"

namespace mnncpu {
namespace {

// ---- work splitting -----------------------------------------------------------------------------


// Contiguous chunks of `total` items, at least `grain` each, a few per thread.
int64_t chunk_size(int64_t total, int threads, int64_t grain) {
  if (threads <= 1) return std::max<int64_t>(total, 1);
  return std::max(grain, ceil_div(total, threads * 4));
}

std::vector<float> copy_floats(const Weight& w) {
  const float* p = static_cast<const float*>(w.data);
  return std::vector<float>(p, p + w.numel());
}

void check(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

// ---- convolution: conv.cpp ---------------------------------------------------------------------

// ---- matmul / gemm ------------------------------------------------------------------------------

class MatMulOp : public Op {
 public:
  // ints: batch M N K a_rs a_cs b_rs b_cs b_const bias_kind act pack_token nc then batch x (a_off, b_off)
  // bias_kind: 0 none, 1 per column [N], 2 per row [M], 3 matrix [M, N]. pack_token: see
  // shared_packed (0 = private). nc: column tile (0 = default; the tuner may pick another).
  MatMulOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w,
           const KernelTable* k, int threads) {
    check(v.size() >= 13, "matmul: expected at least 13 ints");
    batch_ = v[0]; M_ = v[1]; N_ = v[2]; K_ = v[3];
    a_rs_ = v[4]; a_cs_ = v[5]; b_rs_ = v[6]; b_cs_ = v[7];
    b_const_ = v[8] != 0;
    bias_kind_ = static_cast<int>(v[9]);
    act_ = static_cast<int>(v[10]);
    const int64_t token = v[11], nc = v[12];
    check(static_cast<int64_t>(v.size()) == 13 + 2 * batch_, "matmul: offsets missing");
    offsets_.assign(v.begin() + 13, v.end());
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
    size_t wi = 0;
    tiling_ = make_tiling(M_, N_, k->mr, k->nr, batch_, threads, nc > 0 ? nc : b_const_ ? 256 : 512);
    if (threads > 1) {  // tasks that balance on the pool (parallel.h); constant B is packed once
      const GemmSplit s = split_gemm(M_, N_, K_, k->mr, k->nr, batch_, threads,
                                     nc > 0 ? nc : b_const_ ? 256 : 512, b_const_ ? 0.0 : 0.5, 0.5);
      tiling_ = {s.nc, ceil_div(N_, s.nc), s.mc, ceil_div(M_, s.mc)};
    }
    if (b_const_) {
      const float* b = static_cast<const float*>(w.at(wi++).data) + offsets_[1];
      const int64_t K = K_, N = N_, rs = b_rs_, cs = b_cs_;
      const int NR = k->nr;
      packed_b_ = shared_packed(token, round_up(N_, NR) * K_,
                                [=](float* dst) { pack_b(b, rs, cs, K, N, NR, dst); });
    }
    if (bias_kind_) bias_ = copy_floats(w.at(wi++));
    // One row against constant B (classifier heads): a matrix-vector product over the packed
    // panels, since the GEMM would pad the row to MR. Tasks are runs of whole panels.
    if (M_ == 1 && b_const_ && bias_kind_ != 2) {
      float probe = 0.f;
      const int64_t panels = ceil_div(N_, k->nr);
      gemv_per_ = threads > 1 ? std::max<int64_t>(1, ceil_div(panels, 2 * threads)) : panels;
      gemv_ = gemv_packed(k, 0, &probe, 1, packed_b_.get(), 0, nullptr, &probe);
    }
    // Several column tiles read the same rows of A: pack A once into shared panels rather than
    // once per tile.
    shared_a_ = tiling_.ntiles > 1 && !gemv_;
    mr_ = k->mr;
  }

  int64_t scratch_bytes() const override {
    int64_t floats = shared_a_ ? 0 : tiling_.mc * K_;
    if (!b_const_) floats += round_up(tiling_.nc, 64) * K_;
    return floats * 4 + 128;
  }
  int64_t shared_bytes() const override { return shared_a_ ? a_stride() * batch_ * 4 + 64 : 0; }

  void run(const RunCtx& ctx) override {
    const float* a = ctx.at(in[0]);
    const float* b = b_const_ ? nullptr : ctx.at(in[1]);
    float* y = ctx.at(out[0]);
    const KernelTable* k = ctx.k;
    const Tiling& t = tiling_;
    const int MR = k->mr;
    if (gemv_) {
      const int64_t span = gemv_per_ * k->nr, chunks = ceil_div(N_, span);
      ctx.pool->parallel_for(batch_ * chunks, [&](int64_t task, int) {
        const int64_t bi = task / chunks, j0 = (task % chunks) * span, cnt = std::min(span, N_ - j0);
        float* yj = y + bi * N_ + j0;
        gemv_packed(k, K_, a + offsets_[2 * bi], a_cs_, packed_b_.get() + j0 * K_, cnt,
                    bias_kind_ ? bias_.data() + j0 : nullptr, yj);
        if (act_) k->unary(yj, yj, cnt, act_, params_);
      });
      return;
    }
    float* shared = reinterpret_cast<float*>(ctx.shared);
    if (shared_a_) {  // phase 1: every MR-row panel of every batch's A, once
      const int64_t panels = ceil_div(M_, MR), per = std::max<int64_t>(1, ceil_div(panels, 4));
      const int64_t groups = ceil_div(panels, per);
      ctx.pool->parallel_for(batch_ * groups, [&](int64_t task, int) {
        const int64_t bi = task / groups, p0 = (task % groups) * per;
        const int64_t m0 = p0 * MR, mc = std::min(per * MR, M_ - m0);
        pack_a_for(ctx.k, a + offsets_[2 * bi] + m0 * a_rs_, a_rs_, a_cs_, mc, K_,
                   shared + bi * a_stride() + m0 * K_);
      });
    }
    const int64_t tasks = batch_ * t.ntiles * t.mchunks;
    ctx.pool->parallel_for(tasks, [&](int64_t task, int tid) {
      const int64_t mi = task % t.mchunks;
      const int64_t ni = (task / t.mchunks) % t.ntiles;
      const int64_t bi = task / (t.mchunks * t.ntiles);
      const int64_t n0 = ni * t.nc, nc = std::min(t.nc, N_ - n0);
      const int64_t m0 = mi * t.mc, mc = std::min(t.mc, M_ - m0);
      float* scratch = ctx.thread_scratch(tid);
      const float* pa;
      if (shared_a_) {
        pa = shared + bi * a_stride() + m0 * K_;
      } else {
        pack_a_for(ctx.k, a + offsets_[2 * bi] + m0 * a_rs_, a_rs_, a_cs_, mc, K_, scratch);
        pa = scratch;
        scratch += round_up(t.mc * K_, 16);
      }
      const float* pb;
      if (b_const_) {
        pb = packed_b_.get() + n0 * K_;
      } else {
        pack_b(b + offsets_[2 * bi + 1] + n0 * b_cs_, b_rs_, b_cs_, K_, nc, k->nr, scratch);
        pb = scratch;
      }
      float* yb = y + bi * M_ * N_ + m0 * N_ + n0;
      gemm_packed(k, mc, nc, K_, pa, pb, yb, N_);
      if (bias_kind_ || act_) {
        const float* bias = bias_.data();
        k->bias_act(yb, mc, nc, N_, bias_kind_ == 2 ? bias + m0 : nullptr,
                    bias_kind_ == 1 ? bias + n0 : nullptr,
                    bias_kind_ == 3 ? bias + m0 * N_ + n0 : nullptr, N_, act_, params_);
      }
    });
  }

 private:
  int64_t a_stride() const { return round_up(M_, mr_) * K_; }  // floats per batch of packed A

  int64_t batch_, M_, N_, K_, a_rs_, a_cs_, b_rs_, b_cs_;
  bool b_const_, shared_a_ = false, gemv_ = false;
  int64_t gemv_per_ = 0;  // gemv: NR-column panels per task
  int bias_kind_, act_, mr_ = 1;
  float params_[2] = {0.f, 0.f};
  std::vector<int64_t> offsets_;
  std::vector<float> bias_;
  std::shared_ptr<float> packed_b_;
  Tiling tiling_{};
};

// ---- pooling and reductions ---------------------------------------------------------------------

class PoolOp : public Op {
 public:
  // ints: planes H W OH OW KH KW SH SW DH DW PT PL PB PR is_max count_include_pad
  explicit PoolOp(const std::vector<int64_t>& v) : v_(v) { check(v.size() == 17, "pool: expected 17 ints"); }
  int64_t scratch_bytes() const override {
    return std::max(pool_scratch_floats(v_[4], v_[5], v_[6], v_[8], v_[9], v_[10]),
                    maxpool_scratch_floats(v_[4], v_[6], v_[8])) * 4 + 64;
  }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const auto& v = v_;
    if (v[15] && v[9] == 1 && v[10] == 1 && v[8] <= 2) {  // max, unit dilations: conv_impl.h maxpool
      const ConvKernels* ck = conv_kernels_of(ctx.k);
      ctx.pool->parallel_for(v[0], [&](int64_t p, int tid) {
        ck->maxpool(x + p * v[1] * v[2], v[1], v[2], y + p * v[3] * v[4], v[3], v[4], v[5], v[6], v[7],
                    v[8], v[11], v[12], ctx.thread_scratch(tid));
      });
      return;
    }
    ctx.pool->parallel_for(v[0], [&](int64_t p, int tid) {
      ctx.k->pool2d(x + p * v[1] * v[2], v[1], v[2], y + p * v[3] * v[4], v[3], v[4], v[5], v[6], v[7],
                    v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15] != 0, v[16] != 0,
                    ctx.thread_scratch(tid));
    });
  }

 private:
  std::vector<int64_t> v_;
};

class ReduceOp : public Op {
 public:
  // ints: outer n inner kind (0 sum, 1 mean, 2 max, 3 min)
  explicit ReduceOp(const std::vector<int64_t>& v) : v_(v) { check(v.size() == 4, "reduce: 4 ints"); }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t outer = v_[0], n = v_[1], inner = v_[2], kind = v_[3];
    if (inner == 1 && n > 0) {  // global pooling, last-axis reductions: contiguous rows, in chunks
      const int64_t per = std::max<int64_t>(1, 4096 / n);  // rows per task: no per-row dispatch
      ctx.pool->parallel_for(ceil_div(outer, per), [&](int64_t t, int) {
        for (int64_t o = t * per; o < std::min(outer, (t + 1) * per); ++o) y[o] = reduce_row(x + o * n, n, kind);
      });
      return;
    }
    ctx.pool->parallel_for(outer, [&](int64_t o, int) {
      const float* xo = x + o * n * inner;
      float* yo = y + o * inner;
      // Row by row over the reduced axis, all inner positions at once: contiguous, vectorised.
      for (int64_t i = 0; i < inner; ++i) yo[i] = kind >= 2 && n > 0 ? xo[i] : 0.f;
      for (int64_t j = kind >= 2 ? 1 : 0; j < n; ++j) {
        const float* row = xo + j * inner;
        if (kind == 2)
          for (int64_t i = 0; i < inner; ++i) yo[i] = row[i] > yo[i] ? row[i] : yo[i];
        else if (kind == 3)
          for (int64_t i = 0; i < inner; ++i) yo[i] = row[i] < yo[i] ? row[i] : yo[i];
        else
          for (int64_t i = 0; i < inner; ++i) yo[i] += row[i];
      }
      if (kind == 1)
        for (int64_t i = 0; i < inner; ++i) yo[i] /= static_cast<float>(n);
    });
  }

 private:
  // 8 partial results: a single accumulator is a serial chain, 8 lanes vectorise.
  static float reduce_row(const float* x, int64_t n, int64_t kind) {
    float acc[8];
    for (int l = 0; l < 8; ++l) acc[l] = kind >= 2 ? x[0] : 0.f;
    int64_t j = 0;
    if (kind <= 1) {
      for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] += x[j + l];
    } else if (kind == 2) {
      for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    } else {
      for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] = x[j + l] < acc[l] ? x[j + l] : acc[l];
    }
    float r = acc[0];
    for (int l = 1; l < 8; ++l)
      r = kind <= 1 ? r + acc[l] : kind == 2 ? (acc[l] > r ? acc[l] : r) : (acc[l] < r ? acc[l] : r);
    for (; j < n; ++j)
      r = kind <= 1 ? r + x[j] : kind == 2 ? (x[j] > r ? x[j] : r) : (x[j] < r ? x[j] : r);
    return kind == 1 ? r / static_cast<float>(n) : r;
  }

  std::vector<int64_t> v_;
};

// ---- elementwise --------------------------------------------------------------------------------

class UnaryOp : public Op {
 public:
  // ints: n code
  UnaryOp(const std::vector<int64_t>& v, const std::vector<float>& f, int threads)
      : n_(v.at(0)), code_(static_cast<int>(v.at(1))) {
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
    chunk_ = chunk_size(n_, threads, 8192);
  }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    ctx.pool->parallel_for(ceil_div(n_, chunk_), [&](int64_t t, int) {
      const int64_t s = t * chunk_;
      ctx.k->unary(x + s, y + s, std::min(chunk_, n_ - s), code_, params_);
    });
  }

 private:
  int64_t n_, chunk_;
  int code_;
  float params_[2] = {0.f, 0.f};
};

class BinaryOp : public Op {
 public:
  // ints: op rank shape[rank] a_strides[rank] b_strides[rank]; innermost strides are 0 or 1.
  BinaryOp(const std::vector<int64_t>& v, int threads) {
    op_ = static_cast<int>(v.at(0));
    rank_ = v.at(1);
    check(static_cast<int64_t>(v.size()) == 2 + 3 * rank_ && rank_ >= 1, "binary: bad ints");
    shape_.assign(v.begin() + 2, v.begin() + 2 + rank_);
    sa_.assign(v.begin() + 2 + rank_, v.begin() + 2 + 2 * rank_);
    sb_.assign(v.begin() + 2 + 2 * rank_, v.end());
    inner_ = shape_.back();
    outer_ = 1;
    for (int64_t d = 0; d + 1 < rank_; ++d) outer_ *= shape_[d];
    // Split long rows so a single big row still feeds every thread.
    row_chunk_ = outer_ >= threads * 2 ? inner_ : chunk_size(inner_, threads, 8192);
  }

  void run(const RunCtx& ctx) override {
    const float* a = ctx.at(in[0]);
    const float* b = ctx.at(in[1]);
    float* y = ctx.at(out[0]);
    const int64_t pieces = ceil_div(inner_, row_chunk_);
    const int64_t rows_per_task = pieces > 1 ? 1 : std::max<int64_t>(1, outer_ / (ctx.pool->size() * 4));
    const int64_t tasks = pieces > 1 ? outer_ * pieces : ceil_div(outer_, rows_per_task);
    ctx.pool->parallel_for(tasks, [&](int64_t t, int) {
      int64_t r0, r1, c0, c1;
      if (pieces > 1) {
        r0 = t / pieces; r1 = r0 + 1;
        c0 = (t % pieces) * row_chunk_; c1 = std::min(inner_, c0 + row_chunk_);
      } else {
        r0 = t * rows_per_task; r1 = std::min(outer_, r0 + rows_per_task);
        c0 = 0; c1 = inner_;
      }
      for (int64_t r = r0; r < r1; ++r) {
        int64_t oa = 0, ob = 0, rem = r;
        for (int64_t d = rank_ - 2; d >= 0; --d) {
          const int64_t i = rem % shape_[d];
          rem /= shape_[d];
          oa += i * sa_[d];
          ob += i * sb_[d];
        }
        const int64_t ia = sa_.back(), ib = sb_.back();
        ctx.k->binary(op_, a + oa + c0 * ia, ia, b + ob + c0 * ib, ib, y + r * inner_ + c0, c1 - c0);
      }
    });
  }

 private:
  int op_;
  int64_t rank_, inner_, outer_, row_chunk_;
  std::vector<int64_t> shape_, sa_, sb_;
};

// ---- data movement ------------------------------------------------------------------------------

// Strided copies: Transpose, Slice, Concat, Split, Expand and non-aliasing reshapes all reduce to
// "copy this n-d box from (in_off, in_strides) to (out_off, out_strides)".
class CopyOp : public Op {
 public:
  struct Piece {
    int64_t rank, in_off, out_off;
    int64_t shape[8], is[8], os[8];
  };
  // ints: elsize npieces then per piece: rank shape[rank] in_strides[rank] in_off out_strides[rank] out_off
  explicit CopyOp(const std::vector<int64_t>& v) {
    elsize_ = v.at(0);
    const int64_t np = v.at(1);
    size_t pos = 2;
    for (int64_t p = 0; p < np; ++p) {
      Piece pc{};
      pc.rank = v.at(pos++);
      check(pc.rank >= 1 && pc.rank <= 8, "copy: rank must be 1..8");
      for (int64_t d = 0; d < pc.rank; ++d) pc.shape[d] = v.at(pos++);
      for (int64_t d = 0; d < pc.rank; ++d) pc.is[d] = v.at(pos++);
      pc.in_off = v.at(pos++);
      for (int64_t d = 0; d < pc.rank; ++d) pc.os[d] = v.at(pos++);
      pc.out_off = v.at(pos++);
      first_task_.push_back(tasks_);
      tasks_ += pc.rank > 1 ? pc.shape[0] : 1;
      pieces_.push_back(pc);
    }
  }

  void run(const RunCtx& ctx) override {
    char* y = ctx.at<char>(out[0]);
    ctx.pool->parallel_for(tasks_, [&](int64_t t, int) {
      size_t p = 0;
      while (p + 1 < pieces_.size() && first_task_[p + 1] <= t) ++p;
      const Piece& pc = pieces_[p];
      const char* x = ctx.at<const char>(in[p]);
      if (pc.rank == 1) {
        copy_row(x + pc.in_off * elsize_, pc.is[0], y + pc.out_off * elsize_, pc.os[0], pc.shape[0]);
        return;
      }
      const int64_t i0 = t - first_task_[p];
      copy_box(pc, 1, x + (pc.in_off + i0 * pc.is[0]) * elsize_, y + (pc.out_off + i0 * pc.os[0]) * elsize_);
    });
  }

 private:
  void copy_box(const Piece& pc, int64_t d, const char* x, char* y) const {
    if (d == pc.rank - 1) {
      copy_row(x, pc.is[d], y, pc.os[d], pc.shape[d]);
      return;
    }
    for (int64_t i = 0; i < pc.shape[d]; ++i)
      copy_box(pc, d + 1, x + i * pc.is[d] * elsize_, y + i * pc.os[d] * elsize_);
  }

  void copy_row(const char* x, int64_t is, char* y, int64_t os, int64_t n) const {
    if (is == 1 && os == 1) {
      std::memcpy(y, x, n * elsize_);
      return;
    }
    switch (elsize_) {
      case 4: strided<uint32_t>(x, is, y, os, n); break;
      case 8: strided<uint64_t>(x, is, y, os, n); break;
      case 2: strided<uint16_t>(x, is, y, os, n); break;
      default:
        for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * os * elsize_, x + i * is * elsize_, elsize_);
    }
  }

  template <class T>
  static void strided(const char* x, int64_t is, char* y, int64_t os, int64_t n) {
    const T* xs = reinterpret_cast<const T*>(x);
    T* ys = reinterpret_cast<T*>(y);
    for (int64_t i = 0; i < n; ++i) ys[i * os] = xs[i * is];
  }

  int64_t elsize_, tasks_ = 0;
  std::vector<Piece> pieces_;
  std::vector<int64_t> first_task_;
};

class GatherOp : public Op {
 public:
  // ints: elsize outer axis_dim inner nidx idx_is_i64
  explicit GatherOp(const std::vector<int64_t>& v) : v_(v) { check(v.size() == 6, "gather: 6 ints"); }

  void run(const RunCtx& ctx) override {
    const char* data = ctx.at<const char>(in[0]);
    const void* idx = ctx.ptr[in[1]];
    char* y = ctx.at<char>(out[0]);
    const int64_t es = v_[0], outer = v_[1], dim = v_[2], inner = v_[3], nidx = v_[4];
    const bool i64 = v_[5] != 0;
    const int64_t row = inner * es;
    ctx.pool->parallel_for(outer, [&](int64_t o, int) {
      for (int64_t i = 0; i < nidx; ++i) {
        int64_t j = i64 ? static_cast<const int64_t*>(idx)[i] : static_cast<const int32_t*>(idx)[i];
        if (j < 0) j += dim;
        char* dst = y + (o * nidx + i) * row;
        if (j < 0 || j >= dim) std::memset(dst, 0, row);  // out of range: zeros, never a wild read
        else std::memcpy(dst, data + (o * dim + j) * row, row);
      }
    });
  }

 private:
  std::vector<int64_t> v_;
};

// ---- normalisation ------------------------------------------------------------------------------

class SoftmaxOp : public Op {
 public:
  // ints: outer n inner
  explicit SoftmaxOp(const std::vector<int64_t>& v) : v_(v) { check(v.size() == 3, "softmax: 3 ints"); }
  int64_t scratch_bytes() const override { return v_[2] > 1 ? v_[1] * 8 + 64 : 0; }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t outer = v_[0], n = v_[1], inner = v_[2];
    if (inner == 1) {
      ctx.pool->parallel_for(outer, [&](int64_t o, int) { ctx.k->softmax(x + o * n, y + o * n, n); });
      return;
    }
    ctx.pool->parallel_for(outer * inner, [&](int64_t t, int tid) {
      const int64_t o = t / inner, i = t % inner;
      float* col = ctx.thread_scratch(tid);
      float* res = col + n;
      for (int64_t j = 0; j < n; ++j) col[j] = x[(o * n + j) * inner + i];
      ctx.k->softmax(col, res, n);
      for (int64_t j = 0; j < n; ++j) y[(o * n + j) * inner + i] = res[j];
    });
  }

 private:
  std::vector<int64_t> v_;
};

class LayerNormOp : public Op {
 public:
  // ints: outer n has_scale has_bias; floats: eps; weights: scale, bias (when present)
  LayerNormOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w)
      : outer_(v.at(0)), n_(v.at(1)), eps_(f.at(0)) {
    size_t wi = 0;
    if (v.at(2)) scale_ = copy_floats(w.at(wi++));
    if (v.at(3)) bias_ = copy_floats(w.at(wi++));
  }

  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const float* s = scale_.empty() ? nullptr : scale_.data();
    const float* b = bias_.empty() ? nullptr : bias_.data();
    ctx.pool->parallel_for(outer_, [&](int64_t o, int) {
      ctx.k->layernorm(x + o * n_, y + o * n_, n_, s, b, eps_);
    });
  }

 private:
  int64_t outer_, n_;
  float eps_;
  std::vector<float> scale_, bias_;
};

}  // namespace

std::unique_ptr<Op> make_op(const std::string& kind, const std::vector<int>& in,
                            const std::vector<int>& out, const std::vector<int64_t>& v,
                            const std::vector<float>& f, const std::vector<Weight>& w,
                            const KernelTable* k, int threads) {
  std::unique_ptr<Op> op;
  if (kind == "conv") op = make_conv_op(v, f, w, k, threads);
  else if (kind == "pw_blocked" || kind == "dw_blocked" || kind == "reorder" || kind == "chan_binary" ||
           kind == "gap_blocked" || kind == "pw_planar" ||
           kind == "stem_blocked")
    op = make_blocked_op(kind, v, f, w, k, threads);
  else if (kind == "matmul") op.reset(new MatMulOp(v, f, w, k, threads));
  else if (kind == "pool") op.reset(new PoolOp(v));
  else if (kind == "reduce") op.reset(new ReduceOp(v));
  else if (kind == "unary") op.reset(new UnaryOp(v, f, threads));
  else if (kind == "binary") op.reset(new BinaryOp(v, threads));
  else if (kind == "copy") op.reset(new CopyOp(v));
  else if (kind == "gather") op.reset(new GatherOp(v));
  else if (kind == "softmax") op.reset(new SoftmaxOp(v));
  else if (kind == "layernorm") op.reset(new LayerNormOp(v, f, w));
  else if (kind.rfind("v_", 0) == 0) op = make_vision_op(kind, v, f, w);
  else op = make_extra_op(kind, v, f, k, threads);
  if (!op)
    throw std::invalid_argument("unknown native op '" + kind + "'");
  op->in = in;
  op->out = out;
  return op;
}

}  // namespace mnncpu
