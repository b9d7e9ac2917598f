// Reductions: sum, prod, mean, max/min (overall, and values+indices along a dim), amax/amin, argmax/argmin,
// all/any, var/std, logsumexp, norm, cumsum/cumprod, softmax/log_softmax, with keepdim and PyTorch's
// output dtypes. Primitives run on the backend's reduce/arg_reduce/scan/softmax; the rest compose them.
#include <algorithm>
#include <cmath>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
// Which dims of an ndim tensor a dim list reduces: all when absent or empty (PyTorch 1.13).
std::vector<bool> reduced_mask(std::string_view op, const std::optional<std::vector<int64_t>>& dims, int64_t ndim) {
  std::vector<bool> mask(static_cast<size_t>(ndim), !dims || dims->empty());
  if (!dims) return mask;
  for (int64_t d : *dims) {
    int64_t w = wrap_dim(op, d, ndim);
    if (ndim == 0) continue;
    TD_CHECK_ARG(!mask[w] || dims->empty(), "[", op, "] dim ", w, " appears multiple times in the list of dims");
    mask[w] = true;
  }
  return mask;
}

std::vector<int64_t> reduced_shape(std::span<const int64_t> sizes, const std::vector<bool>& mask, bool keepdim) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (!mask[i]) {
      out.push_back(sizes[i]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

std::vector<int64_t> dims_of(const std::vector<bool>& mask) {
  std::vector<int64_t> dims;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i]) dims.push_back(static_cast<int64_t>(i));
  }
  return dims;
}

// op over the masked dims of `in` (already in the result dtype), as a backend reduce.
Tensor reduce(ReduceOp op, std::string_view name, const Tensor& in, const std::vector<bool>& mask, bool keepdim) {
  // Complex numbers have no order (PyTorch names its missing kernel, e.g. "max_all").
  TD_CHECK_ARG(!((op == ReduceOp::kMax || op == ReduceOp::kMin) && is_complex(in.dtype())), "[", name, "] \"",
               name, "\" not implemented for '", scalar_type_name(in.dtype()), "'");
  // Kept dims first, reduced dims last: the kernel folds each output's trailing block.
  std::vector<int64_t> sizes, strides, kept;
  int reduced = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] != (pass == 1)) continue;
      sizes.push_back(in.sizes()[i]);
      strides.push_back(in.strides()[i]);
      if (pass == 0) kept.push_back(in.sizes()[i]);
      reduced += pass;
    }
  }
  if (op == ReduceOp::kMax || op == ReduceOp::kMin) {
    for (size_t i = 0; i < mask.size(); ++i) {
      TD_CHECK(!mask[i] || in.sizes()[i] > 0, ErrorCode::kInvalidArgument, "[", name, "] ", name,
               "(): Expected reduction dim ", i, " to have non-zero size.");
    }
  }
  Tensor out = empty(kept, {in.dtype(), in.device()});
  if (out.numel()) {
    StridedRef src{in.data_ptr(), in.dtype(), sizes, strides};
    backend(out.device().type).reduce(op, strided_ref(out), src, reduced, out.device().index);
  }
  return keepdim ? out.view(reduced_shape(in.sizes(), mask, true)) : out;
}

// A reduced gradient (or result) brought back to the input's rank, ready to broadcast against it.
Tensor unsqueeze_reduced(const Tensor& t, std::span<const int64_t> in_sizes, const std::vector<bool>& mask,
                         bool keepdim) {
  if (keepdim || in_sizes.empty()) return t;
  return t.reshape(reduced_shape(in_sizes, mask, true));
}

DType sum_dtype(DType in, std::optional<DType> requested) {
  return requested.value_or(is_integral(in) ? DType::kInt64 : in);
}

void check_floating(std::string_view op, const Tensor& x, std::string_view what) {
  TD_CHECK_ARG(!is_integral(x.dtype()), "[", op, "] ", what, " (got ", dtype_name(x.dtype()), ")");
}

