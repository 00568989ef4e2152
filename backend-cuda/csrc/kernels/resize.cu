// Resize of the two innermost axes (nearest or linear): the caller precomputes, per output row and
// column, two source indices and their weights (nearest: one weight is 0), so every
// coordinate_transformation_mode / nearest_mode is handled on the host once per plan.
#include "common.cuh"

namespace mnn_cuda {

__global__ void resize2d_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t planes,
                                int H, int W, int OH, int OW, const int* __restrict__ iy,
                                const float* __restrict__ wy, const int* __restrict__ ix,
                                const float* __restrict__ wx) {
  MNN_GRID_STRIDE(i, planes * OH * OW) {
    const int ox = int(i % OW), oy = int((i / OW) % OH);
    const float* p = x + (i / (int64_t(OW) * OH)) * H * W;
    const float* r0 = p + iy[2 * oy] * W;
    const float* r1 = p + iy[2 * oy + 1] * W;
    const int x0 = ix[2 * ox], x1 = ix[2 * ox + 1];
    const float a = wx[2 * ox], b = wx[2 * ox + 1];
    y[i] = wy[2 * oy] * (a * r0[x0] + b * r0[x1]) + wy[2 * oy + 1] * (a * r1[x0] + b * r1[x1]);
  }
}

void resize2d(const float* x, float* y, int64_t planes, int H, int W, int OH, int OW, const int* iy,
              const float* wy, const int* ix, const float* wx) {
  MNN_LAUNCH(resize2d_kernel, blocks_for(planes * OH * OW), kThreads)(x, y, planes, H, W, OH, OW, iy, wy,
                                                                      ix, wx);
}

}  // namespace mnn_cuda
