// The autograd engine and per-tensor autograd state: a dependency-counted walk of the tape, newest node
// first, with tensor hooks run as each gradient is computed (DESIGN.md invariant 4).
#include <atomic>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/autograd.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/profiler/hooks.h"
#include "core/tensor_impl.h"

namespace td::autograd {

namespace {
thread_local bool t_grad_enabled = true;
thread_local bool t_inference_enabled = false;
std::atomic<bool> g_anomaly_enabled{false};
std::atomic<bool> g_anomaly_check_nan{true};
std::atomic<uint64_t> g_sequence_nr{0};
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

InferenceMode::InferenceMode(bool enabled) : prev_inference_(t_inference_enabled), prev_grad_(t_grad_enabled) {
  t_inference_enabled = enabled;
  t_grad_enabled = !enabled;
}
InferenceMode::~InferenceMode() {
  t_inference_enabled = prev_inference_;
  t_grad_enabled = prev_grad_;
}
bool InferenceMode::is_enabled() { return t_inference_enabled; }

bool AnomalyMode::is_enabled() { return g_anomaly_enabled.load(std::memory_order_relaxed); }
bool AnomalyMode::should_check_nan() { return g_anomaly_check_nan.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool enabled, bool check_nan) {
  g_anomaly_enabled = enabled;
  g_anomaly_check_nan = check_nan;
}

Node::Node() : sequence_nr(g_sequence_nr++) {}

TensorMeta TensorMeta::of(const Tensor& t) { return TensorMeta{t.shape(), t.dtype(), t.device()}; }

std::vector<AnomalyModuleFrame>& anomaly_module_stack() {
  thread_local std::vector<AnomalyModuleFrame> stack;
  return stack;
}

std::string describe_forward(std::string_view op, const std::vector<TensorMeta>& inputs) {
  std::string s = str(op, " with input shapes");
  if (inputs.empty()) {
    s += " (none)";
  } else {
    for (size_t i = 0; i < inputs.size(); ++i) {
      s += i == 0 ? " " : i + 1 == inputs.size() ? " and " : ", ";
      s += shape_str(inputs[i].sizes);
    }
  }
  // The innermost module call in progress, as the module lines of PyTorch's forward traceback.
  if (const auto& modules = anomaly_module_stack(); !modules.empty()) {
    const AnomalyModuleFrame& m = modules.back();
    s += m.path.empty() ? str(" in ", m.type, ".forward") : str(" in module ", m.path, " (", m.type, ")");
  }
  return s;
}

Error saved_tensor_modified_error(std::string_view op, const TensorMeta& m, const std::string& owner,
                                  uint32_t output_nr, uint32_t version, uint32_t expected) {
  std::string of = owner.empty() ? "" : str(", which is output ", output_nr, " of ", owner, ",");
  return Error(ErrorCode::kFailedPrecondition,
               str("[", op, "] one of the variables needed for gradient computation has been modified by an "
                   "inplace operation: [", dtype_name(m.dtype), " ", shape_str(m.sizes), "]", of, " is at version ",
                   version, "; expected version ", expected, " instead."));
}

Tensor HookList::run(Tensor grad) const {
  for (const auto& [id, hook] : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) {
      TD_CHECK_ARG(replaced.shape() == grad.shape(), "[register_hook] hook returned a gradient of shape ",
                   shape_str(replaced.shape()), " for a tensor of shape ", shape_str(grad.shape()));
      grad = std::move(replaced);
    }
  }
  return grad;
}

AutogradMeta& meta(const Tensor& t) {
  auto& slot = t.impl().autograd;
  if (!slot) slot = std::make_unique<AutogradMeta>();
  return *slot;
}
AutogradMeta* meta_if(const Tensor& t) { return t.defined() ? t.impl().autograd.get() : nullptr; }

namespace {
std::shared_ptr<Node> grad_accumulator(const Tensor& t) {
  AutogradMeta& m = meta(t);
  if (auto acc = m.grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
  acc->output_meta.push_back(TensorMeta::of(t));
  m.grad_accumulator = acc;
  return acc;
}
}  // namespace

Edge gradient_edge(const Tensor& t) {
  AutogradMeta* m = meta_if(t);
  if (!m) return {};
  if (m->grad_fn) return Edge{m->grad_fn, m->output_nr};
  if (m->requires_grad) return Edge{grad_accumulator(t), 0};
  return {};
}

void set_history(const Tensor& t, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  AutogradMeta& m = meta(t);
  m.requires_grad = true;
  m.grad_fn = node;
  m.output_nr = output_nr;
}

AccumulateGrad::AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf_) : leaf(leaf_) {}

namespace {
// Whether a leaf may keep g itself as its .grad: g is contiguous and no tensor but g (and `incoming`, what
// the engine handed over, when the hooks returned it unchanged) holds g or its storage.
bool owned_gradient(const Tensor& g, const Tensor& incoming) {
  if (!g.is_contiguous()) return false;
  const long holders = g.impl_ptr() == incoming.impl_ptr() ? 2 : 1;
  return g.impl_ptr().use_count() <= holders && g.impl().storage.use_count() <= 1;
}
}  // namespace

Tensor AccumulateGrad::run_hooks(Tensor grad) const {
  auto impl = leaf.lock();
  if (!impl || !impl->autograd || !impl->autograd->hooks) return grad;
  return impl->autograd->hooks->run(std::move(grad));
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  auto impl = leaf.lock();
  if (!impl || !grads[0].defined()) return {};
  Tensor variable(impl);
  AutogradMeta& m = meta(variable);
  Tensor g = run_hooks(grads[0]);
  // Out-of-place accumulation: never writes into a tensor the caller may still hold.
  if (!m.grad.defined()) {
    if (GradMode::is_enabled()) {
      m.grad = g;
    } else if (owned_gradient(g, grads[0])) {
      m.grad = g.detach();  // nobody else holds it: the leaf takes it as it is
    } else {
      // PyTorch's AccumulateGrad copies a gradient that another tensor shares (add's backward hands both
      // inputs one tensor) or that is not dense (sum's backward expands a number): the leaf's .grad is its
      // own, so an in-place change of it (clip_grad_norm_'s scaling) touches no other leaf's, and writes each
      // element once.
      Tensor own = g.detach().clone();
      m.grad = own.is_contiguous() ? own : own.contiguous();
    }
  } else {
    m.grad = GradMode::is_enabled() ? m.grad.add(g) : m.grad.add(g).detach();
  }
  if (m.post_accumulate_hooks) {
    // A copy of the list: a hook may remove itself (or others) while they run.
    auto hooks = m.post_accumulate_hooks->hooks;
    for (auto& [id, hook] : hooks) hook(variable);
  }
  return {};
}

// ---- the engine ----

namespace {
struct NodeTask {
  std::shared_ptr<Node> node;
  bool operator<(const NodeTask& other) const { return node->sequence_nr < other.node->sequence_nr; }
};

Tensor sum_grads(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a.add(b);
}

// What one run of the engine executes. Unfiltered (backward()), every reachable node; filtered
// (autograd::grad), only the nodes with a path to a captured edge ("needed") and the captured nodes.
struct GraphTask {
  bool filtered = false;
  std::unordered_set<Node*> needed;
  // Captured node -> (input slot, index into the results).
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> captures;
  bool should_execute(Node* n) const { return !filtered || needed.count(n) || captures.count(n); }
};

thread_local const GraphTask* t_current_task = nullptr;

// Makes `task` the thread's current one for the scope; a backward run inside a node (a custom function,
// a hook) gets its own and restores the outer one.
class CurrentTask {
 public:
  explicit CurrentTask(const GraphTask* task) : prev_(std::exchange(t_current_task, task)) {}
  ~CurrentTask() { t_current_task = prev_; }
  CurrentTask(const CurrentTask&) = delete;
  CurrentTask& operator=(const CurrentTask&) = delete;

