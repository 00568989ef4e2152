// Breadth ops of the vision op set (kinds "v_*", lowered in mnn_backend_cpu/lowering_vision.py):
// index-map data movement, separable resampling, N-D pooling and direct convolution with run-time
// weights, normalisations, reductions over any axes, typed broadcasting arithmetic, detection ops.
// They favour one generic kernel per family over speed; hot model ops keep their tuned kernels.
//
// Weights reach these ops as float32 arrays, but several carry other data (int32 index maps, raw
// bytes of a constant): Python views those bytes as float32, which pybind passes through unchanged.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "ops.h"
#include "ops_vision.h"

namespace mnncpu {
namespace {

enum TypeCode : int { TY_F32 = 0, TY_F64 = 1, TY_I32 = 2, TY_I64 = 3, TY_U8 = 4, TY_I8 = 5, TY_BOOL = 6 };

void need(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

bool is_int(int t) { return t >= TY_I32; }

double load_d(const void* p, int t, int64_t i) {
  switch (t) {
    case TY_F32: return static_cast<const float*>(p)[i];
    case TY_F64: return static_cast<const double*>(p)[i];
    case TY_I32: return static_cast<const int32_t*>(p)[i];
    case TY_I64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case TY_I8: return static_cast<const int8_t*>(p)[i];
    default: return static_cast<const uint8_t*>(p)[i];
  }
}

int64_t load_i(const void* p, int t, int64_t i) {
  switch (t) {
    case TY_F32: return static_cast<int64_t>(static_cast<const float*>(p)[i]);
    case TY_F64: return static_cast<int64_t>(static_cast<const double*>(p)[i]);
    case TY_I32: return static_cast<const int32_t*>(p)[i];
    case TY_I64: return static_cast<const int64_t*>(p)[i];
    case TY_I8: return static_cast<const int8_t*>(p)[i];
    default: return static_cast<const uint8_t*>(p)[i];
  }
}

template <class V>
void store(void* p, int t, int64_t i, V v) {
  switch (t) {
    case TY_F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case TY_F64: static_cast<double*>(p)[i] = static_cast<double>(v); break;
    case TY_I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case TY_I64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case TY_I8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
    case TY_BOOL: static_cast<uint8_t*>(p)[i] = v != V(0); break;
    default: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v);
  }
}

const int32_t* as_ints(const Weight& w) { return static_cast<const int32_t*>(w.data); }

std::vector<int32_t> copy_ints(const Weight& w) { return {as_ints(w), as_ints(w) + w.numel()}; }
std::vector<float> copy_f(const Weight& w) {
  const float* p = static_cast<const float*>(w.data);
  return {p, p + w.numel()};
}

// Reads ints in order with bounds checks (the layouts are documented at each op).
struct Ints {
  const std::vector<int64_t>& v;
  size_t pos = 0;
  int64_t next() {
    need(pos < v.size(), "vision op: too few ints");
    return v[pos++];
  }
  std::vector<int64_t> take(int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(next());
    return out;
  }
};

int64_t chunk_for(int64_t total, int threads) {
  return std::max<int64_t>(1024, ceil_div(total, std::max(threads, 1) * 4));
}

// ---- data movement through a plan-time index map -----------------------------------------------

// ints: elsize n has_map fill_lo fill_hi; weights: [map (int32 bits; -1 = fill)]. Without a map the
// output is all fill (ConstantOfShape, Size). The fill is up to 8 bytes given as two 32-bit halves.
class IndexMapOp : public Op {
 public:
  IndexMapOp(const std::vector<int64_t>& v, const std::vector<Weight>& w) {
    need(v.size() == 5, "v_imap: 5 ints");
    es_ = v[0]; n_ = v[1];
    const uint64_t bits = (static_cast<uint64_t>(v[4]) << 32) | static_cast<uint32_t>(v[3]);
    std::memcpy(fill_, &bits, 8);
    if (v[2]) map_ = copy_ints(w.at(0));
    need(!v[2] || static_cast<int64_t>(map_.size()) == n_, "v_imap: map size");
  }
  void run(const RunCtx& ctx) override {
    char* y = ctx.at<char>(out[0]);
    const char* x = map_.empty() ? nullptr : ctx.at<const char>(in[0]);
    const int64_t chunk = chunk_for(n_, ctx.pool->size());
    ctx.pool->parallel_for(ceil_div(n_, chunk), [&](int64_t t, int) {
      const int64_t e = std::min(n_, (t + 1) * chunk);
      for (int64_t i = t * chunk; i < e; ++i) {
        const int32_t j = map_.empty() ? -1 : map_[i];
        std::memcpy(y + i * es_, j < 0 ? fill_ : x + j * es_, es_);
      }
    });
  }

 private:
  int64_t es_, n_;
  char fill_[8];
  std::vector<int32_t> map_;
};

// ints: nbytes; weights: the bytes (viewed as float32). Writes a plan-time constant into the output.
class ConstOp : public Op {
 public:
  ConstOp(const std::vector<int64_t>& v, const std::vector<Weight>& w) : n_(v.at(0)) {
    const char* p = static_cast<const char*>(w.at(0).data);
    bytes_.assign(p, p + n_);
  }
  void run(const RunCtx& ctx) override { std::memcpy(ctx.at<char>(out[0]), bytes_.data(), n_); }

 private:
  int64_t n_;
  std::vector<char> bytes_;
};

// ints: elsize rank axis idx_i64 shape[rank] (of indices/output) data_shape[rank]
class GatherElementsOp : public Op {
 public:
  explicit GatherElementsOp(const std::vector<int64_t>& v) {
    Ints r{v};
    es_ = r.next(); rank_ = r.next(); axis_ = r.next(); i64_ = r.next();
    shape_ = r.take(rank_); dshape_ = r.take(rank_);
  }
  void run(const RunCtx& ctx) override {
    const char* x = ctx.at<const char>(in[0]);
    const void* idx = ctx.ptr[in[1]];
    char* y = ctx.at<char>(out[0]);
    int64_t n = 1;
    for (auto d : shape_) n *= d;
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, off = 0, stride = 1;
      int64_t j = load_i(idx, i64_ ? TY_I64 : TY_I32, i);
      if (j < 0) j += dshape_[axis_];
      need(j >= 0 && j < dshape_[axis_], "GatherElements: index out of range");
      for (int64_t d = rank_ - 1; d >= 0; --d) {
        const int64_t c = rem % shape_[d];
        rem /= shape_[d];
        off += (d == axis_ ? j : c) * stride;
        stride *= dshape_[d];
      }
      std::memcpy(y + i * es_, x + off * es_, es_);
    }
  }

