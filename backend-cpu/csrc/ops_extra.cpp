#include "ops_extra.h"

#include <map>
#include <mutex>

namespace mnncpu {

std::unique_ptr<Op> make_extra_op(const std::string& kind, const std::vector<int64_t>& ints,
                                  const std::vector<float>& floats, const KernelTable* k, int threads) {
  if (kind == "typed") return make_typed_op(ints);
  if (kind == "attention") return make_attention_op(ints, floats, k, threads);
  return nullptr;
}

namespace {
std::mutex g_pack_mutex;
std::map<int64_t, std::weak_ptr<float>> g_packed;  // expired entries are pruned on insertion
std::atomic<int64_t> g_packed_count{0};
}  // namespace

std::shared_ptr<float> shared_packed(int64_t token, int64_t floats, const std::function<void(float*)>& fill) {
  auto make = [&] {
    float* p = static_cast<float*>(aligned_malloc(floats * sizeof(float) + 64));
    fill(p);
    g_packed_count.fetch_add(1);
    return std::shared_ptr<float>(p, [](float* q) { aligned_free(q); });
  };
  if (token == 0) return make();
  std::lock_guard<std::mutex> lock(g_pack_mutex);
  auto it = g_packed.find(token);
  if (it != g_packed.end())
    if (auto alive = it->second.lock()) return alive;
  for (auto e = g_packed.begin(); e != g_packed.end();) e = e->second.expired() ? g_packed.erase(e) : ++e;
  auto fresh = make();
  g_packed[token] = fresh;
  return fresh;
}

int64_t packed_count() { return g_packed_count.load(); }

}  // namespace mnncpu

namespace mnncpu {

bool cpu_has_avx512_bf16() {
#ifdef MNN_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace mnncpu
