// A small fork-join pool: the caller plus n-1 workers claim runs of task indices (guided: a share
// of what is left) from one atomic counter.
// The caller waits for its tasks, never for the workers: a worker that is descheduled (2 cores
// shared with other processes) delays nothing it has not claimed. Workers spin between ops
// (ops follow each other within microseconds, runs within a fraction of a millisecond), then sleep.
// Busy cores never exceed size(): the caller and size() - 1 workers, spinning or working.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mnncpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Calls f(task, thread_id) for every task in [0, tasks); thread_id < size(). No allocation.
  template <class F>
  void parallel_for(int64_t tasks, F&& f) {
    if (tasks <= 0) return;
    if (size_ == 1 || tasks == 1) {
      for (int64_t t = 0; t < tasks; ++t) f(t, 0);
      return;
    }
    dispatch(tasks, [](void* ctx, int64_t t, int tid) { (*static_cast<F*>(ctx))(t, tid); }, &f);
  }

 private:
  using TaskFn = void (*)(void*, int64_t, int);
  // Two job slots, alternating by generation, so a late worker never reads a slot being rewritten.
  struct Job {
    std::atomic<int64_t> tasks{0};
    std::atomic<TaskFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
  };
  void dispatch(int64_t tasks, TaskFn fn, void* ctx);
  void work(uint32_t gen, int tid);
  void worker(int tid);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Job jobs_[2];
  // Own cache lines: every task claim and completion writes next_ and done_, and a write to the
  // line idle workers spin on (gen_) would make each of them miss on every claim.
  alignas(64) std::atomic<uint64_t> next_{0};  // (generation << 32) | next task index
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<uint32_t> gen_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  char pad_[64];  // nothing allocated after the pool shares gen_'s line
};

}  // namespace mnncpu
