// The pooling family, with PyTorch 1.13's names, arguments, shape rules and messages: max pooling (1-3 d,
// with indices), max unpooling, average pooling (1-3 d), adaptive average and max pooling (1-3 d),
// fractional max pooling and power-average (lp) pooling.
//
// The backend has four kernels over contiguous [planes, D, H, W] data (Backend::max_pool, max_pool_backward,
// avg_pool, avg_pool_backward); 1-d poolings are 2-d ones over [.., 1, L] as in aten. Gradients are
// primitives with aten's names whose own gradients close the loop, so double backward works: max pooling's
// gradient adds the output gradients at the indices (max_pool2d_with_indices_backward), whose gradient
// gathers at the indices; average pooling's gradient (avg_pool2d_backward) is linear, and its gradient is
// the average pooling again. max_unpool2d/3d, fractional_max_pool2d/3d and lp_pool are written in other ops.
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

// ---- arguments and PyTorch's shape rules ----

// PyTorch's div_rtn: division rounding toward -inf.
int64_t div_rtn(int64_t x, int64_t y) {
  int64_t q = x / y, r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) --q;
  return q;
}

// pooling_output_shape with its checks, for one dim: the last window must start inside the input or the left
// padding when ceil_mode rounds up.
int64_t pooled_size(std::string_view op, int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation,
                    bool ceil_mode) {
  TD_CHECK_ARG(stride != 0, "[", op, "] stride should not be zero");
  TD_CHECK_ARG(pad >= 0, "[", op, "] pad must be non-negative, but got pad: ", pad);
  TD_CHECK_ARG(pad <= k / 2, "[", op, "] pad should be at most half of kernel size, but got pad=", pad,
               " and kernel_size=", k);
  int64_t out = div_rtn(in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// kernel_size, stride (kernel_size when None), padding, dilation of an n-d pooling, in signature order from
// argument `first` (dilation absent for average pooling).
struct Window {
  int n = 2;
  std::array<int64_t, 3> kernel{1, 1, 1}, stride{1, 1, 1}, pad{0, 0, 0}, dilation{1, 1, 1};
};

Window window_args(const Args& a, int n, size_t first, bool has_dilation) {
  Window w;
  w.n = n;
  const auto& k = a.ints(first);
  auto stride = a.optional_ints(first + 1);
  if (stride && stride->empty()) stride.reset();  // aten's `stride=[]`: the kernel size
  const auto& pad = a.ints(first + 2);
  for (int i = 0; i < n; ++i) {
    w.kernel[i] = k[i];
    w.stride[i] = stride ? (*stride)[i] : k[i];
    w.pad[i] = pad[i];
    if (has_dilation) w.dilation[i] = a.ints(first + 3)[i];
  }
  return w;
}

std::vector<int64_t> first_n(const std::array<int64_t, 3>& v, int n) {
  return {v.begin(), v.begin() + n};
}

// The spatial sizes (last n dims) of x and the product of the others (the planes).
struct Planes {
  int64_t planes = 1;
  std::vector<int64_t> spatial;
};
Planes planes_of(std::span<const int64_t> sizes, int n) {
  Planes p;
  const size_t lead = sizes.size() - static_cast<size_t>(n);
  for (size_t i = 0; i < lead; ++i) p.planes *= sizes[i];
  p.spatial.assign(sizes.begin() + static_cast<std::ptrdiff_t>(lead), sizes.end());
  return p;
}

void check_dtype(std::string_view op, std::string_view kernel, const Tensor& x, bool allow_int64) {
  const DType t = x.dtype();
  TD_CHECK_ARG(is_floating(t) || (allow_int64 && t == DType::kInt64), "[", op, "] \"", kernel,
               "\" not implemented for '", scalar_type_name(t), "'");
}

// pool2d_shape_check / pool3d_shape_check (Pool.h): the messages name the dims H, W (and T).
void shape_check(std::string_view op, const Tensor& x, const Window& w, std::span<const int64_t> out,
                 std::string_view fn_name, bool check_input_size) {
  const int n = w.n;
  const int64_t nd = x.dim();
  const Planes p = planes_of(x.sizes(), n);
  const int64_t channels = x.size(nd - n - 1);
  if (n == 2) {
    TD_CHECK_ARG(w.kernel[0] > 0 && w.kernel[1] > 0, "[", op,
                 "] kernel size should be greater than zero, but got kH: ", w.kernel[0],
                 " kW: ", w.kernel[1]);
    TD_CHECK_ARG(w.stride[0] > 0 && w.stride[1] > 0, "[", op,
                 "] stride should be greater than zero, but got dH: ", w.stride[0], " dW: ", w.stride[1]);
    TD_CHECK_ARG(w.dilation[0] > 0 && w.dilation[1] > 0, "[", op,
                 "] dilation should be greater than zero, but got dilationH: ", w.dilation[0],
                 " dilationW: ", w.dilation[1]);
    bool valid = x.size(1) != 0 && x.size(2) != 0 && (nd == 3 ? x.size(0) != 0 : x.size(3) != 0);
    TD_CHECK_ARG((nd == 3 || nd == 4) && valid, "[", op,
                 "] Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:",
                 shape_str(x.sizes()));
    TD_CHECK_ARG(w.kernel[1] / 2 >= w.pad[1] && w.kernel[0] / 2 >= w.pad[0], "[", op,
                 "] pad should be smaller than or equal to half of kernel size, but got padW = ", w.pad[1],
                 ", padH = ", w.pad[0], ", kW = ", w.kernel[1], ", kH = ", w.kernel[0]);
    TD_CHECK_ARG(out[0] >= 1 && out[1] >= 1, "[", op, "] Given input size: (", channels, "x", p.spatial[0],
                 "x", p.spatial[1], "). Calculated output size: (", channels, "x", out[0], "x", out[1],
                 "). Output size is too small");
    return;
  }
  TD_CHECK_ARG(w.kernel[0] > 0 && w.kernel[1] > 0 && w.kernel[2] > 0, "[", op,
               "] kernel size should be greater than zero, but got kT: ", w.kernel[0], " kH: ", w.kernel[1],
               " kW: ", w.kernel[2]);
  TD_CHECK_ARG(w.stride[0] > 0 && w.stride[1] > 0 && w.stride[2] > 0, "[", op,
               "] stride should be greater than zero, but got dT: ", w.stride[0], " dH: ", w.stride[1],
               " dW: ", w.stride[2]);
  TD_CHECK_ARG(w.dilation[0] > 0 && w.dilation[1] > 0 && w.dilation[2] > 0, "[", op,
               "] dilation should be greater than zero, but got dilationT: ", w.dilation[0],
               " dilationH: ", w.dilation[1], " dilationW: ", w.dilation[2]);
  TD_CHECK_ARG(nd == 4 || nd == 5, "[", op, "] ", fn_name,
               ": Expected 4D or 5D tensor for input, but got: ", shape_str(x.sizes()));
  for (int64_t i = 0; i < nd; ++i) {
    if (nd == 5 && i == 0) continue;  // the batch may be empty
    TD_CHECK_ARG(x.size(i) > 0, "[", op, "] ", fn_name,
                 ": Expected input's non-batch dimensions to have positive length, but input has a shape of ",
                 shape_str(x.sizes()), " and non-batch dimension ", x.size(i), " has length zero!");
  }
  if (check_input_size) {
    TD_CHECK_ARG(p.spatial[0] >= w.kernel[0] && p.spatial[1] >= w.kernel[1] && p.spatial[2] >= w.kernel[2],
                 "[", op, "] input image (T: ", p.spatial[0], " H: ", p.spatial[1], " W: ", p.spatial[2],
                 ") smaller than kernel size (kT: ", w.kernel[0], " kH: ", w.kernel[1], " kW: ", w.kernel[2],
                 ")");
  }
  TD_CHECK_ARG(w.kernel[0] / 2 >= w.pad[0] && w.kernel[2] / 2 >= w.pad[2] && w.kernel[1] / 2 >= w.pad[1], "[",
               op, "] pad should be smaller than or equal to half of kernel size, but got kT: ", w.kernel[0],
               " kW: ", w.kernel[2], " kH: ", w.kernel[1], " padT: ", w.pad[0], " padW: ", w.pad[2],
               " padH: ", w.pad[1]);
  TD_CHECK_ARG(out[0] >= 1 && out[1] >= 1 && out[2] >= 1, "[", op, "] Given input size: (", channels, "x",
               p.spatial[0], "x", p.spatial[1], "x", p.spatial[2], "). Calculated output size: (", channels,
               "x", out[0], "x", out[1], "x", out[2], "). Output size is too small");
}

// The geometry the kernels read: n spatial dims placed last of three.
PoolGeometry geometry(int64_t planes, std::span<const int64_t> in, std::span<const int64_t> out,
                      const Window* w, bool adaptive) {
  PoolGeometry g;
  g.planes = planes;
  g.adaptive = adaptive;
  const int n = static_cast<int>(in.size());
  for (int i = 0; i < n; ++i) {
    PoolDim& d = g.dims[3 - n + i];
    d.in = in[static_cast<size_t>(i)];
    d.out = out[static_cast<size_t>(i)];
    if (w) {
      d.kernel = w->kernel[static_cast<size_t>(i)];
      d.stride = w->stride[static_cast<size_t>(i)];
      d.pad = w->pad[static_cast<size_t>(i)];
      d.dilation = w->dilation[static_cast<size_t>(i)];
    }
  }
  return g;
}

// A contiguous tensor seen as [planes, elements per plane], the layout every pooling kernel takes.
struct PlaneRef {
  std::array<int64_t, 2> sizes{}, strides{};
  StridedRef ref;
  PlaneRef(const Tensor& t, int64_t planes) {
    if (!t.defined()) return;
    sizes = {planes, planes ? t.numel() / planes : 0};
    strides = {sizes[1], 1};
    ref = StridedRef{t.data_ptr(), t.dtype(), sizes, strides};
  }
  PlaneRef(const PlaneRef&) = delete;
};

std::vector<int64_t> with_spatial(std::span<const int64_t> sizes, int n, std::span<const int64_t> spatial) {
  std::vector<int64_t> shape(sizes.begin(), sizes.end() - n);
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  return shape;
}

// A tensor that only carries a shape (stride 0, one element): the `self` of the gradient ops, which read
// nothing but its sizes, so the forward input need not be kept.
Tensor shape_only(const autograd::TensorMeta& m) {
  return zeros({}, {m.dtype, m.device}).expand(m.sizes);
}

// The gradient ops' gradient for `self`, which they read only for its shape: zeros, as PyTorch's
// derivatives.yaml gives (zeros_like(self)).
Tensor zeros_of(const autograd::TensorMeta& m) {
  return zeros(m.sizes, {m.dtype, m.device});
}

std::vector<Value> values_of(const Args& a) {
  std::vector<Value> v;
  for (size_t i = 0; i < a.size(); ++i) v.push_back(a.value(i));
  return v;
}

// ---- max pooling ----

std::string n_name(std::string_view base, int n) {
  return str(base, n, "d");
}

// Checks a max pooling call (self, kernel_size, stride, padding, dilation, ceil_mode) and gives its window
// and output shape.
struct MaxPoolCall {
  Window w;
  std::vector<int64_t> out_spatial, out_shape;
  Planes p;
};
MaxPoolCall check_max_pool(std::string_view op, const Args& a, int n) {
  const Tensor& x = a.tensor(0);
  MaxPoolCall c;
  c.w = window_args(a, n, 1, true);
  const bool ceil_mode = a.bool_at(5);
  TD_CHECK_ARG(x.dim() == n + 1 || x.dim() == n + 2, "[", op, "] non-empty ", n + 1, "D or ", n + 2,
               "D (batch mode) tensor expected for input");
  c.p = planes_of(x.sizes(), n);
  for (int i = 0; i < n; ++i) {
    c.out_spatial.push_back(pooled_size(op, c.p.spatial[static_cast<size_t>(i)], c.w.kernel[i], c.w.pad[i],
                                        c.w.stride[i], c.w.dilation[i], ceil_mode));
  }
  shape_check(op, x, c.w, c.out_spatial, "max_pool3d_with_indices_out_cpu_template()", false);
  check_dtype(op, n == 2 ? "max_pool2d" : "max_pool3d_with_indices_cpu", x, false);
  c.out_shape = with_spatial(x.sizes(), n, c.out_spatial);
  return c;
}

// Runs the max pooling kernel; the indices only when asked for.
std::vector<Tensor> run_max_pool(const Tensor& x, const Planes& p, const std::vector<int64_t>& out_shape,
                                 std::span<const int64_t> out_spatial, const Window* w, bool adaptive,
                                 bool want_indices) {
  Tensor out = empty(out_shape, {x.dtype(), x.device()});
  Tensor indices = want_indices ? empty(out_shape, {DType::kInt64, x.device()}) : Tensor();
  if (out.numel() == 0) return {out, indices};
  Tensor xc = x.contiguous();
  PoolGeometry g = geometry(p.planes, p.spatial, out_spatial, w, adaptive);
  PlaneRef ro(out, p.planes), ri(indices, p.planes), rx(xc, p.planes);
  backend(x.device().type).max_pool(ro.ref, ri.ref, rx.ref, g, x.device().index);
  return {out, indices};
}

// grad_in = zeros of self's shape with grad_output added at the indices (per plane of n spatial dims).
Tensor scatter_at_indices(const Tensor& grad_output, std::span<const int64_t> self_sizes,
                          const Tensor& indices, int n) {
  Planes p = planes_of(self_sizes, n);
  Tensor grad_in = empty(std::vector<int64_t>(self_sizes.begin(), self_sizes.end()),
                         {grad_output.dtype(), grad_output.device()});
  if (grad_in.numel() == 0) return grad_in;
  Tensor go = grad_output.contiguous(), ix = indices.contiguous();
  PlaneRef rg(grad_in, p.planes), ro(go, p.planes), rx(ix, p.planes);
  backend(grad_output.device().type).max_pool_backward(rg.ref, ro.ref, rx.ref, grad_output.device().index);
  return grad_in;
}

// The gradient of scatter_at_indices with respect to grad_output: gg read at the indices.
Tensor gather_at_indices(const Tensor& gg, const Tensor& indices, int n) {
  Planes p = planes_of(gg.sizes(), n);
  int64_t per_plane = 1;
  for (int64_t s : p.spatial) per_plane *= s;
  Planes q = planes_of(indices.sizes(), n);
  int64_t per_out = 1;
  for (int64_t s : q.spatial) per_out *= s;
  return gg.reshape({p.planes, per_plane})
      .gather(1, indices.reshape({q.planes, per_out}))
      .view(indices.shape());
}

void check_indices_backward(std::string_view op, const Tensor& grad_output, const Tensor& self,
                            const Tensor& indices, int n) {
  TD_CHECK_ARG(indices.dtype() == DType::kInt64, "[", op, "] indices must be int64, got ",
               dtype_name(indices.dtype()));
  TD_CHECK_ARG(grad_output.shape() == indices.shape(), "[", op, "] grad_output of shape ",
               shape_str(grad_output.sizes()), " does not match indices of shape ",
               shape_str(indices.sizes()));
  TD_CHECK_ARG(self.dim() == grad_output.dim() && self.dim() > n, "[", op, "] self of shape ",
               shape_str(self.sizes()), " does not match grad_output of shape ",
               shape_str(grad_output.sizes()));
  for (int64_t i = 0; i + n < self.dim(); ++i) {
    TD_CHECK_ARG(self.size(i) == grad_output.size(i), "[", op, "] self of shape ", shape_str(self.sizes()),
                 " does not match grad_output of shape ", shape_str(grad_output.sizes()));
  }
  check_dtype(op, op, grad_output, false);
}

void register_max_pool(Registry& r, int n) {
  const std::string name = n_name("max_pool", n), with = name + "_with_indices", bw = with + "_backward";
  const std::string ints = str("int[", n, "]");
  r.def(with + "(Tensor self, " + ints + " kernel_size, " + ints + "? stride=None, " + ints + " padding=0, " +
        ints + " dilation=1, bool ceil_mode=False) -> (Tensor output, Tensor indices)")
      .doc(str("max pooling over the last ", n,
               " dims and the offset of each max in its plane; NaN counts as the max, as in PyTorch"))
      .forward([with, n](const Args& a) -> std::vector<Tensor> {
        MaxPoolCall c = check_max_pool(with, a, n);
        return run_max_pool(a.tensor(0), c.p, c.out_shape, c.out_spatial, &c.w, false, true);
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([bw, n](GradContext& c) -> std::vector<Tensor> {
        const Args& a = c.args();
        Window w = window_args(a, n, 1, true);
        return {call_op(bw, {c.grad(0), shape_only(c.input_meta(0)), a.value(1), first_n(w.stride, n),
                             a.value(3), a.value(4), a.value(5), c.output(1)})[0]};
      });

  r.def(bw + "(Tensor grad_output, Tensor self, " + ints + " kernel_size, " + ints + " stride, " + ints +
        " padding, " + ints + " dilation, bool ceil_mode, Tensor indices) -> Tensor")
      .doc(str("the gradient of ", with, ": grad_output added into zeros of self's shape at the indices"))
      .forward([bw, n](const Args& a) -> std::vector<Tensor> {
        const Tensor &g = a.tensor(0), &self = a.tensor(1), &indices = a.tensor(7);
        check_indices_backward(bw, g, self, indices, n);
        return {scatter_at_indices(g, self.sizes(), indices, n)};
      })
      .saves_inputs({2})
      .backward([n](GradContext& c) -> std::vector<Tensor> {
        return {gather_at_indices(c.grad(), c.input(2), n),
                c.needs_grad(1) ? zeros_of(c.input_meta(1)) : Tensor(), Tensor()};
      });

  r.def(name + "(Tensor self, " + ints + " kernel_size, " + ints + "? stride=None, " + ints + " padding=0, " +
        ints + " dilation=1, bool ceil_mode=False) -> Tensor")
      .doc(str("max pooling over the last ", n, " dims (", with, "'s values)"))
      .composite()
      .forward([name, with, n](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        MaxPoolCall c = check_max_pool(name, a, n);
        if (ops::needs_derivative(x)) return {call_op(with, values_of(a))[0]};
        // Nothing will differentiate it: the kernel skips the indices.
        return {run_max_pool(x, c.p, c.out_shape, c.out_spatial, &c.w, false, false)[0]};
      });
}

// PyTorch's check1d and checkDimRange for the 1-d ops.
void check_1d_args(std::string_view op, std::string_view fn, const Args& a,
                   std::initializer_list<size_t> lists, std::initializer_list<std::string_view> names) {
  const Tensor& x = a.tensor(0);
  TD_CHECK_ARG(x.dim() == 2 || x.dim() == 3, "[", op, "] Expected 2 to 3 dimensions, but got ", x.dim(),
               "-dimensional tensor for argument #1 'self' (while checking arguments for ", fn, ")");
  auto name = names.begin();
  for (size_t i : lists) {
    if (!a.is_none(i)) {
      TD_CHECK_ARG(a.ints(i).size() == 1, "[", op, "] ", fn, "() argument '", *name,
                   "' should contain one int (got ", a.ints(i).size(), ")");
    }
    ++name;
  }
}

// A 1-d pooling as the 2-d one over [.., 1, L]: each int[1] list i becomes {fill, v}.
std::vector<Value> as_2d(const Args& a, std::initializer_list<std::pair<size_t, int64_t>> lists) {
  std::vector<Value> v = values_of(a);
  v[0] = a.tensor(0).unsqueeze(-2);
  for (auto [i, fill] : lists) {
    if (a.is_none(i)) continue;
    v[i] = std::vector<int64_t>{fill, a.ints(i)[0]};
  }
  return v;
}

void register_max_pool1d(Registry& r) {
  r.def(
       "max_pool1d_with_indices(Tensor self, int[1] kernel_size, int[1]? stride=None, int[1] padding=0, "
       "int[1] "
       "dilation=1, bool ceil_mode=False) -> (Tensor output, Tensor indices)")
      .doc("max pooling over the last dim and each max's index (max_pool2d_with_indices over [.., 1, L])")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_1d_args("max_pool1d_with_indices", "max_pool1d", a, {1, 2, 3, 4},
                      {"kernel_size", "stride", "padding", "dilation"});
        std::vector<Value> v = as_2d(a, {{1, 1}, {3, 0}, {4, 1}});
        if (a.is_none(2))
          v[2] = std::vector<int64_t>{1, a.ints(1)[0]};
        else
          v[2] = std::vector<int64_t>{1, a.ints(2)[0]};
        auto outs = call_op("max_pool2d_with_indices", std::move(v));
        return {outs[0].squeeze(-2), outs[1].squeeze(-2)};
      });

  r.def(
       "max_pool1d(Tensor self, int[1] kernel_size, int[1]? stride=None, int[1] padding=0, int[1] "
       "dilation=1, bool "
       "ceil_mode=False) -> Tensor")
      .doc("max pooling over the last dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        // PyTorch 1.13's check_max_pool1d, then max_pool1d_with_indices' values.
        const Tensor& x = a.tensor(0);
        const std::string op = "max_pool1d";
        TD_CHECK_ARG((x.dim() == 2 && x.size(0) != 0 && x.size(1) != 0) ||
                         (x.dim() == 3 && x.size(1) != 0 && x.size(2) != 0),
                     "[", op,
                     "] max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                     "input, but got:",
                     shape_str(x.sizes()));
        for (auto [i, arg] : {std::pair<size_t, const char*>{1, "kernel_size"},
                              {2, "stride"},
                              {3, "padding"},
                              {4, "dilation"}}) {
          if (a.is_none(i)) continue;
          TD_CHECK_ARG(a.ints(i).size() == 1, "[", op, "] max_pool1d() ", arg,
                       " must be an int, list of ints or tuple of ints of size 1 but got size ",
                       a.ints(i).size());
        }
        const int64_t k = a.ints(1)[0], s = a.is_none(2) ? k : a.ints(2)[0], p = a.ints(3)[0],
                      d = a.ints(4)[0];
        TD_CHECK_ARG(k > 0, "[", op, "] max_pool1d() kernel_size must be greater than zero, but got ", k);
        TD_CHECK_ARG(s > 0, "[", op, "] max_pool1d() stride must be greater than zero, but got ", s);
        TD_CHECK_ARG(p >= 0, "[", op, "] max_pool1d() padding must be non-negative, but got ", p);
        TD_CHECK_ARG(p <= k / 2, "[", op,
                     "] max_pool1d() padding should be at most half of kernel size, but got padding=", p,
                     " and kernel_size=", k);
        TD_CHECK_ARG(d > 0, "[", op, "] max_pool1d() dilation must be greater than zero, but got ", d);
        const int64_t ow = pooled_size(op, x.size(-1), k, p, s, d, a.bool_at(5));
        TD_CHECK_ARG(ow >= 0, "[", op, "] max_pool1d() Invalid computed output size: ", ow);
        const bool grad = ops::needs_derivative(x);
        if (ow == 0 &&
            !grad) {  // PyTorch's no-indices kernel gives an empty result where the 2-d check refuses
          auto shape = x.shape();
          shape.back() = 0;
          return {empty(shape, {x.dtype(), x.device()})};
        }
        return {call_op("max_pool1d_with_indices", values_of(a))[0]};
      });
}

// ---- average pooling ----

struct AvgPoolCall {
  Window w;
  std::vector<int64_t> out_spatial, out_shape;
  Planes p;
  PoolGeometry g;
};

// Checks an average pooling of `self`'s shape (self, kernel_size, stride, padding, ceil_mode,
// count_include_pad, divisor_override at `first`..).
AvgPoolCall check_avg_pool(std::string_view op, const Tensor& x, const Args& a, size_t first, int n) {
  AvgPoolCall c;
  c.w = window_args(a, n, first, false);
  const bool ceil_mode = a.bool_at(first + 3);
  std::optional<int64_t> divisor;
  if (!a.is_none(first + 5)) divisor = a.int_at(first + 5);
  if (n == 3) {
    TD_CHECK_ARG(x.dim() == 4 || x.dim() == 5, "[", op,
                 "] non-empty 4D or 5D (batch mode) tensor expected for input");
  }
  TD_CHECK_ARG(!divisor || *divisor != 0, "[", op, "] divisor must be not zero");
  TD_CHECK(x.dim() >= n + 1, ErrorCode::kOutOfRange, "[", op,
           "] Dimension out of range (expected to be in range of [", -x.dim(), ", ", x.dim() - 1,
           "], but got ", -(n + 1), ")");
  c.p = planes_of(x.sizes(), n);
  for (int i = 0; i < n; ++i) {
    c.out_spatial.push_back(pooled_size(op, c.p.spatial[static_cast<size_t>(i)], c.w.kernel[i], c.w.pad[i],
                                        c.w.stride[i], 1, ceil_mode));
  }
  shape_check(op, x, c.w, c.out_spatial, "avg_pool3d()", true);
  c.out_shape = with_spatial(x.sizes(), n, c.out_spatial);
  c.g = geometry(c.p.planes, c.p.spatial, c.out_spatial, &c.w, false);
  c.g.count_include_pad = a.bool_at(first + 4);
  c.g.divisor_override = divisor.value_or(0);
  return c;
}

void register_avg_pool(Registry& r, int n) {
  const std::string name = n_name("avg_pool", n), bw = name + "_backward";
  const std::string ints = str("int[", n, "]");
  r.def(
       name + "(Tensor self, " + ints + " kernel_size, " + ints + "? stride=None, " + ints +
       " padding=0, bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None) -> Tensor")
      .doc(str("average pooling over the last ", n, " dims"))
      .forward([name, n](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        AvgPoolCall c = check_avg_pool(name, x, a, 1, n);
        check_dtype(name, name, x, true);
        Tensor out = empty(c.out_shape, {x.dtype(), x.device()});
        if (out.numel() == 0) return {out};
        Tensor xc = x.contiguous();
        PlaneRef ro(out, c.p.planes), rx(xc, c.p.planes);
        backend(x.device().type).avg_pool(ro.ref, rx.ref, c.g, x.device().index);
        return {out};
      })
      .saves_inputs({})
      .backward([bw, n](GradContext& c) -> std::vector<Tensor> {
        const Args& a = c.args();
        Window w = window_args(a, n, 1, false);
        return {call_op(bw, {c.grad(), shape_only(c.input_meta(0)), a.value(1), first_n(w.stride, n),
                             a.value(3), a.value(4), a.value(5), a.value(6)})[0]};
      });

  r.def(bw + "(Tensor grad_output, Tensor self, " + ints + " kernel_size, " + ints + " stride, " + ints +
        " padding, bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor")
      .doc(str("the gradient of ", name, ": each output's gradient shared over its window (by the divisor)"))
      .forward([bw, n](const Args& a) -> std::vector<Tensor> {
        const Tensor &g = a.tensor(0), &self = a.tensor(1);
        AvgPoolCall c = check_avg_pool(bw, self, a, 2, n);
        TD_CHECK_ARG(g.shape() == c.out_shape, "[", bw, "] grad_output of shape ", shape_str(g.sizes()),
                     " does not match the pooled shape ", shape_str(c.out_shape));
        check_dtype(bw, bw, g, false);
        Tensor grad_in = empty(self.shape(), {g.dtype(), g.device()});
        if (grad_in.numel() == 0) return {grad_in};
        Tensor gc = g.contiguous();
        PlaneRef rg(grad_in, c.p.planes), ro(gc, c.p.planes);
        backend(g.device().type).avg_pool_backward(rg.ref, ro.ref, c.g, g.device().index);
        return {grad_in};
      })
      .saves_inputs({})
      .backward([name](GradContext& c) -> std::vector<Tensor> {
        const Args& a = c.args();
        return {call_op(name, {c.grad(), a.value(2), a.value(3), a.value(4), a.value(5), a.value(6),
                               a.value(7)})[0],
                c.needs_grad(1) ? zeros_of(c.input_meta(1)) : Tensor()};
      });
}

void register_avg_pool1d(Registry& r) {
  r.def(
       "avg_pool1d(Tensor self, int[1] kernel_size, int[1]? stride=None, int[1] padding=0, bool "
       "ceil_mode=False, "
       "bool count_include_pad=True) -> Tensor")
      .doc("average pooling over the last dim (avg_pool2d over [.., 1, L])")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_1d_args("avg_pool1d", "avg_pool1d", a, {1, 2, 3}, {"kernel_size", "stride", "padding"});
        std::vector<Value> v = as_2d(a, {{1, 1}, {2, 1}, {3, 0}});
        if (a.is_none(2)) v[2] = std::vector<int64_t>{1, a.ints(1)[0]};
        return {call_op("avg_pool2d", std::move(v))[0].squeeze(-2)};
      });
}

