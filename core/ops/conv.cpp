// Convolutions: one primitive, `convolution` (aten::convolution: 1-d to 3-d, strided, padded, dilated,
// grouped, transposed), and the public conv1d/2d/3d (with the "same"/"valid" padding overloads) and
// conv_transpose1d/2d/3d composed of it.
//
// The forward is im2col + GEMM on every backend: the backend unfolds the input windows into a [C, K, B, L]
// matrix (K kernel positions, L window positions) and its batched GEMM multiplies it by the weight per group;
// a transposed convolution multiplies first and folds the columns back with col2im. When there are few
// window positions per sample (L small, e.g. the weight gradient below, whose "windows" are the kernel
// taps), the samples are folded into the GEMM's columns so the GEMM is large.
//
// The backward is written in convolutions, so it differentiates again: the input's gradient is the
// transposed convolution of the output's gradient with the same weight (and the other way round); the
// weight's gradient is a convolution of the input (batch and channels swapped) with the output's gradient as
// the kernel, the roles of stride and dilation exchanged.
#include <algorithm>
#include <optional>
#include <utility>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

// Column buffers above this many elements are cut into batch chunks.
constexpr int64_t kColBudget = int64_t{1} << 24;
// Below this many window positions per sample the samples share one GEMM (folded into its columns).
constexpr int64_t kFoldBelow = 64;

// The hyper-parameters of one convolution, expanded to the number of spatial dims.
struct ConvParams {
  std::vector<int64_t> stride, padding, dilation, output_padding;
  bool transposed = false;
  int64_t groups = 1;
};

std::string join_x(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " x " : "") + std::to_string(v[i]);
  return s;
}

// The C type name PyTorch prints in "Input type (float) and bias type (double) should be the same".
std::string_view c_type_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float";
    case DType::kFloat64: return "double";
    case DType::kFloat16: return "c10::Half";
    case DType::kBFloat16: return "c10::BFloat16";
    default: return dtype_name(t);
  }
}

// PyTorch's expand_param_if_needed: one value stands for every spatial dim.
std::vector<int64_t> expand_param(std::string_view op, const std::vector<int64_t>& v, std::string_view name,
                                  size_t dims) {
  if (v.size() == 1) return std::vector<int64_t>(dims, v[0]);
  TD_CHECK_ARG(v.size() == dims, "[", op, "] expected ", name, " to be a single integer value or a list of ", dims,
               " values to match the convolution dimensions, but got ", name, "=", shape_str(v));
  return v;
}

