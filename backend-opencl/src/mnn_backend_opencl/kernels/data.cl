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

// Linear interpolation along one axis of an (outer, in, inner) view: each output position j
// blends taps (lo[j], hi[j]) with weight w[j] (per-axis tables built at plan time).
kernel void interp_axis(TIN(x), TOUT(y), global const int* taps, int taps_o, global const float* wts, int wts_o,
                        int outer, int n_in, int n_out, int inner) {
  int g = get_global_id(0);
  if (g >= outer * n_out * inner) return;
  int k = g % inner, j = (g / inner) % n_out, o = g / (inner * n_out);
  int base = x_o + o * n_in * inner + k;
  int lo = taps[taps_o + 2 * j], hi = taps[taps_o + 2 * j + 1];
  float w = wts[wts_o + j];
  ST(y, y_o + g, LD(x, base + lo * inner) * (1.0f - w) + LD(x, base + hi * inner) * w);
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