// ---- adaptive pooling ----

// The checks of adaptive_avg_pool{2,3}d / adaptive_max_pool{2,3}d (n spatial dims), and the output shape, in
// PyTorch 1.13's words (its 3-d average pooling names adaptive_avg_pool2d in the output_size message).
std::vector<int64_t> check_adaptive(std::string_view op, std::string_view fn, const Tensor& x,
                                    const std::vector<int64_t>& output_size, bool is_max, int n) {
  const int64_t nd = x.dim();
  TD_CHECK_ARG(nd == n + 1 || nd == n + 2, "[", op, "] ", fn, "(): Expected ", n + 1, "D or ", n + 2,
               "D tensor, but got", is_max ? ": " : " ", shape_str(x.sizes()));
  for (int64_t i = is_max || n == 3 ? 1 : nd - 2; i < nd; ++i) {
    TD_CHECK_ARG(x.size(i) > 0, "[", op, "] ", fn,
                 "(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ",
                 shape_str(x.sizes()), " with dimension ", i, " being empty");
  }
  const bool negative = std::any_of(output_size.begin(), output_size.end(), [](int64_t s) { return s < 0; });
  if (is_max) {
    TD_CHECK_ARG(!negative, "[", op, "] Trying to create tensor with negative dimension ",
                 *std::find_if(output_size.begin(), output_size.end(), [](int64_t s) { return s < 0; }), ": ",
                 shape_str(with_spatial(x.sizes(), n, output_size)));
  } else {
    TD_CHECK_ARG(!negative, "[", op, "] adaptive_avg_pool2d: elements of output_size must be greater than or equal "
                 "to 0 but received {", output_size[0], ", ", output_size[1],
                 n == 3 ? str(",", output_size[2]) : std::string(), "}");
  }
  check_dtype(op, n == 2 ? std::string(fn) : str(fn, x.device().is_cuda() ? "_cuda" : "_cpu"), x, false);
  return with_spatial(x.sizes(), n, output_size);
}