 private:
  int64_t es_, rank_, axis_, i64_;
  std::vector<int64_t> shape_, dshape_;
};

// ints: type n_data nupd depth slice reduction(0 none 1 add 2 mul 3 max 4 min) idx_i64
//       data_shape[depth] (first `depth` dims of data) ; inputs: data indices updates
class ScatterNDOp : public Op {
 public:
  explicit ScatterNDOp(const std::vector<int64_t>& v) {
    Ints r{v};
    type_ = static_cast<int>(r.next()); n_ = r.next(); nupd_ = r.next(); depth_ = r.next();
    slice_ = r.next(); red_ = static_cast<int>(r.next()); i64_ = r.next();
    dims_ = r.take(depth_);
    need(red_ == 0 || type_ == TY_F32, "ScatterND reductions take float32");
  }
  void run(const RunCtx& ctx) override {
    const int64_t es = type_ == TY_F32 || type_ == TY_I32 ? 4 : type_ == TY_I64 || type_ == TY_F64 ? 8 : 1;
    char* y = ctx.at<char>(out[0]);
    if (y != ctx.at<char>(in[0])) std::memcpy(y, ctx.at<const char>(in[0]), n_ * es);
    const void* idx = ctx.ptr[in[1]];
    const char* u = ctx.at<const char>(in[2]);
    for (int64_t k = 0; k < nupd_; ++k) {
      int64_t off = 0;
      for (int64_t d = 0; d < depth_; ++d) {
        int64_t j = load_i(idx, i64_ ? TY_I64 : TY_I32, k * depth_ + d);
        if (j < 0) j += dims_[d];
        need(j >= 0 && j < dims_[d], "ScatterND: index out of range");
        off = off * dims_[d] + j;
      }
      off *= slice_;
      if (red_ == 0) {
        std::memcpy(y + off * es, u + k * slice_ * es, slice_ * es);
        continue;
      }
      float* dst = reinterpret_cast<float*>(y) + off;
      const float* src = reinterpret_cast<const float*>(u) + k * slice_;
      for (int64_t i = 0; i < slice_; ++i) {
        float& a = dst[i];
        const float b = src[i];
        a = red_ == 1 ? a + b : red_ == 2 ? a * b : red_ == 3 ? std::max(a, b) : std::min(a, b);
      }
    }
  }

