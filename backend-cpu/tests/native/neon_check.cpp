// Standalone check of the ISA kernels against naive loops, without Python: the GEMM micro-kernel,
// a few ConvKernels entries (micro_conv, dw_flat, gemv, bias_act) and the packed GEMM driver
// (csrc/gemm.cpp) on odd sizes, and the run-time ISA choice (csrc/isa.cpp). Built for AArch64 and
// run under qemu-aarch64 it checks the NEON table (and the aarch64 baseline); built natively on
// x86 it checks avx512 and avx2 (those the CPU has) and baseline. tests/test_neon_emulated.py
// builds and runs it; by hand, from backend-cpu/:
//
//   AArch64: for f in tests/native/neon_check.cpp csrc/gemm.cpp csrc/isa.cpp
//                     csrc/kernels/portable/*_baseline.cpp csrc/kernels/arm/*.cpp; do
//              aarch64-linux-gnu-g++ -std=c++17 -O2 -DMNN_ARM64=1 -Icsrc -c $f -o /tmp/nc/$(basename $f).o
//            done; aarch64-linux-gnu-g++ -static /tmp/nc/*.o -o /tmp/nc/neon_check
//            qemu-aarch64 /tmp/nc/neon_check
//   x86-64:  the same with g++ and -DMNN_X86=1, over csrc/kernels/x86/*.cpp instead of
//            csrc/kernels/arm/*.cpp, with CMakeLists.txt's flags for the *_avx2.cpp and *_avx512.cpp
//            files (isa.cpp refers to both tables).
//
// Prints one line per table and "ALL OK" at the end; exits 1 if anything mismatched.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm.h"
#include "isa.h"
#include "kernels/conv_kernels.h"
#include "kernels/kernels.h"

using namespace mnncpu;

namespace {

// Deterministic values in [-1, 1) (no <random>: identical on every libstdc++).
struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  float next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<float>((s >> 40) & 0xffffff) / 8388608.f - 1.f;
  }
  void fill(std::vector<float>& v) {
    for (auto& x : v) x = next();
  }
};

int g_failures = 0;
std::string g_where;

// |got - want| within a bound scaled by the magnitude of the terms summed (float rounding of a
// k-term dot product, FMA or not, in any order) and of the result (rounding in the activation).
bool close(double got, double want, double mag, int64_t terms) {
  const double tol = 2e-7 * static_cast<double>(terms + 2) * (mag + std::fabs(want) + 1e-3);
  return std::fabs(got - want) <= tol || (std::isnan(got) && std::isnan(want));
}

void fail(const char* what, const std::string& detail) {
  if (g_failures < 20) std::printf("  FAIL %s %s: %s\n", g_where.c_str(), what, detail.c_str());
  ++g_failures;
}

std::string fmt(const char* f, double a, double b, int64_t i, int64_t j) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, static_cast<long long>(i), static_cast<long long>(j));
  return buf;
}

// The piecewise-linear activations 0-5 as conv_kernels.h defines them.
double act_ref(double v, int act, const float* p) {
  switch (act) {
    case 1: return v > 0 ? v : 0;
    case 2: v = v < p[0] ? p[0] : v; return v > p[1] ? p[1] : v;
    case 3: return v >= 0 ? v : v * p[0];
    case 4: { double h = v * p[0] + p[1]; h = h < 0 ? 0 : h; return h > 1 ? 1 : h; }
    case 5: { double h = v / 6 + 0.5; h = h < 0 ? 0 : h; return v * (h > 1 ? 1 : h); }
    default: return v;
  }
}
const float kParams[6][2] = {{0, 0}, {0, 0}, {-0.4f, 0.7f}, {0.1f, 0}, {0.3f, 0.45f}, {0, 0}};

// C[MR x NR] (+)= A*B over packed panels, every kc in 1..37, with a guard column past NR.
void check_micro(const KernelTable* k, Rng& rng) {
  const int MR = k->mr, NR = k->nr;
  const int64_t ldc = NR + 3;
  for (int64_t kc = 1; kc <= 37; ++kc)
    for (int acc = 0; acc < 2; ++acc) {
      std::vector<float> a(kc * MR), b(kc * NR), c(MR * ldc);
      rng.fill(a), rng.fill(b), rng.fill(c);
      const std::vector<float> c0 = c;
      k->micro(kc, a.data(), b.data(), c.data(), ldc, acc != 0);
      for (int i = 0; i < MR; ++i) {
        for (int j = 0; j < NR; ++j) {
          double s = acc ? c0[i * ldc + j] : 0, mag = std::fabs(s);
          for (int64_t q = 0; q < kc; ++q) {
            s += static_cast<double>(a[q * MR + i]) * b[q * NR + j];
            mag += std::fabs(static_cast<double>(a[q * MR + i]) * b[q * NR + j]);
          }
          if (!close(c[i * ldc + j], s, mag, kc))
            fail("micro", fmt("got %g want %g at (%lld, %lld)", c[i * ldc + j], s, i, j) +
                              " kc=" + std::to_string(kc) + " acc=" + std::to_string(acc));
        }
        for (int64_t j = NR; j < ldc; ++j)
          if (c[i * ldc + j] != c0[i * ldc + j]) fail("micro", "wrote past NR");
      }
    }
}

