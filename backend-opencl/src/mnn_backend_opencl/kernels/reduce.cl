// Reductions over the middle axis of an (outer, n, inner) view; softmax and normalisations.

// kind: 0 sum 1 mean 2 max 3 min 4 prod 5 l1 6 l2 7 log_sum 8 log_sum_exp 9 sum_square
kernel void reduce(TIN(x), TOUT(y), int outer, int n, int inner, int kind) {
  int g = get_global_id(0);
  if (g >= outer * inner) return;
  int o = g / inner, k = g % inner, base = x_o + o * n * inner + k;
  float acc = kind == 2 ? -INFINITY : kind == 3 ? INFINITY : kind == 4 ? 1.0f : 0.0f;
  float top = -INFINITY;
  if (kind == 8) {
    for (int j = 0; j < n; ++j) top = fmax(top, LD(x, base + j * inner));
    if (isinf(top)) top = 0.0f;
  }
  for (int j = 0; j < n; ++j) {
    float v = LD(x, base + j * inner);
    switch (kind) {
      case 2: acc = fmax(acc, v); break;
      case 3: acc = fmin(acc, v); break;
      case 4: acc *= v; break;
      case 5: acc += fabs(v); break;
      case 6: case 9: acc += v * v; break;
      case 8: acc += exp(v - top); break;
      default: acc += v;
    }
  }
  if (kind == 1) acc /= (float)n;
  if (kind == 6) acc = sqrt(acc);
  if (kind == 7) acc = log(acc);
  if (kind == 8) acc = log(acc) + top;
  ST(y, y_o + g, acc);
}

// ArgMax / ArgMin into int64; ties go to the first index unless select_last.
kernel void arg_reduce(TIN(x), global long* y, int y_o, int outer, int n, int inner, int is_min, int select_last) {
  int g = get_global_id(0);
  if (g >= outer * inner) return;
  int o = g / inner, k = g % inner, base = x_o + o * n * inner + k;
  float best = LD(x, base);
  int at = 0;
  for (int j = 1; j < n; ++j) {
    float v = LD(x, base + j * inner);
    bool better = is_min ? (v < best || (select_last && v == best)) : (v > best || (select_last && v == best));
    if (better) { best = v; at = j; }
  }
  y[y_o + g] = at;
}

kernel void softmax(TIN(x), TOUT(y), int outer, int n, int inner, int log_softmax) {
  int g = get_global_id(0);
  if (g >= outer * inner) return;
  int o = g / inner, k = g % inner, base = o * n * inner + k;
  float top = -INFINITY, sum = 0.0f;
  for (int j = 0; j < n; ++j) top = fmax(top, LD(x, x_o + base + j * inner));
  for (int j = 0; j < n; ++j) sum += exp(LD(x, x_o + base + j * inner) - top);
  float lse = log(sum);
  for (int j = 0; j < n; ++j) {
    float v = LD(x, x_o + base + j * inner) - top;
    ST(y, y_o + base + j * inner, log_softmax ? v - lse : exp(v) / sum);
  }
}

// Normalise each row of n elements: (x - mean) / sqrt(var + eps) * scale + bias, with the
// scale/bias element of (row, i) at (row % R) * Q + i / S: LayerNorm (R=1,Q=0,S=1),
// InstanceNorm (R=C,Q=1,S=n), GroupNorm (R=G,Q=C/G,S=spatial). rms=1 skips the mean.
// flags: 1 has scale, 2 has bias, 4 writes mean, 8 writes inv_std, 16 rms.
kernel void norm_rows(TIN(x), TIN(scale), TIN(bias), TOUT(y), TOUT(mean_out), TOUT(istd_out),
                      int rows, int n, int R, int Q, int S, float eps, int flags) {
  int row = get_global_id(0);
  if (row >= rows) return;
  int base = row * n;
  float mean = 0.0f, var = 0.0f;
  if (!(flags & 16)) {
    for (int i = 0; i < n; ++i) mean += LD(x, x_o + base + i);
    mean /= (float)n;
  }
  for (int i = 0; i < n; ++i) {
    float d = LD(x, x_o + base + i) - mean;
    var += d * d;
  }
  float istd = 1.0f / sqrt(var / (float)n + eps);
  int sb = (row % R) * Q;
  for (int i = 0; i < n; ++i) {
    float v = (LD(x, x_o + base + i) - mean) * istd;
    int si = sb + i / S;
    if (flags & 1) v *= LD(scale, scale_o + si);
    if (flags & 2) v += LD(bias, bias_o + si);
    ST(y, y_o + base + i, v);
  }
  if (flags & 4) ST(mean_out, mean_out_o + row, mean);
  if (flags & 8) ST(istd_out, istd_out_o + row, istd);
}

