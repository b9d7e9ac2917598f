// The sort family: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, unique, unique_consecutive.
// The backend has one primitive, a stable sort of rows giving values and int64 positions (Backend::sort), in
// PyTorch's order: NaN is the largest value. Every op here is that sort followed by public ops (narrow,
// gather, cumsum, scatter_add, masked_select), so CPU and CUDA share all the selection logic. Ops that
// return values and indices send the values' gradient back to the selected indices.
#include <limits>
#include <optional>
#include <tuple>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

// x sorted along d (wrapped) by the backend's stable sort: {values, int64 indices}, in x's shape, or only
// the first k along d (the backend may then select rather than sort).
std::pair<Tensor, Tensor> sort_along(const Tensor& x, int64_t d, bool descending,
                                     std::optional<int64_t> k = {}) {
  auto shape = x.shape();
  if (k && x.dim()) shape[d] = *k;
  Tensor values = empty(shape, {x.dtype(), x.device()});
  Tensor indices = empty(shape, {DType::kInt64, x.device()});
  if (values.numel() == 0) return {values, indices};
  // The sorted dim goes last, by strides only; a 0-dim tensor is one row of one element.
  auto sorted_last = [d](const Tensor& t) {
    std::pair<std::vector<int64_t>, std::vector<int64_t>> layout;
    for (int64_t i = 0; i < t.dim(); ++i) {
      if (i == d) continue;
      layout.first.push_back(t.size(i));
      layout.second.push_back(t.stride(i));
    }
    layout.first.push_back(t.dim() ? t.size(d) : 1);
    layout.second.push_back(t.dim() ? t.stride(d) : 1);
    return layout;
  };
  auto in_layout = sorted_last(x), values_layout = sorted_last(values), indices_layout = sorted_last(indices);
  StridedRef in{x.data_ptr(), x.dtype(), in_layout.first, in_layout.second};
  StridedRef v{values.data_ptr(), values.dtype(), values_layout.first, values_layout.second};
  StridedRef ix{indices.data_ptr(), DType::kInt64, indices_layout.first, indices_layout.second};
  backend(x.device().type).sort(descending, v, ix, in, x.device().index);
  return {values, indices};
}

// The size of the dim a selection reduces (1 for a 0-dim tensor), which must not be empty.
int64_t reduced_size(std::string_view op, const Tensor& x, int64_t d) {
  int64_t n = x.dim() ? x.size(d) : 1;
  TD_CHECK_ARG(n > 0, "[", op, "] ", op, "(): Expected reduction dim ", d, " to have non-zero size.");
  return n;
}

// Complex numbers have no order: PyTorch names its missing kernel ("sorting_kernel_method_name", "topk_cpu").
void check_orderable(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(!is_complex(x.dtype()), "[", op, "] \"", op, "\" not implemented for '", scalar_type_name(x.dtype()),
               "'");
}

void check_not_bool(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(x.dtype() != DType::kBool, "[", op, "] \"", op, "\" not implemented for 'Bool'");
}

// The gradient of values picked from an input of `sizes` along dim at `indices` (sort, topk, kthvalue,
// median.dim, nanmedian.dim, mode): each picked element gets its value's gradient, the others none. keepdim:
// indices still have the dim.
Tensor picked_backward(const Tensor& g, const Tensor& indices, std::span<const int64_t> sizes, int64_t dim,
                       bool keepdim) {
  if (sizes.empty()) return g;  // a 0-dim input is its own (only) value
  int64_t d = wrap_dim("backward", dim, static_cast<int64_t>(sizes.size()));
  Tensor gk = keepdim ? g : g.unsqueeze(d);
  Tensor ik = keepdim ? indices : indices.unsqueeze(d);
  return zeros(std::vector<int64_t>(sizes.begin(), sizes.end()), {g.dtype(), g.device()})
      .scatter_add(d, ik, gk);
}

// {values, indices} at sorted position pos (int64, x's shape with d of size 1) along d of the sorted x.
std::vector<Tensor> pick(const std::pair<Tensor, Tensor>& sorted, int64_t d, const Tensor& pos,
                         bool keepdim) {
  Tensor v = sorted.first.gather(d, pos), i = sorted.second.gather(d, pos);
  if (!keepdim) return {v.squeeze(d), i.squeeze(d)};
  return {v, i};
}

std::vector<int64_t> with_dim_size(const Tensor& x, int64_t d, int64_t size) {
  auto shape = x.shape();
  shape[d] = size;
  return shape;
}

