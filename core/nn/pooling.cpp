// Pooling layers: each keeps its arguments as given (the repr writes them back so) and calls the functional
// form for its rank.
#include "core/nn/pooling.h"

#include <cmath>

#include "core/error.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace F = functional;
using detail::py_bool;
using detail::py_int_or_tuple;
using detail::py_tuple;

namespace {
std::string rank_name(const char* family, size_t dims) { return str(family, dims, "d"); }

void check_inputs(const Module& m, const TensorList& inputs, size_t n) {
  TD_CHECK_ARG(inputs.size() == n, "[", m.type_name(), "] forward() takes ", n, " input", n == 1 ? "" : "s", " but ",
               inputs.size(), " were given");
}

TensorList values_or_pair(std::pair<Tensor, Tensor> out, bool with_indices) {
  if (with_indices) return {std::move(out.first), std::move(out.second)};
  return {std::move(out.first)};
}
}  // namespace

MaxPoolNd::MaxPoolNd(size_t dims, F::IntArg kernel, F::IntArg stride_, F::IntArg padding_, F::IntArg dilation_,
                     bool indices, bool ceil)
    : Module(rank_name("MaxPool", dims)), kernel_size(std::move(kernel)),
      stride(stride_.values.empty() ? kernel_size : std::move(stride_)), padding(std::move(padding_)),
      dilation(std::move(dilation_)), return_indices(indices), ceil_mode(ceil), dims_(dims) {}

TensorList MaxPoolNd::forward_list(const TensorList& inputs) {
  check_inputs(*this, inputs, 1);
  const Tensor& x = inputs[0];
  if (!return_indices) {
    switch (dims_) {
      case 1: return {F::max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode)};
      case 2: return {F::max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)};
      default: return {F::max_pool3d(x, kernel_size, stride, padding, dilation, ceil_mode)};
    }
  }
  switch (dims_) {
    case 1: return values_or_pair(F::max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode), true);
    case 2: return values_or_pair(F::max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode), true);
    default: return values_or_pair(F::max_pool3d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode), true);
  }
}

std::string MaxPoolNd::extra_repr() const {
  return str("kernel_size=", py_int_or_tuple(kernel_size.values), ", stride=", py_int_or_tuple(stride.values),
             ", padding=", py_int_or_tuple(padding.values), ", dilation=", py_int_or_tuple(dilation.values),
             ", ceil_mode=", py_bool(ceil_mode));
}

AvgPoolNd::AvgPoolNd(size_t dims, F::IntArg kernel, F::IntArg stride_, F::IntArg padding_, bool ceil,
                     bool include_pad, std::optional<int64_t> divisor)
    : Module(rank_name("AvgPool", dims)), kernel_size(std::move(kernel)),
      stride(stride_.values.empty() ? kernel_size : std::move(stride_)), padding(std::move(padding_)),
      ceil_mode(ceil), count_include_pad(include_pad), divisor_override(divisor), dims_(dims) {
  TD_CHECK_ARG(!divisor || *divisor != 0, "[", type_name(), "] divisor must be not zero");
}

Tensor AvgPoolNd::forward(const Tensor& x) {
  switch (dims_) {
    case 1: return F::avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
    case 2: return F::avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
    default: return F::avg_pool3d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
  }
}

std::string AvgPoolNd::extra_repr() const {
  // AvgPool1d stores its arguments as 1-tuples; AvgPool2d and 3d keep them as given.
  auto show = [&](const F::IntArg& a) { return dims_ == 1 ? py_tuple(a.expand(1)) : py_int_or_tuple(a.values); };
  return str("kernel_size=", show(kernel_size), ", stride=", show(stride), ", padding=", show(padding));
}

AdaptivePoolNd::AdaptivePoolNd(size_t dims, bool max, F::IntArg size, bool indices)
    : Module(rank_name(max ? "AdaptiveMaxPool" : "AdaptiveAvgPool", dims)), output_size(std::move(size)),
      return_indices(indices), dims_(dims), max_(max) {}

