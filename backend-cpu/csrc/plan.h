// A native plan: tensors placed in one arena, ops created once, run() executes all of them.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "ops.h"
#include "threadpool.h"

namespace mnncpu {

enum TensorKind : int { T_ARENA = 0, T_CONST = 1, T_INPUT = 2, T_OUTPUT = 3 };

struct TensorSlot {
  int kind;
  int64_t offset;  // arena: byte offset; input/output: position in the run's list
  int64_t nbytes;
  void* data = nullptr;  // constants: owned buffer
};

class Plan {
 public:
  Plan(std::shared_ptr<ThreadPool> pool, const KernelTable* k) : pool_(std::move(pool)), k_(k) {}

  int add_tensor(int kind, int64_t offset, int64_t nbytes);
  int add_const(const void* data, int64_t nbytes);
  void add_op(const std::string& kind, const std::vector<int>& in, const std::vector<int>& out,
              const std::vector<int64_t>& ints, const std::vector<float>& floats,
              const std::vector<Weight>& weights);
  // Allocates the arena and scratch; after this, run() allocates nothing.
  void finalize(int64_t arena_bytes);
  // Inputs/outputs: addresses in the order given to add_tensor. Returns allocations made meanwhile.
  long long execute(const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                    bool profile);

  const KernelTable* table() const { return k_; }
  int threads() const { return pool_->size(); }
  int64_t arena_bytes() const { return arena_bytes_; }
  int64_t scratch_bytes() const { return scratch_stride_ * pool_->size(); }
  size_t num_ops() const { return ops_.size(); }
  const std::vector<int64_t>& op_times_ns() const { return times_; }
  std::vector<std::string> op_notes() const {
    std::vector<std::string> notes;
    for (const auto& op : ops_) notes.emplace_back(op->note());
    return notes;
  }
  int64_t nbytes(int id) const { return tensors_.at(id).nbytes; }
  int64_t input_nbytes(size_t i) const { return tensors_.at(input_ids_.at(i)).nbytes; }
  int64_t output_nbytes(size_t i) const { return tensors_.at(output_ids_.at(i)).nbytes; }
  int num_inputs() const { return num_inputs_; }
  int num_outputs() const { return num_outputs_; }

 private:
  std::shared_ptr<ThreadPool> pool_;
  const KernelTable* k_;
  std::vector<TensorSlot> tensors_;
  std::vector<AlignedPtr<char>> consts_;
  std::vector<std::unique_ptr<Op>> ops_;
  AlignedPtr<char> arena_, scratch_, shared_;
  std::vector<void*> ptrs_;
  std::vector<int> input_ids_, output_ids_;
  std::vector<int64_t> times_;
  int64_t arena_bytes_ = 0, scratch_stride_ = 0;
  int num_inputs_ = 0, num_outputs_ = 0;
  bool finalized_ = false;
};

}  // namespace mnncpu
