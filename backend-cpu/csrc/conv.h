// Convolution: one op, several algorithms (im2col/1x1 GEMM, direct depthwise, Winograd F(m,3)).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ops.h"

namespace mnncpu {

// Shared with Python (lowering.CONV_ALGOS): the 19th conv int; a choice the geometry does not
// allow falls back to the automatic one.
enum ConvAlgo : int {
  CONV_AUTO = 0, CONV_GEMM = 1, CONV_DEPTHWISE = 2, CONV_WINO2 = 3, CONV_WINO4 = 4, CONV_WINO6 = 5,
  CONV_DWBLOCK = 6, CONV_DIRECT = 7, CONV_DWROW = 8,
};

const char* conv_algo_name(int algo);
// Algorithms that can run this conv (ints as the conv op takes them) on ISA table k.
std::vector<int> conv_candidates(const std::vector<int64_t>& ints, const KernelTable* k);
// y[j] = bias[j] + sum_k x[k * xs] * B[k][j] for j < n, B packed by pack_b in k->nr-column panels
// (bias may be null); false, doing nothing, when this ISA has no matching kernel.
struct ConvKernels;
// The convolution kernel table matching GEMM table k (same ISA).
const ConvKernels* conv_kernels_of(const KernelTable* k);
bool gemv_packed(const KernelTable* k, int64_t K, const float* x, int64_t xs, const float* panels,
                 int64_t n, const float* bias, float* y);
// The 1x1-conv GEMM (conv.cpp gemm_pointwise): C[mc x nc] = act(A * B + bias) with A packed by
// pack_a in k->mr-row panels, B read in place (row stride ldb); pb: kKC x k->nr floats of scratch.
void conv_gemm_pointwise(const KernelTable* k, int64_t mc, int64_t nc, int64_t K, const float* pa,
                         const float* b, int64_t ldb, float* c, int64_t ldc, const float* bias, int act,
                         const float* params, float* pb);
// Ops over channel-blocked tensors (blocked.cpp): pw_blocked, dw_blocked, reorder, chan_binary,
// gap_blocked, pw_planar, stem_blocked; null otherwise.
std::unique_ptr<Op> make_blocked_op(const std::string& kind, const std::vector<int64_t>& ints,
                                    const std::vector<float>& floats, const std::vector<Weight>& weights,
                                    const KernelTable* k, int threads);
std::unique_ptr<Op> make_conv_op(const std::vector<int64_t>& ints, const std::vector<float>& floats,
                                 const std::vector<Weight>& weights, const KernelTable* k, int threads);

}  // namespace mnncpu
