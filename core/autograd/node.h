// The dynamic tape: nodes, edges and per-tensor autograd state (DESIGN.md invariant 4). Internal to core.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace td::autograd {

struct Node;

/// Where a gradient flows: input slot `input_nr` of `node`. An empty edge means "no gradient needed".
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

/// Shape, dtype and device of a tensor a node consumed or produced: enough to make a zero gradient.
struct TensorMeta {
  std::vector<int64_t> sizes;
  DType dtype = DType::kFloat32;
  Device device;
  static TensorMeta of(const Tensor& t);
};

/// PyTorch's error for a backward that reads saved tensors a previous backward freed.
inline constexpr const char* kFreedGraphMessage =
    "[backward] Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a "
    "second time or if you need to access saved tensors after calling backward.";

/// A list of hooks with removable ids; shared so a HookHandle can outlive the owner safely.
template <class Fn>
struct RemovableList {
  std::list<std::pair<uint64_t, Fn>> hooks;
  uint64_t next_id = 0;
  static HookHandle add(const std::shared_ptr<RemovableList>& self, Fn hook) {
    uint64_t id = self->next_id++;
    self->hooks.emplace_back(id, std::move(hook));
    std::weak_ptr<RemovableList> weak = self;
    return HookHandle([weak, id] {
      if (auto list = weak.lock()) list->hooks.remove_if([id](const auto& h) { return h.first == id; });
    });
  }
};

/// Tensor hooks of one tensor.
struct HookList : RemovableList<TensorHook> {
  /// Runs every hook in registration order; each may replace the gradient.
  Tensor run(Tensor grad) const;
};

/// A backward function in the graph. Input slot i receives the gradient of the forward's output i.
struct Node : std::enable_shared_from_this<Node> {
  Node();
  virtual ~Node() = default;
  /// The name PyTorch shows for grad_fn ("MmBackward0", "AccumulateGrad").
  virtual std::string name() const = 0;
  /// Maps gradients of the forward outputs to gradients of the forward inputs (one per next edge).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  /// Frees saved tensors after a backward without retain_graph.
  virtual void release_variables() {}

  std::vector<Edge> next_edges;
  /// Metadata of the forward outputs, one per input slot.
  std::vector<TensorMeta> output_meta;
  /// Tensor hooks registered on the forward output of each slot (non-leaf register_hook).
  std::map<uint32_t, std::shared_ptr<HookList>> pre_hooks;
  /// Slots whose gradient is kept on the output tensor (retain_grad), weakly referenced.
  std::map<uint32_t, std::weak_ptr<TensorImpl>> retained;
  /// Creation order: the engine runs later nodes first, as PyTorch does.
  uint64_t sequence_nr;
  /// With anomaly detection on when the node was recorded: the forward op and its input shapes
  /// ("div with input shapes [2] and [2]"), named by backward's errors.
  std::string forward_context;
};

/// Accumulates into a leaf's .grad; tensor hooks of the leaf run first, post-accumulate-grad hooks after.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf);
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  /// The leaf's tensor hooks applied to grad (also run by autograd::grad on a captured leaf gradient).
  Tensor run_hooks(Tensor grad) const;
  std::weak_ptr<TensorImpl> leaf;
};

/// A tensor's autograd state.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  /// Hooks of a leaf (a non-leaf's live in grad_fn->pre_hooks).
  std::shared_ptr<HookList> hooks;
  /// Hooks run after the leaf's .grad was accumulated.
  std::shared_ptr<RemovableList<PostAccumulateGradHook>> post_accumulate_hooks;
  std::weak_ptr<Node> grad_accumulator;
};

/// The tensor's autograd state, creating it if absent.
AutogradMeta& meta(const Tensor& t);
/// Null if the tensor has none.
AutogradMeta* meta_if(const Tensor& t);
/// The edge a gradient of t flows to: its grad_fn slot, or its leaf accumulator; empty if t needs no grad.
Edge gradient_edge(const Tensor& t);
/// Makes t an output of node at slot output_nr (and so a non-leaf requiring grad).
void set_history(const Tensor& t, const std::shared_ptr<Node>& node, uint32_t output_nr);

/// Runs the graph backward from roots with their seed gradients (the engine). With no `inputs` every
/// reachable node runs (Tensor::backward); otherwise only the nodes between the roots and the inputs' edges
/// run, and the gradients reaching those edges are returned, one per input, undefined where none arrived
/// (autograd::grad). With `accumulate` (backward(inputs=...)), a leaf input's accumulator runs as in a full
/// backward instead of being captured; the other inputs' gradients are returned. `api` names the caller in
/// errors.
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                                 bool create_graph, const std::vector<Edge>& inputs = {},
                                 std::string_view api = "backward", bool accumulate = false);

/// Whether the running backward needs the gradient that flows along `edge`: false for an empty edge, or one
/// that leads to no input of the running autograd::grad. Nodes use it to skip gradients nobody reads.
bool task_should_compute_output(const Edge& edge);

/// "div with input shapes [2] and []": the forward context anomaly mode keeps on a node.
std::string describe_forward(std::string_view op, const std::vector<TensorMeta>& inputs);

/// PyTorch's error for a saved tensor modified in place after it was saved. `owner` is the grad_fn name
/// of the saved tensor ("" for a leaf), `output_nr` its output slot there.
Error saved_tensor_modified_error(std::string_view op, const TensorMeta& meta, const std::string& owner,
                                  uint32_t output_nr, uint32_t version, uint32_t expected);

}  // namespace td::autograd
