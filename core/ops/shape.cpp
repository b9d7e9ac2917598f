// Views and shape ops: view, reshape, transpose, t, permute, expand, unsqueeze, squeeze, narrow, select,
// slice, diagonal, movedim, flatten, unflatten, as_strided, unfold, expand_as, view_as, reshape_as; the
// scatter copies that are their backwards (slice_scatter, select_scatter, diagonal_scatter,
// as_strided_scatter); contiguous, clone, detach and the dtype/device conversion `to`.
//
// A view's backward writes the gradient into zeros through the matching scatter op, which is itself a
// primitive with a backward (a view of the gradient), so double backward works without in-place ops.
#include <algorithm>
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

// non_blocking: between pinned host memory and a device, the copy is queued on the current stream and not
// waited for (a device-to-host copy lands in a new pinned tensor, as PyTorch's); elsewhere it is ignored.
Tensor copy_to(const Tensor& x, DType dtype, Device device, bool non_blocking = false) {
  const bool pinned_out = non_blocking && device.is_cpu() && x.device().is_cuda();
  Tensor out = empty(x.shape(), {dtype, device, false, pinned_out});
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
    Backend& b = backend(src.device().type);
    if (!(pinned_out && b.copy_async(out.data_ptr(), src.data_ptr(), out.nbytes(), /*to_host=*/true,
                                     out.impl().storage->data, src.device().index))) {
      b.copy_to_host(out.data_ptr(), src.data_ptr(), out.nbytes(), src.device().index);
    }
  } else {
    TD_CHECK(src.device().is_cpu(), ErrorCode::kUnimplemented, "[to] copies between two CUDA devices are not "
             "supported yet (", src.device().str(), " to ", device.str(), ")");
    Backend& b = backend(device.type);
    if (!(non_blocking && src.is_pinned() &&
          b.copy_async(out.data_ptr(), src.data_ptr(), out.nbytes(), /*to_host=*/false, src.impl().storage->data,
                       device.index))) {
      b.copy_from_host(out.data_ptr(), src.data_ptr(), out.nbytes(), device.index);
    }
  }
  return out;
}

std::vector<int64_t> permuted(std::span<const int64_t> v, std::span<const int64_t> dims) {
  std::vector<int64_t> out;
  for (int64_t d : dims) out.push_back(v[d]);
  return out;
}

std::vector<int64_t> vec(std::span<const int64_t> v) {
  return {v.begin(), v.end()};
}

Tensor zeros_of(std::span<const int64_t> sizes, const Tensor& like) {
  return zeros(vec(sizes), {like.dtype(), like.device()});
}

// Writes src (same shape and device as dst, any dtype) into dst through the backend's strided copy.
void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.numel() > 0)
    backend(dst.device().type).copy(strided_ref(dst), strided_ref(src), dst.device().index);
}

// ---- narrow / select / slice / diagonal geometry, shared by the views, the scatters and the backwards ----

/// A range along one dim: the view keeps `length` elements from `start`, `step` apart.
struct DimRange {
  int64_t dim, start, length, step;
};

Tensor range_view(const Tensor& x, const DimRange& r) {
  auto sizes = x.shape();
  std::vector<int64_t> strides = vec(x.strides());
  int64_t offset = x.storage_offset() + (r.length > 0 ? r.start * strides[r.dim] : 0);
  sizes[r.dim] = r.length;
  strides[r.dim] *= r.step;
  return make_view(x, sizes, strides, offset);
}

