// Follows torch/autograd/functional.py of PyTorch 1.13 step by step (its helper names in comments), with its
// error messages, so results and failures match.
#include "core/autograd/functional.h"

#include "core/autograd/autograd.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"

namespace td::autograd::functional {

namespace {

using Tensors = std::vector<Tensor>;

Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {t.dtype(), t.device()}); }

// _grad_preprocess: the function sees fresh leaves (or, to keep a graph to the caller's tensors, views).
Tensors preprocess(const Tensors& inputs, bool create_graph, bool need_graph) {
  Tensors out;
  for (const Tensor& t : inputs) {
    if (create_graph && t.requires_grad()) {
      out.push_back(t.view_as(t));
    } else {
      Tensor leaf = t.detach();
      if (need_graph) leaf.requires_grad_(true);
      out.push_back(leaf);
    }
  }
  return out;
}

// _grad_postprocess.
Tensors postprocess(Tensors tensors, bool create_graph) {
  if (!create_graph) {
    for (Tensor& t : tensors) {
      if (t.defined()) t = t.detach();
    }
  }
  return tensors;
}

// _check_requires_grad.
void check_requires_grad(const Tensors& tensors, const char* kind, bool strict, const char* fn) {
  if (!strict) return;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string what = kind;
    TD_CHECK_ARG(tensors[i].defined(), "[", fn, "] The ", what == "outputs" ? "output" : what,
                 " of the user-provided function is independent of input ", i,
                 ". This is not allowed in strict mode.");
    TD_CHECK_ARG(tensors[i].requires_grad(), "[", fn, "] ",
                 what == "outputs" ? str("Output ", i, " of the user-provided function does not require gradients.")
                                   : str("The ", what, " of the user-provided function is independent of input ", i, "."),
                 " The outputs must be computed in a differentiable manner from the input when running in strict "
                 "mode.");
  }
}

// _validate_v.
void validate_v(const Tensors& v, const Tensors& other, const char* fn) {
  TD_CHECK_ARG(v.size() == other.size(), "[", fn, "] v is a tuple of invalid length: should be ", other.size(),
               " but got ", v.size(), ".");
  for (size_t i = 0; i < v.size(); ++i) {
    TD_CHECK_ARG(v[i].shape() == other[i].shape(), "[", fn, "] Entry ", i, " in v has invalid size: should be ",
                 shape_str(other[i].shape()), " but got ", shape_str(v[i].shape()), ".");
  }
}

// _autograd_grad: only the outputs that require grad take part; with none, every gradient is undefined.
Tensors grad_of(const Tensors& outputs, const Tensors& inputs, const Tensors& grad_outputs, bool create_graph,
                bool retain_graph) {
  Tensors outs, grads;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].defined() || !outputs[i].requires_grad()) continue;
    outs.push_back(outputs[i]);
    grads.push_back(grad_outputs.empty() ? Tensor() : grad_outputs[i]);
  }
  if (outs.empty()) return Tensors(inputs.size());
  return autograd::grad(outs, inputs, grads, retain_graph, create_graph, /*allow_unused=*/true);
}

// _fill_in_zeros: an undefined gradient is zeros, or an error in strict mode naming the stage.
Tensors fill_in_zeros(Tensors grads, const Tensors& refs, bool strict, bool create_graph, const std::string& stage,
                      const char* fn) {
  for (size_t i = 0; i < grads.size(); ++i) {
    if (grads[i].defined()) continue;
    if (strict) {
      std::string why;
      if (stage == "back") {
        why = str("The output of the user-provided function is independent of input ", i, ".");
      } else if (stage == "back_trick") {
        why = str("The gradient with respect to the input is independent of entry ", i, " in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients.");
      } else if (stage == "double_back") {
        why = str("The jacobian of the user-provided function is independent of input ", i, ".");
      } else {
        why = str("The hessian of the user-provided function is independent of entry ", i, " in the grad_jacobian.");
      }
      throw Error(ErrorCode::kInvalidArgument, str("[", fn, "] ", why, " This is not allowed in strict mode",
                                                   stage == "double_back_trick"
                                                       ? " as it prevents from using the double backward trick to "
                                                         "replace forward mode AD."
                                                       : "."));
    }
    (void)create_graph;
    grads[i] = zeros_like(refs[i]);
  }
  return grads;
}

