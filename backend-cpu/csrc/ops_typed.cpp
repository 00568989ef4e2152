// Non-float elementwise ops (Cast, comparisons, logic, Where) over broadcast operands. They carry
// masks and indices (BERT's attention-mask chain), so they are small: plain loops, no ISA dispatch.
#include <cstring>
#include <stdexcept>

#include "ops.h"
#include "ops_extra.h"

namespace mnncpu {
namespace {

// Element type codes shared with Python (lowering.py TYPE_CODES).
enum TypeCode : int { TY_F32 = 0, TY_F64 = 1, TY_I32 = 2, TY_I64 = 3, TY_U8 = 4, TY_I8 = 5, TY_BOOL = 6 };
enum Kind : int { K_CAST = 0, K_COMPARE = 1, K_LOGIC = 2, K_WHERE = 3 };
enum Code : int { CMP_EQ = 0, CMP_LT = 1, CMP_LE = 2, CMP_GT = 3, CMP_GE = 4,
                  LOG_AND = 0, LOG_OR = 1, LOG_XOR = 2, LOG_NOT = 3 };

int64_t size_of(int t) { return t == TY_F64 || t == TY_I64 ? 8 : t == TY_F32 || t == TY_I32 ? 4 : 1; }

template <class T>
double load(const char* p) { T v; std::memcpy(&v, p, sizeof(T)); return static_cast<double>(v); }

// Reads element i of a typed array as the widest type of its family (exact for int64 and floats).
struct Reader {
  int t;
  template <class F>
  auto visit(F&& f) const {
    switch (t) {
      case TY_F32: return f(float{});
      case TY_F64: return f(double{});
      case TY_I32: return f(int32_t{});
      case TY_I64: return f(int64_t{});
      case TY_U8: case TY_BOOL: return f(uint8_t{});
      default: return f(int8_t{});
    }
  }
};

template <class S, class D>
void cast_row(const char* x, int64_t sx, char* y, int64_t n) {
  const S* xs = reinterpret_cast<const S*>(x);
  D* ys = reinterpret_cast<D*>(y);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same<D, bool>::value) ys[i] = xs[i * sx] != S(0);
    else ys[i] = static_cast<D>(xs[i * sx]);
  }
}

template <class T>
void compare_row(int code, const char* a, int64_t sa, const char* b, int64_t sb, uint8_t* y, int64_t n) {
  const T* x = reinterpret_cast<const T*>(a);
  const T* z = reinterpret_cast<const T*>(b);
  switch (code) {
    case CMP_EQ: for (int64_t i = 0; i < n; ++i) y[i] = x[i * sa] == z[i * sb]; break;
    case CMP_LT: for (int64_t i = 0; i < n; ++i) y[i] = x[i * sa] < z[i * sb]; break;
    case CMP_LE: for (int64_t i = 0; i < n; ++i) y[i] = x[i * sa] <= z[i * sb]; break;
    case CMP_GT: for (int64_t i = 0; i < n; ++i) y[i] = x[i * sa] > z[i * sb]; break;
    default: for (int64_t i = 0; i < n; ++i) y[i] = x[i * sa] >= z[i * sb]; break;
  }
}

// ints: kind code in_type out_type ninputs rank shape[rank] then strides[rank] per input
// (element strides, 0 where broadcast). Where's inputs: cond (bool), x, y (out_type).
class TypedOp : public Op {
 public:
  explicit TypedOp(const std::vector<int64_t>& v) {
    if (v.size() < 6) throw std::invalid_argument("typed: bad ints");
    kind_ = static_cast<int>(v[0]); code_ = static_cast<int>(v[1]);
    in_t_ = static_cast<int>(v[2]); out_t_ = static_cast<int>(v[3]);
    nin_ = v[4]; rank_ = v[5];
    if (rank_ < 1 || nin_ < 1 || nin_ > 3 || static_cast<int64_t>(v.size()) != 6 + rank_ * (1 + nin_))
      throw std::invalid_argument("typed: bad ints");
    shape_.assign(v.begin() + 6, v.begin() + 6 + rank_);
    strides_.assign(v.begin() + 6 + rank_, v.end());
    outer_ = 1;
    for (int64_t d = 0; d + 1 < rank_; ++d) outer_ *= shape_[d];
  }