DimRange narrow_range(std::span<const int64_t> sizes, int64_t dim, int64_t start, int64_t length) {
  TD_CHECK_ARG(!sizes.empty(), "[narrow] cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim("narrow", dim, static_cast<int64_t>(sizes.size()));
  int64_t size = sizes[d];
  // PyTorch wraps start like a dim, except that start == size (an empty slice at the end) is allowed.
  if (start != size) start = wrap_dim("narrow", start, size);
  TD_CHECK_ARG(length >= 0 && start <= size - length, "[narrow] start (", start, ") + length (", length,
               ") exceeds dimension size (", size, ").");
  return {d, start, length, 1};
}

// Python's slice bounds: negative ones count from the end, then both clamp to [0, size].
DimRange slice_range(std::string_view op, std::span<const int64_t> sizes, int64_t dim,
                     std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) {
  TD_CHECK_ARG(!sizes.empty(), "[", op, "] cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(op, dim, static_cast<int64_t>(sizes.size()));
  TD_CHECK_ARG(step > 0, "[", op, "] slice step must be positive");
  int64_t size = sizes[d];
  auto clamp = [size](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size); };
  int64_t lo = clamp(start.value_or(0)), hi = end ? clamp(*end) : size;
  if (hi < lo) hi = lo;
  return {d, lo, (hi - lo + step - 1) / step, step};
}

DimRange slice_range(std::string_view op, std::span<const int64_t> sizes, const Args& a, size_t first) {
  auto opt = [&](size_t i) { return a.is_none(i) ? std::nullopt : std::optional<int64_t>(a.int_at(i)); };
  return slice_range(op, sizes, a.int_at(first), opt(first + 1), opt(first + 2), a.int_at(first + 3));
}

struct SelectIndex {
  int64_t dim, index;
};

SelectIndex select_index(std::string_view op, std::span<const int64_t> sizes, int64_t dim, int64_t index) {
  TD_CHECK(!sizes.empty(), ErrorCode::kOutOfRange, "[", op, "] cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(op, dim, static_cast<int64_t>(sizes.size()));
  int64_t size = sizes[d];
  TD_CHECK(index >= -size && index < size, ErrorCode::kOutOfRange, "[", op, "] index ", index,
           " out of range for tensor of size ", shape_str(sizes), " at dimension ", d);
  return {d, index < 0 ? index + size : index};
}

Tensor select_view(const Tensor& x, const SelectIndex& s) {
  auto sizes = x.shape();
  std::vector<int64_t> strides = vec(x.strides());
  int64_t offset = x.storage_offset() + s.index * strides[s.dim];
  sizes.erase(sizes.begin() + s.dim);
  strides.erase(strides.begin() + s.dim);
  return make_view(x, sizes, strides, offset);
}

struct Diagonal {
  int64_t offset, dim1, dim2;
};

Diagonal diagonal_dims(std::string_view op, int64_t ndim, int64_t offset, int64_t dim1, int64_t dim2) {
  int64_t d1 = wrap_dim(op, dim1, ndim), d2 = wrap_dim(op, dim2, ndim);
  TD_CHECK_ARG(d1 != d2, "[", op, "] diagonal dimensions cannot be identical ", dim1, ", ", dim2);
  return {offset, d1, d2};
}

// The diagonal of dims (dim1, dim2) shifted by offset (above the main one when positive), as the last dim.
Tensor diagonal_view(const Tensor& x, const Diagonal& g) {
  auto sizes = x.shape();
  std::vector<int64_t> strides = vec(x.strides());
  int64_t n1 = sizes[g.dim1], n2 = sizes[g.dim2];
  int64_t n = g.offset >= 0 ? std::min(n1, n2 - g.offset) : std::min(n1 + g.offset, n2);
  n = std::max<int64_t>(n, 0);
  int64_t offset = x.storage_offset();
  if (n > 0) offset += g.offset >= 0 ? g.offset * strides[g.dim2] : -g.offset * strides[g.dim1];
  int64_t stride = strides[g.dim1] + strides[g.dim2];
  for (int64_t d : {std::max(g.dim1, g.dim2), std::min(g.dim1, g.dim2)}) {
    sizes.erase(sizes.begin() + d);
    strides.erase(strides.begin() + d);
  }
  sizes.push_back(n);
  strides.push_back(stride);
  return make_view(x, sizes, strides, offset);
}

// ---- as_strided ----

/// Checks an as_strided geometry against a storage of `storage_elems` elements.
void check_as_strided(std::string_view op, std::span<const int64_t> size, std::span<const int64_t> stride,
                      int64_t offset, int64_t storage_elems, DType dtype) {
  TD_CHECK_ARG(size.size() == stride.size(), "[", op, "] mismatch in length of strides and shape");
  for (int64_t s : stride) {
    TD_CHECK_ARG(s >= 0, "[", op,
                 "] Negative strides are not supported at the moment, got strides: ", shape_str(stride));
  }
  for (int64_t s : size) TD_CHECK_ARG(s >= 0, "[", op, "] negative size ", s, " in shape ", shape_str(size));
  TD_CHECK_ARG(offset >= 0, "[", op, "] invalid storage offset ", offset);
  if (shape_numel(size) == 0) return;
  int64_t last = offset;
  for (size_t i = 0; i < size.size(); ++i) last += (size[i] - 1) * stride[i];
  int64_t item = static_cast<int64_t>(itemsize(dtype));
  TD_CHECK_ARG(last < storage_elems, "[", op, "] sizes ", shape_str(size), ", strides ", shape_str(stride),
               ", storage offset ", offset, ", and itemsize ", item, " requiring a storage size of ",
               (last + 1) * item, " are out of bounds for storage of size ", storage_elems * item);
}

/// Index of one past the last element a geometry reaches (its offset when empty); strides are non-negative.
int64_t geometry_end(std::span<const int64_t> size, std::span<const int64_t> stride, int64_t offset) {
  if (shape_numel(size) == 0) return offset;
  int64_t last = offset;
  for (size_t i = 0; i < size.size(); ++i) last += (size[i] - 1) * stride[i];
  return last + 1;
}

/// Dims (of size > 1) to loop over so that the remaining ones map to distinct elements: dims sorted by stride
/// are kept while each stride clears the extent of the ones kept before it. Empty: no internal overlap.
std::vector<int64_t> overlapping_dims(std::span<const int64_t> size, std::span<const int64_t> stride) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < static_cast<int64_t>(size.size()); ++d) {
    if (size[d] > 1) dims.push_back(d);
  }
  std::stable_sort(dims.begin(), dims.end(), [&](int64_t a, int64_t b) { return stride[a] < stride[b]; });
  std::vector<int64_t> loop;
  int64_t extent = 1;
  for (int64_t d : dims) {
    if (stride[d] >= extent) {
      extent += (size[d] - 1) * stride[d];
    } else {
      loop.push_back(d);
    }
  }
  return loop;
}

