// Data movement. Most layout ops (Transpose, Slice, Concat, Split, Expand, Tile, Pad, DepthToSpace,
// nearest Resize, ...) become an index map computed once at plan time: y[i] = x[map[i]], with
// map[i] < 0 meaning "fill" (mode 0) or "leave as is" (mode 1, one input of a Concat).
#define GATHER_MAP(size, type)                                                              \
  kernel void gather_map_##size(global const type* x, int x_o, global type* y, int y_o,     \
                                global const int* map, int map_o, int n, long fill, int mode) { \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    int j = map[map_o + i];                                                                 \
    if (j >= 0) y[y_o + i] = x[x_o + j];                                                    \
    else if (mode == 0) y[y_o + i] = (type)fill;                                            \
  }
GATHER_MAP(1, uchar)
GATHER_MAP(2, ushort)
GATHER_MAP(4, uint)
GATHER_MAP(8, ulong)

// Gather along an axis with indices known only at run time: y[o, j, k] = x[o, idx[j], k].
#define GATHER(size, type, itype, suffix)                                                   \
  kernel void gather_##size##_##suffix(global const type* x, int x_o, global const itype* idx, int idx_o, \
                                       global type* y, int y_o, int outer, int axis, int inner, int count) { \
    int g = get_global_id(0);                                                               \
    if (g >= outer * count * inner) return;                                                 \
    int k = g % inner, j = (g / inner) % count, o = g / (inner * count);                    \
    long t = idx[idx_o + j];                                                                \
    if (t < 0) t += axis;                                                                   \
    y[y_o + g] = (t >= 0 && t < axis) ? x[x_o + (o * axis + (int)t) * inner + k] : 0;       \
  }
#define GATHER_SIZES(itype, suffix)                                                         \
  GATHER(1, uchar, itype, suffix) GATHER(2, ushort, itype, suffix)                          \
  GATHER(4, uint, itype, suffix) GATHER(8, ulong, itype, suffix)
GATHER_SIZES(int, i32)
GATHER_SIZES(long, i64)

// Separable resampling along one axis of an (outer, n_in, inner) view (linear / cubic Resize, with
// or without antialias). meta: taps indices [n_out * taps], then per output position `taps` weights
// and a bias (f32 bits): y = sum w * x + bias; extrapolated positions have zero weights, bias = fill.
kernel void resample_axis(TIN(x), TOUT(y), META, int outer, int n_in, int n_out, int inner, int taps) {
  SETUP_META;
  int g = get_global_id(0);
  if (g >= outer * n_out * inner) return;
  int k = g % inner, j = (g / inner) % n_out, o = g / (inner * n_out);
  int base = x_o + o * n_in * inner + k;
  global const int* idx = meta + j * taps;
  global const int* wts = meta + n_out * taps + j * (taps + 1);
  float acc = as_float(wts[taps]);
  for (int t = 0; t < taps; ++t) acc += as_float(wts[t]) * LD(x, base + idx[t] * inner);
  ST(y, y_o + g, acc);
}

