// Native ops of a plan. Shapes are static: Python (lowering.py) resolves every geometry into the
// integer list each op receives, and ops pack their weights once when they are created.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "kernels/kernels.h"
#include "threadpool.h"

namespace mnncpu {

// Where one run's tensors live and the per-thread scratch sized at plan time.
struct RunCtx {
  void** ptr;  // tensor id -> address
  ThreadPool* pool;
  const KernelTable* k;
  char* scratch;
  int64_t scratch_stride;  // bytes per thread
  char* shared = nullptr;  // one buffer all threads of an op share (Op::shared_bytes)

  template <class T = float>
  T* at(int id) const { return static_cast<T*>(ptr[id]); }
  float* thread_scratch(int tid) const { return reinterpret_cast<float*>(scratch + tid * scratch_stride); }
};

// A borrowed view of a weight array handed over at op creation.
struct Weight {
  const void* data;
  std::vector<int64_t> shape;
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

class Op {
 public:
  virtual ~Op() = default;
  virtual void run(const RunCtx& ctx) = 0;
  // Bytes of scratch each thread needs while this op runs.
  virtual int64_t scratch_bytes() const { return 0; }
  // Bytes of scratch shared by all threads while this op runs (e.g. operand panels packed once).
  virtual int64_t shared_bytes() const { return 0; }
  // What the op chose to run (e.g. a convolution's algorithm); shown by Plan.op_notes.
  virtual const char* note() const { return ""; }
  std::vector<int> in, out;
};

std::unique_ptr<Op> make_op(const std::string& kind, const std::vector<int>& in,
                            const std::vector<int>& out, const std::vector<int64_t>& ints,
                            const std::vector<float>& floats, const std::vector<Weight>& weights,
                            const KernelTable* k, int threads);

}  // namespace mnncpu
