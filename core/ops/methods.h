// The one list of tensor op methods, shared by td::Tensor and td::remote::Tensor (DESIGN.md invariant 2).
// Each method only names a registry op and packs its arguments; Self::invoke_op does the rest: locally it
// runs the op, remotely it sends it. Adding a method here adds it to both.
#pragma once

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ops/unary_list.h"
#include "core/value.h"

namespace td {

/// CRTP mixin: Self must provide `Self invoke_op(std::string_view op, std::vector<BasicValue<Self>> args) const`.
template <class Self>
class TensorMethods {
 public:
  using Value = BasicValue<Self>;
  using Shape = std::vector<int64_t>;

  /// self + alpha * other, broadcasting (torch.add).
  Self add(const Self& other, Scalar alpha = 1) const { return call("add", {me(), other, alpha}); }
  /// self - alpha * other, broadcasting (torch.sub).
  Self sub(const Self& other, Scalar alpha = 1) const { return call("sub", {me(), other, alpha}); }
  /// Elementwise product, broadcasting (torch.mul).
  Self mul(const Self& other) const { return call("mul", {me(), other}); }
  /// True division, broadcasting; integer inputs give the default float dtype (torch.div).
  Self div(const Self& other) const { return call("div", {me(), other}); }
  /// -self (torch.neg).
  Self neg() const { return call("neg", {me()}); }
  /// Forms that take a number for `other` (it joins type promotion as a Python number would).
  Self add(Scalar other, Scalar alpha = 1) const { return call("add", {me(), other, alpha}); }
  Self sub(Scalar other, Scalar alpha = 1) const { return call("sub", {me(), other, alpha}); }
  Self mul(Scalar other) const { return call("mul", {me(), other}); }
  Self div(Scalar other) const { return call("div", {me(), other}); }

