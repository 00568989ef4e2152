// Fiber scheduler and runtime functions behind cuda_host.h. On x86-64 a fiber switch is a few
// register pushes (mnn_emu_switch below); elsewhere ucontext does the same job more slowly.
#include "cuda_host.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

namespace {

constexpr size_t kStackBytes = 64 * 1024;  // kernels are leaf code with small frames

struct Fiber {
  void* sp = nullptr;  // saved stack pointer while switched out
#if !defined(__x86_64__)
  ucontext_t context;
#endif
  uint3 index{};
  bool done = false;
};

struct Block {
  std::vector<Fiber> fibers;
  char* stacks = nullptr;  // malloc'd, so only the pages a fiber touches are committed
  size_t stack_count = 0;
  size_t current = 0;
  void* scheduler_sp = nullptr;
#if !defined(__x86_64__)
  ucontext_t scheduler;
#endif
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  bool inside = false;

  ~Block() { std::free(stacks); }
};

Block block_state;  // guarded by launch_lock
std::mutex launch_lock;

}  // namespace

#if defined(__x86_64__)
// void mnn_emu_switch(void** save_sp, void* load_sp): saves the callee-saved registers on the current
// stack, stores its pointer, loads the other stack and pops that fiber's registers.
extern "C" void mnn_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl mnn_emu_switch
  .hidden mnn_emu_switch
  .type mnn_emu_switch, @function
mnn_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size mnn_emu_switch, .-mnn_emu_switch
)");
#endif

namespace {

void switch_to_scheduler() {
  Block& b = block_state;
#if defined(__x86_64__)
  mnn_emu_switch(&b.fibers[b.current].sp, b.scheduler_sp);
#else
  swapcontext(&b.fibers[b.current].context, &b.scheduler);
#endif
}

// Where every fiber starts; it never returns (a finished fiber switches away for good).
void fiber_main() {
  Block& b = block_state;
  b.body(b.ctx);
  b.fibers[b.current].done = true;
  switch_to_scheduler();
  std::abort();
}

void start_fiber(Block& b, size_t t) {
  char* top = b.stacks + (t + 1) * kStackBytes;
#if defined(__x86_64__)
  // Stack image that the pops and `ret` of mnn_emu_switch turn into a call of fiber_main: six
  // zeroed registers, fiber_main's address, then a null return address, keeping the ABI alignment.
  auto** sp = reinterpret_cast<void**>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t(15));
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(&fiber_main);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  b.fibers[t].sp = sp;
#else
  ucontext_t& c = b.fibers[t].context;
  getcontext(&c);
  c.uc_stack.ss_sp = top - kStackBytes;
  c.uc_stack.ss_size = kStackBytes;
  c.uc_link = nullptr;
  makecontext(&c, fiber_main, 0);
#endif
}

void resume(Block& b, size_t t) {
  b.current = t;
  threadIdx = b.fibers[t].index;
#if defined(__x86_64__)
  mnn_emu_switch(&b.scheduler_sp, b.fibers[t].sp);
#else
  swapcontext(&b.scheduler, &b.fibers[t].context);
#endif
}

}  // namespace

void __syncthreads() {
  if (!block_state.inside) throw std::logic_error("__syncthreads() called outside a kernel");
  switch_to_scheduler();
}

namespace mnn_emu {

void run_grid(dim3 grid, dim3 block, void (*body)(void*), void* ctx) {
  Block& b = block_state;
  std::lock_guard<std::mutex> hold(launch_lock);
  const size_t threads = size_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024) throw std::invalid_argument("block size must be 1..1024 threads");
  if (b.stack_count < threads) {
    std::free(b.stacks);
    b.stacks = static_cast<char*>(std::malloc(threads * kStackBytes));
    if (!b.stacks) throw std::bad_alloc();
    b.stack_count = threads;
  }
  b.fibers.assign(threads, Fiber{});
  for (unsigned z = 0, t = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x) b.fibers[t++].index = uint3{x, y, z};
  b.body = body;
  b.ctx = ctx;
  gridDim = grid;
  blockDim = block;
  b.inside = true;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3{bx, by, bz};
        for (size_t t = 0; t < threads; ++t) {
          b.fibers[t].done = false;
          start_fiber(b, t);
        }
        // Each round runs every live fiber up to its next barrier or its end; a barrier is passed
        // once every thread of the block has reached it (threads that exited count as arrived).
        for (size_t live = threads; live;) {
          live = 0;
          for (size_t t = 0; t < threads; ++t)
            if (!b.fibers[t].done) resume(b, t);
          for (size_t t = 0; t < threads; ++t) live += !b.fibers[t].done;
        }
      }
  b.inside = false;
}

}  // namespace mnn_emu

// ---- runtime: "device" memory is host memory ---------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  std::memset(prop, 0, sizeof(*prop));
  std::strcpy(prop->name, "host emulation");
  prop->major = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = std::malloc(bytes ? bytes : 1);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    default: return "invalid argument";
  }
}
