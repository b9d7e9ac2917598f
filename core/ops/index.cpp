// Index-based ops: gather, scatter, scatter_add, scatter_reduce (primitives on the backend's gather/scatter
// kernels) and the ops composed from them: index_select, index_add, take, masked_fill, masked_select,
// nonzero.
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
// PyTorch's shape rule for gather/scatter: index has self's rank, and every dim but `dim` is no larger than
// self's (and, for scatter, src's). Index values must lie in [0, size of dim), because a kernel must never read
// or write outside the tensor: the CPU kernels check them as they read the index (one pass); for other devices
// they are checked here, on the values, before the kernel runs.
void check_index_values(std::string_view op, const Tensor& self, int64_t dim, const Tensor& index) {
  if (index.numel() == 0) return;
  int64_t size = self.dim() ? self.size(dim) : 1;
  // Only the distinct elements: an expanded index (index_select's) has far fewer than its numel.
  std::vector<int64_t> sizes = index.shape();
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (index.stride(d) == 0) sizes[static_cast<size_t>(d)] = 1;
  }
  Tensor distinct = make_view(index, sizes, {index.strides().begin(), index.strides().end()}, index.storage_offset());
  const auto [lo, hi] = ops::integer_bounds(distinct);
  TD_CHECK(lo >= 0 && hi < size, ErrorCode::kOutOfRange, "[", op, "] index ", lo < 0 ? lo : hi,
           " is out of bounds for dimension ", dim, " with size ", size);
}

void check_index(std::string_view op, const Tensor& self, int64_t dim, const Tensor& index, const Tensor* src) {
  TD_CHECK_ARG(index.dtype() == DType::kInt64, "[", op, "] Expected dtype int64 for index (got ",
               dtype_name(index.dtype()), ")");
  int64_t rank = std::max<int64_t>(self.dim(), 1);
  TD_CHECK_ARG(std::max<int64_t>(index.dim(), 1) == rank, "[", op,
               "] Index tensor must have the same number of dimensions as input tensor (index ",
               shape_str(index.sizes()), ", input ", shape_str(self.sizes()), ")");
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d == dim) continue;
    TD_CHECK_ARG(index.size(d) <= self.size(d), "[", op, "] Size does not match at dimension ", d,
                 " expected index ", shape_str(index.sizes()), " to be smaller than self ", shape_str(self.sizes()),
                 " apart from dimension ", dim);
    if (src) {
      TD_CHECK_ARG(index.size(d) <= src->size(d), "[", op, "] Expected index ", shape_str(index.sizes()),
                   " to be smaller than src ", shape_str(src->sizes()), " apart from dimension ", dim);
    }
  }
  if (!index.device().is_cpu()) check_index_values(op, self, dim, index);
}

// A tensor presented as rank >= 1 (PyTorch treats a 0-dim tensor as having one dim of size 1 here).
std::pair<std::vector<int64_t>, std::vector<int64_t>> rank1(const Tensor& t) {
  if (t.dim()) return {t.shape(), std::vector<int64_t>(t.strides().begin(), t.strides().end())};
  return {{1}, {1}};
}

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  int64_t d = wrap_dim("gather", dim, self.dim());
  check_index("gather", self, d, index, nullptr);
  const Tensor both[] = {self, index};
  Device device = ops::common_device("gather", both);
  Tensor out = empty(index.shape(), {self.dtype(), device});
  if (out.numel() == 0) return out;
  auto [ss, st] = rank1(self);
  auto [is, it] = rank1(index);
  auto [os, ot] = rank1(out);
  StridedRef in{self.data_ptr(), self.dtype(), ss, st}, idx{index.data_ptr(), DType::kInt64, is, it},
      o{out.data_ptr(), out.dtype(), os, ot};
  backend(device.type).gather(o, in, idx, static_cast<int>(d), device.index);
  return out;
}

// A copy of self with src scattered into it by mode. The caller has checked index (check_index) and src's
// dtype.
Tensor scatter_into(ScatterMode mode, const Tensor& self, int64_t d, const Tensor& index, const Tensor& src) {
  std::string_view op = scatter_mode_name(mode);
  const Tensor all[] = {self, index, src};
  Device device = ops::common_device(op, all);
  Tensor out = self.clone();
  if (index.numel() == 0) return out;
  Tensor s = ops::on_device(ops::cast(src, self.dtype()), device);
  auto [os, ot] = rank1(out);
  auto [is, it] = rank1(index);
  auto [ss, st] = rank1(s);
  StridedRef o{out.data_ptr(), out.dtype(), os, ot}, idx{index.data_ptr(), DType::kInt64, is, it},
      sr{s.data_ptr(), s.dtype(), ss, st};
  backend(device.type).scatter(mode, o, idx, sr, static_cast<int>(d), device.index);
  return out;
}

