// torch.backends.cudnn: whether CUDA convolutions go through cuDNN, and how it picks its algorithms.
// Process-wide settings with PyTorch's names and defaults, read by the CUDA backend at each convolution
// (kernels/cuda/cudnn_conv.cpp):
//   enabled       (true)  cuDNN where it is loaded and takes the case; false: im2col + cuBLAS GEMM
//   benchmark     (false) time cuDNN's algorithms on each new case (cudnnFind*) instead of its heuristics
//   deterministic (false) only algorithms that give the same bits on every run
//   allow_tf32    (true)  float32 convolutions may use TF32 tensor cores (10 mantissa bits per product)
// cuDNN is loaded at run time (libcudnn.so.9, or the file TD_CUDNN_LIBRARY names): a machine without it runs
// every convolution on the im2col path. is_available() and version() say what was loaded; they need no GPU.
#pragma once

#include <atomic>

namespace td::backends::cudnn {

namespace detail {
/// TD_CUDNN_GRAPH_API's value: "1" turns graph_api() on at start.
bool graph_api_from_environment();
struct Flags {
  std::atomic<bool> enabled{true}, benchmark{false}, deterministic{false}, allow_tf32{true};
  std::atomic<bool> graph_api{graph_api_from_environment()};
};
inline Flags& flags() {
  static Flags f;
  return f;
}
}  // namespace detail

inline bool enabled() {
  return detail::flags().enabled.load(std::memory_order_relaxed);
}
inline void set_enabled(bool on) {
  detail::flags().enabled.store(on, std::memory_order_relaxed);
}
inline bool benchmark() {
  return detail::flags().benchmark.load(std::memory_order_relaxed);
}
inline void set_benchmark(bool on) {
  detail::flags().benchmark.store(on, std::memory_order_relaxed);
}
inline bool deterministic() {
  return detail::flags().deterministic.load(std::memory_order_relaxed);
}
inline void set_deterministic(bool on) {
  detail::flags().deterministic.store(on, std::memory_order_relaxed);
}
inline bool allow_tf32() {
  return detail::flags().allow_tf32.load(std::memory_order_relaxed);
}
inline void set_allow_tf32(bool on) {
  detail::flags().allow_tf32.store(on, std::memory_order_relaxed);
}

/// tensord's own switch (PyTorch 2.x has the path on; its TORCH_CUDNN_V8_API_DISABLED turns it off):
/// convolutions through cuDNN's graph API, an execution plan cached per case, before its legacy
/// cudnnConvolution* calls, which take the cases the graph API has no plan for. Off unless the environment
/// has TD_CUDNN_GRAPH_API=1, until the path has run on a GPU (kernels/cuda/cudnn_conv_graph.cpp).
inline bool graph_api() {
  return detail::flags().graph_api.load(std::memory_order_relaxed);
}
inline void set_graph_api(bool on) {
  detail::flags().graph_api.store(on, std::memory_order_relaxed);
}

/// Whether this build found cuDNN's headers and libcudnn.so.9 (major version 9) loads here.
bool is_available();
/// The loaded cuDNN's version as cudnnGetVersion gives it (e.g. 91900 for 9.19.0), 0 where none is.
int version();

/// torch.backends.cudnn.flags(...): the four settings for the guard's lifetime, restored after.
class FlagsGuard {
 public:
  FlagsGuard(bool enabled_, bool benchmark_, bool deterministic_, bool allow_tf32_)
      : saved_{enabled(), benchmark(), deterministic(), allow_tf32()} {
    set(enabled_, benchmark_, deterministic_, allow_tf32_);
  }
  ~FlagsGuard() { set(saved_[0], saved_[1], saved_[2], saved_[3]); }
  FlagsGuard(const FlagsGuard&) = delete;
  FlagsGuard& operator=(const FlagsGuard&) = delete;

 private:
  static void set(bool e, bool b, bool d, bool t) {
    set_enabled(e);
    set_benchmark(b);
    set_deterministic(d);
    set_allow_tf32(t);
  }
  bool saved_[4];
};

}  // namespace td::backends::cudnn