// The lower median along d of a tensor with at least one dim and a non-empty d: sorted position (n - 1) / 2.
// With NaNs, median gives the first NaN (a stable ascending sort puts it at n - nan_count) and nanmedian
// the lower median of the others (an all-NaN slice gives its first NaN).
std::vector<Tensor> median_along(const Tensor& x, int64_t d, bool ignore_nan, bool keepdim) {
  const int64_t n = x.size(d);
  auto sorted = sort_along(x, d, false);
  Tensor pos;
  if (is_floating(x.dtype())) {
    Tensor nans = x.isnan().sum({d}, true);
    pos = ignore_nan ? nans.neg().add(n - 1).floor_divide(2).clamp(Scalar(0))
                     : nans.neg().add(n).where(nans.gt(0), Scalar((n - 1) / 2));
  } else {
    pos = full(with_dim_size(x, d, 1), Scalar((n - 1) / 2), {DType::kInt64, x.device()});
  }
  return pick(sorted, d, pos, keepdim);
}

// The most frequent value along d (the smallest among equally frequent ones) and the index of its last
// occurrence, as PyTorch's CPU kernel gives it: runs of equal values in the stably sorted slice, each
// run's length written at its last element, and the first longest run.
std::vector<Tensor> mode_along(const Tensor& x, int64_t d, bool keepdim) {
  const int64_t n = x.size(d);
  auto sorted = sort_along(x, d, false);
  const Tensor& s = sorted.first;
  Tensor diff = s.narrow(d, 1, n - 1).ne(s.narrow(d, 0, n - 1));  // NaN != NaN: each NaN is its own run
  Tensor edge = ones(with_dim_size(x, d, 1), {DType::kBool, x.device()});
  Tensor is_end = Tensor::cat({diff, edge}, d), is_start = Tensor::cat({edge, diff}, d);
  Tensor run = is_start.cumsum(d).sub(1);
  Tensor counts = zeros(x.shape(), {DType::kInt64, x.device()})
                      .scatter_add(d, run, ones(x.shape(), {DType::kInt64, x.device()}));
  Tensor length_at_end = counts.gather(d, run).where(is_end, Scalar(0));
  return pick(sorted, d, length_at_end.max(d, true).second, keepdim);
}

// Grouping of a 1-d sequence into runs of equal neighbours: whether each element starts a run, and its
// run's number.
struct Runs {
  Tensor is_start, run;
};
Runs runs_of(const Tensor& starts_after_first) {
  const Tensor& diff = starts_after_first;
  Tensor is_start = Tensor::cat({ones({1}, {DType::kBool, diff.device()}), diff}, 0);
  return {is_start, is_start.cumsum(0).sub(1)};
}

// Elements per run, for `groups` runs numbered in `run`.
Tensor run_lengths(const Tensor& run, int64_t groups) {
  int64_t n = run.numel();
  TensorOptions i64{DType::kInt64, run.device()};
  return zeros({n}, i64).scatter_add(0, run, ones({n}, i64)).narrow(0, 0, groups).clone();
}

Tensor positions(int64_t n, Device device) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return tensor(v, {n}, device);
}

// unique / unique_consecutive over the flattened tensor: {output, inverse (x's shape), counts}; the outputs
// not asked for are empty, as in PyTorch.
std::vector<Tensor> unique_flat(const Tensor& x, bool consecutive, bool want_inverse, bool want_counts) {
  TensorOptions i64{DType::kInt64, x.device()};
  const int64_t n = x.numel();
  if (n == 0)
    return {empty({0}, {x.dtype(), x.device()}),
            empty(want_inverse ? x.shape() : std::vector<int64_t>{0}, i64), empty({0}, i64)};
  Tensor flat = x.reshape({-1}), order;
  if (!consecutive) std::tie(flat, order) = sort_along(flat, 0, false);
  Runs r = runs_of(flat.narrow(0, 1, n - 1).ne(flat.narrow(0, 0, n - 1)));  // NaN != NaN: NaNs stay apart
  Tensor output = flat.masked_select(r.is_start);
  Tensor inverse = empty({0}, i64), counts = empty({0}, i64);
  if (want_inverse) {
    // Sorted element i came from position order[i]: its run number goes back there.
    inverse = consecutive ? r.run : zeros({n}, i64).scatter(0, order, r.run);
    inverse = inverse.view(x.shape());
  }
  if (want_counts) counts = run_lengths(r.run, output.numel());
  return {output, inverse, counts};
}

