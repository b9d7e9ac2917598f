// Advanced indexing, PyTorch's aten::index and aten::index_put: x[idx], x[mask], x[:, idx0, idx1] and the
// writes x[idx] = v. Basic indexing (ints, slices, None, ellipsis) is views, done by the op methods
// (core/ops/methods.h) before these ops see the remaining index tensors, one per dim (None for a dim taken
// whole).
//
// Both ops are composites over flat element offsets: every element of the result reads (or writes) one
// element of self, whose offset in self's row-major order is computed here as an int64 tensor of the
// result's shape; `take` reads those elements and `scatter` / `index_add` write them, so the gradients are
// theirs.
#include <algorithm>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

// One index per dim of self, each undefined (the whole dim) or int64; bool and uint8 masks become the
// int64 indices of their true elements, one per dim they cover.
std::vector<Tensor> expand_masks(std::string_view op, const Tensor& self, const std::vector<Tensor>& indices) {
  std::vector<Tensor> out;
  for (const Tensor& t : indices) {
    const int64_t dim = static_cast<int64_t>(out.size());
    if (!t.defined()) {
      out.emplace_back();
      continue;
    }
    if (t.dtype() == DType::kBool || t.dtype() == DType::kUInt8) {
      TD_CHECK(dim + t.dim() <= self.dim(), ErrorCode::kOutOfRange, "[", op, "] too many indices for tensor of dimension ",
               self.dim(), " (got ", dim + t.dim(), ")");
      for (int64_t k = 0; k < t.dim(); ++k) {
        TD_CHECK(t.size(k) == self.size(dim + k), ErrorCode::kOutOfRange, "[", op, "] The shape of the mask ",
                 shape_str(t.sizes()), " at index ", k, " does not match the shape of the indexed tensor ",
                 shape_str(self.sizes()), " at index ", dim + k);
      }
      Tensor positions = t.ne(0).nonzero();  // [true elements, mask dims]
      for (int64_t k = 0; k < t.dim(); ++k) out.push_back(positions.select(1, k));
      continue;
    }
    TD_CHECK_ARG(t.dtype() == DType::kInt64, "[", op, "] tensors used as indices must be long, byte or bool tensors (got ",
                 dtype_name(t.dtype()), ")");
    out.push_back(t);
  }
  TD_CHECK(static_cast<int64_t>(out.size()) <= self.dim(), ErrorCode::kOutOfRange, "[", op,
           "] too many indices for tensor of dimension ", self.dim(), " (got ", out.size(), ")");
  out.resize(static_cast<size_t>(self.dim()));
  return out;
}