// max/min along one dim: (values, indices), as PyTorch's max.dim.
std::vector<Tensor> arg_reduce(bool is_max, std::string_view name, const Tensor& x, int64_t dim, bool keepdim) {
  // PyTorch's words: max.dim says so, argmax names its missing kernel.
  if (is_complex(x.dtype()) && (name == "max" || name == "min")) {
    throw Error(ErrorCode::kInvalidArgument, str("[", name, "] ", name, "(): does not support complex input (got ",
                                                 scalar_type_name(x.dtype()), ")"));
  }
  TD_CHECK_ARG(!is_complex(x.dtype()), "[", name, "] \"", name, "\" not implemented for '",
               scalar_type_name(x.dtype()), "'");
  int64_t d = wrap_dim(name, dim, x.dim());
  int64_t n = x.dim() ? x.size(d) : 1;
  TD_CHECK_ARG(n > 0, "[", name, "] ", name, "(): Expected reduction dim ", d, " to have non-zero size.");
  // Move dim last; the outputs have the other dims in order.
  std::vector<int64_t> sizes, strides, kept;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i == d) continue;
    sizes.push_back(x.size(i));
    strides.push_back(x.stride(i));
    kept.push_back(x.size(i));
  }
  sizes.push_back(n);
  strides.push_back(x.dim() ? x.stride(d) : 1);
  Tensor values = empty(kept, {x.dtype(), x.device()}), indices = empty(kept, {DType::kInt64, x.device()});
  if (values.numel()) {
    StridedRef src{x.data_ptr(), x.dtype(), sizes, strides};
    backend(x.device().type).arg_reduce(is_max, strided_ref(values), strided_ref(indices), src, x.device().index);
  }
  if (keepdim && x.dim()) {
    values = values.unsqueeze(d);
    indices = indices.unsqueeze(d);
  }
  return {values, indices};
}

// The gradient of a max/min over dims, shared evenly among the elements that attain it (NaN attains NaN).
Tensor evenly_distribute(const Tensor& g, const Tensor& x, const Tensor& result, const std::vector<bool>& mask,
                         bool keepdim) {
  Tensor r = unsqueeze_reduced(result, x.sizes(), mask, keepdim);
  Tensor gk = unsqueeze_reduced(g, x.sizes(), mask, keepdim);
  Tensor hit = x.eq(r).logical_or(x.isnan().logical_and(r.isnan()));
  auto dims = dims_of(mask);
  Tensor count = dims.empty() ? hit.sum() : hit.sum(dims, true);
  return gk.div(count.to(g.dtype())).where(hit, 0.0);
}

// d prod / dx_i = prod of the others: out / x_i without zeros; with one zero in a slice only that element
// gets a gradient (the product of the rest); with two or more, none does. Complex values take the
// conjugate of that derivative, which is the same formula on the conjugated input and output.
Tensor prod_backward(const Tensor& g, const Tensor& x_in, const Tensor& out_in, const std::vector<bool>& mask,
                     bool keepdim) {
  const Tensor x = ops::conj_if_complex(x_in), out = ops::conj_if_complex(out_in);
  Tensor gk = unsqueeze_reduced(g, x.sizes(), mask, keepdim);
  Tensor ok = unsqueeze_reduced(out, x.sizes(), mask, keepdim);
  auto dims = dims_of(mask);
  auto reduce_keep = [&](const Tensor& t, bool product) {
    if (product) return dims.size() == 1 ? t.prod(dims[0], true) : t.prod().reshape(std::vector<int64_t>(x.dim(), 1));
    return dims.empty() ? t.sum() : t.sum(dims, true);
  };
  Tensor is_zero = x.eq(0);
  Tensor zeros_in_slice = reduce_keep(is_zero, false);
  Tensor x_safe = x.where(is_zero.logical_not(), 1.0);
  Tensor no_zero = gk.mul(ok).div(x_safe);
  Tensor one_zero = gk.mul(reduce_keep(x_safe, true)).where(is_zero.logical_and(zeros_in_slice.eq(1)), 0.0);
  return no_zero.where(zeros_in_slice.eq(0), one_zero);
}

// Composites over float16 and bfloat16 run in float32 and round their result once, as PyTorch's kernels,
// whose accumulate type is float, do; the casts carry the gradient back in the input's dtype.
// float32 for complex64, float64 for complex128, the dtype itself otherwise.
DType real_part_dtype(DType t) {
  return t == DType::kComplex64 ? DType::kFloat32 : t == DType::kComplex128 ? DType::kFloat64 : t;
}
Tensor widened(const Tensor& x) { return is_reduced_float(x.dtype()) ? x.to(DType::kFloat32) : x; }
Tensor narrowed(const Tensor& result, DType dtype) { return result.dtype() == dtype ? result : result.to(dtype); }

