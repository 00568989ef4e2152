// ISA-specific convolution kernels (depthwise over flattened planes, Winograd tile transforms).
// Compiled once per ISA from kernels/portable/conv_impl.h; `lanes` equals that ISA's GEMM NR, since
// Winograd tiles fill the NR-column panels the GEMM micro-kernel reads.
#pragma once
#include <cstdint>

namespace mnncpu {

// A depthwise plane's geometry: the zero-padded input is stored as SH x SW phase planes, each
// Hq x Wq plus a spare row, `phase` floats apart; tap t reads offs[t] floats from an output's flat
// index oh * Wq + ow; outputs are computed `rows` rows at a time.
struct DwGeom {
  int64_t H, W, OH, OW, SH, SW, PT, PL, Hq, Wq, phase, rows;
  int taps;
  const int64_t* offs;
};

// Depthwise over `vec` channels at once, held channel-interleaved ([row][col][vec]) in scratch:
// every tap is one vector multiply-add of `vec` outputs for any map size or stride, so small maps
// (7x7, 14x14) and stride 2 pay no per-plane or per-phase overhead.
struct DwBlockGeom {
  int64_t H, W, OH, OW, SH, SW, PT, PL, Wp;  // Wp: padded columns the outputs read
  int taps;
  const int64_t* offs;  // tap t reads offs[t] floats past the output's first tap (interleaved units)
  int64_t reach;        // padded rows one output row reads: (KH - 1) * DH + 1
  int64_t band_rows;    // local padded rows of the largest band (scratch sizing)
};

// Direct convolution of few input channels (network stems), one output row at a time: the KH input
// rows of every channel are copied zero-padded and split into SW column phases (SW <= 2), row r of
// phase b at rows + (r * SW + b) * Wh, so tap t is the contiguous run at offs[t] for any stride.
struct DirectGeom {
  int64_t C, H, W, KH, SH, SW, DH, PT, PL, OW, Wh;
  int taps;
  const int64_t* offs;
};

// Planar depthwise of one channel, for large maps: the band's zero-padded input rows are stored
// once, each split into SW column phases of Wh floats (phase b holds padded columns b, b + SW, ...),
// so output column ow of tap t reads stored index ow + offs[t] past its row's first stored row:
// every tap is a contiguous vector of outputs along the row, with no transposes.
struct DwRowGeom {
  int64_t H, W, OH, OW, SH, SW, PT, PL;
  int64_t Wh;     // floats per phase of a stored row
  int64_t reach;  // padded rows one output row reads: (KH - 1) * DH + 1
  int taps;
  const int64_t* offs;
};

// Channel-blocked tensors: channel c of pixel p of an image at ((c / 8) * P + p) * 8 + c % 8, pad
// lanes of a last partial block hold finite values (0 from reorders and from convs, whose packed
// weights and biases are zero there), so a consumer multiplying them by zero weights stays exact.
constexpr int kBlock = 8;

// A depthwise conv over one channel block ([H][W][8] -> [OH][OW][8]).
struct BlockedDwGeom {
  int64_t H, W, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL;
};

struct ConvKernels {
  int lanes;
  int vec;  // floats per native vector
  // out[i] = bias + sum_t w[t] * src[i + offs[t]] for i < round_up(n, vec) (taps 9 and 25 are
  // unrolled): callers leave room for the extra outputs and reads.
  void (*dw_flat)(const float* src, int64_t n, const int64_t* offs, int taps, const float* w,
                  float bias, float* out);
  // c[r][j] = act(c[r][j] + bias[r]) in one pass, for the activations codes 0-5 (the piecewise
  // linear ones); false (nothing done) for others, which the caller handles.
  bool (*bias_act)(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, int act,
                   const float* params);
  // One depthwise plane x -> y, bias and activation codes 0-5 fused (false: y holds act's input,
  // the caller applies act). planes: phase planes (+32 floats); flat: rows * Wq (+32) floats.
  bool (*dw_plane)(const DwGeom& g, const float* x, const float* w, float bias, int act,
                   const float* params, float* planes, float* flat, float* y);
  // Output rows [oh0, oh1) of `nch` <= vec channels (plane i at x + i * plane, y + i * oplane).
  // w: taps x vec interleaved weights, bias: vec; act codes 0-5 fused (false: the caller applies
  // act to those rows). scratch: band_rows * Wp * vec + ((oh1 - oh0) * OW + vec) * vec floats.
  bool (*dw_block)(const DwBlockGeom& g, const float* x, int64_t plane, int nch, const float* w,
                   const float* bias, int act, const float* params, int64_t oh0, int64_t oh1,
                   float* scratch, float* y, int64_t oplane);
  // Input transform of `lanes` tiles of one channel: d[alpha][alpha][lanes] (gathered patches) to
  // v[pos * vstride + lane] = (B^T d B)[pos] for pos < alpha^2. bt: alpha x alpha, row-major.
  void (*wino_in)(int alpha, const float* d, const float* bt, float* v, int64_t vstride);
  // Output transform of `lanes` tiles of one channel: y[pos * ystride + lane] to
  // o[i][j][lane] = (A^T Y A)[i][j] + bias for i, j < m. at: m x alpha, row-major.
  void (*wino_out)(int alpha, int m, const float* y, int64_t ystride, const float* at, float bias,
                   float* o);
  // Patches of `valid` tiles of plane x (H x W) into d[alpha][alpha][lanes]; lane l's top-left
  // corner is (corner[2l], corner[2l+1]), negative inside the padding.
  void (*wino_gather)(int alpha, const float* x, int64_t H, int64_t W, const int64_t* corner,
                      int64_t valid, float* d);
  // o[i][j][lane] to the m x m outputs of `valid` tiles of plane y (H x W), clipped at its edges;
  // corner as for wino_gather, in output coordinates.
  void (*wino_scatter)(int m, const float* o, const int64_t* corner, int64_t valid, float* y,
                       int64_t H, int64_t W);
  // Matrix-vector product over `lanes`-wide column panels (pack_b layout, K x lanes each):
  // y[j] = bias[j] + sum_k x[k * xs] * panels[(j / lanes) * K * lanes + k * lanes + j % lanes] for
  // j < n (bias may be null). A GEMM with one row would pad it to MR rows; this reads each weight once.
  void (*gemv)(int64_t K, const float* x, int64_t xs, const float* panels, int64_t n,
               const float* bias, float* y);
  // Output row oh of all M channels (y: row oh of channel 0, channels ystride apart) from plane set
  // x. w: [ceil(M / 4)][taps][4] zero-padded; bias: M. rows: scratch of C * KH * SW * Wh + SW * Wh
  // floats. Activation codes 0-5 fused (false: the caller applies act to the row).
  bool (*direct_row)(const DirectGeom& g, const float* x, int64_t oh, const float* w,
                     const float* bias, int64_t M, int act, const float* params, float* rows,
                     float* y, int64_t ystride);
  int mr;  // rows of micro_conv: the ISA's GEMM MR, so it reads the same packed A panels
  // The GEMM micro-kernel with a convolution's epilogue, over packed panels (a: kc x mr, b: kc x
  // lanes): rows r < rows of C (row stride ldc) become first ? bias[r] + A*B : C + A*B, then act
  // when last. The bias seeds the accumulators and the activation runs in registers, so 1x1 convs
  // with few input channels need no second pass over C. False (nothing done) for act codes > 5.
  bool (*micro_conv)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int rows,
                     bool first, bool last, const float* bias, int act, const float* params);
  // One plane of max pooling with unit dilations and SW <= 2 (pads beyond the input read as -inf;
  // a window with no input element gives 0, as pool2d). Per output row: the max over the window's
  // input rows, then over its columns (stride 2 through even/odd phases), all in whole vectors.
  // buf: maxpool_scratch_floats(OW, KW, SW).
  void (*maxpool)(const float* x, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW, int64_t KH,
                  int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL, float* buf);
  // Output rows [oh0, oh1) of one depthwise plane x -> y (both whole planes), weights w (taps),
  // act codes 0-5 fused (false: the caller applies act to those rows).
  // scratch: dw_rows_scratch_floats(g, oh1 - oh0).
  bool (*dw_rows)(const DwRowGeom& g, const float* x, const float* w, float bias, int act,
                  const float* params, int64_t oh0, int64_t oh1, float* scratch, float* y);
  // Blocked 1x1 conv: y[ob][p] = act(bias[ob] + sum_k w[ob][k] * x[k / 8][p][k % 8]) (+ res[ob][p],
  // a residual added after the activation; res may be null) for pixels [p0, p1), output blocks
  // [ob0, ob1); x: Kb blocks xs floats apart, y and res: blocks ys floats apart; w: [Mb][Kb * 8][8],
  // bias: [Mb][8]. Act codes 0-5.
  void (*pw_blocked)(const float* x, int64_t xs, int64_t Kb, const float* w, const float* bias, float* y,
                     int64_t ys, const float* res, int64_t p0, int64_t p1, int64_t ob0, int64_t ob1, int act,
                     const float* params);
  // Blocked depthwise conv, output rows [oh0, oh1) of one channel block; w: [KH * KW][8], bias: [8].
  void (*dw_blocked)(const BlockedDwGeom& g, const float* x, const float* w, const float* bias, float* y,
                     int64_t oh0, int64_t oh1, int act, const float* params);
  // Output row oh of a direct conv (DirectGeom, few input channels) into channel blocks: y is row oh
  // of block 0, blocks ystride floats apart; w: [Mb][taps][8], bias: [Mb][8]; act codes 0-5; rows:
  // scratch as direct_row's.
  void (*stem_blocked)(const DirectGeom& g, const float* x, int64_t oh, const float* w, const float* bias,
                       int64_t Mb, int act, const float* params, float* rows, float* y, int64_t ystride);
  // n pixels of C planar channels (x: channels xs floats apart) into channel blocks (y: blocks ys
  // floats apart; pad lanes written as 0), and back (from_blocked: x blocks, y channels).
  void (*to_blocked)(const float* x, int64_t xs, int64_t C, int64_t n, float* y, int64_t ys);
  void (*from_blocked)(const float* x, int64_t xs, int64_t C, int64_t n, float* y, int64_t ys);
};

inline int64_t dw_rows_scratch_floats(const DwRowGeom& g, int64_t rows) {
  return ((rows - 1) * g.SH + g.reach) * g.SW * g.Wh + 64;
}

inline int64_t maxpool_scratch_floats(int64_t OW, int64_t KW, int64_t SW) {
  return 3 * ((OW - 1) * SW + KW + 64) + 64;
}

const ConvKernels* conv_kernels_baseline();
#ifdef MNN_X86
const ConvKernels* conv_kernels_avx2();
const ConvKernels* conv_kernels_avx512();
#endif
#ifdef MNN_ARM64
const ConvKernels* conv_kernels_neon();
#endif

}  // namespace mnncpu
