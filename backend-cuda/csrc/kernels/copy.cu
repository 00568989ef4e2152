// Strided copies: Transpose, Slice, Concat and Split pieces, Expand. One kernel per element size, so
// every dtype moves as raw bits.
#include "common.cuh"

namespace mnn_cuda {

// Walks s.shape row-major; reads x at in_off + sum(idx * s.a), writes y at out_off + sum(idx * s.b).
template <typename T>
__global__ void copy_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, Strided s,
                            int64_t in_off, int64_t out_off) {
  MNN_GRID_STRIDE(i, n) {
    int64_t rest = i, src = in_off, dst = out_off;
    for (int d = s.rank - 1; d >= 0; --d) {
      const int64_t q = rest / s.shape[d], r = rest - q * s.shape[d];
      src += r * s.a[d];
      dst += r * s.b[d];
      rest = q;
    }
    y[dst] = x[src];
  }
}

void copy(const void* x, void* y, int elsize, int64_t n, const Strided& s, int64_t in_off,
          int64_t out_off) {
  const unsigned blocks = blocks_for(n);
  switch (elsize) {
    case 1:
      MNN_LAUNCH(copy_kernel<uint8_t>, blocks, kThreads)(
          static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), n, s, in_off, out_off);
      break;
    case 2:
      MNN_LAUNCH(copy_kernel<uint16_t>, blocks, kThreads)(
          static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, s, in_off, out_off);
      break;
    case 4:
      MNN_LAUNCH(copy_kernel<uint32_t>, blocks, kThreads)(
          static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), n, s, in_off, out_off);
      break;
    default:
      MNN_LAUNCH(copy_kernel<uint64_t>, blocks, kThreads)(
          static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), n, s, in_off, out_off);
  }
}

}  // namespace mnn_cuda
