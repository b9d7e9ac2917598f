// Views and shape ops: view, reshape, transpose, t, permute, expand, unsqueeze, squeeze, contiguous, clone,
// detach and the dtype/device conversion `to`.
#include <numeric>
#include <optional>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
std::vector<int64_t> infer_size(std::string_view op, std::vector<int64_t> shape, int64_t numel) {
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TD_CHECK_ARG(!infer, "[", op, "] only one dimension can be inferred");
      infer = i;
    } else {
      TD_CHECK_ARG(shape[i] >= 0, "[", op, "] invalid shape dimension ", shape[i]);
      known *= shape[i];
    }
  }
  bool ok = infer ? (known > 0 && numel % known == 0) || (known == 0 && numel == 0) : known == numel;
  if (infer && known == 0) ok = false;  // -1 with a zero elsewhere is ambiguous, as in PyTorch
  TD_CHECK_ARG(ok, "[", op, "] shape '", shape_str(shape), "' is invalid for input of size ", numel);
  if (infer) shape[*infer] = numel / known;
  return shape;
}

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), if any do
// (PyTorch's computeStride: dims may merge only within runs that are contiguous with each other).
std::optional<std::vector<int64_t>> view_strides(std::span<const int64_t> old_shape, std::span<const int64_t> old_strides,
                                                 std::span<const int64_t> new_shape) {
  if (old_shape.empty() || shape_numel(old_shape) == 0) return contiguous_strides(new_shape);
  std::vector<int64_t> strides(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

Tensor view_forward(const Tensor& x, const std::vector<int64_t>& size) {
  auto shape = infer_size("view", size, x.numel());
  auto strides = view_strides(x.sizes(), x.strides(), shape);
  TD_CHECK_ARG(strides, "[view] view size is not compatible with input tensor's size and stride (at least one "
               "dimension spans across two contiguous subspaces). Use .reshape(...) instead. (input shape ",
               shape_str(x.sizes()), ", strides ", shape_str(x.strides()), ", requested ", shape_str(size), ")");
  return make_view(x, shape, *strides, x.storage_offset());
}

Tensor copy_to(const Tensor& x, DType dtype, Device device) {
  Tensor out = empty(x.shape(), {dtype, device});
  if (out.numel() == 0) return out;
  if (x.device() == device) {
    backend(device.type).copy(strided_ref(out), strided_ref(x), device.index);
    return out;
  }
  // Across devices: cast and compact on the source device, then move bytes.
  Tensor src = x;
  if (src.dtype() != dtype || !src.is_contiguous()) {
    src = empty(x.shape(), {dtype, x.device()});
    backend(x.device().type).copy(strided_ref(src), strided_ref(x), x.device().index);
  }
  if (device.is_cpu()) {
    backend(src.device().type).copy_to_host(out.data_ptr(), src.data_ptr(), out.nbytes(), src.device().index);
  } else {
    TD_CHECK(src.device().is_cpu(), ErrorCode::kUnimplemented, "[to] copies between two CUDA devices are not "
             "supported yet (", src.device().str(), " to ", device.str(), ")");
    backend(device.type).copy_from_host(out.data_ptr(), src.data_ptr(), out.nbytes(), device.index);
  }
  return out;
}

std::vector<int64_t> permuted(std::span<const int64_t> v, std::span<const int64_t> dims) {
  std::vector<int64_t> out;
  for (int64_t d : dims) out.push_back(v[d]);
  return out;
}
}  // namespace

void register_shape_ops(Registry& r) {
  r.def("view(Tensor self, int[] size) -> Tensor")
      .doc("a view with a new shape; -1 infers one dim")
      .forward([](const Args& a) -> std::vector<Tensor> { return {view_forward(a.tensor(0), a.ints(1))}; })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().reshape(c.input_meta(0).sizes)}; });

  r.def("reshape(Tensor self, int[] shape) -> Tensor")
      .doc("view when strides allow, else a contiguous copy")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        auto shape = infer_size("reshape", a.ints(1), x.numel());
        if (view_strides(x.sizes(), x.strides(), shape)) return {x.view(shape)};
        return {x.clone().view(shape)};
      });

  r.def("transpose(Tensor self, int dim0, int dim1) -> Tensor")
      .doc("swaps two dims, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t d0 = wrap_dim("transpose", a.int_at(1), x.dim()), d1 = wrap_dim("transpose", a.int_at(2), x.dim());
        auto sizes = x.shape();
        std::vector<int64_t> strides(x.strides().begin(), x.strides().end());
        if (x.dim() > 0) {
          std::swap(sizes[d0], sizes[d1]);
          std::swap(strides[d0], strides[d1]);
        }
        return {make_view(x, sizes, strides, x.storage_offset())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return {c.grad().transpose(c.args().int_at(1), c.args().int_at(2))};
      });

  r.def("t(Tensor self) -> Tensor")
      .doc("transpose of a tensor with at most 2 dims")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(x.dim() <= 2, "[t] expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D");
        return {x.dim() < 2 ? x.view(x.shape()) : x.transpose(0, 1)};
      });

  r.def("permute(Tensor self, int[] dims) -> Tensor")
      .doc("reorders dims, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto& dims = a.ints(1);
        TD_CHECK_ARG(static_cast<int64_t>(dims.size()) == x.dim(), "[permute] number of dims don't match in permute ",
                     "(got ", dims.size(), " dims for a tensor of shape ", shape_str(x.sizes()), ")");
        std::vector<int64_t> wrapped;
        std::vector<bool> seen(dims.size());
        for (int64_t d : dims) {
          int64_t w = wrap_dim("permute", d, x.dim());
          TD_CHECK_ARG(!seen[w], "[permute] repeated dim ", w, " in dims ", shape_str(dims));
          seen[w] = true;
          wrapped.push_back(w);
        }
        return {make_view(x, permuted(x.sizes(), wrapped), permuted(x.strides(), wrapped), x.storage_offset())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& dims = c.args().ints(1);
        int64_t n = static_cast<int64_t>(dims.size());
        std::vector<int64_t> inverse(dims.size());
        for (int64_t i = 0; i < n; ++i) inverse[(dims[i] + n) % n] = i;
        return {c.grad().permute(inverse)};
      });

  r.def("expand(Tensor self, int[] size, *, bool implicit=False) -> Tensor")
      .doc("broadcasts size-1 dims to a larger shape, as a view; -1 keeps a size")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto& size = a.ints(1);
        int64_t lead = static_cast<int64_t>(size.size()) - x.dim();
        TD_CHECK_ARG(lead >= 0, "[expand] the number of sizes provided (", size.size(),
                     ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), ")");
        std::vector<int64_t> sizes(size.size()), strides(size.size());
        for (int64_t i = static_cast<int64_t>(size.size()) - 1; i >= 0; --i) {
          int64_t xi = i - lead;
          if (xi < 0) {
            TD_CHECK_ARG(size[i] >= 0, "[expand] the expanded size of the tensor (", size[i],
                         ") isn't allowed in a leading, non-existing dimension ", i);
            sizes[i] = size[i];
            strides[i] = 0;
            continue;
          }
          int64_t have = x.sizes()[xi], want = size[i] == -1 ? have : size[i];
          TD_CHECK_ARG(have == want || have == 1, "[expand] The expanded size of the tensor (", want,
                       ") must match the existing size (", have, ") at non-singleton dimension ", i,
                       ".  Target sizes: ", shape_str(size), ".  Tensor sizes: ", shape_str(x.sizes()));
          sizes[i] = want;
          strides[i] = have == want ? x.strides()[xi] : 0;
        }
        return {make_view(x, sizes, strides, x.storage_offset())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {ops::sum_to(c.grad(), c.input_meta(0).sizes)}; });

  r.def("unsqueeze(Tensor self, int dim) -> Tensor")
      .doc("inserts a size-1 dim, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t d = wrap_dim("unsqueeze", a.int_at(1), x.dim() + 1);
        auto sizes = x.shape();
        std::vector<int64_t> strides(x.strides().begin(), x.strides().end());
        int64_t stride = d < x.dim() ? x.sizes()[d] * x.strides()[d] : 1;
        sizes.insert(sizes.begin() + d, 1);
        strides.insert(strides.begin() + d, stride);
        return {make_view(x, sizes, strides, x.storage_offset())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().reshape(c.input_meta(0).sizes)}; });

  r.def("squeeze(Tensor self, int dim) -> Tensor")
      .doc("removes a size-1 dim, as a view; other sizes are left alone")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t d = wrap_dim("squeeze", a.int_at(1), x.dim());
        auto sizes = x.shape();
        std::vector<int64_t> strides(x.strides().begin(), x.strides().end());
        if (x.dim() > 0 && sizes[d] == 1) {
          sizes.erase(sizes.begin() + d);
          strides.erase(strides.begin() + d);
        }
        return {make_view(x, sizes, strides, x.storage_offset())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().reshape(c.input_meta(0).sizes)}; });

  r.def("clone(Tensor self) -> Tensor")
      .doc("a contiguous copy that never aliases self")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {copy_to(x, x.dtype(), x.device())};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad()}; });

  r.def("contiguous(Tensor self) -> Tensor")
      .doc("self if contiguous, else a contiguous copy")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {x.is_contiguous() ? x : x.clone()};
      });

  r.def("_to_copy(Tensor self, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a copy in another dtype and/or on another device")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        Device device = a.is_none(2) ? x.device() : Device::parse(a.string_at(2));
        return {copy_to(x, a.optional_dtype(1).value_or(x.dtype()), device)};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& m = c.input_meta(0);
        const Tensor& g = c.grad();
        if (g.dtype() == m.dtype && g.device() == m.device) return {g};
        return {g.invoke_op("_to_copy", {g, m.dtype, m.device.str()})};
      });

  r.def("to(Tensor self, Device? device=None, ScalarType? dtype=None, bool copy=False) -> Tensor")
      .doc("self converted to a dtype and/or device; self itself when nothing changes and copy is False")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        Device device = a.is_none(1) ? x.device() : Device::parse(a.string_at(1));
        DType dtype = a.optional_dtype(2).value_or(x.dtype());
        if (device == x.device() && dtype == x.dtype() && !a.bool_at(3)) return {x};
        return {x.invoke_op("_to_copy", {x, dtype, device.str()})};
      });

  r.def("detach(Tensor self) -> Tensor")
      .doc("a tensor sharing storage with self, cut from the graph")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).detach()}; });
}

}  // namespace td
