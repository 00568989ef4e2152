// Direct 2-D convolution (grouped, so depthwise too) with bias and a fused activation; one thread per
// output element. Pointwise convolutions are lowered to the tiled GEMM instead (gemm.cu).
#include "common.cuh"

namespace mnn_cuda {

// x: [N, C, H, W]; w: [M, C/group, KH, KW]; y: [N, M, OH, OW].
__global__ void conv2d_kernel(const float* __restrict__ x, const float* __restrict__ w,
                              const float* __restrict__ bias, float* __restrict__ y, ConvGeom g,
                              int act, float p0, float p1) {
  const int64_t total = int64_t(g.N) * g.M * g.OH * g.OW;
  const int cin = g.C / g.group, cout = g.M / g.group;
  MNN_GRID_STRIDE(i, total) {
    const int ox = int(i % g.OW), oy = int((i / g.OW) % g.OH);
    const int m = int((i / (int64_t(g.OW) * g.OH)) % g.M), n = int(i / (int64_t(g.OW) * g.OH * g.M));
    const int c0 = (m / cout) * cin;
    const int iy0 = oy * g.SH - g.PH, ix0 = ox * g.SW - g.PW;
    float acc = bias ? bias[m] : 0.0f;
    const float* wm = w + int64_t(m) * cin * g.KH * g.KW;
    for (int c = 0; c < cin; ++c) {
      const float* xc = x + (int64_t(n) * g.C + c0 + c) * g.H * g.W;
      const float* wc = wm + c * g.KH * g.KW;
      for (int ky = 0; ky < g.KH; ++ky) {
        const int iy = iy0 + ky * g.DH;
        if (iy < 0 || iy >= g.H) continue;
        for (int kx = 0; kx < g.KW; ++kx) {
          const int ix = ix0 + kx * g.DW;
          if (ix >= 0 && ix < g.W) acc += xc[iy * g.W + ix] * wc[ky * g.KW + kx];
        }
      }
    }
    y[i] = unary_op(act, acc, p0, p1);
  }
}

void conv2d(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g, int act,
            float p0, float p1) {
  const int64_t total = int64_t(g.N) * g.M * g.OH * g.OW;
  MNN_LAUNCH(conv2d_kernel, blocks_for(total), kThreads)(x, w, bias, y, g, act, p0, p1);
}

}  // namespace mnn_cuda