// PyTorch's checks of a (batched) convolution, in its order and words; returns the expanded parameters.
ConvParams check_convolution(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                             const std::vector<int64_t>& dilation, bool transposed,
                             const std::vector<int64_t>& output_padding, int64_t groups) {
  std::vector<Tensor> all = {input, weight};
  if (bias.defined()) all.push_back(bias);
  ops::check_same_device(op, all);
  const int64_t k = weight.dim();
  TD_CHECK_ARG(k >= 3, "[", op, "] weight should have at least three dimensions");
  TD_CHECK_ARG(k <= 5, "[", op, "] only 1-d, 2-d and 3-d convolutions are supported, got a weight of size ",
               shape_str(weight.sizes()));
  TD_CHECK_ARG(groups > 0, "[", op, "] non-positive groups is not supported");
  const size_t dims = static_cast<size_t>(k - 2);
  ConvParams p;
  p.stride = expand_param(op, stride, "stride", dims);
  p.padding = expand_param(op, padding, "padding", dims);
  p.dilation = expand_param(op, dilation, "dilation", dims);
  p.output_padding = expand_param(op, output_padding, "output_padding", dims);
  p.transposed = transposed;
  p.groups = groups;
  auto any = [](const std::vector<int64_t>& v, auto pred) { return std::any_of(v.begin(), v.end(), pred); };
  TD_CHECK_ARG(!any(p.padding, [](int64_t x) { return x < 0; }), "[", op, "] negative padding is not supported");
  TD_CHECK_ARG(!any(p.output_padding, [](int64_t x) { return x < 0; }), "[", op,
               "] negative output_padding is not supported");
  TD_CHECK_ARG(!any(p.stride, [](int64_t x) { return x <= 0; }), "[", op, "] non-positive stride is not supported");
  const auto ws = weight.sizes();
  TD_CHECK_ARG(input.dim() == k, "[", op, "] Expected ", k, "-dimensional input for ", k, "-dimensional weight ",
               shape_str(ws), ", but got ", input.dim(), "-dimensional input of size ", shape_str(input.sizes()),
               " instead");
  TD_CHECK_ARG(ws[0] >= groups, "[", op, "] Given groups=", groups, ", expected weight to be at least ", groups,
               " at dimension 0, but got weight of size ", shape_str(ws), " instead");
  TD_CHECK_ARG(ws[0] % groups == 0, "[", op, "] Given groups=", groups, ", expected weight to be divisible by ",
               groups, " at dimension 0, but got weight of size [", shape_str(ws), "] instead");
  const bool bias_ok = [&](int64_t n) { return !bias.defined() || (bias.dim() == 1 && bias.size(0) == n); }(
      transposed ? ws[1] * groups : ws[0]);
  if (!transposed) {
    TD_CHECK_ARG(input.size(1) == ws[1] * groups, "[", op, "] Given groups=", groups, ", weight of size ",
                 shape_str(ws), ", expected input", shape_str(input.sizes()), " to have ", ws[1] * groups,
                 " channels, but got ", input.size(1), " channels instead");
    TD_CHECK_ARG(bias_ok, "[", op, "] Given weight of size ", shape_str(ws), ", expected bias to be 1-dimensional with ",
                 ws[0], " elements, but got bias of size ", shape_str(bias.sizes()), " instead");
    std::vector<int64_t> padded, kernel;
    bool fits = true;
    for (size_t d = 0; d < dims; ++d) {
      padded.push_back(input.size(static_cast<int64_t>(d) + 2) + 2 * p.padding[d]);
      kernel.push_back(p.dilation[d] * (ws[d + 2] - 1) + 1);
      fits = fits && padded.back() >= kernel.back();
    }
    TD_CHECK_ARG(fits, "[", op, "] Calculated padded input size per channel: (", join_x(padded), "). Kernel size: (",
                 join_x(kernel), "). Kernel size can't be greater than actual input size");
  } else {
    TD_CHECK_ARG(input.size(1) == ws[0], "[", op, "] Given transposed=1, weight of size ", shape_str(ws),
                 ", expected input", shape_str(input.sizes()), " to have ", ws[0], " channels, but got ",
                 input.size(1), " channels instead");
    TD_CHECK_ARG(bias_ok, "[", op, "] Given transposed=1, weight of size ", shape_str(ws),
                 ", expected bias to be 1-dimensional with ", ws[1] * groups, " elements, but got bias of size ",
                 shape_str(bias.sizes()), " instead");
  }
  TD_CHECK_ARG(!any(p.dilation, [](int64_t x) { return x <= 0; }), "[", op,
               "] dilation should be greater than zero, but got ", shape_str(p.dilation));
  if (transposed) {
    static constexpr std::string_view kNames[3][3] = {
        {"width"}, {"height", "width"}, {"depth", "height", "width"}};
    bool small = true;
    for (size_t d = 0; d < dims; ++d) {
      small = small && (p.output_padding[d] < p.stride[d] || p.output_padding[d] < p.dilation[d]);
    }
    if (!small) {
      std::string msg = "output padding must be smaller than either stride or dilation, but got";
      const std::pair<const char*, const std::vector<int64_t>*> parts[] = {
          {"output_padding_", &p.output_padding}, {"stride_", &p.stride}, {"dilation_", &p.dilation}};
      for (const auto& [name, v] : parts) {
        for (size_t d = 0; d < dims; ++d) msg += str(" ", name, kNames[dims - 1][d], ": ", (*v)[d]);
      }
      throw Error(ErrorCode::kInvalidArgument, str("[", op, "] ", msg));
    }
    std::vector<int64_t> in, out;
    bool positive = true;
    for (size_t d = 0; d < dims; ++d) {
      in.push_back(input.size(static_cast<int64_t>(d) + 2));
      out.push_back((in.back() - 1) * p.stride[d] - 2 * p.padding[d] + p.dilation[d] * (ws[d + 2] - 1) +
                    p.output_padding[d] + 1);
      positive = positive && out.back() > 0;
    }
    TD_CHECK_ARG(positive, "[", op, "] Given input size per channel: (", join_x(in),
                 "). Calculated output size per channel: (", join_x(out), "). Output size is too small");
  }
  const DType t = input.dtype();
  TD_CHECK_ARG(t != DType::kBool && !is_complex(t), "[", op, "] convolution not implemented for '",
               scalar_type_name(t), "'");
  TD_CHECK_ARG(weight.dtype() == t, "[", op, "] expected scalar type ", scalar_type_name(t), " but found ",
               scalar_type_name(weight.dtype()));
  TD_CHECK_ARG(!bias.defined() || bias.dtype() == t, "[", op, "] Input type (", c_type_name(t),
               ") and bias type (", c_type_name(bias.dtype()), ") should be the same");
  return p;
}

