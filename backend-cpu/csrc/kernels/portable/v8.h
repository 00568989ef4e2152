// 8-float vectors (GCC vector extension) for kernels whose data comes in groups of 8 (channel
// blocks, 8 x 8 transposes): one AVX2 register, two SSE/NEON registers. Included inside an ISA's
// namespace (MNN_KNS), so each ISA compiles these with its own flags; include once per file.
#pragma once

typedef float v8 __attribute__((vector_size(32)));

static inline v8 ld8(const float* p) { v8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void st8(float* p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }
static inline v8 bc8(float x) { return v8{x, x, x, x, x, x, x, x}; }

typedef int32_t i8v __attribute__((vector_size(32)));

// r[i][j] -> r[j][i] for an 8 x 8 block: pairs, then quads, then halves.
static inline void transpose8(v8* r) {
  const i8v lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
  const i8v q0 = {0, 1, 8, 9, 4, 5, 12, 13}, q1 = {2, 3, 10, 11, 6, 7, 14, 15};
  const i8v h0 = {0, 1, 2, 3, 8, 9, 10, 11}, h1 = {4, 5, 6, 7, 12, 13, 14, 15};
  v8 a[8], b[8];
  for (int i = 0; i < 8; i += 2) {
    a[i] = __builtin_shuffle(r[i], r[i + 1], lo);
    a[i + 1] = __builtin_shuffle(r[i], r[i + 1], hi);
  }
  for (int i = 0; i < 8; i += 4) {
    b[i] = __builtin_shuffle(a[i], a[i + 2], q0);
    b[i + 1] = __builtin_shuffle(a[i], a[i + 2], q1);
    b[i + 2] = __builtin_shuffle(a[i + 1], a[i + 3], q0);
    b[i + 3] = __builtin_shuffle(a[i + 1], a[i + 3], q1);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shuffle(b[i], b[i + 4], h0);
    r[i + 4] = __builtin_shuffle(b[i], b[i + 4], h1);
  }
}