Tensor scatter(bool accumulate, const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  ScatterMode mode = accumulate ? ScatterMode::kAdd : ScatterMode::kAssign;
  std::string_view op = scatter_mode_name(mode);
  int64_t d = wrap_dim(op, dim, self.dim());
  check_index(op, self, d, index, &src);
  return scatter_into(mode, self, d, index, src);
}

// scatter_reduce's reductions, by PyTorch's names.
enum class Reduction { kSum, kProd, kMean, kAmax, kAmin };

Reduction parse_reduction(const std::string& reduce) {
  if (reduce == "sum") return Reduction::kSum;
  if (reduce == "prod") return Reduction::kProd;
  if (reduce == "mean") return Reduction::kMean;
  if (reduce == "amax") return Reduction::kAmax;
  if (reduce == "amin") return Reduction::kAmin;
  throw Error(ErrorCode::kInvalidArgument,
              str("[scatter_reduce] reduce argument must be either sum, prod, mean, amax "
                  "or amin, got '",
                  reduce, "'"));
}

Tensor scatter_reduce(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, Reduction r,
                      bool include_self) {
  constexpr std::string_view op = "scatter_reduce";
  int64_t d = wrap_dim(op, dim, self.dim());
  TD_CHECK_ARG(index.dtype() == DType::kInt64,
               "[scatter_reduce] scatter(): Expected dtype int64 for index (got ", dtype_name(index.dtype()),
               ")");
  TD_CHECK_ARG(self.dtype() == src.dtype(),
               "[scatter_reduce] scatter(): Expected self.dtype to be equal to "
               "src.dtype (self ",
               dtype_name(self.dtype()), ", src ", dtype_name(src.dtype()), ")");
  check_index(op, self, d, index, &src);
  // The CPU kernel would check too, under the name of the scatter mode it runs (scatter_add for "sum").
  if (index.device().is_cpu()) check_index_values(op, self, d, index);
  TD_CHECK_ARG(!(r == Reduction::kMean && self.dtype() == DType::kBool),
               "[scatter_reduce] \"scatter_gather_tensor_cpu_reduce_mean\" not implemented for 'bool'");
  TD_CHECK_ARG(!((r == Reduction::kAmax || r == Reduction::kAmin) && is_complex(self.dtype())),
               "[scatter_reduce] \"scatter_gather_tensor_cpu_reduce_", r == Reduction::kAmax ? "amax" : "amin",
               "\" not implemented for '", scalar_type_name(self.dtype()), "'");
  Tensor base = self;
  if (!include_self && index.numel() > 0) {
    // The places src reaches must forget self's values: they start from the reduction's identity, or, for
    // amax/amin, from one of the src values that reach them (no dtype needs a sentinel then).
    Tensor start = r == Reduction::kAmax || r == Reduction::kAmin
                       ? src
                       : full(index.shape(), r == Reduction::kProd ? 1 : 0, {self.dtype(), self.device()});
    base = scatter_into(ScatterMode::kAssign, self, d, index, start);
  }
  ScatterMode mode = r == Reduction::kProd   ? ScatterMode::kMul
                     : r == Reduction::kAmax ? ScatterMode::kMax
                     : r == Reduction::kAmin ? ScatterMode::kMin
                                             : ScatterMode::kAdd;
  Tensor out = scatter_into(mode, base, d, index, src);
  if (r != Reduction::kMean) return out;
  // PyTorch 1.13 divides by how many values met at each place (self counting once when included; places
  // nothing reached divide by 1), flooring for integers.
  TensorOptions opts{self.dtype(), self.device()};
  Tensor count = (include_self ? ones(self.shape(), opts) : zeros(self.shape(), opts))
                     .scatter_add(d, index, ones(index.shape(), opts));
  count = count.where(count.ne(0), 1);
  return is_integral(self.dtype()) ? out.floor_divide(count) : out.div(count);
}

