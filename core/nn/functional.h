// torch.nn.functional for C++: free functions with PyTorch's argument names, order and defaults, each a thin
// call of a registry op (so they record autograd, profile and trace like any op).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace td::nn::functional {

/// An `int[N]` argument: one value for every spatial dim, or one per dim.
struct IntArg {
  IntArg(int64_t v) : values{v} {}                                       // NOLINT: implicit, as in Python
  IntArg(int v) : values{v} {}                                           // NOLINT
  IntArg(std::initializer_list<int64_t> v) : values(v) {}                // NOLINT
  IntArg(std::vector<int64_t> v) : values(std::move(v)) {}               // NOLINT
  std::vector<int64_t> values;
};

/// A convolution's padding: numbers (as IntArg) or the string "valid" (none) or "same" (output as large as
/// the input; stride 1 only).
struct Padding {
  Padding(int64_t v) : value(IntArg(v)) {}                               // NOLINT
  Padding(int v) : value(IntArg(v)) {}                                   // NOLINT
  Padding(std::initializer_list<int64_t> v) : value(IntArg(v)) {}        // NOLINT
  Padding(std::vector<int64_t> v) : value(IntArg(std::move(v))) {}       // NOLINT
  Padding(const char* mode) : value(std::string(mode)) {}                // NOLINT
  Padding(std::string mode) : value(std::move(mode)) {}                  // NOLINT
  std::variant<IntArg, std::string> value;
};

// Convolution

/// 1-d convolution of input [N, C_in, L] or [C_in, L] with weight [C_out, C_in / groups, k] (F.conv1d).
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 2-d convolution of input [N, C_in, H, W] or [C_in, H, W] with weight [C_out, C_in / groups, kH, kW]
/// (F.conv2d).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 3-d convolution of input [N, C_in, D, H, W] or [C_in, D, H, W] (F.conv3d).
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
              Padding padding = 0, IntArg dilation = 1, int64_t groups = 1);
/// 1-d transposed convolution with weight [C_in, C_out / groups, k] (F.conv_transpose1d).
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);
/// 2-d transposed convolution with weight [C_in, C_out / groups, kH, kW] (F.conv_transpose2d).
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);
/// 3-d transposed convolution with weight [C_in, C_out / groups, kD, kH, kW] (F.conv_transpose3d).
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArg stride = 1,
                        IntArg padding = 0, IntArg output_padding = 0, int64_t groups = 1, IntArg dilation = 1);

}  // namespace td::nn::functional