// _adaptive_avg_pool{n}d, its backward, adaptive_avg_pool{n}d, adaptive_max_pool{n}d and its backward, for
// n = 2, 3 spatial dims (the kernels take up to three).
void register_adaptive_nd(Registry& r, int n) {
  const std::string ints = str("int[", n, "]"), avg = n_name("adaptive_avg_pool", n), max = n_name("adaptive_max_pool", n);
  const std::string raw = "_" + avg, raw_bw = raw + "_backward", max_bw = max + "_backward";
  r.def(raw + "(Tensor self, " + ints + " output_size) -> Tensor")
      .doc(str("adaptive average pooling of the last ", n,
               " dims to output_size (windows [floor(i*in/out), ceil((i+1)*in/out)))"))
      .forward([raw, avg, n](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        auto out_shape = check_adaptive(raw, avg, x, a.ints(1), false, n);
        Tensor out = empty(out_shape, {x.dtype(), x.device()});
        if (out.numel() == 0) return {out};
        Planes p = planes_of(x.sizes(), n);
        Tensor xc = x.contiguous();
        PlaneRef ro(out, p.planes), rx(xc, p.planes);
        backend(x.device().type)
            .avg_pool(ro.ref, rx.ref, geometry(p.planes, p.spatial, a.ints(1), nullptr, true), x.device().index);
        return {out};
      })
      .saves_inputs({})
      .backward([raw_bw](GradContext& c) -> std::vector<Tensor> {
        return {call_op(raw_bw, {c.grad(), shape_only(c.input_meta(0))})[0]};
      });

  r.def(raw_bw + "(Tensor grad_output, Tensor self) -> Tensor")
      .doc(str("the gradient of ", raw))
      .forward([raw_bw, n](const Args& a) -> std::vector<Tensor> {
        const Tensor &g = a.tensor(0), &self = a.tensor(1);
        const std::string& op = raw_bw;
        TD_CHECK_ARG(g.dim() == self.dim() && self.dim() >= n + 1, "[", op, "] grad_output of shape ",
                     shape_str(g.sizes()), " does not match self of shape ", shape_str(self.sizes()));
        check_dtype(op, op, g, false);
        Tensor grad_in = empty(self.shape(), {g.dtype(), g.device()});
        if (grad_in.numel() == 0) return {grad_in};
        Planes p = planes_of(self.sizes(), n), q = planes_of(g.sizes(), n);
        TD_CHECK_ARG(p.planes == q.planes, "[", op, "] grad_output of shape ", shape_str(g.sizes()),
                     " does not match self of shape ", shape_str(self.sizes()));
        Tensor gc = g.contiguous();
        PlaneRef rg(grad_in, p.planes), ro(gc, p.planes);
        backend(g.device().type)
            .avg_pool_backward(rg.ref, ro.ref, geometry(p.planes, p.spatial, q.spatial, nullptr, true),
                               g.device().index);
        return {grad_in};
      })
      .saves_inputs({})
      .backward([raw, n](GradContext& c) -> std::vector<Tensor> {
        const auto& gs = c.input_meta(0).sizes;
        std::vector<int64_t> out_size(gs.end() - n, gs.end());
        return {call_op(raw, {c.grad(), out_size})[0], c.needs_grad(1) ? zeros_of(c.input_meta(1)) : Tensor()};
      });

  r.def(avg + "(Tensor self, " + ints + " output_size) -> Tensor")
      .doc(str("adaptive average pooling of the last ", n, " dims (a mean over them for an all-ones output, as "
               "PyTorch)"))
      .composite()
      .forward([raw, avg, n](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto& size = a.ints(1);
        TD_CHECK_ARG(std::all_of(size.begin(), size.end(), [](int64_t s) { return s >= 0; }), "[", avg,
                     "] adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                     "received {", size[0], ", ", size[1], n == 3 ? str(",", size[2]) : std::string(), "}");
        if (std::all_of(size.begin(), size.end(), [](int64_t s) { return s == 1; }) && x.dim() >= n &&
            is_floating(x.dtype())) {
          check_adaptive(avg, avg, x, size, false, n);
          std::vector<int64_t> dims;
          for (int i = 1; i <= n; ++i) dims.push_back(-i);
          return {x.mean(dims, true)};
        }
        return {call_op(raw, values_of(a))[0]};
      });

  r.def(max + "(Tensor self, " + ints + " output_size) -> (Tensor output, Tensor indices)")
      .doc(str("adaptive max pooling of the last ", n, " dims and each max's offset in its plane"))
      .forward([max, n](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        auto out_shape = check_adaptive(max, max, x, a.ints(1), true, n);
        return run_max_pool(x, planes_of(x.sizes(), n), out_shape, a.ints(1), nullptr, true, true);
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([max_bw](GradContext& c) -> std::vector<Tensor> {
        return {call_op(max_bw, {c.grad(0), shape_only(c.input_meta(0)), c.output(1)})[0]};
      });

  r.def(max_bw + "(Tensor grad_output, Tensor self, Tensor indices) -> Tensor")
      .doc(str("the gradient of ", max, ": grad_output added into zeros of self's shape at the indices"))
      .forward([max_bw, n](const Args& a) -> std::vector<Tensor> {
        const Tensor &g = a.tensor(0), &self = a.tensor(1), &indices = a.tensor(2);
        check_indices_backward(max_bw, g, self, indices, n);
        return {scatter_at_indices(g, self.sizes(), indices, n)};
      })
      .saves_inputs({2})
      .backward([n](GradContext& c) -> std::vector<Tensor> {
        return {gather_at_indices(c.grad(), c.input(2), n), c.needs_grad(1) ? zeros_of(c.input_meta(1)) : Tensor(),
                Tensor()};
      });
}

void register_adaptive(Registry& r) {
  register_adaptive_nd(r, 2);
  register_adaptive_nd(r, 3);

  r.def("adaptive_avg_pool1d(Tensor self, int[1] output_size) -> Tensor")
      .doc("adaptive average pooling of the last dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_1d_args("adaptive_avg_pool1d", "adaptive_avg_pool1d", a, {1}, {"output_size"});
        return {call_op("adaptive_avg_pool2d", as_2d(a, {{1, 1}}))[0].squeeze(-2)};
      });

  r.def("adaptive_max_pool1d(Tensor self, int[1] output_size) -> (Tensor output, Tensor indices)")
      .doc("adaptive max pooling of the last dim and each max's index")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_1d_args("adaptive_max_pool1d", "adaptive_max_pool1d", a, {1}, {"output_size"});
        auto outs = call_op("adaptive_max_pool2d", as_2d(a, {{1, 1}}));
        return {outs[0].squeeze(-2), outs[1].squeeze(-2)};
      });
}

