// Custom autograd functions, as libtorch's torch::autograd::Function<T>: a user-written forward and backward
// recorded as one node of the graph.
//
//   struct MulConst : td::autograd::Function<MulConst> {
//     static Tensor forward(AutogradContext* ctx, Tensor x, double k) {
//       ctx->saved_data["k"] = Scalar(k);
//       return x.mul(k);
//     }
//     static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
//       return {grad_outputs[0].mul(ctx->saved_data["k"]), Tensor()};  // one per forward argument
//     }
//   };
//   Tensor y = MulConst::apply(x, 2.0);  // y.grad_fn_name() == "MulConstBackward"
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/tensor.h"

namespace td::autograd {

struct Node;
using tensor_list = std::vector<Tensor>;
using variable_list = tensor_list;

namespace detail {
class FunctionCall;
struct FunctionNode;
}  // namespace detail

/// What a custom function's forward hands to its backward (libtorch's AutogradContext).
class AutogradContext {
 public:
  /// Saves tensors (inputs or outputs) for backward; each is checked against in-place changes when read.
  void save_for_backward(tensor_list to_save);
  /// The saved tensors. Fails with PyTorch's error after a backward without retain_graph freed them, or
  /// when one was modified in place since it was saved.
  tensor_list get_saved_variables() const;
  /// Declares inputs that forward modified in place; they must be returned as outputs.
  void mark_dirty(const tensor_list& inputs);
  /// Declares outputs without a gradient (indices, masks): they do not require grad.
  void mark_non_differentiable(const tensor_list& outputs);
  /// Whether gradients that did not flow to an output reach backward as zeros (the default) or undefined.
  void set_materialize_grads(bool value);
  /// Whether tensor input i needs a gradient; i counts the tensors among forward's arguments (each element
  /// of a tensor_list argument one), as libtorch does. In backward, false for inputs the running
  /// autograd::grad does not ask for.
  bool needs_input_grad(size_t i) const;
  /// Anything else backward needs (numbers, shapes, flags), by name. Tensors kept here are not
  /// version-checked; use save_for_backward for those.
  std::unordered_map<std::string, Value> saved_data;

 private:
  friend class detail::FunctionCall;
  friend struct detail::FunctionNode;

  std::weak_ptr<Node> node_;
  std::string name_;
  tensor_list to_save_, dirty_, non_differentiable_;
  bool materialize_grads_ = true;
  // After forward: the saved tensors (outputs of this function detached, so the node does not own itself),
  // the output slot of each output (-1 for other tensors), versions and grad_fn names for the in-place check.
  tensor_list saved_;
  std::vector<int> saved_output_nr_;
  std::vector<uint32_t> saved_versions_;
  std::vector<std::string> saved_owners_;
  bool released_ = false;
};

namespace detail {

using BackwardImpl = tensor_list (*)(AutogradContext*, tensor_list);

/// One call of a custom function: its node, built around the user's backward.
class FunctionCall {
 public:
  /// `inputs` are the tensor arguments; `is_tensor` has one entry per argument of forward (expanded for
  /// tensor lists) saying whether it is a tensor.
  FunctionCall(std::string name, BackwardImpl backward, tensor_list inputs, std::vector<bool> is_tensor);
  AutogradContext* ctx() const;
  /// After forward ran: gives the outputs their history and keeps what forward saved.
  tensor_list finish(tensor_list outputs);
  /// Keeps the saved tensors for T::jvp even when no backward will read them.
  void keep_saved_for_jvp() { keep_saved_ = true; }

