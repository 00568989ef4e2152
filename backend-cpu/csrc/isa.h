// Run-time ISA selection: the best kernel table the CPU supports, capped by MNN_CPU_ISA or an API call.
#pragma once
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace mnncpu {

std::vector<std::string> supported_isas();  // best first, always ends with "baseline"
// Table for `requested` ("" = best allowed); throws std::invalid_argument if unknown/unsupported.
const KernelTable* select_isa(const std::string& requested);
void set_isa_cap(const std::string& cap);  // "" clears the API cap
std::string isa_cap();

}  // namespace mnncpu
