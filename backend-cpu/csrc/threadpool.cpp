#include "threadpool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MNN_PAUSE() _mm_pause()
#else
#define MNN_PAUSE() std::this_thread::yield()
#endif

namespace mnncpu {

// How long an idle worker spins before it sleeps, by the clock since PAUSE takes 10 to 150 cycles
// depending on the core. Waking a sleeper costs the next op tens of microseconds; a gap longer than
// this is between runs, where that is small beside the run.
static constexpr auto kWorkerSpin = std::chrono::microseconds(2000);
static constexpr int kSpins = 4096;  // the caller's wait for other threads' last tasks, then yield

static bool spun_out(int spins, std::chrono::steady_clock::time_point since) {
  return (spins & 63) == 63 && std::chrono::steady_clock::now() - since > kWorkerSpin;
}

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
    int64_t first, take;
    for (;;) {
      if (static_cast<uint32_t>(v >> 32) != gen) return;
      const int64_t tasks = job.tasks.load(std::memory_order_relaxed);
      first = static_cast<int64_t>(v & 0xffffffffu);
      if (first >= tasks) return;
      // Guided claims: a share of what is left, down to single tasks at the end. A loop of many
      // tiny tasks then costs a few claims (each moves next_'s and done_'s lines between cores,
      // ~0.1 us, more than a small copy's task), and coarse tasks still balance to the last one.
      take = std::max<int64_t>(1, (tasks - first) / (2 * size_));
      if (next_.compare_exchange_weak(v, v + static_cast<uint64_t>(take), std::memory_order_acq_rel)) break;
    }
    const TaskFn fn = job.fn.load(std::memory_order_relaxed);
    void* ctx = job.ctx.load(std::memory_order_relaxed);
    for (int64_t t = first; t < first + take; ++t) fn(ctx, t, tid);
    done_.fetch_add(take, std::memory_order_release);
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
    const auto since = std::chrono::steady_clock::now();
    for (int spins = 0; gen_.load(std::memory_order_acquire) == seen; ++spins) {
      if (!spun_out(spins, since)) {
        MNN_PAUSE();
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
