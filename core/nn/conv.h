// Convolution layers (nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d) over the registry's convolution ops, with
// PyTorch's arguments, checks, default initialisation, padding modes and repr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/nn/functional.h"
#include "core/nn/module.h"

namespace td::nn {

/// The settings of a convolution layer; an int argument stands for the same value in every spatial dim.
struct ConvOptions {
  functional::IntArg stride = 1;
  functional::Padding padding = 0;
  functional::IntArg dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  /// "zeros", "reflect", "replicate" or "circular" (how the input is padded before a plain convolution).
  std::string padding_mode = "zeros";
  /// Transposed convolutions only: extra size added to one side of the output.
  functional::IntArg output_padding = 0;
  TensorOptions options = {};
};

/// The common part of the convolution layers (torch.nn.modules.conv._ConvNd): weight [C_out, C_in / groups,
/// *kernel] ([C_in, C_out / groups, *kernel] when transposed) and bias [C_out], drawn from
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch does.
class ConvNd : public Module {
 public:
  std::string extra_repr() const override;
  /// Re-draws weight and bias as the constructor does.
  void reset_parameters();

  int64_t in_channels, out_channels;
  std::vector<int64_t> kernel_size, stride, dilation, output_padding;
  /// The numeric padding per dim; empty when padding_string is set.
  std::vector<int64_t> padding;
  /// "same" or "valid" when padding was given as a string, else empty.
  std::string padding_string;
  int64_t groups;
  std::string padding_mode;
  Tensor weight, bias;

 protected:
  ConvNd(std::string type_name, size_t dims, bool transposed, int64_t in_channels, int64_t out_channels,
         const functional::IntArg& kernel_size, const ConvOptions& options);
  /// The input padded by padding_mode when it is not "zeros" (the convolution then pads nothing).
  Tensor pad_input(const Tensor& input) const;
  bool pads_input() const { return padding_mode != "zeros"; }

  size_t dims_;
  bool transposed_;
  /// F.pad's list for padding_mode: (left, right) per dim, last dim first.
  std::vector<int64_t> reversed_padding_;
};

/// 1-d convolution over [N, C_in, L] or [C_in, L] (nn.Conv1d).
class Conv1d : public ConvNd {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size, ConvOptions options = {});
  Tensor forward(const Tensor& input) override;
};

/// 2-d convolution over [N, C_in, H, W] or [C_in, H, W] (nn.Conv2d).
class Conv2d : public ConvNd {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size, ConvOptions options = {});
  Tensor forward(const Tensor& input) override;
};

/// 3-d convolution over [N, C_in, D, H, W] or [C_in, D, H, W] (nn.Conv3d).
class Conv3d : public ConvNd {
 public:
  Conv3d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size, ConvOptions options = {});
  Tensor forward(const Tensor& input) override;
};

/// The transposed convolutions: forward(input) uses output_padding; forward(input, output_size) picks the
/// output_padding that gives that size, as ConvTranspose*d.forward(input, output_size) does.
class ConvTransposeNd : public ConvNd {
 public:
  Tensor forward(const Tensor& input) override;
  /// The output of spatial size output_size (its last `dims` entries; batch and channel may lead).
  Tensor forward(const Tensor& input, const std::vector<int64_t>& output_size);

 protected:
  ConvTransposeNd(std::string type_name, size_t dims, int64_t in_channels, int64_t out_channels,
                  const functional::IntArg& kernel_size, const ConvOptions& options);
  Tensor run(const Tensor& input, const std::vector<int64_t>& output_padding);
};

/// nn.ConvTranspose1d: weight [C_in, C_out / groups, k].
class ConvTranspose1d : public ConvTransposeNd {
 public:
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size,
                  ConvOptions options = {});
  using ConvTransposeNd::forward;
};

/// nn.ConvTranspose2d: weight [C_in, C_out / groups, kH, kW].
class ConvTranspose2d : public ConvTransposeNd {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size,
                  ConvOptions options = {});
  using ConvTransposeNd::forward;
};

/// nn.ConvTranspose3d: weight [C_in, C_out / groups, kD, kH, kW].
class ConvTranspose3d : public ConvTransposeNd {
 public:
  ConvTranspose3d(int64_t in_channels, int64_t out_channels, functional::IntArg kernel_size,
                  ConvOptions options = {});
  using ConvTransposeNd::forward;
};

}  // namespace td::nn