// Passes its input through; differentiating through it again raises `message` (PyTorch's DelayedError),
// for a first derivative whose own derivative PyTorch does not define.
struct DelayedErrorNode : autograd::Node {
  explicit DelayedErrorNode(std::string message) : message(std::move(message)) {}
  std::string name() const override { return "Error"; }
  std::vector<Tensor> apply(std::vector<Tensor>&&) override {
    throw Error(ErrorCode::kUnimplemented, message);
  }
  std::string message;
};

Tensor delayed_error(const Tensor& t, std::string message) {
  if (!autograd::GradMode::is_enabled() || !t.requires_grad()) return t;
  auto node = std::make_shared<DelayedErrorNode>(std::move(message));
  node->next_edges.push_back(autograd::gradient_edge(t));
  node->output_meta.push_back(autograd::TensorMeta::of(t));
  Tensor out = t.detach();
  autograd::set_history(out, node, 0);
  return out;
}

// PyTorch 1.13's scatter_reduce_backward: gradients of self and src, given the forward's result.
std::vector<Tensor> scatter_reduce_backward(GradContext& c) {
  const Tensor& g = c.grad();
  const Args& args = c.args();
  int64_t dim = args.int_at(1);
  const std::string& reduce = args.string_at(4);
  Reduction r = parse_reduction(reduce);
  bool include_self = args.bool_at(5);
  Tensor self = c.input(0), index = c.input(1), src = c.input(2), result = c.output();
  if (index.shape() != src.shape()) {
    // PyTorch differentiates only an index of src's shape; these are the errors it raises otherwise.
    if (r != Reduction::kSum && r != Reduction::kMean)
      (void)ops::broadcast_shapes("scatter_reduce", src.sizes(), index.sizes());
    throw Error(
        ErrorCode::kInvalidArgument,
        str("[scatter_reduce] Function ScatterReduceBackward0 returned an invalid gradient at index 1 - got ",
            shape_str(index.sizes()), " but expected shape compatible with ", shape_str(src.sizes())));
  }
  TensorOptions opts{g.dtype(), g.device()};
  Tensor gs, gsrc;
  switch (r) {
    case Reduction::kSum:
      gs = g;
      gsrc = g.gather(dim, index);
      break;
    case Reduction::kMean: {
      Tensor n = (include_self ? ones(g.shape(), opts) : zeros(g.shape(), opts))
                     .scatter_add(dim, index, ones(src.shape(), opts));
      n = n.where(n.ne(0), 1);
      gs = g.div(n);
      gsrc = g.gather(dim, index).div(n.gather(dim, index));
      break;
    }
    case Reduction::kAmax:
    case Reduction::kAmin: {
      // Ties share the gradient evenly: each value equal to the result gets grad / (how many are equal).
      Tensor value = result.gather(dim, index);
      Tensor self_is = self.eq(result).to(g.dtype()), src_is = src.eq(value).to(g.dtype());
      Tensor share = g.div(self_is.scatter_add(dim, index, src_is));
      gs = self_is.mul(share);
      gsrc = src_is.mul(share.gather(dim, index));
      break;
    }
    case Reduction::kProd: {
      // d/dx of a product is the product of the others: result / x, computed without dividing by zero. A
      // place of self that is 0 gets the product of the rest directly; a src value that is the only 0
      // reaching its place gets the product of the rest by redoing the reduction with that 0 replaced by 1.
      Tensor masked_self = self.masked_fill(self.eq(0), 1);
      gs = g.mul(masked_self.scatter_reduce(dim, index, src, reduce, include_self)).div(masked_self);
      Tensor src_zero = src.eq(0);
      Tensor zeros_reaching =
          zeros(self.shape(), opts).scatter_add(dim, index, src_zero.to(g.dtype())).gather(dim, index);
      Tensor single_zero = src_zero.logical_and(zeros_reaching.eq(1));
      Tensor without_zero =
          self.scatter_reduce(dim, index, src.masked_fill(single_zero, 1), reduce, include_self);
      gsrc = g.mul(without_zero)
                 .gather(dim, index)
                 .where(single_zero, g.mul(result).gather(dim, index).div(src.masked_fill(src_zero, 1)));
      if (zeros_reaching.gt(1).any().item().to_int()) {
        gsrc =
            delayed_error(gsrc,
                          "[scatter_reduce] scatter_reduce(): Double backward is unsupported for src when >1 "
                          "zeros in src are scattered to the same position in self");
      }
      break;
    }
  }
  if (!include_self) gs = gs.scatter(dim, index, zeros(index.shape(), opts));
  return {gs, Tensor(), gsrc};
}

