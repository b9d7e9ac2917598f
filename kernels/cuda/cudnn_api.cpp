// cuDNN loaded at run time for the CUDA backend's cuDNN calls (kernels/cuda/cudnn_api.h): the library, its
// entry points, whether it can run here, and each thread's handles.
#include "kernels/cuda/cudnn_api.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/cudnn.h"
#include "core/error.h"
#include "kernels/cuda/handle_pool.h"
#include "kernels/cuda/stream.h"
#include "kernels/cudnn.h"

namespace td::kernels {

namespace {

struct Loaded {
  cudnn::Api api;
  CudnnLibrary info;
};

// Tries TD_CUDNN_LIBRARY's file, then the soname (LD_LIBRARY_PATH, the loader's cache), then the CUDA
// toolkit's library directory this build found cuDNN in.
Loaded load() {
  Loaded l;
  std::vector<std::string> names;
  if (const char* file = std::getenv("TD_CUDNN_LIBRARY"); file && *file) {
    names.push_back(file);
  } else {
    names.push_back("libcudnn.so.9");
#ifdef TD_CUDNN_DIR
    names.push_back(TD_CUDNN_DIR "/libcudnn.so.9");
#endif
  }
  void* lib = nullptr;
  std::string errors;
  for (const std::string& name : names) {
    if ((lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : name);
  }
  if (!lib) {
    l.info.reason = "libcudnn.so.9 could not be loaded (" + errors + ")";
    return l;
  }
#define TD_CUDNN_RESOLVE(name)                                            \
  l.api.name = reinterpret_cast<decltype(l.api.name)>(dlsym(lib, #name)); \
  if (!l.api.name) {                                                      \
    l.info.reason = "the loaded cuDNN has no " #name;                     \
    return l;                                                             \
  }
  TD_CUDNN_FUNCTIONS(TD_CUDNN_RESOLVE)
#undef TD_CUDNN_RESOLVE
  const size_t version = l.api.cudnnGetVersion();
  if (version / 10000 != 9) {  // cuDNN 9 numbers its versions major * 10000 + minor * 100 + patch
    l.info.reason = "the loaded cuDNN is version " + std::to_string(version) + ", not 9.x";
    return l;
  }
  l.info.version = static_cast<int>(version);
  return l;  // the library stays loaded for the process
}

const Loaded& loaded() {
  static const Loaded l = load();
  return l;
}

// Why cuDNN cannot run in this process (it then stays off, and every call takes our kernels): a sub-library
// missing or mismatched. Empty while it runs.
std::mutex broken_mutex;
std::string broken_reason;
std::atomic<bool> broken{false};

}  // namespace

namespace cudnn {

const Api& api() {
  return loaded().api;
}

int loaded_version() {
  return loaded().info.version;
}

void mark_broken(const std::string& why) {
  std::lock_guard<std::mutex> lock(broken_mutex);
  if (!broken.load(std::memory_order_relaxed)) broken_reason = why;
  broken.store(true, std::memory_order_relaxed);
}

bool usable() {
  return loaded().info.version > 0 && backends::cudnn::enabled() && !broken.load(std::memory_order_relaxed);
}

std::string status_text(cudnnStatus_t s) {
  const char* text = api().cudnnGetErrorString(s);
  return text ? text : "status " + std::to_string(static_cast<int>(s));
}

cudnnHandle_t handle_for(int device) {
  // One handle per thread and device, as the cuBLAS handles, returned to a pool when the thread ends
  // (kernels/cuda/handle_pool.h).
  thread_local cuda::ThreadHandles<cudnnHandle_t> handles;
  TD_CHECK(device >= 0 && device < cuda::kMaxDevices, ErrorCode::kInvalidArgument, "[cuda] device index ",
           device, " out of range");
  cudnnHandle_t& h = handles.at(device);
  if (!h) {
    const cudnnStatus_t s = api().cudnnCreate(&h);
    if (s != CUDNN_STATUS_SUCCESS) {
      h = nullptr;
      if (unusable(s))
        mark_broken("cudnnCreate failed on cuda:" + std::to_string(device) + ": " + status_text(s));
      return nullptr;
    }
    cuda::ThreadHandles<cudnnHandle_t>::made();
  }
  const cudnnStatus_t s = api().cudnnSetStream(h, cuda::stream());
  TD_CHECK(s == CUDNN_STATUS_SUCCESS, ErrorCode::kInternal,
           "[cudnn] cudnnSetStream failed: ", status_text(s));
  return h;
}

bool packed(const StridedRef& t) {
  int64_t step = 1;
  for (size_t d = t.sizes.size(); d-- > 0;) {
    if (t.sizes[d] != 1 && t.strides[d] != step) return false;
    step *= t.sizes[d];
  }
  return true;
}

std::optional<cudnnDataType_t> type_of(DType t) {
  switch (t) {
    case DType::kFloat32:
      return CUDNN_DATA_FLOAT;
    case DType::kFloat64:
      return CUDNN_DATA_DOUBLE;
    case DType::kFloat16:
      return CUDNN_DATA_HALF;
    case DType::kBFloat16:
      return CUDNN_DATA_BFLOAT16;
    default:
      return std::nullopt;
  }
}

std::array<int, 5> packed_strides(const std::array<int, 5>& dims, int nd) {
  std::array<int, 5> s{};
  int step = 1;
  for (int d = nd; d-- > 0;) {
    s[static_cast<size_t>(d)] = step;
    step *= dims[static_cast<size_t>(d)];
  }
  return s;
}

cudnnStatus_t set_tensor(TensorDesc& t, cudnnDataType_t type, const std::array<int, 5>& dims, int nd) {
  cudnnStatus_t s = api().cudnnCreateTensorDescriptor(&t.d);
  if (s != CUDNN_STATUS_SUCCESS) return s;
  return api().cudnnSetTensorNdDescriptor(t.d, type, nd, dims.data(), packed_strides(dims, nd).data());
}

}  // namespace cudnn

int64_t cudnn_handles_made() {
  return cuda::ThreadHandles<cudnnHandle_t>::made_count();
}

CudnnLibrary cudnn_library() {
  CudnnLibrary info = loaded().info;
  if (broken.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(broken_mutex);
    info.reason = broken_reason;
  }
  return info;
}

}  // namespace td::kernels
