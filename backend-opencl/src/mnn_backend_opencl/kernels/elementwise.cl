// Elementwise kernels generated from tables of expressions: one macro per kernel shape.
// Unary: x is the input, a and b the op's float attributes.
#define UNARY(name, expr)                                                                   \
  kernel void unary_##name(TIN(px), TOUT(py), int n, float a, float b) {                    \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    float x = LD(px, px_o + i);                                                         \
    ST(py, py_o + i, (expr));                                                               \
  }
#define SOFTPLUS(x) ((x) > 20.0f ? (x) : log1p(exp(x)))
UNARY(identity, x)
UNARY(relu, fmax(x, 0.0f))
UNARY(abs, fabs(x))
UNARY(neg, -x)
UNARY(exp, exp(x))
UNARY(log, log(x))
UNARY(sqrt, sqrt(x))
UNARY(reciprocal, 1.0f / x)
UNARY(floor, floor(x))
UNARY(ceil, ceil(x))
UNARY(round, rint(x))
UNARY(sign, (float)((x > 0.0f) - (x < 0.0f)))
UNARY(sigmoid, 1.0f / (1.0f + exp(-x)))
UNARY(tanh, tanh(x))
UNARY(erf, erf(x))
UNARY(sin, sin(x))
UNARY(cos, cos(x))
UNARY(tan, tan(x))
UNARY(asin, asin(x))
UNARY(acos, acos(x))
UNARY(atan, atan(x))
UNARY(sinh, sinh(x))
UNARY(cosh, cosh(x))
UNARY(asinh, asinh(x))
UNARY(acosh, acosh(x))
UNARY(atanh, atanh(x))
UNARY(softplus, SOFTPLUS(x))
UNARY(softsign, x / (1.0f + fabs(x)))
UNARY(mish, x * tanh(SOFTPLUS(x)))
UNARY(gelu, 0.5f * x * (1.0f + erf(x * 0.70710678118654752f)))
UNARY(gelu_tanh, 0.5f * x * (1.0f + tanh(0.7978845608028654f * (x + 0.044715f * x * x * x))))
UNARY(leaky_relu, x < 0.0f ? a * x : x)
UNARY(elu, x < 0.0f ? a * (exp(x) - 1.0f) : x)
UNARY(selu, x <= 0.0f ? b * (a * exp(x) - a) : b * x)
UNARY(celu, fmax(0.0f, x) + fmin(0.0f, a * (exp(x / a) - 1.0f)))
UNARY(thresholded_relu, x > a ? x : 0.0f)
UNARY(hard_sigmoid, fmax(0.0f, fmin(1.0f, a * x + b)))
UNARY(hard_swish, x * fmax(0.0f, fmin(1.0f, x / 6.0f + 0.5f)))
UNARY(clip, fmin(fmax(x, a), b))
UNARY(shrink, x < -a ? x + b : (x > a ? x - b : 0.0f))

// Binary with broadcasting (meta: see bcast); a and b are the operands.
#define BINARY(name, expr)                                                                  \
  kernel void binary_##name(TIN(pa), TIN(pb), TOUT(py), META, int n) {                      \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ia, ib, ic;                                                                         \
    bcast(meta, i, &ia, &ib, &ic);                                                          \
    float a = LD(pa, pa_o + ia), b = LD(pb, pb_o + ib);                                     \
    ST(py, py_o + i, (expr));                                                               \
  }
inline float py_mod(float a, float b) {  // Python's %, the sign follows the divisor
  float r = fmod(a, b);
  return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
}
BINARY(add, a + b)
BINARY(sub, a - b)
BINARY(mul, a * b)
BINARY(div, a / b)
BINARY(pow, pow(a, b))
BINARY(max, fmax(a, b))
BINARY(min, fmin(a, b))
BINARY(prelu, a < 0.0f ? a * b : a)
BINARY(fmod, fmod(a, b))
BINARY(mod, py_mod(a, b))

// Comparisons of f32 operands into bool (uchar) outputs.
#define COMPARE(name, expr)                                                                 \
  kernel void compare_##name(TIN(pa), TIN(pb), global uchar* py, int py_o, META, int n) {   \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ia, ib, ic;                                                                         \
    bcast(meta, i, &ia, &ib, &ic);                                                          \
    float a = LD(pa, pa_o + ia), b = LD(pb, pb_o + ib);                                     \
    py[py_o + i] = (expr) ? 1 : 0;                                                          \
  }
COMPARE(equal, a == b)
COMPARE(less, a < b)
COMPARE(greater, a > b)
COMPARE(less_equal, a <= b)
COMPARE(greater_equal, a >= b)

// Integer elementwise (i32 / i64) and bool logic, same broadcasting.
#define INT_BINARY(name, type, expr)                                                        \
  kernel void name(global const type* pa, int pa_o, global const type* pb, int pb_o,        \
                   global type* py, int py_o, META, int n) {                                \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ia, ib, ic;                                                                         \
    bcast(meta, i, &ia, &ib, &ic);                                                          \
    type a = pa[pa_o + ia], b = pb[pb_o + ib];                                              \
    py[py_o + i] = (expr);                                                                  \
  }