// y += bias along dim 1.
void add_bias(const Tensor& y, const Tensor& bias) {
  if (!bias.defined() || y.numel() == 0) return;
  std::vector<int64_t> shape(static_cast<size_t>(y.dim()), 1);
  shape[1] = bias.size(0);
  Tensor b = bias.contiguous().view(shape).expand(y.shape());
  backend(y.device().type).binary(BinaryOp::kAdd, strided_ref(y), strided_ref(y), strided_ref(b), 1,
                                  y.device().index);
}

// The kernels of a checked convolution: input [B, C, spatial...] -> output.
// The window of convolution(x, w, p), and the output's shape. The window runs over the input of a
// convolution and over the output of a transposed one.
ConvWindow window_of(const Tensor& x, const Tensor& w, const ConvParams& p, std::vector<int64_t>& out_shape) {
  const int dims = static_cast<int>(w.dim()) - 2;
  ConvWindow win;
  win.dims = dims;
  out_shape = {x.size(0), p.transposed ? w.size(1) * p.groups : w.size(0)};
  for (int d = 0; d < dims; ++d) {
    const int64_t in = x.size(d + 2), k = w.size(d + 2);
    win.kernel[d] = k;
    win.stride[d] = p.stride[d];
    win.padding[d] = p.padding[d];
    win.dilation[d] = p.dilation[d];
    // The window runs over the input of a convolution and over the output of a transposed one.
    const int64_t big = p.transposed ? (in - 1) * p.stride[d] - 2 * p.padding[d] + p.dilation[d] * (k - 1) +
                                           p.output_padding[d] + 1
                                     : in;
    const int64_t positions = p.transposed ? in : (in + 2 * p.padding[d] - p.dilation[d] * (k - 1) - 1) / p.stride[d] + 1;
    win.in[d] = big;
    win.out[d] = positions;
    out_shape.push_back(p.transposed ? big : positions);
  }
  return win;
}

// Taps of a convolution's kernel that read only padding, at every output position, multiply zeros and get a
// zero gradient: the convolution equals the one with those taps cut off and the padding reduced to match.
// A 3x3 kernel with padding 1 over a 1x1 input (the last stage of a resnet on 32x32 images) keeps only its
// centre tap: a ninth of the work, and a library that copies the whole weight into its layout (three times a
// training step) copies a ninth. Per spatial dim, the cut keeps taps [first, first + count) with padding
// reduced by first * dilation, and is taken only where that gives the same number of outputs.
struct DeadTaps {
  std::vector<int64_t> first, count;
  ConvParams p;  // the cut convolution's
};

std::optional<DeadTaps> dead_taps(const Tensor& x, const Tensor& w, const ConvParams& p) {
  if (p.transposed) return std::nullopt;
  DeadTaps t{{}, {}, p};
  bool cut = false;
  for (int64_t d = 0; d + 2 < w.dim(); ++d) {
    const size_t i = static_cast<size_t>(d);
    const int64_t in = x.size(d + 2), K = w.size(d + 2), s = p.stride[i], pad = p.padding[i], dil = p.dilation[i];
    const int64_t out = (in + 2 * pad - dil * (K - 1) - 1) / s + 1;
    int64_t lo = K, hi = -1;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t at0 = k * dil - pad;  // the input position tap k reads for output 0
      const int64_t o = at0 >= 0 ? 0 : (-at0 + s - 1) / s;  // the first output where it is not left padding
      if (o < out && o * s + at0 < in) {
        lo = std::min(lo, k);
        hi = k;
      }
    }
    lo = std::min(lo, pad / dil);  // the cut padding stays >= 0
    int64_t count = hi - lo + 1, cut_pad = pad - lo * dil;
    const int64_t span = in + 2 * cut_pad - dil * (count - 1) - 1;
    if (hi < 0 || span < 0 || span / s + 1 != out) {  // keep this dim whole
      lo = 0;
      count = K;
      cut_pad = pad;
    }
    t.first.push_back(lo);
    t.count.push_back(count);
    t.p.padding[i] = cut_pad;
    cut = cut || count < K;
  }
  if (!cut) return std::nullopt;
  return t;
}

// The kept taps of w (a view).
Tensor cut_weight(Tensor w, const DeadTaps& t) {
  for (size_t d = 0; d < t.first.size(); ++d) w = w.narrow(static_cast<int64_t>(d) + 2, t.first[d], t.count[d]);
  return w;
}

// The full weight's gradient from the cut one's: zeros at the dead taps.
Tensor uncut_weight_grad(const Tensor& gw_cut, const Tensor& w, const DeadTaps& t) {
  std::vector<int64_t> pads;  // F.pad's order: the last dim first, (before, after) each
  for (size_t d = t.first.size(); d-- > 0;) {
    pads.push_back(t.first[d]);
    pads.push_back(w.size(static_cast<int64_t>(d) + 2) - t.first[d] - t.count[d]);
  }
  return gw_cut.pad(pads, "constant", 0);
}

