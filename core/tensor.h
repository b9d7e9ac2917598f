// td::Tensor: a refcounted handle to sizes, strides, an offset and a dtype over shared storage
// (DESIGN.md invariant 3), plus its autograd state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/ops/methods.h"
#include "core/scalar.h"
#include "core/value.h"

namespace td {

struct TensorImpl;
struct Storage;
class Tensor;

/// One op argument for local execution.
using Value = BasicValue<Tensor>;

/// dtype and device for creation functions (a small torch.TensorOptions).
struct TensorOptions {
  DType dtype = DType::kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
  /// CPU tensors only: page-locked memory (torch.empty(..., pin_memory=True)); needs a CUDA device.
  bool pin_memory = false;
};

/// Removes a hook when remove() is called (or never, if dropped): torch.utils.hooks.RemovableHandle.
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  /// Unregisters the hook; calling it twice is harmless.
  void remove() {
    if (remover_) std::exchange(remover_, nullptr)();
  }

 private:
  std::function<void()> remover_;
};

/// A tensor hook: sees the gradient and returns a replacement, or an undefined Tensor to keep it.
using TensorHook = std::function<Tensor(const Tensor& grad)>;
/// Runs after a leaf's .grad was accumulated, with the leaf (read or change its .grad there).
using PostAccumulateGradHook = std::function<void(Tensor& leaf)>;

/// A tensor. Copies share the same tensor (like Python references); views share storage.
class Tensor : public TensorMethods<Tensor> {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// False for a default-constructed Tensor (PyTorch's "undefined" tensor, e.g. a missing grad).
  bool defined() const { return impl_ != nullptr; }
  std::span<const int64_t> sizes() const;
  std::vector<int64_t> shape() const;
  std::span<const int64_t> strides() const;
  /// Size of one dim; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  /// Whether the tensor's memory is page-locked host memory (Tensor.is_pinned).
  bool is_pinned() const;
  /// A copy in page-locked host memory, or self if already pinned (Tensor.pin_memory): the device copies
  /// it without the host waiting (to(device, non_blocking=true)). CPU tensors only; needs a CUDA device.
  Tensor pin_memory() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * itemsize(dtype()); }
  /// Address of element 0 (storage data + offset); device memory for CUDA tensors.
  void* data_ptr() const;
  /// Typed data_ptr; checks the dtype matches T.
  template <class T>
  T* data() const;
  /// Whether two tensors are the same tensor (not just equal values).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  /// Whether two tensors share storage.
  bool shares_storage(const Tensor& other) const;
  /// The storage's version counter: bumped by each in-place op on this tensor or a view of it.
  uint32_t version() const;

  /// The single value of a one-element tensor, converted (Tensor.item()).
  Scalar item() const;
  template <class T>
  T item() const;
  /// All values in row-major order, converted to T, copied to the host.
  template <class T>
  std::vector<T> to_vector() const;
  /// PyTorch's repr: "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)".
  std::string str() const;

  // ---- autograd (DESIGN.md invariant 4) ----
  bool requires_grad() const;
  /// Marks a leaf as needing a gradient; fails on non-leaves and non-float dtypes, as in PyTorch.
  Tensor& requires_grad_(bool requires_grad = true);
  /// The accumulated gradient of a leaf (or of a non-leaf after retain_grad()); undefined if none.
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  /// True for tensors the user created (no grad_fn).
  bool is_leaf() const;
  /// The name of the node that made this tensor ("MmBackward0"), or "" for leaves.
  std::string grad_fn_name() const;
  /// Makes a non-leaf keep its .grad.
  void retain_grad();
  bool retains_grad() const;
  /// A tensor sharing storage with this one, cut from the graph.
  Tensor detach() const;
  /// Computes gradients of this tensor w.r.t. the graph's leaves. `gradient` may be omitted for scalars. With
  /// `inputs`, only those tensors' .grad is accumulated and only the graph leading to them runs.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false,
                const std::vector<Tensor>& inputs = {}) const;
  /// Runs `hook` each time this tensor's gradient is computed, before it flows on or accumulates.
  HookHandle register_hook(TensorHook hook) const;
  /// Runs `hook` on this leaf each time backward has accumulated into its .grad (PyTorch 2.x; leaves only).
  HookHandle register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;
  /// Whether this tensor was made inside autograd::InferenceMode (or is a view of one that was).
  bool is_inference() const;

  /// Runs a registry op with this tensor and args; used by the shared op methods.
  Tensor invoke_op(std::string_view op, std::vector<Value> args) const;
  /// The same for an op with n outputs (max.dim gives values and indices).
  std::vector<Tensor> invoke_op_n(std::string_view op, std::vector<Value> args, size_t n) const;

  /// Internal access for core and kernels.
  TensorImpl& impl() const { return *impl_; }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation (torch.empty, zeros, ones, full, tensor) ----

