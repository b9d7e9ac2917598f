// Convolution layers: argument checks and initialisation as torch.nn.modules.conv, forward through
// nn::functional's convolutions, non-zero padding modes through pad.
#include "core/nn/conv.h"

#include <cmath>

#include "core/error.h"
#include "core/nn/init.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace F = functional;

namespace {
// An int[N] argument expanded to the layer's dims; a list of another length is an error naming it.
std::vector<int64_t> expand_arg(const std::string& layer, const char* arg, const F::IntArg& value, size_t dims) {
  TD_CHECK_ARG(value.values.size() == 1 || value.values.size() == dims, "[", layer, "] ", arg,
               " must be an int or a list of ", dims, " ints, got ", shape_str(value.values));
  return value.expand(dims);
}
}  // namespace

ConvNd::ConvNd(std::string type_name, size_t dims, bool transposed, int64_t in, int64_t out,
               const F::IntArg& kernel, const ConvOptions& o)
    : Module(std::move(type_name)), in_channels(in), out_channels(out), groups(o.groups),
      padding_mode(o.padding_mode), dims_(dims), transposed_(transposed) {
  const std::string& name = this->type_name();
  TD_CHECK_ARG(in >= 0 && out >= 0, "[", name, "] in_channels and out_channels must be >= 0, got ", in, " and ", out);
  TD_CHECK_ARG(groups > 0, "[", name, "] groups must be a positive integer, got ", groups);
  TD_CHECK_ARG(in % groups == 0, "[", name, "] in_channels must be divisible by groups (in_channels=", in,
               ", groups=", groups, ")");
  TD_CHECK_ARG(out % groups == 0, "[", name, "] out_channels must be divisible by groups (out_channels=", out,
               ", groups=", groups, ")");
  kernel_size = expand_arg(name, "kernel_size", kernel, dims);
  stride = expand_arg(name, "stride", o.stride, dims);
  dilation = expand_arg(name, "dilation", o.dilation, dims);
  output_padding = expand_arg(name, "output_padding", o.output_padding, dims);
  for (size_t d = 0; d < dims; ++d) {
    TD_CHECK_ARG(kernel_size[d] > 0 && stride[d] > 0 && dilation[d] > 0, "[", name,
                 "] kernel_size, stride and dilation must be positive, got kernel_size=", shape_str(kernel_size),
                 ", stride=", shape_str(stride), ", dilation=", shape_str(dilation));
  }
  TD_CHECK_ARG(padding_mode == "zeros" || padding_mode == "reflect" || padding_mode == "replicate" ||
                   padding_mode == "circular",
               "[", name, "] padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, but got "
               "padding_mode='", padding_mode, "'");
  if (const auto* mode = std::get_if<std::string>(&o.padding.value)) {
    TD_CHECK_ARG(!transposed, "[", name, "] padding must be an int or a list of ints, got '", *mode, "'");
    TD_CHECK_ARG(*mode == "same" || *mode == "valid", "[", name, "] Invalid padding string '", *mode,
                 "', should be one of {'valid', 'same'}");
    if (*mode == "same") {
      for (int64_t s : stride) {
        TD_CHECK_ARG(s == 1, "[", name, "] padding='same' is not supported for strided convolutions");
      }
    }
    padding_string = *mode;
  } else {
    padding = expand_arg(name, "padding", std::get<F::IntArg>(o.padding.value), dims);
    for (int64_t p : padding) TD_CHECK_ARG(p >= 0, "[", name, "] negative padding is not supported, got ", shape_str(padding));
  }
  if (transposed) {
    TD_CHECK_ARG(padding_mode == "zeros", "[", name, "] Only \"zeros\" padding mode is supported for ", name);
  }
  // F.pad's order: the last dim's (left, right) first. "same" puts the odd element on the right, as PyTorch.
  reversed_padding_.assign(2 * dims, 0);
  for (size_t d = 0; d < dims; ++d) {
    const size_t slot = 2 * (dims - 1 - d);
    if (padding_string == "same") {
      const int64_t total = dilation[d] * (kernel_size[d] - 1);
      reversed_padding_[slot] = total / 2;
      reversed_padding_[slot + 1] = total - total / 2;
    } else if (padding_string.empty()) {
      reversed_padding_[slot] = reversed_padding_[slot + 1] = padding[d];
    }
  }

  TensorOptions options = o.options;
  options.requires_grad = false;
  std::vector<int64_t> shape = transposed ? std::vector<int64_t>{in, out / groups} : std::vector<int64_t>{out, in / groups};
  shape.insert(shape.end(), kernel_size.begin(), kernel_size.end());
  weight = register_parameter("weight", empty(shape, options));
  bias = register_parameter("bias", o.bias ? empty({out}, options) : Tensor());
  reset_parameters();
}

void ConvNd::reset_parameters() {
  // kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor ConvNd::pad_input(const Tensor& input) const {
  return pads_input() ? input.pad(reversed_padding_, padding_mode) : input;
}