/// A 1-d tensor of n zeros plus, at element offset + sum(i_k * stride_k), the sum of the grad elements that
/// land there: the gradient of gathering with that geometry (as_strided, unfold). Built from public ops, so
/// it is differentiable: one as_strided_scatter per combination of the overlapping dims' indices.
Tensor strided_scatter_add(const Tensor& grad, int64_t n, std::span<const int64_t> size,
                           std::span<const int64_t> stride, int64_t offset) {
  Tensor g = grad;
  std::vector<int64_t> sz = vec(size), st = vec(stride);
  // A stride-0 dim sends all its elements to one place: sum it first.
  std::vector<int64_t> broadcast;
  for (int64_t d = 0; d < static_cast<int64_t>(sz.size()); ++d) {
    if (st[d] == 0 && sz[d] > 1) broadcast.push_back(d);
  }
  if (!broadcast.empty()) {
    g = g.sum(broadcast, /*keepdim=*/true);
    for (int64_t d : broadcast) sz[d] = 1;
  }
  Tensor zero = zeros({n}, {grad.dtype(), grad.device()});
  if (shape_numel(sz) == 0) return zero;
  std::vector<int64_t> loop = overlapping_dims(sz, st);
  std::sort(loop.begin(), loop.end(),
            std::greater<>());  // select the highest dim first: lower ones keep their index
  std::vector<int64_t> kept_size, kept_stride;
  for (int64_t d = 0; d < static_cast<int64_t>(sz.size()); ++d) {
    if (std::find(loop.begin(), loop.end(), d) != loop.end()) continue;
    kept_size.push_back(sz[d]);
    kept_stride.push_back(st[d]);
  }
  Tensor out;
  std::vector<int64_t> index(loop.size(), 0);
  while (true) {
    Tensor part = g;
    int64_t off = offset;
    for (size_t k = 0; k < loop.size(); ++k) {
      part = part.select(loop[k], index[k]);
      off += index[k] * st[loop[k]];
    }
    Tensor scattered = zero.as_strided_scatter(part, kept_size, kept_stride, off);
    out = out.defined() ? out.add(scattered) : scattered;
    size_t k = 0;
    while (k < loop.size() && ++index[k] == sz[loop[k]]) index[k++] = 0;
    if (k == loop.size()) break;
  }
  return out;
}

