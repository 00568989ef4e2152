#include "isa.h"

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace mnncpu {
namespace {

#ifdef MNN_ARM64
constexpr const char* kIsaNames = "neon, baseline";
#else
constexpr const char* kIsaNames = "avx512, avx2, baseline";
#endif

std::mutex g_mutex;
std::string g_cap;

int rank_of(const std::string& isa) {
#ifdef MNN_ARM64
  if (isa == "neon") return 1;  // x86 names are unknown here, so a cap of "avx2" fails loudly
#else
  if (isa == "avx512") return 2;
  if (isa == "avx2") return 1;
#endif
  if (isa == "baseline") return 0;
  return -1;
}

const KernelTable* table_of(const std::string& isa) {
#ifdef MNN_X86
  if (isa == "avx512") return avx512_table();
  if (isa == "avx2") return avx2_table();
#endif
#ifdef MNN_ARM64
  if (isa == "neon") return neon_table();
#endif
  return baseline_table();
}

}  // namespace

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
#ifdef MNN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    out.push_back("avx512");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back("avx2");
#endif
#ifdef MNN_ARM64
  out.push_back("neon");  // Advanced SIMD is mandatory in ARMv8-A
#endif
  out.push_back("baseline");
  return out;
}

void set_isa_cap(const std::string& cap) {
  if (!cap.empty() && rank_of(cap) < 0) throw std::invalid_argument("unknown ISA '" + cap + "'");
  std::lock_guard<std::mutex> lock(g_mutex);
  g_cap = cap;
}

std::string isa_cap() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_cap.empty()) return g_cap;
  const char* env = std::getenv("MNN_CPU_ISA");
  return env ? std::string(env) : std::string();
}

const KernelTable* select_isa(const std::string& requested) {
  const auto isas = supported_isas();
  if (!requested.empty()) {
    if (rank_of(requested) < 0) throw std::invalid_argument("unknown ISA '" + requested + "'");
    for (const auto& isa : isas)
      if (isa == requested) return table_of(isa);
    throw std::invalid_argument("ISA '" + requested + "' is not supported by this CPU");
  }
  const std::string cap = isa_cap();
  if (!cap.empty() && rank_of(cap) < 0)
    throw std::invalid_argument("MNN_CPU_ISA='" + cap + "' is not one of " + kIsaNames);
  for (const auto& isa : isas)
    if (cap.empty() || rank_of(isa) <= rank_of(cap)) return table_of(isa);
  return baseline_table();
}

}  // namespace mnncpu
