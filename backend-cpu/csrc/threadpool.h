// A small fork-join pool: the caller plus n-1 workers take task indices from an atomic counter.
// Workers spin briefly between ops (ops follow each other within microseconds), then sleep.
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
  void dispatch(int64_t tasks, TaskFn fn, void* ctx);
  void worker(int tid);
  void drain(int tid);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> busy_{0};
  std::atomic<bool> stop_{false};
  int64_t tasks_ = 0;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace mnncpu
