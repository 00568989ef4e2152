// Ops kept out of ops.cpp (typed elementwise, attention) and the shared packed-weight cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ops.h"

namespace mnncpu {

// Creates the op for `kind` when it is one of the extra kinds ("typed", "attention"), else null.
std::unique_ptr<Op> make_extra_op(const std::string& kind, const std::vector<int64_t>& ints,
                                  const std::vector<float>& floats, const KernelTable* k, int threads);
std::unique_ptr<Op> make_typed_op(const std::vector<int64_t>& ints);
std::unique_ptr<Op> make_attention_op(const std::vector<int64_t>& ints, const std::vector<float>& floats,
                                      const KernelTable* k, int threads);

// Packed weights shared between plans: an op asking with the same non-zero `token` (chosen by
// Python, unique per weight and layout, never reused) gets the buffer another live op already
// filled, so re-planning for new input shapes does not re-pack. Token 0 never shares.
std::shared_ptr<float> shared_packed(int64_t token, int64_t floats, const std::function<void(float*)>& fill);
// Number of buffers packed so far (tests: a second plan with the same tokens packs nothing).
int64_t packed_count();
// Whether the CPU has AVX512_BF16 (precision="low" GEMM in bf16 needs it).
bool cpu_has_avx512_bf16();

}  // namespace mnncpu