 private:
  int type_, red_;
  int64_t n_, nupd_, depth_, slice_, i64_;
  std::vector<int64_t> dims_;
};

// ---- elementwise --------------------------------------------------------------------------------

enum VUnary : int {
  VU_ELU = 0, VU_SELU, VU_CELU, VU_SOFTPLUS, VU_SOFTSIGN, VU_MISH, VU_GELU_TANH, VU_CEIL, VU_FLOOR,
  VU_ROUND, VU_SIGN, VU_THRESHOLDED_RELU, VU_SIN, VU_COS, VU_TAN, VU_ASIN, VU_ACOS, VU_ATAN, VU_SINH,
  VU_COSH, VU_ASINH, VU_ACOSH, VU_ATANH, VU_SHRINK, VU_SCALE, VU_HARD_SIGMOID, VU_LEAKY, VU_RELU,
  VU_IDENTITY, VU_ERF, VU_EXP, VU_LOG, VU_SQRT, VU_NEG, VU_ABS, VU_RECIPROCAL, VU_SIGMOID, VU_TANH,
};

float unary_one(int code, float x, const float* p) {
  switch (code) {
    case VU_ELU: return x < 0 ? p[0] * std::expm1(x) : x;
    case VU_SELU: return p[1] * (x <= 0 ? p[0] * std::expm1(x) : x);
    case VU_CELU: return std::max(0.f, x) + std::min(0.f, p[0] * std::expm1(x / p[0]));
    case VU_SOFTPLUS: return x > 20 ? x : std::log1p(std::exp(x));
    case VU_SOFTSIGN: return x / (1 + std::fabs(x));
    case VU_MISH: return x * std::tanh(x > 20 ? x : std::log1p(std::exp(x)));
    case VU_GELU_TANH: return 0.5f * x * (1 + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case VU_CEIL: return std::ceil(x);
    case VU_FLOOR: return std::floor(x);
    case VU_ROUND: return std::nearbyint(x);  // the default rounding mode: half to even
    case VU_SIGN: return static_cast<float>((x > 0) - (x < 0));
    case VU_THRESHOLDED_RELU: return x > p[0] ? x : 0.f;
    case VU_SIN: return std::sin(x);
    case VU_COS: return std::cos(x);
    case VU_TAN: return std::tan(x);
    case VU_ASIN: return std::asin(x);
    case VU_ACOS: return std::acos(x);
    case VU_ATAN: return std::atan(x);
    case VU_SINH: return std::sinh(x);
    case VU_COSH: return std::cosh(x);
    case VU_ASINH: return std::asinh(x);
    case VU_ACOSH: return std::acosh(x);
    case VU_ATANH: return std::atanh(x);
    case VU_SHRINK: return x < -p[0] ? x + p[1] : x > p[0] ? x - p[1] : 0.f;
    case VU_SCALE: return p[0] * x;
    case VU_HARD_SIGMOID: return std::min(1.f, std::max(0.f, p[0] * x + p[1]));
    case VU_LEAKY: return x < 0 ? p[0] * x : x;
    case VU_RELU: return x > 0 ? x : 0.f;
    case VU_ERF: return std::erf(x);
    case VU_EXP: return std::exp(x);
    case VU_LOG: return std::log(x);
    case VU_SQRT: return std::sqrt(x);
    case VU_NEG: return -x;
    case VU_ABS: return std::fabs(x);
    case VU_RECIPROCAL: return 1.f / x;
    case VU_SIGMOID: return 1.f / (1.f + std::exp(-x));
    case VU_TANH: return std::tanh(x);
    default: return x;
  }
}

// ints: n code type (f32, or i32/i64 for sign-preserving codes: Neg Abs Relu Sign Identity);
// floats: params
class VUnaryOp : public Op {
 public:
  VUnaryOp(const std::vector<int64_t>& v, const std::vector<float>& f) {
    need(v.size() == 3, "v_unary: 3 ints");
    n_ = v[0]; code_ = static_cast<int>(v[1]); type_ = static_cast<int>(v[2]);
    for (size_t i = 0; i < f.size() && i < 3; ++i) p_[i] = f[i];
  }
  void run(const RunCtx& ctx) override {
    const void* x = ctx.ptr[in[0]];
    void* y = ctx.ptr[out[0]];
    const int64_t chunk = chunk_for(n_, ctx.pool->size());
    ctx.pool->parallel_for(ceil_div(n_, chunk), [&](int64_t t, int) {
      const int64_t e = std::min(n_, (t + 1) * chunk);
      if (type_ == TY_F32) {
        const float* xs = static_cast<const float*>(x);
        float* ys = static_cast<float*>(y);
        for (int64_t i = t * chunk; i < e; ++i) ys[i] = unary_one(code_, xs[i], p_);
        return;
      }
      for (int64_t i = t * chunk; i < e; ++i) {
        const int64_t a = load_i(x, type_, i);
        const int64_t r = code_ == VU_NEG ? -a : code_ == VU_ABS ? (a < 0 ? -a : a)
                          : code_ == VU_RELU ? std::max<int64_t>(a, 0)
                          : code_ == VU_SIGN ? (a > 0) - (a < 0) : a;
        store(y, type_, i, r);
      }
    });
  }

 private:
  int64_t n_;
  int code_, type_;
  float p_[3] = {0, 0, 0};
};

enum VBinary : int { VB_ADD = 0, VB_SUB, VB_MUL, VB_DIV, VB_MAX, VB_MIN, VB_POW, VB_MOD, VB_FMOD,
                     VB_PRELU, VB_CLIP_LO, VB_CLIP_HI };

double binary_d(int code, double a, double b) {
  switch (code) {
    case VB_ADD: return a + b;
    case VB_SUB: return a - b;
    case VB_MUL: return a * b;
    case VB_DIV: return a / b;
    case VB_MAX: case VB_CLIP_LO: return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case VB_MIN: case VB_CLIP_HI: return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
    case VB_POW: return std::pow(a, b);
    case VB_MOD: {  // Python-style: the result takes the divisor's sign
      const double r = std::fmod(a, b);
      return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    case VB_FMOD: return std::fmod(a, b);
    default: return a < 0 ? a * b : a;  // PRelu
  }
}

int64_t binary_i(int code, int64_t a, int64_t b) {
  switch (code) {
    case VB_ADD: return a + b;
    case VB_SUB: return a - b;
    case VB_MUL: return a * b;
    case VB_DIV: return b == 0 ? 0 : a / b;  // C++ truncates, as ONNX integer Div
    case VB_MAX: case VB_CLIP_LO: return std::max(a, b);
    case VB_MIN: case VB_CLIP_HI: return std::min(a, b);
    case VB_POW: {
      if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
      int64_t r = 1;
      for (int64_t base = a; b; b >>= 1, base *= base)
        if (b & 1) r *= base;
      return r;
    }
    case VB_MOD: {
      if (b == 0) return 0;
      const int64_t r = a % b;
      return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    case VB_FMOD: return b == 0 ? 0 : a % b;
    default: return a < 0 ? a * b : a;
  }
}

// ints: code ta tb ty rank shape[rank] sa[rank] sb[rank] b_is_weight; floats: [alpha beta]
// (operands are scaled first: y = op(alpha*a, beta*b); float types only).
// Integer outputs with integer operands compute in int64; anything else in double.
class VBinaryOp : public Op {
 public:
  VBinaryOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w) {
    Ints r{v};
    code_ = static_cast<int>(r.next()); ta_ = static_cast<int>(r.next());
    tb_ = static_cast<int>(r.next()); ty_ = static_cast<int>(r.next());
    rank_ = r.next();
    shape_ = r.take(rank_); sa_ = r.take(rank_); sb_ = r.take(rank_);
    if (r.next()) {
      const char* p = static_cast<const char*>(w.at(0).data);
      bconst_.assign(p, p + w.at(0).numel() * 4);
    }
    if (f.size() == 2) { alpha_ = f[0]; beta_ = f[1]; }
    ints_ = is_int(ta_) && is_int(tb_) && is_int(ty_);
    inner_ = shape_.back();
    outer_ = 1;
    for (int64_t d = 0; d + 1 < rank_; ++d) outer_ *= shape_[d];
  }
  void run(const RunCtx& ctx) override {
    const void* a = ctx.ptr[in[0]];
    const void* b = bconst_.empty() ? ctx.ptr[in[1]] : bconst_.data();
    void* y = ctx.ptr[out[0]];
    const int64_t per = std::max<int64_t>(1, 4096 / std::max<int64_t>(inner_, 1));
    ctx.pool->parallel_for(ceil_div(outer_, per), [&](int64_t t, int) {
      for (int64_t row = t * per; row < std::min(outer_, (t + 1) * per); ++row) {
        int64_t oa = 0, ob = 0, rem = row;
        for (int64_t d = rank_ - 2; d >= 0; --d) {
          const int64_t i = rem % shape_[d];
          rem /= shape_[d];
          oa += i * sa_[d];
          ob += i * sb_[d];
        }
        const int64_t ia = sa_.back(), ib = sb_.back(), base = row * inner_;
        if (ints_) {
          for (int64_t i = 0; i < inner_; ++i)
            store(y, ty_, base + i, binary_i(code_, load_i(a, ta_, oa + i * ia), load_i(b, tb_, ob + i * ib)));
        } else {
          for (int64_t i = 0; i < inner_; ++i)
            store(y, ty_, base + i, binary_d(code_, alpha_ * load_d(a, ta_, oa + i * ia),
                                              beta_ * load_d(b, tb_, ob + i * ib)));
        }
      }
    });
  }

 private:
  int code_, ta_, tb_, ty_;
  bool ints_;
  int64_t rank_, inner_, outer_;
  double alpha_ = 1, beta_ = 1;
  std::vector<int64_t> shape_, sa_, sb_;
  std::vector<char> bconst_;
};

// ints: n start_type delta_type out_type ; inputs: start delta
class RangeOp : public Op {
 public:
  explicit RangeOp(const std::vector<int64_t>& v) : n_(v.at(0)), ty_(static_cast<int>(v.at(1))) {}
  void run(const RunCtx& ctx) override {
    void* y = ctx.ptr[out[0]];
    if (is_int(ty_)) {
      const int64_t s = load_i(ctx.ptr[in[0]], ty_, 0), d = load_i(ctx.ptr[in[1]], ty_, 0);
      for (int64_t i = 0; i < n_; ++i) store(y, ty_, i, s + i * d);
    } else {
      const double s = load_d(ctx.ptr[in[0]], ty_, 0), d = load_d(ctx.ptr[in[1]], ty_, 0);
      // accumulate in the element type, as numpy.arange's float32 does not; multiply instead
      for (int64_t i = 0; i < n_; ++i) store(y, ty_, i, s + static_cast<double>(i) * d);
    }
  }

 private:
  int64_t n_;
  int ty_;
};

// ---- reductions ---------------------------------------------------------------------------------

enum VReduce : int { VR_SUM = 0, VR_MEAN, VR_MAX, VR_MIN, VR_PROD, VR_L1, VR_L2, VR_SUMSQ, VR_LOGSUM,
                     VR_LOGSUMEXP };

// ints: kind type nout nkept kept_shape kept_strides nred red_shape red_strides (element strides of
// the input; output is contiguous over the kept dims)
class VReduceOp : public Op {
 public:
  explicit VReduceOp(const std::vector<int64_t>& v) {
    Ints r{v};
    kind_ = static_cast<int>(r.next()); type_ = static_cast<int>(r.next()); nout_ = r.next();
    const int64_t nk = r.next();
    kshape_ = r.take(nk); kstr_ = r.take(nk);
    const int64_t nr = r.next();
    rshape_ = r.take(nr); rstr_ = r.take(nr);
    count_ = 1;
    for (auto d : rshape_) count_ *= d;
  }
  void run(const RunCtx& ctx) override {
    const void* x = ctx.ptr[in[0]];
    void* y = ctx.ptr[out[0]];
    ctx.pool->parallel_for(nout_, [&](int64_t o, int) {
      int64_t base = 0, rem = o;
      for (int64_t d = static_cast<int64_t>(kshape_.size()) - 1; d >= 0; --d) {
        base += (rem % kshape_[d]) * kstr_[d];
        rem /= kshape_[d];
      }
      double acc = kind_ == VR_MAX ? (type_ == TY_BOOL ? 0.0 : -INFINITY)
                   : kind_ == VR_MIN ? (type_ == TY_BOOL ? 1.0 : INFINITY) : kind_ == VR_PROD ? 1.0 : 0.0;
      double mx = -INFINITY;
      if (kind_ == VR_LOGSUMEXP)
        for (int64_t k = 0; k < count_; ++k) mx = std::max(mx, load_d(x, type_, offset(base, k)));
      for (int64_t k = 0; k < count_; ++k) {
        const double a = load_d(x, type_, offset(base, k));
        switch (kind_) {
          case VR_MAX: acc = std::isnan(a) ? a : std::max(acc, a); break;
          case VR_MIN: acc = std::isnan(a) ? a : std::min(acc, a); break;
          case VR_PROD: acc *= a; break;
          case VR_L1: acc += std::fabs(a); break;
          case VR_L2: case VR_SUMSQ: acc += a * a; break;
          case VR_LOGSUMEXP: acc += std::exp(a - mx); break;
          default: acc += a;
        }
      }
      if (kind_ == VR_MEAN) acc /= static_cast<double>(count_);
      else if (kind_ == VR_L2) acc = std::sqrt(acc);
      else if (kind_ == VR_LOGSUM) acc = std::log(acc);
      else if (kind_ == VR_LOGSUMEXP) acc = count_ ? std::log(acc) + mx : -INFINITY;
      store(y, type_, o, acc);
    });
  }

 private:
  int64_t offset(int64_t base, int64_t k) const {
    for (int64_t d = static_cast<int64_t>(rshape_.size()) - 1; d >= 0; --d) {
      base += (k % rshape_[d]) * rstr_[d];
      k /= rshape_[d];
    }
    return base;
  }
  int kind_, type_;
  int64_t nout_, count_;
  std::vector<int64_t> kshape_, kstr_, rshape_, rstr_;
};

// ints: outer n inner is_max select_last type ; output int64
class ArgOp : public Op {
 public:
  explicit ArgOp(const std::vector<int64_t>& v) : v_(v) { need(v.size() == 6, "v_arg: 6 ints"); }
  void run(const RunCtx& ctx) override {
    const void* x = ctx.ptr[in[0]];
    int64_t* y = ctx.at<int64_t>(out[0]);
    const int64_t outer = v_[0], n = v_[1], inner = v_[2];
    const bool is_max = v_[3], last = v_[4];
    const int type = static_cast<int>(v_[5]);
    ctx.pool->parallel_for(outer, [&](int64_t o, int) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        double bv = load_d(x, type, o * n * inner + i);
        for (int64_t j = 1; j < n; ++j) {
          const double a = load_d(x, type, (o * n + j) * inner + i);
          const bool better = is_max ? (last ? a >= bv : a > bv) : (last ? a <= bv : a < bv);
          if (better) { bv = a; best = j; }
        }
        y[o * inner + i] = best;
      }
    });
  }

 private:
  std::vector<int64_t> v_;
};

// ints: outer n inner mode (0 softmax, 1 log-softmax, 2 hardmax)
class VSoftmaxOp : public Op {
 public:
  explicit VSoftmaxOp(const std::vector<int64_t>& v) : v_(v) { need(v.size() == 4, "v_softmax: 4 ints"); }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t outer = v_[0], n = v_[1], inner = v_[2], mode = v_[3];
    ctx.pool->parallel_for(outer * inner, [&](int64_t t, int) {
      const int64_t o = t / inner, i = t % inner;
      const float* xs = x + o * n * inner + i;
      float* ys = y + o * n * inner + i;
      float mx = -INFINITY;
      int64_t arg = 0;
      for (int64_t j = 0; j < n; ++j)
        if (xs[j * inner] > mx) { mx = xs[j * inner]; arg = j; }
      if (mode == 2) {
        for (int64_t j = 0; j < n; ++j) ys[j * inner] = j == arg ? 1.f : 0.f;
        return;
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(xs[j * inner] - mx));
      if (mode == 1) {
        const float ls = static_cast<float>(std::log(sum));
        for (int64_t j = 0; j < n; ++j) ys[j * inner] = xs[j * inner] - mx - ls;
      } else {
        const double inv = 1.0 / sum;
        for (int64_t j = 0; j < n; ++j) ys[j * inner] = static_cast<float>(std::exp(static_cast<double>(xs[j * inner] - mx)) * inv);
      }
    });
  }

