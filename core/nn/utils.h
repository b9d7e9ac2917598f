// torch.nn.utils: gradient clipping and flattening parameters into one vector (PyTorch 1.13).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace td::nn::utils {

/// Scales the gradients of `parameters` in place so that their joint norm (as if concatenated) is at most
/// max_norm, and returns that norm before clipping. norm_type may be infinity. With error_if_nonfinite, a NaN
/// or infinite norm is an error instead.
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient of `parameters` to [-clip_value, clip_value] in place.
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

/// The parameters flattened and concatenated into one vector.
Tensor parameters_to_vector(const std::vector<Tensor>& parameters);

/// Copies consecutive slices of `vec` into the parameters (PyTorch rebinds param.data to views of vec; here
/// the parameters keep their own memory and take the values).
void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters);

}  // namespace td::nn::utils