 private:
  const GraphTask* prev_;
};

// Tensor hooks and retain_grad of each slot: run on the gradient of the forward output before the node
// consumes it (PyTorch's tensor pre-hooks, then its retains_grad hooks).
void run_slot_hooks(Node& node, std::vector<Tensor>& inputs, bool create_graph) {
  for (uint32_t slot = 0; slot < inputs.size(); ++slot) {
    if (!inputs[slot].defined()) continue;
    if (auto it = node.pre_hooks.find(slot); it != node.pre_hooks.end()) inputs[slot] = it->second->run(inputs[slot]);
    if (auto it = node.retained.find(slot); it != node.retained.end()) {
      if (auto impl = it->second.lock()) {
        AutogradMeta& m = meta(Tensor(impl));
        m.grad = m.grad.defined() ? m.grad.add(inputs[slot]) : (create_graph ? inputs[slot] : inputs[slot].detach());
      }
    }
  }
}

std::string anomaly_line(const Node& node) {
  if (node.forward_context.empty()) {
    return str("\n", node.name(), " was recorded with anomaly detection off, so its forward op is unknown.");
  }
  return str("\n", node.name(), " was recorded by the forward op ", node.forward_context, ".");
}

// Anomaly mode's check of one node's results: PyTorch's "returned nan values" error, plus the forward op.
void check_nan(std::string_view api, const Node& node, const std::vector<Tensor>& outputs) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& g = outputs[i];
    if (!g.defined() || !(is_floating(g.dtype()) || is_complex(g.dtype()))) continue;
    if (g.isnan().any().item<bool>()) {
      throw Error(ErrorCode::kFailedPrecondition, str("[", api, "] Function '", node.name(),
                                                      "' returned nan values in its ", i, "th output.",
                                                      anomaly_line(node)));
    }
  }
}

