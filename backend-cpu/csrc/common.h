// Shared definitions of the native CPU backend: allocation with a counter, activation codes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace mnncpu {

// Every heap allocation made by this module (operator new and aligned buffers) bumps this counter,
// so tests can prove that running a plan allocates nothing.
extern std::atomic<long long> g_allocations;

void* aligned_malloc(size_t bytes, size_t alignment = 64);
void aligned_free(void* p);

struct AlignedDeleter {
  void operator()(void* p) const { aligned_free(p); }
};
template <class T>
using AlignedPtr = std::unique_ptr<T[], AlignedDeleter>;

template <class T>
AlignedPtr<T> aligned_array(size_t count) {
  return AlignedPtr<T>(static_cast<T*>(aligned_malloc(count * sizeof(T) + 64)));
}

// Fused activation / unary op codes shared with Python (mnn_backend_cpu/lowering.py).
enum Act : int {
  ACT_NONE = 0, ACT_RELU = 1, ACT_CLIP = 2, ACT_LEAKY_RELU = 3, ACT_HARD_SIGMOID = 4,
  ACT_HARD_SWISH = 5, ACT_SIGMOID = 6, ACT_SILU = 7, ACT_TANH = 8,
  // unary-only ops
  UN_ERF = 20, UN_EXP = 21, UN_SQRT = 22, UN_NEG = 23, UN_ABS = 24, UN_RECIPROCAL = 25,
  UN_GELU = 26, UN_LOG = 27,
};

enum BinaryCode : int { BIN_ADD = 0, BIN_SUB = 1, BIN_MUL = 2, BIN_DIV = 3, BIN_MAX = 4, BIN_MIN = 5,
                      BIN_POW = 6 };

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace mnncpu
