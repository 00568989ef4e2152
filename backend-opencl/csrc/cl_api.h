// OpenCL entry points resolved at run time from libOpenCL.so.1, so the module imports (and the
// wheel installs) on machines without an ICD loader. Types come from the Khronos headers when they
// are installed at build time, else from the few declarations vendored in cl_min.h.
#pragma once
#define CL_TARGET_OPENCL_VERSION 120
#if __has_include(<CL/cl.h>)
#include <CL/cl.h>
#else
#include "cl_min.h"
#endif
#include <string>

#define MNN_CL_FUNCTIONS(X)                                                                        \
  X(clGetPlatformIDs) X(clGetPlatformInfo) X(clGetDeviceIDs) X(clGetDeviceInfo)                    \
  X(clCreateContext) X(clReleaseContext) X(clCreateCommandQueue) X(clReleaseCommandQueue)          \
  X(clCreateBuffer) X(clReleaseMemObject) X(clEnqueueWriteBuffer) X(clEnqueueReadBuffer)           \
  X(clCreateProgramWithSource) X(clCreateProgramWithBinary) X(clBuildProgram)                      \
  X(clGetProgramBuildInfo) X(clGetProgramInfo) X(clReleaseProgram) X(clCreateKernel)               \
  X(clReleaseKernel) X(clSetKernelArg) X(clEnqueueNDRangeKernel) X(clFinish) X(clWaitForEvents)    \
  X(clGetEventProfilingInfo) X(clReleaseEvent) X(clGetKernelWorkGroupInfo)

struct ClApi {
#define MNN_DECLARE(name) decltype(&::name) name = nullptr;
  MNN_CL_FUNCTIONS(MNN_DECLARE)
#undef MNN_DECLARE
};

// The loaded API, or nullptr with `error` set to why it could not be loaded.
const ClApi* cl_api(std::string* error = nullptr);
