// Ops that join, split and rearrange tensors: cat, stack, hstack, vstack; split, split_with_sizes, chunk,
// unbind (views, several outputs); flip, roll, repeat, tile, tril, triu, diag (copies). No kernels of their
// own: copies go through the backend's strided copy (flip reads a negative-stride view), the rest is other
// ops.
#include <algorithm>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
// Writes src (same shape and device as dst, any dtype) into dst through the backend's strided copy.
void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.numel() > 0)
    backend(dst.device().type).copy(strided_ref(dst), strided_ref(src), dst.device().index);
}

// `length` elements of dim from start, as a view (narrow without the registry, for forwards).
Tensor narrowed(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  auto sizes = x.shape();
  sizes[dim] = length;
  int64_t offset = x.storage_offset() + (length > 0 ? start * x.strides()[dim] : 0);
  return make_view(x, sizes, {x.strides().begin(), x.strides().end()}, offset);
}

// PyTorch's legacy rule: a 1-d empty tensor joins anything (its shape is not checked, and it adds nothing).
bool skipped_by_cat(std::span<const int64_t> sizes) {
  return sizes.size() == 1 && sizes[0] == 0;
}

Tensor cat_forward(const std::vector<Tensor>& tensors, int64_t dim) {
  TD_CHECK_ARG(!tensors.empty(), "[cat] expected a non-empty list of Tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    TD_CHECK_ARG(tensors[i].dim() > 0, "[cat] zero-dimensional tensor (at position ", i,
                 ") cannot be concatenated");
  }
  Device device = ops::common_device("cat", tensors);
  DType dtype = ops::result_type(tensors);
  auto ref = std::find_if(tensors.begin(), tensors.end(),
                          [](const Tensor& t) { return !skipped_by_cat(t.sizes()); });
  if (ref == tensors.end()) return empty({0}, {dtype, device});
  size_t r = static_cast<size_t>(ref - tensors.begin());
  int64_t d = wrap_dim("cat", dim, ref->dim());
  std::vector<int64_t> shape = ref->shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped_by_cat(t.sizes())) continue;
    TD_CHECK_ARG(t.dim() == ref->dim(), "[cat] Tensors must have same number of dimensions: got ", ref->dim(),
                 " and ", t.dim(), " (tensor ", r, " has shape ", shape_str(ref->sizes()), ", tensor ", i,
                 " has shape ", shape_str(t.sizes()), ")");
    for (int64_t k = 0; k < t.dim(); ++k) {
      TD_CHECK_ARG(k == d || t.sizes()[k] == ref->sizes()[k],
                   "[cat] Sizes of tensors must match except in dimension ", d, ". Expected size ",
                   ref->sizes()[k], " but got size ", t.sizes()[k], " for tensor number ", i,
                   " in the list (tensor ", r, " has shape ", shape_str(ref->sizes()), ", tensor ", i,
                   " has shape ", shape_str(t.sizes()), ")");
    }
    shape[d] += t.sizes()[d];
  }
  Tensor out = empty(shape, {dtype, device});
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    if (skipped_by_cat(t.sizes())) continue;
    copy_into(narrowed(out, d, offset, t.sizes()[d]), t);
    offset += t.sizes()[d];
  }
  return out;
}

// How split and chunk cut dim: pieces of split_size, the last one smaller (PyTorch's split).
std::vector<int64_t> split_sizes_of(int64_t size, int64_t split_size) {
  int64_t n = split_size == 0 ? 1 : std::max<int64_t>((size + split_size - 1) / split_size, 1);
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < n; ++i) sizes.push_back(std::min(split_size, size - i * split_size));
  if (split_size == 0) sizes = {size};
  return sizes;
}

std::vector<Tensor> split_views(const Tensor& x, int64_t dim, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    out.push_back(narrowed(x, dim, offset, s));
    offset += s;
  }
  return out;
}

int64_t split_dim(std::string_view op, const Tensor& x, int64_t dim) {
  TD_CHECK_ARG(x.dim() > 0, "[", op, "] expects at least a 1-dimensional tensor");
  return wrap_dim(op, dim, x.dim());
}

// The gradient of pieces cut along dim is the pieces' gradients joined again (missing ones are zeros).
std::vector<Tensor> cat_grads(GradContext& c, size_t outputs, int64_t dim) {
  std::vector<Tensor> grads;
  for (size_t i = 0; i < outputs; ++i) grads.push_back(c.grad(i));
  int64_t d = wrap_dim("split", dim, static_cast<int64_t>(c.input_meta(0).sizes.size()));
  if (grads.empty()) return {zeros(c.input_meta(0).sizes, {c.input_meta(0).dtype, c.input_meta(0).device})};
  return {Tensor::cat(grads, d)};
}

