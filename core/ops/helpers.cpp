#include "core/ops/helpers.h"

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td::ops {

bool needs_derivative(const Tensor& t) {
  return (autograd::GradMode::is_enabled() && t.requires_grad()) ||
         (autograd::forward_ad::is_active() && autograd::forward_ad::detail::tangent(t).defined());
}

std::vector<int64_t> broadcast_shapes(std::string_view op, std::span<const int64_t> a, std::span<const int64_t> b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TD_CHECK_ARG(da == db || da == 1 || db == 1, "[", op, "] The size of tensor a (", da,
                 ") must match the size of tensor b (", db, ") at non-singleton dimension ", i, " (shapes ",
                 shape_str(a), " and ", shape_str(b), ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Tensor& t, std::span<const int64_t> shape) {
  std::vector<int64_t> strides(shape.size(), 0);
  size_t lead = shape.size() - static_cast<size_t>(t.dim());
  for (size_t i = 0; i < static_cast<size_t>(t.dim()); ++i) {
    strides[lead + i] = t.sizes()[i] == 1 && shape[lead + i] != 1 ? 0 : t.strides()[i];
  }
  return strides;
}

namespace {
// PyTorch's combine_categories: a higher-priority group's dtype wins unless the lower group is of a
// higher category (bool < integer < floating < complex), in which case the two are promoted.
DType combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return *lower;
  if (!lower) return *higher;
  if (is_complex(*higher)) return *higher;
  // A float of higher priority keeps its precision: float32 with a complex128 number gives complex64.
  if (is_complex(*lower)) {
    if (!is_floating(*higher)) return *lower;
    return *higher == DType::kFloat64 ? DType::kComplex128 : DType::kComplex64;  // no complex32 in tensord
  }
  if (is_floating(*higher)) return *higher;
  if (*higher == DType::kBool || is_floating(*lower)) return promote_types(*higher, *lower);
  return *higher;
}
}  // namespace

DType result_type(std::span<const Tensor> tensors) {
  std::optional<DType> dimmed, zero_dim, wrapped, wrapped_raw;
  for (const Tensor& t : tensors) {
    DType d = t.dtype();
    auto* slot = t.dim() > 0 ? &dimmed : &zero_dim;
    if (t.impl().wrapped_number) {
      // A number only says "complex", "float" or "int": it takes the default dtype of its category.
      wrapped_raw = wrapped_raw ? promote_types(*wrapped_raw, d) : d;
      slot = &wrapped;
      if (is_floating(d)) d = default_float_dtype();
      if (is_complex(d)) d = DType::kComplex64;  // the default complex dtype, from the default float32
    }
    *slot = *slot ? promote_types(**slot, d) : d;
  }
  // Numbers among themselves (inside backward formulas) stay double/int64, like Python arithmetic.
  if (!dimmed && !zero_dim) return *wrapped_raw;
  DType tensors_type = combine(dimmed, zero_dim);
  return wrapped ? combine(tensors_type, wrapped) : tensors_type;
}

Device common_device(std::string_view op, std::span<const Tensor> tensors) {
  auto is_cpu_number = [](const Tensor& t) { return t.dim() == 0 && t.device().is_cpu(); };
  const Tensor* ref = &tensors[0];
  for (const Tensor& t : tensors) {
    if (!is_cpu_number(t)) {
      ref = &t;
      break;
    }
  }
  for (const Tensor& t : tensors) {
    TD_CHECK_ARG(t.device() == ref->device() || is_cpu_number(t), "[", op,
                 "] Expected all tensors to be on the same device, but found at least two devices, ",
                 ref->device().str(), " and ", t.device().str(), "!");
  }
  return ref->device();
}

Tensor on_device(const Tensor& t, Device device) { return t.device() == device ? t : t.to(device.str()); }

Tensor sum_to(const Tensor& grad, std::span<const int64_t> shape) {
  if (std::equal(grad.sizes().begin(), grad.sizes().end(), shape.begin(), shape.end())) return grad;
  int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && grad.size(i) != 1)) dims.push_back(i);
  }
  Tensor g = dims.empty() ? grad : grad.sum(dims, /*keepdim=*/true);
  return g.view(std::vector<int64_t>(shape.begin(), shape.end()));
}

Tensor zeros_linked_to(const Tensor& t) {
  // where, not t * 0: 0 * inf is NaN. The gradient through an all-false where is zero.
  return t.where(zeros(t.shape(), {DType::kBool, t.device()}), 0.0);
}

Tensor cast(const Tensor& t, DType dtype) { return t.dtype() == dtype ? t : t.to(dtype); }

std::vector<int> tensor_input_positions(const Args& args, size_t slots) {
  std::vector<int> positions(slots, -1);
  int inputs = 0;
  for (size_t slot = 0; slot < slots; ++slot) {
    if (!args.is_none(slot)) positions[slot] = inputs++;
  }
  return positions;
}

Tensor operand(const Tensor& t, DType dtype, Device device) {
  if (t.dtype() == dtype && t.device() == device) return t;
  if (t.dim() == 0 && t.device().is_cpu()) {
    Tensor out = empty({}, {dtype, device});
    backend(device.type).fill(strided_ref(out), t.item(), device.index);
    return out;
  }
  return on_device(cast(t, dtype), device);
}

Tensor conj_if_complex(const Tensor& t) { return t.defined() && is_complex(t.dtype()) ? t.conj() : t; }

std::pair<int64_t, int64_t> integer_bounds(const Tensor& t) {
  const std::vector<int64_t> b = Tensor::stack({t.amin(), t.amax()}).to(DType::kInt64).to_vector<int64_t>();
  return {b[0], b[1]};
}

}  // namespace td::ops

namespace td {

DType result_type(const Tensor& a, const Tensor& b) {
  const Tensor both[] = {a, b};
  return ops::result_type(both);
}
DType result_type(const Tensor& a, const Scalar& b) { return result_type(a, wrapped_scalar(b)); }
DType result_type(const Scalar& a, const Tensor& b) { return result_type(wrapped_scalar(a), b); }

}  // namespace td