// GridSample over 2 or 3 spatial dims (2-D runs with a unit depth axis).
// meta: N C D H W P(=prod of output spatial) nsp mode(0 nearest 1 linear 2 cubic)
//       padding(0 zeros 1 border 2 reflection) align_corners.  global: (P, N); channels looped.
inline float gs_reflect(float x, float lo, float hi) {  // fold into [lo, hi] by mirroring
  float span = hi - lo;
  if (span <= 0.0f) return lo;
  if (x >= lo && x <= hi) return x;
  int below = x < lo;
  float dist = below ? lo - x : x - hi;
  float folds = trunc(dist / span), rest = dist - folds * span;
  int even = fmod(folds, 2.0f) == 0.0f;
  return below ? (even ? lo + rest : hi - rest) : (even ? hi - rest : lo + rest);
}
inline float cubic_w(float t) {  // Keys cubic, a = -0.75 (the ONNX GridSample kernel)
  const float a = -0.75f;
  t = fabs(t);
  if (t <= 1.0f) return ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  if (t < 2.0f) return ((a * t - 5.0f * a) * t + 8.0f * a) * t - 4.0f * a;
  return 0.0f;
}
// Taps of one axis: up to 4 (index, weight) pairs; weight 0 for taps outside under zeros padding.
inline int gs_taps(float g, int size, int mode, int padding, int align, int* idx, float* w) {
  float c = align ? (g + 1.0f) / 2.0f * (float)(size - 1) : ((g + 1.0f) * (float)size - 1.0f) / 2.0f;
  float lo = align ? 0.0f : -0.5f, hi = align ? (float)(size - 1) : (float)size - 0.5f;
  if (mode == 0) c = rint(c);
  if (c < lo || c > hi) {
    if (padding == 1) c = clamp(c, 0.0f, (float)(size - 1));
    else if (padding == 2) c = gs_reflect(c, lo, hi);
  }
  int n, first;
  float base = mode == 0 ? trunc(c) : floor(c), f = c - base;
  if (mode == 0) { n = 1; first = 0; w[0] = 1.0f; }
  else if (mode == 1) { n = 2; first = 0; w[0] = 1.0f - f; w[1] = f; }
  else { n = 4; first = -1; w[0] = cubic_w(f + 1.0f); w[1] = cubic_w(f); w[2] = cubic_w(1.0f - f); w[3] = cubic_w(2.0f - f); }
  for (int t = 0; t < n; ++t) {
    int i = (int)base + first + t;
    if (padding == 0 && (i < 0 || i >= size)) w[t] = 0.0f;
    if (padding == 2) i = (int)gs_reflect((float)i, lo, hi);
    idx[t] = clamp(i, 0, size - 1);
  }
  return n;
}
kernel void grid_sample(TIN(x), TIN(grid), TOUT(y), META) {
  SETUP_META;
  int N = meta[0], C = meta[1], P = meta[5], nsp = meta[6], mode = meta[7], padding = meta[8], align = meta[9];
  int p = get_global_id(0), n = get_global_id(1);
  if (p >= P || n >= N) return;
  int size[3] = {meta[2], meta[3], meta[4]}, cnt[3], idx[3][4];
  float w[3][4];
  cnt[0] = 1; idx[0][0] = 0; w[0][0] = 1.0f;
  for (int a = 3 - nsp; a < 3; ++a)  // grid's last axis lists (x, y[, z]): reversed spatial order
    cnt[a] = gs_taps(LD(grid, grid_o + (n * P + p) * nsp + (2 - a)), size[a], mode, padding, align, idx[a], w[a]);
  int plane = size[0] * size[1] * size[2];
  for (int c = 0; c < C; ++c) {
    int xb = x_o + (n * C + c) * plane;
    float acc = 0.0f;
    for (int i0 = 0; i0 < cnt[0]; ++i0)
      for (int i1 = 0; i1 < cnt[1]; ++i1) {
        float w01 = w[0][i0] * w[1][i1];
        int row = xb + (idx[0][i0] * size[1] + idx[1][i1]) * size[2];
        for (int i2 = 0; i2 < cnt[2]; ++i2) acc += w01 * w[2][i2] * LD(x, row + idx[2][i2]);
      }
    ST(y, y_o + (n * C + c) * P + p, acc);
  }
}

// Casts between f32 storage and integer / bool tensors.
#define CAST_FROM_F(name, otype, expr)                                                      \
  kernel void name(TIN(x), global otype* y, int y_o, int n) {                               \
    int i = get_global_id(0);                                                               \
    if (i >= n) return;                                                                     \
    float v = LD(x, x_o + i);                                                               \
    y[y_o + i] = (expr);                                                                    \
  }
CAST_FROM_F(cast_f_i32, int, (int)v)
CAST_FROM_F(cast_f_i64, long, (long)v)
CAST_FROM_F(cast_f_bool, uchar, v != 0.0f)
#define CAST_TO_F(name, itype)                                                              \
  kernel void name(global const itype* x, int x_o, TOUT(y), int n) {                        \
    int i = get_global_id(0);                                                               \
    if (i < n) ST(y, y_o + i, (float)x[x_o + i]);                                           \
  }
CAST_TO_F(cast_i32_f, int)
CAST_TO_F(cast_i64_f, long)
CAST_TO_F(cast_bool_f, uchar)