Tensor convolution_kernel(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& p) {
  // The kept taps as a view: the library reads the strides, im2col makes it contiguous.
  if (auto t = dead_taps(x, w, p)) return convolution_kernel(x, cut_weight(w, *t), bias, t->p);
  const int dims = static_cast<int>(w.dim()) - 2;
  const int64_t B = x.size(0), G = p.groups, Cin = x.size(1);
  Backend& be = backend(x.device().type);
  const int dev = x.device().index;
  std::vector<int64_t> out_shape;
  const ConvWindow win = window_of(x, w, p, out_shape);
  const TensorOptions opts{x.dtype(), x.device()};
  Tensor y = empty(out_shape, opts);
  if (y.numel() == 0) return y;
  const int64_t Cout = out_shape[1], K = win.kernel_numel(), L = win.out_numel();
  const int64_t Cg = Cin / G, Coutg = Cout / G;
  const int64_t col_rows = (p.transposed ? Cout : Cin) * K;
  if (Cg == 0) {  // no input channels: the sum over them is empty
    be.fill(strided_ref(y), 0, dev);
    add_bias(y, bias);
    return y;
  }
  // A vendor library's convolution where the backend has one for the case; a transposed convolution is the
  // library's gradient to the input of the convolution it transposes.
  {
    const Tensor xc = x.contiguous();
    if (!p.transposed) {
      const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
      if (be.library_conv(strided_ref(y), strided_ref(xc), strided_ref(w), bc.defined() ? strided_ref(bc) : StridedRef{},
                          win, G, dev)) {
        return y;
      }
    } else if (be.library_conv_backward_input(strided_ref(y), strided_ref(xc), strided_ref(w.contiguous()), win, G,
                                              dev)) {
      add_bias(y, bias);
      return y;
    }
  }
  const bool fold = L < kFoldBelow;
  const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(col_rows * L, 1), 1, B);
  if (!p.transposed) {
    // out[b, g] = W[g] [Coutg, Cg K] @ col[g, :, b, :] [Cg K, L]
    Tensor wm = w.contiguous().view({G, Coutg, Cg * K});
    // The folded GEMM reads col as [(c, k), (b, l)]. Its transpose is the unfolding of x with batch and
    // channels swapped and the window's roles exchanged (kernel <-> positions, stride <-> dilation); when the
    // kernel's last dim is the longer one (a weight gradient, whose "kernel" is the output), that unfolding
    // copies the longer rows, and the GEMM takes it as a transposed operand.
    const bool transposed_col = fold && win.kernel[dims - 1] > win.out[dims - 1];
    ConvWindow alt = win;
    for (int d = 0; d < dims; ++d) {
      std::swap(alt.kernel[d], alt.out[d]);
      std::swap(alt.stride[d], alt.dilation[d]);
    }
    for (int64_t b0 = 0; b0 < B; b0 += chunk) {
      const int64_t bc = std::min(chunk, B - b0);
      Tensor col, cols;  // cols: col as [G, Cg K, bc L]
      if (transposed_col) {
        col = empty({bc * L, col_rows}, opts);
        be.im2col(strided_ref(col), strided_ref(x.narrow(0, b0, bc).transpose(0, 1)), alt, dev);
        cols = col.view({bc * L, G, Cg * K}).permute({1, 2, 0});
      } else {
        col = empty({col_rows, bc, L}, opts);
        be.im2col(strided_ref(col), strided_ref(x.narrow(0, b0, bc)), win, dev);
        cols = col.view({G, Cg * K, bc * L});
      }
      Tensor ys = y.narrow(0, b0, bc);
      if (fold) {
        Tensor tmp = empty({G, Coutg, bc * L}, opts);
        be.gemm(strided_ref(tmp), strided_ref(wm), strided_ref(cols), dev);
        be.copy(strided_ref(ys.view({bc, G, Coutg, L})), strided_ref(tmp.view({G, Coutg, bc, L}).permute({2, 0, 1, 3})),
                dev);
      } else if (G == 1) {
        // One batched GEMM over the chunk: the weight repeats (batch stride 0), each sample's columns are a
        // strided matrix of col.
        be.gemm(strided_ref(ys.view({bc, Cout, L})), strided_ref(wm.view({Cout, K * Cin}).expand({bc, Cout, K * Cin})),
                strided_ref(col.view({col_rows, bc, L}).transpose(0, 1)), dev);
      } else {
        Tensor per_sample = col.view({G, Cg * K, bc, L});
        for (int64_t b = 0; b < bc; ++b) {
          be.gemm(strided_ref(ys.select(0, b).view({G, Coutg, L})), strided_ref(wm),
                  strided_ref(per_sample.select(2, b)), dev);
        }
      }
    }
  } else {
    // col[g, :, b, :] [Coutg K, L] = W[g]^T [Coutg K, Cg] @ x[b, g] [Cg, L], then folded back by col2im.
    // A chunk of samples takes one GEMM over x's chunk with batch and channels swapped (a copy of that chunk
    // of x, never more than x) and one col2im. The CPU takes large samples one at a time, so its col buffer
    // stays small; on the GPU one sample at a time cost resnet18's backward three launches per sample and
    // convolution (BM_Conv2dBackward 4-6x PyTorch's time on an H100).
    Tensor wt = w.contiguous().view({G, Cg, Coutg * K}).transpose(1, 2);
    Tensor xc = x.contiguous();
    const int64_t step = fold || !x.device().is_cpu() ? chunk : 1;
    for (int64_t b0 = 0; b0 < B; b0 += step) {
      const int64_t bc = std::min(step, B - b0);
      Tensor col = empty({col_rows, bc, L}, opts);
      Tensor xs = xc.narrow(0, b0, bc);
      if (bc > 1) xs = xs.view({bc, G, Cg, L}).permute({1, 2, 0, 3}).contiguous();
      be.gemm(strided_ref(col.view({G, Coutg * K, bc * L})), strided_ref(wt), strided_ref(xs.view({G, Cg, bc * L})),
              dev);
      be.col2im(strided_ref(y.narrow(0, b0, bc)), strided_ref(col), win, dev);
    }
  }
  add_bias(y, bias);
  return y;
}