// unique / unique_consecutive of the slices along dim: equal slices are equal element by element, and the
// sorted order is lexicographic (NaN largest), built as a stable sort by each element from the last.
std::vector<Tensor> unique_slices(std::string_view op, const Tensor& x, int64_t dim, bool consecutive,
                                  bool want_inverse, bool want_counts) {
  TD_CHECK(x.dim() > 0, ErrorCode::kOutOfRange, "[", op, "] Dimension specified as ", dim,
           " but tensor has no dimensions");
  int64_t d = wrap_dim(op, dim, x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) {
    TD_CHECK_ARG(i == d || x.size(i) > 0, "[", op,
                 "] There are 0 sized dimensions, and they aren't selected, so ", op,
                 " cannot be applied (shape ", shape_str(x.sizes()), ", dim ", d, ")");
  }
  TensorOptions i64{DType::kInt64, x.device()};
  const int64_t n = x.size(d);
  if (n == 0) return {x.clone(), empty({0}, i64), empty({0}, i64)};
  const int64_t m = x.numel() / n;
  Tensor rows = x.movedim(d, 0).reshape({n, m}), order;
  if (!consecutive) {
    order = positions(n, x.device());
    for (int64_t j = m - 1; j >= 0; --j) {
      Tensor key = rows.select(1, j).index_select(0, order);
      order = order.index_select(0, sort_along(key, 0, false).second);
    }
    rows = rows.index_select(0, order);
  }
  Runs r = runs_of(rows.narrow(0, 1, n - 1).ne(rows.narrow(0, 0, n - 1)).any(1));
  Tensor firsts = r.is_start.nonzero().reshape({-1});
  std::vector<int64_t> moved = x.movedim(d, 0).shape();
  moved[0] = firsts.numel();
  Tensor output = rows.index_select(0, firsts).reshape(moved).movedim(0, d).contiguous();
  Tensor inverse = empty({0}, i64), counts = empty({0}, i64);
  if (want_inverse) inverse = consecutive ? r.run : zeros({n}, i64).scatter(0, order, r.run);
  if (want_counts) counts = run_lengths(r.run, firsts.numel());
  return {output, inverse, counts};
}

}  // namespace

