// Pooling layers (nn.MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d,
// LPPool1d/2d, MaxUnpool1d/2d/3d, FractionalMaxPool2d/3d) over nn::functional's pooling, with PyTorch's defaults and
// repr. A layer built with return_indices returns (values, indices) from call(); operator() then refuses, as
// it does for any module with two outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/nn/functional.h"
#include "core/nn/module.h"

namespace td::nn {

/// Max pooling over the last `dims` dims; stride defaults to kernel_size (nn.MaxPool1d/2d/3d).
class MaxPoolNd : public Module {
 public:
  MaxPoolNd(size_t dims, functional::IntArg kernel_size, functional::IntArg stride = {},
            functional::IntArg padding = 0, functional::IntArg dilation = 1, bool return_indices = false,
            bool ceil_mode = false);
  TensorList forward_list(const TensorList& inputs) override;
  std::string extra_repr() const override;

  functional::IntArg kernel_size, stride, padding, dilation;
  bool return_indices, ceil_mode;

 private:
  size_t dims_;
};

/// Average pooling over the last `dims` dims (nn.AvgPool1d/2d/3d); divisor_override (2d and 3d only)
/// replaces the window size as divisor.
class AvgPoolNd : public Module {
 public:
  AvgPoolNd(size_t dims, functional::IntArg kernel_size, functional::IntArg stride = {},
            functional::IntArg padding = 0, bool ceil_mode = false, bool count_include_pad = true,
            std::optional<int64_t> divisor_override = std::nullopt);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  functional::IntArg kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;

 private:
  size_t dims_;
};

/// Adaptive pooling to a fixed output size (nn.AdaptiveMaxPool1d/2d/3d with `max`, else AdaptiveAvgPool1d/2d/3d).
class AdaptivePoolNd : public Module {
 public:
  AdaptivePoolNd(size_t dims, bool max, functional::IntArg output_size, bool return_indices = false);
  TensorList forward_list(const TensorList& inputs) override;
  std::string extra_repr() const override;

  functional::IntArg output_size;
  bool return_indices;

 private:
  size_t dims_;
  bool max_;
};

/// Power-average pooling (nn.LPPool1d/2d).
class LPPoolNd : public Module {
 public:
  LPPoolNd(size_t dims, double norm_type, functional::IntArg kernel_size, functional::IntArg stride = {},
           bool ceil_mode = false);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  double norm_type;
  functional::IntArg kernel_size, stride;
  bool ceil_mode;

 private:
  size_t dims_;
};

/// The inverse of max pooling (nn.MaxUnpool1d/2d): call({input, indices}) or forward(input, indices,
/// output_size).
class MaxUnpoolNd : public Module {
 public:
  MaxUnpoolNd(size_t dims, functional::IntArg kernel_size, functional::IntArg stride = {},
              functional::IntArg padding = 0);
  TensorList forward_list(const TensorList& inputs) override;
  Tensor forward(const Tensor& input, const Tensor& indices,
                 std::optional<std::vector<int64_t>> output_size = std::nullopt);
  std::string extra_repr() const override;

  std::vector<int64_t> kernel_size, stride, padding;

 private:
  size_t dims_;
};

/// Max pooling over pseudo-randomly placed windows of the last `dims` (2 or 3) dims (nn.FractionalMaxPool2d
/// and 3d); the output size comes from output_size or output_ratio, exactly one of which is given.
class FractionalMaxPoolNd : public Module {
 public:
  FractionalMaxPoolNd(size_t dims, functional::IntArg kernel_size, functional::IntArg output_size = {},
                      std::optional<std::vector<double>> output_ratio = std::nullopt, bool return_indices = false);
  TensorList forward_list(const TensorList& inputs) override;

  std::vector<int64_t> kernel_size, output_size;
  std::optional<std::vector<double>> output_ratio;
  bool return_indices;

 private:
  size_t dims_;
};

/// nn.FractionalMaxPool2d.
class FractionalMaxPool2d : public FractionalMaxPoolNd {
 public:
  FractionalMaxPool2d(functional::IntArg kernel_size, functional::IntArg output_size = {},
                      std::optional<std::vector<double>> output_ratio = std::nullopt, bool return_indices = false)
      : FractionalMaxPoolNd(2, std::move(kernel_size), std::move(output_size), std::move(output_ratio),
                            return_indices) {}
};

/// nn.FractionalMaxPool3d.
class FractionalMaxPool3d : public FractionalMaxPoolNd {
 public:
  FractionalMaxPool3d(functional::IntArg kernel_size, functional::IntArg output_size = {},
                      std::optional<std::vector<double>> output_ratio = std::nullopt, bool return_indices = false)
      : FractionalMaxPoolNd(3, std::move(kernel_size), std::move(output_size), std::move(output_ratio),
                            return_indices) {}
};

// PyTorch's class names for the layers above.
std::shared_ptr<MaxPoolNd> MaxPool1d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, functional::IntArg dilation = 1,
                                     bool return_indices = false, bool ceil_mode = false);
std::shared_ptr<MaxPoolNd> MaxPool2d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, functional::IntArg dilation = 1,
                                     bool return_indices = false, bool ceil_mode = false);
std::shared_ptr<MaxPoolNd> MaxPool3d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, functional::IntArg dilation = 1,
                                     bool return_indices = false, bool ceil_mode = false);
std::shared_ptr<AvgPoolNd> AvgPool1d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, bool ceil_mode = false,
                                     bool count_include_pad = true);
std::shared_ptr<AvgPoolNd> AvgPool2d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, bool ceil_mode = false,
                                     bool count_include_pad = true,
                                     std::optional<int64_t> divisor_override = std::nullopt);
std::shared_ptr<AvgPoolNd> AvgPool3d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                     functional::IntArg padding = 0, bool ceil_mode = false,
                                     bool count_include_pad = true,
                                     std::optional<int64_t> divisor_override = std::nullopt);
std::shared_ptr<AdaptivePoolNd> AdaptiveMaxPool1d(functional::IntArg output_size, bool return_indices = false);
std::shared_ptr<AdaptivePoolNd> AdaptiveMaxPool2d(functional::IntArg output_size, bool return_indices = false);
std::shared_ptr<AdaptivePoolNd> AdaptiveAvgPool1d(functional::IntArg output_size);
std::shared_ptr<AdaptivePoolNd> AdaptiveAvgPool2d(functional::IntArg output_size);
std::shared_ptr<LPPoolNd> LPPool1d(double norm_type, functional::IntArg kernel_size, functional::IntArg stride = {},
                                   bool ceil_mode = false);
std::shared_ptr<LPPoolNd> LPPool2d(double norm_type, functional::IntArg kernel_size, functional::IntArg stride = {},
                                   bool ceil_mode = false);
std::shared_ptr<MaxUnpoolNd> MaxUnpool1d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                         functional::IntArg padding = 0);
std::shared_ptr<MaxUnpoolNd> MaxUnpool2d(functional::IntArg kernel_size, functional::IntArg stride = {},
                                         functional::IntArg padding = 0);

}  // namespace td::nn
