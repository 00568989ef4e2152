// Vulkan host runtime for mnn-backend-vulkan: the loader is opened at run time (dlopen), so this
// module imports on machines without Vulkan; every entry point is fetched through
// vkGetInstanceProcAddr / vkGetDeviceProcAddr. Python builds the dispatch lists; this file owns the
// Vulkan objects: device, buffers, staging copies, pipelines (with an on-disk cache) and programs
// (one pre-recorded command buffer per compiled segment, submitted once per run).
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>
#include <dlfcn.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace py = pybind11;

#define VK_GLOBAL_FNS(X) X(vkCreateInstance) X(vkEnumerateInstanceVersion)
#define VK_INSTANCE_FNS(X)                                                                        \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)           \
  X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2)                              \
  X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkGetPhysicalDeviceMemoryProperties)            \
  X(vkCreateDevice) X(vkGetDeviceProcAddr)
#define VK_DEVICE_FNS(X)                                                                          \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer)                   \
  X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory)    \
  X(vkMapMemory) X(vkUnmapMemory) X(vkCreateCommandPool) X(vkDestroyCommandPool)                \
  X(vkAllocateCommandBuffers) X(vkFreeCommandBuffers) X(vkBeginCommandBuffer)                   \
  X(vkEndCommandBuffer) X(vkCmdCopyBuffer) X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets)      \
  X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkQueueSubmit)               \
  X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences)                        \
  X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreateDescriptorSetLayout)               \
  X(vkDestroyDescriptorSetLayout) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)          \
  X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreatePipelineCache)                     \
  X(vkDestroyPipelineCache) X(vkGetPipelineCacheData) X(vkCreateDescriptorPool)                 \
  X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets)              \
  X(vkDeviceWaitIdle)

namespace {

struct Loader {
  void* lib = nullptr;
  PFN_vkGetInstanceProcAddr gipa = nullptr;
#define DECL(f) PFN_##f f = nullptr;
  VK_GLOBAL_FNS(DECL)
  VK_INSTANCE_FNS(DECL)
#undef DECL
  VkInstance instance = VK_NULL_HANDLE;
  std::string error;
};

Loader& loader() {
  // One instance per process, created on first use and kept: devices share it.
  static Loader L;
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char* name : {"libvulkan.so.1", "libvulkan.so"}) {
      L.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (L.lib) break;
    }
    if (!L.lib) { L.error = "Vulkan loader libvulkan.so.1 not found"; return; }
    L.gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(L.lib, "vkGetInstanceProcAddr"));
    if (!L.gipa) { L.error = "libvulkan has no vkGetInstanceProcAddr"; return; }
#define LOADG(f) L.f = reinterpret_cast<PFN_##f>(L.gipa(VK_NULL_HANDLE, #f));
    VK_GLOBAL_FNS(LOADG)
#undef LOADG
    uint32_t version = VK_API_VERSION_1_0;
    if (L.vkEnumerateInstanceVersion) L.vkEnumerateInstanceVersion(&version);
    if (version < VK_API_VERSION_1_1) { L.error = "Vulkan 1.1 or newer is required"; return; }
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "mnn";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    VkResult r = L.vkCreateInstance(&ci, nullptr, &L.instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
        L.error = "no Vulkan driver (ICD) found: vkCreateInstance returned VK_ERROR_INCOMPATIBLE_DRIVER";
        return;
    }
    if (r != VK_SUCCESS) { L.error = "vkCreateInstance failed (VkResult " + std::to_string(r) + ")"; return; }
#define LOADI(f) L.f = reinterpret_cast<PFN_##f>(L.gipa(L.instance, #f));
    VK_INSTANCE_FNS(LOADI)
#undef LOADI
  });
  if (!L.error.empty()) throw std::runtime_error(L.error);
  return L;
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed (VkResult " + std::to_string(r) + ")");
}