// The geometry unfold reads from a contiguous tensor of `sizes`: dim steps by `step`, the window is a new
// last dim.
struct UnfoldGeometry {
  int64_t dim;
  std::vector<int64_t> sizes, strides;
};

UnfoldGeometry unfold_geometry(std::span<const int64_t> in_sizes, std::span<const int64_t> in_strides,
                               int64_t dimension, int64_t size, int64_t step) {
  int64_t ndim = static_cast<int64_t>(in_sizes.size());
  int64_t d = wrap_dim("unfold", dimension, ndim);
  int64_t max_size = ndim == 0 ? 1 : in_sizes[d];
  TD_CHECK_ARG(size >= 0, "[unfold] size is ", size, " but must be >= 0");
  TD_CHECK_ARG(size <= max_size, "[unfold] maximum size for tensor at dimension ", d, " is ", max_size,
               " but size is ", size);
  TD_CHECK_ARG(step > 0, "[unfold] step is ", step, " but must be > 0");
  UnfoldGeometry g{d, vec(in_sizes), vec(in_strides)};
  int64_t stride = ndim == 0 ? 1 : in_strides[d];
  if (ndim > 0) {
    g.sizes[d] = (max_size - size) / step + 1;
    g.strides[d] *= step;
  }
  g.sizes.push_back(size);
  g.strides.push_back(stride);
  return g;
}

/// The scatter ops' forward: a contiguous copy of self with src written into view_of(copy).
template <class ViewFn>
Tensor scatter_copy(std::string_view op, const Tensor& self, const Tensor& src, ViewFn view_of) {
  const Tensor both[] = {self, src};
  ops::check_same_device(op, both);
  Tensor out = empty(self.shape(), {self.dtype(), self.device()});
  copy_into(out, self);
  Tensor view = view_of(out);
  TD_CHECK_ARG(view.sizes().size() == src.sizes().size() &&
                   std::equal(view.sizes().begin(), view.sizes().end(), src.sizes().begin()),
               "[", op, "] expected src to have a size equal to the slice of self. src size = ",
               shape_str(src.sizes()), ", slice size = ", shape_str(view.sizes()));
  copy_into(view, ops::on_device(src, self.device()));
  return out;
}

std::optional<int64_t> opt_int64(const Args& a, size_t i) {
  return a.is_none(i) ? std::nullopt : std::optional<int64_t>(a.int_at(i));
}