  /// Elementwise max/min with NaN propagation (torch.maximum / torch.minimum).
  Self maximum(const Self& other) const { return call("maximum", {me(), other}); }
  Self minimum(const Self& other) const { return call("minimum", {me(), other}); }
  /// Limits values to [min, max]; either may be omitted (torch.clamp).
  Self clamp(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const {
    return call("clamp", {me(), opt(min), opt(max)});
  }
  /// self ** exponent (torch.pow).
  Self pow(const Self& exponent) const { return call("pow", {me(), exponent}); }
  Self pow(Scalar exponent) const { return call("pow", {me(), exponent}); }
  /// C's fmod, Python's %, and Python's // (torch.fmod / remainder / floor_divide).
  Self fmod(const Self& other) const { return call("fmod", {me(), other}); }
  Self fmod(Scalar other) const { return call("fmod", {me(), other}); }
  Self remainder(const Self& other) const { return call("remainder", {me(), other}); }
  Self remainder(Scalar other) const { return call("remainder", {me(), other}); }
  Self floor_divide(const Self& other) const { return call("floor_divide", {me(), other}); }
  Self floor_divide(Scalar other) const { return call("floor_divide", {me(), other}); }
  Self atan2(const Self& other) const { return call("atan2", {me(), other}); }
  Self bitwise_and(const Self& other) const { return call("bitwise_and", {me(), other}); }
  Self bitwise_or(const Self& other) const { return call("bitwise_or", {me(), other}); }
  Self bitwise_xor(const Self& other) const { return call("bitwise_xor", {me(), other}); }

  /// Comparisons, giving bool tensors (torch.eq, ne, lt, le, gt, ge).
  Self eq(const Self& other) const { return call("eq", {me(), other}); }
  Self eq(Scalar other) const { return call("eq", {me(), other}); }
  Self ne(const Self& other) const { return call("ne", {me(), other}); }
  Self ne(Scalar other) const { return call("ne", {me(), other}); }
  Self lt(const Self& other) const { return call("lt", {me(), other}); }
  Self lt(Scalar other) const { return call("lt", {me(), other}); }
  Self le(const Self& other) const { return call("le", {me(), other}); }
  Self le(Scalar other) const { return call("le", {me(), other}); }
  Self gt(const Self& other) const { return call("gt", {me(), other}); }
  Self gt(Scalar other) const { return call("gt", {me(), other}); }
  Self ge(const Self& other) const { return call("ge", {me(), other}); }
  Self ge(Scalar other) const { return call("ge", {me(), other}); }
  /// Truth-value logic on any dtype (torch.logical_and, or, xor).
  Self logical_and(const Self& other) const { return call("logical_and", {me(), other}); }
  Self logical_or(const Self& other) const { return call("logical_or", {me(), other}); }
  Self logical_xor(const Self& other) const { return call("logical_xor", {me(), other}); }
  /// self where condition holds, else other (Tensor.where(condition, other)).
  Self where(const Self& condition, const Self& other) const { return call("where", {condition, me(), other}); }
  Self where(const Self& condition, Scalar other) const { return call("where", {condition, me(), other}); }

  // Unary ops: one method per name in the shared lists (torch.exp, abs, isnan, ...).
#define TD_UNARY_METHOD(Name, name) \
  Self name() const { return call(#name, {me()}); }
  TD_FLOAT_UNARY_OPS(TD_UNARY_METHOD)
  TD_ANY_UNARY_OPS(TD_UNARY_METHOD)
  TD_PREDICATE_UNARY_OPS(TD_UNARY_METHOD)
#undef TD_UNARY_METHOD
  /// Matrix product with PyTorch's 1-d, 2-d and batched rules (torch.matmul).
  Self matmul(const Self& other) const { return call("matmul", {me(), other}); }
  /// 2-d matrix product (torch.mm).
  Self mm(const Self& other) const { return call("mm", {me(), other}); }
  /// Batched 3-d matrix product (torch.bmm).
  Self bmm(const Self& other) const { return call("bmm", {me(), other}); }
  /// Sum of all elements; integers and bool sum to int64 unless dtype says otherwise (torch.sum).
  Self sum(std::optional<DType> dtype = std::nullopt) const {
    return call("sum", {me(), None{}, Scalar(false), optional_dtype<Self>(dtype)});
  }
  /// Sum over dims, keeping them as size 1 if keepdim (torch.sum(dim, keepdim)).
  Self sum(Shape dim, bool keepdim = false, std::optional<DType> dtype = std::nullopt) const {
    return call("sum", {me(), std::move(dim), Scalar(keepdim), optional_dtype<Self>(dtype)});
  }
  /// Mean of all elements (torch.mean).
  Self mean() const { return call("mean", {me(), None{}, Scalar(false)}); }
  /// Mean over dims (torch.mean(dim, keepdim)).
  Self mean(Shape dim, bool keepdim = false) const { return call("mean", {me(), std::move(dim), Scalar(keepdim)}); }

  /// A view with a new shape (one dim may be -1); fails if the strides do not allow it (Tensor.view).
  Self view(Shape shape) const { return call("view", {me(), std::move(shape)}); }
  /// view when possible, else a copy (torch.reshape).
  Self reshape(Shape shape) const { return call("reshape", {me(), std::move(shape)}); }
  /// Swaps two dims, as a view (torch.transpose).
  Self transpose(int64_t dim0, int64_t dim1) const { return call("transpose", {me(), Scalar(dim0), Scalar(dim1)}); }
  /// Transpose of a tensor of at most 2 dims (Tensor.t).
  Self t() const { return call("t", {me()}); }
  /// Reorders dims, as a view (torch.permute).
  Self permute(Shape dims) const { return call("permute", {me(), std::move(dims)}); }
  /// Broadcasts size-1 dims to a larger shape, as a view; -1 keeps a size (Tensor.expand).
  Self expand(Shape size) const { return call("expand", {me(), std::move(size)}); }
  /// Inserts a size-1 dim (torch.unsqueeze).
  Self unsqueeze(int64_t dim) const { return call("unsqueeze", {me(), Scalar(dim)}); }
  /// Removes a size-1 dim; a dim of another size is left as is (torch.squeeze(dim)).
  Self squeeze(int64_t dim) const { return call("squeeze", {me(), Scalar(dim)}); }
  /// A contiguous tensor with the same values: self if already contiguous (Tensor.contiguous).
  Self contiguous() const { return call("contiguous", {me()}); }
  /// A copy converted to dtype (self if it already has it and copy is false) (Tensor.to(dtype)).
  Self to(DType dtype, bool copy = false) const {
    return call("to", {me(), None{}, dtype, Scalar(copy)});
  }
  /// A copy on another device, "cpu" or "cuda:N" (Tensor.to(device)).
  Self to(std::string_view device, bool copy = false) const {
    return call("to", {me(), std::string(device), None{}, Scalar(copy)});
  }
  /// A copy that is never a view of self (torch.clone).
  Self clone() const { return call("clone", {me()}); }

  friend Self operator+(const Self& a, const Self& b) { return a.add(b); }
  friend Self operator-(const Self& a, const Self& b) { return a.sub(b); }
  friend Self operator*(const Self& a, const Self& b) { return a.mul(b); }
  friend Self operator/(const Self& a, const Self& b) { return a.div(b); }
  friend Self operator-(const Self& a) { return a.neg(); }
  friend Self operator+(const Self& a, Scalar b) { return a.add(b); }
  friend Self operator-(const Self& a, Scalar b) { return a.sub(b); }
  friend Self operator*(const Self& a, Scalar b) { return a.mul(b); }
  friend Self operator/(const Self& a, Scalar b) { return a.div(b); }
  friend Self operator%(const Self& a, const Self& b) { return a.remainder(b); }
  friend Self operator&(const Self& a, const Self& b) { return a.bitwise_and(b); }
  friend Self operator|(const Self& a, const Self& b) { return a.bitwise_or(b); }
  friend Self operator^(const Self& a, const Self& b) { return a.bitwise_xor(b); }
  friend Self operator~(const Self& a) { return a.bitwise_not(); }

 private:
  const Self& me() const { return static_cast<const Self&>(*this); }
  static Value opt(const std::optional<Scalar>& s) { return s ? Value(*s) : Value(None{}); }
  Self call(std::string_view op, std::vector<Value> args) const { return me().invoke_op(op, std::move(args)); }
};

}  // namespace td
