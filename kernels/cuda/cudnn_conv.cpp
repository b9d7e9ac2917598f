// cuDNN convolutions (kernels/cudnn.h) through cuDNN's legacy convolution API (the cudnnConvolution* calls
// PyTorch 1.x's cuDNN path makes), loaded with dlopen so the binaries run where cuDNN is absent: the lent GPU
// machines get it from PyTorch's wheel, and a server without it keeps the im2col path. With
// td::backends::cudnn::graph_api() set, a call goes to the graph API's cached plans first
// (kernels/cuda/cudnn_conv_graph.cpp), and comes here where that path has no plan for the case.
//
// One call: the case's descriptors (a 1-d window is a 2-d one of height 1) and the algorithm chosen for the
// case (cuDNN's heuristic ranking, or its timings when benchmark is set; the first that succeeds, is
// deterministic where that is asked and whose workspace the caching allocator can give), both made on the
// case's first call and cached, then the convolution on the thread's current stream with a workspace from the
// device's caching allocator, so steady training allocates nothing new.
#include "kernels/cudnn.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "core/cudnn.h"
#include "core/error.h"
#include "kernels/cuda/cudnn_api.h"
#include "kernels/cuda/cudnn_conv_case.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels {

namespace {

using namespace cudnn;  // NOLINT: the shared loader (kernels/cuda/cudnn_api.h)

std::atomic<int64_t> runs{0};

bool fits_int(int64_t v) {
  return v >= 0 && v <= INT_MAX;
}

// Copies sizes into a cuDNN dims array, a 1-d window's height 1 inserted before its width.
bool to_dims(std::span<const int64_t> sizes, int window_dims, std::array<int, 5>& out) {
  int64_t numel = 1;
  size_t j = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i == 2 && window_dims == 1) out[j++] = 1;
    if (!fits_int(sizes[i])) return false;
    out[j++] = static_cast<int>(sizes[i]);
    numel *= sizes[i];
  }
  return numel > 0 && numel <= INT_MAX;  // cuDNN's legacy API indexes in 32 bits
}

}  // namespace

namespace cudnn {

std::vector<int> Case::key(int kind, int device, int align) const {
  std::vector<int> k = {kind,
                        device,
                        align,
                        static_cast<int>(type),
                        nd,
                        groups,
                        tf32,
                        backends::cudnn::benchmark(),
                        backends::cudnn::deterministic()};
  for (const auto* a : {&x, &w, &y}) k.insert(k.end(), a->begin(), a->end());
  for (const auto* a : {&pad, &stride, &dilation}) k.insert(k.end(), a->begin(), a->end());
  return k;
}

bool Case::output_matches() const {
  if (y[0] != x[0] || y[1] != w[0]) return false;
  for (int d = 0; d + 2 < nd; ++d) {
    const size_t i = static_cast<size_t>(d) + 2, j = static_cast<size_t>(d);
    const int64_t span = int64_t{dilation[j]} * (w[i] - 1) + 1;
    if (y[i] != (int64_t{x[i]} + 2 * int64_t{pad[j]} - span) / stride[j] + 1) return false;
  }
  return true;
}

std::optional<Case> case_of(DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                            std::span<const int64_t> y, const ConvWindow& win, int64_t groups) {
  const auto type = type_of(dtype);
  if (!type || win.dims < 1 || win.dims > 3 || !fits_int(groups)) return std::nullopt;
  Case c;
  c.type = *type;
  c.nd = win.dims == 1 ? 4 : win.dims + 2;
  c.groups = static_cast<int>(groups);
  c.tf32 = dtype == DType::kFloat32 && backends::cudnn::allow_tf32();
  if (!to_dims(x, win.dims, c.x) || !to_dims(w, win.dims, c.w)) return std::nullopt;
  if (!y.empty() && !to_dims(y, win.dims, c.y)) return std::nullopt;
  const int lead = win.dims == 1 ? 1 : 0;  // a 1-d window: height 1, stride 1, no padding
  c.stride.fill(1);
  c.dilation.fill(1);
  for (int d = 0; d < win.dims; ++d) {
    if (!fits_int(win.padding[d]) || !fits_int(win.stride[d]) || !fits_int(win.dilation[d])) {
      return std::nullopt;
    }
    c.pad[d + lead] = static_cast<int>(win.padding[d]);
    c.stride[d + lead] = static_cast<int>(win.stride[d]);
    c.dilation[d + lead] = static_cast<int>(win.dilation[d]);
  }
  return c;
}

const char* kind_name(Kind k) {
  return k == Kind::kForward        ? "cudnnConvolutionForward"
         : k == Kind::kBackwardData ? "cudnnConvolutionBackwardData"
                                    : "cudnnConvolutionBackwardFilter";
}

std::string dims_text(const std::array<int, 5>& d, int nd) {
  std::string s = "[";
  for (int i = 0; i < nd; ++i) s += (i ? ", " : "") + std::to_string(d[static_cast<size_t>(i)]);
  return s + "]";
}

std::optional<cuda::Workspace> try_workspace(size_t bytes, int device, bool& ok) {
  ok = true;
  if (bytes == 0) return std::nullopt;
  try {
    return std::optional<cuda::Workspace>(std::in_place, bytes, device);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kResourceExhausted) throw;
    ok = false;
    return std::nullopt;
  }
}