/// Uninitialised tensor of a shape.
Tensor empty(std::vector<int64_t> shape, TensorOptions options = {});
Tensor zeros(std::vector<int64_t> shape, TensorOptions options = {});
Tensor ones(std::vector<int64_t> shape, TensorOptions options = {});
Tensor full(std::vector<int64_t> shape, Scalar value, TensorOptions options = {});
/// A tensor holding a copy of `count` elements of `dtype` at `data` (host memory), in row-major order.
Tensor from_buffer(const void* data, std::vector<int64_t> shape, DType dtype, Device device = kCPU);
/// A tensor from values and a shape; the dtype follows T (float -> float32, double -> float64,
/// int64_t -> int64, Half -> float16, BFloat16 -> bfloat16, std::complex<float> -> complex64,
/// std::complex<double> -> complex128).
template <class T>
Tensor tensor(const std::vector<T>& values, std::vector<int64_t> shape, Device device = kCPU);
/// A 0-dim tensor holding one number (torch.tensor(3.5)).
Tensor scalar_tensor(Scalar value, std::optional<DType> dtype = std::nullopt, Device device = kCPU);

/// torch.result_type: the dtype an arithmetic op on these operands computes in. Dimensioned tensors outrank
/// 0-dim ones, which outrank numbers, within a category (bool < integer < floating < complex); a number takes
/// its category's default dtype (int32 tensor and 2.5 give float32; with a 0-dim float64 tensor, float64).
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, const Scalar& b);
DType result_type(const Scalar& a, const Tensor& b);

/// Runs any registry op by name with PyTorch-style arguments; returns all its outputs.
std::vector<Tensor> call_op(std::string_view op, std::vector<Value> args);

/// Free-function forms of the common ops.
inline Tensor matmul(const Tensor& a, const Tensor& b) { return a.matmul(b); }
inline Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1) { return a.add(b, alpha); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return a.mul(b); }
inline Tensor sum(const Tensor& a) { return a.sum(); }

/// The dtype that maps to a C++ type.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<bool>() { return DType::kBool; }
template <>
constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <>
constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <>
constexpr DType dtype_of<int16_t>() { return DType::kInt16; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <>
constexpr DType dtype_of<Half>() { return DType::kFloat16; }
template <>
constexpr DType dtype_of<BFloat16>() { return DType::kBFloat16; }
template <>
constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <>
constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <>
constexpr DType dtype_of<std::complex<float>>() { return DType::kComplex64; }
template <>
constexpr DType dtype_of<std::complex<double>>() { return DType::kComplex128; }
template <>
constexpr DType dtype_of<Complex<float>>() { return DType::kComplex64; }
template <>
constexpr DType dtype_of<Complex<double>>() { return DType::kComplex128; }

template <class T>
Tensor tensor(const std::vector<T>& values, std::vector<int64_t> shape, Device device) {
  static_assert(!std::is_same_v<T, bool>, "use td::tensor_bool: std::vector<bool> has no contiguous data");
  return from_buffer(values.data(), std::move(shape), dtype_of<T>(), device);
}
/// A bool tensor from values (std::vector<bool> is bit-packed, so it needs its own function).
Tensor tensor_bool(const std::vector<bool>& values, std::vector<int64_t> shape, Device device = kCPU);

}  // namespace td