// micro_conv: rows < MR partial, first (bias seeds) / accumulate, last (activation), codes 0-5;
// rows >= `rows` and columns past lanes stay untouched; code 6 is refused.
void check_micro_conv(const ConvKernels* ck, Rng& rng) {
  const int MR = ck->mr, L = ck->lanes;
  const int64_t ldc = L + 5;
  for (int64_t kc = 1; kc <= 37; kc += (kc < 9 ? 1 : 4))
    for (int rows = 1; rows <= MR; ++rows)
      for (int first = 0; first < 2; ++first)
        for (int last = 0; last < 2; ++last)
          for (int act = 0; act <= 5; ++act) {
            std::vector<float> a(kc * MR), b(kc * L), c(MR * ldc), bias(MR);
            rng.fill(a), rng.fill(b), rng.fill(c), rng.fill(bias);
            const std::vector<float> c0 = c;
            if (!ck->micro_conv(kc, a.data(), b.data(), c.data(), ldc, rows, first, last, bias.data(),
                                act, kParams[act])) {
              fail("micro_conv", "refused act " + std::to_string(act));
              continue;
            }
            for (int i = 0; i < MR; ++i)
              for (int64_t j = 0; j < ldc; ++j) {
                const float got = c[i * ldc + j];
                if (i >= rows || j >= L) {
                  if (got != c0[i * ldc + j])
                    fail("micro_conv", fmt("wrote %g (was %g) at (%lld, %lld)", got, c0[i * ldc + j], i, j));
                  continue;
                }
                double s = first ? bias[i] : c0[i * ldc + j], mag = std::fabs(s);
                for (int64_t q = 0; q < kc; ++q) {
                  s += static_cast<double>(a[q * MR + i]) * b[q * L + j];
                  mag += std::fabs(static_cast<double>(a[q * MR + i]) * b[q * L + j]);
                }
                if (last) s = act_ref(s, act, kParams[act]);
                if (!close(got, s, mag, kc))
                  fail("micro_conv", fmt("got %g want %g at (%lld, %lld)", got, s, i, j) + " kc=" +
                                         std::to_string(kc) + " rows=" + std::to_string(rows) +
                                         " first=" + std::to_string(first) + " last=" +
                                         std::to_string(last) + " act=" + std::to_string(act));
              }
          }
  std::vector<float> a(MR), b(L), c(MR * ldc), bias(MR);
  if (ck->micro_conv(1, a.data(), b.data(), c.data(), ldc, MR, true, true, bias.data(), 6, kParams[0]))
    fail("micro_conv", "accepted act 6");
}

// dw_flat: unrolled tap counts (9, 25, 4) and the generic loop (7), n not a multiple of vec.
void check_dw_flat(const ConvKernels* ck, Rng& rng) {
  for (int taps : {9, 25, 4, 7, 1})
    for (int64_t n : {1, 3, 5, 17, 38, 101}) {
      std::vector<int64_t> offs(taps);
      int64_t reach = 0;
      for (int t = 0; t < taps; ++t) offs[t] = (t * 7 + (t % 3)) % 29 + t, reach = std::max(reach, offs[t]);
      const int64_t npad = round_up(n, ck->vec);
      std::vector<float> src(npad + reach + 16), w(taps), out(npad + 8);
      rng.fill(src), rng.fill(w);
      const float bias = rng.next();
      const float guard = 12345.f;
      for (auto& o : out) o = guard;
      ck->dw_flat(src.data(), n, offs.data(), taps, w.data(), bias, out.data());
      for (int64_t i = 0; i < n; ++i) {
        double s = bias, mag = std::fabs(bias);
        for (int t = 0; t < taps; ++t) {
          s += static_cast<double>(w[t]) * src[i + offs[t]];
          mag += std::fabs(static_cast<double>(w[t]) * src[i + offs[t]]);
        }
        if (!close(out[i], s, mag, taps))
          fail("dw_flat", fmt("got %g want %g at %lld (taps %lld)", out[i], s, i, taps));
      }
      for (int64_t i = npad; i < static_cast<int64_t>(out.size()); ++i)
        if (out[i] != guard) fail("dw_flat", "wrote past round_up(n, vec)");
    }
}