std::vector<Tensor> apply_node(std::string_view api, Node& node, std::vector<Tensor>&& inputs) {
  std::optional<profiler::detail::RangeScope> profiled;
  if (profiler::detail::recording()) [[unlikely]] {
    // PyTorch's name for a node's run; the ops of its formula nest inside.
    profiled.emplace(profiler::detail::RangeScope::Kind::kBackward,
                     "autograd::engine::evaluate_function: " + node.name());
  }
  if (!AnomalyMode::is_enabled()) return node.apply(std::move(inputs));
  std::vector<Tensor> outputs;
  try {
    outputs = node.apply(std::move(inputs));
  } catch (const Error& e) {
    if (node.forward_context.empty()) throw;
    throw Error(e.code(), str(e.what(), anomaly_line(node)));
  }
  if (AnomalyMode::should_check_nan()) check_nan(api, node, outputs);
  return outputs;
}
}  // namespace

bool task_should_compute_output(const Edge& edge) {
  if (!edge.valid()) return false;
  return !t_current_task || t_current_task->should_execute(edge.node.get());
}

std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                                 bool create_graph, const std::vector<Edge>& inputs, std::string_view api,
                                 bool accumulate) {
  GradModeGuard mode(create_graph);
  GraphTask task;
  task.filtered = !inputs.empty();
  CurrentTask current(&task);
  // Count, for each node reachable from the roots, how many edges lead into it.
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::vector<Node*>> parents;  // only when filtered
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  std::priority_queue<NodeTask> ready;

  auto add_grad = [&](const Edge& edge, const Tensor& grad) {
    auto& buf = buffers[edge.node.get()];
    if (buf.empty()) buf.resize(edge.node->output_meta.size());
    buf[edge.input_nr] = sum_grads(buf[edge.input_nr], grad);
  };

  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    TD_CHECK(e.valid(), ErrorCode::kFailedPrecondition,
             "[", api, "] element ", i, " of tensors does not require grad and does not have a grad_fn");
    root_edges.push_back(e);
    if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (task.filtered) parents[e.node.get()].push_back(n);
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }
  if (task.filtered) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (accumulate && dynamic_cast<AccumulateGrad*>(inputs[i].node.get())) {
        task.needed.insert(inputs[i].node.get());  // runs, accumulating into the leaf's .grad
      } else {
        task.captures[inputs[i].node.get()].emplace_back(inputs[i].input_nr, i);
      }
    }
    // A node is needed when it has a path to a captured node: walk the edges backwards from those.
    std::vector<Node*> work;
    for (const auto& [n, slots] : task.captures) work.push_back(n);
    for (Node* n : task.needed) work.push_back(n);
    while (!work.empty()) {
      Node* n = work.back();
      work.pop_back();
      auto it = parents.find(n);
      if (it == parents.end()) continue;
      for (Node* p : it->second) {
        if (task.needed.insert(p).second) work.push_back(p);
      }
    }
  }
  for (size_t i = 0; i < roots.size(); ++i) {
    add_grad(root_edges[i], grads[i]);
    Node* n = root_edges[i].node.get();
    if (dependencies[n] == 0 && task.should_execute(n)) ready.push({root_edges[i].node});
  }

  std::vector<Tensor> captured(inputs.size());
  std::unordered_set<Node*> queued;
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top().node;
    ready.pop();
    if (!queued.insert(node.get()).second) continue;
    std::vector<Tensor> grads_in = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    grads_in.resize(node->output_meta.size());
    run_slot_hooks(*node, grads_in, create_graph);
    if (task.filtered) {
      if (auto it = task.captures.find(node.get()); it != task.captures.end()) {
        // A leaf's accumulator does not run under grad(), but the leaf's own hooks do (PyTorch 2.x).
        auto* acc = dynamic_cast<AccumulateGrad*>(node.get());
        for (auto [slot, index] : it->second) {
          captured[index] = acc && grads_in[slot].defined() ? acc->run_hooks(grads_in[slot]) : grads_in[slot];
        }
      }
      if (!task.needed.count(node.get())) continue;
    }
    std::vector<Tensor> outputs = apply_node(api, *node, std::move(grads_in));
    if (!retain_graph) node->release_variables();
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid() || !task.should_execute(e.node.get())) continue;
      // Nodes whose every incoming edge produced nothing are still released by their own turn.
      if (i < outputs.size() && outputs[i].defined()) add_grad(e, outputs[i]);
      if (--dependencies[e.node.get()] == 0) ready.push({e.node});
    }
  }
  return captured;
}

}  // namespace td::autograd

