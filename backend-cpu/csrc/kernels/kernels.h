// The table of ISA-specific kernels. Each ISA fills one table; a plan picks one at creation.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mnncpu {

// C[MR x NR] (+)= sum_k A[k][0..MR) * B[k][0..NR) over packed panels; ldc in floats.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             bool accumulate);

struct KernelTable {
  const char* isa;
  int mr, nr;
  MicroKernel micro;
  // y = act(x) on n contiguous floats (in place allowed).
  void (*unary)(const float* x, float* y, int64_t n, int code, const float* params);
  // rows x cols block with row stride ldc: c = act(c + row_bias[r] + col_bias[c] + mat[r*ldm + c]).
  void (*bias_act)(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* row_bias,
                   const float* col_bias, const float* mat, int64_t ldm, int act, const float* params);
  // out[i] = a[i*sa] op b[i*sb] for i < n, sa/sb in {0, 1}.
  void (*binary)(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n);
  // One channel of a depthwise convolution, bias and activation fused.
  void (*depthwise)(const float* in, int64_t H, int64_t W, const float* w, int64_t KH, int64_t KW,
                    int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t PT, int64_t PL,
                    float bias, float* out, int64_t OH, int64_t OW, int act, const float* params,
                    float* padded);
  // padded: scratch of ((OH-1)*SH + (KH-1)*DH + 1) * ((OW-1)*SW + (KW-1)*DW + 1) floats.
  // One plane of 2-D max/average pooling; colcount: scratch of pool_scratch_floats() floats.
  void (*pool2d)(const float* in, int64_t H, int64_t W, float* out, int64_t OH, int64_t OW,
                 int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t PT,
                 int64_t PL, int64_t PB, int64_t PR, bool is_max, bool include_pad, float* colcount);
  // Softmax of n contiguous floats.
  void (*softmax)(const float* x, float* y, int64_t n);
  // y = (x - mean) / sqrt(var + eps) * scale + bias over n contiguous floats.
  void (*layernorm)(const float* x, float* y, int64_t n, const float* scale, const float* bias,
                    float eps);
  // pack_a (gemm.h) of row-major A (unit column stride) into this table's MR-row panels.
  void (*pack_a_rows)(const float* a, int64_t rs, int64_t mc, int64_t K, float* dst);
  // pack_b into NR-column panels of B given as B^T, row-major (row j of bt is column j of B).
  void (*pack_bt_rows)(const float* bt, int64_t rs, int64_t nc, int64_t K, float* dst);
};

// Scratch pool2d needs: column counts, max pooling's ring of row maxima, a padded row, ring tags.
inline int64_t pool_scratch_floats(int64_t OW, int64_t KH, int64_t KW, int64_t SW, int64_t DH, int64_t DW) {
  const int64_t OWp = (OW + 15) / 16 * 16, span = (OW - 1) * SW + (KW - 1) * DW + 1;
  return OWp * (1 + (KH - 1) * DH + 1) + (span + 2 * KW + 15) / 16 * 16 + 2 * ((KH - 1) * DH + 1) + 16;
}

const KernelTable* baseline_table();
#ifdef MNN_X86
const KernelTable* avx2_table();
const KernelTable* avx512_table();
#endif
#ifdef MNN_ARM64
const KernelTable* neon_table();
#endif

}  // namespace mnncpu