// gemv over pack_b panels of `lanes` columns: odd K and n, strided x, with and without bias.
void check_gemv(const ConvKernels* ck, Rng& rng) {
  const int L = ck->lanes;
  for (int64_t K : {1, 2, 5, 16, 37})
    for (int64_t n : {int64_t(1), int64_t(L - 1), int64_t(L), int64_t(L + 3), int64_t(2 * L + 5)})
      for (int64_t xs : {1, 3})
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
          std::vector<float> w(K * n), x(K * xs), bias(n), y(n + 4);
          rng.fill(w), rng.fill(x), rng.fill(bias);
          std::vector<float> panels(round_up(n, L) * K);
          pack_b(w.data(), n, 1, K, n, L, panels.data());
          for (auto& v : y) v = -777.f;
          ck->gemv(K, x.data(), xs, panels.data(), n, with_bias ? bias.data() : nullptr, y.data());
          for (int64_t j = 0; j < n; ++j) {
            double s = with_bias ? bias[j] : 0, mag = std::fabs(s);
            for (int64_t q = 0; q < K; ++q) {
              s += static_cast<double>(x[q * xs]) * w[q * n + j];
              mag += std::fabs(static_cast<double>(x[q * xs]) * w[q * n + j]);
            }
            if (!close(y[j], s, mag, K)) fail("gemv", fmt("got %g want %g at %lld (K %lld)", y[j], s, j, K));
          }
          for (int64_t j = n; j < n + 4; ++j)
            if (y[j] != -777.f) fail("gemv", "wrote past n");
        }
}

// bias_act: c = act(c + bias[r]) over a rows x cols block with row stride ldc > cols.
void check_bias_act(const ConvKernels* ck, Rng& rng) {
  for (int64_t rows : {1, 3, 7})
    for (int64_t cols : {1, 3, 4, 9, 31})
      for (int act = 0; act <= 6; ++act) {
        const int64_t ldc = cols + 3;
        std::vector<float> c(rows * ldc), bias(rows);
        rng.fill(c), rng.fill(bias);
        const std::vector<float> c0 = c;
        const float* prm = kParams[act < 6 ? act : 0];
        const bool done = ck->bias_act(c.data(), rows, cols, ldc, bias.data(), act, prm);
        if (done != (act <= 5)) fail("bias_act", "wrong return for act " + std::to_string(act));
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < ldc; ++j) {
            const float got = c[r * ldc + j];
            if (!done || j >= cols) {
              if (got != c0[r * ldc + j])
                fail("bias_act", fmt("wrote %g (was %g) at (%lld, %lld)", got, c0[r * ldc + j], r, j));
              continue;
            }
            const double want = act_ref(static_cast<double>(c0[r * ldc + j]) + bias[r], act, prm);
            if (!close(got, want, std::fabs(c0[r * ldc + j]) + std::fabs(bias[r]), 1))
              fail("bias_act",
                   fmt("got %g want %g at (%lld, %lld)", got, want, r, j) + " act=" + std::to_string(act));
          }
      }
}

// pack_a / pack_b / gemm_packed end to end on odd M, N, K (K > kKC exercises the accumulate
// pass), A row-major or transposed (cs != 1), B row-major or transposed.
void check_gemm(const KernelTable* k, Rng& rng) {
  for (int64_t M : {1, 5, 13, 33})
    for (int64_t N : {1, 7, 25, 40})
      for (int64_t K : {int64_t(1), int64_t(6), int64_t(37), kKC + 45})
        for (int trans = 0; trans < 2; ++trans) {
          std::vector<float> a(M * K), b(K * N);
          rng.fill(a), rng.fill(b);
          // element (i, q) of A at a[i*ars + q*acs]; element (q, j) of B at b[q*brs + j*bcs]
          const int64_t ars = trans ? 1 : K, acs = trans ? M : 1;
          const int64_t brs = trans ? 1 : N, bcs = trans ? K : 1;
          std::vector<float> pa(round_up(M, k->mr) * K), pb(round_up(N, k->nr) * K);
          pack_a(a.data(), ars, acs, M, K, k->mr, pa.data());
          pack_b(b.data(), brs, bcs, K, N, k->nr, pb.data());
          const int64_t ldc = N + 2;
          std::vector<float> c(M * ldc, 999.f);
          gemm_packed(k, M, N, K, pa.data(), pb.data(), c.data(), ldc);
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < N; ++j) {
              double s = 0, mag = 0;
              for (int64_t q = 0; q < K; ++q) {
                const double t = static_cast<double>(a[i * ars + q * acs]) * b[q * brs + j * bcs];
                s += t, mag += std::fabs(t);
              }
              if (!close(c[i * ldc + j], s, mag, K))
                fail("gemm", fmt("got %g want %g at (%lld, %lld)", c[i * ldc + j], s, i, j) + " M=" +
                                 std::to_string(M) + " N=" + std::to_string(N) + " K=" +
                                 std::to_string(K) + " trans=" + std::to_string(trans));
            }
            for (int64_t j = N; j < ldc; ++j)
              if (c[i * ldc + j] != 999.f) fail("gemm", "wrote past N");
          }
        }
}

