// Host emulation of the small part of CUDA that mnn's kernels use, so that the unmodified kernel
// sources in csrc/kernels/*.cu compile with g++ and run on the CPU (tests on machines without a GPU).
//
// Model: a launch runs its blocks one after another on the calling thread, one launch at a time. Every CUDA thread of a
// block is a fiber (own stack); __syncthreads() switches back to the block scheduler, which resumes
// the fibers round-robin, so a barrier is reached by all threads of the block before any passes it.
// __shared__ variables become function-local statics, shared by the fibers of the running block.
#pragma once

#include <math.h>  // expf, fmaxf, erff, ... in the global namespace, as in CUDA
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static  // launches are serialised (run_grid holds a lock)

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The built-in index variables: set by the scheduler before it resumes a fiber.
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;

void __syncthreads();
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

namespace mnn_emu {

// Runs body(ctx) once per thread of every block of the grid; concurrent callers take turns.
void run_grid(dim3 grid, dim3 block, void (*body)(void*), void* ctx);

template <class... P>
struct Launch {
  void (*kernel)(P...);
  dim3 grid, block;

  template <class... A>
  void operator()(A&&... args) const {
    // Converted once to the kernel's parameter types; every thread gets its own copy, as on a GPU.
    struct Call {
      void (*kernel)(P...);
      std::tuple<P...> params;
    } call{kernel, std::tuple<P...>(std::forward<A>(args)...)};
    run_grid(grid, block, [](void* c) {
      auto* call = static_cast<Call*>(c);
      std::tuple<P...> mine = call->params;
      std::apply(call->kernel, mine);
    }, &call);
  }
};

template <class... P>
Launch<P...> launch(void (*kernel)(P...), dim3 grid, dim3 block) {
  return {kernel, grid, block};
}

}  // namespace mnn_emu

// kernel<<<grid, block>>>(args) is spelled MNN_LAUNCH(kernel, grid, block)(args) in host code.
#define MNN_LAUNCH(kernel, grid, block) ::mnn_emu::launch(kernel, grid, block)

// ---- runtime API subset ------------------------------------------------------------------------
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor, multiProcessorCount;
};
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);