namespace td {

using autograd::meta;
using autograd::meta_if;

bool Tensor::requires_grad() const {
  auto* m = autograd::meta_if(*this);
  return m && (m->requires_grad || m->grad_fn);
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  auto* m = meta_if(*this);
  TD_CHECK_ARG(!(m && m->grad_fn) || requires_grad,
               "[requires_grad_] you can only change requires_grad flags of leaf variables. If you want to use a "
               "computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
  TD_CHECK_ARG(!requires_grad || !is_integral(dtype()),
               "[requires_grad_] only Tensors of floating point and complex dtype can require gradients (got ",
               dtype_name(dtype()), ")");
  TD_CHECK(!requires_grad || !is_inference() || autograd::InferenceMode::is_enabled(),
           ErrorCode::kFailedPrecondition,
           "[requires_grad_] Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.");
  meta(*this).requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  auto* m = meta_if(*this);
  return m ? m->grad : Tensor();
}
void Tensor::set_grad(const Tensor& grad) { meta(*this).grad = grad; }

bool Tensor::is_leaf() const {
  auto* m = meta_if(*this);
  return !m || !m->grad_fn;
}

std::string Tensor::grad_fn_name() const {
  auto* m = meta_if(*this);
  return m && m->grad_fn ? m->grad_fn->name() : "";
}

void Tensor::retain_grad() {
  TD_CHECK_ARG(requires_grad(), "[retain_grad] can't retain_grad on Tensor that has requires_grad=False");
  auto* m = meta_if(*this);
  if (!m->grad_fn) return;  // leaves keep their grad anyway
  m->retains_grad = true;
  m->grad_fn->retained[m->output_nr] = impl_ptr();
}
bool Tensor::retains_grad() const {
  auto* m = meta_if(*this);
  return m && m->retains_grad;
}

Tensor Tensor::detach() const {
  const TensorImpl& i = impl();
  return Tensor(std::make_shared<TensorImpl>(i.storage, i.sizes, i.strides, i.offset, i.dtype));
}

namespace {
// The seed gradient of output i: the given one (shape-checked), or ones for a one-element output.
Tensor seed_gradient(std::string_view api, const Tensor& output, const Tensor& given, size_t i) {
  if (!given.defined()) {
    TD_CHECK_ARG(output.numel() == 1, "[", api, "] grad can be implicitly created only for scalar outputs (got shape ",
                 shape_str(output.shape()), ")");
    return full(output.shape(), 1, {output.dtype(), output.device()});
  }
  TD_CHECK_ARG(given.shape() == output.shape(), "[", api, "] Mismatch in shape: grad_output[", i, "] has a shape of ",
               shape_str(given.shape()), " and output[", i, "] has a shape of ", shape_str(output.shape()), ".");
  return given;
}
}  // namespace

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph,
                      const std::vector<Tensor>& inputs) const {
  autograd::backward({*this}, {gradient}, retain_graph || create_graph, create_graph, inputs);
}

HookHandle Tensor::register_hook(TensorHook hook) const {
  TD_CHECK_ARG(requires_grad(), "[register_hook] cannot register a hook on a tensor that doesn't require gradient");
  auto* m = meta_if(*this);
  if (m->grad_fn) {
    auto& list = m->grad_fn->pre_hooks[m->output_nr];
    if (!list) list = std::make_shared<autograd::HookList>();
    return autograd::HookList::add(list, std::move(hook));
  }
  if (!m->hooks) m->hooks = std::make_shared<autograd::HookList>();
  return autograd::HookList::add(m->hooks, std::move(hook));
}

HookHandle Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  TD_CHECK_ARG(requires_grad(),
               "[register_post_accumulate_grad_hook] cannot register a hook on a tensor that doesn't require gradient");
  TD_CHECK_ARG(is_leaf(),
               "[register_post_accumulate_grad_hook] post accumulate grad hooks cannot be registered on non-leaf "
               "tensors");
  auto& list = meta(*this).post_accumulate_hooks;
  if (!list) list = std::make_shared<autograd::RemovableList<PostAccumulateGradHook>>();
  return autograd::RemovableList<PostAccumulateGradHook>::add(list, std::move(hook));
}

}  // namespace td