// Inference BatchNormalization over (N, C, inner).
kernel void batch_norm(TIN(x), TIN(scale), TIN(bias), TIN(mean), TIN(var), TOUT(y), int total, int C, int inner, float eps) {
  int i = get_global_id(0);
  if (i >= total) return;
  int c = (i / inner) % C;
  float s = LD(scale, scale_o + c) / sqrt(LD(var, var_o + c) + eps);
  ST(y, y_o + i, (LD(x, x_o + i) - LD(mean, mean_o + c)) * s + LD(bias, bias_o + c));
}

// LRN across channels of (N, C, inner).
kernel void lrn(TIN(x), TOUT(y), int total, int C, int inner, int size, float alpha, float beta, float bias) {
  int i = get_global_id(0);
  if (i >= total) return;
  int c = (i / inner) % C;
  int lo = max(0, c - (size - 1) / 2), hi = min(C - 1, c + size / 2);
  float sq = 0.0f;
  for (int j = lo; j <= hi; ++j) {
    float v = LD(x, x_o + i + (j - c) * inner);
    sq += v * v;
  }
  ST(y, y_o + i, LD(x, x_o + i) / pow(bias + alpha / size * sq, beta));
}

// Attention: softmax(softcap(Q K^T * scale) + bias) V for one query row per work-item, with
// grouped KV heads, an optional bool/float mask (broadcast; keys past a short mask are masked),
// causal and sliding-window limits. Rows with every key masked give zeros, like the reference.
// meta: B Hq Hkv S L D Dv, strides (b, h, s) of q k v y, mask strides (b, h, s, l), mask_len,
// causal, left, right. global: (S, Hq, B). Dv <= 256.
#define ATTENTION(suffix, mtype, MASK_BIAS)                                                   \
  kernel void attention_##suffix(TIN(q), TIN(k), TIN(v), global const mtype* mask, int mask_o, TOUT(y), \
                                 META, float scale, float softcap) {                          \
    SETUP_META;                                                                               \
    int s = get_global_id(0), h = get_global_id(1), b = get_global_id(2);                     \
    int Hq = meta[1], Hkv = meta[2], S = meta[3], L = meta[4], D = meta[5], Dv = meta[6];       \
    if (s >= S) return;                                                                       \
    int hk = h / (Hq / Hkv);                                                                  \
    int qb = q_o + b * meta[7] + h * meta[8] + s * meta[9];                                   \
    int kb = k_o + b * meta[10] + hk * meta[11], ks = meta[12];                               \
    int vb = v_o + b * meta[13] + hk * meta[14], vs = meta[15];                               \
    int yb = y_o + b * meta[16] + h * meta[17] + s * meta[18];                                \
    int mb = mask_o + b * meta[19] + h * meta[20] + s * meta[21], ml = meta[22], mlen = meta[23]; \
    int causal = meta[24], left = meta[25], right = meta[26];                                 \
    float top = -INFINITY;                                                                    \
    for (int pass = 0; pass < 2; ++pass) {                                                    \
      float acc[256], total = 0.0f;                                                           \
      for (int d = 0; d < Dv; ++d) acc[d] = 0.0f;                                             \
      for (int j = 0; j < L; ++j) {                                                           \
        int diff = s - j;                                                                     \
        if ((causal && diff < 0) || (left >= 0 && diff > left) || (right >= 0 && -diff > right) || j >= mlen) continue; \
        float bias = MASK_BIAS;                                                               \
        if (bias == -INFINITY) continue;                                                      \
        float dot = 0.0f;                                                                     \
        for (int d = 0; d < D; ++d) dot += LD(q, qb + d) * LD(k, kb + j * ks + d);            \
        dot *= scale;                                                                         \
        if (softcap > 0.0f) dot = softcap * tanh(dot / softcap);                              \
        float logit = dot + bias;                                                             \
        if (pass == 0) { top = fmax(top, logit); continue; }                                  \
        float e = exp(logit - top);                                                           \
        total += e;                                                                           \
        for (int d = 0; d < Dv; ++d) acc[d] += e * LD(v, vb + j * vs + d);                    \
      }                                                                                       \
      if (pass == 1)                                                                          \
        for (int d = 0; d < Dv; ++d) ST(y, yb + d, total > 0.0f ? acc[d] / total : 0.0f);     \
    }                                                                                         \
  }
ATTENTION(none, uchar, 0.0f)
ATTENTION(bool, uchar, (mask[mb + j * ml] ? 0.0f : -INFINITY))
ATTENTION(float, store_t, LD(mask, mb + j * ml))
