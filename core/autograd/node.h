// The dynamic tape: nodes, edges and per-tensor autograd state (DESIGN.md invariant 4). Internal to core.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

/// A list of tensor hooks with removable ids; shared so a HookHandle can outlive the owner safely.
struct HookList {
  std::list<std::pair<uint64_t, TensorHook>> hooks;
  uint64_t next_id = 0;
  /// Runs every hook in registration order; each may replace the gradient.
  Tensor run(Tensor grad) const;
  HookHandle add(const std::shared_ptr<HookList>& self, TensorHook hook);
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
};

/// Accumulates into a leaf's .grad; tensor hooks of the leaf run first.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf);
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
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

/// Runs the graph backward from roots with their seed gradients (the engine).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                  bool create_graph);

}  // namespace td::autograd