// Rows minus columns decide tril/triu: element (i, j) is kept when j - i <= k (tril) or j - i >= k (triu).
Tensor triangle(std::string_view op, const Tensor& x, int64_t k, bool lower) {
  TD_CHECK_ARG(x.dim() >= 2, "[", op, "] input tensor must have at least 2 dimensions");
  int64_t rows = x.size(-2), cols = x.size(-1);
  // Nothing to mask (and a [0, 2**20, 2**20] tensor would ask for a 2**40-entry mask).
  if (x.numel() == 0) return x.clone();
  // The mask is computed on the host and copied once (no kernel of its own).
  std::vector<bool> keep(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) keep[i * cols + j] = lower ? j - i <= k : j - i >= k;
  }
  Tensor mask = tensor_bool(keep, {rows, cols}, x.device());
  return x.where(mask, zeros({}, {x.dtype(), x.device()}));
}
}  // namespace

void register_join_ops(Registry& r) {
  r.def("cat(Tensor[] tensors, int dim=0) -> Tensor")
      .doc("tensors joined along an existing dim, promoting dtypes; 1-d empty tensors are skipped")
      .forward([](const Args& a) -> std::vector<Tensor> { return {cat_forward(a.tensors(0), a.int_at(1))}; })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // Each input's gradient is its stretch of the output's gradient.
        const Tensor& g = c.grad();
        int64_t d = g.dim() > 0 ? wrap_dim("cat", c.args().int_at(1), g.dim()) : 0;
        int64_t offset = 0;
        std::vector<Tensor> grads;
        for (size_t i = 0; i < c.input_count(); ++i) {
          const auto& m = c.input_meta(i);
          if (skipped_by_cat(m.sizes)) {
            grads.push_back(zeros(m.sizes, {g.dtype(), g.device()}));
            continue;
          }
          if (c.needs_grad(i)) {
            grads.push_back(g.narrow(d, offset, m.sizes[d]));
          } else {
            grads.emplace_back();
          }
          offset += m.sizes[d];
        }
        return grads;
      });

  r.def("stack(Tensor[] tensors, int dim=0) -> Tensor")
      .doc("tensors of one shape joined along a new dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const auto& tensors = a.tensors(0);
        TD_CHECK_ARG(!tensors.empty(), "[stack] expects a non-empty TensorList");
        for (size_t i = 1; i < tensors.size(); ++i) {
          TD_CHECK_ARG(tensors[i].shape() == tensors[0].shape(),
                       "[stack] stack expects each tensor to be equal size, "
                       "but got ",
                       shape_str(tensors[0].sizes()), " at entry 0 and ", shape_str(tensors[i].sizes()),
                       " at entry ", i);
        }
        int64_t d = wrap_dim("stack", a.int_at(1), tensors[0].dim() + 1);
        std::vector<Tensor> parts;
        for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
        return {Tensor::cat(parts, d)};
      });

  r.def("hstack(Tensor[] tensors) -> Tensor")
      .doc("tensors joined column-wise: along dim 1, or dim 0 for 1-d tensors")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const auto& tensors = a.tensors(0);
        TD_CHECK_ARG(!tensors.empty(), "[hstack] expects a non-empty TensorList");
        std::vector<Tensor> parts;
        for (const Tensor& t : tensors) parts.push_back(t.dim() == 0 ? t.reshape({1}) : t);
        return {Tensor::cat(parts, parts[0].dim() == 1 ? 0 : 1)};
      });

  r.def("vstack(Tensor[] tensors) -> Tensor")
      .doc("tensors joined row-wise (along dim 0), 0-d and 1-d ones as rows")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const auto& tensors = a.tensors(0);
        TD_CHECK_ARG(!tensors.empty(), "[vstack] expects a non-empty TensorList");
        std::vector<Tensor> parts;
        for (const Tensor& t : tensors)
          parts.push_back(t.dim() == 0 ? t.reshape({1, 1}) : t.dim() == 1 ? t.unsqueeze(0) : t);
        return {Tensor::cat(parts, 0)};
      });

  r.def("split(Tensor self, int split_size, int dim=0) -> Tensor[]")
      .doc("pieces of split_size along dim (the last may be smaller), as views")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t d = split_dim("split", x, a.int_at(2)), size = x.sizes()[d], split_size = a.int_at(1);
        TD_CHECK_ARG(split_size >= 0,
                     "[split] split expects split_size be non-negative, but got split_size=", split_size);
        TD_CHECK_ARG(split_size > 0 || size == 0,
                     "[split] split_size can only be 0 if dimension size is 0, but got "
                     "dimension size of ",
                     size);
        return split_views(x, d, split_sizes_of(size, split_size));
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& in = c.input_meta(0).sizes;
        int64_t d = wrap_dim("split", c.args().int_at(2), static_cast<int64_t>(in.size()));
        return cat_grads(c, split_sizes_of(in[d], c.args().int_at(1)).size(), d);
      });

  r.def("split_with_sizes(Tensor self, int[] split_sizes, int dim=0) -> Tensor[]")
      .doc("pieces of the given sizes along dim, as views")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t d = split_dim("split_with_sizes", x, a.int_at(2)), size = x.sizes()[d];
        const auto& sizes = a.ints(1);
        int64_t total = 0;
        for (int64_t s : sizes) {
          TD_CHECK_ARG(s >= 0,
                       "[split_with_sizes] split_with_sizes expects split_sizes have only non-negative "
                       "entries, but got split_sizes=",
                       shape_str(sizes));
          total += s;
        }
        TD_CHECK_ARG(total == size,
                     "[split_with_sizes] split_with_sizes expects split_sizes to sum exactly to ", size,
                     " (input tensor's size at dimension ", d, "), but got split_sizes=", shape_str(sizes));
        return split_views(x, d, sizes);
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return cat_grads(c, c.args().ints(1).size(), c.args().int_at(2));
      });

  r.def("chunk(Tensor self, int chunks, int dim=0) -> Tensor[]")
      .doc("at most `chunks` pieces of equal size along dim (the last may be smaller), as views")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t chunks = a.int_at(1);
        TD_CHECK_ARG(chunks > 0, "[chunk] chunk expects `chunks` to be greater than 0, got: ", chunks);
        int64_t d = split_dim("chunk", x, a.int_at(2)), size = x.sizes()[d];
        int64_t piece = (size + chunks - 1) / chunks;
        // An empty dim gives `chunks` empty pieces, as in PyTorch.
        return split_views(x, d, piece == 0 ? std::vector<int64_t>(chunks, 0) : split_sizes_of(size, piece));
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& in = c.input_meta(0).sizes;
        int64_t chunks = c.args().int_at(1);
        int64_t d = wrap_dim("chunk", c.args().int_at(2), static_cast<int64_t>(in.size()));
        int64_t piece = (in[d] + chunks - 1) / chunks;
        return cat_grads(c, piece == 0 ? chunks : split_sizes_of(in[d], piece).size(), d);
      });

  r.def("unbind(Tensor self, int dim=0) -> Tensor[]")
      .doc("the slices along dim, each without that dim, as views")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK(x.dim() > 0, ErrorCode::kOutOfRange, "[unbind] Dimension specified as ", a.int_at(1),
                 " but tensor has no dimensions");
        int64_t d = wrap_dim("unbind", a.int_at(1), x.dim());
        std::vector<int64_t> sizes = x.shape(), strides(x.strides().begin(), x.strides().end());
        int64_t stride = strides[d];
        sizes.erase(sizes.begin() + d);
        strides.erase(strides.begin() + d);
        std::vector<Tensor> out;
        for (int64_t i = 0; i < x.sizes()[d]; ++i)
          out.push_back(make_view(x, sizes, strides, x.storage_offset() + i * stride));
        return out;
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const auto& in = c.input_meta(0).sizes;
        int64_t d = wrap_dim("unbind", c.args().int_at(1), static_cast<int64_t>(in.size()));
        std::vector<Tensor> grads;
        for (int64_t i = 0; i < in[d]; ++i) grads.push_back(c.grad(static_cast<size_t>(i)));
        return {Tensor::stack(grads, d)};
      });

  r.def("flip(Tensor self, int[] dims) -> Tensor")
      .doc("a copy with the order of elements reversed along dims")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        std::vector<int64_t> sizes = x.shape(), strides(x.strides().begin(), x.strides().end());
        std::vector<bool> seen(std::max<int64_t>(x.dim(), 1));
        int64_t offset = x.storage_offset();
        for (int64_t dim : a.ints(1)) {
          int64_t d = wrap_dim("flip", dim, x.dim());
          TD_CHECK_ARG(!seen[d], "[flip] dim ", d, " appears multiple times in the list of dims");
          seen[d] = true;
          if (x.dim() == 0 || sizes[d] <= 1) continue;
          // Reading from the last element backwards: a negative stride, which only this copy ever sees.
          offset += (sizes[d] - 1) * strides[d];
          strides[d] = -strides[d];
        }
        Tensor out = empty(x.shape(), {x.dtype(), x.device()});
        copy_into(out, make_view(x, sizes, strides, offset));
        return {out};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().flip(c.args().ints(1))}; });

  r.def("roll(Tensor self, int[1] shifts, int[1] dims=[]) -> Tensor")
      .doc(
          "a copy with elements shifted along dims, wrapping around; without dims, over the flattened tensor")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto &shifts = a.ints(1), &dims = a.ints(2);
        TD_CHECK_ARG(!shifts.empty(), "[roll] `shifts` required");
        if (dims.empty()) {
          TD_CHECK_ARG(shifts.size() == 1, "[roll] shifts and dimensions must align. shifts: ", shifts.size(),
                       ", dims:", dims.size());
          return {x.flatten().roll(shifts, {0}).view(x.shape())};
        }
        TD_CHECK_ARG(shifts.size() == dims.size(),
                     "[roll] shifts and dimensions must align. shifts: ", shifts.size(),
                     ", dims:", dims.size());
        Tensor out = x;
        for (size_t i = 0; i < dims.size(); ++i) {
          int64_t d = wrap_dim("roll", dims[i], x.dim());
          int64_t n = x.dim() == 0 ? 1 : x.size(d);
          int64_t s = n == 0 ? 0 : ((shifts[i] % n) + n) % n;
          if (s == 0) continue;
          // The last s elements move to the front.
          out = Tensor::cat({out.narrow(d, n - s, s), out.narrow(d, 0, n - s)}, d);
        }
        return {out.is_same(x) ? x.clone() : out};
      });

  r.def("repeat(Tensor self, int[] repeats) -> Tensor")
      .doc("self repeated repeats[i] times along dim i; extra leading repeats add dims")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto& repeats = a.ints(1);
        int64_t lead = static_cast<int64_t>(repeats.size()) - x.dim();
        TD_CHECK_ARG(lead >= 0,
                     "[repeat] Number of dimensions of repeat dims can not be smaller than number of "
                     "dimensions of tensor");
        std::vector<int64_t> padded(lead, 1), interleaved, expanded, target;
        padded.insert(padded.end(), x.sizes().begin(), x.sizes().end());
        for (size_t i = 0; i < repeats.size(); ++i) target.push_back(repeats[i] * padded[i]);
        for (size_t i = 0; i < repeats.size(); ++i) {
          TD_CHECK_ARG(repeats[i] >= 0, "[repeat] Trying to create tensor with negative dimension ",
                       target[i], ": ", shape_str(target));
        }
        // Output index k * size + j along a dim reads element j: view as [1, size] pairs, expand the 1s to
        // the repeats, and lay out the result contiguously.
        for (size_t i = 0; i < repeats.size(); ++i) {
          interleaved.insert(interleaved.end(), {1, padded[i]});
          expanded.insert(expanded.end(), {repeats[i], padded[i]});
        }
        return {x.reshape(interleaved).expand(expanded).reshape(target)};
      });

  r.def("tile(Tensor self, int[] dims) -> Tensor")
      .doc("repeat, with dims padded by leading ones when shorter than self's")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        std::vector<int64_t> reps = a.ints(1);
        if (static_cast<int64_t>(reps.size()) < x.dim()) reps.insert(reps.begin(), x.dim() - reps.size(), 1);
        return {x.repeat(reps)};
      });

  r.def("tril(Tensor self, int diagonal=0) -> Tensor")
      .doc("a copy with the elements above the diagonal-th diagonal of the last two dims zeroed")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {triangle("tril", a.tensor(0), a.int_at(1), true)};
      });

  r.def("triu(Tensor self, int diagonal=0) -> Tensor")
      .doc("a copy with the elements below the diagonal-th diagonal of the last two dims zeroed")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {triangle("triu", a.tensor(0), a.int_at(1), false)};
      });

  r.def("diag(Tensor self, int diagonal=0) -> Tensor")
      .doc(
          "a 1-d self as the diagonal-th diagonal of a square matrix, or a 2-d self's diagonal as a 1-d copy")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        int64_t k = a.int_at(1);
        TD_CHECK_ARG(x.dim() == 1 || x.dim() == 2, "[diag] matrix or a vector expected");
        if (x.dim() == 2) return {x.diagonal(k, 0, 1).clone()};
        int64_t n = x.size(0) + (k < 0 ? -k : k);
        return {zeros({n, n}, {x.dtype(), x.device()}).diagonal_scatter(x, k, 0, 1)};
      });
}

}  // namespace td
