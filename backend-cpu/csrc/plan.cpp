#include "plan.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

namespace mnncpu {

std::atomic<long long> g_allocations{0};

void* aligned_malloc(size_t bytes, size_t alignment) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  if (posix_memalign(&p, alignment, bytes ? bytes : alignment) != 0) throw std::bad_alloc();
  return p;
}

void aligned_free(void* p) { std::free(p); }

int Plan::add_tensor(int kind, int64_t offset, int64_t nbytes) {
  if (finalized_) throw std::logic_error("plan is finalized");
  tensors_.push_back({kind, offset, nbytes, nullptr});
  const int id = static_cast<int>(tensors_.size()) - 1;
  if (kind == T_INPUT) {
    if (offset != num_inputs_) throw std::invalid_argument("inputs must be added in order");
    input_ids_.push_back(id);
    ++num_inputs_;
  } else if (kind == T_OUTPUT) {
    if (offset != num_outputs_) throw std::invalid_argument("outputs must be added in order");
    output_ids_.push_back(id);
    ++num_outputs_;
  }
  return id;
}

int Plan::add_const(const void* data, int64_t nbytes) {
  auto buf = aligned_array<char>(nbytes);
  std::memcpy(buf.get(), data, nbytes);
  const int id = add_tensor(T_CONST, 0, nbytes);
  tensors_[id].data = buf.get();
  consts_.push_back(std::move(buf));
  return id;
}

void Plan::add_op(const std::string& kind, const std::vector<int>& in, const std::vector<int>& out,
                  const std::vector<int64_t>& ints, const std::vector<float>& floats,
                  const std::vector<Weight>& weights) {
  if (finalized_) throw std::logic_error("plan is finalized");
  for (int id : in)
    if (id < 0 || id >= static_cast<int>(tensors_.size())) throw std::invalid_argument("bad input id");
  for (int id : out)
    if (id < 0 || id >= static_cast<int>(tensors_.size())) throw std::invalid_argument("bad output id");
  ops_.push_back(make_op(kind, in, out, ints, floats, weights, k_, pool_->size()));
}

void Plan::finalize(int64_t arena_bytes) {
  arena_bytes_ = arena_bytes;
  for (const auto& t : tensors_)
    if (t.kind == T_ARENA && t.offset + t.nbytes > arena_bytes)
      throw std::invalid_argument("tensor outside the arena");
  int64_t stride = 0;
  for (const auto& op : ops_) stride = std::max(stride, op->scratch_bytes());
  scratch_stride_ = (stride + 63) / 64 * 64;
  arena_ = aligned_array<char>(std::max<int64_t>(arena_bytes, 64));
  scratch_ = aligned_array<char>(std::max<int64_t>(scratch_stride_ * pool_->size(), 64));
  int64_t shared = 0;
  for (const auto& op : ops_) shared = std::max(shared, op->shared_bytes());
  shared_ = aligned_array<char>(std::max<int64_t>(shared, 64));
  ptrs_.assign(tensors_.size(), nullptr);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    if (t.kind == T_ARENA) ptrs_[i] = arena_.get() + t.offset;
    else if (t.kind == T_CONST) ptrs_[i] = t.data;
  }
  times_.assign(ops_.size(), 0);
  finalized_ = true;
}

long long Plan::execute(const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                        bool profile) {
  if (!finalized_) throw std::logic_error("plan is not finalized");
  if (static_cast<int>(inputs.size()) != num_inputs_ || static_cast<int>(outputs.size()) != num_outputs_)
    throw std::invalid_argument("wrong number of inputs or outputs");
  const long long before = g_allocations.load();
  for (int i = 0; i < num_inputs_; ++i) ptrs_[input_ids_[i]] = const_cast<void*>(inputs[i]);
  for (int i = 0; i < num_outputs_; ++i) ptrs_[output_ids_[i]] = outputs[i];
  RunCtx ctx{ptrs_.data(), pool_.get(), k_, scratch_.get(), scratch_stride_, shared_.get()};
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (profile) {
      const auto t0 = std::chrono::steady_clock::now();
      ops_[i]->run(ctx);
      times_[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - t0).count();
    } else {
      ops_[i]->run(ctx);
    }
  }
  return g_allocations.load() - before;
}

}  // namespace mnncpu
