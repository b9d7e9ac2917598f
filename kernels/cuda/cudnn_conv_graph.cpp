// Convolutions through cuDNN's graph API (kernels/cuda/cudnn_conv_case.h), the path PyTorch 2.x takes (its
// "v8 API"): the convolution as an operation graph of one node, ranked by cuDNN's heuristics into engine
// configurations, one of them finalized into an execution plan, cached per case and run with a variant pack
// (the call's pointers and workspace). cuDNN 9's legacy cudnnConvolution* calls build such a graph on every
// call; a cached plan skips that host work, and the heuristics reach engines the legacy algorithm enum does
// not name.
//
// The engine configurations are filtered as PyTorch filters them: none that down-converts its inputs, none
// marked non-deterministic where deterministic is set, no tensor-core engine for float32 unless TF32 is
// allowed. Without benchmark, the first that finalizes, gets its workspace and runs is kept (cuDNN's instant
// heuristics first, then its fallback list); with benchmark, the first ten that finalize and run are timed with
// CUDA events and the fastest kept (torch.backends.cudnn.benchmark_limit's default).
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/cudnn.h"
#include "core/error.h"
#include "kernels/cuda/cudnn_conv_case.h"
#include "kernels/cuda/stream.h"
#include "kernels/cudnn.h"

namespace td::kernels {

namespace {

using namespace cudnn;  // NOLINT: the shared loader and the convolution's case

std::atomic<int64_t> graph_runs{0}, graph_choices{0};

// Why the graph API cannot run in this process (a sub-library missing or mismatched); empty while it can.
std::mutex broken_mutex;
std::string broken_reason;
std::atomic<bool> broken{false};

void mark_graph_broken(const std::string& why) {
  std::lock_guard<std::mutex> lock(broken_mutex);
  if (!broken.load(std::memory_order_relaxed)) broken_reason = why;
  broken.store(true, std::memory_order_relaxed);
}

// An owning backend descriptor.
class Desc {
 public:
  Desc() = default;
  explicit Desc(cudnnBackendDescriptorType_t type) {
    if (api().cudnnBackendCreateDescriptor(type, &d_) != CUDNN_STATUS_SUCCESS) d_ = nullptr;
  }
  Desc(Desc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Desc& operator=(Desc&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (d_) api().cudnnBackendDestroyDescriptor(d_);
  }
  cudnnBackendDescriptor_t get() const { return d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// A descriptor's set-up: attributes, then finalize, stopping at the first status that is not success.
class Build {
 public:
  explicit Build(const Desc& d) : d_(d.get()), s_(d_ ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED) {}
  Build& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t n, const void* v) {
    if (s_ == CUDNN_STATUS_SUCCESS) s_ = api().cudnnBackendSetAttribute(d_, name, type, n, v);
    return *this;
  }
  Build& set(cudnnBackendAttributeName_t name, const Desc& v) {
    const cudnnBackendDescriptor_t p = v.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &p);
  }
  cudnnStatus_t finalize() {
    if (s_ == CUDNN_STATUS_SUCCESS) s_ = api().cudnnBackendFinalize(d_);
    return s_;
  }

 private:
  cudnnBackendDescriptor_t d_;
  cudnnStatus_t s_;
};

constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;

Desc tensor(int64_t uid, cudnnDataType_t type, const std::array<int, 5>& dims, int nd, int64_t align,
            cudnnStatus_t& s) {
  Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  std::array<int64_t, 5> d{}, st{};
  const std::array<int, 5> packed = packed_strides(dims, nd);
  for (int i = 0; i < nd; ++i) {
    d[static_cast<size_t>(i)] = dims[static_cast<size_t>(i)];
    st[static_cast<size_t>(i)] = packed[static_cast<size_t>(i)];
  }
  s = Build(t)
          .set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)
          .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, nd, d.data())
          .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, nd, st.data())
          .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
          .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align)
          .finalize();
  return t;
}