TensorList AdaptivePoolNd::forward_list(const TensorList& inputs) {
  check_inputs(*this, inputs, 1);
  const Tensor& x = inputs[0];
  if (!max_) {
    switch (dims_) {
      case 1: return {F::adaptive_avg_pool1d(x, output_size)};
      case 2: return {F::adaptive_avg_pool2d(x, output_size)};
      default: return {F::adaptive_avg_pool3d(x, output_size)};
    }
  }
  switch (dims_) {
    case 1: return values_or_pair(F::adaptive_max_pool1d_with_indices(x, output_size), return_indices);
    case 2: return values_or_pair(F::adaptive_max_pool2d_with_indices(x, output_size), return_indices);
    default: return values_or_pair(F::adaptive_max_pool3d_with_indices(x, output_size), return_indices);
  }
}

std::string AdaptivePoolNd::extra_repr() const { return "output_size=" + py_int_or_tuple(output_size.values); }

LPPoolNd::LPPoolNd(size_t dims, double p, F::IntArg kernel, F::IntArg stride_, bool ceil)
    : Module(rank_name("LPPool", dims)), norm_type(p), kernel_size(std::move(kernel)), stride(std::move(stride_)),
      ceil_mode(ceil), dims_(dims) {}

Tensor LPPoolNd::forward(const Tensor& x) {
  return dims_ == 1 ? F::lp_pool1d(x, norm_type, kernel_size, stride, ceil_mode)
                    : F::lp_pool2d(x, norm_type, kernel_size, stride, ceil_mode);
}

std::string LPPoolNd::extra_repr() const {
  // norm_type is written as the int users pass when it is whole.
  const std::string p = norm_type == std::floor(norm_type) && std::abs(norm_type) < 1e15
                            ? std::to_string(static_cast<int64_t>(norm_type))
                            : detail::py_float(norm_type);
  return str("norm_type=", p, ", kernel_size=", py_int_or_tuple(kernel_size.values),
             ", stride=", stride.values.empty() ? "None" : py_int_or_tuple(stride.values),
             ", ceil_mode=", py_bool(ceil_mode));
}

MaxUnpoolNd::MaxUnpoolNd(size_t dims, F::IntArg kernel, F::IntArg stride_, F::IntArg padding_)
    : Module(rank_name("MaxUnpool", dims)), kernel_size(kernel.expand(dims)),
      stride(stride_.values.empty() ? kernel_size : stride_.expand(dims)), padding(padding_.expand(dims)),
      dims_(dims) {}

Tensor MaxUnpoolNd::forward(const Tensor& input, const Tensor& indices, std::optional<std::vector<int64_t>> size) {
  switch (dims_) {
    case 1: return F::max_unpool1d(input, indices, kernel_size, stride, padding, std::move(size));
    case 2: return F::max_unpool2d(input, indices, kernel_size, stride, padding, std::move(size));
    default: return F::max_unpool3d(input, indices, kernel_size, stride, padding, std::move(size));
  }
}

TensorList MaxUnpoolNd::forward_list(const TensorList& inputs) {
  check_inputs(*this, inputs, 2);
  return {forward(inputs[0], inputs[1])};
}

std::string MaxUnpoolNd::extra_repr() const {
  return str("kernel_size=", py_tuple(kernel_size), ", stride=", py_tuple(stride), ", padding=", py_tuple(padding));
}

FractionalMaxPoolNd::FractionalMaxPoolNd(size_t dims, F::IntArg kernel, F::IntArg size,
                                         std::optional<std::vector<double>> ratio, bool indices)
    : Module(rank_name("FractionalMaxPool", dims)), kernel_size(kernel.expand(dims)),
      output_size(size.values.empty() ? std::vector<int64_t>{} : size.expand(dims)), output_ratio(std::move(ratio)),
      return_indices(indices), dims_(dims) {
  const std::string name = type_name();
  TD_CHECK_ARG(!output_size.empty() || output_ratio, "[", name, "] ", name,
               " requires specifying either an output size, or a pooling ratio");
  TD_CHECK_ARG(output_size.empty() || !output_ratio, "[", name, "] only one of output_size and output_ratio may be "
               "specified");
  if (output_ratio) {
    if (output_ratio->size() == 1) output_ratio->resize(dims, (*output_ratio)[0]);
    for (double r : *output_ratio) {
      TD_CHECK_ARG(r > 0 && r < 1, "[", name, "] output_ratio must be between 0 and 1 (got ", detail::py_float(r),
                   ")");
    }
  }
}