void count_run() {
  runs.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace cudnn

namespace {

// The math the case's descriptor starts with (PyTorch's choice): tensor cores for the half types, no TF32 for
// float32 unless allowed, cuDNN's default otherwise.
cudnnMathType_t initial_math(const Case& c) {
  if (c.type == CUDNN_DATA_HALF || c.type == CUDNN_DATA_BFLOAT16) return CUDNN_TENSOR_OP_MATH;
  if (c.type == CUDNN_DATA_FLOAT && !c.tf32) return CUDNN_FMA_MATH;
  return CUDNN_DEFAULT_MATH;
}

struct Descriptors {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
};

// Sets up the case's descriptors (x, w and conv; y too when its sizes are known).
cudnnStatus_t describe(const Case& c, Descriptors& d, bool with_y) {
  const Api& a = api();
  cudnnStatus_t s = set_tensor(d.x, c.type, c.x, c.nd);
  if (s == CUDNN_STATUS_SUCCESS && with_y) s = set_tensor(d.y, c.type, c.y, c.nd);
  if (s == CUDNN_STATUS_SUCCESS) s = a.cudnnCreateFilterDescriptor(&d.w.d);
  if (s == CUDNN_STATUS_SUCCESS)
    s = a.cudnnSetFilterNdDescriptor(d.w.d, c.type, CUDNN_TENSOR_NCHW, c.nd, c.w.data());
  if (s == CUDNN_STATUS_SUCCESS) s = a.cudnnCreateConvolutionDescriptor(&d.conv.d);
  // Half types accumulate in float, as PyTorch's descriptors ask.
  const cudnnDataType_t compute = c.type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  if (s == CUDNN_STATUS_SUCCESS) {
    s = a.cudnnSetConvolutionNdDescriptor(d.conv.d, c.nd - 2, c.pad.data(), c.stride.data(),
                                          c.dilation.data(), CUDNN_CROSS_CORRELATION, compute);
  }
  if (s == CUDNN_STATUS_SUCCESS) s = a.cudnnSetConvolutionGroupCount(d.conv.d, c.groups);
  if (s == CUDNN_STATUS_SUCCESS) s = a.cudnnSetConvolutionMathType(d.conv.d, initial_math(c));
  return s;
}

// The case's output sizes as cuDNN computes them from x, w and conv.
std::optional<std::array<int, 5>> output_dims(const Case& c, const Descriptors& d) {
  std::array<int, 5> out{};
  if (api().cudnnGetConvolutionNdForwardOutputDim(d.conv.d, d.x.d, d.w.d, c.nd, out.data()) !=
      CUDNN_STATUS_SUCCESS) {
    return std::nullopt;
  }
  return out;
}

// The three kinds' perf structs have the same fields.
struct Perf {
  int algo = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  size_t memory = 0;
  cudnnDeterminism_t determinism = CUDNN_NON_DETERMINISTIC;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

template <class A>
int count(const A& a) {
  return static_cast<int>(a.size());
}

template <class P>
std::vector<Perf> perfs_of(const P* p, int n) {
  std::vector<Perf> v;
  for (int i = 0; i < n; ++i) {
    v.push_back({static_cast<int>(p[i].algo), p[i].status, p[i].memory, p[i].determinism, p[i].mathType});
  }
  return v;
}

// cuDNN's candidates for the case, best first: its heuristics' ranking, or (measure) its timings of each
// algorithm on these buffers, with a workspace as large as the largest ranked algorithm asks where the
// allocator has it.
std::vector<Perf> candidates(Kind k, cudnnHandle_t h, const Descriptors& d, const Buffers& b, bool measure,
                             int device, cudnnStatus_t& status) {
  const Api& a = api();
  int n = 0;
  std::vector<Perf> ranked;
  if (k == Kind::kForward) {
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> p{};
    status =
        a.cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.d, d.w.d, d.conv.d, d.y.d, count(p), &n, p.data());
    ranked = perfs_of(p.data(), n);
  } else if (k == Kind::kBackwardData) {
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> p{};
    status = a.cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.d, d.y.d, d.conv.d, d.x.d, count(p), &n,
                                                           p.data());
    ranked = perfs_of(p.data(), n);
  } else {
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> p{};
    status = a.cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x.d, d.y.d, d.conv.d, d.w.d, count(p), &n,
                                                             p.data());
    ranked = perfs_of(p.data(), n);
  }
  if (status != CUDNN_STATUS_SUCCESS || !measure) return ranked;
  size_t largest = 0;
  for (const Perf& p : ranked) {
    if (p.status == CUDNN_STATUS_SUCCESS) largest = std::max(largest, p.memory);
  }
  std::optional<cuda::Workspace> ws;
  if (largest > 0) {
    try {
      ws.emplace(largest, device);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kResourceExhausted) throw;
    }
  }
  void* ws_data = ws ? ws->data : nullptr;
  const size_t ws_bytes = ws ? ws->bytes : 0;
  if (k == Kind::kForward) {
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> p{};
    status = a.cudnnFindConvolutionForwardAlgorithmEx(h, d.x.d, b.x, d.w.d, b.w, d.conv.d, d.y.d, b.y,
                                                      count(p), &n, p.data(), ws_data, ws_bytes);
    return perfs_of(p.data(), n);
  }
  if (k == Kind::kBackwardData) {
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> p{};
    status = a.cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w.d, b.w, d.y.d, b.y, d.conv.d, d.x.d, b.x,
                                                           count(p), &n, p.data(), ws_data, ws_bytes);
    return perfs_of(p.data(), n);
  }
  std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> p{};
  status = a.cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x.d, b.x, d.y.d, b.y, d.conv.d, d.w.d, b.w,
                                                           count(p), &n, p.data(), ws_data, ws_bytes);
  return perfs_of(p.data(), n);
}

