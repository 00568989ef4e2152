// pybind11 host side of the OpenCL backend: devices, buffers, programs and plans. A Plan holds every
// kernel launch of one compiled segment; `run` enqueues them all in one call and waits once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cl_api.h"

namespace py = pybind11;

namespace {

const ClApi& api() {
  std::string error;
  const ClApi* a = cl_api(&error);
  if (!a) throw std::runtime_error(error);
  return *a;
}

void check(cl_int status, const char* what) {
  if (status != CL_SUCCESS) throw std::runtime_error(std::string(what) + " failed: OpenCL error " + std::to_string(status));
}

std::string device_string(cl_device_id dev, cl_device_info what) {
  size_t n = 0;
  api().clGetDeviceInfo(dev, what, 0, nullptr, &n);
  std::string s(n, '\0');
  api().clGetDeviceInfo(dev, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::vector<std::pair<cl_platform_id, cl_device_id>> all_devices() {
  std::vector<std::pair<cl_platform_id, cl_device_id>> out;
  cl_uint np = 0;
  if (api().clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return out;
  std::vector<cl_platform_id> platforms(np);
  api().clGetPlatformIDs(np, platforms.data(), nullptr);
  for (auto p : platforms) {
    cl_uint nd = 0;
    if (api().clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> devs(nd);
    api().clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devs.data(), nullptr);
    for (auto d : devs) out.emplace_back(p, d);
  }
  return out;
}

// "" when the loader resolves, else the reason it does not.
std::string loader_error() {
  std::string error;
  return cl_api(&error) ? "" : error;
}

py::list list_devices() {
  py::list out;
  for (auto [p, d] : all_devices()) {
    size_t n = 0;
    api().clGetPlatformInfo(p, CL_PLATFORM_NAME, 0, nullptr, &n);
    std::string pname(n, '\0');
    api().clGetPlatformInfo(p, CL_PLATFORM_NAME, n, pname.data(), nullptr);
    while (!pname.empty() && pname.back() == '\0') pname.pop_back();
    cl_device_type type = 0;
    size_t wg = 0;
    cl_ulong mem = 0;
    api().clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, nullptr);
    api().clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, nullptr);
    api().clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, nullptr);
    py::dict info;
    info["platform"] = pname;
    info["name"] = device_string(d, CL_DEVICE_NAME);
    info["version"] = device_string(d, CL_DEVICE_VERSION);
    info["driver"] = device_string(d, CL_DRIVER_VERSION);
    info["extensions"] = device_string(d, CL_DEVICE_EXTENSIONS);
    info["kind"] = (type & CL_DEVICE_TYPE_GPU) ? "gpu" : (type & CL_DEVICE_TYPE_CPU) ? "cpu" : "other";
    info["max_work_group_size"] = wg;
    info["global_mem_bytes"] = mem;
    out.append(info);
  }
  return out;
}

struct Context {
  cl_device_id device = nullptr;
  cl_context context = nullptr;
  cl_command_queue queue = nullptr;
  size_t max_wg = 1;

  explicit Context(int index) {
    auto devs = all_devices();
    if (index < 0 || index >= (int)devs.size()) throw std::runtime_error("no OpenCL device " + std::to_string(index));
    device = devs[index].second;
    cl_int err = 0;
    context = api().clCreateContext(nullptr, 1, &device, nullptr, nullptr, &err);
    check(err, "clCreateContext");
    // Profiling is on so that work-group tuning can time kernels with events.
    queue = api().clCreateCommandQueue(context, device, CL_QUEUE_PROFILING_ENABLE, &err);
    check(err, "clCreateCommandQueue");
    api().clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, nullptr);
  }
  ~Context() {
    if (queue) api().clReleaseCommandQueue(queue);
    if (context) api().clReleaseContext(context);
  }
};
using ContextPtr = std::shared_ptr<Context>;

// One cl_mem; keeps its context alive so buffers may outlive the backend that made them.
struct Buffer {
  ContextPtr ctx;
  cl_mem mem = nullptr;
  size_t nbytes = 0;
  Buffer(ContextPtr c, size_t n) : ctx(std::move(c)), nbytes(n) {
    cl_int err = 0;
    mem = api().clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, n ? n : 4, nullptr, &err);
    check(err, "clCreateBuffer");
  }
  ~Buffer() {
    if (mem) api().clReleaseMemObject(mem);
  }
  void write(py::buffer data) {
    py::buffer_info info = data.request();
    size_t n = (size_t)info.size * info.itemsize;
    if (n > nbytes) throw std::runtime_error("write larger than the buffer");
    if (n) check(api().clEnqueueWriteBuffer(ctx->queue, mem, CL_TRUE, 0, n, info.ptr, 0, nullptr, nullptr), "clEnqueueWriteBuffer");
  }
  void read(py::buffer out) {
    py::buffer_info info = out.request(true);
    size_t n = (size_t)info.size * info.itemsize;
    if (n > nbytes) throw std::runtime_error("read larger than the buffer");
    if (n) check(api().clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, 0, n, info.ptr, 0, nullptr, nullptr), "clEnqueueReadBuffer");
  }
};
using BufferPtr = std::shared_ptr<Buffer>;