TensorList FractionalMaxPoolNd::forward_list(const TensorList& inputs) {
  check_inputs(*this, inputs, 1);
  F::IntArg size = output_size.empty() ? F::IntArg() : F::IntArg(output_size);
  return values_or_pair(dims_ == 2 ? F::fractional_max_pool2d_with_indices(inputs[0], kernel_size, size, output_ratio)
                                   : F::fractional_max_pool3d_with_indices(inputs[0], kernel_size, size, output_ratio),
                        return_indices);
}

std::shared_ptr<MaxPoolNd> MaxPool1d(F::IntArg k, F::IntArg s, F::IntArg p, F::IntArg d, bool ri, bool ceil) {
  return std::make_shared<MaxPoolNd>(1, std::move(k), std::move(s), std::move(p), std::move(d), ri, ceil);
}
std::shared_ptr<MaxPoolNd> MaxPool2d(F::IntArg k, F::IntArg s, F::IntArg p, F::IntArg d, bool ri, bool ceil) {
  return std::make_shared<MaxPoolNd>(2, std::move(k), std::move(s), std::move(p), std::move(d), ri, ceil);
}
std::shared_ptr<MaxPoolNd> MaxPool3d(F::IntArg k, F::IntArg s, F::IntArg p, F::IntArg d, bool ri, bool ceil) {
  return std::make_shared<MaxPoolNd>(3, std::move(k), std::move(s), std::move(p), std::move(d), ri, ceil);
}
std::shared_ptr<AvgPoolNd> AvgPool1d(F::IntArg k, F::IntArg s, F::IntArg p, bool ceil, bool include_pad) {
  return std::make_shared<AvgPoolNd>(1, std::move(k), std::move(s), std::move(p), ceil, include_pad);
}
std::shared_ptr<AvgPoolNd> AvgPool2d(F::IntArg k, F::IntArg s, F::IntArg p, bool ceil, bool include_pad,
                                     std::optional<int64_t> divisor) {
  return std::make_shared<AvgPoolNd>(2, std::move(k), std::move(s), std::move(p), ceil, include_pad, divisor);
}
std::shared_ptr<AvgPoolNd> AvgPool3d(F::IntArg k, F::IntArg s, F::IntArg p, bool ceil, bool include_pad,
                                     std::optional<int64_t> divisor) {
  return std::make_shared<AvgPoolNd>(3, std::move(k), std::move(s), std::move(p), ceil, include_pad, divisor);
}
std::shared_ptr<AdaptivePoolNd> AdaptiveMaxPool1d(F::IntArg size, bool ri) {
  return std::make_shared<AdaptivePoolNd>(1, true, std::move(size), ri);
}
std::shared_ptr<AdaptivePoolNd> AdaptiveMaxPool2d(F::IntArg size, bool ri) {
  return std::make_shared<AdaptivePoolNd>(2, true, std::move(size), ri);
}
std::shared_ptr<AdaptivePoolNd> AdaptiveAvgPool1d(F::IntArg size) {
  return std::make_shared<AdaptivePoolNd>(1, false, std::move(size));
}
std::shared_ptr<AdaptivePoolNd> AdaptiveAvgPool2d(F::IntArg size) {
  return std::make_shared<AdaptivePoolNd>(2, false, std::move(size));
}
std::shared_ptr<LPPoolNd> LPPool1d(double p, F::IntArg k, F::IntArg s, bool ceil) {
  return std::make_shared<LPPoolNd>(1, p, std::move(k), std::move(s), ceil);
}
std::shared_ptr<LPPoolNd> LPPool2d(double p, F::IntArg k, F::IntArg s, bool ceil) {
  return std::make_shared<LPPoolNd>(2, p, std::move(k), std::move(s), ceil);
}
std::shared_ptr<MaxUnpoolNd> MaxUnpool1d(F::IntArg k, F::IntArg s, F::IntArg p) {
  return std::make_shared<MaxUnpoolNd>(1, std::move(k), std::move(s), std::move(p));
}
std::shared_ptr<MaxUnpoolNd> MaxUnpool2d(F::IntArg k, F::IntArg s, F::IntArg p) {
  return std::make_shared<MaxUnpoolNd>(2, std::move(k), std::move(s), std::move(p));
}

}  // namespace td::nn
