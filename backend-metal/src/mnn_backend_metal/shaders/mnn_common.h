// Shared by every kernel file. When the host builds the Metal library it inlines this header in place
// of the #include (newLibraryWithSource has no include path).
#pragma once
#include <metal_stdlib>
using namespace metal;

// Codes shared with lowering.py (UNARY / ACTIVATIONS / BINARY / REDUCE).
constant int kRelu = 1, kClip = 2, kLeakyRelu = 3, kHardSigmoid = 4, kHardSwish = 5, kSigmoid = 6,
             kSiLU = 7, kTanh = 8, kErf = 20, kExp = 21, kSqrt = 22, kNeg = 23, kAbs = 24,
             kReciprocal = 25, kGelu = 26, kLog = 27;

// MSL has no erf: Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7).
inline float mnn_erf(float x) {
  const float t = 1.0f / (1.0f + 0.3275911f * fabs(x));
  const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                     t * (-1.453152027f + t * 1.061405429f))));
  const float y = 1.0f - poly * exp(-x * x);
  return x >= 0.0f ? y : -y;
}

inline float unary_op(int code, float x, float p0, float p1) {
  switch (code) {
    case kRelu: return max(x, 0.0f);
    case kClip: return min(max(x, p0), p1);
    case kLeakyRelu: return x >= 0.0f ? x : x * p0;
    case kHardSigmoid: return clamp(x * p0 + p1, 0.0f, 1.0f);
    case kHardSwish: return x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case kSigmoid: return 1.0f / (1.0f + exp(-x));
    case kSiLU: return x / (1.0f + exp(-x));
    case kTanh: return precise::tanh(x);
    case kErf: return mnn_erf(x);
    case kExp: return exp(x);
    case kSqrt: return sqrt(x);
    case kNeg: return -x;
    case kAbs: return fabs(x);
    case kReciprocal: return 1.0f / x;
    case kGelu: return 0.5f * x * (1.0f + mnn_erf(x * 0.70710678f));
    case kLog: return log(x);
    default: return x;
  }
}

constant int kMaxDims = 6;
