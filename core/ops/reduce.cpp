// Reductions: sum and mean over dims, with keepdim and PyTorch's output dtypes.
#include <algorithm>

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

Tensor sum_forward(const Tensor& self, const std::optional<std::vector<int64_t>>& dims, bool keepdim,
                   std::optional<DType> dtype) {
  DType out_dtype = dtype.value_or(is_integral(self.dtype()) ? DType::kInt64 : self.dtype());
  auto mask = reduced_mask("sum", dims, self.dim());
  Tensor in = ops::cast(self, out_dtype);
  // Kept dims first, reduced dims last: the kernel sums each output's trailing block.
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
  Tensor out = empty(kept, {out_dtype, self.device()});
  if (out.numel()) {
    StridedRef src{in.data_ptr(), out_dtype, sizes, strides};
    backend(out.device().type).sum(strided_ref(out), src, reduced, out.device().index);
  }
  return keepdim ? out.view(reduced_shape(self.sizes(), mask, true)) : out;
}
}  // namespace

void register_reduce_ops(Registry& r) {
  r.def("sum(Tensor self, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor")
      .doc("sum over dims (all when dim is None); integers sum to int64")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {sum_forward(a.tensor(0), a.optional_ints(1), a.bool_at(2), a.optional_dtype(3))};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // Each input element contributes once to its output: the gradient is grad broadcast back.
        const auto& in = c.input_meta(0).sizes;
        Tensor g = c.grad();
        if (!c.args().bool_at(2) && !in.empty()) {
          auto mask = reduced_mask("sum", c.args().optional_ints(1), static_cast<int64_t>(in.size()));
          g = g.reshape(reduced_shape(in, mask, true));
        }
        return {g.expand(in)};
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
        Tensor s = dims ? x.sum(*dims, a.bool_at(2), dtype) : x.sum(dtype);
        return {s.div(scalar_tensor(Scalar(count), dtype, x.device()))};
      });
}

}  // namespace td