// narrow, select, slice, diagonal, their scatters, movedim, flatten, unflatten, as_strided, unfold, *_as.
void register_view_ops(Registry& r) {
  r.def("narrow(Tensor self, int dim, int start, int length) -> Tensor")
      .doc("length elements of dim from start (negative start counts from the end), as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {range_view(x, narrow_range(x.sizes(), a.int_at(1), a.int_at(2), a.int_at(3)))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& in = c.input_meta(0).sizes;
        DimRange r = narrow_range(in, c.args().int_at(1), c.args().int_at(2), c.args().int_at(3));
        const Tensor& g = c.grad();
        return {zeros_of(in, g).slice_scatter(g, r.dim, r.start, r.start + r.length)};
      });

  r.def("slice(Tensor self, int dim=0, int? start=None, int? end=None, int step=1) -> Tensor")
      .doc("self[start:end:step] along dim with Python's negative and clamped bounds, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {range_view(x, slice_range("slice", x.sizes(), a, 1))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& in = c.input_meta(0).sizes;
        DimRange r = slice_range("slice", in, c.args(), 1);
        const Tensor& g = c.grad();
        return {zeros_of(in, g).slice_scatter(g, r.dim, r.start, r.start + r.length * r.step, r.step)};
      });

  r.def(
       "slice_scatter(Tensor self, Tensor src, int dim=0, int? start=None, int? end=None, int step=1) -> "
       "Tensor")
      .doc("a copy of self with src written into self[start:end:step] along dim")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        DimRange r = slice_range("slice_scatter", x.sizes(), a, 2);
        return {scatter_copy("slice_scatter", x, a.tensor(1),
                             [&](const Tensor& out) { return range_view(out, r); })};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // The slice's elements come from src, the others from self.
        const Tensor& g = c.grad();
        const Args& a = c.args();
        Tensor gs, gsrc;
        if (c.needs_grad(0))
          gs = g.slice_scatter(zeros_of(c.input_meta(1).sizes, g), a.int_at(2), opt_int64(a, 3),
                               opt_int64(a, 4), a.int_at(5));
        if (c.needs_grad(1)) gsrc = g.slice(a.int_at(2), opt_int64(a, 3), opt_int64(a, 4), a.int_at(5));
        return {gs, gsrc};
      });

  r.def("select(Tensor self, int dim, int index) -> Tensor")
      .doc("the slice at index along dim, without that dim, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {select_view(x, select_index("select", x.sizes(), a.int_at(1), a.int_at(2)))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        return {zeros_of(c.input_meta(0).sizes, g).select_scatter(g, c.args().int_at(1), c.args().int_at(2))};
      });

  r.def("select_scatter(Tensor self, Tensor src, int dim, int index) -> Tensor")
      .doc("a copy of self with src written into the slice at index along dim")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        SelectIndex s = select_index("select_scatter", x.sizes(), a.int_at(2), a.int_at(3));
        return {scatter_copy("select_scatter", x, a.tensor(1),
                             [&](const Tensor& out) { return select_view(out, s); })};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        int64_t dim = c.args().int_at(2), index = c.args().int_at(3);
        Tensor gs, gsrc;
        if (c.needs_grad(0)) gs = g.select_scatter(zeros_of(c.input_meta(1).sizes, g), dim, index);
        if (c.needs_grad(1)) gsrc = g.select(dim, index);
        return {gs, gsrc};
      });

  r.def("diagonal(Tensor self, int offset=0, int dim1=0, int dim2=1) -> Tensor")
      .doc(
          "the diagonal of dims dim1 and dim2 (above the main one for offset > 0) as the last dim, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {diagonal_view(x, diagonal_dims("diagonal", x.dim(), a.int_at(1), a.int_at(2), a.int_at(3)))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        const Args& a = c.args();
        return {
            zeros_of(c.input_meta(0).sizes, g).diagonal_scatter(g, a.int_at(1), a.int_at(2), a.int_at(3))};
      });

  r.def("diagonal_scatter(Tensor self, Tensor src, int offset=0, int dim1=0, int dim2=1) -> Tensor")
      .doc("a copy of self with src written into a diagonal")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        Diagonal d = diagonal_dims("diagonal_scatter", x.dim(), a.int_at(2), a.int_at(3), a.int_at(4));
        return {scatter_copy("diagonal_scatter", x, a.tensor(1),
                             [&](const Tensor& out) { return diagonal_view(out, d); })};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        const Args& a = c.args();
        Tensor gs, gsrc;
        if (c.needs_grad(0))
          gs = g.diagonal_scatter(zeros_of(c.input_meta(1).sizes, g), a.int_at(2), a.int_at(3), a.int_at(4));
        if (c.needs_grad(1)) gsrc = g.diagonal(a.int_at(2), a.int_at(3), a.int_at(4));
        return {gs, gsrc};
      });

  r.def("as_strided(Tensor self, int[] size, int[] stride, int? storage_offset=None) -> Tensor")
      .doc("a view of self's storage with any sizes, strides (>= 0) and offset (self's by default)")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t offset = a.is_none(3) ? x.storage_offset() : a.int_at(3);
        int64_t storage = static_cast<int64_t>(x.impl().storage->nbytes / itemsize(x.dtype()));
        check_as_strided("as_strided", a.ints(1), a.ints(2), offset, storage, x.dtype());
        return {make_view(x, a.ints(1), a.ints(2), offset)};
      })
      .saves_inputs({0})  // for its geometry (strides and offset), which the metadata lacks
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // As PyTorch: sum the gradient into the storage elements the output read (several times where the
        // output overlaps), then read them back with the input's geometry, dividing by how many input
        // elements share each storage element where the input overlaps itself (an expanded input).
        Tensor x = c.input(0);
        const Tensor& g = c.grad();
        const auto &size = c.args().ints(1), &stride = c.args().ints(2);
        int64_t out_offset = c.args().is_none(3) ? x.storage_offset() : c.args().int_at(3);
        int64_t in_offset = x.storage_offset();
        int64_t base = std::min(in_offset, out_offset);
        int64_t n = std::max(geometry_end(x.sizes(), x.strides(), in_offset),
                             geometry_end(size, stride, out_offset)) -
                    base;
        Tensor storage = strided_scatter_add(g, n, size, stride, out_offset - base);
        auto gather = [&](const Tensor& buffer) {
          return buffer.as_strided(vec(x.sizes()), vec(x.strides()),
                                   buffer.storage_offset() + in_offset - base);
        };
        Tensor gx = gather(storage);
        bool overlaps = !overlapping_dims(x.sizes(), x.strides()).empty();
        for (int64_t i = 0; i < x.dim(); ++i) overlaps |= x.strides()[i] == 0 && x.sizes()[i] > 1;
        if (overlaps) {
          Tensor count = strided_scatter_add(ones(x.shape(), {g.dtype(), g.device()}), n, x.sizes(),
                                             x.strides(), in_offset - base);
          gx = gx.div(gather(count));
        }
        return {gx};
      });

  r.def(
       "as_strided_scatter(Tensor self, Tensor src, int[] size, int[] stride, int? storage_offset=None) -> "
       "Tensor")
      .doc(
          "a contiguous copy of self with src written into its as_strided(size, stride, storage_offset) view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        // The view is of the copy, which is contiguous from offset 0 (PyTorch's clone keeps a dense self's
        // strides; the two agree for contiguous self).
        int64_t offset = a.is_none(4) ? 0 : a.int_at(4);
        check_as_strided("as_strided_scatter", a.ints(2), a.ints(3), offset, x.numel(), x.dtype());
        return {scatter_copy("as_strided_scatter", x, a.tensor(1), [&](const Tensor& out) {
          return make_view(out, a.ints(2), a.ints(3), offset);
        })};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        const auto &size = c.args().ints(2), &stride = c.args().ints(3);
        int64_t offset = c.args().is_none(4) ? 0 : c.args().int_at(4);
        Tensor gs, gsrc;
        if (c.needs_grad(0))
          gs = g.as_strided_scatter(zeros_of(c.input_meta(1).sizes, g), size, stride, offset);
        if (c.needs_grad(1)) {
          Tensor dense = g.contiguous();
          gsrc = dense.as_strided(size, stride, dense.storage_offset() + offset);
        }
        return {gs, gsrc};
      });

  r.def("unfold(Tensor self, int dimension, int size, int step) -> Tensor")
      .doc(
          "every window of size elements along dimension, step apart, as a view with the window as a new "
          "last dim")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        UnfoldGeometry g = unfold_geometry(x.sizes(), x.strides(), a.int_at(1), a.int_at(2), a.int_at(3));
        return {make_view(x, g.sizes, g.strides, x.storage_offset())};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // Windows overlap when step < size: each input element collects the gradient of every copy of it.
        const auto& in = c.input_meta(0).sizes;
        UnfoldGeometry g = unfold_geometry(in, contiguous_strides(in), c.args().int_at(1), c.args().int_at(2),
                                           c.args().int_at(3));
        return {strided_scatter_add(c.grad(), shape_numel(in), g.sizes, g.strides, 0).view(vec(in))};
      });

  r.def("movedim(Tensor self, int[1] source, int[1] destination) -> Tensor")
      .doc("moves dims source to positions destination, the others keeping their order, as a view")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto &src = a.ints(1), &dst = a.ints(2);
        TD_CHECK_ARG(src.size() == dst.size(), "[movedim] Invalid source or destination dims: source (",
                     shape_str(src), " dims) should contain the same number of dims as destination (",
                     shape_str(dst), " dims)");
        int64_t n = x.dim();
        if (n == 0) {  // a 0-d tensor's only "dim" (0 or -1) moves onto itself
          for (size_t i = 0; i < src.size(); ++i) {
            (void)wrap_dim("movedim", src[i], 0);
            (void)wrap_dim("movedim", dst[i], 0);
          }
          return {x.permute({})};
        }
        std::vector<int64_t> order(n, -1);
        std::vector<bool> used_src(n), used_dst(n);
        for (size_t i = 0; i < src.size(); ++i) {
          int64_t s = wrap_dim("movedim", src[i], n), d = wrap_dim("movedim", dst[i], n);
          TD_CHECK_ARG(!used_src[s], "[movedim] repeated dim in `source` (", shape_str(src), ")");
          TD_CHECK_ARG(!used_dst[d], "[movedim] repeated dim in `destination` (", shape_str(dst), ")");
          used_src[s] = used_dst[d] = true;
          order[d] = s;
        }
        int64_t next = 0;
        for (int64_t d = 0; d < n; ++d) {
          if (order[d] != -1) continue;
          while (used_src[next]) ++next;
          order[d] = next++;
        }
        return {x.permute(order)};
      });

  r.def("flatten(Tensor self, int start_dim=0, int end_dim=-1) -> Tensor")
      .doc("merges dims start_dim..end_dim into one: a view when strides allow, else a copy")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        if (x.dim() == 0) return {x.reshape({1})};
        int64_t s = wrap_dim("flatten", a.int_at(1), x.dim()), e = wrap_dim("flatten", a.int_at(2), x.dim());
        TD_CHECK_ARG(s <= e, "[flatten] flatten() has invalid args: start_dim cannot come after end_dim");
        if (s == e) return {x};
        std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + s);
        shape.push_back(shape_numel(x.sizes().subspan(s, e - s + 1)));
        shape.insert(shape.end(), x.sizes().begin() + e + 1, x.sizes().end());
        return {x.reshape(shape)};
      });

  r.def("unflatten(Tensor self, int dim, int[] sizes) -> Tensor")
      .doc("splits dim into sizes (one may be -1), as a view")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK(x.dim() > 0, ErrorCode::kOutOfRange, "[unflatten] Dimension specified as ", a.int_at(1),
                 " but tensor has no dimensions");
        int64_t d = wrap_dim("unflatten", a.int_at(1), x.dim());
        const auto& sizes = a.ints(2);
        TD_CHECK_ARG(!sizes.empty(), "[unflatten] sizes must be non-empty");
        int64_t size = x.sizes()[d], known = 1;
        std::optional<size_t> infer;
        for (size_t i = 0; i < sizes.size(); ++i) {
          if (sizes[i] == -1) {
            TD_CHECK_ARG(!infer, "[unflatten] only one dimension can be inferred");
            infer = i;
          } else {
            TD_CHECK_ARG(sizes[i] >= 0, "[unflatten] invalid shape dimension ", sizes[i]);
            known *= sizes[i];
          }
        }
        std::vector<int64_t> inferred = sizes;
        if (infer && known > 0 && size % known == 0) inferred[*infer] = size / known;
        TD_CHECK_ARG(shape_numel(inferred) == size && (!infer || inferred[*infer] >= 0),
                     "[unflatten] Provided sizes ", shape_str(sizes),
                     " don't multiply up to the size of dim ", a.int_at(1), " (", x.sizes()[d],
                     ") in the input tensor");
        auto shape = x.shape();
        shape.erase(shape.begin() + d);
        shape.insert(shape.begin() + d, inferred.begin(), inferred.end());
        return {x.view(shape)};
      });

  r.def("expand_as(Tensor self, Tensor other) -> Tensor")
      .doc("self expanded to other's shape, as a view")
      .composite()
      .forward(
          [](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).expand(a.tensor(1).shape())}; });
  r.def("view_as(Tensor self, Tensor other) -> Tensor")
      .doc("self viewed with other's shape")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).view(a.tensor(1).shape())}; });
  r.def("reshape_as(Tensor self, Tensor other) -> Tensor")
      .doc("self reshaped to other's shape: a view when strides allow, else a copy")
      .composite()
      .forward(
          [](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).reshape(a.tensor(1).shape())}; });
}
}  // namespace

