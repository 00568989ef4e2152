#include "cl_api.h"

#include <dlfcn.h>
#include <cstdlib>

namespace {
struct Loaded {
  ClApi api;
  std::string error;
  bool ok = false;
  Loaded() {
    // MNN_OPENCL_LIBRARY lets tests point at a missing library to check the "no loader" path.
    const char* override_path = std::getenv("MNN_OPENCL_LIBRARY");
    const char* path = override_path && *override_path ? override_path : "libOpenCL.so.1";
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = std::string("no OpenCL ICD loader (libOpenCL.so.1): ") + dlerror();
      return;
    }
#define MNN_RESOLVE(name)                                                      \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name));          \
  if (!api.name) {                                                             \
    error = "OpenCL loader lacks " #name;                                      \
    return;                                                                    \
  }
    MNN_CL_FUNCTIONS(MNN_RESOLVE)
#undef MNN_RESOLVE
    ok = true;  // the library stays loaded for the life of the process
  }
};
}  // namespace

const ClApi* cl_api(std::string* error) {
  static Loaded loaded;
  if (!loaded.ok) {
    if (error) *error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}