cudnnStatus_t workspace_size(Kind k, cudnnHandle_t h, const Descriptors& d, int algo, size_t& bytes) {
  const Api& a = api();
  if (k == Kind::kForward) {
    return a.cudnnGetConvolutionForwardWorkspaceSize(h, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes);
  }
  if (k == Kind::kBackwardData) {
    return a.cudnnGetConvolutionBackwardDataWorkspaceSize(
        h, d.w.d, d.y.d, d.conv.d, d.x.d, static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
  }
  return a.cudnnGetConvolutionBackwardFilterWorkspaceSize(
      h, d.x.d, d.y.d, d.conv.d, d.w.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes);
}

// The algorithm a case runs with, its math and its workspace.
struct Choice {
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

// Cases seen: their choice, or nothing where cuDNN does not take them.
std::mutex cache_mutex;
// A case's choice with the descriptors it runs on (set up once, their math the choice's, then only read, so
// a call on a cached case makes no cuDNN set-up calls, and threads share them).
struct Cached {
  Choice choice;
  std::shared_ptr<const Descriptors> descriptors;
};
// Never destroyed: its descriptors would be destroyed at exit through a function table already gone.
std::map<std::vector<int>, std::optional<Cached>>& cache =
    *new std::map<std::vector<int>, std::optional<Cached>>;

// Runs one convolution of kind k on the case with the choice's algorithm (d's math set to the choice's);
// cuDNN's status.
cudnnStatus_t execute(Kind k, cudnnHandle_t h, const Case& c, const Descriptors& d, const Buffers& b,
                      const Choice& ch, void* ws) {
  const Api& a = api();
  const double one_d = 1, zero_d = 0;
  const float one_f = 1, zero_f = 0;
  const bool dbl = c.type == CUDNN_DATA_DOUBLE;
  const void* one = dbl ? static_cast<const void*>(&one_d) : &one_f;
  const void* zero = dbl ? static_cast<const void*>(&zero_d) : &zero_f;
  cudnnStatus_t s;  // d's math is the choice's already
  if (k == Kind::kForward) {
    s = a.cudnnConvolutionForward(h, one, d.x.d, b.x, d.w.d, b.w, d.conv.d,
                                  static_cast<cudnnConvolutionFwdAlgo_t>(ch.algo), ws, ch.workspace, zero,
                                  d.y.d, b.y);
  } else if (k == Kind::kBackwardData) {
    s = a.cudnnConvolutionBackwardData(h, one, d.w.d, b.w, d.y.d, b.y, d.conv.d,
                                       static_cast<cudnnConvolutionBwdDataAlgo_t>(ch.algo), ws, ch.workspace,
                                       zero, d.x.d, b.x);
  } else {
    s = a.cudnnConvolutionBackwardFilter(h, one, d.x.d, b.x, d.y.d, b.y, d.conv.d,
                                         static_cast<cudnnConvolutionBwdFilterAlgo_t>(ch.algo), ws,
                                         ch.workspace, zero, d.w.d, b.w);
  }
  if (s == CUDNN_STATUS_SUCCESS) count_run();
  return s;
}

void check_run(cudnnStatus_t s, Kind k, const Case& c, const Choice& ch) {
  TD_CHECK(s == CUDNN_STATUS_SUCCESS, ErrorCode::kInternal, "[convolution] cuDNN's ", kind_name(k),
           " failed: ", status_text(s), " (input ", dims_text(c.x, c.nd), ", weight ", dims_text(c.w, c.nd),
           ", output ", dims_text(c.y, c.nd), ", groups ", c.groups, ", algorithm ", ch.algo, ")");
}

// What the cache holds for a key: a choice, a refusal (cuDNN has no algorithm for the case), or nothing yet.
std::optional<std::optional<Cached>> cached(const std::vector<int>& key) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto it = cache.find(key);
  if (it == cache.end()) return std::nullopt;
  return it->second;
}

void remember(const std::vector<int>& key, std::optional<Cached> choice) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  cache[key] = choice;
}