Tensor softmax_input(std::string_view op, const Tensor& x, std::optional<DType> dtype) {
  Tensor in = dtype ? ops::cast(x, *dtype) : x;
  TD_CHECK_ARG(!is_integral(in.dtype()) && !is_complex(in.dtype()), "[", op,
               "] \"softmax_lastdim_kernel_impl\" not implemented for '",
               is_complex(in.dtype()) ? scalar_type_name(in.dtype()) : dtype_name(in.dtype()), "'");
  return in;
}

// softmax or log_softmax along dim d in one backend call per tensor: the input, made contiguous, is seen as
// [outer, n, inner] around d.
Tensor softmax_forward(bool is_log, const Tensor& in, int64_t d) {
  Tensor x = in.contiguous();
  Tensor out = empty(in.shape(), {in.dtype(), in.device()});
  if (out.numel() == 0) return out;
  int64_t outer = 1, inner = 1, n = in.dim() ? in.size(d) : 1;
  for (int64_t i = 0; i < in.dim(); ++i) {
    if (i < d) outer *= in.size(i);
    if (i > d) inner *= in.size(i);
  }
  const std::vector<int64_t> sizes{outer, n, inner}, strides{n * inner, inner, 1};
  StridedRef src{x.data_ptr(), x.dtype(), sizes, strides}, dst{out.data_ptr(), out.dtype(), sizes, strides};
  backend(in.device().type).softmax(is_log, dst, src, in.device().index);
  return out;
}
}  // namespace

