// Ops PyTorch users reach for that are compositions of other ops, with PyTorch's names, defaults and errors:
// comparisons of whole tensors (isclose, allclose, equal), elementwise math (clamp_min/max, square,
// float_power, true_divide, positive, hypot, logaddexp, xlogy), shape helpers (broadcast_to,
// broadcast_tensors, meshgrid, swapaxes/swapdims, ravel), reductions (trace, diff, cross, var_mean,
// std_mean, aminmax, nansum, nanmean, count_nonzero), lookups (take_along_dim, bucketize, searchsorted,
// bincount), index writes (index_fill, index_copy) and tril_indices/triu_indices. Their gradients are those
// of the ops they are written in.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

using Shape = std::vector<int64_t>;

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

// The dims an `int[1]? dim=None` argument names: all of them when None.
Shape dims_or_all(const Args& a, size_t i, const Tensor& x) {
  if (auto d = a.optional_ints(i)) return *d;
  Shape all(static_cast<size_t>(x.dim()));
  for (int64_t k = 0; k < x.dim(); ++k) all[static_cast<size_t>(k)] = k;
  return all;
}

// PyTorch's isclose, step for step: exact equality (equal infinities included), NaN by equal_nan, then
// |a - b| <= atol + |rtol * b| where that error is finite; bool operands compare as floats.
Tensor isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  TD_CHECK_ARG(a.dtype() == b.dtype(), "[isclose] ", dtype_name(a.dtype()), " did not match ", dtype_name(b.dtype()));
  TD_CHECK_ARG(rtol >= 0, "[isclose] rtol must be greater than or equal to zero, but got ", rtol);
  TD_CHECK_ARG(atol >= 0, "[isclose] atol must be greater than or equal to zero, but got ", atol);
  Tensor close = a.eq(b);
  if (equal_nan && is_floating(a.dtype())) close = close.logical_or(a.isnan().logical_and(b.isnan()));
  if (rtol == 0 && atol == 0) return close;
  Tensor ca = a.dtype() == DType::kBool ? a.to(default_float_dtype()) : a;
  Tensor cb = b.dtype() == DType::kBool ? b.to(default_float_dtype()) : b;
  Tensor allowed = cb.mul(rtol).abs().add(atol), actual = ca.sub(cb).abs();
  return close.logical_or(actual.isfinite().logical_and(actual.le(allowed)));
}

Tensor tri_indices(std::string_view op, int64_t row, int64_t col, int64_t offset, bool lower, DType dtype,
                   Device device) {
  TD_CHECK_ARG(row >= 0, "[", op, "] row must be non-negative, got", row);
  TD_CHECK_ARG(col >= 0, "[", op, "] col must be non-negative, got", col);
  // Row i holds the columns [first(i), last(i)): the counts are known in closed form, so the output is
  // allocated (and charged to the memory account) before any work, and rows with nothing cost nothing:
  // tril_indices(3, 2**40) is six entries, not a loop over 2**40 columns.
  using Wide = __int128;  // i + offset overflows int64 for offsets near its limits
  auto first = [&](int64_t i) -> int64_t {
    return lower ? 0 : static_cast<int64_t>(std::clamp<Wide>(Wide{i} + offset, 0, col));
  };
  auto last = [&](int64_t i) -> int64_t {
    return lower ? static_cast<int64_t>(std::clamp<Wide>(Wide{i} + offset + 1, 0, col)) : col;
  };
  // Rows with no entry form a prefix (lower) or a suffix (upper), and the counts are a ramp then a constant
  // (lower) or a constant then a ramp (upper): the total is arithmetic, whatever row and col are.
  auto series = [](Wide from, Wide to, Wide a) {  // sum of (a + i) for i in [from, to)
    return to > from ? (to - from) * a + (from + to - 1) * (to - from) / 2 : Wide{0};
  };
  int64_t begin = 0, end = row;
  Wide total = 0;
  if (col == 0) {
    end = 0;
  } else if (lower) {
    const Wide c = Wide{offset} + 1;                                   // row i holds min(i + c, col) columns
    begin = static_cast<int64_t>(std::clamp<Wide>(1 - c, 0, row));     // before it, none
    const Wide ramp_end = std::clamp<Wide>(Wide{col} - c, begin, row);  // from it on, all col
    total = series(begin, ramp_end, c) + (Wide{row} - ramp_end) * col;
  } else {
    end = static_cast<int64_t>(std::clamp<Wide>(Wide{col} - offset, 0, row));  // from it on, none
    const Wide full = std::clamp<Wide>(1 - Wide{offset}, 0, end);               // before it, all col
    total = full * col + series(full, end, Wide{col} - offset) - 2 * series(full, end, 0);
  }
  TD_CHECK(total <= (Wide{1} << 40), ErrorCode::kResourceExhausted, "[", op, "] row=", row, ", col=", col,
           ", offset=", offset, " is more than 2**40 indices");
  const auto n = static_cast<int64_t>(total);
  Tensor out = empty({2, n}, TensorOptions{DType::kInt64});
  auto* rows = static_cast<int64_t*>(out.data_ptr());
  int64_t* cols = rows + n;
  int64_t k = 0;
  for (int64_t i = begin; i < end && k < n; ++i) {
    for (int64_t j = first(i); j < last(i); ++j, ++k) {
      rows[k] = i;
      cols[k] = j;
    }
  }
  return out.to(dtype).to(device.str());
}

}  // namespace

