// Convolution kernels written so the compiler vectorises them; compiled once per ISA inside
// namespace MNN_KNS with MNN_CONV_LANES (= that ISA's GEMM NR) defined.
#include <cstdint>

#include "kernels/conv_kernels.h"

namespace mnncpu {
namespace MNN_KNS {

constexpr int kLanes = MNN_CONV_LANES;

// Fixed tap count: the taps' weights and row pointers stay in registers, one store per output.
template <int T>
static void dw_taps(const float* src, int64_t n, const int64_t* offs, const float* w, float bias,
                    float* __restrict out) {
  const float* s[T];
  float wk[T];
  for (int t = 0; t < T; ++t) {
    s[t] = src + offs[t];
    wk[t] = w[t];
  }
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) {
    float acc = bias;
    for (int t = 0; t < T; ++t) acc += wk[t] * s[t][i];
    out[i] = acc;
  }
}

static void dw_flat(const float* src, int64_t n, const int64_t* offs, int taps, const float* w,
                    float bias, float* out) {
  switch (taps) {
    case 9: return dw_taps<9>(src, n, offs, w, bias, out);
    case 25: return dw_taps<25>(src, n, offs, w, bias, out);
    case 4: return dw_taps<4>(src, n, offs, w, bias, out);
    default: break;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = bias;
  for (int t = 0; t < taps; ++t) {  // any other kernel: tap by tap over the (L1-sized) block
    const float wt = w[t];
    const float* s = src + offs[t];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) out[i] += wt * s[i];
  }
}

// Rows of the (sparse, small-integer) transform matrices: zero coefficients are skipped, so the
// same code serves every tile size at close to hand-written operation counts.
template <int A>
static void wino_in_t(const float* d, const float* bt, float* v, int64_t vstride) {
  alignas(64) float t[A][A][kLanes];  // B^T d
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) {
      float acc[kLanes] = {};
      for (int k = 0; k < A; ++k) {
        const float b = bt[i * A + k];
        if (b == 0.f) continue;
        const float* src = d + (k * A + j) * kLanes;
        for (int l = 0; l < kLanes; ++l) acc[l] += b * src[l];
      }
      for (int l = 0; l < kLanes; ++l) t[i][j][l] = acc[l];
    }
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) {
      float acc[kLanes] = {};
      for (int k = 0; k < A; ++k) {
        const float b = bt[j * A + k];
        if (b == 0.f) continue;
        for (int l = 0; l < kLanes; ++l) acc[l] += b * t[i][k][l];
      }
      float* dst = v + (i * A + j) * vstride;
      for (int l = 0; l < kLanes; ++l) dst[l] = acc[l];
    }
}

template <int A>
static void wino_out_t(int m, const float* y, int64_t ystride, const float* at, float* o) {
  alignas(64) float s[A][A][kLanes];  // A^T Y, first m rows used
  for (int i = 0; i < m; ++i)
    for (int q = 0; q < A; ++q) {
      float acc[kLanes] = {};
      for (int p = 0; p < A; ++p) {
        const float a = at[i * A + p];
        if (a == 0.f) continue;
        const float* src = y + (p * A + q) * ystride;
        for (int l = 0; l < kLanes; ++l) acc[l] += a * src[l];
      }
      for (int l = 0; l < kLanes; ++l) s[i][q][l] = acc[l];
    }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) {
      float acc[kLanes] = {};
      for (int q = 0; q < A; ++q) {
        const float a = at[j * A + q];
        if (a == 0.f) continue;
        for (int l = 0; l < kLanes; ++l) acc[l] += a * s[i][q][l];
      }
      float* dst = o + (i * m + j) * kLanes;
      for (int l = 0; l < kLanes; ++l) dst[l] = acc[l];
    }
}

static void wino_in(int alpha, const float* d, const float* bt, float* v, int64_t vstride) {
  switch (alpha) {
    case 4: return wino_in_t<4>(d, bt, v, vstride);
    case 6: return wino_in_t<6>(d, bt, v, vstride);
    default: return wino_in_t<8>(d, bt, v, vstride);
  }
}

static void wino_out(int alpha, int m, const float* y, int64_t ystride, const float* at, float* o) {
  switch (alpha) {
    case 4: return wino_out_t<4>(m, y, ystride, at, o);
    case 6: return wino_out_t<6>(m, y, ystride, at, o);
    default: return wino_out_t<8>(m, y, ystride, at, o);
  }
}

static const ConvKernels kConvKernels = {kLanes, dw_flat, wino_in, wino_out};

}  // namespace MNN_KNS
}  // namespace mnncpu
