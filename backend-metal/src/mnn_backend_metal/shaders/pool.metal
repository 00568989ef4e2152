// 2-D max/average pooling (geometry resolved on the host) and reductions of x viewed as
// [outer, n, inner] over n (global pooling, ReduceSum/Mean/Max/Min). One thread per output.
#include "mnn_common.h"

struct PoolParams {
  int NC, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, PEH, PEW, is_max, count_include_pad;
};

kernel void pool2d(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                   constant PoolParams& g [[buffer(2)]], uint3 pos [[thread_position_in_grid]]) {
  const int ox = int(pos.x), oy = int(pos.y), plane = int(pos.z);
  if (ox >= g.OW || oy >= g.OH || plane >= g.NC) return;
  device const float* xp = x + plane * g.H * g.W;
  float acc = g.is_max ? -INFINITY : 0.0f;
  int count = 0;
  for (int ky = 0; ky < g.KH; ++ky) {
    const int iy = oy * g.SH - g.PH + ky * g.DH;
    for (int kx = 0; kx < g.KW; ++kx) {
      const int ix = ox * g.SW - g.PW + kx * g.DW;
      if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) {
        const float v = xp[iy * g.W + ix];
        acc = g.is_max ? max(acc, v) : acc + v;
        count += g.count_include_pad ? 0 : 1;
      }
      if (g.count_include_pad && iy >= -g.PH && iy < g.H + g.PEH && ix >= -g.PW && ix < g.W + g.PEW) ++count;
    }
  }
  y[(plane * g.OH + oy) * g.OW + ox] = g.is_max ? acc : (count ? acc / float(count) : 0.0f);
}

struct ReduceParams {
  int outer, n, inner, kind;  // kind: 0 sum, 1 mean, 2 max, 3 min
};

kernel void reduce_axis(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                        constant ReduceParams& p [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (int(i) >= p.outer * p.inner) return;
  device const float* xp = x + (int(i) / p.inner) * p.n * p.inner + int(i) % p.inner;
  float acc = p.kind == 2 ? -INFINITY : (p.kind == 3 ? INFINITY : 0.0f);
  for (int k = 0; k < p.n; ++k) {
    const float v = xp[k * p.inner];
    acc = p.kind == 2 ? max(acc, v) : (p.kind == 3 ? min(acc, v) : acc + v);
  }
  y[i] = p.kind == 1 ? acc / float(p.n) : acc;
}
