// Custom autograd functions: the node a Function<T>::apply records, the context its forward and backward
// share, and libtorch's rules for outputs that are inputs, modified in place or not differentiable.
#include "core/autograd/function.h"

#include <cxxabi.h>

#include <cstdlib>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td::autograd {

namespace detail {

// The node of one custom function call.
struct FunctionNode : Node {
  std::string name() const override { return ctx.name_; }

  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined() && ctx.materialize_grads_ && output_defined[i]) {
        grads[i] = zeros(output_meta[i].sizes, {output_meta[i].dtype, output_meta[i].device});
      }
    }
    tensor_list out = backward(&ctx, std::move(grads));
    const size_t n = is_tensor.size();
    if (out.size() > n) {
      bool extra_undefined = true;
      for (size_t i = n; i < out.size(); ++i) extra_undefined = extra_undefined && !out[i].defined();
      if (extra_undefined) out.resize(n);
    }
    TD_CHECK_ARG(out.size() == n, "[", ctx.name_, "] function ", ctx.name_,
                 " returned an incorrect number of gradients (expected ", n, ", got ", out.size(), ")");
    std::vector<Tensor> results;
    for (size_t i = 0; i < n; ++i) {
      if (is_tensor[i]) {
        results.push_back(std::move(out[i]));
        continue;
      }
      TD_CHECK_ARG(!out[i].defined(), "[", ctx.name_, "] function ", ctx.name_,
                   " returned a gradient different that is defined at position ", i + 1,
                   ", but the corresponding forward input was not a Variable");
    }
    for (size_t k = 0; k < results.size(); ++k) {
      if (!task_should_compute_output(next_edges[k])) {
        results[k] = Tensor();
        continue;
      }
      if (!results[k].defined()) continue;
      const TensorMeta& m = input_meta[k];
      TD_CHECK_ARG(results[k].shape() == m.sizes, "[", ctx.name_, "] Function ", ctx.name_,
                   " returned an invalid gradient at index ", k, " - got ", shape_str(results[k].shape()),
                   " but expected shape compatible with ", shape_str(m.sizes));
      if (results[k].dtype() != m.dtype) results[k] = results[k].to(m.dtype);
    }
    return results;
  }

  void release_variables() override {
    ctx.saved_.clear();
    ctx.released_ = true;
  }

  AutogradContext ctx;
  BackwardImpl backward = nullptr;
  std::vector<bool> is_tensor;         // per forward argument
  std::vector<TensorMeta> input_meta;  // per tensor argument
  std::vector<bool> output_defined;    // per output; an undefined output has no meta to make zeros from
  bool executable = false;
};

namespace {
bool contains(const tensor_list& list, const Tensor& t) {
  for (const Tensor& x : list) {
    if (x.is_same(t)) return true;
  }
  return false;
}
}  // namespace

FunctionCall::FunctionCall(std::string name, BackwardImpl backward, tensor_list inputs,
                           std::vector<bool> is_tensor)
    : node_(std::make_shared<FunctionNode>()), inputs_(inputs) {
  FunctionNode& n = *node_;
  n.ctx.name_ = std::move(name);
  n.ctx.node_ = node_;
  n.backward = backward;
  n.is_tensor = std::move(is_tensor);
  bool any_requires_grad = false;
  for (const Tensor& t : inputs) {
    n.input_meta.push_back(t.defined() ? TensorMeta::of(t) : TensorMeta{});
    any_requires_grad = any_requires_grad || (t.defined() && t.requires_grad());
  }
  n.executable = GradMode::is_enabled() && any_requires_grad;
  if (n.executable) {
    for (const Tensor& t : inputs) n.next_edges.push_back(gradient_edge(t));
  }
  if (AnomalyMode::is_enabled()) {
    std::string op = n.ctx.name_.substr(0, n.ctx.name_.size() - std::string_view("Backward").size());
    n.forward_context = describe_forward(op, n.input_meta);
  }
}

tensor_list input_tangents(const tensor_list& inputs) {
  if (!forward_ad::detail::propagating()) return {};
  tensor_list tangents;
  bool any = false;
  for (const Tensor& t : inputs) {
    Tensor tangent = forward_ad::detail::tangent(t);
    any = any || tangent.defined();
    if (!tangent.defined() && t.defined()) tangent = zeros(t.shape(), {t.dtype(), t.device()});
    tangents.push_back(tangent);
  }
  return any ? tangents : tensor_list{};
}

void missing_jvp(const std::string& name) {
  throw Error(ErrorCode::kUnimplemented,
              str("[", name.substr(0, name.size() - std::string_view("Backward").size()),
                  "] You must implement the jvp function for custom autograd.Function to use it with forward mode "
                  "AD."));
}

void set_output_tangents(const tensor_list& outputs, const tensor_list& tangents, const std::string& name) {
  TD_CHECK_ARG(tangents.size() == outputs.size(), "[", name, "] jvp returned ", tangents.size(),
               " tangents for ", outputs.size(), " outputs");
  for (size_t j = 0; j < outputs.size(); ++j) {
    const Tensor& out = outputs[j];
    if (!out.defined() || !tangents[j].defined() || !(is_floating(out.dtype()) || is_complex(out.dtype()))) continue;
    TD_CHECK_ARG(tangents[j].shape() == out.shape(), "[", name, "] jvp returned a tangent of shape ",
                 shape_str(tangents[j].sizes()), " for output ", j, " of shape ", shape_str(out.sizes()));
    Tensor t = tangents[j];
    if (t.dtype() != out.dtype()) t = t.to(out.dtype());
    forward_ad::detail::set_tangent(out, t);
  }
}