// ---- unpooling, fractional and power-average pooling (composites) ----

// max_unpool2d / max_unpool3d: zeros of output_size per plane with self's values scattered at the indices,
// after PyTorch 1.13's checks (the 3-d op also checks its stride, which it otherwise does not use).
Tensor max_unpool(std::string_view op, int n, const Tensor& x, const Tensor& indices, const std::vector<int64_t>& size,
                  const std::vector<int64_t>* stride) {
  const std::string kernel = str("max_unpooling", n, "d");
  TD_CHECK_ARG(indices.dtype() == DType::kInt64, "[", op, "] elements in indices should be type int64",
               n == 2 ? str(" but got: ", scalar_type_name(indices.dtype())) : std::string());
  TD_CHECK_ARG(x.dim() == n + 1 || x.dim() == n + 2, "[", op, "] Input to ", kernel, " should be a ", n + 1,
               "d or ", n + 2, "d Tensor, but got a tensor with ", x.dim(), " dimensions.");
  if (n == 3) {
    TD_CHECK_ARG(size.size() == 3, "[", op, "] There should be exactly three elements (depth, height, width) in "
                 "output_size, but got ", size.size(), " elements.");
    TD_CHECK_ARG(std::all_of(stride->begin(), stride->end(), [](int64_t s) { return s > 0; }), "[", op,
                 "] strides should be greater than zero, but got stride: ", shape_str(*stride));
  }
  TD_CHECK_ARG(x.shape() == indices.shape(), "[", op,
               "] Expected shape of indices to be same as that of the input tensor (", shape_str(x.sizes()),
               ") but got indices tensor with shape: ", shape_str(indices.sizes()));
  for (int64_t i = 1; i < x.dim(); ++i) {
    TD_CHECK_ARG(x.size(i) > 0, "[", op, "] ", kernel, "_forward_out_cpu(): Expected input to have non-zero size for "
                 "non-batch dimensions, but got ", shape_str(x.sizes()), " with dimension ", i, " being empty.");
  }
  int64_t plane = 1;
  for (int64_t s : size) plane *= s;
  Planes p = planes_of(x.sizes(), n);
  int64_t per = 1;
  for (int64_t s : p.spatial) per *= s;
  Tensor flat = indices.reshape({p.planes, per});
  if (flat.numel() > 0) {
    // PyTorch names the last invalid index it meets (its loop overwrites the one it keeps).
    Tensor bad = flat.lt(0).logical_or(flat.ge(plane));
    if (bad.any().item<bool>()) {
      Tensor picked = flat.masked_select(bad);
      std::string volume = str(size[0], "x", size[1]);
      if (n == 3) volume += str("x", size[2]);
      throw Error(ErrorCode::kOutOfRange, str("[", op, "] Found an invalid max index: ",
                                              picked.select(0, picked.numel() - 1).item<int64_t>(),
                                              " (output volumes are of size ", volume));
    }
  }
  Tensor out = zeros({p.planes, plane}, {x.dtype(), x.device()}).scatter(1, flat, x.reshape({p.planes, per}));
  return out.view(with_spatial(x.sizes(), n, size));
}