Value int_list_value(const std::vector<int64_t>& v) { return v; }

Tensor convolution(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& p) {
  return call_op("convolution", {x, w, bias.defined() ? Value(bias) : Value(None{}), int_list_value(p.stride),
                                 int_list_value(p.padding), int_list_value(p.dilation), Scalar(p.transposed),
                                 int_list_value(p.output_padding), Scalar(p.groups)})[0];
}

// Narrows the spatial dims of t (from dim 2) to `sizes` where t is larger.
Tensor narrow_spatial(Tensor t, std::span<const int64_t> sizes) {
  for (size_t d = 0; d < sizes.size(); ++d) {
    const int64_t dim = static_cast<int64_t>(d) + 2;
    if (t.size(dim) != sizes[d]) t = t.narrow(dim, 0, sizes[d]);
  }
  return t;
}

std::vector<int64_t> spatial(const Tensor& t) { return {t.sizes().begin() + 2, t.sizes().end()}; }

// The weight gradient of a (non-transposed) convolution of z [N, C, S...] with stride/padding/dilation p
// whose output's gradient is g [N, Cout, O...], for a weight of spatial size `kernel`:
// dW[co, ci, k] = sum_{n, o} g[n, co, o] z[n, ci, o stride + k dilation - padding] (within the group). That
// is a convolution of z with batch and channels swapped by g as the kernel, stride and dilation exchanged.
Tensor weight_grad(const Tensor& z, const Tensor& g, const ConvParams& p, std::span<const int64_t> kernel) {
  const int64_t N = z.size(0), C = z.size(1), Cout = g.size(1), G = p.groups;
  const int64_t Cg = C / G, Coutg = Cout / G;
  auto zs = spatial(z), gs = spatial(g);
  Tensor zt, gt;
  if (G == 1) {
    zt = z.transpose(0, 1);  // [C, N, S...]: a view; im2col reads any strides
    gt = g.transpose(0, 1);  // [Cout, N, O...]
  } else {
    std::vector<int64_t> zshape = {N, G, Cg}, perm = {2, 1, 0}, zview = {Cg, G * N};
    zshape.insert(zshape.end(), zs.begin(), zs.end());
    zview.insert(zview.end(), zs.begin(), zs.end());
    for (size_t d = 0; d < zs.size(); ++d) perm.push_back(static_cast<int64_t>(d) + 3);
    zt = z.reshape(zshape).permute(perm).reshape(zview);
    std::vector<int64_t> gshape = {N, G, Coutg}, gperm = {1, 2, 0}, gview = {Cout, N};
    gshape.insert(gshape.end(), gs.begin(), gs.end());
    gview.insert(gview.end(), gs.begin(), gs.end());
    for (size_t d = 0; d < gs.size(); ++d) gperm.push_back(static_cast<int64_t>(d) + 3);
    gt = g.reshape(gshape).permute(gperm).reshape(gview);
  }
  ConvParams swapped = p;
  swapped.stride = p.dilation;
  swapped.dilation = p.stride;
  swapped.transposed = false;
  std::fill(swapped.output_padding.begin(), swapped.output_padding.end(), 0);
  Tensor r = convolution(zt, gt, Tensor(), swapped);  // [Cg, Cout, K'...], K' >= K
  return narrow_spatial(r, kernel).transpose(0, 1);
}

