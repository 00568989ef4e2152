// 2-D max/average pooling (pads, dilations, ceil mode resolved by the caller) and reductions over
// one contiguous range of axes (global pooling, ReduceMean/Sum/Max/Min).
#include "common.cuh"

namespace mnn_cuda {

__global__ void pool2d_kernel(const float* __restrict__ x, float* __restrict__ y, PoolGeom g) {
  const int64_t total = int64_t(g.NC) * g.OH * g.OW;
  MNN_GRID_STRIDE(i, total) {
    const int ox = int(i % g.OW), oy = int((i / g.OW) % g.OH);
    const float* plane = x + (i / (int64_t(g.OW) * g.OH)) * g.H * g.W;
    const int iy0 = oy * g.SH - g.PH, ix0 = ox * g.SW - g.PW;
    float acc = g.is_max ? -INFINITY : 0.0f;
    int count = 0;
    for (int ky = 0; ky < g.KH; ++ky) {
      const int iy = iy0 + ky * g.DH;
      const bool row_in = iy >= 0 && iy < g.H;
      // count_include_pad counts window positions inside the padded input, not beyond it.
      const bool row_padded = iy >= -g.PH && iy < g.H + g.PEH;
      for (int kx = 0; kx < g.KW; ++kx) {
        const int ix = ix0 + kx * g.DW;
        if (row_in && ix >= 0 && ix < g.W) {
          const float v = plane[iy * g.W + ix];
          acc = g.is_max ? fmaxf(acc, v) : acc + v;
          count += !g.count_include_pad;
        }
        if (g.count_include_pad && row_padded && ix >= -g.PW && ix < g.W + g.PEW) ++count;
      }
    }
    y[i] = g.is_max ? acc : (count ? acc / count : 0.0f);
  }
}

// x viewed as [outer, n, inner]; one thread per (outer, inner) output.
__global__ void reduce_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer,
                              int64_t n, int64_t inner, int kind) {
  MNN_GRID_STRIDE(i, outer * inner) {
    const float* p = x + (i / inner) * n * inner + i % inner;
    float acc = kind == kReduceMax ? -INFINITY : (kind == kReduceMin ? INFINITY : 0.0f);
    for (int64_t k = 0; k < n; ++k) {
      const float v = p[k * inner];
      acc = kind == kReduceMax ? fmaxf(acc, v) : (kind == kReduceMin ? fminf(acc, v) : acc + v);
    }
    y[i] = kind == kMean ? acc / float(n) : acc;
  }
}

void pool2d(const float* x, float* y, const PoolGeom& g) {
  MNN_LAUNCH(pool2d_kernel, blocks_for(int64_t(g.NC) * g.OH * g.OW), kThreads)(x, y, g);
}

void reduce(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, int kind) {
  MNN_LAUNCH(reduce_kernel, blocks_for(outer * inner), kThreads)(x, y, outer, n, inner, kind);
}

}  // namespace mnn_cuda