 private:
  std::vector<int64_t> v_;
};

// ---- normalisation ------------------------------------------------------------------------------

// Rows of n contiguous elements are normalised (LayerNorm: trailing dims; InstanceNorm: spatial;
// GroupNorm: channels of a group x spatial). Element e of the tensor takes scale/bias channel
// (e / inner) % C. ints: rows n inner C rms has_scale has_bias stat_outputs(0..2); floats: eps.
// Inputs: x [scale] [bias]; outputs: y [mean] [inv_std].
class VNormOp : public Op {
 public:
  VNormOp(const std::vector<int64_t>& v, const std::vector<float>& f) : v_(v), eps_(f.at(0)) {
    need(v.size() == 8, "v_norm: 8 ints");
  }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t rows = v_[0], n = v_[1], inner = v_[2], C = v_[3];
    const bool rms = v_[4];
    size_t k = 1;
    const float* s = v_[5] ? ctx.at(in[k++]) : nullptr;
    const float* b = v_[6] ? ctx.at(in[k++]) : nullptr;
    float* mean_out = v_[7] >= 1 ? ctx.at(out[1]) : nullptr;
    float* inv_out = v_[7] >= 2 ? ctx.at(out[2]) : nullptr;
    ctx.pool->parallel_for(rows, [&](int64_t r, int) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double mean = 0, var = 0;
      if (!rms) {
        for (int64_t j = 0; j < n; ++j) mean += xr[j];
        mean /= static_cast<double>(n);
      }
      for (int64_t j = 0; j < n; ++j) var += (xr[j] - mean) * (xr[j] - mean);
      var /= static_cast<double>(n);
      const double inv = 1.0 / std::sqrt(var + eps_);
      if (mean_out) mean_out[r] = static_cast<float>(mean);
      if (inv_out) inv_out[r] = static_cast<float>(inv);
      for (int64_t j = 0; j < n; ++j) {
        const int64_t c = ((r * n + j) / inner) % C;
        float val = static_cast<float>((xr[j] - mean) * inv);
        if (s) val *= s[c];
        if (b) val += b[c];
        yr[j] = val;
      }
    });
  }

 private:
  std::vector<int64_t> v_;
  float eps_;
};

// ints: N C S training ; floats: eps momentum ; inputs: x scale bias mean var (per channel).
// Training mode normalises with the batch statistics and also outputs running mean and variance.
class BatchNormOp : public Op {
 public:
  BatchNormOp(const std::vector<int64_t>& v, const std::vector<float>& f) : v_(v), f_(f) {
    need(v.size() == 4 && f.size() == 2, "v_batchnorm: 4 ints, 2 floats");
  }
  void run(const RunCtx& ctx) override {
    const float *x = ctx.at(in[0]), *s = ctx.at(in[1]), *b = ctx.at(in[2]), *m = ctx.at(in[3]),
                *var = ctx.at(in[4]);
    float* y = ctx.at(out[0]);
    const int64_t N = v_[0], C = v_[1], S = v_[2];
    const float eps = f_[0], momentum = f_[1];
    if (v_[3]) {  // training: batch statistics per channel, then the running averages
      float* rm = ctx.at(out[1]);
      float* rv = ctx.at(out[2]);
      for (int64_t c = 0; c < C; ++c) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < S; ++i) sum += x[(n * C + c) * S + i];
        const double mean = sum / (N * S);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < S; ++i) sq += (x[(n * C + c) * S + i] - mean) * (x[(n * C + c) * S + i] - mean);
        const double v = sq / (N * S), k = s[c] / std::sqrt(v + eps);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < S; ++i)
            y[(n * C + c) * S + i] = static_cast<float>((x[(n * C + c) * S + i] - mean) * k + b[c]);
        rm[c] = static_cast<float>(m[c] * momentum + mean * (1 - momentum));
        rv[c] = static_cast<float>(var[c] * momentum + v * (1 - momentum));
      }
      return;
    }
    ctx.pool->parallel_for(N * C, [&](int64_t p, int) {
      const int64_t c = p % C;
      const float k = s[c] / std::sqrt(var[c] + eps), off = b[c] - m[c] * k;
      for (int64_t i = 0; i < S; ++i) y[p * S + i] = x[p * S + i] * k + off;
    });
  }

 private:
  std::vector<int64_t> v_;
  std::vector<float> f_;
};

