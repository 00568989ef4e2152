// Convolution, matrix products and pooling. Geometry comes in the int meta buffer.

// meta: N C H W M OH OW KH KW SH SW DH DW PH PW G act has_bias
// global: (OH*OW, M, N); weights [M, C/G, KH, KW]. Grouped and depthwise convs are the same loop.
kernel void conv2d(TIN(x), TIN(w), TIN(bias), TOUT(y), META, float p0, float p1) {
  SETUP_META;
  int C = meta[1], H = meta[2], W = meta[3], M = meta[4], OH = meta[5], OW = meta[6];
  int KH = meta[7], KW = meta[8], SH = meta[9], SW = meta[10], DH = meta[11], DW = meta[12];
  int PH = meta[13], PW = meta[14], G = meta[15], act = meta[16], has_bias = meta[17];
  int s = get_global_id(0), m = get_global_id(1), n = get_global_id(2);
  if (s >= OH * OW) return;
  int oh = s / OW, ow = s % OW;
  int cg = C / G, c0 = (m / (M / G)) * cg;
  float acc = has_bias ? LD(bias, bias_o + m) : 0.0f;
  int ih0 = oh * SH - PH, iw0 = ow * SW - PW;
  for (int c = 0; c < cg; ++c) {
    int xbase = x_o + ((n * C + c0 + c) * H) * W;
    int wbase = w_o + ((m * cg + c) * KH) * KW;
    for (int kh = 0; kh < KH; ++kh) {
      int ih = ih0 + kh * DH;
      if (ih < 0 || ih >= H) continue;
      for (int kw = 0; kw < KW; ++kw) {
        int iw = iw0 + kw * DW;
        if (iw < 0 || iw >= W) continue;
        acc += LD(x, xbase + ih * W + iw) * LD(w, wbase + kh * KW + kw);
      }
    }
  }
  ST(y, y_o + ((n * M + m) * OH + oh) * OW + ow, activate(acc, act, p0, p1));
}

// Transposed convolution as a gather over the inputs that reach each output.
// meta as conv2d (H W = input, OH OW = output); weights [C, M/G, KH, KW].
kernel void conv_transpose2d(TIN(x), TIN(w), TIN(bias), TOUT(y), META, float p0, float p1) {
  SETUP_META;
  int C = meta[1], H = meta[2], W = meta[3], M = meta[4], OH = meta[5], OW = meta[6];
  int KH = meta[7], KW = meta[8], SH = meta[9], SW = meta[10], DH = meta[11], DW = meta[12];
  int PH = meta[13], PW = meta[14], G = meta[15], act = meta[16], has_bias = meta[17];
  int s = get_global_id(0), m = get_global_id(1), n = get_global_id(2);
  if (s >= OH * OW) return;
  int oh = s / OW, ow = s % OW;
  int mg = M / G, cg = C / G, g = m / mg, mm = m % mg;
  float acc = has_bias ? LD(bias, bias_o + m) : 0.0f;
  for (int kh = 0; kh < KH; ++kh) {
    int th = oh + PH - kh * DH;
    if (th < 0 || th % SH) continue;
    int ih = th / SH;
    if (ih >= H) continue;
    for (int kw = 0; kw < KW; ++kw) {
      int tw = ow + PW - kw * DW;
      if (tw < 0 || tw % SW) continue;
      int iw = tw / SW;
      if (iw >= W) continue;
      for (int c = g * cg; c < (g + 1) * cg; ++c)
        acc += LD(x, x_o + ((n * C + c) * H + ih) * W + iw) * LD(w, w_o + ((c * mg + mm) * KH + kh) * KW + kw);
    }
  }
  ST(y, y_o + ((n * M + m) * OH + oh) * OW + ow, activate(acc, act, p0, p1));
}

