// AVX2+FMA GEMM micro-kernel: a 6x16 block of C held in 12 ymm accumulators.
#include <immintrin.h>

#include <cstdint>

namespace mnncpu {
namespace avx2 {

void micro_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  __m256 r[6][2];
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) r[i][0] = r[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      r[i][0] = _mm256_fmadd_ps(ai, b0, r[i][0]);
      r[i][1] = _mm256_fmadd_ps(ai, b1, r[i][1]);
    }
    a += 6;
    b += 16;
  }
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    float* ci = c + i * ldc;
    if (acc) {
      r[i][0] = _mm256_add_ps(r[i][0], _mm256_loadu_ps(ci));
      r[i][1] = _mm256_add_ps(r[i][1], _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, r[i][0]);
    _mm256_storeu_ps(ci + 8, r[i][1]);
  }
}

}  // namespace avx2
}  // namespace mnncpu
