// torch/nn/utils/clip_grad.py and convert_parameters.py (PyTorch 1.13).
#include "core/nn/utils.h"

#include <cmath>
#include <limits>

#include "core/autograd/grad_mode.h"
#include "core/error.h"

namespace td::nn::utils {

namespace {

// All parameters on one device, as _check_param_device asks.
void check_same_device(const std::vector<Tensor>& parameters) {
  for (const Tensor& p : parameters) {
    TD_CHECK_ARG(p.device() == parameters[0].device(),
                 "[nn.utils] Found two parameters on different devices, this is currently not supported.");
  }
}

std::string python_float(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = str(v);
  return s.find_first_of(".en") == std::string::npos ? s + ".0" : s;
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return scalar_tensor(0.0, DType::kFloat32);
  const std::string device = grads[0].device().str();
  Tensor total_norm;
  if (std::isinf(norm_type)) {
    std::vector<Tensor> norms;
    for (const Tensor& g : grads) norms.push_back(g.detach().abs().max().to(device));
    total_norm = norms.size() == 1 ? norms[0] : Tensor::stack(norms).max();
  } else {
    std::vector<Tensor> norms;
    for (const Tensor& g : grads) norms.push_back(g.detach().norm(norm_type).to(device));
    total_norm = Tensor::stack(norms).norm(norm_type);
  }
  if (error_if_nonfinite) {
    TD_CHECK(
        total_norm.isfinite().item<bool>(), ErrorCode::kFailedPrecondition,
        "[clip_grad_norm_] The total norm of order ", python_float(norm_type),
        " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and "
        "scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`");
  }
  // PyTorch's max_norm / (norm + 1e-6) is Python's number / tensor: (norm + 1e-6).reciprocal() * max_norm.
  Tensor clip_coef_clamped = total_norm.add(1e-6).reciprocal().mul(max_norm).clamp(std::nullopt, 1.0);
  for (const Tensor& g : grads) g.detach().mul_(clip_coef_clamped.to(g.device().str()));
  return total_norm;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  autograd::NoGradGuard no_grad;
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (g.defined()) g.detach().clamp_(-clip_value, clip_value);
  }
}

Tensor parameters_to_vector(const std::vector<Tensor>& parameters) {
  check_same_device(parameters);
  std::vector<Tensor> views;
  for (const Tensor& p : parameters) views.push_back(p.reshape({-1}));
  return Tensor::cat(views);
}

void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters) {
  check_same_device(parameters);
  int64_t total = 0;
  for (const Tensor& p : parameters) total += p.numel();
  TD_CHECK_ARG(vec.dim() == 1 && vec.numel() >= total,
               "[vector_to_parameters] expected a vector of at least ", total, " elements, got shape ",
               shape_str(vec.sizes()));
  autograd::NoGradGuard no_grad;
  int64_t pointer = 0;
  for (const Tensor& p : parameters) {
    p.copy_(vec.narrow(0, pointer, p.numel()).view_as(p));
    pointer += p.numel();
  }
}

}  // namespace td::nn::utils