// ints: type n rank nnz ; output [rank, nnz] int64 coordinates of non-zero elements, row-major
// order. Data dependent like NMS: the plan holds nnz and a run with another count fails.
class NonZeroOp : public Op {
 public:
  explicit NonZeroOp(const std::vector<int64_t>& v) {
    Ints r{v};
    type_ = static_cast<int>(r.next()); n_ = r.next(); rank_ = r.next(); nnz_ = r.next();
    shape_ = r.take(rank_);
  }
  void run(const RunCtx& ctx) override {
    const void* x = ctx.ptr[in[0]];
    int64_t* y = ctx.at<int64_t>(out[0]);
    int64_t count = 0;
    for (int64_t i = 0; i < n_; ++i) {
      if (load_d(x, type_, i) == 0) continue;
      if (count < nnz_)
        for (int64_t d = rank_ - 1, rem = i; d >= 0; --d) {
          y[d * nnz_ + count] = rem % shape_[d];
          rem /= shape_[d];
        }
      ++count;
    }
    if (count != nnz_)
      throw std::runtime_error("NonZero found " + std::to_string(count) + " elements; the plan was made for " +
                               std::to_string(nnz_));
  }

 private:
  int type_;
  int64_t n_, rank_, nnz_;
  std::vector<int64_t> shape_;
};

// ints: N C S size ; floats: alpha beta bias
class LrnOp : public Op {
 public:
  LrnOp(const std::vector<int64_t>& v, const std::vector<float>& f) : v_(v), f_(f) {}
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    const int64_t N = v_[0], C = v_[1], S = v_[2], size = v_[3];
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    ctx.pool->parallel_for(N * C, [&](int64_t p, int) {
      const int64_t n = p / C, c = p % C;
      for (int64_t i = 0; i < S; ++i) {
        double sq = 0;
        for (int64_t cc = std::max<int64_t>(0, c - before); cc <= std::min(C - 1, c + after); ++cc) {
          const double a = x[(n * C + cc) * S + i];
          sq += a * a;
        }
        y[p * S + i] = static_cast<float>(x[p * S + i] / std::pow(f_[2] + f_[0] / size * sq, f_[1]));
      }
    });
  }

 private:
  std::vector<int64_t> v_;
  std::vector<float> f_;
};

// ---- pooling and direct convolution over 1 to 3 spatial dims -------------------------------------

struct Geo {  // spatial geometry, padded to 3 dims with size-1 leading dims
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

Geo read_geo(Ints& r, bool ends) {
  Geo g;
  for (auto* a : {g.in, g.out, g.k, g.s, g.d, g.pb})
    for (int i = 0; i < 3; ++i) a[i] = r.next();
  for (int i = 0; i < 3; ++i) g.pe[i] = ends ? r.next() : 0;
  return g;
}

// ints: planes geo(in out k s d pad_begin pad_end, 3 each) kind(0 avg, 1 max, 2 lp) include_pad p
//       storage_order ; outputs: y [indices (int64, flat over N x C x spatial; storage_order 1:
//       spatial dims column-major)]
class VPoolOp : public Op {
 public:
  explicit VPoolOp(const std::vector<int64_t>& v) {
    Ints r{v};
    planes_ = r.next();
    g_ = read_geo(r, true);
    kind_ = static_cast<int>(r.next()); include_pad_ = r.next(); p_ = r.next(); col_major_ = r.next();
  }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    float* y = ctx.at(out[0]);
    int64_t* idx = out.size() > 1 ? ctx.at<int64_t>(out[1]) : nullptr;
    const Geo& g = g_;
    ctx.pool->parallel_for(planes_, [&](int64_t p, int) {
      const float* xp = x + p * g.in_size();
      for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
          for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
            const int64_t o[3] = {o0, o1, o2};
            double acc = kind_ == 1 ? -INFINITY : 0.0;
            int64_t best = -1, count = 0, padded = 1;
            for (int i = 0; i < 3; ++i) {  // window positions inside the padded input
              int64_t c = 0;
              for (int64_t k = 0; k < g.k[i]; ++k) {
                const int64_t pos = o[i] * g.s[i] - g.pb[i] + k * g.d[i];
                if (pos < g.in[i] + g.pe[i]) ++c;
              }
              padded *= c;
            }
            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
              const int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
              if (i0 < 0 || i0 >= g.in[0]) continue;
              for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                const int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                if (i1 < 0 || i1 >= g.in[1]) continue;
                for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                  const int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                  if (i2 < 0 || i2 >= g.in[2]) continue;
                  const int64_t at = (i0 * g.in[1] + i1) * g.in[2] + i2;
                  const double a = xp[at];
                  ++count;
                  if (kind_ == 1) {
                    if (a > acc || best < 0) {
                      acc = a;
                      best = col_major_ ? (i2 * g.in[1] + i1) * g.in[0] + i0 : at;
                    }
                  } else if (kind_ == 2) {
                    acc += std::pow(std::fabs(a), static_cast<double>(p_));
                  } else {
                    acc += a;
                  }
                }
              }
            }
            const int64_t oi = p * g.out_size() + (o0 * g.out[1] + o1) * g.out[2] + o2;
            if (kind_ == 0) acc /= static_cast<double>(include_pad_ ? padded : std::max<int64_t>(count, 1));
            if (kind_ == 2) acc = std::pow(acc, 1.0 / static_cast<double>(p_));
            y[oi] = static_cast<float>(acc);
            if (idx) idx[oi] = p * g.in_size() + std::max<int64_t>(best, 0);
          }
    });
  }

 private:
  int64_t planes_, include_pad_, p_, col_major_;
  int kind_;
  Geo g_;
};

