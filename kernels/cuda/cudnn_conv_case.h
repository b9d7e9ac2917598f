// What cuDNN's two convolution paths share (kernels/cuda/cudnn_conv.cpp, the legacy cudnnConvolution* calls;
// kernels/cuda/cudnn_conv_graph.cpp, the graph API's cached execution plans): one convolution as cuDNN sees
// it, the call's buffers, its cache key, and a workspace from the caching allocator. Only the cuDNN sources
// include this header.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/cuda/cudnn_api.h"
#include "kernels/cuda/launch.h"

namespace td::kernels::cudnn {

/// One convolution as cuDNN sees it: tensors of nd dims (4 or 5; a 1-d window is a 2-d one of height 1), a
/// window of nd - 2.
struct Case {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int nd = 0;
  std::array<int, 5> x{}, w{}, y{};
  std::array<int, 3> pad{}, stride{}, dilation{};
  int groups = 1;
  bool tf32 = false;

  /// The cache key of one kind of call on this case: the kind, the device, the smallest alignment of the
  /// call's pointers in bytes (up to 16: an algorithm chosen on aligned buffers may refuse a view that starts
  /// inside one), the case and the torch.backends.cudnn settings.
  std::vector<int> key(int kind, int device, int align) const;
  /// Whether y's sizes are the forward's output of x by w: (x + 2 pad - dilation (k - 1) - 1) / stride + 1
  /// per window dim (a transposed convolution's output_padding can make them another size, which cuDNN's
  /// descriptors cannot say).
  bool output_matches() const;
};

/// The case of a convolution of x by w giving y (y's sizes may be empty: not known yet); nullopt where cuDNN
/// cannot describe it (a dtype it lacks, sizes past its 32-bit indexing).
std::optional<Case> case_of(DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                            std::span<const int64_t> y, const ConvWindow& win, int64_t groups);

/// The three calls on a case; the tensors keep the forward's names: backward data's x is the input's
/// gradient, backward filter's w the weight's.
enum class Kind { kForward, kBackwardData, kBackwardFilter };
const char* kind_name(Kind k);

/// The device memory of one call: x, w and y as the kind reads and writes them.
struct Buffers {
  void* x;
  void* w;
  void* y;
};

std::string dims_text(const std::array<int, 5>& d, int nd);

/// A workspace of `bytes` from the device's caching allocator (none for 0 bytes); ok is false where the
/// allocator has no room now.
std::optional<cuda::Workspace> try_workspace(size_t bytes, int device, bool& ok);

/// Counts one convolution run by cuDNN (cudnn_convolutions_run()).
void count_run();

/// Runs kind k of case c on b through cuDNN's graph API: the execution plan cached for the key, else one
/// built from cuDNN's heuristics (or, with benchmark set, the fastest of their first ten by timing) and
/// cached. False, having written nothing, where the graph API has no plan for the case or cannot run here;
/// the legacy calls then take it. `align` is the key's alignment.
bool graph_convolve(Kind k, const Case& c, const std::vector<int>& key, const Buffers& b, int align,
                    int device);

}  // namespace td::kernels::cudnn
