// Shared definitions. Every tensor argument is a (pointer, element offset) pair; f32 tensors are
// stored as `store_t`: float, or half (vload_half/vstore_half, no cl_khr_fp16 needed) in low precision.
#ifdef MNN_HALF
typedef half store_t;
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half((v), (i), (p))
#else
typedef float store_t;
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#endif
#define TIN(name) global const store_t* name, int name##_o
#define TOUT(name) global store_t* name, int name##_o
#define META global const int* meta, int meta_o
#define SETUP_META meta += meta_o

// Fused activations; codes follow mnn_core.ops.fused.FUSABLE (see lowering.ACT_CODES).
inline float activate(float v, int act, float p0, float p1) {
  switch (act) {
    case 1: return fmax(v, 0.0f);
    case 2: return fmin(fmax(v, p0), p1);
    case 3: return v < 0.0f ? v * p0 : v;
    case 4: return fmax(0.0f, fmin(1.0f, p0 * v + p1));
    case 5: return v * fmax(0.0f, fmin(1.0f, v / 6.0f + 0.5f));
    case 6: return 1.0f / (1.0f + exp(-v));
    case 7: return v / (1.0f + exp(-v));
    case 8: return tanh(v);
    default: return v;
  }
}

// Offsets of up to three operands for flat output index i under broadcasting.
// meta: rank, shape[rank], strides0[rank], strides1[rank], strides2[rank]
inline void bcast(global const int* meta, int i, int* o0, int* o1, int* o2) {
  int r = meta[0], a = 0, b = 0, c = 0;
  for (int d = r - 1; d >= 0; --d) {
    int s = meta[1 + d], q = i % s;
    i /= s;
    a += q * meta[1 + r + d];
    b += q * meta[1 + 2 * r + d];
    c += q * meta[1 + 3 * r + d];
  }
  *o0 = a; *o1 = b; *o2 = c;
}
