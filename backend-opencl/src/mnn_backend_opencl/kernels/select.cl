// Ordering, scattering and detection: TopK, ScatterND, Range, RoiAlign, NonMaxSuppression.

// TopK along the middle axis of an (outer, n, inner) view. Each element finds its own rank (how
// many elements come before it: better value, or equal value at a lower index, as ONNX orders ties)
// and writes itself there when the rank is below k. global: outer * n * inner.
#define PLAIN_LD(p, i) ((p)[i])
#define PLAIN_ST(p, i, v) ((p)[i] = (v))
#define TOPK(suffix, type, vtype, load, store)                                              \
  kernel void topk_##suffix(global const type* x, int x_o, global type* values, int values_o, \
                            global long* ind, int ind_o, int outer, int n, int inner, int k, int largest) { \
    int g = get_global_id(0);                                                               \
    if (g >= outer * n * inner) return;                                                     \
    int q = g % inner, i = (g / inner) % n, o = g / (inner * n);                            \
    int base = x_o + o * n * inner + q;                                                     \
    vtype v = load(x, base + i * inner);                                                    \
    int rank = 0;                                                                           \
    for (int j = 0; j < n && rank < k; ++j) {                                               \
      vtype u = load(x, base + j * inner);                                                  \
      rank += largest ? (u > v || (u == v && j < i)) : (u < v || (u == v && j < i));        \
    }                                                                                       \
    if (rank >= k) return;                                                                  \
    int out = (o * k + rank) * inner + q;                                                   \
    store(values, values_o + out, v);                                                       \
    ind[ind_o + out] = i;                                                                   \
  }
TOPK(f, store_t, float, LD, ST)
TOPK(i32, int, int, PLAIN_LD, PLAIN_ST)
TOPK(i64, long, long, PLAIN_LD, PLAIN_ST)

// ScatterND into y (already a copy of the data). One work-item per element of a slice walks the
// updates in order, so repeated indices apply in sequence like the reference.
// meta: updates, k, slice, dims[k], strides[k]. reduction: 0 none 1 add 2 mul 3 max 4 min.
kernel void scatter_nd(global const long* idx, int idx_o, TIN(upd), TOUT(y), META, int reduction) {
  SETUP_META;
  int count = meta[0], k = meta[1], slice = meta[2], e = get_global_id(0);
  if (e >= slice) return;
  for (int u = 0; u < count; ++u) {
    long off = 0;
    for (int d = 0; d < k; ++d) {
      long t = idx[idx_o + u * k + d];
      off += (t < 0 ? t + meta[3 + d] : t) * meta[3 + k + d];
    }
    int at = y_o + (int)off + e;
    float v = LD(upd, upd_o + u * slice + e), cur = LD(y, at);
    v = reduction == 1 ? cur + v : reduction == 2 ? cur * v : reduction == 3 ? fmax(cur, v) : reduction == 4 ? fmin(cur, v) : v;
    ST(y, at, v);
  }
}

// Range with the length known from the output type: y[i] = start + i * delta.
kernel void range_f(TIN(start), TIN(delta), TOUT(y), int n) {
  int i = get_global_id(0);
  if (i < n) ST(y, y_o + i, LD(start, start_o) + (float)i * LD(delta, delta_o));
}
#define RANGE_INT(suffix, type)                                                             \
  kernel void range_##suffix(global const type* start, int start_o, global const type* delta, int delta_o, \
                             global type* y, int y_o, int n) {                              \
    int i = get_global_id(0);                                                               \
    if (i < n) y[y_o + i] = start[start_o] + (type)i * delta[delta_o];                      \
  }
RANGE_INT(i32, int)
RANGE_INT(i64, long)