// The gradients of convolution(x, w, b) for g through the backend's library kernels, or nothing where it has
// none for a gradient needed. Not differentiable again: for backward without create_graph only.
// With dead taps cut (w a view of the kept taps of `full`), the weight gradient is full's shape: zeros, with
// the library writing the kept taps' gradient through the same view.
std::optional<std::vector<Tensor>> library_backward(GradContext& c, const Tensor& x, const Tensor& w, const Tensor& g,
                                                    const ConvParams& p, const DeadTaps* cut, const Tensor& full) {
  Backend& be = backend(x.device().type);
  const int dev = x.device().index;
  std::vector<int64_t> out_shape;
  const ConvWindow win = window_of(x, w, p, out_shape);
  const Tensor xc = x.contiguous(), gc = g.contiguous();
  const TensorOptions opts{x.dtype(), x.device()};
  const bool bias = c.input_count() > 2 && c.needs_grad(2);
  Tensor gx, gw, gw_out, gb;  // gw_out: where the library writes gw
  auto ref = [](const Tensor& t) { return t.defined() ? strided_ref(t) : StridedRef{}; };
  if (c.needs_grad(0)) gx = empty(x.shape(), opts);
  if (c.needs_grad(1)) {
    gw = cut ? zeros(full.shape(), opts) : empty(w.shape(), opts);
    gw_out = cut ? cut_weight(gw, *cut) : gw;
  }
  // The library sums the bias gradient with the weight's for a plain convolution; a transposed one's bias
  // belongs to its output, g.
  if (bias && !p.transposed && c.needs_grad(1)) gb = empty({g.size(1)}, opts);
  if (!p.transposed) {
    // Both gradients in one call, so the library can share its work between them.
    // The weight as it is (the library takes strided weights, or says no).
    if (!be.library_conv_backward(ref(gx), ref(gw_out), ref(gb), strided_ref(xc), strided_ref(gc), strided_ref(w), win,
                                  p.groups, dev)) {
      return std::nullopt;
    }
  } else {
    const Tensor wc = w.contiguous();
    // A transposed convolution's input gradient is the plain convolution of g, and its weight gradient the
    // plain convolution's with x and g swapped.
    if (gx.defined() &&
        !be.library_conv(strided_ref(gx), strided_ref(gc), strided_ref(wc), StridedRef{}, win, p.groups, dev)) {
      return std::nullopt;
    }
    if (gw.defined() && !be.library_conv_backward_weight(strided_ref(gw), StridedRef{}, strided_ref(gc),
                                                         strided_ref(xc), win, p.groups, dev)) {
      return std::nullopt;
    }
  }
  if (bias && !gb.defined()) {
    std::vector<int64_t> reduce = {0};
    for (int64_t d = 2; d < g.dim(); ++d) reduce.push_back(d);
    gb = g.sum(reduce);
  }
  return std::vector<Tensor>{gx, gw, gb};
}

// The gradients of convolution(x, w) for g; with `cut`, w is the kept taps of `full` (see dead_taps) and the
// weight's gradient is full's.
std::vector<Tensor> convolution_grads(GradContext& c, const Tensor& x, const Tensor& w, const Tensor& g,
                                      const ConvParams& p, const DeadTaps* cut, const Tensor& full) {
  const size_t dims = static_cast<size_t>(w.dim() - 2);
  auto kernel = spatial(w);
  // Without a graph of the backward to record (no create_graph), a vendor library's gradient kernels.
  if (!autograd::GradMode::is_enabled()) {
    if (auto grads = library_backward(c, x, w, g, p, cut, full)) return *grads;
  }
  Tensor gx, gw, gb;
  if (!p.transposed) {
    if (c.needs_grad(0)) {
      // The transposed convolution of g, with the output padding that gives back x's size.
      ConvParams t = p;
      t.transposed = true;
      for (size_t d = 0; d < dims; ++d) {
        const int64_t o = g.size(static_cast<int64_t>(d) + 2);
        t.output_padding[d] = x.size(static_cast<int64_t>(d) + 2) -
                              ((o - 1) * p.stride[d] - 2 * p.padding[d] + p.dilation[d] * (kernel[d] - 1) + 1);
      }
      gx = convolution(g, w, Tensor(), t);
    }
    if (c.needs_grad(1)) gw = weight_grad(x, g, p, kernel);
  } else {
    if (c.needs_grad(0)) {
      ConvParams t = p;
      t.transposed = false;
      gx = narrow_spatial(convolution(g, w, Tensor(), t), spatial(x));
    }
    // y = T(x, w) is the adjoint of z -> conv(z, w): w's gradient is that convolution's with z = g, grad = x.
    if (c.needs_grad(1)) gw = weight_grad(g, x, p, kernel);
  }
  if (c.input_count() > 2 && c.needs_grad(2)) {
    std::vector<int64_t> reduce = {0};
    for (size_t d = 0; d < dims; ++d) reduce.push_back(static_cast<int64_t>(d) + 2);
    gb = g.sum(reduce);
  }
  // Zeros at the dead taps: an op, so a create_graph backward differentiates through it.
  if (cut && gw.defined()) gw = uncut_weight_grad(gw, full, *cut);
  return {gx, gw, gb};
}

