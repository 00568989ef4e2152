// AArch64 NEON GEMM micro-kernel: an 8x12 block of C held in 24 q-register accumulators.
// Per k step: three B vectors (12 columns) and two A vectors (8 rows); each row's FMA takes its A
// value by lane (fmla v.4s, v.4s, v.s[i]), so A needs no broadcasts. 24 + 3 + 2 of the 32 vector
// registers are live, leaving room for the next step's loads.
#include <arm_neon.h>

#include <cstdint>

namespace mnncpu {
namespace neon {

// Rows i of C (i < 4 from a0 lanes, i >= 4 from a1 lanes) += a[i] * (b0 | b1 | b2).
#define MNN_NEON_ROW(i, av, lane)                      \
  c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane);    \
  c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane);    \
  c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane)

#define MNN_NEON_STEP(ap, bp)                                                       \
  do {                                                                              \
    const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32((bp) + 4),                 \
                      b2 = vld1q_f32((bp) + 8);                                     \
    const float32x4_t a0 = vld1q_f32(ap), a1 = vld1q_f32((ap) + 4);                 \
    MNN_NEON_ROW(0, a0, 0); MNN_NEON_ROW(1, a0, 1);                                 \
    MNN_NEON_ROW(2, a0, 2); MNN_NEON_ROW(3, a0, 3);                                 \
    MNN_NEON_ROW(4, a1, 0); MNN_NEON_ROW(5, a1, 1);                                 \
    MNN_NEON_ROW(6, a1, 2); MNN_NEON_ROW(7, a1, 3);                                 \
  } while (0)

#define MNN_NEON_STORE(i)                                                           \
  do {                                                                              \
    float* ci = c + (i) * ldc;                                                      \
    if (acc) {                                                                      \
      c##i##0 = vaddq_f32(c##i##0, vld1q_f32(ci));                                  \
      c##i##1 = vaddq_f32(c##i##1, vld1q_f32(ci + 4));                              \
      c##i##2 = vaddq_f32(c##i##2, vld1q_f32(ci + 8));                              \
    }                                                                               \
    vst1q_f32(ci, c##i##0);                                                         \
    vst1q_f32(ci + 4, c##i##1);                                                     \
    vst1q_f32(ci + 8, c##i##2);                                                     \
  } while (0)

// Same contract as avx2::micro_6x16: C[8 x 12] (+)= sum over kc of the packed A panel (kc x 8)
// times the packed B panel (kc x 12); ldc in floats. The A*B sum is formed first and C added
// after, as on x86, so results match the other ISAs' rounding order for the accumulate case.
void micro_8x12(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  float32x4_t c00 = vdupq_n_f32(0.f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
  float32x4_t c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
  float32x4_t c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
  float32x4_t c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
  int64_t k = 0;
  // Two steps per iteration: the loop overhead is spread and the loads of the second step can
  // issue while the first step's FMAs drain.
  for (; k + 2 <= kc; k += 2, a += 16, b += 24) {
    __builtin_prefetch(b + 192);
    MNN_NEON_STEP(a, b);
    MNN_NEON_STEP(a + 8, b + 12);
  }
  if (k < kc) MNN_NEON_STEP(a, b);
  MNN_NEON_STORE(0);
  MNN_NEON_STORE(1);
  MNN_NEON_STORE(2);
  MNN_NEON_STORE(3);
  MNN_NEON_STORE(4);
  MNN_NEON_STORE(5);
  MNN_NEON_STORE(6);
  MNN_NEON_STORE(7);
}

#undef MNN_NEON_STORE
#undef MNN_NEON_STEP
#undef MNN_NEON_ROW

}  // namespace neon
}  // namespace mnncpu