  void run(const RunCtx& ctx) override {
    const int64_t inner = shape_.back();
    const int64_t in_es = size_of(kind_ == K_WHERE ? out_t_ : in_t_), out_es = size_of(out_t_);
    const int64_t rows_per_task = std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1));
    ctx.pool->parallel_for(ceil_div(outer_, rows_per_task), [&](int64_t t, int) {
      for (int64_t r = t * rows_per_task; r < std::min(outer_, (t + 1) * rows_per_task); ++r) {
        int64_t off[3] = {0, 0, 0}, rem = r;
        for (int64_t d = rank_ - 2; d >= 0; --d) {
          const int64_t i = rem % shape_[d];
          rem /= shape_[d];
          for (int64_t k = 0; k < nin_; ++k) off[k] += i * strides_[k * rank_ + d];
        }
        int64_t s[3];
        for (int64_t k = 0; k < nin_; ++k) s[k] = strides_[k * rank_ + rank_ - 1];
        char* y = ctx.at<char>(out[0]) + r * inner * out_es;
        row(ctx, off, s, in_es, y, inner);
      }
    });
  }

 private:
  void row(const RunCtx& ctx, const int64_t* off, const int64_t* s, int64_t in_es, char* y, int64_t n) const {
    const char* a = ctx.at<const char>(in[0]) + off[0] * (kind_ == K_WHERE ? 1 : in_es);
    if (kind_ == K_CAST) {
      Reader{in_t_}.visit([&](auto src) {
        using S = decltype(src);
        switch (out_t_) {
          case TY_F32: return cast_row<S, float>(a, s[0], y, n);
          case TY_F64: return cast_row<S, double>(a, s[0], y, n);
          case TY_I32: return cast_row<S, int32_t>(a, s[0], y, n);
          case TY_I64: return cast_row<S, int64_t>(a, s[0], y, n);
          case TY_U8: return cast_row<S, uint8_t>(a, s[0], y, n);
          case TY_I8: return cast_row<S, int8_t>(a, s[0], y, n);
          default: return cast_row<S, bool>(a, s[0], y, n);
        }
      });
      return;
    }
    const char* b = nin_ > 1 ? ctx.at<const char>(in[1]) + off[1] * in_es : nullptr;
    uint8_t* yb = reinterpret_cast<uint8_t*>(y);
    if (kind_ == K_COMPARE) {
      Reader{in_t_}.visit([&](auto t) { compare_row<decltype(t)>(code_, a, s[0], b, s[1], yb, n); });
      return;
    }
    if (kind_ == K_LOGIC) {
      const uint8_t* x = reinterpret_cast<const uint8_t*>(a);
      const uint8_t* z = reinterpret_cast<const uint8_t*>(b);
      switch (code_) {
        case LOG_AND: for (int64_t i = 0; i < n; ++i) yb[i] = (x[i * s[0]] != 0) & (z[i * s[1]] != 0); break;
        case LOG_OR: for (int64_t i = 0; i < n; ++i) yb[i] = (x[i * s[0]] != 0) | (z[i * s[1]] != 0); break;
        case LOG_XOR: for (int64_t i = 0; i < n; ++i) yb[i] = (x[i * s[0]] != 0) ^ (z[i * s[1]] != 0); break;
        default: for (int64_t i = 0; i < n; ++i) yb[i] = x[i * s[0]] == 0; break;
      }
      return;
    }
    // Where: a is the condition; b and c the values, elements of in_es bytes.
    const uint8_t* cond = reinterpret_cast<const uint8_t*>(a);
    const char* c = ctx.at<const char>(in[2]) + off[2] * in_es;
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(y + i * in_es, cond[i * s[0]] ? b + i * s[1] * in_es : c + i * s[2] * in_es, in_es);
  }

  int kind_, code_, in_t_, out_t_;
  int64_t nin_, rank_, outer_;
  std::vector<int64_t> shape_, strides_;
};

}  // namespace

std::unique_ptr<Op> make_typed_op(const std::vector<int64_t>& v) { return std::unique_ptr<Op>(new TypedOp(v)); }

}  // namespace mnncpu