std::vector<Tensor> convolution_backward(GradContext& c) {
  const Args& a = c.args();
  const Tensor &x = c.input(0), &w = c.input(1);
  ConvParams p{a.ints(3), a.ints(4), a.ints(5), a.ints(7), a.bool_at(6), a.int_at(8)};
  const size_t dims = static_cast<size_t>(w.dim() - 2);
  p.stride = expand_param("convolution", p.stride, "stride", dims);
  p.padding = expand_param("convolution", p.padding, "padding", dims);
  p.dilation = expand_param("convolution", p.dilation, "dilation", dims);
  p.output_padding = expand_param("convolution", p.output_padding, "output_padding", dims);
  // The forward ran without the dead taps (dead_taps): so do the gradients, and the weight's is zero there.
  if (auto t = dead_taps(x, w, p)) return convolution_grads(c, x, cut_weight(w, *t), c.grad(), t->p, &*t, w);
  return convolution_grads(c, x, w, c.grad(), p, nullptr, w);
}

// conv1d/2d/3d and conv_transpose1d/2d/3d: unbatched input gets a batch dim of 1 around the primitive.
Tensor conv_nd(std::string_view op, int dims, const Tensor& input, const Tensor& weight, const Tensor& bias,
               std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation,
               bool transposed, std::vector<int64_t> output_padding, int64_t groups) {
  TD_CHECK_ARG(input.dim() == dims + 1 || input.dim() == dims + 2, "[", op, "] Expected ", dims + 1,
               "D (unbatched) or ", dims + 2, "D (batched) input to ", op, ", but got input of size: ",
               shape_str(input.sizes()));
  if (is_complex(input.dtype()) && !transposed) {
    // PyTorch's complex_convolution: (a + ib) * (c + id) as three real convolutions (Gauss's trick), written
    // in differentiable ops so reverse and forward mode follow. Transposed ones are refused, as on PyTorch's CPU.
    TD_CHECK_ARG(weight.dtype() == input.dtype(), "[", op, "] expected scalar type ",
                 scalar_type_name(input.dtype()), " but found ", scalar_type_name(weight.dtype()));
    TD_CHECK_ARG(!bias.defined() || bias.dtype() == input.dtype(), "[", op, "] Input type (",
                 c_type_name(input.dtype()), ") and bias type (", c_type_name(bias.dtype()), ") should be the same");
    auto real_conv = [&](const Tensor& x, const Tensor& w) {
      return conv_nd(op, dims, x, w, Tensor(), stride, padding, dilation, false, output_padding, groups);
    };
    const Tensor a = input.real(), b = input.imag(), c = weight.real(), d = weight.imag();
    Tensor ac = real_conv(a, c), bd = real_conv(b, d), sum = real_conv(a.add(b), c.add(d));
    Tensor y = Tensor::complex(ac.sub(bd), sum.sub(ac).sub(bd));
    if (!bias.defined()) return y;
    std::vector<int64_t> shape(static_cast<size_t>(dims) + 1, 1);
    shape[0] = bias.numel();
    return y.add(bias.view(shape));
  }
  const bool batched = input.dim() == dims + 2;
  Tensor x = batched ? input : input.unsqueeze(0);
  ConvParams p = check_convolution(op, x, weight, bias, stride, padding, dilation, transposed, output_padding, groups);
  Tensor y = convolution(x, weight, bias, p);
  return batched ? y : y.squeeze(0);
}