struct Program {
  ContextPtr ctx;
  cl_program program = nullptr;
  ~Program() {
    if (program) api().clReleaseProgram(program);
  }
};
using ProgramPtr = std::shared_ptr<Program>;

std::string build_log(const Context& ctx, cl_program p) {
  size_t n = 0;
  api().clGetProgramBuildInfo(p, ctx.device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
  std::string log(n, '\0');
  api().clGetProgramBuildInfo(p, ctx.device, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
  return log;
}

// Builds from a cached binary when one is given and loads, else from source. Returns the program and
// its binary (empty when the binary path was used) for the caller's disk cache.
py::tuple build_program(ContextPtr ctx, const std::string& source, const std::string& options, py::object binary) {
  cl_int err = 0, status = 0;
  if (!binary.is_none()) {
    std::string bin = binary.cast<std::string>();
    const unsigned char* ptr = reinterpret_cast<const unsigned char*>(bin.data());
    size_t len = bin.size();
    cl_program p = api().clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &len, &ptr, &status, &err);
    if (err == CL_SUCCESS && status == CL_SUCCESS &&
        api().clBuildProgram(p, 1, &ctx->device, options.c_str(), nullptr, nullptr) == CL_SUCCESS) {
      auto prog = std::make_shared<Program>();
      prog->ctx = ctx;
      prog->program = p;
      return py::make_tuple(prog, py::bytes(""));
    }
    if (p) api().clReleaseProgram(p);  // stale or foreign binary: rebuild from source
  }
  const char* src = source.c_str();
  size_t len = source.size();
  cl_program p = api().clCreateProgramWithSource(ctx->context, 1, &src, &len, &err);
  check(err, "clCreateProgramWithSource");
  if (api().clBuildProgram(p, 1, &ctx->device, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
    std::string log = build_log(*ctx, p);
    api().clReleaseProgram(p);
    throw std::runtime_error("OpenCL program build failed:\n" + log);
  }
  auto prog = std::make_shared<Program>();
  prog->ctx = ctx;
  prog->program = p;
  size_t size = 0;
  api().clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr);
  std::string bin(size, '\0');
  unsigned char* dst = reinterpret_cast<unsigned char*>(bin.data());
  api().clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof dst, &dst, nullptr);
  return py::make_tuple(prog, py::bytes(bin));
}

enum ArgKind { TENSOR = 0, INT = 1, FLOAT = 2, LONG = 3 };

struct Arg {
  int kind;
  long long ivalue;
  double fvalue;
};

struct Launch {
  cl_kernel kernel = nullptr;
  std::vector<Arg> args;
  std::vector<size_t> global, local;
};

// All launches of one segment. Tensor args name slots; a slot is bound to (buffer, element offset)
// and becomes a (global T*, int offset) pair of kernel arguments.
struct Plan {
  ContextPtr ctx;
  std::vector<Launch> launches;
  std::vector<std::pair<BufferPtr, int>> slots;

  explicit Plan(ContextPtr c) : ctx(std::move(c)) {}
  ~Plan() {
    for (auto& l : launches)
      if (l.kernel) api().clReleaseKernel(l.kernel);
  }
  void bind(int slot, BufferPtr buf, int offset) {
    if (slot >= (int)slots.size()) slots.resize(slot + 1);
    slots[slot] = {std::move(buf), offset};
  }
  int add(ProgramPtr prog, const std::string& name, const std::vector<std::tuple<int, long long, double>>& args,
          std::vector<size_t> global, std::vector<size_t> local) {
    Launch l;
    cl_int err = 0;
    l.kernel = api().clCreateKernel(prog->program, name.c_str(), &err);
    check(err, ("clCreateKernel " + name).c_str());
    for (auto& [k, i, f] : args) l.args.push_back({k, i, f});
    l.global = std::move(global);
    l.local = std::move(local);
    launches.push_back(l);
    return (int)launches.size() - 1;
  }
  size_t max_local(int index) {
    size_t wg = 0;
    api().clGetKernelWorkGroupInfo(launches.at(index).kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, nullptr);
    return wg;
  }
  void set_local(int index, std::vector<size_t> local) { launches.at(index).local = std::move(local); }

