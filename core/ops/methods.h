// The one list of tensor op methods, shared by td::Tensor and td::remote::Tensor (DESIGN.md invariant 2).
// Each method only names a registry op and packs its arguments; Self::invoke_op does the rest: locally it
// runs the op, remotely it sends it. Adding a method here adds it to both.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/ops/unary_list.h"
#include "core/value.h"

namespace td {

/// CRTP mixin: Self must provide `Self invoke_op(std::string_view op, std::vector<BasicValue<Self>> args) const`
/// and `std::vector<Self> invoke_op_n(std::string_view op, std::vector<BasicValue<Self>> args, size_t n) const`
/// (for ops with n outputs).
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
  // Complex numbers (core/ops/complex.cpp).
  /// The real parts, as a view (self for a real tensor) (Tensor.real).
  Self real() const { return call("real", {me()}); }
  /// The imaginary parts of a complex tensor, as a view (Tensor.imag).
  Self imag() const { return call("imag", {me()}); }
  /// A complex tensor's storage as real numbers with a last dim of 2, as a view (torch.view_as_real).
  Self view_as_real() const { return call("view_as_real", {me()}); }
  /// A float tensor with a last dim of 2 as a complex view (torch.view_as_complex).
  Self view_as_complex() const { return call("view_as_complex", {me()}); }
  /// The argument of each element (torch.angle).
  Self angle() const { return call("angle", {me()}); }
  /// The complex conjugate, materialised (torch.conj_physical).
  Self conj_physical() const { return call("conj_physical", {me()}); }
  /// The complex conjugate; a copy, not PyTorch's lazy conjugate view (torch.conj).
  Self conj() const { return call("conj", {me()}); }
  /// real + imag * 1j (torch.complex).
  static Self complex(const Self& real, const Self& imag) { return real.invoke_op("complex", {real, imag}); }
  /// abs * (cos(angle) + sin(angle) * 1j) (torch.polar).
  static Self polar(const Self& abs, const Self& angle) { return abs.invoke_op("polar", {abs, angle}); }
  /// Matrix product with PyTorch's 1-d, 2-d and batched rules (torch.matmul).
  Self matmul(const Self& other) const { return call("matmul", {me(), other}); }
  /// 2-d matrix product (torch.mm).
  Self mm(const Self& other) const { return call("mm", {me(), other}); }
  /// Inner product of 1-d tensors, matrix-vector product, outer product (torch.dot / mv / outer).
  Self dot(const Self& other) const { return call("dot", {me(), other}); }
  Self mv(const Self& vec) const { return call("mv", {me(), vec}); }
  Self outer(const Self& other) const { return call("outer", {me(), other}); }
  /// beta * self + alpha * (mat1 @ mat2) and its batched form (torch.addmm / baddbmm).
  Self addmm(const Self& mat1, const Self& mat2, Scalar beta = 1, Scalar alpha = 1) const {
    return call("addmm", {me(), mat1, mat2, beta, alpha});
  }
  Self baddbmm(const Self& batch1, const Self& batch2, Scalar beta = 1, Scalar alpha = 1) const {
    return call("baddbmm", {me(), batch1, batch2, beta, alpha});
  }
  /// Contraction over paired dims (torch.tensordot(a, b, dims=(dims_self, dims_other))).
  Self tensordot(const Self& other, Shape dims_self, Shape dims_other) const {
    return call("tensordot", {me(), other, std::move(dims_self), std::move(dims_other)});
  }
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
  /// Product of all elements, or over one dim (torch.prod).
  Self prod(std::optional<DType> dtype = std::nullopt) const { return call("prod", {me(), optional_dtype<Self>(dtype)}); }
  Self prod(int64_t dim, bool keepdim = false, std::optional<DType> dtype = std::nullopt) const {
    return call("prod.dim", {me(), Scalar(dim), Scalar(keepdim), optional_dtype<Self>(dtype)});
  }
  /// Largest / smallest element; NaN if any element is NaN (torch.max() / torch.min()).
  Self max() const { return call("max", {me()}); }
  Self min() const { return call("min", {me()}); }
  /// Values and indices of the largest / smallest element along dim (torch.max(dim) / torch.min(dim)).
  std::pair<Self, Self> max(int64_t dim, bool keepdim = false) const { return call2("max.dim", dim, keepdim); }
  std::pair<Self, Self> min(int64_t dim, bool keepdim = false) const { return call2("min.dim", dim, keepdim); }
  /// Max / min over dims (all when empty), gradient shared among ties (torch.amax / torch.amin).
  Self amax(Shape dim = {}, bool keepdim = false) const { return call("amax", {me(), std::move(dim), Scalar(keepdim)}); }
  Self amin(Shape dim = {}, bool keepdim = false) const { return call("amin", {me(), std::move(dim), Scalar(keepdim)}); }
  /// Index of the largest / smallest element, flattened or along dim (torch.argmax / torch.argmin).
  Self argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const {
    return call("argmax", {me(), dim ? Value(Scalar(*dim)) : Value(None{}), Scalar(keepdim)});
  }
  Self argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const {
    return call("argmin", {me(), dim ? Value(Scalar(*dim)) : Value(None{}), Scalar(keepdim)});
  }
  /// Whether all / any elements are non-zero, overall or along dim (torch.all / torch.any).
  Self all() const { return call("all", {me()}); }
  Self any() const { return call("any", {me()}); }
  Self all(int64_t dim, bool keepdim = false) const { return call("all.dim", {me(), Scalar(dim), Scalar(keepdim)}); }
  Self any(int64_t dim, bool keepdim = false) const { return call("any.dim", {me(), Scalar(dim), Scalar(keepdim)}); }
  /// Variance / standard deviation over dims (all when None) with Bessel's correction by default
  /// (torch.var / torch.std with `correction`).
  Self var(std::optional<Shape> dim = std::nullopt, int64_t correction = 1, bool keepdim = false) const {
    return call("var", {me(), optional_dims<Self>(dim), Scalar(correction), Scalar(keepdim)});
  }
  Self std(std::optional<Shape> dim = std::nullopt, int64_t correction = 1, bool keepdim = false) const {
    return call("std", {me(), optional_dims<Self>(dim), Scalar(correction), Scalar(keepdim)});
  }
  /// log(sum(exp(self))) over dims, computed stably (torch.logsumexp).
  Self logsumexp(Shape dim, bool keepdim = false) const { return call("logsumexp", {me(), std::move(dim), Scalar(keepdim)}); }
  /// p-norm over dims (all when None) (torch.norm / torch.linalg.vector_norm).
  Self norm(Scalar p = 2, std::optional<Shape> dim = std::nullopt, bool keepdim = false) const {
    return call("norm", {me(), p, optional_dims<Self>(dim), Scalar(keepdim)});
  }
  /// Running sum / product along dim (torch.cumsum / torch.cumprod).
  Self cumsum(int64_t dim, std::optional<DType> dtype = std::nullopt) const {
    return call("cumsum", {me(), Scalar(dim), optional_dtype<Self>(dtype)});
  }
  Self cumprod(int64_t dim, std::optional<DType> dtype = std::nullopt) const {
    return call("cumprod", {me(), Scalar(dim), optional_dtype<Self>(dtype)});
  }
  /// exp(x) / sum(exp(x)) along dim, and its log, computed stably (torch.softmax / log_softmax).
  Self softmax(int64_t dim, std::optional<DType> dtype = std::nullopt) const {
    return call("softmax", {me(), Scalar(dim), optional_dtype<Self>(dtype)});
  }
  Self log_softmax(int64_t dim, std::optional<DType> dtype = std::nullopt) const {
    return call("log_softmax", {me(), Scalar(dim), optional_dtype<Self>(dtype)});
  }
  /// Values picked along dim at index (torch.gather), and the reverse writes (torch.scatter / scatter_add).
  Self gather(int64_t dim, const Self& index) const { return call("gather", {me(), Scalar(dim), index}); }
  Self scatter(int64_t dim, const Self& index, const Self& src) const {
    return call("scatter", {me(), Scalar(dim), index, src});
  }
  Self scatter_add(int64_t dim, const Self& index, const Self& src) const {
    return call("scatter_add", {me(), Scalar(dim), index, src});
  }
  /// Slices at the indices along dim (torch.index_select), and adding into them (torch.index_add).
  Self index_select(int64_t dim, const Self& index) const { return call("index_select", {me(), Scalar(dim), index}); }
  Self index_add(int64_t dim, const Self& index, const Self& source, Scalar alpha = 1) const {
    return call("index_add", {me(), Scalar(dim), index, source, alpha});
  }
  /// Elements at flat indices (torch.take); masked writes and reads (torch.masked_fill / masked_select);
  /// coordinates of the non-zeros (torch.nonzero).
  Self take(const Self& index) const { return call("take", {me(), index}); }
  Self masked_fill(const Self& mask, Scalar value) const { return call("masked_fill", {me(), mask, value}); }
  Self masked_select(const Self& mask) const { return call("masked_select", {me(), mask}); }
  Self nonzero() const { return call("nonzero", {me()}); }
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
  Self to(DType dtype, bool non_blocking = false, bool copy = false) const {
    return call("to", {me(), None{}, dtype, Scalar(non_blocking), Scalar(copy)});
  }
  /// A copy on another device, "cpu" or "cuda:N" (Tensor.to(device)). non_blocking: from pinned memory to a
  /// device, or from a device (into new pinned memory), the copy is queued on the current stream and not
  /// waited for; synchronize before reading a host result.
  Self to(std::string_view device, bool non_blocking = false, bool copy = false) const {
    return call("to", {me(), std::string(device), None{}, Scalar(non_blocking), Scalar(copy)});
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

  // ---- shape, view and creation methods (begin) ----
  /// length elements of dim from start, as a view (torch.narrow).
  Self narrow(int64_t dim, int64_t start, int64_t length) const {
    return call("narrow", {me(), Scalar(dim), Scalar(start), Scalar(length)});
  }
  /// The slice at index along dim, without that dim, as a view (torch.select).
  Self select(int64_t dim, int64_t index) const { return call("select", {me(), Scalar(dim), Scalar(index)}); }
  /// self[start:end:step] along dim, bounds as in Python, as a view (aten::slice).
  Self slice(int64_t dim = 0, std::optional<int64_t> start = std::nullopt,
             std::optional<int64_t> end = std::nullopt, int64_t step = 1) const {
    return call("slice", {me(), Scalar(dim), opt_int(start), opt_int(end), Scalar(step)});
  }
  /// A diagonal of dims dim1 and dim2 as the last dim, as a view (torch.diagonal).
  Self diagonal(int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1) const {
    return call("diagonal", {me(), Scalar(offset), Scalar(dim1), Scalar(dim2)});
  }
  /// Copies of self with src written into a slice, selection, diagonal or strided view (torch.slice_scatter,
  /// select_scatter, diagonal_scatter, as_strided_scatter).
  Self slice_scatter(const Self& src, int64_t dim = 0, std::optional<int64_t> start = std::nullopt,
                     std::optional<int64_t> end = std::nullopt, int64_t step = 1) const {
    return call("slice_scatter", {me(), src, Scalar(dim), opt_int(start), opt_int(end), Scalar(step)});
  }
  Self select_scatter(const Self& src, int64_t dim, int64_t index) const {
    return call("select_scatter", {me(), src, Scalar(dim), Scalar(index)});
  }
  Self diagonal_scatter(const Self& src, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1) const {
    return call("diagonal_scatter", {me(), src, Scalar(offset), Scalar(dim1), Scalar(dim2)});
  }
  Self as_strided_scatter(const Self& src, Shape size, Shape stride,
                          std::optional<int64_t> storage_offset = std::nullopt) const {
    return call("as_strided_scatter",
                {me(), src, std::move(size), std::move(stride), opt_int(storage_offset)});
  }
  /// Moves dims to new positions, the others keeping their order, as a view (torch.movedim).
  Self movedim(int64_t source, int64_t destination) const {
    return call("movedim", {me(), Shape{source}, Shape{destination}});
  }
  Self movedim(Shape source, Shape destination) const {
    return call("movedim", {me(), std::move(source), std::move(destination)});
  }
  /// Merges dims start_dim..end_dim: a view when strides allow, else a copy (torch.flatten).
  Self flatten(int64_t start_dim = 0, int64_t end_dim = -1) const {
    return call("flatten", {me(), Scalar(start_dim), Scalar(end_dim)});
  }
  /// Splits dim into sizes (one may be -1), as a view (torch.unflatten).
  Self unflatten(int64_t dim, Shape sizes) const {
    return call("unflatten", {me(), Scalar(dim), std::move(sizes)});
  }
  /// Removes every size-1 dim, as a view (torch.squeeze()).
  Self squeeze() const { return call("squeeze", {me()}); }
  /// A view of self's storage with any sizes, strides and offset (torch.as_strided).
  Self as_strided(Shape size, Shape stride, std::optional<int64_t> storage_offset = std::nullopt) const {
    return call("as_strided", {me(), std::move(size), std::move(stride), opt_int(storage_offset)});
  }
  /// Every window of size elements along dimension, step apart, as a view; the window is the last dim
  /// (Tensor.unfold).
  Self unfold(int64_t dimension, int64_t size, int64_t step) const {
    return call("unfold", {me(), Scalar(dimension), Scalar(size), Scalar(step)});
  }
  /// self with other's shape (Tensor.expand_as, view_as, reshape_as).
  Self expand_as(const Self& other) const { return call("expand_as", {me(), other}); }
  Self view_as(const Self& other) const { return call("view_as", {me(), other}); }
  Self reshape_as(const Self& other) const { return call("reshape_as", {me(), other}); }
  /// Pieces of split_size along dim, the last maybe smaller, as views (torch.split with an int).
  std::vector<Self> split(int64_t split_size, int64_t dim = 0) const {
    size_t n = 1;
    auto size = dim_size(dim);
    if (size && split_size > 0 && *size > 0) n = (*size + split_size - 1) / split_size;
    return me().invoke_op_n("split", {me(), Scalar(split_size), Scalar(dim)}, n);
  }
  /// Pieces of the given sizes along dim, as views (torch.split with a list).
  std::vector<Self> split_with_sizes(Shape split_sizes, int64_t dim = 0) const {
    size_t n = split_sizes.size();
    return me().invoke_op_n("split_with_sizes", {me(), std::move(split_sizes), Scalar(dim)}, n);
  }
  /// At most `chunks` pieces of equal size along dim (the last maybe smaller), as views (torch.chunk).
  std::vector<Self> chunk(int64_t chunks, int64_t dim = 0) const {
    size_t n = 1;
    if (auto size = dim_size(dim); size && chunks > 0) {
      int64_t piece = (*size + chunks - 1) / chunks;
      n = piece == 0 ? chunks : (*size + piece - 1) / piece;
    }
    return me().invoke_op_n("chunk", {me(), Scalar(chunks), Scalar(dim)}, n);
  }
  /// The slices along dim, each without that dim, as views (torch.unbind).
  std::vector<Self> unbind(int64_t dim = 0) const {
    return me().invoke_op_n("unbind", {me(), Scalar(dim)}, dim_size(dim).value_or(1));
  }
  /// A copy with the order of elements reversed along dims (torch.flip).
  Self flip(Shape dims) const { return call("flip", {me(), std::move(dims)}); }
  /// A copy with elements shifted along dims, wrapping around; no dims: over the flattened tensor
  /// (torch.roll).
  Self roll(Shape shifts, Shape dims = {}) const {
    return call("roll", {me(), std::move(shifts), std::move(dims)});
  }
  /// self repeated repeats[i] times along dim i; extra leading repeats add dims (Tensor.repeat).
  Self repeat(Shape repeats) const { return call("repeat", {me(), std::move(repeats)}); }
  /// repeat, with dims padded by leading ones when shorter than self's (torch.tile).
  Self tile(Shape dims) const { return call("tile", {me(), std::move(dims)}); }
  /// A copy with the elements above (tril) / below (triu) the diagonal-th diagonal of the last two dims
  /// zeroed (torch.tril / torch.triu).
  Self tril(int64_t diagonal = 0) const { return call("tril", {me(), Scalar(diagonal)}); }
  Self triu(int64_t diagonal = 0) const { return call("triu", {me(), Scalar(diagonal)}); }
  /// A 1-d self as a diagonal matrix, or a 2-d self's diagonal as a 1-d copy (torch.diag).
  Self diag(int64_t diagonal = 0) const { return call("diag", {me(), Scalar(diagonal)}); }
  /// Tensors joined along an existing dim (torch.cat), a new dim (torch.stack), columns (torch.hstack) or
  /// rows (torch.vstack). A remote list must not be empty: its first tensor names the session.
  static Self cat(std::vector<Self> tensors, int64_t dim = 0) { return join("cat", std::move(tensors), dim); }
  static Self stack(std::vector<Self> tensors, int64_t dim = 0) {
    return join("stack", std::move(tensors), dim);
  }
  static Self hstack(std::vector<Self> tensors) { return join("hstack", std::move(tensors)); }
  static Self vstack(std::vector<Self> tensors) { return join("vstack", std::move(tensors)); }

 private:
  static Value opt_int(std::optional<int64_t> i) { return i ? Value(Scalar(*i)) : Value(None{}); }
  static Self join(std::string_view op, std::vector<Self> tensors,
                   std::optional<int64_t> dim = std::nullopt) {
    Self first = tensors.empty() ? Self() : tensors.front();
    if (!dim) return first.invoke_op(op, {std::move(tensors)});
    return first.invoke_op(op, {std::move(tensors), Scalar(*dim)});
  }
  // Size of dim, for the number of outputs of split, chunk and unbind; nullopt when dim is out of range
  // (the op itself reports that). A remote tensor's shape comes from an empty view: a round trip without
  // the values.
  std::optional<int64_t> dim_size(int64_t dim) const {
    Shape shape;
    if constexpr (requires(const Self& s) { s.sizes(); }) {
      shape = me().shape();
    } else {
      Shape empty = me().unsqueeze(0).narrow(0, 0, 0).shape();
      shape.assign(empty.begin() + 1, empty.end());
    }
    int64_t n = static_cast<int64_t>(shape.size());
    if (dim < -n || dim >= n) return std::nullopt;
    return shape[dim < 0 ? dim + n : dim];
  }

 public:
  // ---- (end) ----

  // ---- indexing methods (begin) ----
  /// One entry of an index list: an int (selects, removing the dim), a Slice, None (a new dim of size 1),
  /// Ellipsis, or an index tensor (int64 indices, or a bool/uint8 mask over as many dims as it has).
  using TensorIndex = std::variant<int64_t, Slice, None, EllipsisIndex, Self>;
  /// self[indices] (Tensor.__getitem__): x.index({0, Slice(1, std::nullopt), idx}) is x[0, 1:, idx]. Ints,
  /// slices, None and Ellipsis give views; index tensors then gather, with PyTorch's placement of their dims.
  Self index(const std::vector<TensorIndex>& indices) const {
    auto [view, tensors] = basic_index(indices);
    if (tensors.empty()) return view;
    return view.invoke_op("index", {view, std::move(tensors)});
  }
  /// self[indices] = values (Tensor.__setitem__), values broadcast; returns self. Without index tensors this
  /// is a copy_ into the view (converting dtypes); with them, index_put_ (whose dtypes must match).
  Self index_put_(const std::vector<TensorIndex>& indices, const Self& values, bool accumulate = false) const {
    auto [view, tensors] = basic_index(indices);
    if (tensors.empty() && !accumulate) {
      view.copy_(values);
    } else {
      view.invoke_op("index_put_", {view, std::move(tensors), values, Scalar(accumulate)});
    }
    return me();
  }
  Self index_put_(const std::vector<TensorIndex>& indices, Scalar value) const {
    auto [view, tensors] = basic_index(indices);
    if (tensors.empty()) {
      view.fill_(value);
    } else {
      view.invoke_op("index_put_", {view, std::move(tensors), value, Scalar(false)});
    }
    return me();
  }

 private:
  // Rank and dtype of t; a remote tensor's come from an empty view (a round trip without the values).
  static std::pair<int64_t, DType> rank_and_dtype(const Self& t) {
    if constexpr (requires(const Self& s) { s.sizes(); }) {
      return {t.dim(), t.dtype()};
    } else {
      auto meta = t.unsqueeze(0).narrow(0, 0, 0).fetch();
      return {static_cast<int64_t>(meta.shape.size()) - 1, meta.dtype};
    }
  }
  static int64_t dims_taken(const Self& t) {
    auto [rank, dtype] = rank_and_dtype(t);
    return dtype == DType::kBool || dtype == DType::kUInt8 ? rank : 1;
  }
  // Applies the ints, slices, None and Ellipsis as views; returns the view and, when there are index
  // tensors, one entry per dim of the view up to the last tensor (undefined for a dim taken whole).
  std::pair<Self, std::vector<Self>> basic_index(const std::vector<TensorIndex>& indices) const {
    size_t ellipses = 0, tensors_seen = 0;
    for (const TensorIndex& i : indices) {
      ellipses += std::holds_alternative<EllipsisIndex>(i);
      tensors_seen += std::holds_alternative<Self>(i);
    }
    if (ellipses > 1) throw_index_error("an index can only have a single ellipsis ('...')");
    int64_t ellipsis_dims = 0;
    if (ellipses) {
      int64_t consumed = 0;
      for (const TensorIndex& i : indices) {
        if (std::holds_alternative<int64_t>(i) || std::holds_alternative<Slice>(i)) ++consumed;
        if (const Self* t = std::get_if<Self>(&i)) consumed += dims_taken(*t);
      }
      ellipsis_dims = rank_and_dtype(me()).first - consumed;
      if (ellipsis_dims < 0) throw_index_error("too many indices for tensor");
    }
    Self view = me();
    std::vector<Self> tensors;
    int64_t dim = 0;
    for (const TensorIndex& i : indices) {
      if (const int64_t* n = std::get_if<int64_t>(&i)) {
        view = view.select(dim, *n);
      } else if (const Slice* s = std::get_if<Slice>(&i)) {
        view = view.slice(dim, s->start, s->stop, s->step);
        tensors.emplace_back();
        ++dim;
      } else if (std::holds_alternative<None>(i)) {
        view = view.unsqueeze(dim);
        tensors.emplace_back();
        ++dim;
      } else if (std::holds_alternative<EllipsisIndex>(i)) {
        for (int64_t k = 0; k < ellipsis_dims; ++k) tensors.emplace_back();
        dim += ellipsis_dims;
      } else {
        const Self& t = std::get<Self>(i);
        tensors.push_back(t);
        // The rank of a mask matters only for the entries after it.
        if (&i != &indices.back()) dim += dims_taken(t);
      }
    }
    if (tensors_seen == 0) tensors.clear();
    return {std::move(view), std::move(tensors)};
  }
  [[noreturn]] static void throw_index_error(const char* what) {
    throw Error(ErrorCode::kOutOfRange, std::string("[index] ") + what);
  }

 public:
  // ---- indexing methods (end) ----

  // ---- composite methods (begin) ----
  /// Elementwise closeness (bool) and its all() as a 0-dim bool tensor (torch.isclose / allclose); whether
  /// shapes and elements are equal, as a 0-dim bool tensor (torch.equal).
  Self isclose(const Self& other, double rtol = 1e-05, double atol = 1e-08, bool equal_nan = false) const {
    return call("isclose", {me(), other, rtol, atol, Scalar(equal_nan)});
  }
  Self allclose(const Self& other, double rtol = 1e-05, double atol = 1e-08, bool equal_nan = false) const {
    return call("allclose", {me(), other, rtol, atol, Scalar(equal_nan)});
  }
  Self equal(const Self& other) const { return call("equal", {me(), other}); }
  Self clamp_min(Scalar min) const { return call("clamp_min", {me(), min}); }
  Self clamp_max(Scalar max) const { return call("clamp_max", {me(), max}); }
  Self square() const { return call("square", {me()}); }
  Self float_power(const Self& exponent) const { return call("float_power", {me(), exponent}); }
  Self float_power(Scalar exponent) const { return call("float_power", {me(), exponent}); }
  Self true_divide(const Self& other) const { return call("true_divide", {me(), other}); }
  Self hypot(const Self& other) const { return call("hypot", {me(), other}); }
  Self logaddexp(const Self& other) const { return call("logaddexp", {me(), other}); }
  Self xlogy(const Self& other) const { return call("xlogy", {me(), other}); }
  Self xlogy(Scalar other) const { return call("xlogy", {me(), other}); }
  Self broadcast_to(Shape size) const { return call("broadcast_to", {me(), std::move(size)}); }
  Self swapaxes(int64_t axis0, int64_t axis1) const { return call("swapaxes", {me(), Scalar(axis0), Scalar(axis1)}); }
  Self swapdims(int64_t dim0, int64_t dim1) const { return call("swapdims", {me(), Scalar(dim0), Scalar(dim1)}); }
  Self ravel() const { return call("ravel", {me()}); }
  Self trace() const { return call("trace", {me()}); }
  Self diff(int64_t n = 1, int64_t dim = -1) const { return call("diff", {me(), Scalar(n), Scalar(dim)}); }
  Self cross(const Self& other, std::optional<int64_t> dim = std::nullopt) const {
    return call("cross", {me(), other, opt_int(dim)});
  }
  Self nansum(std::optional<Shape> dim = std::nullopt, bool keepdim = false) const {
    return call("nansum", {me(), dim ? Value(*dim) : Value(None{}), Scalar(keepdim)});
  }
  Self nanmean(std::optional<Shape> dim = std::nullopt, bool keepdim = false) const {
    return call("nanmean", {me(), dim ? Value(*dim) : Value(None{}), Scalar(keepdim)});
  }
  Self count_nonzero(std::optional<Shape> dim = std::nullopt) const {
    return call("count_nonzero", {me(), dim ? Value(*dim) : Value(None{})});
  }
  /// (var, mean) and (std, mean) over the same dims (torch.var_mean / std_mean).
  std::pair<Self, Self> var_mean(std::optional<Shape> dim = std::nullopt, int64_t correction = 1,
                                 bool keepdim = false) const {
    auto outs = me().invoke_op_n("var_mean", {me(), dim ? Value(*dim) : Value(None{}), Scalar(correction), Scalar(keepdim)}, 2);
    return {std::move(outs[0]), std::move(outs[1])};
  }
  std::pair<Self, Self> std_mean(std::optional<Shape> dim = std::nullopt, int64_t correction = 1,
                                 bool keepdim = false) const {
    auto outs = me().invoke_op_n("std_mean", {me(), dim ? Value(*dim) : Value(None{}), Scalar(correction), Scalar(keepdim)}, 2);
    return {std::move(outs[0]), std::move(outs[1])};
  }
  /// (amin, amax) over all elements or along dim (torch.aminmax).
  std::pair<Self, Self> aminmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const {
    auto outs = me().invoke_op_n("aminmax", {me(), opt_int(dim), Scalar(keepdim)}, 2);
    return {std::move(outs[0]), std::move(outs[1])};
  }
  Self take_along_dim(const Self& indices, std::optional<int64_t> dim = std::nullopt) const {
    return call("take_along_dim", {me(), indices, opt_int(dim)});
  }
  Self bucketize(const Self& boundaries, bool out_int32 = false, bool right = false) const {
    return call("bucketize", {me(), boundaries, Scalar(out_int32), Scalar(right)});
  }
  Self bincount(int64_t minlength = 0) const { return call("bincount", {me(), None{}, Scalar(minlength)}); }
  Self bincount(const Self& weights, int64_t minlength = 0) const {
    return call("bincount", {me(), weights, Scalar(minlength)});
  }
  Self index_fill(int64_t dim, const Self& index, Scalar value) const {
    return call("index_fill", {me(), Scalar(dim), index, value});
  }
  Self index_copy(int64_t dim, const Self& index, const Self& source) const {
    return call("index_copy", {me(), Scalar(dim), index, source});
  }
  Self index_fill_(int64_t dim, const Self& index, Scalar value) const {
    return call("index_fill_", {me(), Scalar(dim), index, value});
  }
  Self index_copy_(int64_t dim, const Self& index, const Self& source) const {
    return call("index_copy_", {me(), Scalar(dim), index, source});
  }
  // ---- composite methods (end) ----

  // ---- in-place methods (begin) ----
  // Each writes into self and returns it (Tensor.add_ and friends); core/ops/inplace.cpp does the work.
  Self add_(const Self& other, Scalar alpha = 1) const { return call("add_", {me(), other, alpha}); }
  Self add_(Scalar other, Scalar alpha = 1) const { return call("add_", {me(), other, alpha}); }
  Self sub_(const Self& other, Scalar alpha = 1) const { return call("sub_", {me(), other, alpha}); }
  Self sub_(Scalar other, Scalar alpha = 1) const { return call("sub_", {me(), other, alpha}); }
  Self mul_(const Self& other) const { return call("mul_", {me(), other}); }
  Self mul_(Scalar other) const { return call("mul_", {me(), other}); }
  Self div_(const Self& other) const { return call("div_", {me(), other}); }
  Self div_(Scalar other) const { return call("div_", {me(), other}); }
  Self pow_(const Self& exponent) const { return call("pow_", {me(), exponent}); }
  Self pow_(Scalar exponent) const { return call("pow_", {me(), exponent}); }
  Self clamp_(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const {
    return call("clamp_", {me(), opt(min), opt(max)});
  }
  /// self + value * tensor1 * tensor2 and self + value * tensor1 / tensor2 (torch.addcmul / addcdiv).
  Self addcmul(const Self& tensor1, const Self& tensor2, Scalar value = 1) const {
    return call("addcmul", {me(), tensor1, tensor2, value});
  }
  Self addcdiv(const Self& tensor1, const Self& tensor2, Scalar value = 1) const {
    return call("addcdiv", {me(), tensor1, tensor2, value});
  }
  Self addcmul_(const Self& tensor1, const Self& tensor2, Scalar value = 1) const {
    return call("addcmul_", {me(), tensor1, tensor2, value});
  }
  Self addcdiv_(const Self& tensor1, const Self& tensor2, Scalar value = 1) const {
    return call("addcdiv_", {me(), tensor1, tensor2, value});
  }
  Self fill_(Scalar value) const { return call("fill_", {me(), value}); }
  Self fill_(const Self& value) const { return call("fill_", {me(), value}); }
  Self zero_() const { return call("zero_", {me()}); }
  /// Copies src into self, broadcasting and converting dtype and device (Tensor.copy_).
  Self copy_(const Self& src, bool non_blocking = false) const { return call("copy_", {me(), src, Scalar(non_blocking)}); }
  Self masked_fill_(const Self& mask, Scalar value) const { return call("masked_fill_", {me(), mask, value}); }
  Self index_add_(int64_t dim, const Self& index, const Self& source, Scalar alpha = 1) const {
    return call("index_add_", {me(), Scalar(dim), index, source, alpha});
  }
  Self scatter_(int64_t dim, const Self& index, const Self& src) const {
    return call("scatter_", {me(), Scalar(dim), index, src});
  }
  Self scatter_add_(int64_t dim, const Self& index, const Self& src) const {
    return call("scatter_add_", {me(), Scalar(dim), index, src});
  }
#define TD_UNARY_INPLACE_METHOD(Name, name) \
  Self name##_() const { return call(#name "_", {me()}); }
  TD_FLOAT_UNARY_OPS(TD_UNARY_INPLACE_METHOD)
  TD_ANY_UNARY_OPS(TD_UNARY_INPLACE_METHOD)
#undef TD_UNARY_INPLACE_METHOD
  // ---- in-place methods (end) ----

  // ---- sort, selection and unique methods (begin) ----
  /// Values sorted along dim and their indices; NaN sorts as the largest value; always stable (torch.sort).
  std::pair<Self, Self> sort(int64_t dim = -1, bool descending = false, bool stable = false) const {
    return two(me().invoke_op_n("sort", {me(), Scalar(dim), Scalar(descending), Scalar(stable)}, 2));
  }
  /// The indices that sort self along dim (torch.argsort).
  Self argsort(int64_t dim = -1, bool descending = false, bool stable = false) const {
    return call("argsort", {me(), Scalar(dim), Scalar(descending), Scalar(stable)});
  }
  /// self sorted along dim 0 (torch.msort).
  Self msort() const { return call("msort", {me()}); }
  /// The k largest (or smallest) elements along dim and their indices (torch.topk).
  std::pair<Self, Self> topk(int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true) const {
    return two(me().invoke_op_n("topk", {me(), Scalar(k), Scalar(dim), Scalar(largest), Scalar(sorted)}, 2));
  }
  /// The k-th smallest element along dim, k counted from 1, and its index (torch.kthvalue).
  std::pair<Self, Self> kthvalue(int64_t k, int64_t dim = -1, bool keepdim = false) const {
    return two(me().invoke_op_n("kthvalue", {me(), Scalar(k), Scalar(dim), Scalar(keepdim)}, 2));
  }
  /// The lower median of all elements, NaN if any is NaN; along dim, with its index (torch.median).
  Self median() const { return call("median", {me()}); }
  std::pair<Self, Self> median(int64_t dim, bool keepdim = false) const { return call2("median.dim", dim, keepdim); }
  /// median ignoring NaNs (torch.nanmedian).
  Self nanmedian() const { return call("nanmedian", {me()}); }
  std::pair<Self, Self> nanmedian(int64_t dim, bool keepdim = false) const {
    return call2("nanmedian.dim", dim, keepdim);
  }
  /// The most frequent value along dim (the smallest of equally frequent ones) and an index of it (torch.mode).
  std::pair<Self, Self> mode(int64_t dim = -1, bool keepdim = false) const { return call2("mode", dim, keepdim); }
  /// The distinct elements (or slices along dim) in ascending order, the inverse indices and the counts;
  /// the last two are empty unless asked for (torch.unique).
  std::tuple<Self, Self, Self> unique(bool sorted = true, bool return_inverse = false, bool return_counts = false,
                                      std::optional<int64_t> dim = std::nullopt) const {
    return three(me().invoke_op_n(
        "unique", {me(), Scalar(sorted), Scalar(return_inverse), Scalar(return_counts), opt_int(dim)}, 3));
  }
  /// Each run of equal consecutive elements (or slices along dim) once, the inverse indices and the run
  /// lengths (torch.unique_consecutive).
  std::tuple<Self, Self, Self> unique_consecutive(bool return_inverse = false, bool return_counts = false,
                                                  std::optional<int64_t> dim = std::nullopt) const {
    return three(me().invoke_op_n("unique_consecutive",
                                  {me(), Scalar(return_inverse), Scalar(return_counts), opt_int(dim)}, 3));
  }

 private:
  static std::pair<Self, Self> two(std::vector<Self> outs) { return {std::move(outs[0]), std::move(outs[1])}; }
  static std::tuple<Self, Self, Self> three(std::vector<Self> outs) {
    return {std::move(outs[0]), std::move(outs[1]), std::move(outs[2])};
  }

 public:
  // ---- (end) ----

  // ---- padding, einsum, lerp, nan_to_num, repeat_interleave, scatter_reduce methods (begin) ----
  /// self padded by (left, right) pairs from the last dim backwards: "constant" with value (negative pads
  /// crop), "reflect", "replicate" or "circular" (torch.nn.functional.pad).
  Self pad(Shape pad, std::string mode = "constant", std::optional<double> value = std::nullopt) const {
    return call("pad", {me(), std::move(pad), std::move(mode), opt_float(value)});
  }
  /// Sums of products over the labels of an Einstein-summation equation ("ij,jk->ik") (torch.einsum). A
  /// remote list must not be empty: its first tensor names the session.
  /// path, if given, lists the pairs of operands to contract in turn (opt_einsum's convention).
  static Self einsum(std::string equation, std::vector<Self> tensors,
                     std::optional<Shape> path = std::nullopt) {
    Self first = tensors.empty() ? Self() : tensors.front();
    return first.invoke_op("einsum", {std::move(equation), std::move(tensors), optional_dims<Self>(path)});
  }
  /// self + weight * (end - self), broadcasting (torch.lerp).
  Self lerp(const Self& end, Scalar weight) const {
    return call("lerp", {me(), end, weight});
  }
  Self lerp(const Self& end, const Self& weight) const {
    return call("lerp", {me(), end, weight});
  }
  Self lerp_(const Self& end, Scalar weight) const { return call("lerp_", {me(), end, weight}); }
  Self lerp_(const Self& end, const Self& weight) const { return call("lerp_", {me(), end, weight}); }
  /// NaN, +inf and -inf replaced by nan (0), posinf and neginf (the dtype's largest and lowest values by
  /// default) (torch.nan_to_num).
  Self nan_to_num(std::optional<double> nan = std::nullopt, std::optional<double> posinf = std::nullopt,
                  std::optional<double> neginf = std::nullopt) const {
    return call("nan_to_num", {me(), opt_float(nan), opt_float(posinf), opt_float(neginf)});
  }
  /// Each element (or slice along dim; flattened when dim is None) repeated `repeats` times, or repeats[i]
  /// times for element i (torch.repeat_interleave).
  Self repeat_interleave(int64_t repeats, std::optional<int64_t> dim = std::nullopt,
                         std::optional<int64_t> output_size = std::nullopt) const {
    return call("repeat_interleave", {me(), Scalar(repeats), opt_int(dim), opt_int(output_size)});
  }
  Self repeat_interleave(const Self& repeats, std::optional<int64_t> dim = std::nullopt,
                         std::optional<int64_t> output_size = std::nullopt) const {
    return call("repeat_interleave", {me(), repeats, opt_int(dim), opt_int(output_size)});
  }
  /// For a 1-d tensor of counts: i repeated counts[i] times (torch.repeat_interleave(repeats)).
  Self repeat_interleave() const {
    return call("repeat_interleave.Tensor", {me()});
  }
  /// A copy of self with src reduced into the places index names along dim; reduce is "sum", "prod", "mean",
  /// "amax" or "amin" (torch.scatter_reduce).
  Self scatter_reduce(int64_t dim, const Self& index, const Self& src, std::string reduce,
                      bool include_self = true) const {
    return call("scatter_reduce", {me(), Scalar(dim), index, src, std::move(reduce), Scalar(include_self)});
  }

 private:
  static Value opt_float(std::optional<double> v) {
    return v ? Value(Scalar(*v)) : Value(None{});
  }

 public:
  // ---- padding, einsum, lerp, nan_to_num, repeat_interleave, scatter_reduce methods (end) ----

 private:
  const Self& me() const { return static_cast<const Self&>(*this); }
  static Value opt(const std::optional<Scalar>& s) { return s ? Value(*s) : Value(None{}); }
  /// One argument of call(): a tensor named by reference (copied once, into the op's argument list) or any
  /// other value, moved there. A braced list of Values would copy each tensor twice (into the list, then out
  /// of it), and a tensor copy is two atomic reference-count updates: a small op's time shows them.
  struct Arg {
    Arg(const Self& t) : tensor(&t) {}  // NOLINT: implicit, as a Value would be
    template <class V>
      requires std::is_constructible_v<Value, V&&>
    Arg(V&& v) : value(std::forward<V>(v)) {}  // NOLINT
    const Self* tensor = nullptr;
    mutable Value value;  // moved from by call(), through the initializer list's const elements
  };
  Self call(std::string_view op, std::initializer_list<Arg> args) const {
    std::vector<Value> values;
    values.reserve(args.size());
    for (const Arg& a : args) {
      if (a.tensor) {
        values.emplace_back(*a.tensor);
      } else {
        values.push_back(std::move(a.value));
      }
    }
    return me().invoke_op(op, std::move(values));
  }
  std::pair<Self, Self> call2(std::string_view op, int64_t dim, bool keepdim) const {
    std::vector<Self> outs = me().invoke_op_n(op, {me(), Scalar(dim), Scalar(keepdim)}, 2);
    return {std::move(outs[0]), std::move(outs[1])};
  }
};

}  // namespace td