Tensor single_output(const ScalarFunction& func, const Tensors& inputs, const char* fn) {
  Tensor out = func(inputs);
  TD_CHECK_ARG(out.defined() && out.numel() == 1, "[", fn, "] The Tensor returned by the function given to ", fn,
               " should contain a single element");
  return out;
}

}  // namespace

Product vjp(const Function& func, const std::vector<Tensor>& inputs_in, const std::vector<Tensor>& v_in,
            bool create_graph, bool strict) {
  Tensors inputs, outputs, v;
  {
    GradModeGuard grad(true);
    inputs = preprocess(inputs_in, create_graph, true);
    outputs = func(inputs);
    check_requires_grad(outputs, "outputs", strict, "vjp");
    if (!v_in.empty()) {
      v = preprocess(v_in, create_graph, false);
      validate_v(v, outputs, "vjp");
    } else {
      TD_CHECK_ARG(outputs.size() == 1 && outputs[0].numel() == 1, "[vjp] The vector v can only be None if the "
                   "user-provided function returns a single Tensor with a single element.");
    }
  }
  GradModeGuard mode(create_graph || GradMode::is_enabled());
  Tensors product = fill_in_zeros(grad_of(outputs, inputs, v, create_graph, create_graph), inputs, strict, create_graph,
                                  "back", "vjp");
  return {postprocess(outputs, create_graph), postprocess(product, create_graph)};
}

Product jvp(const Function& func, const std::vector<Tensor>& inputs_in, const std::vector<Tensor>& v_in,
            bool create_graph, bool strict) {
  Tensors inputs, outputs, v, grad_outputs, grad_inputs;
  {
    GradModeGuard grad(true);
    inputs = preprocess(inputs_in, create_graph, true);
    if (!v_in.empty()) {
      v = preprocess(v_in, create_graph, false);
      validate_v(v, inputs, "jvp");
    } else {
      TD_CHECK_ARG(inputs.size() == 1 && inputs[0].numel() == 1, "[jvp] The vector v can only be None if the input "
                   "to the user-provided function is a single Tensor with a single element.");
    }
    outputs = func(inputs);
    check_requires_grad(outputs, "outputs", strict, "jvp");
    // The double backward trick: the vjp is linear in the grad_outputs u, so d(vjp(u))/du applied to v is J v.
    for (const Tensor& out : outputs) grad_outputs.push_back(zeros_like(out).requires_grad_(true));
    grad_inputs = grad_of(outputs, inputs, grad_outputs, /*create_graph=*/true, /*retain_graph=*/true);
    check_requires_grad(grad_inputs, "grad_inputs", strict, "jvp");
  }
  Tensors product;
  {
    GradModeGuard mode(create_graph);
    if (create_graph) {
      GradModeGuard grad(true);
      product = grad_of(grad_inputs, grad_outputs, v, true, true);
    } else {
      product = grad_of(grad_inputs, grad_outputs, v, false, false);
    }
  }
  product = fill_in_zeros(product, outputs, strict, create_graph, "back_trick", "jvp");
  return {postprocess(outputs, create_graph), postprocess(product, create_graph)};
}

std::vector<std::vector<Tensor>> jacobian(const Function& func, const std::vector<Tensor>& inputs_in,
                                          bool create_graph, bool strict) {
  GradModeGuard grad(true);
  const Tensors inputs = preprocess(inputs_in, create_graph, true);
  const Tensors outputs = func(inputs);
  check_requires_grad(outputs, "outputs", strict, "jacobian");
  std::vector<std::vector<Tensor>> result;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor flat = outputs[i].reshape({-1});
    std::vector<Tensors> rows(inputs.size());
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const Tensors vj = grad_of({flat.select(0, j)}, inputs, {}, create_graph, /*retain_graph=*/true);
      for (size_t k = 0; k < inputs.size(); ++k) {
        if (vj[k].defined()) {
          TD_CHECK_ARG(!(strict && create_graph && !vj[k].requires_grad()), "[jacobian] The jacobian of the "
                       "user-provided function is independent of input ", i,
                       ". This is not allowed in strict mode when create_graph=True.");
          rows[k].push_back(vj[k]);
        } else {
          TD_CHECK_ARG(!strict, "[jacobian] Output ", i, " of the user-provided function is independent of input ", k,
                       ". This is not allowed in strict mode.");
          rows[k].push_back(zeros_like(inputs[k]));
        }
      }
    }
    std::vector<Tensor> jac_i;
    for (size_t k = 0; k < inputs.size(); ++k) {
      std::vector<int64_t> shape = outputs[i].shape();
      for (int64_t d : inputs[k].shape()) shape.push_back(d);
      jac_i.push_back(rows[k].empty() ? zeros(shape, {inputs[k].dtype(), inputs[k].device()})
                                      : Tensor::stack(rows[k], 0).view(shape));
    }
    result.push_back(postprocess(std::move(jac_i), create_graph));
  }
  return result;
}