// The operation graph of one convolution call, and every descriptor it refers to (kept as long as a plan
// made from it).
struct Graph {
  Desc x, w, y, conv, op, graph;
};

// The attributes of each kind's operation node: its descriptor type, alpha, beta, conv, x, w, y.
struct NodeAttrs {
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
};
NodeAttrs node_attrs(Kind k) {
  switch (k) {
    case Kind::kForward:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y};
    case Kind::kBackwardData:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY};
    case Kind::kBackwardFilter:
      break;
  }
  return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY};
}

// Builds the graph of kind k on case c for handle h (null: for no device, which cuDNN finalizes but cannot
// rank or plan). cuDNN's status.
cudnnStatus_t build_graph(Kind k, const Case& c, int64_t align, cudnnHandle_t h, Graph& g) {
  cudnnStatus_t s = CUDNN_STATUS_SUCCESS;
  g.x = tensor(kUidX, c.type, c.x, c.nd, align, s);
  if (s == CUDNN_STATUS_SUCCESS) g.w = tensor(kUidW, c.type, c.w, c.nd, align, s);
  if (s == CUDNN_STATUS_SUCCESS) g.y = tensor(kUidY, c.type, c.y, c.nd, align, s);
  if (s != CUDNN_STATUS_SUCCESS) return s;

  const int64_t spatial = c.nd - 2;
  std::array<int64_t, 3> pad{}, stride{}, dilation{};
  for (int64_t i = 0; i < spatial; ++i) {
    pad[static_cast<size_t>(i)] = c.pad[static_cast<size_t>(i)];
    stride[static_cast<size_t>(i)] = c.stride[static_cast<size_t>(i)];
    dilation[static_cast<size_t>(i)] = c.dilation[static_cast<size_t>(i)];
  }
  // Half types accumulate in float, as PyTorch's graphs ask; groups follow from x's and w's channel counts.
  const cudnnDataType_t compute = c.type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  g.conv = Desc(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  s = Build(g.conv)
          .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial)
          .set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute)
          .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
          .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, spatial, dilation.data())
          .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, spatial, stride.data())
          .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, spatial, pad.data())
          .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, spatial, pad.data())
          .finalize();
  if (s != CUDNN_STATUS_SUCCESS) return s;

  const NodeAttrs a = node_attrs(k);
  const bool dbl = c.type == CUDNN_DATA_DOUBLE;
  const double one_d = 1, zero_d = 0;
  const float one_f = 1, zero_f = 0;
  const cudnnBackendAttributeType_t scalar = dbl ? CUDNN_TYPE_DOUBLE : CUDNN_TYPE_FLOAT;
  g.op = Desc(a.type);
  s = Build(g.op)
          .set(a.x, g.x)
          .set(a.w, g.w)
          .set(a.y, g.y)
          .set(a.conv, g.conv)
          .set(a.alpha, scalar, 1, dbl ? static_cast<const void*>(&one_d) : &one_f)
          .set(a.beta, scalar, 1, dbl ? static_cast<const void*>(&zero_d) : &zero_f)
          .finalize();
  if (s != CUDNN_STATUS_SUCCESS) return s;

  g.graph = Desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  Build b(g.graph);
  b.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, g.op);
  if (h) b.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  return b.finalize();
}