// RoiAlign: each output bin averages (or maxes) a gh x gw grid of bilinear samples.
// meta: C H W OH OW sampling_ratio half_pixel is_max; global: (OH*OW, C, R).
inline void roi_taps(float v, int size, int* lo, int* hi, float* w0, float* w1) {
  float valid = (v >= -1.0f && v <= (float)size) ? 1.0f : 0.0f;
  float c = fmax(v, 0.0f);
  int l = (int)floor(c);
  if (l >= size - 1) { l = size - 1; *hi = l; c = (float)l; } else *hi = l + 1;
  *lo = l;
  *w0 = (1.0f - (c - (float)l)) * valid;
  *w1 = (c - (float)l) * valid;
}
kernel void roi_align(TIN(x), TIN(rois), global const long* bidx, int bidx_o, TOUT(y), META, float scale) {
  SETUP_META;
  int C = meta[0], H = meta[1], W = meta[2], OH = meta[3], OW = meta[4], ratio = meta[5];
  int half_pixel = meta[6], is_max = meta[7];
  int s = get_global_id(0), c = get_global_id(1), r = get_global_id(2);
  if (s >= OH * OW) return;
  int ph = s / OW, pw = s % OW;
  float off = half_pixel ? 0.5f : 0.0f;
  float x0 = LD(rois, rois_o + 4 * r) * scale - off, y0 = LD(rois, rois_o + 4 * r + 1) * scale - off;
  float rw = LD(rois, rois_o + 4 * r + 2) * scale - off - x0, rh = LD(rois, rois_o + 4 * r + 3) * scale - off - y0;
  if (!half_pixel) { rw = fmax(rw, 1.0f); rh = fmax(rh, 1.0f); }
  int gh = ratio > 0 ? ratio : (int)ceil(rh / OH), gw = ratio > 0 ? ratio : (int)ceil(rw / OW);
  float acc = is_max ? -INFINITY : 0.0f;
  int xb = x_o + ((int)bidx[bidx_o + r] * C + c) * H * W;
  for (int iy = 0; iy < gh; ++iy) {
    int ylo, yhi; float wy0, wy1;
    roi_taps(y0 + (ph + (iy + 0.5f) / gh) * (rh / OH), H, &ylo, &yhi, &wy0, &wy1);
    for (int ix = 0; ix < gw; ++ix) {
      int xlo, xhi; float wx0, wx1;
      roi_taps(x0 + (pw + (ix + 0.5f) / gw) * (rw / OW), W, &xlo, &xhi, &wx0, &wx1);
      float v00 = wy0 * wx0 * LD(x, xb + ylo * W + xlo), v01 = wy0 * wx1 * LD(x, xb + ylo * W + xhi);
      float v10 = wy1 * wx0 * LD(x, xb + yhi * W + xlo), v11 = wy1 * wx1 * LD(x, xb + yhi * W + xhi);
      acc = is_max ? fmax(acc, fmax(fmax(v00, v01), fmax(v10, v11))) : acc + v00 + v01 + v10 + v11;
    }
  }
  if (gh <= 0 || gw <= 0) acc = 0.0f;
  else if (!is_max) acc /= (float)(gh * gw);
  ST(y, y_o + ((r * C + c) * OH + ph) * OW + pw, acc);
}

// NonMaxSuppression, greedy and sequential (one work-item): per (batch, class) take the best
// unvisited box (ties: lower index), keep it unless its IoU with a kept box exceeds the threshold.
// The output has the row count of its declared type; rows past the selection stay zero.
// meta: N B C rows center has_limit has_iou has_floor; state: B ints of scratch.
inline float4 nms_box(global const store_t* boxes, int at, int center) {  // (y1, x1, y2, x2)
  float a = LD(boxes, at), b = LD(boxes, at + 1), c = LD(boxes, at + 2), d = LD(boxes, at + 3);
  if (center) return (float4)(b - d / 2.0f, a - c / 2.0f, b + d / 2.0f, a + c / 2.0f);
  return (float4)(fmin(a, c), fmin(b, d), fmax(a, c), fmax(b, d));
}
kernel void nms(TIN(boxes), TIN(scores), global const long* limit, int limit_o, TIN(iou), TIN(floor_),
                global long* y, int y_o, global int* state, int state_o, META) {
  SETUP_META;
  if (get_global_id(0) != 0) return;
  int N = meta[0], B = meta[1], C = meta[2], rows = meta[3], center = meta[4];
  long max_keep = meta[5] ? limit[limit_o] : 0;
  float iou_max = meta[6] ? LD(iou, iou_o) : 0.0f;
  int has_floor = meta[7];
  float floor_v = has_floor ? LD(floor_, floor__o) : 0.0f;
  for (int i = 0; i < rows * 3; ++i) y[y_o + i] = 0;
  int count = 0;
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      int sb = scores_o + (n * C + c) * B, first = count;
      for (int b = 0; b < B; ++b) state[state_o + b] = 0;
      while (count - first < max_keep) {
        if (count >= rows) return;  // the declared output is full
        int best = -1;
        for (int b = 0; b < B; ++b) {
          float s = LD(scores, sb + b);
          if (!state[state_o + b] && (!has_floor || s > floor_v) && (best < 0 || s > LD(scores, sb + best))) best = b;
        }
        if (best < 0) break;
        state[state_o + best] = 1;
        float4 p = nms_box(boxes, boxes_o + (n * B + best) * 4, center);
        float area = (p.s2 - p.s0) * (p.s3 - p.s1);
        int keep = 1;
        for (int j = first; j < count && keep; ++j) {
          int k = (int)y[y_o + 3 * j + 2];
          float4 q = nms_box(boxes, boxes_o + (n * B + k) * 4, center);
          float ih = fmax(fmin(p.s2, q.s2) - fmax(p.s0, q.s0), 0.0f), iw = fmax(fmin(p.s3, q.s3) - fmax(p.s1, q.s1), 0.0f);
          float inter = ih * iw, uni = area + (q.s2 - q.s0) * (q.s3 - q.s1) - inter;
          keep = !((uni > 0.0f ? inter / uni : 0.0f) > iou_max);
        }
        if (!keep) continue;
        if (count < rows) { y[y_o + 3 * count] = n; y[y_o + 3 * count + 1] = c; y[y_o + 3 * count + 2] = best; }
        ++count;
      }
    }
}