// Integer power by squaring; a negative exponent goes through float, as the reference does.
inline long ipow(long a, long b) {
  if (b < 0) return (long)pow((float)a, (float)b);
  long r = 1;
  for (; b; b >>= 1, a *= a)
    if (b & 1) r *= a;
  return r;
}
// Integer base, float exponent: integral exponents stay exact (pow's ulps would truncate 9 to 8).
inline long ipow_f(long a, float b) {
  return (b == floor(b) && b >= 0.0f && b < 64.0f) ? ipow(a, (long)b) : (long)pow((float)a, b);
}
// Division truncates toward zero; x / 0 gives x and x % 0 gives 0, like the numpy reference.
#define INT_TABLE(suffix, type)                                                             \
  INT_BINARY(add_##suffix, type, a + b)                                                     \
  INT_BINARY(sub_##suffix, type, a - b)                                                     \
  INT_BINARY(mul_##suffix, type, a * b)                                                     \
  INT_BINARY(max_##suffix, type, max(a, b))                                                 \
  INT_BINARY(min_##suffix, type, min(a, b))                                                 \
  INT_BINARY(div_##suffix, type, b == 0 ? a : a / b)                                        \
  INT_BINARY(fmod_##suffix, type, b == 0 ? 0 : a % b)                                       \
  INT_BINARY(mod_##suffix, type, b == 0 ? 0 : ((a % b != 0 && ((a % b < 0) != (b < 0))) ? a % b + b : a % b)) \
  INT_BINARY(pow_##suffix, type, (type)ipow(a, b))

// Pow of mixed operand types; the result has the base's type.
#define POW_MIXED(name, atype, btype, ytype, expr)                                          \
  kernel void name(global const atype* pa, int pa_o, global const btype* pb, int pb_o,      \
                   global ytype* py, int py_o, META, int n) {                               \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ia, ib, ic;                                                                         \
    bcast(meta, i, &ia, &ib, &ic);                                                          \
    expr;                                                                                   \
  }
POW_MIXED(pow_f_i32, store_t, int, store_t, ST(py, py_o + i, pow(LD(pa, pa_o + ia), (float)pb[pb_o + ib])))
POW_MIXED(pow_f_i64, store_t, long, store_t, ST(py, py_o + i, pow(LD(pa, pa_o + ia), (float)pb[pb_o + ib])))
POW_MIXED(pow_i32_f, int, store_t, int, py[py_o + i] = (int)ipow_f(pa[pa_o + ia], LD(pb, pb_o + ib)))
POW_MIXED(pow_i64_f, long, store_t, long, py[py_o + i] = ipow_f(pa[pa_o + ia], LD(pb, pb_o + ib)))
POW_MIXED(pow_i32_i64, int, long, int, py[py_o + i] = (int)ipow(pa[pa_o + ia], pb[pb_o + ib]))
POW_MIXED(pow_i64_i32, long, int, long, py[py_o + i] = ipow(pa[pa_o + ia], pb[pb_o + ib]))
INT_TABLE(i32, int)
INT_TABLE(i64, long)
INT_BINARY(logic_and, uchar, a && b)
INT_BINARY(logic_or, uchar, a || b)
INT_BINARY(logic_xor, uchar, (a != 0) != (b != 0))

#define INT_COMPARE(name, type, expr)                                                       \
  kernel void name(global const type* pa, int pa_o, global const type* pb, int pb_o,        \
                   global uchar* py, int py_o, META, int n) {                               \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ia, ib, ic;                                                                         \
    bcast(meta, i, &ia, &ib, &ic);                                                          \
    type a = pa[pa_o + ia], b = pb[pb_o + ib];                                              \
    py[py_o + i] = (expr) ? 1 : 0;                                                          \
  }
#define INT_COMPARE_TABLE(suffix, type)                                                     \
  INT_COMPARE(equal_##suffix, type, a == b)                                                 \
  INT_COMPARE(less_##suffix, type, a < b)                                                   \
  INT_COMPARE(greater_##suffix, type, a > b)                                                \
  INT_COMPARE(less_equal_##suffix, type, a <= b)                                            \
  INT_COMPARE(greater_equal_##suffix, type, a >= b)
INT_COMPARE_TABLE(i32, int)
INT_COMPARE_TABLE(i64, long)
INT_COMPARE_TABLE(bool, uchar)

kernel void logic_not(global const uchar* px, int px_o, global uchar* py, int py_o, int n) {
  int i = get_global_id(0);
  if (i < n) py[py_o + i] = !px[px_o + i];
}

// Where(cond, x, y) on elements of any size: selection moves bits, it does not compute.
#define WHERE(size, type)                                                                   \
  kernel void where_##size(global const uchar* pc, int pc_o, global const type* pa, int pa_o, \
                           global const type* pb, int pb_o, global type* py, int py_o, META, int n) { \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    SETUP_META;                                                                             \
    int ic, ia, ib;                                                                         \
    bcast(meta, i, &ic, &ia, &ib);                                                          \
    py[py_o + i] = pc[pc_o + ic] ? pa[pa_o + ia] : pb[pb_o + ib];                           \
  }
WHERE(1, uchar)
WHERE(2, ushort)
WHERE(4, uint)
WHERE(8, ulong)

// Sum/Mean/Max/Min over one more input into an accumulator (variadic ops are chains of these).
