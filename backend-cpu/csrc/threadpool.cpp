#include "threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MNN_PAUSE() _mm_pause()
#else
#define MNN_PAUSE() std::this_thread::yield()
#endif

namespace mnncpu {

static constexpr int kSpins = 1 << 16;

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int tid = 1; tid < size_; ++tid) threads_.emplace_back([this, tid] { worker(tid); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::drain(int tid) {
  for (;;) {
    const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= tasks_) break;
    fn_(ctx_, t, tid);
  }
}

void ThreadPool::dispatch(int64_t tasks, TaskFn fn, void* ctx) {
  tasks_ = tasks;
  fn_ = fn;
  ctx_ = ctx;
  next_.store(0, std::memory_order_relaxed);
  busy_.store(size_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain(0);
  while (busy_.load(std::memory_order_acquire) != 0) MNN_PAUSE();
}

void ThreadPool::worker(int tid) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpins) {
      MNN_PAUSE();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    drain(tid);
    busy_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace mnncpu
