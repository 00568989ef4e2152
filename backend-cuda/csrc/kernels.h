// Host-side entry points of the kernels (one launch each) and their parameter blocks. Plain C++: the
// pybind11 module includes it without CUDA headers. Pointers are device pointers.
#pragma once

#include <cstdint>

namespace mnn_cuda {

enum UnaryCode {
  kIdentity = 0, kRelu = 1, kClip = 2, kLeakyRelu = 3, kHardSigmoid = 4, kHardSwish = 5, kSigmoid = 6,
  kSiLU = 7, kTanh = 8, kErf = 20, kExp = 21, kSqrt = 22, kNeg = 23, kAbs = 24, kReciprocal = 25,
  kGelu = 26, kLog = 27, kFloor = 28, kCeil = 29, kElu = 30, kSoftplus = 31
};
enum BinaryCode { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMax = 4, kMin = 5, kPow = 6, kPRelu = 7 };
enum ReduceKind { kSum = 0, kMean = 1, kReduceMax = 2, kReduceMin = 3 };

constexpr int kMaxDims = 6;

// An index space of `rank` dims walked in row-major order, with element strides into two tensors
// (0 along broadcast dims): binary ops read a and b; copies read a and write b.
struct Strided {
  int rank;
  int64_t shape[kMaxDims];
  int64_t a[kMaxDims];
  int64_t b[kMaxDims];
};

struct ConvGeom {
  int N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, group;
};

struct PoolGeom {
  int NC, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, PEH, PEW, is_max, count_include_pad;
};

// C[z] = act(alpha * A[z] @ B[z] + bias); A[z] starts at A + offsets[2z], B[z] at B + offsets[2z+1],
// C[z] at C + z*M*N. bias_kind: 0 none, 1 per column (N), 2 per row (M), 3 full (M x N).
struct GemmArgs {
  int M, N, K;
  int64_t a_rs, a_cs, b_rs, b_cs;
  int bias_kind, act;
  float alpha, p0, p1;
};

void unary(const float* x, float* y, int64_t n, int code, float p0, float p1);
void binary(const float* a, const float* b, float* y, int64_t n, const Strided& s, int op);
void copy(const void* x, void* y, int elsize, int64_t n, const Strided& s, int64_t in_off, int64_t out_off);
void conv2d(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g, int act,
            float p0, float p1);
void gemm(const float* a, const float* b, const float* bias, float* c, const int64_t* offsets, int batch,
          const GemmArgs& g);
void pool2d(const float* x, float* y, const PoolGeom& g);
void reduce(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, int kind);
void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, int log);
void layernorm(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
               float eps);
void resize2d(const float* x, float* y, int64_t planes, int H, int W, int OH, int OW, const int* iy,
              const float* wy, const int* ix, const float* wx);

}  // namespace mnn_cuda
