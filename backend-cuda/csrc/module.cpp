// pybind11 module over the kernels: device memory, copies and one function per kernel launch. Built
// twice from this file: `_cuda` (nvcc-compiled kernels, CUDA runtime) and `_emulated` (the same kernel
// sources compiled as C++ against emulation/cuda_host.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#if defined(MNN_CUDA_EMULATED)
#include "emulation/cuda_host.h"
#else
#include <cuda_runtime_api.h>
#endif
#include "kernels.h"

namespace py = pybind11;
using namespace mnn_cuda;

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

// After a launch: a bad configuration shows up here, a fault in the kernel at the next synchronize.
void launched(const char* kernel) { check(cudaGetLastError(), kernel); }

template <typename T>
T* ptr(uintptr_t p) { return reinterpret_cast<T*>(p); }

Strided strided(const std::vector<int64_t>& shape, const std::vector<int64_t>& a,
                const std::vector<int64_t>& b) {
  if (shape.size() > kMaxDims || a.size() != shape.size() || b.size() != shape.size())
    throw std::invalid_argument("strided: bad rank");
  Strided s{};
  s.rank = int(shape.size());
  for (int d = 0; d < s.rank; ++d) {
    s.shape[d] = shape[d];
    s.a[d] = a[d];
    s.b[d] = b[d];
  }
  return s;
}

template <typename G>
G geometry(const std::vector<int>& v) {
  constexpr size_t fields = sizeof(G) / sizeof(int);
  if (v.size() != fields) throw std::invalid_argument("geometry: expected " + std::to_string(fields) + " ints");
  G g;
  std::memcpy(&g, v.data(), sizeof(G));
  return g;
}

py::tuple device_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  return py::make_tuple(status == cudaSuccess ? count : 0,
                        status == cudaSuccess ? std::string() : std::string(cudaGetErrorString(status)));
}

py::dict device_properties(int device) {
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  py::dict d;
  d["name"] = std::string(prop.name);
  d["total_memory"] = prop.totalGlobalMem;
  d["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  d["multiprocessors"] = prop.multiProcessorCount;
  return d;
}

uintptr_t malloc_(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return reinterpret_cast<uintptr_t>(p);
}

void upload(uintptr_t dst, py::array src) {
  if (!(src.flags() & py::array::c_style)) throw std::invalid_argument("upload needs a C-contiguous array");
  check(cudaMemcpy(ptr<void>(dst), src.data(), src.nbytes(), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}

void download(py::array dst, uintptr_t src) {
  if (!(dst.flags() & py::array::c_style) || !dst.writeable())
    throw std::invalid_argument("download needs a writable C-contiguous array");
  check(cudaMemcpy(dst.mutable_data(), ptr<void>(src), dst.nbytes(), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}

}  // namespace

PYBIND11_MODULE(MNN_MODULE_NAME, m) {
  m.doc() = "mnn CUDA kernels and device memory";
#if defined(MNN_CUDA_EMULATED)
  m.attr("emulated") = true;
#else
  m.attr("emulated") = false;
#endif
  m.def("device_count", &device_count, "(count, error string of cudaGetDeviceCount or '')");
  m.def("device_properties", &device_properties);
  m.def("set_device", [](int d) { check(cudaSetDevice(d), "cudaSetDevice"); });
  m.def("malloc", &malloc_);
  m.def("free", [](uintptr_t p) { check(cudaFree(ptr<void>(p)), "cudaFree"); });
  m.def("upload", &upload);
  m.def("download", &download);
  m.def("memcpy_dtod", [](uintptr_t dst, uintptr_t src, size_t n) {
    check(cudaMemcpy(ptr<void>(dst), ptr<void>(src), n, cudaMemcpyDeviceToDevice), "cudaMemcpy D2D");
  });
  m.def("synchronize", [] { check(cudaDeviceSynchronize(), "kernel execution"); });

  m.def("unary", [](uintptr_t x, uintptr_t y, int64_t n, int code, float p0, float p1) {
    unary(ptr<float>(x), ptr<float>(y), n, code, p0, p1);
    launched("unary");
  });
  m.def("binary", [](uintptr_t a, uintptr_t b, uintptr_t y, int64_t n, std::vector<int64_t> shape,
                     std::vector<int64_t> sa, std::vector<int64_t> sb, int op) {
    binary(ptr<float>(a), ptr<float>(b), ptr<float>(y), n, strided(shape, sa, sb), op);
    launched("binary");
  });
  m.def("copy", [](uintptr_t x, uintptr_t y, int elsize, int64_t n, std::vector<int64_t> shape,
                   std::vector<int64_t> in_strides, int64_t in_off, std::vector<int64_t> out_strides,
                   int64_t out_off) {
    copy(ptr<void>(x), ptr<void>(y), elsize, n, strided(shape, in_strides, out_strides), in_off, out_off);
    launched("copy");
  });
  m.def("conv2d", [](uintptr_t x, uintptr_t w, uintptr_t bias, uintptr_t y, std::vector<int> geom, int act,
                     float p0, float p1) {
    conv2d(ptr<float>(x), ptr<float>(w), ptr<float>(bias), ptr<float>(y), geometry<ConvGeom>(geom), act, p0,
           p1);
    launched("conv2d");
  });
  m.def("gemm", [](uintptr_t a, uintptr_t b, uintptr_t bias, uintptr_t c, uintptr_t offsets, int batch,
                   int M, int N, int K, std::vector<int64_t> strides, int bias_kind, int act, float alpha,
                   float p0, float p1) {
    if (strides.size() != 4) throw std::invalid_argument("gemm: 4 strides");
    if (batch < 1 || batch > 65535) throw std::invalid_argument("gemm: batch must be 1..65535");
    const GemmArgs g{M, N, K, strides[0], strides[1], strides[2], strides[3], bias_kind, act, alpha, p0, p1};
    gemm(ptr<float>(a), ptr<float>(b), ptr<float>(bias), ptr<float>(c), ptr<int64_t>(offsets), batch, g);
    launched("gemm");
  });
  m.def("pool2d", [](uintptr_t x, uintptr_t y, std::vector<int> geom) {
    pool2d(ptr<float>(x), ptr<float>(y), geometry<PoolGeom>(geom));
    launched("pool2d");
  });
  m.def("reduce", [](uintptr_t x, uintptr_t y, int64_t outer, int64_t n, int64_t inner, int kind) {
    reduce(ptr<float>(x), ptr<float>(y), outer, n, inner, kind);
    launched("reduce");
  });
  m.def("softmax", [](uintptr_t x, uintptr_t y, int64_t outer, int64_t n, int64_t inner, int log) {
    softmax(ptr<float>(x), ptr<float>(y), outer, n, inner, log);
    launched("softmax");
  });
  m.def("layernorm", [](uintptr_t x, uintptr_t scale, uintptr_t bias, uintptr_t y, int64_t rows, int64_t n,
                        float eps) {
    layernorm(ptr<float>(x), ptr<float>(scale), ptr<float>(bias), ptr<float>(y), rows, n, eps);
    launched("layernorm");
  });
  m.def("resize2d", [](uintptr_t x, uintptr_t y, int64_t planes, int H, int W, int OH, int OW, uintptr_t iy,
                       uintptr_t wy, uintptr_t ix, uintptr_t wx) {
    resize2d(ptr<float>(x), ptr<float>(y), planes, H, W, OH, OW, ptr<int>(iy), ptr<float>(wy), ptr<int>(ix),
             ptr<float>(wx));
    launched("resize2d");
  });
}