std::vector<std::vector<Tensor>> hessian(const ScalarFunction& func, const std::vector<Tensor>& inputs,
                                         bool create_graph, bool strict) {
  // The Jacobian of the function's Jacobian, the inner one keeping its graph (PyTorch's jac_func).
  const Function jac_func = [&](const Tensors& inp) {
    const Function single = [&](const Tensors& x) -> Tensors {
      Tensor out = single_output(func, x, "hessian");
      check_requires_grad({out}, "outputs", strict, "hessian");
      return {out.squeeze()};
    };
    Tensors jac = jacobian(single, inp, /*create_graph=*/true).at(0);
    check_requires_grad(jac, "jacobian", strict, "hessian");
    return jac;
  };
  return jacobian(jac_func, inputs, create_graph, strict);
}

namespace {
// The shared start of vhp and hvp: the function's output and its Jacobian with a graph.
struct FirstOrder {
  Tensors inputs, outputs, v, jac;
};
FirstOrder first_order(const ScalarFunction& func, const Tensors& inputs_in, const Tensors& v_in, bool create_graph,
                       bool strict, const char* fn) {
  FirstOrder r;
  r.inputs = preprocess(inputs_in, create_graph, true);
  r.outputs = {single_output(func, r.inputs, fn)};
  check_requires_grad(r.outputs, "outputs", strict, fn);
  if (!v_in.empty()) {
    r.v = preprocess(v_in, create_graph, false);
    validate_v(r.v, r.inputs, fn);
  } else {
    TD_CHECK_ARG(r.inputs.size() == 1 && r.inputs[0].numel() == 1, "[", fn, "] The vector v can only be None if the "
                 "input to the user-provided function is a single Tensor with a single element.");
  }
  r.jac = grad_of(r.outputs, r.inputs, {}, /*create_graph=*/true, /*retain_graph=*/true);
  check_requires_grad(r.jac, "jacobian", strict, fn);
  return r;
}
}  // namespace

Product vhp(const ScalarFunction& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
            bool create_graph, bool strict) {
  FirstOrder r;
  {
    GradModeGuard grad(true);
    r = first_order(func, inputs, v, create_graph, strict, "vhp");
  }
  GradModeGuard mode(create_graph || GradMode::is_enabled());
  Tensors product = fill_in_zeros(grad_of(r.jac, r.inputs, r.v, create_graph, create_graph), r.inputs, strict,
                                  create_graph, "double_back", "vhp");
  return {postprocess(r.outputs, create_graph), postprocess(product, create_graph)};
}

Product hvp(const ScalarFunction& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
            bool create_graph, bool strict) {
  FirstOrder r;
  Tensors grad_jac, double_back;
  {
    GradModeGuard grad(true);
    r = first_order(func, inputs, v, create_graph, strict, "hvp");
    for (const Tensor& x : r.inputs) grad_jac.push_back(zeros_like(x).requires_grad_(true));
    double_back = grad_of(r.jac, r.inputs, grad_jac, /*create_graph=*/true, /*retain_graph=*/true);
    check_requires_grad(r.jac, "hessian", strict, "hvp");
  }
  GradModeGuard mode(create_graph || GradMode::is_enabled());
  Tensors product = fill_in_zeros(grad_of(double_back, grad_jac, r.v, create_graph, create_graph), r.inputs, strict,
                                  create_graph, "double_back_trick", "hvp");
  return {postprocess(r.outputs, create_graph), postprocess(product, create_graph)};
}

}  // namespace td::autograd::functional