bool check_table(const KernelTable* k, const ConvKernels* ck) {
  g_failures = 0;
  g_where = k->isa;
  Rng rng;
  const auto str = [](int v) { return std::to_string(v); };
  if (ck->lanes != k->nr) fail("table", "conv lanes " + str(ck->lanes) + " != GEMM NR " + str(k->nr));
  if (ck->mr != k->mr) fail("table", "micro_conv MR " + str(ck->mr) + " != GEMM MR " + str(k->mr));
  if (ck->lanes % ck->vec != 0) fail("table", "lanes not a multiple of vec");
  if (k->mr * k->nr > 8 * 64) fail("table", "MR x NR exceeds the GEMM driver's edge buffer");
  check_micro(k, rng);
  check_micro_conv(ck, rng);
  check_dw_flat(ck, rng);
  check_gemv(ck, rng);
  check_bias_act(ck, rng);
  check_gemm(k, rng);
  std::printf("%-8s mr=%d nr=%d lanes=%d vec=%d: %s (%d mismatches)\n", k->isa, k->mr, k->nr,
              ck->lanes, ck->vec, g_failures ? "FAIL" : "ok", g_failures);
  return g_failures == 0;
}

// isa.cpp: what the build offers, the default pick, caps by API and by MNN_CPU_ISA, and names of
// the other architecture refused.
bool check_isa() {
  g_failures = 0;
  g_where = "isa";
#if defined(MNN_ARM64)
  const std::vector<std::string> want = {"neon", "baseline"};
  const std::string best = "neon", foreign = "avx2";
#else
  const std::vector<std::string> want = supported_isas();
  const std::string best = want.front(), foreign = "neon";
#endif
  if (supported_isas() != want || supported_isas().back() != "baseline")
    fail("supported_isas", "unexpected list");
  auto pick = [](const std::string& req) { return std::string(select_isa(req)->isa); };
  unsetenv("MNN_CPU_ISA");
  set_isa_cap("");
  if (pick("") != best) fail("select_isa", "default is " + pick(""));
  if (pick("baseline") != "baseline") fail("select_isa", "baseline not selectable");
  set_isa_cap("baseline");
  if (pick("") != "baseline") fail("set_isa_cap", "cap baseline gave " + pick(""));
  set_isa_cap(best);
  if (pick("") != best) fail("set_isa_cap", "cap " + best + " gave " + pick(""));
  set_isa_cap("");
  setenv("MNN_CPU_ISA", "baseline", 1);
  if (pick("") != "baseline") fail("MNN_CPU_ISA", "baseline gave " + pick(""));
  setenv("MNN_CPU_ISA", best.c_str(), 1);
  if (pick("") != best) fail("MNN_CPU_ISA", best + " gave " + pick(""));
  setenv("MNN_CPU_ISA", foreign.c_str(), 1);
  try {
    pick("");
    fail("MNN_CPU_ISA", foreign + " accepted");
  } catch (const std::invalid_argument&) {
  }
  unsetenv("MNN_CPU_ISA");
  try {
    pick(foreign);
    fail("select_isa", foreign + " accepted");
  } catch (const std::invalid_argument&) {
  }
  try {
    set_isa_cap(foreign);
    fail("set_isa_cap", foreign + " accepted");
  } catch (const std::invalid_argument&) {
  }
  std::printf("%-8s best=%s, caps and MNN_CPU_ISA honoured, %s refused: %s\n", "isa", best.c_str(),
              foreign.c_str(), g_failures ? "FAIL" : "ok");
  return g_failures == 0;
}

}  // namespace

int main() {
  bool ok = true;
#if defined(MNN_ARM64)
  ok &= check_table(neon_table(), conv_kernels_neon());
  if (std::strcmp(neon_table()->isa, "neon") != 0) ok = false, std::printf("neon table misnamed\n");
#elif defined(MNN_X86)
  __builtin_cpu_init();
  const auto isas = supported_isas();
  if (isas.front() == "avx512") ok &= check_table(avx512_table(), conv_kernels_avx512());
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    ok &= check_table(avx2_table(), conv_kernels_avx2());
  else
    std::printf("avx2     skipped: CPU lacks AVX2/FMA\n");
#endif
  ok &= check_table(baseline_table(), conv_kernels_baseline());
  ok &= check_isa();
  std::printf(ok ? "ALL OK\n" : "FAILED\n");
  return ok ? 0 : 1;
}