// Runs kind k on the case: the cached choice, else the first candidate that succeeds, is deterministic where
// asked and gets its workspace. False, having written nothing, where cuDNN has no algorithm for the case
// (remembered, unless some candidate only lacked memory) or cannot run now.
bool run(Kind k, const Case& c, const std::vector<int>& key, const Buffers& b, int device) {
  const auto hit = cached(key);
  if (hit && !*hit) return false;  // refused before (the graph path, when on, was asked first)
  cudnnHandle_t h = handle_for(device);
  if (!h) return false;
  if (hit) {
    const Cached& e = **hit;
    bool ok = false;
    auto ws = try_workspace(e.choice.workspace, device, ok);
    if (ok) {
      const cudnnStatus_t s = execute(k, h, c, *e.descriptors, b, e.choice, ws ? ws->data : nullptr);
      if (s == CUDNN_STATUS_SUCCESS) return true;
      if (!refused(s)) check_run(s, k, c, e.choice);
    }
    // No room for its workspace now, or refused on these buffers: choose again.
  }
  auto owned = std::make_shared<Descriptors>();
  Descriptors& d = *owned;
  if (const cudnnStatus_t s = describe(c, d, true); s != CUDNN_STATUS_SUCCESS) {
    // cuDNN cannot describe the case: refused for good; an allocation or internal failure may pass.
    if (unusable(s)) mark_broken(std::string("cuDNN could not describe a convolution: ") + status_text(s));
    if (refused(s)) remember(key, std::nullopt);
    return false;
  }
  // Where cuDNN computes another output size (output_padding past the stride), the im2col path takes it.
  if (auto out = output_dims(c, d); !out || *out != c.y) {
    remember(key, std::nullopt);
    return false;
  }
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  const std::vector<Perf> ranked = candidates(k, h, d, b, backends::cudnn::benchmark(), device, status);
  if (status != CUDNN_STATUS_SUCCESS) {
    if (unusable(status)) mark_broken(std::string("cuDNN could not rank algorithms: ") + status_text(status));
    TD_CHECK(refused(status) || unusable(status), ErrorCode::kInternal, "[convolution] cuDNN could not rank ",
             "algorithms for ", kind_name(k), ": ", status_text(status));
    if (refused(status)) remember(key, std::nullopt);
    return false;
  }
  const bool deterministic = backends::cudnn::deterministic();
  const cudnnMathType_t start = initial_math(c);
  bool lacked_memory = false;
  for (const Perf& p : ranked) {
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    Choice ch{p.algo, p.math, p.memory};
    // float32 without TF32 keeps FMA math whatever math the ranking names (PyTorch does the same).
    if (start == CUDNN_FMA_MATH) {
      if (p.math == CUDNN_TENSOR_OP_MATH || p.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
      ch.math = CUDNN_FMA_MATH;
    }
    size_t asked = 0;
    if (api().cudnnSetConvolutionMathType(d.conv.d, ch.math) != CUDNN_STATUS_SUCCESS ||
        workspace_size(k, h, d, ch.algo, asked) != CUDNN_STATUS_SUCCESS) {
      continue;
    }
    ch.workspace = std::max(ch.workspace, asked);
    bool ok = false;
    auto ws = try_workspace(ch.workspace, device, ok);
    if (!ok) {  // too large for the memory left now: the next one
      lacked_memory = true;
      continue;
    }
    const cudnnStatus_t s = execute(k, h, c, d, b, ch, ws ? ws->data : nullptr);
    if (refused(s)) continue;  // refused at launch (nothing was written): the next one
    check_run(s, k, c, ch);
    remember(key, Cached{ch, std::move(owned)});
    return true;
  }
  if (!lacked_memory) remember(key, std::nullopt);
  return false;
}

// Whether the cache says cuDNN refuses the case (the caller then stages nothing).
bool known_refused(const std::vector<int>& key) {
  auto hit = cached(key);
  return hit && !*hit;
}

// The smallest alignment, in bytes up to 16, of the given pointers.
int alignment(std::initializer_list<const void*> pointers) {
  int align = 16;
  for (const void* p : pointers) {
    const auto v = reinterpret_cast<uintptr_t>(p);
    while (align > 1 && v % static_cast<uintptr_t>(align) != 0) align /= 2;
  }
  return align;
}

size_t element_size(DType t) {
  return t == DType::kFloat64 ? 8 : t == DType::kFloat32 ? 4 : 2;
}

// A packed device copy of a strided weight (or a packed buffer for a weight gradient to be copied out).
class Staged {
 public:
  Staged(const StridedRef& t, int device, bool copy_in) : ref_(t), device_(device) {
    if (packed(t)) return;
    ws_.emplace(static_cast<size_t>(t.numel()) * element_size(t.dtype), device);
    int64_t step = 1;
    strides_.resize(t.sizes.size());
    for (size_t d = t.sizes.size(); d-- > 0;) {
      strides_[d] = step;
      step *= t.sizes[d];
    }
    if (copy_in) cuda_backend().copy(packed_ref(), t, device);
  }
  void* data() const { return ws_ ? ws_->data : ref_.data; }
  /// Copies the packed buffer back to the strided tensor.
  void copy_out() const {
    if (ws_) cuda_backend().copy(ref_, packed_ref(), device_);
  }

 private:
  StridedRef packed_ref() const { return {ws_->data, ref_.dtype, ref_.sizes, strides_}; }
  StridedRef ref_;
  int device_;
  std::optional<cuda::Workspace> ws_;
  std::vector<int64_t> strides_;
};

bool plain(std::initializer_list<const StridedRef*> refs) {
  for (const StridedRef* r : refs) {
    if (!packed(*r) || !type_of(r->dtype)) return false;
  }
  return true;
}

// One call of kind k on the convolution of x by w giving y, the tensors as that kind names them (backward
// data's x is the input's gradient, backward filter's w the weight's): unless the cache says cuDNN refuses
// the case, w staged packed (copied in, or for backward filter out after the call), then run.
bool convolve(Kind k, const StridedRef& x, const StridedRef& w, const StridedRef& y, const ConvWindow& win,
              int64_t groups, int device) {
  const auto c = case_of(x.dtype, x.sizes, w.sizes, y.sizes, win, groups);
  if (!c) return false;
  const int align = alignment({x.data, packed(w) ? w.data : nullptr, y.data});
  const auto key = c->key(static_cast<int>(k), device, align);
  const bool graph = backends::cudnn::graph_api();
  if (!graph && known_refused(key)) return false;
  const bool w_is_output = k == Kind::kBackwardFilter;
  Staged sw(w, device, !w_is_output);
  const Buffers b{x.data, sw.data(), y.data};
  if (!(graph && graph_convolve(k, *c, key, b, align, device)) && !run(k, *c, key, b, device)) return false;
  if (w_is_output) sw.copy_out();
  return true;
}

}  // namespace

