// Portable GEMM driver over packed panels; the ISA's micro-kernel does the arithmetic.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace mnncpu {

constexpr int64_t kKC = 256;  // depth of one pass over the panels, sized so a B panel stays in L1

// Rows [0, mc) of A (element (i, k) at a[i*rs + k*cs]) into MR-row panels dst[p][k][MR], zero-padded.
void pack_a(const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t K, int MR, float* dst);
// pack_a into k's MR-row panels, through the ISA's vectorised packer when A's rows are contiguous.
inline void pack_a_for(const KernelTable* k, const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t K,
                       float* dst) {
  if (cs == 1) k->pack_a_rows(a, rs, mc, K, dst);
  else pack_a(a, rs, cs, mc, K, k->mr, dst);
}
// Columns [0, nc) of B (element (k, j) at b[k*rs + j*cs]) into NR-column panels dst[p][k][NR].
void pack_b(const float* b, int64_t rs, int64_t cs, int64_t K, int64_t nc, int NR, float* dst);
// C[mc x nc] = A * B from packed panels (full depth K each); C has row stride ldc.
void gemm_packed(const KernelTable* k, int64_t mc, int64_t nc, int64_t K, const float* pa,
                 const float* pb, float* c, int64_t ldc);

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace mnncpu