void register_unpool(Registry& r) {
  r.def("max_unpool2d(Tensor self, Tensor indices, int[2] output_size) -> Tensor")
      .doc("the inverse of max pooling: zeros of output_size with self's values at the indices")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {max_unpool("max_unpool2d", 2, a.tensor(0), a.tensor(1), a.ints(2), nullptr)};
      });
  r.def("max_unpool3d(Tensor self, Tensor indices, int[] output_size, int[3] stride, int[3] padding) -> Tensor")
      .doc("the inverse of 3-d max pooling: zeros of output_size with self's values at the indices")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {max_unpool("max_unpool3d", 3, a.tensor(0), a.tensor(1), a.ints(2), &a.ints(3))};
      });
}

// PyTorch's fractional_max_pool2d_generate_intervals, in the input's float type (as its kernels).
template <class S>
std::vector<int64_t> fractional_intervals(S sample, int64_t in, int64_t out, int64_t pool) {
  std::vector<int64_t> seq(static_cast<size_t>(out));
  if (out > 1) {
    S alpha = static_cast<S>(in - pool) / static_cast<S>(out - 1);
    for (int64_t i = 0; i < out - 1; ++i) {
      seq[static_cast<size_t>(i)] = static_cast<int64_t>(
          static_cast<int>((static_cast<S>(i) + sample) * alpha) - static_cast<int>(sample * alpha));
    }
  }
  if (out > 0) seq[static_cast<size_t>(out - 1)] = in - pool;
  return seq;
}