int64_t cudnn_convolutions_run() {
  return runs.load(std::memory_order_relaxed);
}

bool cudnn_conv_forward(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                        const ConvWindow& win, int64_t groups, int device) {
  if (!usable() || !plain({&y, &x}) || (bias.data && !plain({&bias}))) return false;
  if (!convolve(Kind::kForward, x, w, y, win, groups, device)) return false;
  if (bias.data) {
    // y += bias[c], broadcast: the backend's add (cuDNN's cudnnAddTensor is one more call that could refuse
    // after the convolution ran).
    std::vector<int64_t> strides(y.sizes.size(), 0);
    strides[1] = bias.strides[0];
    cuda_backend().binary(BinaryOp::kAdd, y, y, StridedRef{bias.data, bias.dtype, y.sizes, strides},
                          Scalar(1), device);
  }
  return true;
}

bool cudnn_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                               const ConvWindow& win, int64_t groups, int device) {
  return usable() && plain({&gx, &gy}) && convolve(Kind::kBackwardData, gx, w, gy, win, groups, device);
}

bool cudnn_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                const StridedRef& gy, const ConvWindow& win, int64_t groups, int device) {
  if (!usable() || !plain({&x, &gy}) || (gb.data && !plain({&gb}))) return false;
  if (!convolve(Kind::kBackwardFilter, x, gw, gy, win, groups, device)) return false;
  if (gb.data) {
    // The bias's gradient: gy [N, C, S...] seen as [C, N, S] summed over its last two dims, the backend's
    // reduction.
    const int64_t n = gy.sizes[0], channels = gy.sizes[1];
    const int64_t spatial = gy.numel() / std::max<int64_t>(n * channels, 1);
    const std::vector<int64_t> sizes = {channels, n, spatial}, strides = {spatial, channels * spatial, 1};
    cuda_backend().reduce(ReduceOp::kSum, gb, StridedRef{gy.data, gy.dtype, sizes, strides}, 2, device);
  }
  return true;
}

std::vector<int64_t> cudnn_output_sizes(DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                                        const ConvWindow& win, int64_t groups) {
  if (loaded_version() == 0) return {};
  const auto c = case_of(dtype, x, w, {}, win, groups);
  if (!c) return {};
  Descriptors d;
  if (describe(*c, d, false) != CUDNN_STATUS_SUCCESS) return {};
  const auto out = output_dims(*c, d);
  if (!out) return {};
  std::vector<int64_t> sizes;
  for (int i = 0; i < c->nd; ++i) {
    if (i == 2 && win.dims == 1) continue;  // the height of a 1-d window
    sizes.push_back((*out)[static_cast<size_t>(i)]);
  }
  return sizes;
}

}  // namespace td::kernels
