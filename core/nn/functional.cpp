// torch.nn.functional: each function names its registry op and packs the arguments.
#include "core/nn/functional.h"

namespace td::nn::functional {

namespace {

// A one-value list goes as a number, which the registry repeats to the op's `int[N]` length.
Value int_value(const IntArg& a) {
  if (a.values.size() == 1) return Scalar(a.values[0]);
  return a.values;
}

Value tensor_or_none(const Tensor& t) { return t.defined() ? Value(t) : Value(None{}); }

}  // namespace

// Convolution

namespace {
Tensor conv(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias, const IntArg& stride,
            const Padding& padding, const IntArg& dilation, int64_t groups) {
  if (auto* mode = std::get_if<std::string>(&padding.value)) {
    return call_op(std::string(op) + ".padding", {input, weight, tensor_or_none(bias), int_value(stride), *mode,
                                                  int_value(dilation), Scalar(groups)})[0];
  }
  return call_op(op, {input, weight, tensor_or_none(bias), int_value(stride),
                      int_value(std::get<IntArg>(padding.value)), int_value(dilation), Scalar(groups)})[0];
}

Tensor conv_transpose(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                      const IntArg& stride, const IntArg& padding, const IntArg& output_padding, int64_t groups,
                      const IntArg& dilation) {
  return call_op(op, {input, weight, tensor_or_none(bias), int_value(stride), int_value(padding),
                      int_value(output_padding), Scalar(groups), int_value(dilation)})[0];
}
}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv1d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv2d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride, Padding padding,
              IntArg dilation, int64_t groups) {
  return conv("conv3d", input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArg stride,
                        IntArg padding, IntArg output_padding, int64_t groups, IntArg dilation) {
  return conv_transpose("conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups, dilation);
}

}  // namespace td::nn::functional
