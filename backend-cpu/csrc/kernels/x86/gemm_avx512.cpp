// AVX-512F GEMM micro-kernel: a 6x32 block of C held in 12 zmm accumulators.
#include <immintrin.h>

#include <cstdint>

namespace mnncpu {
namespace avx512 {

void micro_6x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  __m512 r[6][2];
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) r[i][0] = r[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      r[i][0] = _mm512_fmadd_ps(ai, b0, r[i][0]);
      r[i][1] = _mm512_fmadd_ps(ai, b1, r[i][1]);
    }
    a += 6;
    b += 32;
  }
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    float* ci = c + i * ldc;
    if (acc) {
      r[i][0] = _mm512_add_ps(r[i][0], _mm512_loadu_ps(ci));
      r[i][1] = _mm512_add_ps(r[i][1], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, r[i][0]);
    _mm512_storeu_ps(ci + 16, r[i][1]);
  }
}

}  // namespace avx512
}  // namespace mnncpu