// The offset in self's row-major order of every element the indices select, in the result's shape:
// PyTorch's layout, where the broadcast index dims replace the indexed dims in place when those are
// adjacent, and go first otherwise.
Tensor element_offsets(std::string_view op, const Tensor& self, const std::vector<Tensor>& indices) {
  const int64_t nd = self.dim();
  const std::vector<int64_t> cs = contiguous_strides(self.sizes());
  std::vector<int64_t> adv;
  std::vector<int64_t> bshape;
  for (int64_t d = 0; d < nd; ++d) {
    const Tensor& t = indices[static_cast<size_t>(d)];
    if (!t.defined()) continue;
    if (!adv.empty()) {
      try {
        bshape = ops::broadcast_shapes(op, bshape, t.sizes());
      } catch (const Error&) {
        std::string shapes;
        for (int64_t e : adv) shapes += shape_str(indices[static_cast<size_t>(e)].sizes()) + ", ";
        throw Error(ErrorCode::kOutOfRange, str("[", op, "] shape mismatch: indexing tensors could not be broadcast "
                                                "together with shapes ", shapes, shape_str(t.sizes())));
      }
    } else {
      bshape = t.shape();
    }
    adv.push_back(d);
  }
  const Device device = self.device();
  // Sum of (wrapped, checked) index * stride over the indexed dims, in the broadcast shape.
  Tensor lin = zeros(bshape, {DType::kInt64, device});
  for (int64_t d : adv) {
    Tensor idx = indices[static_cast<size_t>(d)];
    if (idx.device() != device) idx = idx.to(device.str());  // CPU indices may index CUDA tensors
    const int64_t size = self.size(d);
    if (idx.numel()) {
      const auto [lo, hi] = ops::integer_bounds(idx);
      TD_CHECK(lo >= -size && hi < size, ErrorCode::kOutOfRange, "[", op, "] index ", lo < -size ? lo : hi,
               " is out of bounds for dimension ", d, " with size ", size);
    }
    lin = lin.add(idx.where(idx.ge(0), idx.add(size)).mul(cs[static_cast<size_t>(d)]));
  }
  const bool adjacent = adv.back() - adv.front() + 1 == static_cast<int64_t>(adv.size());
  // The result's dims: each an index dim (from bshape) or a dim d of self taken whole.
  std::vector<int64_t> rest;
  for (int64_t d = 0; d < nd; ++d) {
    if (!indices[static_cast<size_t>(d)].defined()) rest.push_back(d);
  }
  const int64_t nb = static_cast<int64_t>(bshape.size());
  const int64_t first = adjacent ? static_cast<int64_t>(std::count_if(rest.begin(), rest.end(),
                                                                      [&](int64_t d) { return d < adv.front(); }))
                                 : 0;
  const int64_t rank = nb + static_cast<int64_t>(rest.size());
  // lin occupies dims [first, first + nb); each whole dim adds arange * stride at its own position.
  std::vector<int64_t> lin_shape(static_cast<size_t>(rank), 1);
  for (int64_t k = 0; k < nb; ++k) lin_shape[static_cast<size_t>(first + k)] = bshape[static_cast<size_t>(k)];
  Tensor offsets = lin.reshape(lin_shape);
  for (size_t r = 0; r < rest.size(); ++r) {
    const int64_t pos = static_cast<int64_t>(r) < first ? static_cast<int64_t>(r) : static_cast<int64_t>(r) + nb;
    std::vector<int64_t> shape(static_cast<size_t>(rank), 1);
    shape[static_cast<size_t>(pos)] = self.size(rest[r]);
    Tensor steps = call_op("arange", {Scalar(self.size(rest[r])), None{}, Scalar(1), DType::kInt64, device.str()})[0];
    offsets = offsets.add(steps.mul(cs[static_cast<size_t>(rest[r])]).reshape(shape));
  }
  return offsets;
}

bool any_defined(const std::vector<Tensor>& indices) {
  return std::any_of(indices.begin(), indices.end(), [](const Tensor& t) { return t.defined(); });
}

}  // namespace

void register_advanced_index_ops(Registry& r) {
  r.def("index(Tensor self, Tensor?[] indices) -> Tensor")
      .doc("self[indices]: one index tensor (int64 or a bool/uint8 mask) or None per dim, PyTorch's advanced "
           "indexing")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& self = a.tensor(0);
        std::vector<Tensor> indices = expand_masks("index", self, a.tensors(1));
        if (!any_defined(indices)) return {self.view(self.shape())};
        Tensor offsets = element_offsets("index", self, indices);
        return {self.take(offsets)};
      });
  r.def("index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor")
      .doc("a copy of self with values (broadcast) written at self[indices], or added when accumulate")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& self = a.tensor(0);
        const Tensor& values = a.tensor(2);
        std::vector<Tensor> indices = expand_masks("index_put", self, a.tensors(1));
        if (!values.impl().wrapped_number) {
          TD_CHECK_ARG(values.dtype() == self.dtype(), "[index_put] Index put requires the source and destination "
                       "dtypes match, got ", dtype_name(self.dtype()), " for the destination and ",
                       dtype_name(values.dtype()), " for the source.");
        }
        Tensor offsets;
        if (any_defined(indices)) {
          offsets = element_offsets("index_put", self, indices);
        } else {
          offsets = call_op("arange", {Scalar(self.numel()), None{}, Scalar(1), DType::kInt64, self.device().str()})[0]
                        .view(self.shape());
        }
        bool fits = values.dim() <= offsets.dim();
        for (int64_t k = 1; fits && k <= values.dim(); ++k) {
          fits = values.size(-k) == 1 || values.size(-k) == offsets.size(-k);
        }
        TD_CHECK_ARG(fits, "[index_put] shape mismatch: value tensor of shape ", shape_str(values.sizes()),
                     " cannot be broadcast to indexing result of shape ", shape_str(offsets.sizes()));
        Tensor v = ops::on_device(ops::cast(values, self.dtype()), self.device()).expand(offsets.shape()).reshape({-1});
        Tensor flat = self.reshape({-1}), at = offsets.reshape({-1});
        Tensor out = a.bool_at(3) ? flat.index_add(0, at, v) : flat.scatter(0, at, v);
        return {out.view(self.shape())};
      });
}

}  // namespace td