// fractional_max_pool2d / 3d over n spatial dims: each plane's window starts come from its random samples
// (2-d: sample 0 places W and sample 1 H; 3-d: samples 0, 1, 2 place T, H and W, as PyTorch's kernels), the
// taps of every window are gathered and the first maximum in scan order wins.
std::vector<Tensor> fractional_max_pool(int n, const Args& a) {
  const Tensor &x = a.tensor(0), &samples = a.tensor(3);
  const auto &k = a.ints(1), &size = a.ints(2);
  const std::string op = n_name("fractional_max_pool", n), fn = n == 2 ? op + "()" : op + "_out()";
  const int64_t nd = x.dim();
  TD_CHECK_ARG(nd == n + 1 || nd == n + 2, "[", op, "] ", fn, ": Expected ", n + 1, "D or ", n + 2,
               "D tensor, but got: ", shape_str(x.sizes()));
  for (int64_t i = 1; i < nd; ++i) {
    TD_CHECK_ARG(x.size(i) > 0, "[", op, "] ", fn, ": Expected input to have non-zero size for non-batch dimensions, "
                 "but got", shape_str(x.sizes()), " with dimension ", i, " being empty.");
  }
  static constexpr const char* kNames[] = {"time", "height", "width"};
  std::vector<int64_t> in(x.sizes().end() - n, x.sizes().end());
  for (int d = 0; d < n; ++d) {
    const char* name = kNames[3 - n + d];
    TD_CHECK_ARG(size[d] + k[d] - 1 <= in[d], "[", op, "] ", fn, ": pool ", name, " ", k[d],
                 " too large relative to input ", name, " ", in[d]);
  }
  TD_CHECK_ARG(std::all_of(k.begin(), k.end(), [](int64_t v) { return v > 0; }) &&
                   std::all_of(size.begin(), size.end(), [](int64_t v) { return v >= 0; }),
               "[", op, "] kernel_size must be positive and output_size non-negative, got ", shape_str(k), " and ",
               shape_str(size));
  check_dtype(op, op + "_out_frame", x, false);
  const int64_t batch = nd == n + 2 ? x.size(0) : 1, channels = x.size(-n - 1);
  TD_CHECK_ARG(samples.dim() == 3 && samples.size(0) == batch && samples.size(1) == channels && samples.size(2) == n,
               "[", op, "] random_samples must have shape [", batch, ", ", channels, ", ", n, "], got ",
               shape_str(samples.sizes()));
  // Each plane's window starts, on the host: the flat offsets of every window's taps (row-major over the
  // windows, then over the taps).
  const bool in_double = x.dtype() == DType::kFloat64;
  std::vector<double> s = samples.to(DType::kFloat64).to_vector<double>();
  const int64_t planes = batch * channels;
  int64_t taps = 1, windows = 1, per_plane = 1;
  for (int d = 0; d < n; ++d) {
    taps *= k[d];
    windows *= size[d];
    per_plane *= in[d];
  }
  std::vector<int64_t> offsets(static_cast<size_t>(planes * windows * taps));
  size_t at = 0;
  for (int64_t p = 0; p < planes; ++p) {
    std::vector<std::vector<int64_t>> starts(static_cast<size_t>(n));
    for (int d = 0; d < n; ++d) {
      const double u = s[static_cast<size_t>(p * n + (n == 2 ? 1 - d : d))];
      starts[d] = in_double ? fractional_intervals<double>(u, in[d], size[d], k[d])
                            : fractional_intervals<float>(static_cast<float>(u), in[d], size[d], k[d]);
    }
    std::vector<int64_t> w(static_cast<size_t>(n), 0);  // the window, then the tap, as mixed-radix counters
    for (int64_t wi = 0; wi < windows; ++wi) {
      for (int64_t ti = 0; ti < taps; ++ti) {
        int64_t offset = 0, t = ti;
        std::vector<int64_t> tap(static_cast<size_t>(n));
        for (int d = n - 1; d >= 0; --d) {
          tap[d] = t % k[d];
          t /= k[d];
        }
        for (int d = 0; d < n; ++d) offset = offset * in[d] + starts[d][static_cast<size_t>(w[d])] + tap[d];
        offsets[at++] = offset;
      }
      for (int d = n - 1; d >= 0 && ++w[d] == size[d]; --d) w[d] = 0;
    }
  }
  Tensor idx = tensor(offsets, {planes, windows * taps}, x.device());
  Tensor values = x.reshape({planes, per_plane}).gather(1, idx).view({planes, windows, taps});
  auto [out, pick] = values.max(2, false);
  Tensor chosen = idx.view({planes, windows, taps}).gather(2, pick.unsqueeze(2)).squeeze(2);
  auto shape = with_spatial(x.sizes(), n, size);
  return {out.view(shape), chosen.view(shape)};
}

