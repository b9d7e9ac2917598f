// Shared front-end helpers: broadcasting, type promotion, device checks, summing a gradient back to a shape.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace td {
class Args;
}

namespace td::ops {

/// PyTorch's broadcast of two shapes; names the op and both shapes when they do not broadcast.
std::vector<int64_t> broadcast_shapes(std::string_view op, std::span<const int64_t> a, std::span<const int64_t> b);
/// Strides that present t as `shape` (stride 0 on broadcast dims); t must broadcast to shape.
std::vector<int64_t> broadcast_strides(const Tensor& t, std::span<const int64_t> shape);
/// torch.result_type for tensor operands: dimensioned tensors outrank 0-dim ones within a category.
DType result_type(std::span<const Tensor> tensors);
/// The device an op on these tensors runs on: all must share it, except that 0-dim CPU tensors (numbers)
/// may join tensors of any device, as in PyTorch. Fails with "Expected all tensors to be on the same
/// device, ...".
Device common_device(std::string_view op, std::span<const Tensor> tensors);
/// Fails unless all tensors are on one device (0-dim CPU tensors excepted).
inline void check_same_device(std::string_view op, std::span<const Tensor> tensors) { (void)common_device(op, tensors); }
/// t on `device`: moves 0-dim CPU operands next to CUDA ones; anything else must already be there.
Tensor on_device(const Tensor& t, Device device);
/// Sums a broadcast gradient back down to `shape` (the reverse of expand); differentiable.
Tensor sum_to(const Tensor& grad, std::span<const int64_t> shape);
/// Zeros of t's shape that stay in t's graph with a zero gradient, whatever t holds (inf and NaN included):
/// for results that PyTorch connects to an input without depending on its values.
Tensor zeros_linked_to(const Tensor& t);
/// conj(t) for a complex tensor, t itself otherwise (differentiable). Backward formulas of holomorphic ops
/// multiply the incoming gradient by the conjugate of the derivative (PyTorch's convention for complex
/// numbers); for a real derivative this is the derivative itself.
Tensor conj_if_complex(const Tensor& t);
/// Whether anything differentiates through t: grad mode is on and t requires grad, or t has a tangent at
/// an open forward-mode level. Composites that skip work nobody differentiates (the max-pool indices) ask.
bool needs_derivative(const Tensor& t);
/// t converted to dtype if it differs (through the differentiable "to" op).
Tensor cast(const Tensor& t, DType dtype);
/// A kernel's operand: t as dtype on `device` (cast, then on_device). A 0-dim CPU tensor (a number's, as in
/// `x * 0.5`) that needs either is made afresh from its value by one fill, with no "to" op and, for a CUDA
/// operand, no copy from the host: what PyTorch's kernels get by taking such numbers as arguments. For the
/// kernels' inputs only: the result is not differentiable.
Tensor operand(const Tensor& t, DType dtype, Device device);
/// The position among an op's tensor inputs of each of its first `slots` arguments (-1 for a None: not an
/// input), for backward formulas of ops with optional tensor arguments.
std::vector<int> tensor_input_positions(const Args& args, size_t slots);
/// The smallest and largest value of a non-empty integer tensor, read back in one copy to the host (each
/// copy from a device waits for it): the range checks of index tensors.
std::pair<int64_t, int64_t> integer_bounds(const Tensor& t);

}  // namespace td::ops
