// Shared prelude of every mnn Vulkan compute shader. Storage is always 32-bit words (float, int,
// uint; 64-bit integers are word pairs); FP16 builds do their arithmetic in T = float16_t and keep
// sums in float. Only storage buffers and push constants are used, so spirv-cross --msl translates.
#ifdef FP16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define T float16_t
#else
#define T float
#endif
#define WG 64
layout(local_size_x = WG) in;

// Element index of this invocation; dispatches wider than 65535 groups use a 2-D grid.
uint global_index() { return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * WG; }
uint group_index() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

float tanh_acc(float x) {  // accurate near 0, finite for large |x|
  float a = abs(x);
  if (a < 0.125) { float x2 = x * x; return x * (1.0 - x2 * (1.0 / 3.0 - x2 * (2.0 / 15.0))); }
  float t = exp(-2.0 * min(a, 20.0));
  return sign(x) * (1.0 - t) / (1.0 + t);
}

float erf_acc(float x) {
  float a = abs(x);
  if (a < 0.5) {
    float x2 = x * x;
    return 1.1283791670955126 * x * (1.0 - x2 * (1.0 / 3.0 - x2 * (0.1 - x2 * (1.0 / 42.0 - x2 / 216.0))));
  }
  // Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7)
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - p * exp(-a * a));
}

float sigmoid_acc(float x) { return 1.0 / (1.0 + exp(-x)); }

// Activations fused into Conv / MatMul / Gemm (codes as in mnn_backend_vulkan.lowering.ACT_CODES).
float activate(float x, uint code, float p0, float p1) {
  switch (code) {
    case 1u: return max(x, 0.0);
    case 2u: return min(max(x, p0), p1);
    case 3u: return x >= 0.0 ? x : x * p0;
    case 4u: return clamp(x * p0 + p1, 0.0, 1.0);
    case 5u: return x * clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case 6u: return sigmoid_acc(x);
    case 7u: return x * sigmoid_acc(x);
    case 8u: return tanh_acc(x);
    default: return x;
  }
}