// y[b] = act(alpha * A[b] @ B[b] + beta * C) with element strides for transposes and broadcast C.
// meta: M N K a_rs a_cs b_rs b_cs c_rs c_cs act has_c, then (a_off, b_off, c_off) per batch.
// global: (N, M, batch). Each work-item computes 4 adjacent columns to reuse the A row.
kernel void matmul(TIN(a), TIN(b), TIN(c), TOUT(y), META, float alpha, float beta, float p0, float p1) {
  SETUP_META;
  int M = meta[0], N = meta[1], K = meta[2];
  int a_rs = meta[3], a_cs = meta[4], b_rs = meta[5], b_cs = meta[6], c_rs = meta[7], c_cs = meta[8];
  int act = meta[9], has_c = meta[10];
  int j0 = get_global_id(0) * 4, i = get_global_id(1), bt = get_global_id(2);
  if (j0 >= N) return;
  int ao = a_o + meta[11 + 3 * bt] + i * a_rs, bo = b_o + meta[12 + 3 * bt], co = c_o + meta[13 + 3 * bt];
  int cols = min(4, N - j0);
  float4 acc = (float4)(0.0f);
  if (cols == 4) {
    for (int k = 0; k < K; ++k) {
      float av = LD(a, ao + k * a_cs);
      int br = bo + k * b_rs + j0 * b_cs;
      acc += av * (float4)(LD(b, br), LD(b, br + b_cs), LD(b, br + 2 * b_cs), LD(b, br + 3 * b_cs));
    }
  } else {
    for (int k = 0; k < K; ++k) {
      float av = LD(a, ao + k * a_cs);
      int br = bo + k * b_rs + j0 * b_cs;
      acc.s0 += av * LD(b, br);
      if (cols > 1) acc.s1 += av * LD(b, br + b_cs);
      if (cols > 2) acc.s2 += av * LD(b, br + 2 * b_cs);
    }
  }
  float r[4] = {acc.s0, acc.s1, acc.s2, acc.s3};
  int yo = y_o + (bt * M + i) * N + j0;
  for (int q = 0; q < cols; ++q) {
    float v = alpha * r[q];
    if (has_c) v += beta * LD(c, co + i * c_rs + (j0 + q) * c_cs);
    ST(y, yo + q, activate(v, act, p0, p1));
  }
}

// N-D pooling over up to 3 spatial dims (missing dims have size 1).
// meta: NC, I[3], O[3], K[3], S[3], D[3], pad begins[3], pad ends[3], is_max, count_include_pad,
// has_indices, storage_order. MaxPool's optional indices are flat positions in x (column-major over
// the spatial dims when storage_order is 1). global: (prod(O), NC)
kernel void pool(TIN(x), TOUT(y), global long* ind, int ind_o, META) {
  SETUP_META;
  int s = get_global_id(0), nc = get_global_id(1);
  int I0 = meta[1], I1 = meta[2], I2 = meta[3], O0 = meta[4], O1 = meta[5], O2 = meta[6];
  if (s >= O0 * O1 * O2) return;
  int o2 = s % O2, o1 = (s / O2) % O1, o0 = s / (O1 * O2);
  int is_max = meta[22], include_pad = meta[23], has_ind = meta[24], col_major = meta[25];
  int PB0 = meta[16], PB1 = meta[17], PB2 = meta[18], PE0 = meta[19], PE1 = meta[20], PE2 = meta[21];
  float acc = is_max ? -INFINITY : 0.0f;
  int count = 0, padded = 0, best = -1;
  int xb = x_o + nc * I0 * I1 * I2;
  for (int k0 = 0; k0 < meta[7]; ++k0) {
    int i0 = o0 * meta[10] - PB0 + k0 * meta[13];
    if (i0 < -PB0 || i0 >= I0 + PE0) continue;
    for (int k1 = 0; k1 < meta[8]; ++k1) {
      int i1 = o1 * meta[11] - PB1 + k1 * meta[14];
      if (i1 < -PB1 || i1 >= I1 + PE1) continue;
      for (int k2 = 0; k2 < meta[9]; ++k2) {
        int i2 = o2 * meta[12] - PB2 + k2 * meta[15];
        if (i2 < -PB2 || i2 >= I2 + PE2) continue;
        ++padded;  // inside the padded extent: counts for count_include_pad
        if (i0 < 0 || i0 >= I0 || i1 < 0 || i1 >= I1 || i2 < 0 || i2 >= I2) continue;
        float v = LD(x, xb + (i0 * I1 + i1) * I2 + i2);
        if (is_max) {
          if (v > acc || best < 0) {  // the first maximum wins, as argmax does
            acc = fmax(acc, v);
            best = col_major ? (i2 * I1 + i1) * I0 + i0 : (i0 * I1 + i1) * I2 + i2;
          }
        } else {
          acc += v;
        }
        ++count;
      }
    }
  }
  if (!is_max) acc /= (float)(include_pad ? padded : count);
  ST(y, y_o + nc * O0 * O1 * O2 + s, acc);
  if (has_ind) ind[ind_o + nc * O0 * O1 * O2 + s] = (long)nc * I0 * I1 * I2 + max(best, 0);
}