// Direct convolution / transposed convolution with weights read at run time (weights fed as graph
// inputs): output-centric, so threads never write the same element.
// ints: transpose N Cin Cout group geo(in out k s d pad_begin) has_bias act ; floats: act params
// Weights: conv [Cout, Cin/g, k...]; transposed [Cin, Cout/g, k...]. Inputs: x w [b].
class VConvOp : public Op {
 public:
  VConvOp(const std::vector<int64_t>& v, const std::vector<float>& f) {
    Ints r{v};
    transpose_ = r.next(); N_ = r.next(); Cin_ = r.next(); Cout_ = r.next(); G_ = r.next();
    g_ = read_geo(r, false);
    has_bias_ = r.next();
    act_ = static_cast<int>(r.next());
    for (size_t i = 0; i < f.size() && i < 2; ++i) params_[i] = f[i];
  }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    const float* w = ctx.at(in[1]);
    const float* b = has_bias_ ? ctx.at(in[2]) : nullptr;
    float* y = ctx.at(out[0]);
    const Geo& g = g_;
    const int64_t cig = Cin_ / G_, cog = Cout_ / G_, ksz = g.k[0] * g.k[1] * g.k[2];
    ctx.pool->parallel_for(N_ * Cout_, [&](int64_t task, int) {
      const int64_t n = task / Cout_, co = task % Cout_, grp = co / cog, col = co % cog;
      float* yp = y + task * g.out_size();
      for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
          for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
            const int64_t o[3] = {o0, o1, o2};
            double acc = b ? b[co] : 0.0;
            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
              int64_t i0;
              if (!tap(0, o[0], k0, i0)) continue;
              for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                int64_t i1;
                if (!tap(1, o[1], k1, i1)) continue;
                for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                  int64_t i2;
                  if (!tap(2, o[2], k2, i2)) continue;
                  const int64_t at = (i0 * g.in[1] + i1) * g.in[2] + i2;
                  const int64_t kat = (k0 * g.k[1] + k1) * g.k[2] + k2;
                  for (int64_t c = 0; c < cig; ++c) {
                    const int64_t ci = grp * cig + c;
                    const float wv = transpose_ ? w[(ci * cog + col) * ksz + kat] : w[(co * cig + c) * ksz + kat];
                    acc += static_cast<double>(x[(n * Cin_ + ci) * g.in_size() + at]) * wv;
                  }
                }
              }
            }
            float val = static_cast<float>(acc);
            if (act_) unary_act(val);
            yp[(o0 * g.out[1] + o1) * g.out[2] + o2] = val;
          }
    });
  }

 private:
  // The input position tap k of output position o reads along dim i (false: padding / no tap).
  bool tap(int i, int64_t o, int64_t k, int64_t& pos) const {
    if (!transpose_) {
      pos = o * g_.s[i] - g_.pb[i] + k * g_.d[i];
      return pos >= 0 && pos < g_.in[i];
    }
    const int64_t t = o + g_.pb[i] - k * g_.d[i];
    if (t < 0 || t % g_.s[i]) return false;
    pos = t / g_.s[i];
    return pos < g_.in[i];
  }
  void unary_act(float& v) const {  // fused activation codes of common.h
    switch (act_) {
      case ACT_RELU: v = std::max(v, 0.f); break;
      case ACT_CLIP: v = std::min(std::max(v, params_[0]), params_[1]); break;
      case ACT_LEAKY_RELU: v = v < 0 ? v * params_[0] : v; break;
      case ACT_HARD_SIGMOID: v = std::min(1.f, std::max(0.f, params_[0] * v + params_[1])); break;
      case ACT_HARD_SWISH: v = v * std::min(1.f, std::max(0.f, v / 6.f + 0.5f)); break;
      case ACT_SIGMOID: v = 1.f / (1.f + std::exp(-v)); break;
      case ACT_SILU: v = v / (1.f + std::exp(-v)); break;
      case ACT_TANH: v = std::tanh(v); break;
      default: break;
    }
  }
  int64_t transpose_, N_, Cin_, Cout_, G_, has_bias_;
  int act_;
  float params_[2] = {0, 0};
  Geo g_;
};

// ---- resampling ---------------------------------------------------------------------------------

// Separable resampling (Resize, Upsample): one pass per resized axis, each output row of the axis a
// weighted sum of `taps` input rows; a row whose first index is -1 is extrapolated (fill value).
// ints: npasses then per pass: outer in_len out_len inner taps ; floats: fill ;
// weights: per pass idx (int32 bits, out_len x taps), w (out_len x taps). Intermediates ping-pong
// in the shared buffer.
class ResampleOp : public Op {
 public:
  struct Pass {
    int64_t outer, in_len, out_len, inner, taps;
    std::vector<int32_t> idx;
    std::vector<float> w;
  };
  ResampleOp(const std::vector<int64_t>& v, const std::vector<float>& f, const std::vector<Weight>& w) {
    Ints r{v};
    const int64_t np = r.next();
    need(static_cast<int64_t>(w.size()) == 2 * np && np >= 1, "v_resample: weights per pass");
    for (int64_t p = 0; p < np; ++p) {
      Pass pass{r.next(), r.next(), r.next(), r.next(), r.next(), copy_ints(w[2 * p]), copy_f(w[2 * p + 1])};
      need(static_cast<int64_t>(pass.idx.size()) == pass.out_len * pass.taps, "v_resample: idx size");
      passes_.push_back(std::move(pass));
    }
    fill_ = f.at(0);
  }
  int64_t shared_bytes() const override {
    int64_t most = 0;
    for (size_t p = 0; p + 1 < passes_.size(); ++p)
      most = std::max(most, passes_[p].outer * passes_[p].out_len * passes_[p].inner);
    return 2 * (most * 4 + 64);
  }
  void run(const RunCtx& ctx) override {
    const float* src = ctx.at(in[0]);
    float* bufs[2] = {reinterpret_cast<float*>(ctx.shared),
                      reinterpret_cast<float*>(ctx.shared + shared_bytes() / 2)};
    for (size_t p = 0; p < passes_.size(); ++p) {
      float* dst = p + 1 == passes_.size() ? ctx.at(out[0]) : bufs[p % 2];
      const Pass& ps = passes_[p];
      ctx.pool->parallel_for(ps.outer * ps.out_len, [&](int64_t t, int) {
        const int64_t o = t / ps.out_len, j = t % ps.out_len;
        float* yr = dst + t * ps.inner;
        const int32_t* ix = ps.idx.data() + j * ps.taps;
        const float* wr = ps.w.data() + j * ps.taps;
        if (ix[0] < 0) {
          std::fill(yr, yr + ps.inner, fill_);
          return;
        }
        std::fill(yr, yr + ps.inner, 0.f);
        for (int64_t k = 0; k < ps.taps; ++k) {
          const float* xr = src + (o * ps.in_len + ix[k]) * ps.inner;
          const float wk = wr[k];
          for (int64_t i = 0; i < ps.inner; ++i) yr[i] += wk * xr[i];
        }
      });
      src = dst;
    }
  }

 private:
  std::vector<Pass> passes_;
  float fill_;
};