void register_fractional(Registry& r) {
  for (int n : {2, 3}) {
    const std::string ints = str("int[", n, "]");
    r.def(n_name("fractional_max_pool", n) + "(Tensor self, " + ints + " kernel_size, " + ints +
          " output_size, Tensor random_samples) -> (Tensor output, Tensor indices)")
        .doc(n == 2 ? "max pooling over windows of kernel_size at pseudo-random intervals that give output_size; "
                      "random_samples [N, C, 2] in [0, 1) places them (w first, then h)"
                    : "3-d max pooling over windows of kernel_size at pseudo-random intervals that give "
                      "output_size; random_samples [N, C, 3] in [0, 1) places them (t, h, w)")
        .composite()
        .forward([n](const Args& a) -> std::vector<Tensor> { return fractional_max_pool(n, a); });
  }
}

void register_lp_pool(Registry& r) {
  for (int n : {1, 2}) {
    const std::string name = n_name("lp_pool", n), ints = str("int[", n, "]");
    r.def(name + "(Tensor self, float norm_type, " + ints + " kernel_size, " + ints +
          "? stride=None, bool ceil_mode=False) -> Tensor")
        .doc(str("power-average pooling over the last ", n,
                 " dims: (sum of x^p over each window)^(1/p), as torch.nn.functional's composite"))
        .composite()
        .forward([n](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          const double p = a.float_at(1);
          const auto& k = a.ints(2);
          std::vector<Value> v{x.pow(Scalar(p)), a.value(2), a.value(3), std::vector<int64_t>(n, 0),
                               a.value(4)};
          Tensor out = call_op(n == 1 ? "avg_pool1d" : "avg_pool2d", std::move(v))[0];
          const int64_t count = n == 1 ? k[0] : k[0] * (k.size() > 1 ? k[1] : k[0]);
          return {out.sign().mul(out.abs().relu()).mul(Scalar(count)).pow(Scalar(1.0 / p))};
        });
  }
}

}  // namespace

void register_pool_ops(Registry& r) {
  register_max_pool(r, 2);
  register_max_pool(r, 3);
  register_max_pool1d(r);
  register_avg_pool(r, 2);
  register_avg_pool(r, 3);
  register_avg_pool1d(r);
  register_adaptive(r);
  register_unpool(r);
  register_fractional(r);
  register_lp_pool(r);
}

}  // namespace td
