// pybind11 bindings: the Python side builds a Plan op by op, then calls run() once per inference.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <new>

#include "conv.h"
#include "isa.h"
#include "ops_extra.h"
#include "plan.h"

// Counting replacements of operator new for this module (bound locally with -Bsymbolic-functions):
// any container growth or temporary made while a plan runs shows up in g_allocations.
void* operator new(std::size_t n) {
  mnncpu::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace py = pybind11;
using namespace mnncpu;

namespace {

const void* contiguous_data(const py::array& a, int64_t nbytes, const char* what, size_t i) {
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(what) + " " + std::to_string(i) + " is not C-contiguous");
  if (a.nbytes() != nbytes)
    throw std::invalid_argument(std::string(what) + " " + std::to_string(i) + " has " +
                                std::to_string(a.nbytes()) + " bytes; the plan expects " +
                                std::to_string(nbytes));
  return a.data();
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "mnn native CPU backend";

  m.def("supported_isas", &supported_isas, "ISAs this CPU supports, best first.");
  m.def("select_isa", [](const std::string& requested) { return std::string(select_isa(requested)->isa); },
        py::arg("requested") = "", "The ISA a plan would use ('' = best allowed by the cap).");
  m.def("set_isa_cap", &set_isa_cap, "Cap the ISA for new plans ('' clears; overrides MNN_CPU_ISA).");
  m.def("isa_cap", &isa_cap);
  m.def("allocation_count", [] { return g_allocations.load(); },
        "Heap allocations made by this module so far.");
  m.def("packed_count", &packed_count, "Weight buffers packed so far (shared ones count once).");
  m.def("has_avx512_bf16", &cpu_has_avx512_bf16);
  m.def("conv_candidates",
        [](const std::vector<int64_t>& ints, const std::string& isa) {
          std::vector<std::string> names;
          for (int a : conv_candidates(ints, select_isa(isa))) names.emplace_back(conv_algo_name(a));
          return names;
        },
        py::arg("ints"), py::arg("isa") = "",
        "Convolution algorithms (lowering.CONV_ALGOS names) that can run a conv op's ints.");
  m.def("_debug_allocate", [] {
    auto* p = new std::vector<int>(16);  // proves the counting hook sees module allocations
    delete p;
  });

  py::class_<ThreadPool, std::shared_ptr<ThreadPool>>(m, "ThreadPool")
      .def(py::init<int>(), py::arg("threads"))
      .def_property_readonly("size", &ThreadPool::size);

  py::class_<Plan>(m, "Plan")
      .def(py::init([](std::shared_ptr<ThreadPool> pool, const std::string& isa) {
             return new Plan(std::move(pool), select_isa(isa));
           }),
           py::arg("pool"), py::arg("isa") = "")
      .def("add_tensor", &Plan::add_tensor, py::arg("kind"), py::arg("offset"), py::arg("nbytes"))
      .def("add_const", [](Plan& p, py::array a) {
             if (!(a.flags() & py::array::c_style)) throw std::invalid_argument("constant is not C-contiguous");
             return p.add_const(a.data(), a.nbytes());
           })
      .def("add_op",
           [](Plan& p, const std::string& kind, const std::vector<int>& in, const std::vector<int>& out,
              const std::vector<int64_t>& ints, const std::vector<float>& floats,
              const std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>>& weights) {
             std::vector<Weight> ws;
             for (const auto& w : weights)
               ws.push_back({w.data(), std::vector<int64_t>(w.shape(), w.shape() + w.ndim())});
             p.add_op(kind, in, out, ints, floats, ws);
           },
           py::arg("kind"), py::arg("inputs"), py::arg("outputs"), py::arg("ints"),
           py::arg("floats") = std::vector<float>(),
           py::arg("weights") = std::vector<py::array_t<float>>())
      .def("finalize", &Plan::finalize, py::arg("arena_bytes"))
      .def("run",
           [](Plan& p, const std::vector<py::array>& inputs, const std::vector<py::array>& outputs,
              bool profile) {
             if (static_cast<int>(inputs.size()) != p.num_inputs() ||
                 static_cast<int>(outputs.size()) != p.num_outputs())
               throw std::invalid_argument("wrong number of inputs or outputs");
             std::vector<const void*> ins;
             std::vector<void*> outs;
             for (size_t i = 0; i < inputs.size(); ++i)
               ins.push_back(contiguous_data(inputs[i], p.input_nbytes(i), "input", i));
             for (size_t i = 0; i < outputs.size(); ++i) {
               if (!outputs[i].writeable()) throw std::invalid_argument("output is read-only");
               outs.push_back(const_cast<void*>(contiguous_data(outputs[i], p.output_nbytes(i), "output", i)));
             }
             py::gil_scoped_release release;
             return p.execute(ins, outs, profile);
           },
           py::arg("inputs"), py::arg("outputs"), py::arg("profile") = false,
           "Runs every op; returns the number of heap allocations made during the run.")
      .def_property_readonly("isa", [](const Plan& p) { return std::string(p.table()->isa); })
      .def_property_readonly("threads", &Plan::threads)
      .def_property_readonly("arena_bytes", &Plan::arena_bytes)
      .def_property_readonly("scratch_bytes", &Plan::scratch_bytes)
      .def_property_readonly("num_ops", &Plan::num_ops)
      .def_property_readonly("op_times_ns", &Plan::op_times_ns)
      .def_property_readonly("op_notes", &Plan::op_notes);
}
