// How multi-threaded ops cut their work into pool tasks so that N threads finish together.
#pragma once
#include <algorithm>
#include <cstdint>

#include "common.h"
#include "gemm.h"

namespace mnncpu {

// How a GEMM of M x N (repeated `outer` times: batch x groups) is cut into tasks: column tiles of
// nc (a multiple of NR) and row chunks of mc (a multiple of MR), enough tasks to feed every thread.
struct Tiling {
  int64_t nc, ntiles, mc, mchunks;
};

inline Tiling make_tiling(int64_t M, int64_t N, int MR, int NR, int64_t outer, int threads, int64_t nc_max) {
  Tiling t;
  t.nc = std::max<int64_t>(NR, std::min(round_up(N, NR), round_up(nc_max, NR)));
  t.ntiles = ceil_div(N, t.nc);
  if (threads > 1) {
    while (outer * t.ntiles < threads * 4 && t.nc > 4 * NR) {
      t.nc = round_up(t.nc / 2, NR);
      t.ntiles = ceil_div(N, t.nc);
    }
  }
  t.mchunks = 1;
  if (threads > 1 && outer * t.ntiles < threads * 2)
    t.mchunks = std::min(ceil_div(M, MR), ceil_div(threads * 2, outer * t.ntiles));
  t.mc = round_up(ceil_div(M, std::max<int64_t>(t.mchunks, 1)), MR);
  t.mchunks = std::max<int64_t>(1, ceil_div(M, t.mc));
  return t;
}

// A GEMM of M x N (repeated `outer` times) cut into row chunks of mc and column tiles of nc.
struct GemmSplit {
  int64_t nc, mc;
};

// Picks (nc, mc) for `threads` threads taking tasks from a shared counter, by a cycle estimate per
// task: the micro-kernel's work counted in whole MR x NR tiles (a ragged edge panel costs a full
// one), plus packing the task's K x nc slice of B (`pack_b` cycles per float: duplicated in every
// row chunk) and streaming its mc x K rows of A (`load_a` cycles per float: re-read by every column
// tile). Tasks all about equal, the makespan is ceil(tasks / threads) task costs; a quarter task
// more stands for the jitter of real cores, so that of two splits with the same makespan the finer
// one wins, which a late or descheduled thread then delays less. nc stays within nc_max (cache).
inline GemmSplit split_gemm(int64_t M, int64_t N, int64_t K, int MR, int NR, int64_t outer, int threads,
                            int64_t nc_max, double pack_b, double load_a) {
  const int64_t npanels = std::max<int64_t>(1, (N + NR - 1) / NR);
  const int64_t mpanels = std::max<int64_t>(1, (M + MR - 1) / MR);
  const int64_t max_pn = std::max<int64_t>(1, std::min(npanels, nc_max / NR));
  const double k = static_cast<double>(std::max<int64_t>(K, 1));
  constexpr double kMacsPerCycle = 12.0, kTaskCycles = 1500.0;  // AVX2 FMA at ~75%; dispatch, edges
  GemmSplit best{max_pn * NR, mpanels * MR};
  double best_score = 1e300;
  for (int64_t pn = max_pn; pn >= 1; --pn) {
    const int64_t ntiles = (npanels + pn - 1) / pn;
    if (pn < max_pn && (npanels + pn) / (pn + 1) == ntiles) continue;  // same tiles, wider is better
    for (int64_t mchunks = 1; mchunks <= std::min<int64_t>(mpanels, 4 * threads); ++mchunks) {
      const int64_t pm = (mpanels + mchunks - 1) / mchunks, chunks = (mpanels + pm - 1) / pm;
      if (chunks != mchunks) continue;
      const double rows = pm * MR, cols = pn * NR;
      const double task = rows * cols * k / kMacsPerCycle + cols * k * pack_b + rows * k * load_a + kTaskCycles;
      const int64_t tasks = outer * ntiles * chunks;
      const double score = (static_cast<double>((tasks + threads - 1) / threads) + 0.25) * task;
      if (score < best_score * 0.999) {
        best_score = score;
        best = {pn * NR, pm * MR};
      }
    }
  }
  return best;
}

}  // namespace mnncpu