  void set_args(Launch& l) {
    cl_uint a = 0;
    for (const Arg& arg : l.args) {
      if (arg.kind == TENSOR) {
        auto& [buf, off] = slots.at(arg.ivalue);
        if (!buf) throw std::runtime_error("slot " + std::to_string(arg.ivalue) + " is not bound");
        check(api().clSetKernelArg(l.kernel, a++, sizeof(cl_mem), &buf->mem), "clSetKernelArg");
        cl_int o = off;
        check(api().clSetKernelArg(l.kernel, a++, sizeof o, &o), "clSetKernelArg");
      } else if (arg.kind == INT) {
        cl_int v = (cl_int)arg.ivalue;
        check(api().clSetKernelArg(l.kernel, a++, sizeof v, &v), "clSetKernelArg");
      } else if (arg.kind == LONG) {
        int64_t v = arg.ivalue;
        check(api().clSetKernelArg(l.kernel, a++, sizeof v, &v), "clSetKernelArg");
      } else {
        float v = (float)arg.fvalue;
        check(api().clSetKernelArg(l.kernel, a++, sizeof v, &v), "clSetKernelArg");
      }
    }
  }
  void enqueue(Launch& l, cl_event* event) {
    std::vector<size_t> global = l.global;
    const size_t* local = nullptr;
    if (!l.local.empty()) {  // the global range is padded to whole work-groups; kernels bound-check
      for (size_t d = 0; d < global.size(); ++d) global[d] = (global[d] + l.local[d] - 1) / l.local[d] * l.local[d];
      local = l.local.data();
    }
    check(api().clEnqueueNDRangeKernel(ctx->queue, l.kernel, (cl_uint)global.size(), nullptr, global.data(), local, 0,
                                       nullptr, event),
          "clEnqueueNDRangeKernel");
  }
  // Enqueues every launch and waits once; returns per-launch device nanoseconds when profiling.
  std::vector<double> run(bool profile) {
    std::vector<double> times;
    std::vector<cl_event> events(profile ? launches.size() : 0);
    {
      py::gil_scoped_release release;
      for (size_t i = 0; i < launches.size(); ++i) {
        set_args(launches[i]);
        enqueue(launches[i], profile ? &events[i] : nullptr);
      }
      check(api().clFinish(ctx->queue), "clFinish");
    }
    for (cl_event e : events) {
      cl_ulong t0 = 0, t1 = 0;
      api().clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr);
      api().clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr);
      times.push_back(double(t1 - t0));
      api().clReleaseEvent(e);
    }
    return times;
  }
  // Best-of-`reps` device time of one launch with a candidate local size (empty = driver's choice).
  double time_launch(int index, std::vector<size_t> local, int reps) {
    Launch& l = launches.at(index);
    std::vector<size_t> saved = l.local;
    l.local = std::move(local);
    set_args(l);
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      cl_event e = nullptr;
      enqueue(l, &e);
      api().clWaitForEvents(1, &e);
      cl_ulong t0 = 0, t1 = 0;
      api().clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr);
      api().clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr);
      api().clReleaseEvent(e);
      best = std::min(best, double(t1 - t0));
    }
    l.local = saved;
    return best;
  }
};

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "OpenCL host code of mnn-backend-opencl (libOpenCL loaded at run time)";
  m.def("loader_error", &loader_error);
  m.def("devices", &list_devices);
  py::class_<Context, ContextPtr>(m, "Context")
      .def(py::init<int>())
      .def_readonly("max_work_group_size", &Context::max_wg)
      .def("finish", [](Context& c) { check(api().clFinish(c.queue), "clFinish"); });
  py::class_<Buffer, BufferPtr>(m, "Buffer")
      .def(py::init<ContextPtr, size_t>())
      .def_readonly("nbytes", &Buffer::nbytes)
      .def("write", &Buffer::write)
      .def("read", &Buffer::read);
  py::class_<Program, ProgramPtr>(m, "Program");
  m.def("build_program", &build_program);
  py::class_<Plan, std::shared_ptr<Plan>>(m, "Plan")
      .def(py::init<ContextPtr>())
      .def("bind", &Plan::bind)
      .def("add", &Plan::add)
      .def("max_local", &Plan::max_local)
      .def("set_local", &Plan::set_local)
      .def("run", &Plan::run, py::arg("profile") = false)
      .def("time_launch", &Plan::time_launch)
      .def_property_readonly("size", [](Plan& p) { return p.launches.size(); });
}