namespace td::autograd {

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph, const std::vector<Tensor>& inputs) {
  TD_CHECK_ARG(grad_tensors.empty() || grad_tensors.size() == tensors.size(), "[backward] grad_tensors has ",
               grad_tensors.size(), " tensors but tensors has ", tensors.size());
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < tensors.size(); ++i) {
    TD_CHECK(tensors[i].defined() && tensors[i].requires_grad(), ErrorCode::kFailedPrecondition, "[backward] element ",
             i, " of tensors does not require grad and does not have a grad_fn");
    seeds.push_back(seed_gradient("backward", tensors[i], grad_tensors.empty() ? Tensor() : grad_tensors[i], i));
  }
  const bool retain = retain_graph.value_or(create_graph);
  if (inputs.empty()) {
    run_backward(tensors, seeds, retain, create_graph);
    return;
  }
  std::vector<Edge> edges;
  for (const Tensor& input : inputs) {
    TD_CHECK(input.defined() && input.requires_grad(), ErrorCode::kFailedPrecondition,
             "[backward] One of the differentiated Tensors does not require grad");
    edges.push_back(gradient_edge(input));
  }
  std::vector<Tensor> captured = run_backward(tensors, seeds, retain, create_graph, edges, "backward", true);
  // Non-leaf inputs keep their gradient in .grad, as retain_grad() would.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].is_leaf() || !captured[i].defined()) continue;
    AutogradMeta& m = meta(inputs[i]);
    Tensor g = create_graph ? captured[i] : captured[i].detach();
    m.grad = m.grad.defined() ? m.grad.add(g) : g;
  }
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
  TD_CHECK_ARG(!inputs.empty(), "[grad] grad requires non-empty inputs.");
  TD_CHECK_ARG(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "[grad] grad_outputs has ",
               grad_outputs.size(), " tensors but outputs has ", outputs.size());
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    TD_CHECK(outputs[i].defined() && outputs[i].requires_grad(), ErrorCode::kFailedPrecondition, "[grad] element ", i,
             " of tensors does not require grad and does not have a grad_fn");
    seeds.push_back(seed_gradient("grad", outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], i));
  }
  std::vector<Edge> edges;
  for (const Tensor& input : inputs) {
    TD_CHECK(input.defined() && input.requires_grad(), ErrorCode::kFailedPrecondition,
             "[grad] One of the differentiated Tensors does not require grad");
    edges.push_back(gradient_edge(input));
  }
  std::vector<Tensor> result =
      run_backward(outputs, seeds, retain_graph.value_or(create_graph), create_graph, edges, "grad");
  for (Tensor& g : result) {
    TD_CHECK(allow_unused || g.defined(), ErrorCode::kFailedPrecondition,
             "[grad] One of the differentiated Tensors appears to not have been used in the graph. Set "
             "allow_unused=True if this is the desired behavior.");
    if (g.defined() && !create_graph) g = g.detach();
  }
  return result;
}

}  // namespace td::autograd
