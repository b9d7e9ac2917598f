// Creation ops, reachable remotely by name: empty, zeros, ones, full, scalar_tensor; and requires_grad_.
#include "core/error.h"
#include "core/ops/registry.h"

namespace td {

namespace {
TensorOptions options_from(const Args& a, size_t dtype_slot, size_t device_slot, DType fallback) {
  TensorOptions o;
  o.dtype = a.optional_dtype(dtype_slot).value_or(fallback);
  o.device = a.is_none(device_slot) ? kCPU : Device::parse(a.string_at(device_slot));
  return o;
}
}  // namespace

void register_creation_ops(Registry& r) {
  r.def("empty(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("an uninitialised tensor")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {empty(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("zeros(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor of zeros")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {zeros(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("ones(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor of ones")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {ones(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("full(int[] size, Scalar fill_value, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor filled with one value; the dtype follows the value unless given")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Scalar v = a.scalar(1);
        return {full(a.ints(0), v, options_from(a, 2, 3, v.natural_dtype()))};
      });
  r.def("scalar_tensor(Scalar s, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a 0-dim tensor holding one number")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Scalar v = a.scalar(0);
        return {full({}, v, options_from(a, 1, 2, v.is_bool() ? DType::kBool : default_float_dtype()))};
      });
  r.def("requires_grad_(Tensor self, bool requires_grad=True) -> Tensor")
      .doc("marks a leaf as needing gradients; returns self")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Tensor x = a.tensor(0);
        x.requires_grad_(a.bool_at(1));
        return {x};
      });
}

}  // namespace td