// Whether an engine configuration passes PyTorch's filters for the case under the current settings.
bool acceptable(const Desc& config, const Case& c) {
  Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t e = engine.get();
  int64_t n = 0;
  if (!e ||
      api().cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                     1, &n, &e) != CUDNN_STATUS_SUCCESS) {
    return false;
  }
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
  if (api().cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                     static_cast<int64_t>(notes.size()), &n,
                                     notes.data()) != CUDNN_STATUS_SUCCESS) {
    return false;
  }
  const bool deterministic = backends::cudnn::deterministic();
  for (int64_t i = 0; i < std::min<int64_t>(n, static_cast<int64_t>(notes.size())); ++i) {
    switch (notes[static_cast<size_t>(i)]) {
      case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
        return false;
      case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC:
        if (deterministic) return false;
        break;
      case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:
        if (c.type == CUDNN_DATA_FLOAT && !c.tf32) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

// The engine configurations cuDNN's heuristics (mode) offer for the graph, best first, filtered.
std::vector<Desc> configurations(const Graph& g, const Case& c, cudnnBackendHeurMode_t mode,
                                 cudnnStatus_t& s) {
  Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendDescriptor_t graph = g.graph.get();
  s = Build(heur)
          .set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph)
          .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode)
          .finalize();
  if (s != CUDNN_STATUS_SUCCESS) return {};
  int64_t n = 0;
  s = api().cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                     0, &n, nullptr);
  if (s != CUDNN_STATUS_SUCCESS || n <= 0) return {};
  std::vector<Desc> all;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < n; ++i) {
    all.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    if (!all.back().get()) {
      s = CUDNN_STATUS_ALLOC_FAILED;
      return {};
    }
    raw.push_back(all.back().get());
  }
  int64_t got = 0;
  s = api().cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                     n, &got, raw.data());
  if (s != CUDNN_STATUS_SUCCESS) return {};
  std::vector<Desc> kept;
  for (int64_t i = 0; i < std::min(got, n); ++i) {
    if (acceptable(all[static_cast<size_t>(i)], c)) kept.push_back(std::move(all[static_cast<size_t>(i)]));
  }
  return kept;
}

// A finalized execution plan and what it was made from (cuDNN's descriptors refer to the ones they were set
// up with, so these live as long as the plan).
struct Plan {
  std::shared_ptr<const Graph> graph;
  Desc config, plan;
  size_t workspace = 0;
};

// Finalizes config (one of graph's) into a plan for handle h; null where cuDNN does not take it (`status`:
// why).
std::unique_ptr<Plan> make_plan(std::shared_ptr<const Graph> graph, Desc config, cudnnHandle_t h,
                                cudnnStatus_t& status) {
  auto p = std::make_unique<Plan>();
  p->graph = std::move(graph);
  p->config = std::move(config);
  p->plan = Desc(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  status = Build(p->plan)
               .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, p->config)
               .set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)
               .finalize();
  if (status != CUDNN_STATUS_SUCCESS) return nullptr;
  int64_t bytes = 0, n = 0;
  status = api().cudnnBackendGetAttribute(p->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                          CUDNN_TYPE_INT64, 1, &n, &bytes);
  if (status != CUDNN_STATUS_SUCCESS || bytes < 0) {
    if (status == CUDNN_STATUS_SUCCESS) status = CUDNN_STATUS_NOT_SUPPORTED;
    return nullptr;
  }
  p->workspace = static_cast<size_t>(bytes);
  return p;
}

// Runs a plan on the call's buffers with a workspace of the plan's size; cuDNN's status.
cudnnStatus_t execute(cudnnHandle_t h, const Plan& p, const Buffers& b, void* ws) {
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  const std::array<int64_t, 3> uids = {kUidX, kUidW, kUidY};
  const std::array<void*, 3> pointers = {b.x, b.w, b.y};
  const cudnnStatus_t s =
      Build(pack)
          .set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids.data())
          .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers.data())
          .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws)
          .finalize();
  if (s != CUDNN_STATUS_SUCCESS) return s;
  return api().cudnnBackendExecute(h, p.plan.get(), pack.get());
}

void check_executed(cudnnStatus_t s, Kind k, const Case& c) {
  TD_CHECK(s == CUDNN_STATUS_SUCCESS, ErrorCode::kInternal, "[convolution] cuDNN's graph API failed to run ",
           kind_name(k), ": ", status_text(s), " (input ", dims_text(c.x, c.nd), ", weight ",
           dims_text(c.w, c.nd), ", output ", dims_text(c.y, c.nd), ", groups ", c.groups, ")");
}

