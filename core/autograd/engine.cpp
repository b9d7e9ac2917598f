// The autograd engine and per-tensor autograd state: a dependency-counted walk of the tape, newest node
// first, with tensor hooks run as each gradient is computed (DESIGN.md invariant 4).
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/tensor_impl.h"

namespace td::autograd {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_sequence_nr{0};
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

Node::Node() : sequence_nr(g_sequence_nr++) {}

TensorMeta TensorMeta::of(const Tensor& t) { return TensorMeta{t.shape(), t.dtype(), t.device()}; }

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

HookHandle HookList::add(const std::shared_ptr<HookList>& self, TensorHook hook) {
  uint64_t id = next_id++;
  hooks.emplace_back(id, std::move(hook));
  std::weak_ptr<HookList> weak = self;
  return HookHandle([weak, id] {
    if (auto list = weak.lock()) list->hooks.remove_if([id](const auto& h) { return h.first == id; });
  });
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

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  auto impl = leaf.lock();
  if (!impl || !grads[0].defined()) return {};
  Tensor variable(impl);
  AutogradMeta& m = meta(variable);
  Tensor g = m.hooks ? m.hooks->run(grads[0]) : grads[0];
  // Out-of-place accumulation: never writes into a tensor the caller may still hold.
  if (!m.grad.defined()) {
    m.grad = GradMode::is_enabled() ? g : g.detach();
  } else {
    m.grad = GradMode::is_enabled() ? m.grad.add(g) : m.grad.add(g).detach();
  }
  return {};
}

// ---- the engine ----

namespace {
struct NodeTask {
  std::shared_ptr<Node> node;
  bool operator<(const NodeTask& other) const { return node->sequence_nr < other.node->sequence_nr; }
};

Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a.add(b);
}
}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                  bool create_graph) {
  GradModeGuard mode(create_graph);
  // Count, for each node reachable from the roots, how many edges lead into it.
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  std::priority_queue<NodeTask> ready;

  auto add_grad = [&](const Edge& edge, const Tensor& grad) {
    auto& buf = buffers[edge.node.get()];
    if (buf.empty()) buf.resize(edge.node->output_meta.size());
    buf[edge.input_nr] = accumulate(buf[edge.input_nr], grad);
  };

  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    TD_CHECK(e.valid(), ErrorCode::kFailedPrecondition,
             "[backward] element ", i, " of tensors does not require grad and does not have a grad_fn");
    root_edges.push_back(e);
    if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }
  for (size_t i = 0; i < roots.size(); ++i) {
    add_grad(root_edges[i], grads[i]);
    if (dependencies[root_edges[i].node.get()] == 0) ready.push({root_edges[i].node});
  }

  std::unordered_set<Node*> queued;
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top().node;
    ready.pop();
    if (!queued.insert(node.get()).second) continue;
    std::vector<Tensor> inputs = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    inputs.resize(node->output_meta.size());
    for (uint32_t slot = 0; slot < inputs.size(); ++slot) {
      if (!inputs[slot].defined()) continue;
      if (auto it = node->pre_hooks.find(slot); it != node->pre_hooks.end()) inputs[slot] = it->second->run(inputs[slot]);
      if (auto it = node->retained.find(slot); it != node->retained.end()) {
        if (auto impl = it->second.lock()) {
          AutogradMeta& m = meta(Tensor(impl));
          m.grad = m.grad.defined() ? m.grad.add(inputs[slot]) : (create_graph ? inputs[slot] : inputs[slot].detach());
        }
      }
    }
    std::vector<Tensor> outputs = node->apply(std::move(inputs));
    if (!retain_graph) node->release_variables();
    for (size_t i = 0; i < node->next_edges.size() && i < outputs.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      if (outputs[i].defined()) add_grad(e, outputs[i]);
      if (--dependencies[e.node.get()] == 0) ready.push({e.node});
    }
    // Nodes whose every incoming edge produced nothing are still released by their own turn.
    for (size_t i = outputs.size(); i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (e.valid() && --dependencies[e.node.get()] == 0) ready.push({e.node});
    }
  }
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

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  TD_CHECK(requires_grad(), ErrorCode::kFailedPrecondition,
           "[backward] element 0 of tensors does not require grad and does not have a grad_fn");
  Tensor seed = gradient;
  if (!seed.defined()) {
    TD_CHECK_ARG(numel() == 1, "[backward] grad can be implicitly created only for scalar outputs (got shape ",
                 shape_str(shape()), ")");
    seed = full(shape(), 1, {dtype(), device()});
  } else {
    TD_CHECK_ARG(seed.shape() == shape(), "[backward] Mismatch in shape: grad_output[0] has a shape of ",
                 shape_str(seed.shape()), " and output[0] has a shape of ", shape_str(shape()), ".");
  }
  autograd::run_backward({*this}, {seed}, retain_graph || create_graph, create_graph);
}

HookHandle Tensor::register_hook(TensorHook hook) const {
  TD_CHECK_ARG(requires_grad(), "[register_hook] cannot register a hook on a tensor that doesn't require gradient");
  auto* m = meta_if(*this);
  if (m->grad_fn) {
    auto& list = m->grad_fn->pre_hooks[m->output_nr];
    if (!list) list = std::make_shared<autograd::HookList>();
    return list->add(list, std::move(hook));
  }
  if (!m->hooks) m->hooks = std::make_shared<autograd::HookList>();
  return m->hooks->add(m->hooks, std::move(hook));
}

}  // namespace td
