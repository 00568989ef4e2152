#include "gemm.h"

#include <algorithm>
#include <cstring>

namespace mnncpu {

void pack_a(const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t K, int MR, float* dst) {
  for (int64_t p = 0; p < mc; p += MR, dst += K * MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - p);
    if (rows < MR) std::memset(dst, 0, sizeof(float) * K * MR);
    for (int64_t i = 0; i < rows; ++i) {
      const float* src = a + (p + i) * rs;
      if (cs == 1)
        for (int64_t k = 0; k < K; ++k) dst[k * MR + i] = src[k];
      else
        for (int64_t k = 0; k < K; ++k) dst[k * MR + i] = src[k * cs];
    }
  }
}

void pack_b(const float* b, int64_t rs, int64_t cs, int64_t K, int64_t nc, int NR, float* dst) {
  for (int64_t p = 0; p < nc; p += NR, dst += K * NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - p);
    for (int64_t k = 0; k < K; ++k) {
      float* d = dst + k * NR;
      const float* src = b + k * rs + p * cs;
      if (cs == 1) {
        std::memcpy(d, src, sizeof(float) * cols);
      } else {
        for (int64_t j = 0; j < cols; ++j) d[j] = src[j * cs];
      }
      for (int64_t j = cols; j < NR; ++j) d[j] = 0.f;
    }
  }
}

void gemm_packed(const KernelTable* k, int64_t mc, int64_t nc, int64_t K, const float* pa,
                 const float* pb, float* c, int64_t ldc) {
  const int MR = k->mr, NR = k->nr;
  if (K == 0) {
    for (int64_t i = 0; i < mc; ++i) std::memset(c + i * ldc, 0, sizeof(float) * nc);
    return;
  }
  alignas(64) float tmp[8 * 64];
  for (int64_t k0 = 0; k0 < K; k0 += kKC) {
    const int64_t kc = std::min(kKC, K - k0);
    const bool acc = k0 > 0;
    for (int64_t i = 0; i < mc; i += MR) {
      const float* ap = pa + (i / MR) * K * MR + k0 * MR;
      const int64_t mr = std::min<int64_t>(MR, mc - i);
      for (int64_t j = 0; j < nc; j += NR) {
        const float* bp = pb + (j / NR) * K * NR + k0 * NR;
        const int64_t nr = std::min<int64_t>(NR, nc - j);
        float* cij = c + i * ldc + j;
        if (mr == MR && nr == NR) {
          k->micro(kc, ap, bp, cij, ldc, acc);
        } else {
          k->micro(kc, ap, bp, tmp, NR, false);
          for (int64_t r = 0; r < mr; ++r)
            for (int64_t t = 0; t < nr; ++t)
              cij[r * ldc + t] = acc ? cij[r * ldc + t] + tmp[r * NR + t] : tmp[r * NR + t];
        }
      }
    }
  }
}

}  // namespace mnncpu