// Mean time of a plan over a few runs on the call's buffers, in ms; nullopt where it does not run.
std::optional<float> time_plan(cudnnHandle_t h, const Plan& p, const Buffers& b, void* ws, Kind k,
                               const Case& c) {
  cudnnStatus_t s = execute(h, p, b, ws);  // the first run loads the kernel
  if (refused(s)) return std::nullopt;
  check_executed(s, k, c);
  struct Events {  // destroyed on every way out
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start) cudaEventDestroy(start);
      if (stop) cudaEventDestroy(stop);
    }
  } ev;
  cuda::check(cudaEventCreate(&ev.start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&ev.stop), "cudaEventCreate");
  constexpr int kRuns = 3;
  cuda::check(cudaEventRecord(ev.start, cuda::stream()), "cudaEventRecord");
  for (int i = 0; i < kRuns && s == CUDNN_STATUS_SUCCESS; ++i) s = execute(h, p, b, ws);
  cuda::check(cudaEventRecord(ev.stop, cuda::stream()), "cudaEventRecord");
  float ms = 0;
  const cudaError_t e = cudaEventSynchronize(ev.stop);
  if (e == cudaSuccess) cuda::check(cudaEventElapsedTime(&ms, ev.start, ev.stop), "cudaEventElapsedTime");
  cuda::check(e, "cudaEventSynchronize");
  if (refused(s)) return std::nullopt;
  check_executed(s, k, c);
  return ms / kRuns;
}

// Plans kept per handle and key: a plan (and its operation graph) is made for one handle, which one thread
// at a time uses (cuDNN's rule for thread safety; PyTorch keeps its plans per thread). Cases the graph API
// has no plan for are refused for every handle. Never destroyed: their descriptors would be destroyed at exit
// through a function table already gone.
std::mutex cache_mutex;
using PlanKey = std::pair<cudnnHandle_t, std::vector<int>>;
std::map<PlanKey, std::shared_ptr<const Plan>>& plans = *new std::map<PlanKey, std::shared_ptr<const Plan>>;
std::set<std::vector<int>>& refused_cases = *new std::set<std::vector<int>>;

// The plan for a case: cuDNN's instant heuristics, then its fallback list; the first plan that finalizes,
// gets its workspace and runs (or, with benchmark, the fastest of the first ten). Runs it on the call's
// buffers. `ran` says whether the call's convolution was done; `passing` whether some failure may pass (a
// plan only lacked its workspace, or cuDNN failed to allocate or internally): the case is then not refused
// for good.
std::shared_ptr<const Plan> choose(Kind k, const Case& c, int64_t align, cudnnHandle_t h, const Buffers& b,
                                   int device, bool& ran, bool& passing) {
  ran = passing = false;
  auto note = [&](cudnnStatus_t s) { passing = passing || (s != CUDNN_STATUS_SUCCESS && !refused(s)); };
  const bool measure = backends::cudnn::benchmark();
  constexpr size_t kTimed = 10;
  std::shared_ptr<Plan> best;
  float best_ms = 0;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_INSTANT, CUDNN_HEUR_MODE_FALLBACK}) {
    auto graph = std::make_shared<Graph>();
    cudnnStatus_t s = build_graph(k, c, align, h, *graph);
    std::vector<Desc> configs;
    if (s == CUDNN_STATUS_SUCCESS) configs = configurations(*graph, c, mode, s);
    if (unusable(s)) {
      mark_graph_broken(std::string("cuDNN's graph API cannot run here: ") + status_text(s));
      return nullptr;
    }
    note(s);
    size_t timed = 0;
    for (Desc& config : configs) {
      cudnnStatus_t made = CUDNN_STATUS_SUCCESS;
      std::unique_ptr<Plan> p = make_plan(graph, std::move(config), h, made);
      note(made);
      if (!p) continue;
      bool ok = false;
      auto ws = try_workspace(p->workspace, device, ok);
      if (!ok) {  // too large for the memory left now: the next one
        passing = true;
        continue;
      }
      if (!measure) {
        const cudnnStatus_t run = execute(h, *p, b, ws ? ws->data : nullptr);
        if (refused(run)) continue;  // refused at launch (nothing was written): the next one
        check_executed(run, k, c);
        ran = true;
        return std::shared_ptr<const Plan>(std::move(p));
      }
      const std::optional<float> ms = time_plan(h, *p, b, ws ? ws->data : nullptr, k, c);
      if (!ms) continue;
      if (!best || *ms < best_ms) {
        best = std::move(p);
        best_ms = *ms;
      }
      if (++timed == kTimed) break;
    }
    if (best) break;  // the fallback list only where the heuristics gave nothing that runs
  }
  return best;
}

}  // namespace

