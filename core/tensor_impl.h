// Internals of a tensor: storage, the impl and its autograd metadata. For core and kernels, not users.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace td {

namespace autograd {
struct AutogradMeta;
}
class MemoryAccount;

/// A block of device memory shared by a tensor and its views; carries the version counter views share.
struct Storage {
  /// Allocates nbytes on device through its backend, counts them in memory_allocated() and charges them to
  /// the thread's MemoryAccount, if any (RESOURCE_EXHAUSTED past its limit). pinned: CPU memory that is
  /// page-locked by the CUDA backend (Tensor.pin_memory).
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  /// Grows the block to nbytes, keeping its contents (Tensor.resize_ and `out=` results): every tensor on
  /// this storage sees the new block, as in PyTorch.
  void grow(size_t nbytes);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  /// Takes and returns the block's memory through the backend that owns it.
  void* take(size_t n) const;
  void give_back(void* p, size_t n) const;

  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  std::atomic<uint32_t> version{0};
  /// Page-locked host memory from the CUDA backend's pinned allocator (device is the CPU).
  bool pinned = false;
  /// Allocated inside autograd::InferenceMode: the tensors on it are inference tensors (PyTorch's rule that
  /// an inference tensor's views are inference tensors and a normal tensor's views are normal).
  bool inference = false;
  /// The account the bytes are charged to (the allocating thread's), or null.
  std::shared_ptr<MemoryAccount> account;

 private:
  Storage() = default;
};

/// Bytes currently held by tensor storage on a device type (for metrics and quotas).
int64_t memory_allocated(DeviceType type);

/// What a tensor is: sizes/strides/offset/dtype over storage, and optional autograd state.
struct TensorImpl {
  TensorImpl(std::shared_ptr<Storage> storage, std::vector<int64_t> sizes, std::vector<int64_t> strides,
             int64_t offset, DType dtype);
  ~TensorImpl();

  std::shared_ptr<Storage> storage;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  DType dtype;
  /// A Python number passed where a tensor goes (`x * 2`): it only sets the result's category in type
  /// promotion, and may sit on the CPU next to CUDA operands.
  bool wrapped_number = false;
  /// For a view (made by make_view), the tensor whose storage it views, never itself a view: an in-place op
  /// on the view rewrites that tensor's autograd history too (PyTorch's CopySlices). Weak, so a graph that
  /// saves a view never keeps its base alive in a cycle; a base nobody holds has no history to rewrite.
  std::weak_ptr<TensorImpl> view_base;
  /// Null for tensors autograd does not track.
  std::unique_ptr<autograd::AutogradMeta> autograd;
};

/// Contiguous (row-major) strides for a shape.
std::vector<int64_t> contiguous_strides(std::span<const int64_t> sizes);
/// Product of sizes (1 for a 0-dim shape).
int64_t shape_numel(std::span<const int64_t> sizes);
/// Wraps a possibly negative dim into [0, ndim); names the op in the error.
int64_t wrap_dim(std::string_view op, int64_t dim, int64_t ndim);

/// A new tensor viewing t's storage with other sizes/strides/offset (no autograd state); it records t (or
/// t's own base) as its view base.
Tensor make_view(const Tensor& t, std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t offset);
/// A 0-dim CPU tensor for a number given where an op takes a tensor (PyTorch's wrapped number): bool, int64
/// or float64 by the number's kind.
Tensor wrapped_scalar(const Scalar& value);
/// A strided description of t for a backend call.
StridedRef strided_ref(const Tensor& t);

}  // namespace td