// conv{1,2,3}d with padding "valid" (none) or "same" (the output keeps the input's size, stride 1): PyTorch's
// _convolution_mode. An odd total padding d (k - 1) puts the extra element on the right, by an explicit pad.
Tensor conv_padding_mode(std::string_view op, int dims, const Tensor& input, const Tensor& weight,
                         const Tensor& bias, const std::vector<int64_t>& stride, const std::string& mode,
                         const std::vector<int64_t>& dilation, int64_t groups) {
  std::vector<int64_t> zeros(static_cast<size_t>(dims), 0);
  if (mode == "valid") return conv_nd(op, dims, input, weight, bias, stride, zeros, dilation, false, zeros, groups);
  TD_CHECK_ARG(mode == "same", "[", op, "] Invalid padding string: '", mode, "'");
  TD_CHECK_ARG(input.dim() == dims + 1 || input.dim() == dims + 2, "[", op, "] Expected ", dims + 1,
               "D (unbatched) or ", dims + 2, "D (batched) input to ", op, ", but got input of size: ",
               shape_str(input.sizes()));
  TD_CHECK_ARG(weight.dim() == dims + 2, "[", op, "] Expected ", dims + 2, "-dimensional weight for ", op,
               ", but got weight of size ", shape_str(weight.sizes()));
  const auto st = expand_param(op, stride, "stride", static_cast<size_t>(dims));
  const auto dil = expand_param(op, dilation, "dilation", static_cast<size_t>(dims));
  TD_CHECK_ARG(std::all_of(st.begin(), st.end(), [](int64_t s) { return s == 1; }), "[", op,
               "] padding='same' is not supported for strided convolutions");
  std::vector<int64_t> pad(static_cast<size_t>(dims)), extra(2 * static_cast<size_t>(dims), 0);
  bool symmetric = true;
  for (int d = 0; d < dims; ++d) {
    const int64_t total = dil[static_cast<size_t>(d)] * (weight.size(d + 2) - 1);
    pad[static_cast<size_t>(d)] = total / 2;
    if (total % 2) {
      symmetric = false;
      extra[2 * static_cast<size_t>(dims - 1 - d) + 1] = 1;  // pad's list starts at the last dim
    }
  }
  Tensor x = input;
  if (!symmetric) {
    x = call_op("pad", {input, extra, std::string("constant"), Scalar(0.0)})[0];
  }
  return conv_nd(op, dims, x, weight, bias, st, pad, dil, false, zeros, groups);
}

}  // namespace

void register_conv_ops(Registry& r) {
  r.def("convolution(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, "
        "bool transposed, int[] output_padding, int groups) -> Tensor")
      .doc("N-d (1 to 3) convolution or transposed convolution of a batched input: aten::convolution")
      .saves_inputs({0, 1})
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &w = a.tensor(1);
        Tensor bias = a.optional_tensor(2);
        ConvParams p = check_convolution("convolution", x, w, bias, a.ints(3), a.ints(4), a.ints(5), a.bool_at(6),
                                         a.ints(7), a.int_at(8));
        return {convolution_kernel(x, w, bias, p)};
      })
      .backward(convolution_backward);

  struct Family {
    const char* name;
    int dims;
    const char* list;  // "int[1]", "int[2]", "int[3]"
  };
  static constexpr Family kFamilies[] = {{"1d", 1, "int[1]"}, {"2d", 2, "int[2]"}, {"3d", 3, "int[3]"}};
  for (const Family& f : kFamilies) {
    const std::string conv = str("conv", f.name), tconv = str("conv_transpose", f.name), L = f.list;
    const int dims = f.dims;
    r.def(str(conv, "(Tensor input, Tensor weight, Tensor? bias=None, ", L, " stride=1, ", L, " padding=0, ", L,
              " dilation=1, int groups=1) -> Tensor"))
        .doc(str(dims, "-d convolution over a batched or unbatched input (torch.nn.functional.", conv, ")"))
        .composite()
        .forward([conv, dims](const Args& a) -> std::vector<Tensor> {
          return {conv_nd(conv, dims, a.tensor(0), a.tensor(1), a.optional_tensor(2), a.ints(3), a.ints(4), a.ints(5),
                          false, {0}, a.int_at(6))};
        });
    r.def(str(conv, ".padding(Tensor input, Tensor weight, Tensor? bias=None, ", L, " stride=1, str padding=\"valid\", ",
              L, " dilation=1, int groups=1) -> Tensor"))
        .doc(str(conv, " with padding \"valid\" (none) or \"same\" (output as large as the input)"))
        .composite()
        .forward([conv, dims](const Args& a) -> std::vector<Tensor> {
          return {conv_padding_mode(conv, dims, a.tensor(0), a.tensor(1), a.optional_tensor(2), a.ints(3),
                                    a.string_at(4), a.ints(5), a.int_at(6))};
        });
    r.def(str(tconv, "(Tensor input, Tensor weight, Tensor? bias=None, ", L, " stride=1, ", L, " padding=0, ", L,
              " output_padding=0, int groups=1, ", L, " dilation=1) -> Tensor"))
        .doc(str(dims, "-d transposed convolution (torch.nn.functional.", tconv, ")"))
        .composite()
        .forward([tconv, dims](const Args& a) -> std::vector<Tensor> {
          return {conv_nd(tconv, dims, a.tensor(0), a.tensor(1), a.optional_tensor(2), a.ints(3), a.ints(4),
                          a.ints(7), true, a.ints(5), a.int_at(6))};
        });
  }
}

}  // namespace td