namespace cudnn {

bool graph_convolve(Kind k, const Case& c, const std::vector<int>& key, const Buffers& b, int align,
                    int device) {
  if (broken.load(std::memory_order_relaxed)) return false;
  auto refuse = [&] {
    std::lock_guard<std::mutex> lock(cache_mutex);
    refused_cases.insert(key);
    return false;
  };
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (refused_cases.count(key)) return false;
  }
  // cuDNN's descriptors cannot say another output size: the legacy check finds the same and im2col runs it.
  if (!c.output_matches()) return refuse();
  cudnnHandle_t h = handle_for(device);
  if (!h) return false;
  PlanKey plan_key{h, key};
  std::shared_ptr<const Plan> plan;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto it = plans.find(plan_key); it != plans.end()) plan = it->second;
  }
  if (plan) {
    bool ok = false;
    auto ws = try_workspace(plan->workspace, device, ok);
    if (ok) {
      const cudnnStatus_t s = execute(h, *plan, b, ws ? ws->data : nullptr);
      if (s == CUDNN_STATUS_SUCCESS) {
        graph_runs.fetch_add(1, std::memory_order_relaxed);
        count_run();
        return true;
      }
      if (!refused(s)) check_executed(s, k, c);
    }
    // No room for its workspace now, or refused on these buffers: choose again.
  }
  bool ran = false, passing = false;
  graph_choices.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const Plan> chosen = choose(k, c, align, h, b, device, ran, passing);
  if (!chosen) {
    if (!passing && !broken.load(std::memory_order_relaxed)) return refuse();
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    plans[plan_key] = chosen;
  }
  if (!ran) {  // benchmark mode timed it on these buffers; the call's own run, with its result, is this one
    bool ok = false;
    auto ws = try_workspace(chosen->workspace, device, ok);
    if (!ok) return false;
    const cudnnStatus_t s = execute(h, *chosen, b, ws ? ws->data : nullptr);
    if (refused(s)) return false;
    check_executed(s, k, c);
  }
  graph_runs.fetch_add(1, std::memory_order_relaxed);
  count_run();
  return true;
}

}  // namespace cudnn

int64_t cudnn_graph_convolutions_run() {
  return graph_runs.load(std::memory_order_relaxed);
}

int64_t cudnn_graph_choices() {
  return graph_choices.load(std::memory_order_relaxed);
}

std::string cudnn_graph_unusable_reason() {
  std::lock_guard<std::mutex> lock(broken_mutex);
  return broken_reason;
}

bool cudnn_graph_builds(int kind, DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                        std::span<const int64_t> y, const ConvWindow& win, int64_t groups) {
  if (loaded_version() == 0 || kind < 0 || kind > 2) return false;
  const std::optional<Case> c = case_of(dtype, x, w, y, win, groups);
  if (!c) return false;
  Graph g;
  return build_graph(static_cast<Kind>(kind), *c, 16, nullptr, g) == CUDNN_STATUS_SUCCESS;
}

}  // namespace td::kernels
