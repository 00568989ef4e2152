// Branch-free float math written with plain arithmetic so compilers vectorise it for any ISA.
#pragma once
#include <cstdint>
#include <cstring>

namespace mnncpu {

static inline float bits_to_float(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }

static inline int32_t float_to_bits(float f) { int32_t i; std::memcpy(&i, &f, 4); return i; }

// exp with Cephes' polynomial after range reduction by ln 2; relative error ~1e-7. Rounding uses
// the 1.5 * 2^23 trick (the integer lands in the low mantissa bits) and every branch is a select,
// so loops over it vectorise (with -fno-trapping-math).
static inline float vexp(float x) {
  const bool overflow = x > 88.72283905206835f;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;  // these forms keep NaN a NaN
  x = x < -87.33654f ? -87.33654f : x;
  const float t = x * 1.44269504088896341f + 12582912.f;
  const int32_t n = float_to_bits(t) - 0x4B400000;
  const float fn = t - 12582912.f;
  float r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.f;
  y = y * bits_to_float((n + 127) << 23);
  return overflow ? bits_to_float(0x7f800000) : y;
}

static inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

static inline float vtanh(float x) {
  float a = x < 0.f ? -x : x;
  float e = vexp(2.f * a);
  float big = 1.f - 2.f / (e + 1.f);
  float a2 = a * a;
  float small = a * (1.f + a2 * (-1.f / 3.f + a2 * (2.f / 15.f + a2 * (-17.f / 315.f))));
  float t = a < 0.0625f ? small : big;
  return x < 0.f ? -t : t;
}

// erf: Taylor series near zero, Abramowitz-Stegun 7.1.26 elsewhere; absolute error < 2e-7.
static inline float verf(float x) {
  float a = x < 0.f ? -x : x;
  float a2 = a * a;
  float series = 1.1283791671f * a *
      (1.f + a2 * (-1.f / 3.f + a2 * (1.f / 10.f + a2 * (-1.f / 42.f + a2 * (1.f / 216.f +
       a2 * (-1.f / 1320.f))))));
  float t = 1.f / (1.f + 0.3275911f * a);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
               t * (-1.453152027f + t * 1.061405429f))));
  float tail = 1.f - poly * vexp(-a2);
  float r = a < 0.5f ? series : tail;
  r = r > 1.f ? 1.f : r;
  return x < 0.f ? -r : r;
}


static inline float activate(float v, int act, const float* p) {
  switch (act) {
    case 1: return v > 0.f ? v : 0.f;
    case 2: { float y = v < p[0] ? p[0] : v; return y > p[1] ? p[1] : y; }
    case 3: return v >= 0.f ? v : v * p[0];
    case 4: { float y = v * p[0] + p[1]; y = y < 0.f ? 0.f : y; return y > 1.f ? 1.f : y; }
    case 5: { float y = v / 6.f + 0.5f; y = y < 0.f ? 0.f : y; y = y > 1.f ? 1.f : y; return v * y; }
    case 6: return vsigmoid(v);
    case 7: return v * vsigmoid(v);
    case 8: return vtanh(v);
    default: return v;
  }
}

}  // namespace mnncpu