// index (1-d) laid along `dim` and expanded to `shape`: what gather/scatter need for index_select/index_add.
Tensor along(const Tensor& index, int64_t dim, std::vector<int64_t> shape) {
  if (shape.empty()) {  // a 0-d tensor: its one element, named by one index
    TD_CHECK_ARG(index.numel() == 1, "[index] a 0-d tensor takes exactly one index, got ", index.numel());
    return index.reshape({});
  }
  std::vector<int64_t> view(shape.size(), 1);
  view[dim] = index.numel();
  shape[dim] = index.numel();
  return index.reshape(view).expand(shape);
}

void check_1d_index(std::string_view op, const Tensor& index) {
  TD_CHECK_ARG(index.dim() <= 1, "[", op, "] index_select(): Index is supposed to be a vector (got shape ",
               shape_str(index.sizes()), ")");
  TD_CHECK_ARG(index.dtype() == DType::kInt64 || index.dtype() == DType::kInt32, "[", op,
               "] Expected dtype int32/int64 for index (got ", dtype_name(index.dtype()), ")");
}
}  // namespace

void register_index_ops(Registry& r) {
  r.def("gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor")
      .doc("out[i][j] = self[i][index[i][j]] (dim 1): values picked along dim")
      .forward([](const Args& a) -> std::vector<Tensor> { return {gather(a.tensor(0), a.int_at(1), a.tensor(2))}; })
      .saves_inputs({1})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // Each picked element sends its gradient back to where it was picked from.
        const auto& m = c.input_meta(0);
        Tensor z = zeros(m.sizes, {c.grad().dtype(), m.device});
        return {z.scatter_add(c.args().int_at(1), c.input(1), c.grad()), Tensor()};
      });

  for (bool accumulate : {false, true}) {
    std::string name = accumulate ? "scatter_add" : "scatter";
    r.def(name + "(Tensor self, int dim, Tensor index, Tensor src) -> Tensor")
        .doc(accumulate ? "a copy of self with src added at the indexed places along dim"
                        : "a copy of self with src written at the indexed places along dim")
        .forward([accumulate](const Args& a) -> std::vector<Tensor> {
          return {scatter(accumulate, a.tensor(0), a.int_at(1), a.tensor(2), a.tensor(3))};
        })
        .saves_inputs({1})
        .complex_autograd()
        .backward([accumulate](GradContext& c) -> std::vector<Tensor> {
          // scatter_add: self passes through, src gets the gradient of where it went.
          // scatter: overwritten places of self get none.
          const Tensor& g = c.grad();
          int64_t dim = c.args().int_at(1);
          Tensor index = c.input(1), gs, gsrc;
          if (c.needs_grad(0)) {
            gs = accumulate ? g : g.scatter(dim, index, zeros(index.shape(), {g.dtype(), g.device()}));
          }
          if (c.needs_grad(2)) {
            const auto& m = c.input_meta(2);
            // src may be larger than index: its other elements were not used, so they get zeros.
            gsrc = g.gather(dim, index);
            for (int64_t d = 0; d < gsrc.dim(); ++d) {
              if (gsrc.size(d) == m.sizes[d]) continue;
              auto pad = gsrc.shape();
              pad[d] = m.sizes[d] - gsrc.size(d);
              gsrc = Tensor::cat({gsrc, zeros(pad, {g.dtype(), g.device()})}, d);
            }
          }
          return {gs, Tensor(), gsrc};
        });
  }

  r.def(
       "scatter_reduce(Tensor self, int dim, Tensor index, Tensor src, str reduce, *, bool "
       "include_self=True) -> "
       "Tensor")
      .doc("a copy of self with src reduced (sum, prod, mean, amax, amin) into the indexed places along dim")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {scatter_reduce(a.tensor(0), a.int_at(1), a.tensor(2), a.tensor(3),
                               parse_reduction(a.string_at(4)), a.bool_at(5))};
      })
      .saves_outputs()
      .backward(scatter_reduce_backward);

  r.def("index_select(Tensor self, int dim, Tensor index) -> Tensor")
      .doc("the slices of self at the given indices along dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &index = a.tensor(2);
        check_1d_index("index_select", index);
        int64_t d = wrap_dim("index_select", a.int_at(1), x.dim());
        if (x.dim() == 0) return {x.reshape({1}).gather(0, index.to(DType::kInt64).reshape({-1})).reshape(index.shape())};
        return {x.gather(d, along(index.to(DType::kInt64), d, x.shape()))};
      });

  r.def("index_add(Tensor self, int dim, Tensor index, Tensor source, *, Scalar alpha=1) -> Tensor")
      .doc("a copy of self with alpha * source added at the given indices along dim")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &index = a.tensor(2), &source = a.tensor(3);
        check_1d_index("index_add", index);
        int64_t d = wrap_dim("index_add", a.int_at(1), x.dim());
        TD_CHECK_ARG(source.dim() == x.dim() && (x.dim() == 0 || source.size(d) == index.numel()), "[index_add] "
                     "source ", shape_str(source.sizes()), " does not match self ", shape_str(x.sizes()),
                     " with ", index.numel(), " indices along dim ", d);
        Tensor src = a.scalar(4).to_double() == 1.0 ? source : source.mul(a.scalar(4));
        return {x.scatter_add(d, along(index.to(DType::kInt64), d, source.shape()), src)};
      });

  r.def("take(Tensor self, Tensor index) -> Tensor")
      .doc("elements of self as if flattened, at the given (possibly negative) indices, in index's shape")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &index = a.tensor(1);
        TD_CHECK_ARG(index.dtype() == DType::kInt64, "[take] Expected dtype int64 for index (got ",
                     dtype_name(index.dtype()), ")");
        Tensor flat = index.reshape({-1});
        Tensor wrapped = flat.where(flat.ge(0), flat.add(x.numel()));  // Python's negative indices
        return {x.reshape({-1}).gather(0, wrapped).view(index.shape())};
      });

  r.def("masked_fill(Tensor self, Tensor mask, Scalar value) -> Tensor")
      .doc("a copy of self with value where mask is true, the two broadcast together")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &mask = a.tensor(1);
        TD_CHECK_ARG(mask.dtype() == DType::kBool, "[masked_fill] masked_fill only supports boolean masks, but got "
                     "mask with dtype ", dtype_name(mask.dtype()));
        // Out of place, self and mask broadcast with each other (PyTorch's expand_outplace); masked_fill_
        // writes into self, so there the mask must broadcast to self's shape.
        (void)ops::broadcast_shapes("masked_fill", x.sizes(), mask.sizes());
        Tensor value = scalar_tensor(a.scalar(2), x.dtype(), x.device());  // self's dtype wins, as in PyTorch
        return {x.where(mask.logical_not(), value)};
      });

  r.def("nonzero(Tensor self) -> Tensor")
      .doc("indices of the non-zero elements, one row [n, dim] each, in row-major order")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        // The count is data-dependent: found on the host (one copy of a bool mask).
        const Tensor& x = a.tensor(0);
        std::vector<uint8_t> nz = x.ne(0).to("cpu").to_vector<uint8_t>();
        std::vector<int64_t> coords;
        auto sizes = x.shape();
        for (size_t i = 0; i < nz.size(); ++i) {
          if (!nz[i]) continue;
          int64_t rest = static_cast<int64_t>(i);
          std::vector<int64_t> c(sizes.size());
          for (size_t d = sizes.size(); d-- > 0;) {
            c[d] = rest % sizes[d];
            rest /= sizes[d];
          }
          coords.insert(coords.end(), c.begin(), c.end());
        }
        int64_t n = static_cast<int64_t>(coords.size() / std::max<size_t>(sizes.size(), 1));
        if (sizes.empty()) n = nz.empty() ? 0 : nz[0];
        return {tensor(coords, {n, static_cast<int64_t>(sizes.size())}, x.device())};
      });

  r.def("masked_select(Tensor self, Tensor mask) -> Tensor")
      .doc("the elements of self where mask (broadcast) is true, as a 1-d tensor")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &x = a.tensor(0), &mask = a.tensor(1);
        TD_CHECK_ARG(mask.dtype() == DType::kBool, "[masked_select] masked_select: expected BoolTensor for mask");
        auto shape = ops::broadcast_shapes("masked_select", x.sizes(), mask.sizes());
        Tensor xb = x.expand(shape), mb = mask.expand(shape).contiguous();
        std::vector<uint8_t> m = mb.to("cpu").to_vector<uint8_t>();
        std::vector<int64_t> positions;
        for (size_t i = 0; i < m.size(); ++i) {
          if (m[i]) positions.push_back(static_cast<int64_t>(i));
        }
        Tensor idx = tensor(positions, {static_cast<int64_t>(positions.size())}, x.device());
        return {xb.reshape({-1}).gather(0, idx)};
      });
}

}  // namespace td