// 3-D convolution and its transpose (plain loops: volumetric models are rare on this backend).
// meta: N C D H W M OD OH OW KD KH KW SD SH SW DD DH DW PD PH PW G act has_bias
// global: (OD*OH*OW, M, N). Weights [M, C/G, KD, KH, KW] (transpose: [C, M/G, KD, KH, KW]).
kernel void conv3d(TIN(x), TIN(w), TIN(bias), TOUT(y), META, float p0, float p1, int transpose) {
  SETUP_META;
  int C = meta[1], D = meta[2], H = meta[3], W = meta[4], M = meta[5], OD = meta[6], OH = meta[7], OW = meta[8];
  int K[3] = {meta[9], meta[10], meta[11]}, S[3] = {meta[12], meta[13], meta[14]};
  int Dl[3] = {meta[15], meta[16], meta[17]}, P[3] = {meta[18], meta[19], meta[20]}, I[3] = {D, H, W};
  int G = meta[21], act = meta[22], has_bias = meta[23];
  int s = get_global_id(0), m = get_global_id(1), n = get_global_id(2);
  if (s >= OD * OH * OW) return;
  int o[3] = {s / (OH * OW), (s / OW) % OH, s % OW};
  int mg = M / G, cg = C / G, g = m / mg;
  float acc = has_bias ? LD(bias, bias_o + m) : 0.0f;
  for (int k0 = 0; k0 < K[0]; ++k0)
    for (int k1 = 0; k1 < K[1]; ++k1)
      for (int k2 = 0; k2 < K[2]; ++k2) {
        int kk[3] = {k0, k1, k2}, at[3], ok = 1;
        for (int a = 0; a < 3; ++a) {
          if (transpose) {  // the input position whose stride lands on this output
            int t = o[a] + P[a] - kk[a] * Dl[a];
            ok &= t >= 0 && t % S[a] == 0 && t / S[a] < I[a];
            at[a] = t / S[a];
          } else {
            at[a] = o[a] * S[a] - P[a] + kk[a] * Dl[a];
            ok &= at[a] >= 0 && at[a] < I[a];
          }
        }
        if (!ok) continue;
        int sp = (at[0] * H + at[1]) * W + at[2], kp = (k0 * K[1] + k1) * K[2] + k2, KV = K[0] * K[1] * K[2];
        for (int c = 0; c < cg; ++c) {
          int ci = g * cg + c;
          float wv = transpose ? LD(w, w_o + (ci * mg + m % mg) * KV + kp) : LD(w, w_o + (m * cg + c) * KV + kp);
          acc += LD(x, x_o + (n * C + ci) * D * H * W + sp) * wv;
        }
      }
  ST(y, y_o + (n * M + m) * OD * OH * OW + s, activate(acc, act, p0, p1));
}