void register_reduce_ops(Registry& r) {
  r.def("sum(Tensor self, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor")
      .doc("sum over dims (all when dim is None); integers sum to int64")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        auto mask = reduced_mask("sum", a.optional_ints(1), x.dim());
        return {reduce(ReduceOp::kSum, "sum", ops::cast(x, sum_dtype(x.dtype(), a.optional_dtype(3))), mask, a.bool_at(2))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // Each input element contributes once to its output: the gradient is grad broadcast back.
        const auto& in = c.input_meta(0).sizes;
        auto mask = reduced_mask("sum", c.args().optional_ints(1), static_cast<int64_t>(in.size()));
        return {unsqueeze_reduced(c.grad(), in, mask, c.args().bool_at(2)).expand(in)};
      });

  r.def("prod(Tensor self, *, ScalarType? dtype=None) -> Tensor")
      .doc("product of all elements; integers multiply to int64")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {reduce(ReduceOp::kProd, "prod", ops::cast(x, sum_dtype(x.dtype(), a.optional_dtype(1))),
                       reduced_mask("prod", std::nullopt, x.dim()), false)};
      })
      .saves_outputs()
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        Tensor x = c.input(0);
        return {prod_backward(c.grad(), x, c.output(), reduced_mask("prod", std::nullopt, x.dim()), false)};
      });

  r.def("prod.dim(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor")
      .doc("product along one dim")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        auto mask = reduced_mask("prod", std::vector<int64_t>{a.int_at(1)}, x.dim());
        return {reduce(ReduceOp::kProd, "prod", ops::cast(x, sum_dtype(x.dtype(), a.optional_dtype(3))), mask,
                       a.bool_at(2))};
      })
      .saves_outputs()
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        Tensor x = c.input(0);
        auto mask = reduced_mask("prod", std::vector<int64_t>{c.args().int_at(1)}, x.dim());
        return {prod_backward(c.grad(), x, c.output(), mask, c.args().bool_at(2))};
      });

  r.def("mean(Tensor self, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor")
      .doc("mean over dims (all when dim is None)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        DType dtype = a.optional_dtype(3).value_or(x.dtype());
        TD_CHECK_ARG(!is_integral(dtype), "[mean] could not infer output dtype. Input dtype must be either a floating "
                     "point or complex dtype. Got: ", dtype_name(dtype));
        auto dims = a.optional_ints(1);
        auto mask = reduced_mask("mean", dims, x.dim());
        int64_t count = 1;
        for (size_t i = 0; i < mask.size(); ++i) count *= mask[i] ? x.sizes()[i] : 1;
        // float16 and bfloat16 sum and divide in float32, rounding once.
        DType acc = is_reduced_float(dtype) ? DType::kFloat32 : dtype;
        Tensor s = dims ? x.sum(*dims, a.bool_at(2), acc) : x.sum(acc);
        return {narrowed(s.div(scalar_tensor(Scalar(count), acc, x.device())), dtype)};
      });

  for (bool is_max : {true, false}) {
    std::string name = is_max ? "max" : "min";
    ReduceOp op = is_max ? ReduceOp::kMax : ReduceOp::kMin;
    r.def(name + "(Tensor self) -> Tensor")
        .doc("the " + std::string(is_max ? "largest" : "smallest") + " element; NaN if any is NaN")
        .forward([op, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          TD_CHECK_ARG(x.numel() > 0, "[", name, "] ", name, "(): Expected reduction dim to be specified for "
                       "input.numel() == 0. Specify the reduction dim with the 'dim' argument.");
          return {reduce(op, name, x, reduced_mask(name, std::nullopt, x.dim()), false)};
        })
        .saves_outputs()
        .backward([name](GradContext& c) -> std::vector<Tensor> {
          Tensor x = c.input(0);
          return {evenly_distribute(c.grad(), x, c.output(), reduced_mask(name, std::nullopt, x.dim()), false)};
        });

    r.def(name + ".dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)")
        .doc("values and first indices of the " + std::string(is_max ? "largest" : "smallest") + " elements along dim")
        .forward([is_max, name](const Args& a) -> std::vector<Tensor> {
          return arg_reduce(is_max, name, a.tensor(0), a.int_at(1), a.bool_at(2));
        })
        .saves_inputs({})
        .saves_outputs()
        .backward([name](GradContext& c) -> std::vector<Tensor> {
          // Only the selected index of each slice gets the gradient (a one-hot of the indices along dim).
          const auto& in = c.input_meta(0).sizes;
          if (in.empty()) return {c.grad()};
          int64_t d = wrap_dim(name, c.args().int_at(1), static_cast<int64_t>(in.size()));
          bool keepdim = c.args().bool_at(2);
          Tensor g = keepdim ? c.grad() : c.grad().unsqueeze(d);
          Tensor idx = keepdim ? c.output(1) : c.output(1).unsqueeze(d);
          std::vector<int64_t> positions(static_cast<size_t>(in[d]));
          for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int64_t>(i);
          std::vector<int64_t> shape(in.size(), 1);
          shape[d] = in[d];
          Tensor pos = tensor(positions, shape, g.device());
          return {g.expand(in).where(pos.eq(idx), 0.0)};
        });

    std::string aname = is_max ? "amax" : "amin";
    r.def(aname + "(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor")
        .doc(std::string(is_max ? "maximum" : "minimum") + " over dims (all when empty); ties share the gradient")
        .forward([op, aname](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          return {reduce(op, aname, x, reduced_mask(aname, a.ints(1), x.dim()), a.bool_at(2))};
        })
        .saves_outputs()
        .backward([aname](GradContext& c) -> std::vector<Tensor> {
          Tensor x = c.input(0);
          auto mask = reduced_mask(aname, c.args().ints(1), x.dim());
          return {evenly_distribute(c.grad(), x, c.output(), mask, c.args().bool_at(2))};
        });

    std::string argname = is_max ? "argmax" : "argmin";
    r.def(argname + "(Tensor self, int? dim=None, bool keepdim=False) -> Tensor")
        .doc("index of the first " + std::string(is_max ? "largest" : "smallest") + " element, flattened or along dim")
        .no_grad()
        .forward([is_max, argname](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          if (a.is_none(1)) {
            TD_CHECK_ARG(x.numel() > 0, "[", argname, "] ", argname, "(): Expected reduction dim to be specified for "
                         "input.numel() == 0.");
            Tensor idx = arg_reduce(is_max, argname, x.reshape({-1}), 0, false)[1];
            return {a.bool_at(2) ? idx.reshape(std::vector<int64_t>(x.dim(), 1)) : idx};
          }
          return {arg_reduce(is_max, argname, x, a.int_at(1), a.bool_at(2))[1]};
        });
  }

  for (bool is_all : {true, false}) {
    std::string name = is_all ? "all" : "any";
    ReduceOp op = is_all ? ReduceOp::kMin : ReduceOp::kMax;  // on bools: all is min, any is max
    auto run = [op, name, is_all](const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
      Tensor out;
      if (x.numel() == 0) {  // over nothing: all is true, any is false (min and max refuse empty dims)
        std::vector<int64_t> kept;
        for (size_t i = 0; i < mask.size(); ++i) {
          if (!mask[i] || keepdim) kept.push_back(mask[i] ? 1 : x.size(static_cast<int64_t>(i)));
        }
        out = full(kept, is_all, {DType::kBool, x.device()});
      } else {
        out = reduce(op, name, ops::cast(x, DType::kBool), mask, keepdim);
      }
      return x.dtype() == DType::kUInt8 ? out.to(DType::kUInt8) : out;  // PyTorch keeps uint8
    };
    r.def(name + "(Tensor self) -> Tensor")
        .doc(is_all ? "whether every element is non-zero" : "whether some element is non-zero")
        .no_grad()
        .forward([run, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          return {run(x, reduced_mask(name, std::nullopt, x.dim()), false)};
        });
    r.def(name + ".dim(Tensor self, int dim, bool keepdim=False) -> Tensor")
        .doc(is_all ? "whether every element along dim is non-zero" : "whether some element along dim is non-zero")
        .no_grad()
        .forward([run, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          return {run(x, reduced_mask(name, std::vector<int64_t>{a.int_at(1)}, x.dim()), a.bool_at(2))};
        });
  }

  for (bool is_std : {false, true}) {
    std::string name = is_std ? "std" : "var";
    r.def(name + "(Tensor self, int[1]? dim=None, int correction=1, bool keepdim=False) -> Tensor")
        .doc(std::string(is_std ? "standard deviation" : "variance") +
             " over dims (all when None), dividing by N - correction")
        .composite()
        .forward([is_std, name](const Args& a) -> std::vector<Tensor> {
          check_floating(name, a.tensor(0), "std and var only support floating point and complex dtypes");
          const Tensor x = widened(a.tensor(0));
          auto mask = reduced_mask(name, a.optional_ints(1), x.dim());
          auto dims = dims_of(mask);
          int64_t n = 1;
          for (int64_t d : dims) n *= x.size(d);
          bool keepdim = a.bool_at(3);
          // Two passes (mean, then squared deviations): stable where E[x^2] - E[x]^2 is not.
          Tensor dev = dims.empty() ? x.sub(x.mean()) : x.sub(x.mean(dims, true));
          // |dev|^2 for complex values: the variance of a complex tensor is real.
          Tensor sq = is_complex(dev.dtype()) ? dev.real().mul(dev.real()).add(dev.imag().mul(dev.imag()))
                                              : dev.mul(dev);
          Tensor ss = dims.empty() ? sq.sum() : sq.sum(dims, keepdim);
          if (dims.empty() && keepdim) ss = ss.reshape(std::vector<int64_t>(x.dim(), 1));
          double denom = std::max<double>(static_cast<double>(n - a.int_at(2)), 0.0);
          Tensor v = ss.div(denom);
          return {narrowed(is_std ? v.sqrt() : v, real_part_dtype(a.tensor(0).dtype()))};
        });
  }

  r.def("logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor")
      .doc("log(sum(exp(self))) over dims, shifted by the max for stability")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        TD_CHECK_ARG(!is_complex(a.tensor(0).dtype()), "[logsumexp] logsumexp(): Expected floating point type for "
                     "result tensor, but got: ", scalar_type_name(a.tensor(0).dtype()));
        Tensor x = widened(a.tensor(0));
        if (is_integral(x.dtype())) x = x.to(default_float_dtype());
        const DType result_dtype = is_integral(a.tensor(0).dtype()) ? x.dtype() : a.tensor(0).dtype();
        const auto& dims = a.ints(1);
        bool keepdim = a.bool_at(2);
        Tensor m = x.amax(dims, true).detach();
        m = m.where(m.isinf().logical_not(), 0.0);  // all -inf (or +inf) slices: shift by 0 instead
        Tensor s = x.sub(m).exp().sum(dims, true).log().add(m);
        if (!keepdim) {
          auto mask = reduced_mask("logsumexp", dims, x.dim());
          s = s.reshape(reduced_shape(x.sizes(), mask, false));
        }
        return {narrowed(s, result_dtype)};
      });

  r.def("norm(Tensor self, Scalar p=2, int[1]? dim=None, bool keepdim=False) -> Tensor")
      .doc("vector p-norm over dims (all when None): p = 2, 1, inf, -inf, 0 or any other number")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        check_floating("norm", a.tensor(0), "norm only supports floating-point dtypes");
        // The norm of complex values is that of their moduli (a real result).
        const DType dtype = real_part_dtype(a.tensor(0).dtype());
        const Tensor x = widened(is_complex(a.tensor(0).dtype()) ? a.tensor(0).abs() : a.tensor(0));
        double p = a.scalar(1).to_double();
        auto mask = reduced_mask("norm", a.optional_ints(2), x.dim());
        auto dims = dims_of(mask);
        bool keepdim = a.bool_at(3);
        auto total = [&](const Tensor& t) {
          Tensor s = t.sum(dims, keepdim);
          return s;
        };
        Tensor ax = x.abs();
        if (std::isinf(p)) return {narrowed(p > 0 ? ax.amax(dims, keepdim) : ax.amin(dims, keepdim), dtype)};
        // The 0-"norm" counts non-zeros; PyTorch still connects it to the graph with a zero gradient.
        if (p == 0) return {narrowed(total(x.ne(0).to(x.dtype())).add(total(ops::zeros_linked_to(x))), dtype)};
        if (p == 1) return {narrowed(total(ax), dtype)};
        if (p == 2) return {narrowed(total(x.mul(x)).sqrt(), dtype)};
        return {narrowed(total(ax.pow(p)).pow(1.0 / p), dtype)};
      });

  for (bool is_sum : {true, false}) {
    std::string name = is_sum ? "cumsum" : "cumprod";
    r.def(name + "(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor")
        .doc(std::string("running ") + (is_sum ? "sum" : "product") + " along dim; integers give int64")
        .forward([is_sum, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          int64_t d = wrap_dim(name, a.int_at(1), x.dim());
          Tensor in = ops::cast(x, sum_dtype(x.dtype(), a.optional_dtype(2)));
          Tensor out = empty(x.shape(), {in.dtype(), x.device()});
          if (out.numel() == 0) return {out};
          if (x.dim() == 0) return {in.clone()};
          std::vector<int64_t> perm;
          for (int64_t i = 0; i < x.dim(); ++i) {
            if (i != d) perm.push_back(i);
          }
          perm.push_back(d);
          Tensor src = in.permute(perm), dst = out.permute(perm);
          backend(x.device().type).scan(is_sum ? ReduceOp::kSum : ReduceOp::kProd, strided_ref(dst), strided_ref(src),
                                        x.device().index);
          return {out};
        })
        .saves_outputs()
        .complex_autograd()
        .backward([is_sum, name](GradContext& c) -> std::vector<Tensor> {
          // cumsum: dx_i = sum_{j >= i} g_j, the cumsum of g read backwards (PyTorch's formula; unlike
          // total - cumsum + g it has no cancellation, which matters in float16 and bfloat16).
          // cumprod: dx_i = sum_{j >= i} g_j y_j / x_i, valid where x has no zeros.
          // Complex values: the same on the conjugated input and output (grad * conj(derivative)).
          Tensor x = ops::conj_if_complex(c.input(0));
          int64_t d = x.dim() ? wrap_dim(name, c.args().int_at(1), x.dim()) : 0;
          Tensor g = is_sum ? c.grad() : c.grad().mul(ops::conj_if_complex(c.output()));
          if (x.dim() == 0) return {is_sum ? g : g.div(x)};
          Tensor rev = g.flip({d}).cumsum(d).flip({d});
          if (is_sum) return {rev};
          TD_CHECK(x.eq(0).sum().item().to_int() == 0, ErrorCode::kUnimplemented,
                   "[cumprod] the backward of cumprod through zeros in its input is not implemented yet");
          return {rev.div(x)};
        });
  }

  for (bool is_log : {false, true}) {
    std::string name = is_log ? "log_softmax" : "softmax";
    r.def(name + "(Tensor self, int dim, ScalarType? dtype=None) -> Tensor")
        .doc(is_log ? "log of softmax along dim, computed stably"
                    : "exp(self) / sum(exp(self)) along dim, computed stably")
        .forward([is_log, name](const Args& a) -> std::vector<Tensor> {
          Tensor in = softmax_input(name, a.tensor(0), a.optional_dtype(2));
          return {softmax_forward(is_log, in, wrap_dim(name, a.int_at(1), in.dim()))};
        })
        .saves_inputs({})
        .saves_outputs()
        .backward([is_log, name](GradContext& c) -> std::vector<Tensor> {
          // PyTorch's formulas, from the output y: softmax dx = y * (g - sum(g * y)); log_softmax
          // dx = g - exp(y) * sum(g), sums along dim. float16/bfloat16 compute in float32, as the forward.
          Tensor y = widened(c.output()), g = widened(c.grad());
          int64_t d = wrap_dim(name, c.args().int_at(1), y.dim());
          Tensor dx = is_log ? g.sub(y.exp().mul(g.sum({d}, true))) : y.mul(g.sub(g.mul(y).sum({d}, true)));
          return {narrowed(dx, c.input_meta(0).dtype)};
        });
  }
}

}  // namespace td