void register_shape_ops(Registry& r) {
  r.def("view(Tensor self, int[] size) -> Tensor")
      .doc("a view with a new shape; -1 infers one dim")
      .forward([](const Args& a) -> std::vector<Tensor> { return {view_forward(a.tensor(0), a.ints(1))}; })
      .saves_inputs({})
      .complex_autograd()
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
      .complex_autograd()
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
      .complex_autograd()
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
      .complex_autograd()
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
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().reshape(c.input_meta(0).sizes)}; });

  // One op for both of PyTorch's overloads (squeeze() and squeeze(dim)): dim=None removes every size-1 dim.
  r.def("squeeze(Tensor self, int? dim=None) -> Tensor")
      .doc("removes one size-1 dim (others are left alone), or every size-1 dim when dim is None, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        std::vector<int64_t> sizes, strides;
        std::optional<int64_t> d;
        if (!a.is_none(1)) d = wrap_dim("squeeze", a.int_at(1), x.dim());
        for (int64_t i = 0; i < x.dim(); ++i) {
          if (x.sizes()[i] == 1 && (!d || *d == i)) continue;
          sizes.push_back(x.sizes()[i]);
          strides.push_back(x.strides()[i]);
        }
        return {make_view(x, sizes, strides, x.storage_offset())};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward(
          [](GradContext& c) -> std::vector<Tensor> { return {c.grad().reshape(c.input_meta(0).sizes)}; });

  register_view_ops(r);

  r.def("clone(Tensor self) -> Tensor")
      .doc("a contiguous copy that never aliases self")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {copy_to(x, x.dtype(), x.device())};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad()}; });

  r.def("contiguous(Tensor self) -> Tensor")
      .doc("self if contiguous, else a contiguous copy")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {x.is_contiguous() ? x : x.clone()};
      });

  r.def("_to_copy(Tensor self, *, ScalarType? dtype=None, Device? device=None, bool non_blocking=False) -> Tensor")
      .doc("a copy in another dtype and/or on another device; non_blocking: a copy between pinned host memory "
           "and a device is not waited for")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        Device device = a.is_none(2) ? x.device() : Device::parse(a.string_at(2));
        return {copy_to(x, a.optional_dtype(1).value_or(x.dtype()), device, a.bool_at(3))};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& m = c.input_meta(0);
        const Tensor& g = c.grad();
        if (g.dtype() == m.dtype && g.device() == m.device) return {g};
        return {g.invoke_op("_to_copy", {g, m.dtype, m.device.str()})};
      });

  r.def("to(Tensor self, Device? device=None, ScalarType? dtype=None, bool non_blocking=False, bool copy=False) "
        "-> Tensor")
      .doc("self converted to a dtype and/or device; self itself when nothing changes and copy is False")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        Device device = a.is_none(1) ? x.device() : Device::parse(a.string_at(1));
        DType dtype = a.optional_dtype(2).value_or(x.dtype());
        if (device == x.device() && dtype == x.dtype() && !a.bool_at(4)) return {x};
        return {x.invoke_op("_to_copy", {x, dtype, device.str(), Scalar(a.bool_at(3))})};
      });

  r.def("detach(Tensor self) -> Tensor")
      .doc("a tensor sharing storage with self, cut from the graph")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).detach()}; });
}

}  // namespace td