AutogradContext* FunctionCall::ctx() const {
  return &node_->ctx;
}

tensor_list FunctionCall::finish(tensor_list outputs) {
  FunctionNode& n = *node_;
  AutogradContext& ctx = n.ctx;
  const std::string& name = ctx.name_;
  for (const Tensor& d : ctx.dirty_) {
    TD_CHECK_ARG(contains(outputs, d), "[", name,
                 "] Some elements marked as dirty during the forward method were not returned as output. The "
                 "inputs that are modified inplace must all be outputs of the Function.");
    // As PyTorch's get_and_bump_dirty: the in-place write counts once more, for the function as a whole.
    if (!d.is_inference()) d.impl().storage->version++;
  }
  for (uint32_t j = 0; j < outputs.size(); ++j) {
    Tensor& out = outputs[j];
    n.output_defined.push_back(out.defined());
    n.output_meta.push_back(out.defined() ? TensorMeta::of(out) : TensorMeta{});
    if (!out.defined()) continue;
    const bool is_modified = contains(ctx.dirty_, out);
    // An input returned as is (or another tensor with a history) is returned as a new alias, so the tensor
    // the caller holds keeps its own history.
    const bool is_alias = !is_modified && (contains(inputs_, out) || out.requires_grad());
    const bool differentiable = n.executable && !contains(ctx.non_differentiable_, out) &&
                                (is_floating(out.dtype()) || is_complex(out.dtype()));
    if (!differentiable) {
      if (out.requires_grad()) out = out.detach();
      continue;
    }
    if (is_modified) {
      TD_CHECK(!(out.is_leaf() && out.requires_grad()), ErrorCode::kFailedPrecondition, "[", name,
               "] a leaf Variable that requires grad has been used in an in-place operation.");
      // The input keeps its identity; its history (through its base, for a view) moves onto this node.
      Tensor value = out.detach();
      set_history(value, node_, j);
      rebase_history(name, out, value);
    } else {
      if (is_alias) out = out.detach();
      set_history(out, node_, j);
    }
  }
  if (!n.executable && !keep_saved_) {
    ctx.to_save_.clear();
    return outputs;
  }
  for (const Tensor& t : ctx.to_save_) {
    if (!t.defined()) {
      ctx.saved_.emplace_back();
      ctx.saved_output_nr_.push_back(-1);
      ctx.saved_versions_.push_back(0);
      ctx.saved_owners_.emplace_back();
      continue;
    }
    TD_CHECK(!t.is_inference(), ErrorCode::kFailedPrecondition, "[", name,
             "] Inference tensors cannot be saved for backward. To work around you can make a clone to get a "
             "normal tensor and use it in autograd.");
    const AutogradMeta* m = meta_if(t);
    const bool is_output = m && m->grad_fn == node_;
    // An output saved with its history would own this node: keep it detached and rebuild it when read.
    ctx.saved_.push_back(is_output ? t.detach() : t);
    ctx.saved_output_nr_.push_back(is_output ? static_cast<int>(m->output_nr) : -1);
    ctx.saved_versions_.push_back(t.version());
    ctx.saved_owners_.push_back(t.is_leaf() ? "" : t.grad_fn_name());
  }
  ctx.to_save_.clear();
  ctx.dirty_.clear();
  ctx.non_differentiable_.clear();
  inputs_.clear();
  return outputs;
}

std::string function_node_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  // Keep the class's own name: drop namespaces (and "(anonymous namespace)::"), not template arguments.
  size_t end = full.find('<');
  size_t colons = full.rfind("::", end);
  std::string name = colons == std::string::npos ? full : full.substr(colons + 2);
  return name + "Backward";
}

}  // namespace detail

void AutogradContext::save_for_backward(tensor_list to_save) {
  to_save_ = std::move(to_save);
}

tensor_list AutogradContext::get_saved_variables() const {
  TD_CHECK(!released_, ErrorCode::kFailedPrecondition, kFreedGraphMessage);
  std::shared_ptr<Node> node = node_.lock();
  tensor_list out;
  for (size_t i = 0; i < saved_.size(); ++i) {
    const Tensor& t = saved_[i];
    if (!t.defined()) {
      out.emplace_back();
      continue;
    }
    if (t.version() != saved_versions_[i]) {
      throw saved_tensor_modified_error(
          name_, TensorMeta::of(t), saved_owners_[i],
          saved_output_nr_[i] >= 0 ? static_cast<uint32_t>(saved_output_nr_[i]) : 0, t.version(),
          saved_versions_[i]);
    }
    if (saved_output_nr_[i] < 0) {
      out.push_back(t);
      continue;
    }
    // An output: a fresh alias, with this node as its history when backward itself records (double backward).
    Tensor alias = t.detach();
    if (GradMode::is_enabled() && node) set_history(alias, node, static_cast<uint32_t>(saved_output_nr_[i]));
    out.push_back(alias);
  }
  return out;
}

void AutogradContext::mark_dirty(const tensor_list& inputs) {
  dirty_ = inputs;
}

void AutogradContext::mark_non_differentiable(const tensor_list& outputs) {
  non_differentiable_ = outputs;
}

void AutogradContext::set_materialize_grads(bool value) {
  materialize_grads_ = value;
}

bool AutogradContext::needs_input_grad(size_t i) const {
  std::shared_ptr<Node> node = node_.lock();
  if (!node || i >= node->next_edges.size()) return false;
  return task_should_compute_output(node->next_edges[i]);
}

}  // namespace td::autograd
