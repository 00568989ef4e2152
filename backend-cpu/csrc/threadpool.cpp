#include "threadpool.h"

#include <sched.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MNN_PAUSE() _mm_pause()
#else
#define MNN_PAUSE() std::this_thread::yield()
#endif

namespace mnncpu {

static constexpr int kSpins = 4096, kYields = 256;

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int tid = 1; tid < size_; ++tid) threads_.emplace_back([this, tid] { worker(tid); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    gen_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::work(uint32_t gen, int tid) {
  Job& job = jobs_[gen & 1];
  for (;;) {
    uint64_t v = next_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(v >> 32) != gen) return;
      if (static_cast<int64_t>(v & 0xffffffffu) >= job.tasks.load(std::memory_order_relaxed)) return;
      if (next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) break;
    }
    job.fn.load(std::memory_order_relaxed)(job.ctx.load(std::memory_order_relaxed),
                                           static_cast<int64_t>(v & 0xffffffffu), tid);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::dispatch(int64_t tasks, TaskFn fn, void* ctx) {
  constexpr int64_t kMaxTasks = int64_t(1) << 31;
  if (tasks > kMaxTasks) {  // the index field holds 32 bits: run huge loops in blocks
    for (int64_t s = 0; s < tasks; s += kMaxTasks) {
      struct Block { TaskFn fn; void* ctx; int64_t base; } b{fn, ctx, s};
      dispatch(std::min(kMaxTasks, tasks - s),
               [](void* c, int64_t t, int tid) { auto* bb = static_cast<Block*>(c); bb->fn(bb->ctx, bb->base + t, tid); },
               &b);
    }
    return;
  }
  const uint32_t gen = gen_.load(std::memory_order_relaxed) + 1;
  Job& job = jobs_[gen & 1];
  job.tasks.store(tasks, std::memory_order_relaxed);
  job.fn.store(fn, std::memory_order_relaxed);
  job.ctx.store(ctx, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  next_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    gen_.store(gen, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  work(gen, 0);
  for (int spins = 0; done_.load(std::memory_order_acquire) < tasks; ++spins) {
    if (spins < kSpins) MNN_PAUSE();
    else sched_yield();
  }
}

void ThreadPool::worker(int tid) {
  uint32_t seen = 0;
  for (;;) {
    for (int spins = 0; gen_.load(std::memory_order_acquire) == seen; ++spins) {
      if (spins < kSpins) {
        MNN_PAUSE();
      } else if (spins < kSpins + kYields) {
        sched_yield();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return gen_.load(std::memory_order_acquire) != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    seen = gen_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    work(seen, tid);
  }
}

}  // namespace mnncpu