// GridSample over 2 or 3 spatial dims. ints: N C nd in[3] out[3] mode(0 linear, 1 nearest, 2 cubic)
// padding(0 zeros, 1 border, 2 reflection) align_corners ; inputs: x grid [N, out..., nd]
class GridSampleOp : public Op {
 public:
  explicit GridSampleOp(const std::vector<int64_t>& v) {
    Ints r{v};
    N_ = r.next(); C_ = r.next(); nd_ = r.next();
    for (int i = 0; i < 3; ++i) in_[i] = r.next();
    for (int i = 0; i < 3; ++i) out_[i] = r.next();
    mode_ = static_cast<int>(r.next()); pad_ = static_cast<int>(r.next()); align_ = r.next();
  }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    const float* grid = ctx.at(in[1]);
    float* y = ctx.at(out[0]);
    const int64_t osz = out_[0] * out_[1] * out_[2], isz = in_[0] * in_[1] * in_[2];
    ctx.pool->parallel_for(N_ * osz, [&](int64_t t, int) {
      const int64_t n = t / osz, o = t % osz;
      // per spatial dim (outermost first): tap positions and weights
      int64_t pos[3][4];
      double wt[3][4];
      int ntap[3] = {1, 1, 1};
      for (int i = 0; i < 3; ++i) { pos[i][0] = 0; wt[i][0] = 1; }
      for (int64_t dgrid = 0; dgrid < nd_; ++dgrid) {
        const int i = static_cast<int>(3 - 1 - dgrid);  // grid's last entry is x (innermost)
        const int64_t size = in_[i];
        double c = grid[(n * osz + o) * nd_ + dgrid];
        c = align_ ? (c + 1) / 2 * (size - 1) : ((c + 1) * size - 1) / 2;
        if (mode_ == 1) c = std::nearbyint(c);
        const double lo = align_ ? 0.0 : -0.5, hi = align_ ? size - 1.0 : size - 0.5;
        if (pad_ == 1 && (c < lo || c > hi)) c = std::min(std::max(c, 0.0), static_cast<double>(size - 1));
        else if (pad_ == 2) c = reflect(c, size);
        const double f = std::floor(c);
        if (mode_ == 1) {
          ntap[i] = 1; pos[i][0] = static_cast<int64_t>(c); wt[i][0] = 1;
        } else if (mode_ == 0) {
          ntap[i] = 2; pos[i][0] = static_cast<int64_t>(f); pos[i][1] = pos[i][0] + 1;
          wt[i][1] = c - f; wt[i][0] = 1 - wt[i][1];
        } else {
          ntap[i] = 4;
          const double t1 = c - f, a = -0.75;
          for (int k = 0; k < 4; ++k) {
            pos[i][k] = static_cast<int64_t>(f) - 1 + k;
            const double d = std::fabs(t1 - (k - 1));
            wt[i][k] = d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0;
          }
        }
      }
      for (int64_t ch = 0; ch < C_; ++ch) {
        const float* xp = x + (n * C_ + ch) * isz;
        double acc = 0;
        for (int a = 0; a < ntap[0]; ++a)
          for (int b = 0; b < ntap[1]; ++b)
            for (int c = 0; c < ntap[2]; ++c) {
              const int64_t p[3] = {pos[0][a], pos[1][b], pos[2][c]};
              acc += wt[0][a] * wt[1][b] * wt[2][c] * sample(xp, p);
            }
        y[(n * C_ + ch) * osz + o] = static_cast<float>(acc);
      }
    });
  }

 private:
  double reflect(double c, int64_t size) const {  // mirror into the valid coordinate range
    const double lo = align_ ? 0.0 : -0.5, hi = align_ ? size - 1.0 : size - 0.5, span = hi - lo;
    if (span <= 0) return 0;
    if (c >= lo && c <= hi) return c;
    const double dist = c < lo ? lo - c : c - hi;
    const double folds = std::trunc(dist / span), rest = dist - folds * span;
    const bool even = std::fmod(folds, 2.0) == 0;
    return c < lo ? (even ? lo + rest : hi - rest) : (even ? hi - rest : lo + rest);
  }
  double sample(const float* xp, const int64_t* p) const {
    int64_t q[3];
    for (int i = 0; i < 3; ++i) {
      q[i] = p[i];
      if (q[i] < 0 || q[i] >= in_[i]) {
        if (pad_ == 0) return 0;
        if (pad_ == 1) q[i] = std::min(std::max<int64_t>(q[i], 0), in_[i] - 1);
        else q[i] = static_cast<int64_t>(reflect(static_cast<double>(q[i]), in_[i]));
        q[i] = std::min(std::max<int64_t>(q[i], 0), in_[i] - 1);
      }
    }
    return xp[(q[0] * in_[1] + q[1]) * in_[2] + q[2]];
  }
  int64_t N_, C_, nd_, in_[3], out_[3], align_;
  int mode_, pad_;
};

// ---- selection and detection ---------------------------------------------------------------------

// ints: outer n inner k largest type ; outputs values (of x's type), indices (int64). Ties keep the
// lower index.
class TopKOp : public Op {
 public:
  explicit TopKOp(const std::vector<int64_t>& v) : v_(v) { need(v.size() == 6, "v_topk: 6 ints"); }
  int64_t scratch_bytes() const override { return v_[1] * 8 + 64; }
  void run(const RunCtx& ctx) override {
    const void* x = ctx.ptr[in[0]];
    void* vals = ctx.ptr[out[0]];
    int64_t* idx = ctx.at<int64_t>(out[1]);
    const int64_t outer = v_[0], n = v_[1], inner = v_[2], k = v_[3];
    const bool largest = v_[4];
    const int type = static_cast<int>(v_[5]);
    ctx.pool->parallel_for(outer * inner, [&](int64_t t, int tid) {
      const int64_t o = t / inner, i = t % inner;
      int64_t* order = reinterpret_cast<int64_t*>(ctx.thread_scratch(tid));
      std::iota(order, order + n, 0);
      const int64_t base = o * n * inner + i;
      std::partial_sort(order, order + k, order + n, [&](int64_t a, int64_t b) {
        const double va = load_d(x, type, base + a * inner), vb = load_d(x, type, base + b * inner);
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      });
      for (int64_t j = 0; j < k; ++j) {
        if (is_int(type)) store(vals, type, (o * k + j) * inner + i, load_i(x, type, base + order[j] * inner));
        else store(vals, type, (o * k + j) * inner + i, load_d(x, type, base + order[j] * inner));
        idx[(o * k + j) * inner + i] = order[j];
      }
    });
  }

 private:
  std::vector<int64_t> v_;
};

// ints: B C nboxes center_point_box nsel has_max has_iou has_score ; inputs: boxes scores
// [max_output_boxes_per_class] [iou_threshold] [score_threshold]; output [nsel, 3] int64. The
// selection count is data dependent: the plan was made for nsel rows and a run giving another
// count fails rather than writing a wrong shape.
class NmsOp : public Op {
 public:
  explicit NmsOp(const std::vector<int64_t>& v) : v_(v) { need(v.size() == 8, "v_nms: 8 ints"); }
  int64_t scratch_bytes() const override { return v_[2] * 16 + 64; }
  void run(const RunCtx& ctx) override {
    const float* boxes = ctx.at(in[0]);
    const float* scores = ctx.at(in[1]);
    const int64_t B = v_[0], C = v_[1], nb = v_[2], center = v_[3], nsel = v_[4];
    size_t k = 2;
    int64_t max_out = v_[5] ? load_i(ctx.ptr[in[k++]], TY_I64, 0) : 0;
    const float iou_thr = v_[6] ? ctx.at(in[k++])[0] : 0.f;
    const bool has_score = v_[7];
    const float score_thr = has_score ? ctx.at(in[k++])[0] : 0.f;
    int64_t* y = ctx.at<int64_t>(out[0]);
    int64_t* order = reinterpret_cast<int64_t*>(ctx.thread_scratch(0));
    int64_t* kept = order + nb;
    int64_t count = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) {
        const float* sc = scores + (b * C + c) * nb;
        int64_t m = 0;
        for (int64_t i = 0; i < nb; ++i)
          if (!has_score || sc[i] > score_thr) order[m++] = i;
        std::stable_sort(order, order + m, [&](int64_t a, int64_t z) { return sc[a] > sc[z]; });
        int64_t nk = 0;
        for (int64_t j = 0; j < m && nk < max_out; ++j) {
          bool keep = true;
          for (int64_t q = 0; q < nk && keep; ++q)
            keep = iou(boxes + (b * nb + order[j]) * 4, boxes + (b * nb + kept[q]) * 4, center) <= iou_thr;
          if (!keep) continue;
          kept[nk++] = order[j];
          if (count < nsel) { y[count * 3] = b; y[count * 3 + 1] = c; y[count * 3 + 2] = order[j]; }
          ++count;
        }
      }
    if (count != nsel)
      throw std::runtime_error("NonMaxSuppression selected " + std::to_string(count) +
                               " boxes; the plan was made for " + std::to_string(nsel));
  }

 private:
  static double iou(const float* a, const float* b, int64_t center) {
    double ay0, ax0, ay1, ax1, by0, bx0, by1, bx1;
    if (center) {
      ax0 = a[0] - a[2] / 2; ax1 = a[0] + a[2] / 2; ay0 = a[1] - a[3] / 2; ay1 = a[1] + a[3] / 2;
      bx0 = b[0] - b[2] / 2; bx1 = b[0] + b[2] / 2; by0 = b[1] - b[3] / 2; by1 = b[1] + b[3] / 2;
    } else {
      ay0 = std::min(a[0], a[2]); ay1 = std::max(a[0], a[2]); ax0 = std::min(a[1], a[3]); ax1 = std::max(a[1], a[3]);
      by0 = std::min(b[0], b[2]); by1 = std::max(b[0], b[2]); bx0 = std::min(b[1], b[3]); bx1 = std::max(b[1], b[3]);
    }
    const double iw = std::max(0.0, std::min(ax1, bx1) - std::max(ax0, bx0));
    const double ih = std::max(0.0, std::min(ay1, by1) - std::max(ay0, by0));
    const double inter = iw * ih;
    const double uni = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter;
    return uni > 0 ? inter / uni : 0.0;
  }
  std::vector<int64_t> v_;
};

