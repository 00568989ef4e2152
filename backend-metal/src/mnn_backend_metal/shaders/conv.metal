// Direct 2-D convolution, grouped (so depthwise too), bias and fused activation; one thread per
// output element. x: [N, C, H, W], w: [M, C/group, KH, KW], y: [N, M, OH, OW].
#include "mnn_common.h"

struct ConvParams {
  int N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, group, act, has_bias;
  float p0, p1;
};

kernel void conv2d(device const float* x [[buffer(0)]], device const float* w [[buffer(1)]],
                   device const float* bias [[buffer(2)]], device float* y [[buffer(3)]],
                   constant ConvParams& g [[buffer(4)]], uint3 pos [[thread_position_in_grid]]) {
  // grid: (OW, OH, N*M)
  const int ox = int(pos.x), oy = int(pos.y), m = int(pos.z) % g.M, n = int(pos.z) / g.M;
  if (ox >= g.OW || oy >= g.OH || n >= g.N) return;
  const int cin = g.C / g.group, c0 = (m / (g.M / g.group)) * cin;
  const int iy0 = oy * g.SH - g.PH, ix0 = ox * g.SW - g.PW;
  float acc = g.has_bias ? bias[m] : 0.0f;
  for (int c = 0; c < cin; ++c) {
    device const float* xc = x + (n * g.C + c0 + c) * g.H * g.W;
    device const float* wc = w + (m * cin + c) * g.KH * g.KW;
    for (int ky = 0; ky < g.KH; ++ky) {
      const int iy = iy0 + ky * g.DH;
      if (iy < 0 || iy >= g.H) continue;
      for (int kx = 0; kx < g.KW; ++kx) {
        const int ix = ix0 + kx * g.DW;
        if (ix >= 0 && ix < g.W) acc += xc[iy * g.W + ix] * wc[ky * g.KW + kx];
      }
    }
  }
  y[((n * g.M + m) * g.OH + oy) * g.OW + ox] = unary_op(g.act, acc, g.p0, g.p1);
}