void register_sort_ops(Registry& r) {
  r.def(
       "sort(Tensor self, int dim=-1, bool descending=False, *, bool stable=False) -> (Tensor values, "
       "Tensor indices)")
      .doc("values sorted along dim and their indices; NaN sorts as the largest value; always stable")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("sort", x);
        auto [values, indices] = sort_along(x, wrap_dim("sort", a.int_at(1), x.dim()), a.bool_at(2));
        return {values, indices};
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return {picked_backward(c.grad(), c.output(1), c.input_meta(0).sizes, c.args().int_at(1), true)};
      });

  r.def("argsort(Tensor self, int dim=-1, bool descending=False, *, bool stable=False) -> Tensor")
      .doc("the indices that sort self along dim (sort's indices)")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("argsort", x);
        return {sort_along(x, wrap_dim("argsort", a.int_at(1), x.dim()), a.bool_at(2)).second};
      });

  r.def("msort(Tensor self) -> Tensor")
      .doc("self sorted along dim 0")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).sort(0).first}; });

  r.def(
       "topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, "
       "Tensor indices)")
      .doc(
          "the k largest (or smallest) elements along dim and their indices, largest first (smallest first); "
          "NaN counts as the largest")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("topk", x);
        const int64_t k = a.int_at(1), d = wrap_dim("topk", a.int_at(2), x.dim());
        const int64_t n = x.dim() ? x.size(d) : 1;
        TD_CHECK(k >= 0 && k <= n, ErrorCode::kOutOfRange, "[topk] selected index k out of range (k = ", k,
                 ", dim ", d, " of ", shape_str(x.sizes()), " has size ", n, ")");
        check_not_bool("topk", x);
        if (x.dim() == 0) return {x.clone(), zeros({}, {DType::kInt64, x.device()})};  // PyTorch: k = 0 too
        auto [values, indices] = sort_along(x, d, a.bool_at(3), k);
        return {values, indices};
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return {picked_backward(c.grad(), c.output(1), c.input_meta(0).sizes, c.args().int_at(2), true)};
      });

  r.def("kthvalue(Tensor self, int k, int dim=-1, bool keepdim=False) -> (Tensor values, Tensor indices)")
      .doc("the k-th smallest element along dim (k from 1) and its index; NaN counts as the largest")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("kthvalue", x);
        const int64_t k = a.int_at(1), d = wrap_dim("kthvalue", a.int_at(2), x.dim());
        const int64_t n = reduced_size("kthvalue", x, d);
        TD_CHECK(k >= 1 && k <= n, ErrorCode::kOutOfRange,
                 "[kthvalue] kthvalue(): selected number k out of range "
                 "for dimension ",
                 d, " (k = ", k, ", size ", n, ")");
        check_not_bool("kthvalue", x);
        if (x.dim() == 0) return {x.clone(), zeros({}, {DType::kInt64, x.device()})};
        auto [values, indices] = sort_along(x, d, false, k);
        Tensor v = values.narrow(d, k - 1, 1).clone(), i = indices.narrow(d, k - 1, 1).clone();
        if (!a.bool_at(3)) return {v.squeeze(d), i.squeeze(d)};
        return {v, i};
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return {picked_backward(c.grad(), c.output(1), c.input_meta(0).sizes, c.args().int_at(2),
                                c.args().bool_at(3))};
      });

  for (bool ignore_nan : {false, true}) {
    std::string name = ignore_nan ? "nanmedian" : "median";
    r.def(name + "(Tensor self) -> Tensor")
        .doc(ignore_nan ? "the lower median of the elements that are not NaN (NaN if all are)"
                        : "the lower median of all elements; NaN if any is NaN")
        .forward([ignore_nan, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          check_orderable(name, x);
          check_not_bool(name, x);
          if (x.numel() == 0 && ignore_nan && is_floating(x.dtype())) {
            return {full({}, Scalar(std::numeric_limits<double>::quiet_NaN()), {x.dtype(), x.device()})};
          }
          TD_CHECK_ARG(x.numel() > 0, "[", name, "] ", name,
                       "(): Expected reduction dim 0 to have non-zero size.");
          return {median_along(x.reshape({-1}), 0, ignore_nan, false)[0]};
        })
        .saves_outputs()
        .backward([](GradContext& c) -> std::vector<Tensor> {
          // Shared evenly among the elements equal to the result (the NaNs, when it is NaN), as PyTorch's
          // evenly_distribute_backward: a subgradient that does not depend on which tie the sort put first.
          Tensor x = c.input(0), result = c.output();
          Tensor hit = x.eq(result).logical_or(x.isnan().logical_and(result.isnan()));
          return {c.grad().div(hit.sum().to(c.grad().dtype())).where(hit, 0.0)};
        });

    r.def(name + ".dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)")
        .doc(ignore_nan ? "the lower median along dim ignoring NaN, and its index"
                        : "the lower median along dim (NaN where a slice has one) and its index")
        .forward([ignore_nan, name](const Args& a) -> std::vector<Tensor> {
          const Tensor& x = a.tensor(0);
          check_orderable(name, x);
          const int64_t d = wrap_dim(name, a.int_at(1), x.dim());
          reduced_size(name, x, d);
          check_not_bool(name, x);
          if (x.dim() == 0) return {x.clone(), zeros({}, {DType::kInt64, x.device()})};
          return median_along(x, d, ignore_nan, a.bool_at(2));
        })
        .saves_inputs({})
        .saves_outputs()
        .backward([](GradContext& c) -> std::vector<Tensor> {
          return {picked_backward(c.grad(), c.output(1), c.input_meta(0).sizes, c.args().int_at(1),
                                  c.args().bool_at(2))};
        });
  }

  r.def("mode(Tensor self, int dim=-1, bool keepdim=False) -> (Tensor values, Tensor indices)")
      .doc("the most frequent value along dim (the smallest of equally frequent ones) and its last index")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("mode", x);
        const int64_t d = wrap_dim("mode", a.int_at(1), x.dim());
        reduced_size("mode", x, d);
        if (x.dim() == 0) return {x.clone(), zeros({}, {DType::kInt64, x.device()})};
        if (x.numel() == 0) {
          auto shape = with_dim_size(x, d, 1);
          if (!a.bool_at(2)) shape.erase(shape.begin() + d);
          return {empty(shape, {x.dtype(), x.device()}), empty(shape, {DType::kInt64, x.device()})};
        }
        return mode_along(x, d, a.bool_at(2));
      })
      .saves_inputs({})
      .saves_outputs()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        return {picked_backward(c.grad(), c.output(1), c.input_meta(0).sizes, c.args().int_at(1),
                                c.args().bool_at(2))};
      });

  r.def(
       "unique(Tensor self, bool sorted=True, bool return_inverse=False, bool return_counts=False, int? "
       "dim=None) "
       "-> (Tensor output, Tensor inverse_indices, Tensor counts)")
      .doc(
          "the distinct elements (or slices along dim) in ascending order, where each element went, and how "
          "often each occurs; NaNs are all distinct; the outputs not asked for are empty")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        // Always sorted (as PyTorch on CUDA): sorted=False allows any order.
        const Tensor& x = a.tensor(0);
        check_orderable("unique", x);
        if (a.is_none(4)) return unique_flat(x, false, a.bool_at(2), a.bool_at(3));
        return unique_slices("unique", x, a.int_at(4), false, a.bool_at(2), a.bool_at(3));
      });

  r.def(
       "unique_consecutive(Tensor self, bool return_inverse=False, bool return_counts=False, int? dim=None) "
       "-> "
       "(Tensor output, Tensor inverse_indices, Tensor counts)")
      .doc(
          "self with each run of equal consecutive elements (or slices along dim) kept once, where each "
          "element went, and the run lengths; the outputs not asked for are empty")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        check_orderable("unique_consecutive", x);
        if (a.is_none(3)) return unique_flat(x, true, a.bool_at(1), a.bool_at(2));
        return unique_slices("unique_consecutive", x, a.int_at(3), true, a.bool_at(1), a.bool_at(2));
      });
}

}  // namespace td