 private:
  std::shared_ptr<FunctionNode> node_;
  tensor_list inputs_;
  bool keep_saved_ = false;
};

/// The grad_fn name for a function class: "MyFnBackward" for (ns::)MyFn.
std::string function_node_name(const std::type_info& type);

template <class A>
void collect_input(std::vector<bool>& is_tensor, tensor_list& tensors, const A& arg) {
  using D = std::decay_t<A>;
  if constexpr (std::is_same_v<D, Tensor>) {
    is_tensor.push_back(true);
    tensors.push_back(arg);
  } else if constexpr (std::is_same_v<D, tensor_list>) {
    for (const Tensor& t : arg) {
      is_tensor.push_back(true);
      tensors.push_back(t);
    }
  } else {
    is_tensor.push_back(false);
  }
}

template <class R>
inline constexpr bool kIsTensorTuple = false;
template <class... Ts>
inline constexpr bool kIsTensorTuple<std::tuple<Ts...>> = (std::is_same_v<Ts, Tensor> && ...);

template <class R>
tensor_list flatten_outputs(R&& out) {
  using D = std::decay_t<R>;
  if constexpr (std::is_same_v<D, Tensor>) {
    return {std::forward<R>(out)};
  } else if constexpr (std::is_same_v<D, tensor_list>) {
    return std::forward<R>(out);
  } else {
    static_assert(kIsTensorTuple<D>,
                  "forward must return a Tensor, a tensor_list or a std::tuple of Tensors");
    return std::apply([](auto&... t) { return tensor_list{t...}; }, out);
  }
}

template <class R, size_t... I>
R tuple_of(tensor_list& v, std::index_sequence<I...>) {
  return R{v[I]...};
}

template <class R>
R unflatten_outputs(tensor_list v) {
  if constexpr (std::is_same_v<R, Tensor>) {
    return v[0];
  } else if constexpr (std::is_same_v<R, tensor_list>) {
    return v;
  } else {
    return tuple_of<R>(v, std::make_index_sequence<std::tuple_size_v<R>>());
  }
}

template <class T>
tensor_list call_backward(AutogradContext* ctx, tensor_list grad_outputs) {
  return T::backward(ctx, std::move(grad_outputs));
}

/// Forward-mode AD: the inputs' tangents at the open dual level (zeros for inputs without one, as PyTorch's
/// materialized grads), or an empty list when none has a tangent.
tensor_list input_tangents(const tensor_list& inputs);
/// PyTorch's error for dual inputs to a function without jvp.
[[noreturn]] void missing_jvp(const std::string& name);
/// Gives each differentiable output the tangent jvp returned for it.
void set_output_tangents(const tensor_list& outputs, const tensor_list& tangents, const std::string& name);

template <class T>
concept HasJvp = requires(AutogradContext* ctx, tensor_list tangents) {
  { T::jvp(ctx, tangents) };
};

}  // namespace detail

/// Base of a custom function T with `static R forward(AutogradContext*, Args...)` (R: Tensor, tensor_list
/// or std::tuple of Tensors) and `static tensor_list backward(AutogradContext*, tensor_list grad_outputs)`,
/// which returns one gradient per forward argument (undefined for arguments that are not tensors, or that
/// need none). forward runs with grad mode off; when grad mode is on and a tensor argument requires grad,
/// its differentiable outputs get a node named after T plus "Backward". For forward-mode AD T may define
/// `static R jvp(AutogradContext*, tensor_list input_tangents)` (one tangent per tensor input, zeros where
/// an input has none), returning the outputs' tangents; dual inputs to a T without jvp fail as in PyTorch.
template <class T>
struct Function {
  /// Runs T::forward on args and records T::backward for its outputs (torch.autograd.Function.apply).
  template <class... Args>
  static auto apply(Args&&... args) {
    tensor_list inputs;
    std::vector<bool> is_tensor;
    (detail::collect_input(is_tensor, inputs, args), ...);
    const std::string name = detail::function_node_name(typeid(T));
    // Forward mode: the function is opaque (its forward's ops carry no tangents); T::jvp gives the outputs'.
    tensor_list tangents = detail::input_tangents(inputs);
    if constexpr (!detail::HasJvp<T>) {
      if (!tangents.empty()) detail::missing_jvp(name);
    }
    detail::FunctionCall call(name, &detail::call_backward<T>, std::move(inputs), std::move(is_tensor));
    using R = std::decay_t<decltype(T::forward(call.ctx(), std::forward<Args>(args)...))>;
    tensor_list outputs;
    {
      GradModeGuard no_grad(false);
      std::optional<forward_ad::detail::Suspend> opaque;
      if (!tangents.empty()) opaque.emplace();
      outputs = detail::flatten_outputs(T::forward(call.ctx(), std::forward<Args>(args)...));
    }
    if (!tangents.empty()) call.keep_saved_for_jvp();
    outputs = call.finish(std::move(outputs));
    if constexpr (detail::HasJvp<T>) {
      if (!tangents.empty()) {
        tensor_list out_tangents;
        {
          forward_ad::detail::Suspend plain;
          out_tangents = detail::flatten_outputs(T::jvp(call.ctx(), std::move(tangents)));
        }
        detail::set_output_tangents(outputs, out_tangents, name);
      }
    }
    return detail::unflatten_outputs<R>(std::move(outputs));
  }
};

}  // namespace td::autograd