void register_composite_ops(Registry& r) {
  // ---- whole-tensor comparisons ----
  r.def("isclose(Tensor self, Tensor other, float rtol=1e-05, float atol=1e-08, bool equal_nan=False) -> Tensor")
      .doc("|self - other| <= atol + rtol * |other| elementwise (bool), equal infinities close, NaN by equal_nan")
      .no_grad()
      .forward([](const Args& a) {
        return one(isclose(a.tensor(0), a.tensor(1), a.float_at(2), a.float_at(3), a.bool_at(4)));
      });
  r.def("allclose(Tensor self, Tensor other, float rtol=1e-05, float atol=1e-08, bool equal_nan=False) -> Tensor")
      .doc("whether isclose holds everywhere, as a 0-dim bool tensor")
      .no_grad()
      .forward([](const Args& a) {
        return one(isclose(a.tensor(0), a.tensor(1), a.float_at(2), a.float_at(3), a.bool_at(4)).all());
      });
  r.def("equal(Tensor self, Tensor other) -> Tensor")
      .doc("whether both have the same shape and elements, as a 0-dim bool tensor")
      .no_grad()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &y = a.tensor(1);
        ops::check_same_device("equal", std::vector<Tensor>{x, y});
        if (x.shape() != y.shape()) return one(full({}, false, {DType::kBool, x.device()}));
        return one(x.eq(y).all());
      });

  // ---- elementwise ----
  r.def("clamp_min(Tensor self, Scalar min) -> Tensor").doc("max(self, min)").composite().forward([](const Args& a) {
    return one(a.tensor(0).clamp(a.scalar(1)));
  });
  r.def("clamp_max(Tensor self, Scalar max) -> Tensor").doc("min(self, max)").composite().forward([](const Args& a) {
    return one(a.tensor(0).clamp(std::nullopt, a.scalar(1)));
  });
  r.def("square(Tensor self) -> Tensor").doc("self * self").composite().forward([](const Args& a) {
    const Tensor& x = a.tensor(0);
    return one(x.dtype() == DType::kBool ? x.to(DType::kInt64).pow(2) : x.mul(x));
  });
  r.def("float_power(Tensor self, Tensor exponent) -> Tensor")
      .doc("pow computed in float64 (complex128 for complex inputs)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &e = a.tensor(1);
        const DType wide = is_complex(x.dtype()) || is_complex(e.dtype()) ? DType::kComplex128 : DType::kFloat64;
        return one(ops::cast(x, wide).pow(ops::cast(e, wide)));
      });
  r.def("true_divide(Tensor self, Tensor other) -> Tensor").doc("div").composite().forward([](const Args& a) {
    return one(a.tensor(0).div(a.tensor(1)));
  });
  r.def("positive(Tensor self) -> Tensor").doc("self").composite().forward([](const Args& a) {
    const Tensor& x = a.tensor(0);
    TD_CHECK_ARG(x.dtype() != DType::kBool, "[positive] The `+` operator, on a bool tensor is not supported.");
    return one(x.view(x.shape()));
  });
  r.def("hypot(Tensor self, Tensor other) -> Tensor")
      .doc("sqrt(self^2 + other^2), scaled so large values do not overflow")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &y = a.tensor(1);
        TD_CHECK_ARG(is_floating(x.dtype()) && is_floating(y.dtype()), "[hypot] \"hypot_cpu\" not implemented for '",
                     dtype_name(is_floating(x.dtype()) ? y.dtype() : x.dtype()), "'");
        // m * sqrt((x/m)^2 + (y/m)^2) with m = max(|x|, |y|); 0 where both are 0, inf where either is.
        Tensor ax = x.abs(), ay = y.abs(), m = ax.maximum(ay);
        Tensor safe = m.where(m.ne(0), 1.0);
        Tensor qx = ax.div(safe), qy = ay.div(safe);
        Tensor h = safe.mul(qx.mul(qx).add(qy.mul(qy)).sqrt()).where(m.ne(0), 0.0);
        return one(h.where(ax.isinf().logical_or(ay.isinf()).logical_not(), INFINITY));
      });
  r.def("logaddexp(Tensor self, Tensor other) -> Tensor")
      .doc("log(exp(self) + exp(other)), computed without overflow")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &y = a.tensor(1);
        Tensor m = x.maximum(y);
        // m + log1p(exp(-|x - y|)); where x == y (both infinite included) the answer is m + log(2) or m.
        Tensor d = x.sub(y).abs();
        Tensor same = x.eq(y);
        Tensor out = m.add(d.where(same.logical_not(), 0.0).neg().exp().log1p());
        return one(out.where(same.logical_not().logical_or(m.isfinite()), m));
      });
  r.def("xlogy(Tensor self, Tensor other) -> Tensor")
      .doc("self * log(other), 0 where self is 0 (unless other is NaN)")
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &y = a.tensor(1);
        Tensor out = x.mul(y.log());
        Tensor zero = x.eq(0).logical_and(y.isnan().logical_not());
        return one(out.where(zero.logical_not(), 0.0));
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's formulas: d/dself = xlogy(grad, other), 0 where self == 0 and other <= 0;
        // d/dother = grad * self / other.
        const Tensor &g = c.grad(), x = c.input(0), y = c.input(1);
        Tensor gx, gy;
        if (c.needs_grad(0)) {
          Tensor d = g.xlogy(y);
          gx = ops::sum_to(d.where(x.eq(0).logical_and(y.le(0)).logical_not(), 0.0), c.input_meta(0).sizes);
        }
        if (c.needs_grad(1)) gy = ops::sum_to(g.mul(x).div(y), c.input_meta(1).sizes);
        return {gx, gy};
      });

  // ---- shape helpers ----
  r.def("broadcast_to(Tensor self, int[] size) -> Tensor").doc("expand").composite().forward([](const Args& a) {
    return one(a.tensor(0).expand(a.ints(1)));
  });
  r.def("broadcast_tensors(Tensor[] tensors) -> Tensor[]")
      .doc("every tensor expanded to their common broadcast shape")
      .composite()
      .forward([](const Args& a) {
        const std::vector<Tensor>& ts = a.tensors(0);
        Shape shape;
        for (const Tensor& t : ts) shape = ops::broadcast_shapes("broadcast_tensors", shape, t.sizes());
        std::vector<Tensor> out;
        for (const Tensor& t : ts) out.push_back(t.expand(shape));
        return out;
      });
  r.def("meshgrid(Tensor[] tensors, *, str? indexing=None) -> Tensor[]")
      .doc("coordinate grids of 1-d tensors, indexing \"ij\" (the default) or \"xy\"")
      .composite()
      .forward([](const Args& a) {
        const std::vector<Tensor>& ts = a.tensors(0);
        const std::string indexing = a.is_none(1) ? "ij" : a.string_at(1);
        TD_CHECK_ARG(indexing == "ij" || indexing == "xy",
                     "[meshgrid] indexing must be one of \"xy\" or \"ij\", but received: ", indexing);
        TD_CHECK_ARG(!ts.empty(), "[meshgrid] expects a non-empty TensorList");
        for (const Tensor& t : ts) {
          TD_CHECK_ARG(t.dim() <= 1, "[meshgrid] Expected 0D or 1D tensor in the tensor list but got: ",
                       shape_str(t.sizes()));
          TD_CHECK_ARG(t.dtype() == ts[0].dtype(), "[meshgrid] expects all tensors to have the same dtype");
        }
        const bool swap = indexing == "xy" && ts.size() >= 2;
        std::vector<Tensor> in(ts);
        if (swap) std::swap(in[0], in[1]);
        Shape shape;
        for (const Tensor& t : in) shape.push_back(t.numel());
        std::vector<Tensor> out;
        for (size_t i = 0; i < in.size(); ++i) {
          Shape view(in.size(), 1);
          view[i] = in[i].numel();
          out.push_back(in[i].reshape(view).expand(shape));
        }
        if (swap) std::swap(out[0], out[1]);  // "xy": the first two inputs swap places, and their grids back
        return out;
      });
  for (const char* name : {"swapaxes(Tensor self, int axis0, int axis1) -> Tensor",
                           "swapdims(Tensor self, int dim0, int dim1) -> Tensor"}) {
    r.def(name).doc("transpose").composite().forward([](const Args& a) {
      return one(a.tensor(0).transpose(a.int_at(1), a.int_at(2)));
    });
  }
  r.def("ravel(Tensor self) -> Tensor").doc("reshape(-1)").composite().forward([](const Args& a) {
    return one(a.tensor(0).reshape({-1}));
  });

  // ---- reductions ----
  r.def("trace(Tensor self) -> Tensor").doc("sum of the main diagonal of a matrix").composite().forward([](const Args& a) {
    const Tensor& x = a.tensor(0);
    TD_CHECK_ARG(x.dim() == 2, "[trace] trace: expected a matrix, but got tensor with dim ", x.dim());
    return one(x.diagonal().sum());
  });
  r.def("diff(Tensor self, int n=1, int dim=-1, Tensor? prepend=None, Tensor? append=None) -> Tensor")
      .doc("n-th forward difference along dim, after prepending/appending")
      .composite()
      .forward([](const Args& a) {
        Tensor x = a.tensor(0);
        const int64_t n = a.int_at(1);
        TD_CHECK_ARG(x.dim() > 0, "[diff] diff expects input to be at least one-dimensional");
        TD_CHECK_ARG(n >= 0, "[diff] order must be non-negative but got ", n);
        const int64_t dim = wrap_dim("diff", a.int_at(2), x.dim());
        std::vector<Tensor> parts;
        if (!a.is_none(3)) parts.push_back(a.tensor(3));
        parts.push_back(x);
        if (!a.is_none(4)) parts.push_back(a.tensor(4));
        if (parts.size() > 1) x = call_op("cat", {parts, Scalar(dim)})[0];
        for (int64_t k = 0; k < n && x.size(dim) > 0; ++k) {
          const int64_t len = x.size(dim) - 1;
          Tensor hi = x.narrow(dim, 1, len), lo = x.narrow(dim, 0, len);
          x = x.dtype() == DType::kBool ? hi.logical_xor(lo) : hi.sub(lo);
        }
        return one(x);
      });
  r.def("cross(Tensor self, Tensor other, int? dim=None) -> Tensor")
      .doc("cross product of 3-vectors along dim (the first dim of size 3 when None)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &y = a.tensor(1);
        TD_CHECK_ARG(x.dim() == y.dim(), "[cross] inputs must have the same number of dimensions: ",
                     shape_str(x.sizes()), " and ", shape_str(y.sizes()));
        Shape shape = ops::broadcast_shapes("cross", x.sizes(), y.sizes());
        int64_t dim = -1;
        if (a.is_none(2)) {
          for (int64_t d = 0; d < static_cast<int64_t>(shape.size()) && dim < 0; ++d) {
            if (shape[static_cast<size_t>(d)] == 3) dim = d;
          }
          TD_CHECK_ARG(dim >= 0, "[cross] no dimension of size 3 in input");
        } else {
          dim = wrap_dim("cross", a.int_at(2), static_cast<int64_t>(shape.size()));
          TD_CHECK_ARG(x.size(dim) == 3 && y.size(dim) == 3, "[cross] linalg.cross: inputs dimension ", dim,
                       " must have length 3. Got ", x.size(dim), " and ", y.size(dim));
        }
        Tensor bx = x.expand(shape), by = y.expand(shape);
        auto c = [&](const Tensor& t, int64_t i) { return t.select(dim, i); };
        Tensor r0 = c(bx, 1).mul(c(by, 2)).sub(c(bx, 2).mul(c(by, 1)));
        Tensor r1 = c(bx, 2).mul(c(by, 0)).sub(c(bx, 0).mul(c(by, 2)));
        Tensor r2 = c(bx, 0).mul(c(by, 1)).sub(c(bx, 1).mul(c(by, 0)));
        return one(call_op("stack", {std::vector<Tensor>{r0, r1, r2}, Scalar(dim)})[0]);
      });
  for (bool is_std : {false, true}) {
    std::string name = is_std ? "std_mean" : "var_mean";
    r.def(name + "(Tensor self, int[1]? dim=None, int correction=1, bool keepdim=False) -> (Tensor, Tensor)")
        .doc(str(is_std ? "std" : "var", " and mean over the same dims"))
        .composite()
        .forward([is_std](const Args& a) {
          const Tensor& x = a.tensor(0);
          Shape dims = dims_or_all(a, 1, x);
          const bool keep = a.bool_at(3);
          Tensor spread = is_std ? x.std(dims, a.int_at(2), keep) : x.var(dims, a.int_at(2), keep);
          return std::vector<Tensor>{spread, x.mean(dims, keep)};
        });
  }
  r.def("aminmax(Tensor self, *, int? dim=None, bool keepdim=False) -> (Tensor min, Tensor max)")
      .doc("amin and amax in one call")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(x.numel() > 0, "[aminmax] aminmax(): cannot compute aminmax over an empty dimension as the "
                     "operation has no identity.");
        Shape dims = a.is_none(1) ? Shape{} : Shape{a.int_at(1)};
        const bool keep = a.bool_at(2);
        if (a.is_none(1)) return std::vector<Tensor>{x.amin(), x.amax()};
        return std::vector<Tensor>{x.amin(dims, keep), x.amax(dims, keep)};
      });
  r.def("nansum(Tensor self, int[1]? dim=None, bool keepdim=False) -> Tensor")
      .doc("sum treating NaN as 0")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        Tensor clean = is_floating(x.dtype()) ? x.where(x.isnan().logical_not(), 0.0) : x;
        return one(clean.sum(dims_or_all(a, 1, x), a.bool_at(2)));
      });
  r.def("nanmean(Tensor self, int[1]? dim=None, bool keepdim=False) -> Tensor")
      .doc("mean of the elements that are not NaN")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(is_floating(x.dtype()), "[nanmean] nanmean(): expected input to have floating point dtype but got ",
                     dtype_name(x.dtype()));
        Shape dims = dims_or_all(a, 1, x);
        Tensor keep = x.isnan().logical_not();
        Tensor total = x.where(keep, 0.0).sum(dims, a.bool_at(2));
        return one(total.div(keep.sum(dims, a.bool_at(2)).to(x.dtype())));
      });
  r.def("count_nonzero(Tensor self, int[1]? dim=None) -> Tensor")
      .doc("number of non-zero elements (int64) over dims")
      .no_grad()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        return one(x.ne(0).sum(dims_or_all(a, 1, x)));
      });

  // ---- lookups ----
  r.def("take_along_dim(Tensor self, Tensor indices, int? dim=None) -> Tensor")
      .doc("gather along dim with the indices broadcast against self (flattened when dim is None)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &idx = a.tensor(1);
        if (a.is_none(2)) return one(x.reshape({-1}).gather(0, idx.reshape({-1})));
        const int64_t dim = wrap_dim("take_along_dim", a.int_at(2), x.dim());
        TD_CHECK_ARG(x.dim() == idx.dim(), "[take_along_dim] torch.take_along_dim(): input and indices should have "
                     "the same number of dimensions, but got ", x.dim(), " dimensions for input, and ", idx.dim(),
                     " dimensions for indices");
        // 0-d: one element taken from one (PyTorch's result is 0-d too); the shapes below need a dim.
        if (x.dim() == 0) return one(x.reshape({1}).gather(0, idx.reshape({1})).reshape({}));
        Shape xs = x.shape(), is = idx.shape();
        xs[static_cast<size_t>(dim)] = 1;
        is[static_cast<size_t>(dim)] = 1;
        Shape b = ops::broadcast_shapes("take_along_dim", xs, is);
        Shape xb = b, ib = b;
        xb[static_cast<size_t>(dim)] = x.size(dim);
        ib[static_cast<size_t>(dim)] = idx.size(dim);
        return one(x.expand(xb).gather(dim, idx.expand(ib)));
      });
  r.def("bucketize(Tensor self, Tensor boundaries, *, bool out_int32=False, bool right=False) -> Tensor")
      .doc("for each element, the index of the bucket of the sorted 1-d boundaries it falls in")
      .no_grad()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &b = a.tensor(1);
        TD_CHECK_ARG(b.dim() == 1, "[bucketize] boundaries tensor must be 1 dimension, but got dim(", b.dim(), ")");
        // Boundaries below x (right=False: b < x, so equal values go left).
        Tensor below = a.bool_at(3) ? b.le(x.unsqueeze(-1)) : b.lt(x.unsqueeze(-1));
        Tensor pos = below.sum({-1});
        return one(a.bool_at(2) ? pos.to(DType::kInt32) : pos);
      });
  r.def("searchsorted(Tensor sorted_sequence, Tensor self, *, bool out_int32=False, bool right=False, str? side=None) "
        "-> Tensor")
      .doc("insertion points of self's values into each row of sorted_sequence, keeping it sorted")
      .no_grad()
      .forward([](const Args& a) {
        const Tensor &seq = a.tensor(0), &x = a.tensor(1);
        bool right = a.bool_at(3);
        if (!a.is_none(4)) {
          const std::string& side = a.string_at(4);
          TD_CHECK_ARG(side == "left" || side == "right", "[searchsorted] side can only be 'left' or 'right' but got ",
                       side);
          TD_CHECK_ARG(!(right && side == "left"), "[searchsorted] side and right can't be set to opposites, got side "
                       "of left while right was True");
          right = side == "right";
        }
        TD_CHECK_ARG(seq.dim() >= 1, "[searchsorted] input value can be a scalar only when boundaries tensor dimension "
                     "is 1, but we got boundaries tensor dim(", seq.dim(), ")");
        if (seq.dim() > 1) {
          Shape lead(seq.sizes().begin(), seq.sizes().end() - 1), xl(x.sizes().begin(), x.sizes().end() - 1);
          TD_CHECK_ARG(x.dim() == seq.dim() && lead == xl, "[searchsorted] boundaries tensor should be 1 dimension or "
                       "the first N-1 dimensions of boundaries tensor and input value tensor must match, but we got "
                       "boundaries tensor ", shape_str(seq.sizes()), " and input value tensor ", shape_str(x.sizes()));
        }
        // [..., m, 1] against [..., 1, n] (or n against any shape for 1-d boundaries).
        Tensor s = seq.dim() == 1 ? seq : seq.unsqueeze(-2);
        Tensor below = right ? s.le(x.unsqueeze(-1)) : s.lt(x.unsqueeze(-1));
        Tensor pos = below.sum({-1});
        return one(a.bool_at(2) ? pos.to(DType::kInt32) : pos);
      });
  r.def("bincount(Tensor self, Tensor? weights=None, int minlength=0) -> Tensor")
      .doc("count (or sum the weights) of each value of a 1-d non-negative integer tensor")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(x.dim() == 1 && is_integral(x.dtype()) && x.dtype() != DType::kBool,
                     "[bincount] bincount only supports 1-d non-negative integral inputs.");
        const int64_t minlength = a.int_at(2);
        TD_CHECK_ARG(minlength >= 0, "[bincount] minlength should be >= 0");
        int64_t hi = -1;
        if (x.numel()) {
          const auto [lo, top] = ops::integer_bounds(x);
          TD_CHECK_ARG(lo >= 0, "[bincount] bincount only supports 1-d non-negative integral inputs.");
          hi = top;
        }
        const int64_t n = std::max(hi + 1, minlength);
        Tensor idx = x.to(DType::kInt64);
        if (a.is_none(1)) {
          return one(zeros({n}, {DType::kInt64, x.device()}).index_add(0, idx, ones({x.numel()}, {DType::kInt64, x.device()})));
        }
        const Tensor& w = a.tensor(1);
        TD_CHECK_ARG(w.shape() == x.shape(), "[bincount] weights should be 1-d and have the same length as input");
        DType dt = w.dtype() == DType::kFloat32 ? DType::kFloat32 : DType::kFloat64;
        return one(zeros({n}, {dt, x.device()}).index_add(0, idx, ops::cast(w, dt)));
      });

  // ---- index writes ----
  r.def("index_fill(Tensor self, int dim, Tensor index, Tensor value) -> Tensor")
      .doc("a copy of self with value at the given indices along dim")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &index = a.tensor(2), &value = a.tensor(3);
        TD_CHECK_ARG(value.dim() == 0, "[index_fill] index_fill_ only supports a 0-dimensional value tensor, but got "
                     "tensor with ", value.dim(), " dimension(s).");
        const int64_t dim = wrap_dim("index_fill", a.int_at(1), x.dim());
        Tensor mask = zeros({x.dim() ? x.size(dim) : 1}, {DType::kBool, x.device()})
                          .index_put_({index.reshape({-1})}, true);
        Shape view(static_cast<size_t>(std::max<int64_t>(x.dim(), 1)), 1);
        view[static_cast<size_t>(dim)] = mask.numel();
        Tensor v = ops::on_device(ops::cast(value, x.dtype()), x.device());
        return one(v.where(mask.reshape(view).reshape(x.dim() ? view : Shape{}), x));
      });
  r.def("index_copy(Tensor self, int dim, Tensor index, Tensor source) -> Tensor")
      .doc("a copy of self with source's slices written at the given indices along dim")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &index = a.tensor(2), &src = a.tensor(3);
        const int64_t dim = wrap_dim("index_copy", a.int_at(1), x.dim());
        TD_CHECK_ARG(index.dim() <= 1, "[index_copy] index_copy_(): Index should have dimension 1 or 0 (got ",
                     index.dim(), ")");
        TD_CHECK_ARG(src.dtype() == x.dtype(), "[index_copy] index_copy_(): self and source expected to have the same "
                     "dtype, but got (self) ", dtype_name(x.dtype()), " and (source) ", dtype_name(src.dtype()));
        // self[..., index, ...] = source with index on dim: a Tensor?[] with None before dim.
        std::vector<Tensor> indices(static_cast<size_t>(dim));
        indices.push_back(index.reshape({-1}));
        Tensor s = src.dim() == x.dim() ? src : src.unsqueeze(dim);
        return one(call_op("index_put", {x, indices, s, Scalar(false)})[0]);
      });
  for (bool lower : {true, false}) {
    std::string name = lower ? "tril_indices" : "triu_indices";
    r.def(name + "(int row, int col, int offset=0, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
        .doc(str("the (row, col) coordinates of the ", lower ? "lower" : "upper", " triangle, as a 2 x N tensor"))
        .no_grad()
        .forward([name, lower](const Args& a) {
          Device device = a.is_none(4) ? kCPU : Device::parse(a.string_at(4));
          return one(tri_indices(name, a.int_at(0), a.int_at(1), a.int_at(2), lower,
                                 a.optional_dtype(3).value_or(DType::kInt64), device));
        });
  }
}

}  // namespace td
