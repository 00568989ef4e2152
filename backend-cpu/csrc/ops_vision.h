// Breadth ops of the vision op set ("v_*" kinds; ops_vision.cpp, lowered in lowering_vision.py).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ops.h"

namespace mnncpu {

// The op for a "v_*" kind, or null when `kind` is not one of them.
std::unique_ptr<Op> make_vision_op(const std::string& kind, const std::vector<int64_t>& ints,
                                   const std::vector<float>& floats, const std::vector<Weight>& weights);

}  // namespace mnncpu