std::vector<VkPhysicalDevice> physical_devices() {
  Loader& L = loader();
  uint32_t n = 0;
  check(L.vkEnumeratePhysicalDevices(L.instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devs(n);
  if (n) check(L.vkEnumeratePhysicalDevices(L.instance, &n, devs.data()), "vkEnumeratePhysicalDevices");
  return devs;
}

struct Caps {
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  int queue_family = -1;
};

Caps query(VkPhysicalDevice pd) {
  Loader& L = loader();
  Caps c;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &c.subgroup;
  L.vkGetPhysicalDeviceProperties2(pd, &p2);
  c.props = p2.properties;
  c.features.pNext = &c.f16;
  L.vkGetPhysicalDeviceFeatures2(pd, &c.features);
  c.f16.pNext = nullptr;
  uint32_t n = 0;
  L.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> qf(n);
  L.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, qf.data());
  for (uint32_t i = 0; i < n; ++i)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { c.queue_family = int(i); break; }
  return c;
}

py::dict describe(const Caps& c) {
  py::dict d;
  const char* types[] = {"other", "integrated-gpu", "discrete-gpu", "virtual-gpu", "cpu"};
  d["name"] = std::string(c.props.deviceName);
  d["type"] = std::string(types[c.props.deviceType <= 4 ? c.props.deviceType : 0]);
  d["api_version"] = std::to_string(VK_API_VERSION_MAJOR(c.props.apiVersion)) + "." +
                     std::to_string(VK_API_VERSION_MINOR(c.props.apiVersion)) + "." +
                     std::to_string(VK_API_VERSION_PATCH(c.props.apiVersion));
  d["max_storage_buffer_range"] = uint64_t(c.props.limits.maxStorageBufferRange);
  d["min_storage_buffer_offset_alignment"] = uint64_t(c.props.limits.minStorageBufferOffsetAlignment);
  d["max_push_constants_size"] = c.props.limits.maxPushConstantsSize;
  d["max_workgroup_count"] = c.props.limits.maxComputeWorkGroupCount[0];
  d["max_workgroup_invocations"] = c.props.limits.maxComputeWorkGroupInvocations;
  d["subgroup_size"] = c.subgroup.subgroupSize;
  bool compute = c.subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
  d["subgroup_arithmetic"] = compute && (c.subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  d["shader_float16"] = bool(c.f16.shaderFloat16);
  d["shader_int64"] = bool(c.features.features.shaderInt64);
  d["compute_queue"] = c.queue_family >= 0;
  return d;
}

py::list probe() {
  py::list out;
  for (VkPhysicalDevice pd : physical_devices()) out.append(describe(query(pd)));
  return out;
}

struct DeviceFns {
#define DECL(f) PFN_##f f = nullptr;
  VK_DEVICE_FNS(DECL)
#undef DECL
};

class Device;

struct Buffer {
  std::shared_ptr<Device> owner;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  void* mapped = nullptr;
  ~Buffer();
};

struct Pipeline {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  uint32_t bindings = 0, push_size = 0;
};

class Device : public std::enable_shared_from_this<Device> {
 public:
  DeviceFns f;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkPipelineCache cache = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties mem{};
  Caps caps;
  std::string cache_path;
  std::vector<Pipeline> pipelines;
  std::unordered_map<std::string, int> pipeline_ids;
  std::shared_ptr<Buffer> staging;
  std::mutex lock;  // one queue: submissions from several sessions are serialised

  Device(int index, const std::string& cache_file) : cache_path(cache_file) {
    Loader& L = loader();
    auto devs = physical_devices();
    if (index < 0 || index >= int(devs.size())) throw std::runtime_error("no Vulkan device " + std::to_string(index));
    VkPhysicalDevice pd = devs[index];
    caps = query(pd);
    if (caps.queue_family < 0) throw std::runtime_error("device has no compute queue");
    L.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = uint32_t(caps.queue_family);
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    // Enable only what the shaders use: 64-bit integers (index math) and fp16 arithmetic.
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    f16.shaderFloat16 = caps.f16.shaderFloat16;
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    feats.features.shaderInt64 = caps.features.features.shaderInt64;
    feats.pNext = &f16;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &feats;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    check(L.vkCreateDevice(pd, &dci, nullptr, &device), "vkCreateDevice");
#define LOADD(fn) f.fn = reinterpret_cast<PFN_##fn>(L.vkGetDeviceProcAddr(device, #fn));
    VK_DEVICE_FNS(LOADD)
#undef LOADD
    f.vkGetDeviceQueue(device, uint32_t(caps.queue_family), 0, &queue);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = uint32_t(caps.queue_family);
    check(f.vkCreateCommandPool(device, &pci, nullptr, &pool), "vkCreateCommandPool");
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(f.vkCreateFence(device, &fci, nullptr, &fence), "vkCreateFence");
    std::vector<char> blob;
    if (!cache_path.empty()) {
      std::ifstream in(cache_path, std::ios::binary);
      if (in) blob.assign(std::istreambuf_iterator<char>(in), {});
    }
    VkPipelineCacheCreateInfo cci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    cci.initialDataSize = blob.size();  // the driver ignores data from another device/driver
    cci.pInitialData = blob.empty() ? nullptr : blob.data();
    if (f.vkCreatePipelineCache(device, &cci, nullptr, &cache) != VK_SUCCESS) {
      cci.initialDataSize = 0;
      cci.pInitialData = nullptr;
      check(f.vkCreatePipelineCache(device, &cci, nullptr, &cache), "vkCreatePipelineCache");
    }
  }

  ~Device() {
    if (!device) return;
    f.vkDeviceWaitIdle(device);
    save_cache();
    staging.reset();
    for (auto& p : pipelines) {
      f.vkDestroyPipeline(device, p.pipeline, nullptr);
      f.vkDestroyPipelineLayout(device, p.layout, nullptr);
      f.vkDestroyDescriptorSetLayout(device, p.set_layout, nullptr);
    }
    f.vkDestroyPipelineCache(device, cache, nullptr);
    f.vkDestroyFence(device, fence, nullptr);
    f.vkDestroyCommandPool(device, pool, nullptr);
    f.vkDestroyDevice(device, nullptr);
  }

  bool save_cache() {
    if (cache_path.empty() || !cache) return false;
    size_t n = 0;
    if (f.vkGetPipelineCacheData(device, cache, &n, nullptr) != VK_SUCCESS || n == 0) return false;
    std::vector<char> blob(n);
    if (f.vkGetPipelineCacheData(device, cache, &n, blob.data()) != VK_SUCCESS) return false;
    std::string tmp = cache_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) return false;
      out.write(blob.data(), std::streamsize(n));
    }
    return std::rename(tmp.c_str(), cache_path.c_str()) == 0;
  }

  uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
      if ((bits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & want) == want) return i;
    throw std::runtime_error("no suitable Vulkan memory type");
  }

  std::shared_ptr<Buffer> alloc(uint64_t size, bool host_visible) {
    auto b = std::make_shared<Buffer>();
    b->owner = shared_from_this();
    b->size = size;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = size ? size : 4;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(f.vkCreateBuffer(device, &bci, nullptr, &b->buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    f.vkGetBufferMemoryRequirements(device, b->buffer, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = host_visible
        ? memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
        : memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    check(f.vkAllocateMemory(device, &mai, nullptr, &b->memory), "vkAllocateMemory");
    check(f.vkBindBufferMemory(device, b->buffer, b->memory, 0), "vkBindBufferMemory");
    if (host_visible) check(f.vkMapMemory(device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped), "vkMapMemory");
    return b;
  }

  void submit_and_wait(VkCommandBuffer cb) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    check(f.vkQueueSubmit(queue, 1, &si, fence), "vkQueueSubmit");
    check(f.vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    check(f.vkResetFences(device, 1, &fence), "vkResetFences");
  }

  // Host <-> device copies go through one persistent host-visible staging buffer.
  void transfer(Buffer& dst_or_src, uint64_t offset, uint64_t n, bool to_device, char* host) {
    std::lock_guard<std::mutex> g(lock);
    if (n == 0) return;
    if (offset + n > dst_or_src.size) throw std::runtime_error("copy out of buffer bounds");
    if (!staging || staging->size < n) staging = alloc(std::max<uint64_t>(n, 1 << 20), true);
    if (to_device) std::memcpy(staging->mapped, host, n);
    VkCommandBuffer cb = one_shot();
    VkBufferCopy region{};
    region.size = n;
    if (to_device) { region.dstOffset = offset; f.vkCmdCopyBuffer(cb, staging->buffer, dst_or_src.buffer, 1, &region); }
    else { region.srcOffset = offset; f.vkCmdCopyBuffer(cb, dst_or_src.buffer, staging->buffer, 1, &region); }
    check(f.vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    submit_and_wait(cb);
    f.vkFreeCommandBuffers(device, pool, 1, &cb);
    if (!to_device) std::memcpy(host, staging->mapped, n);
  }

  VkCommandBuffer one_shot() {
    VkCommandBuffer cb;
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(f.vkAllocateCommandBuffers(device, &ai, &cb), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(f.vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
    return cb;
  }

  int pipeline(const std::string& key, py::bytes spirv_obj, uint32_t bindings, uint32_t push_size,
               std::vector<uint32_t> spec) {
    std::lock_guard<std::mutex> g(lock);
    std::string full = key + "|" + std::to_string(bindings) + "|" + std::to_string(push_size);
    for (uint32_t s : spec) full += "|" + std::to_string(s);
    auto it = pipeline_ids.find(full);
    if (it != pipeline_ids.end()) return it->second;
    std::string spirv = spirv_obj;
    if (spirv.size() % 4) throw std::runtime_error("SPIR-V size is not a multiple of 4");
    Pipeline p;
    p.bindings = bindings;
    p.push_size = push_size;
    std::vector<VkDescriptorSetLayoutBinding> lb(bindings);
    for (uint32_t i = 0; i < bindings; ++i) {
      lb[i] = {};
      lb[i].binding = i;
      lb[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      lb[i].descriptorCount = 1;
      lb[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = bindings;
    dl.pBindings = lb.data();
    check(f.vkCreateDescriptorSetLayout(device, &dl, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");
    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &p.set_layout;
    pl.pushConstantRangeCount = push_size ? 1 : 0;
    pl.pPushConstantRanges = &range;
    check(f.vkCreatePipelineLayout(device, &pl, nullptr, &p.layout), "vkCreatePipelineLayout");
    VkShaderModuleCreateInfo sm{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sm.codeSize = spirv.size();
    sm.pCode = reinterpret_cast<const uint32_t*>(spirv.data());
    VkShaderModule module;
    check(f.vkCreateShaderModule(device, &sm, nullptr, &module), "vkCreateShaderModule");
    // Specialisation constants (constant_id 0..n-1, 32-bit each): workgroup size and variants.
    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (size_t i = 0; i < spec.size(); ++i) entries[i] = {uint32_t(i), uint32_t(4 * i), 4};
    VkSpecializationInfo si{uint32_t(spec.size()), entries.data(), spec.size() * 4, spec.data()};
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    ci.layout = p.layout;
    VkResult r = f.vkCreateComputePipelines(device, cache, 1, &ci, nullptr, &p.pipeline);
    f.vkDestroyShaderModule(device, module, nullptr);
    check(r, "vkCreateComputePipelines");
    pipelines.push_back(p);
    int id = int(pipelines.size()) - 1;
    pipeline_ids[full] = id;
    return id;
  }
};

Buffer::~Buffer() {
  if (!owner) return;
  auto& f = owner->f;
  if (mapped) f.vkUnmapMemory(owner->device, memory);
  f.vkDestroyBuffer(owner->device, buffer, nullptr);
  f.vkFreeMemory(owner->device, memory, nullptr);
}

struct Binding {
  std::shared_ptr<Buffer> buffer;
  uint64_t offset, range;
};

// A compiled segment: every dispatch recorded once into one command buffer.
class Program {
 public:
  std::shared_ptr<Device> dev;
  VkCommandBuffer cb = VK_NULL_HANDLE;
  VkDescriptorPool dpool = VK_NULL_HANDLE;
  std::vector<std::shared_ptr<Buffer>> keep;
  size_t dispatches = 0, barriers = 0;

  // dispatch: (pipeline id, [(buffer, offset, range)], push bytes, (gx, gy, gz), barrier before)
  Program(std::shared_ptr<Device> d, py::list list) : dev(std::move(d)) {
    auto& f = dev->f;
    size_t n = py::len(list), nbind = 0;
    for (auto item : list) nbind += py::len(item.cast<py::tuple>()[1]);
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, uint32_t(std::max<size_t>(nbind, 1))};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = uint32_t(std::max<size_t>(n, 1));
    dpi.poolSizeCount = 1;
    dpi.pPoolSizes = &ps;
    check(f.vkCreateDescriptorPool(dev->device, &dpi, nullptr, &dpool), "vkCreateDescriptorPool");
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = dev->pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(f.vkAllocateCommandBuffers(dev->device, &ai, &cb), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    check(f.vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
    for (auto item : list) {
      auto t = item.cast<py::tuple>();
      int pid = t[0].cast<int>();
      if (pid < 0 || pid >= int(dev->pipelines.size())) throw std::runtime_error("bad pipeline id");
      Pipeline& p = dev->pipelines[pid];
      auto binds = t[1].cast<std::vector<py::tuple>>();
      std::string push = t[2].cast<std::string>();
      auto groups = t[3].cast<std::vector<uint32_t>>();
      bool barrier = t[4].cast<bool>();
      if (binds.size() != p.bindings) throw std::runtime_error("binding count does not match the pipeline");
      if (push.size() != p.push_size) throw std::runtime_error("push-constant size does not match the pipeline");
      VkDescriptorSetAllocateInfo dai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
      dai.descriptorPool = dpool;
      dai.descriptorSetCount = 1;
      dai.pSetLayouts = &p.set_layout;
      VkDescriptorSet set;
      check(f.vkAllocateDescriptorSets(dev->device, &dai, &set), "vkAllocateDescriptorSets");
      std::vector<VkDescriptorBufferInfo> infos(binds.size());
      std::vector<VkWriteDescriptorSet> writes(binds.size());
      for (size_t i = 0; i < binds.size(); ++i) {
        auto buf = binds[i][0].cast<std::shared_ptr<Buffer>>();
        uint64_t off = binds[i][1].cast<uint64_t>(), range = binds[i][2].cast<uint64_t>();
        if (off + range > buf->size && !(buf->size == 0 && off == 0)) throw std::runtime_error("binding out of buffer bounds");
        keep.push_back(buf);
        infos[i] = {buf->buffer, off, range ? range : 4};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = uint32_t(i);
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
      }
      f.vkUpdateDescriptorSets(dev->device, uint32_t(writes.size()), writes.data(), 0, nullptr);
      if (barrier) {  // the previous dispatches wrote what this one reads (or will overwrite)
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT;
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
        f.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                               0, 1, &mb, 0, nullptr, 0, nullptr);
        ++barriers;
      }
      f.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
      f.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
      if (!push.empty()) f.vkCmdPushConstants(cb, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, uint32_t(push.size()), push.data());
      f.vkCmdDispatch(cb, groups.at(0), groups.at(1), groups.at(2));
      ++dispatches;
    }
    check(f.vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  }

  ~Program() {
    auto& f = dev->f;
    f.vkFreeCommandBuffers(dev->device, dev->pool, 1, &cb);
    f.vkDestroyDescriptorPool(dev->device, dpool, nullptr);
  }

  // copies: (src buffer, src offset, dst buffer, dst offset, bytes) made before the dispatches,
  // in the same submission (inputs into the program's input slots).
  void run(const std::vector<py::tuple>& copies) {
    auto& f = dev->f;
    std::vector<std::shared_ptr<Buffer>> srcs, dsts;
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> regions;
    for (auto& c : copies) {
      srcs.push_back(c[0].cast<std::shared_ptr<Buffer>>());
      dsts.push_back(c[2].cast<std::shared_ptr<Buffer>>());
      regions.emplace_back(c[1].cast<uint64_t>(), c[3].cast<uint64_t>(), c[4].cast<uint64_t>());
    }
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> g(dev->lock);
    if (copies.empty()) { dev->submit_and_wait(cb); return; }
    VkCommandBuffer pre = dev->one_shot();
    for (size_t i = 0; i < srcs.size(); ++i) {
      VkBufferCopy r{std::get<0>(regions[i]), std::get<1>(regions[i]), std::get<2>(regions[i])};
      if (r.srcOffset + r.size > srcs[i]->size || r.dstOffset + r.size > dsts[i]->size)
        throw std::runtime_error("input copy out of bounds");
      f.vkCmdCopyBuffer(pre, srcs[i]->buffer, dsts[i]->buffer, 1, &r);
    }
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    f.vkCmdPipelineBarrier(pre, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                           0, nullptr, 0, nullptr);
    check(f.vkEndCommandBuffer(pre), "vkEndCommandBuffer");
    VkCommandBuffer both[2] = {pre, cb};
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 2;
    si.pCommandBuffers = both;
    check(f.vkQueueSubmit(dev->queue, 1, &si, dev->fence), "vkQueueSubmit");
    check(f.vkWaitForFences(dev->device, 1, &dev->fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    check(f.vkResetFences(dev->device, 1, &dev->fence), "vkResetFences");
    f.vkFreeCommandBuffers(dev->device, dev->pool, 1, &pre);
  }
};

char* writable(py::buffer& b, size_t& n, bool write) {
  py::buffer_info info = b.request(write);
  n = size_t(info.size) * size_t(info.itemsize);
  return static_cast<char*>(info.ptr);
}

}  // namespace

PYBIND11_MODULE(_vk, m) {
  m.doc() = "Vulkan runtime of mnn-backend-vulkan (loader opened at run time)";
  m.def("probe", &probe, "Describe every Vulkan physical device; raises RuntimeError with the reason when none is usable");
  py::class_<Buffer, std::shared_ptr<Buffer>>(m, "Buffer").def_readonly("size", &Buffer::size);
  py::class_<Device, std::shared_ptr<Device>>(m, "Device")
      .def(py::init<int, std::string>(), py::arg("index"), py::arg("cache_path") = "")
      .def("info", [](Device& d) { return describe(d.caps); })
      .def("alloc", [](Device& d, uint64_t n) { return d.alloc(n, false); })
      .def("upload", [](Device& d, Buffer& b, py::buffer data, uint64_t offset) {
        size_t n;
        char* p = writable(data, n, false);
        py::gil_scoped_release nogil;
        d.transfer(b, offset, n, true, p);
      }, py::arg("buffer"), py::arg("data"), py::arg("offset") = 0)
      .def("download", [](Device& d, Buffer& b, py::buffer out, uint64_t offset) {
        size_t n;
        char* p = writable(out, n, true);
        py::gil_scoped_release nogil;
        d.transfer(b, offset, n, false, p);
      }, py::arg("buffer"), py::arg("out"), py::arg("offset") = 0)
      .def("pipeline", &Device::pipeline, py::arg("key"), py::arg("spirv"), py::arg("bindings"),
           py::arg("push_size"), py::arg("spec") = std::vector<uint32_t>{})
      .def("save_cache", &Device::save_cache)
      .def_property_readonly("pipeline_count", [](Device& d) { return d.pipelines.size(); });
  py::class_<Program, std::shared_ptr<Program>>(m, "Program")
      .def(py::init<std::shared_ptr<Device>, py::list>())
      .def("run", &Program::run, py::arg("copies") = std::vector<py::tuple>{})
      .def_readonly("dispatches", &Program::dispatches)
      .def_readonly("barriers", &Program::barriers);
}