// ints: C H W R OH OW sampling_ratio is_max half_pixel idx_i64 ; floats: spatial_scale ;
// inputs: x rois [R, 4] batch_indices [R]
class RoiAlignOp : public Op {
 public:
  RoiAlignOp(const std::vector<int64_t>& v, const std::vector<float>& f) : v_(v), scale_(f.at(0)) {
    need(v.size() == 10, "v_roialign: 10 ints");
  }
  void run(const RunCtx& ctx) override {
    const float* x = ctx.at(in[0]);
    const float* rois = ctx.at(in[1]);
    const void* bidx = ctx.ptr[in[2]];
    float* y = ctx.at(out[0]);
    const int64_t C = v_[0], H = v_[1], W = v_[2], R = v_[3], OH = v_[4], OW = v_[5], sr = v_[6];
    const bool is_max = v_[7];
    const double off = v_[8] ? 0.5 : 0.0;
    const int bt = v_[9] ? TY_I64 : TY_I32;
    ctx.pool->parallel_for(R * C, [&](int64_t t, int) {
      const int64_t r = t / C, c = t % C;
      const float* roi = rois + r * 4;
      const double x0 = roi[0] * scale_ - off, y0 = roi[1] * scale_ - off;
      const double x1 = roi[2] * scale_ - off, y1 = roi[3] * scale_ - off;
      double rw = x1 - x0, rh = y1 - y0;
      if (!v_[8]) { rw = std::max(rw, 1.0); rh = std::max(rh, 1.0); }
      const double bh = rh / OH, bw = rw / OW;
      const int64_t gh = sr > 0 ? sr : static_cast<int64_t>(std::ceil(rh / OH));
      const int64_t gw = sr > 0 ? sr : static_cast<int64_t>(std::ceil(rw / OW));
      const float* xp = x + (load_i(bidx, bt, r) * C + c) * H * W;
      const double cnt = std::max<int64_t>(gh * gw, 1);
      for (int64_t ph = 0; ph < OH; ++ph)
        for (int64_t pw = 0; pw < OW; ++pw) {
          double acc = 0;
          for (int64_t iy = 0; iy < gh; ++iy) {
            double yy = y0 + ph * bh + (iy + 0.5) * bh / gh;
            for (int64_t ix = 0; ix < gw; ++ix) {
              double xx = x0 + pw * bw + (ix + 0.5) * bw / gw;
              if (yy < -1.0 || yy > H || xx < -1.0 || xx > W) continue;
              double sy = std::max(yy, 0.0), sx = std::max(xx, 0.0);
              int64_t ylo = static_cast<int64_t>(sy), xlo = static_cast<int64_t>(sx), yhi, xhi;
              if (ylo >= H - 1) { ylo = yhi = H - 1; sy = static_cast<double>(ylo); } else yhi = ylo + 1;
              if (xlo >= W - 1) { xlo = xhi = W - 1; sx = static_cast<double>(xlo); } else xhi = xlo + 1;
              const double ly = sy - ylo, lx = sx - xlo, hy = 1 - ly, hx = 1 - lx;
              const double v1 = hy * hx * xp[ylo * W + xlo], v2 = hy * lx * xp[ylo * W + xhi];
              const double v3 = ly * hx * xp[yhi * W + xlo], v4 = ly * lx * xp[yhi * W + xhi];
              if (is_max) acc = std::max({acc, v1, v2, v3, v4});
              else acc += v1 + v2 + v3 + v4;
            }
          }
          y[(t * OH + ph) * OW + pw] = static_cast<float>(is_max ? acc : acc / cnt);
        }
    });
  }

 private:
  std::vector<int64_t> v_;
  float scale_;
};

}  // namespace

std::unique_ptr<Op> make_vision_op(const std::string& kind, const std::vector<int64_t>& v,
                                   const std::vector<float>& f, const std::vector<Weight>& w) {
  if (kind == "v_imap") return std::unique_ptr<Op>(new IndexMapOp(v, w));
  if (kind == "v_const") return std::unique_ptr<Op>(new ConstOp(v, w));
  if (kind == "v_gather_elements") return std::unique_ptr<Op>(new GatherElementsOp(v));
  if (kind == "v_scatternd") return std::unique_ptr<Op>(new ScatterNDOp(v));
  if (kind == "v_unary") return std::unique_ptr<Op>(new VUnaryOp(v, f));
  if (kind == "v_binary") return std::unique_ptr<Op>(new VBinaryOp(v, f, w));
  if (kind == "v_range") return std::unique_ptr<Op>(new RangeOp(v));
  if (kind == "v_reduce") return std::unique_ptr<Op>(new VReduceOp(v));
  if (kind == "v_arg") return std::unique_ptr<Op>(new ArgOp(v));
  if (kind == "v_softmax") return std::unique_ptr<Op>(new VSoftmaxOp(v));
  if (kind == "v_norm") return std::unique_ptr<Op>(new VNormOp(v, f));
  if (kind == "v_batchnorm") return std::unique_ptr<Op>(new BatchNormOp(v, f));
  if (kind == "v_lrn") return std::unique_ptr<Op>(new LrnOp(v, f));
  if (kind == "v_pool") return std::unique_ptr<Op>(new VPoolOp(v));
  if (kind == "v_conv") return std::unique_ptr<Op>(new VConvOp(v, f));
  if (kind == "v_resample") return std::unique_ptr<Op>(new ResampleOp(v, f, w));
  if (kind == "v_gridsample") return std::unique_ptr<Op>(new GridSampleOp(v));
  if (kind == "v_topk") return std::unique_ptr<Op>(new TopKOp(v));
  if (kind == "v_nms") return std::unique_ptr<Op>(new NmsOp(v));
  if (kind == "v_nonzero") return std::unique_ptr<Op>(new NonZeroOp(v));
  if (kind == "v_roialign") return std::unique_ptr<Op>(new RoiAlignOp(v, f));
  return nullptr;
}

}  // namespace mnncpu