std::string ConvNd::extra_repr() const {
  using detail::py_tuple;
  std::string s = str(in_channels, ", ", out_channels, ", kernel_size=", py_tuple(kernel_size),
                      ", stride=", py_tuple(stride));
  if (!padding_string.empty()) {
    s += ", padding=" + padding_string;
  } else if (padding != std::vector<int64_t>(dims_, 0)) {
    s += ", padding=" + py_tuple(padding);
  }
  if (dilation != std::vector<int64_t>(dims_, 1)) s += ", dilation=" + py_tuple(dilation);
  if (output_padding != std::vector<int64_t>(dims_, 0)) s += ", output_padding=" + py_tuple(output_padding);
  if (groups != 1) s += str(", groups=", groups);
  if (!bias.defined()) s += ", bias=False";
  if (padding_mode != "zeros") s += ", padding_mode=" + padding_mode;
  return s;
}

namespace {
// The convolution's padding argument: none when the input was padded already, else the layer's.
F::Padding conv_padding(const ConvNd& conv, bool input_padded) {
  if (input_padded) return F::Padding(std::vector<int64_t>(conv.kernel_size.size(), 0));
  if (!conv.padding_string.empty()) return F::Padding(conv.padding_string);
  return F::Padding(conv.padding);
}
}  // namespace

Conv1d::Conv1d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvNd("Conv1d", 1, false, in, out, kernel, o) {}
Tensor Conv1d::forward(const Tensor& input) {
  return F::conv1d(pad_input(input), weight, bias, stride, conv_padding(*this, pads_input()), dilation, groups);
}

Conv2d::Conv2d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvNd("Conv2d", 2, false, in, out, kernel, o) {}
Tensor Conv2d::forward(const Tensor& input) {
  return F::conv2d(pad_input(input), weight, bias, stride, conv_padding(*this, pads_input()), dilation, groups);
}

Conv3d::Conv3d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvNd("Conv3d", 3, false, in, out, kernel, o) {}
Tensor Conv3d::forward(const Tensor& input) {
  return F::conv3d(pad_input(input), weight, bias, stride, conv_padding(*this, pads_input()), dilation, groups);
}

ConvTransposeNd::ConvTransposeNd(std::string type_name, size_t dims, int64_t in, int64_t out,
                                 const F::IntArg& kernel, const ConvOptions& o)
    : ConvNd(std::move(type_name), dims, true, in, out, kernel, o) {}

Tensor ConvTransposeNd::run(const Tensor& input, const std::vector<int64_t>& out_padding) {
  switch (dims_) {
    case 1: return F::conv_transpose1d(input, weight, bias, stride, padding, out_padding, groups, dilation);
    case 2: return F::conv_transpose2d(input, weight, bias, stride, padding, out_padding, groups, dilation);
    default: return F::conv_transpose3d(input, weight, bias, stride, padding, out_padding, groups, dilation);
  }
}

Tensor ConvTransposeNd::forward(const Tensor& input) { return run(input, output_padding); }

Tensor ConvTransposeNd::forward(const Tensor& input, const std::vector<int64_t>& output_size) {
  // ConvTransposeNd._output_padding: the size picks the padding within one stride of the smallest output.
  const auto n = static_cast<int64_t>(dims_);
  const int64_t non_spatial = input.dim() == n + 2 ? 2 : 1;
  std::vector<int64_t> size = output_size;
  if (static_cast<int64_t>(size.size()) == non_spatial + n) size.erase(size.begin(), size.begin() + non_spatial);
  TD_CHECK_ARG(static_cast<int64_t>(size.size()) == n, "[", type_name(), "] ConvTranspose", n, "D: for ",
               input.dim(), "D input, output_size must have ", n, " or ", non_spatial + n, " elements (got ",
               output_size.size(), ")");
  TD_CHECK_ARG(input.dim() >= non_spatial + n, "[", type_name(), "] expected a ", n + 1, "D or ", n + 2,
               "D input, got ", shape_str(input.sizes()));
  std::vector<int64_t> lo(dims_), hi(dims_), out_padding(dims_);
  bool ok = true;
  for (size_t d = 0; d < dims_; ++d) {
    lo[d] = (input.size(non_spatial + static_cast<int64_t>(d)) - 1) * stride[d] - 2 * padding[d] +
            dilation[d] * (kernel_size[d] - 1) + 1;
    hi[d] = lo[d] + stride[d] - 1;
    ok = ok && size[d] >= lo[d] && size[d] <= hi[d];
    out_padding[d] = size[d] - lo[d];
  }
  std::vector<int64_t> spatial(input.sizes().begin() + non_spatial, input.sizes().end());
  TD_CHECK_ARG(ok, "[", type_name(), "] requested an output size of ", shape_str(size),
               ", but valid sizes range from ", shape_str(lo), " to ", shape_str(hi), " (for an input of ",
               shape_str(spatial), ")");
  return run(input, out_padding);
}

ConvTranspose1d::ConvTranspose1d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvTransposeNd("ConvTranspose1d", 1, in, out, kernel, o) {}
ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvTransposeNd("ConvTranspose2d", 2, in, out, kernel, o) {}
ConvTranspose3d::ConvTranspose3d(int64_t in, int64_t out, F::IntArg kernel, ConvOptions o)
    : ConvTransposeNd("ConvTranspose3d", 3, in, out, kernel, o) {}

}  // namespace td::nn
