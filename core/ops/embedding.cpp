// Embedding lookups with aten's names and argument order: embedding (rows of a [num_embeddings, dim] weight
// picked by integer indices) and embedding_bag (sums, means or maxima of bags of rows). Both lookups are
// index_select composites, so the weight's gradient is index_select's scatter-add, and differentiates again.
//
// The gradient modifiers of aten's embedding_backward are composed too: no gradient reaches padding_idx (the
// rows at those positions are read from a detached weight), and scale_grad_by_freq divides each position's
// gradient by how often its index occurs in the batch (out.detach() + (out - out.detach()) * s: the value
// unchanged, the gradient scaled by s).
//
// embedding_bag reads indices and offsets once on the host to check them and to find each index's bag; mode
// is torch.nn.functional's string ("sum", "mean", "max"), and only the output is returned (aten's op also
// returns offset2bag, bag_size and max_indices, internals of its backward).
#include <algorithm>

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/registry.h"

namespace td {

namespace {

std::vector<Tensor> one(Tensor t) {
  return {std::move(t)};
}

void check_weight(std::string_view op, const Tensor& weight) {
  TD_CHECK_ARG(weight.dim() == 2, "[", op, "] 'weight' must be 2-D, got ", shape_str(weight.sizes()));
}

void check_indices(std::string_view op, const Tensor& indices, const char* name) {
  TD_CHECK_ARG(indices.dtype() == DType::kInt64 || indices.dtype() == DType::kInt32, "[", op,
               "] Expected tensor for argument #1 '", name,
               "' to have one of the following scalar types: Long, "
               "Int; but got ",
               scalar_type_name(indices.dtype()), " instead (while checking arguments for ", op, ")");
}

// The indices as int64 values on the host, each checked against the table's size.
std::vector<int64_t> host_indices(std::string_view op, const Tensor& indices, int64_t rows) {
  std::vector<int64_t> v = indices.to(DType::kInt64).to_vector<int64_t>();
  for (int64_t i : v) {
    TD_CHECK(i >= 0 && i < rows, ErrorCode::kOutOfRange, "[", op, "] index ", i, " is out of range for ",
             rows, " embeddings (index out of range in self)");
  }
  return v;
}

// s[i] = 1 / (occurrences of flat[i] in flat): aten's scale_grad_by_freq.
Tensor frequency_scale(const std::vector<int64_t>& flat, int64_t rows, const Tensor& like) {
  std::vector<int64_t> counts(static_cast<size_t>(rows), 0);
  for (int64_t i : flat) ++counts[static_cast<size_t>(i)];
  std::vector<double> s(flat.size());
  for (size_t k = 0; k < flat.size(); ++k)
    s[k] = 1.0 / static_cast<double>(counts[static_cast<size_t>(flat[k])]);
  return tensor(s, {static_cast<int64_t>(s.size()), 1}, like.device()).to(like.dtype());
}

// Rows of weight at `index` (1-d, int64 on weight's device), with no gradient to rows equal to padding_idx
// and, with scale_grad_by_freq, each gradient divided by its index's count.
Tensor lookup(const Tensor& weight, const Tensor& index, const std::vector<int64_t>& flat,
              int64_t padding_idx, bool scale_grad_by_freq) {
  Tensor rows = weight.index_select(0, index);
  if (!(autograd::GradMode::is_enabled() && weight.requires_grad())) return rows;
  // Forward mode takes the rows of weight's tangent, padding row included, as PyTorch's embedding does: the
  // steps below shape the gradient only.
  Tensor tangent = autograd::forward_ad::detail::tangent(rows);
  if (padding_idx >= 0 && std::find(flat.begin(), flat.end(), padding_idx) != flat.end()) {
    rows = weight.detach().index_select(0, index).where(index.eq(padding_idx).unsqueeze(1), rows);
  }
  if (scale_grad_by_freq) {
    Tensor fixed = rows.detach();
    rows = fixed.add(rows.sub(fixed).mul(frequency_scale(flat, weight.size(0), weight)));
  }
  if (tangent.defined()) autograd::forward_ad::detail::set_tangent(rows, tangent);
  return rows;
}

}  // namespace

void register_embedding_ops(Registry& r) {
  r.def(
       "embedding(Tensor weight, Tensor indices, int padding_idx=-1, bool scale_grad_by_freq=False, "
       "bool sparse=False) -> Tensor")
      .doc(
          "the rows of weight [num_embeddings, dim] at indices, shaped indices.shape + [dim]; no gradient to "
          "row padding_idx (-1: none)")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "embedding";
        const Tensor &weight = a.tensor(0), &indices = a.tensor(1);
        check_weight(op, weight);
        check_indices(op, indices, "indices");
        TD_CHECK(!a.bool_at(4), ErrorCode::kUnimplemented, "[", op,
                 "] sparse gradients are not supported "
                 "(sparse=True); tensord has no sparse tensors");
        const std::vector<int64_t> flat = host_indices(op, indices, weight.size(0));
        Tensor index = indices.to(DType::kInt64).reshape({-1});
        std::vector<int64_t> shape = indices.shape();
        shape.push_back(weight.size(1));
        return one(lookup(weight, index, flat, a.int_at(2), a.bool_at(3)).reshape(shape));
      });

  r.def(
       "embedding_bag(Tensor weight, Tensor indices, Tensor? offsets=None, bool scale_grad_by_freq=False, "
       "str mode=\"mean\", bool sparse=False, Tensor? per_sample_weights=None, bool "
       "include_last_offset=False, "
       "int? padding_idx=None) -> Tensor")
      .doc(
          "sums, means or maxima of bags of weight's rows: the rows of 2-d indices, or of 1-d indices cut at "
          "offsets; empty bags give zeros")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "embedding_bag";
        const Tensor &weight = a.tensor(0), &indices = a.tensor(1);
        const Tensor offsets = a.optional_tensor(2), psw = a.optional_tensor(6);
        const std::string& mode = a.string_at(4);
        const bool last_offset = a.bool_at(7);
        check_weight(op, weight);
        check_indices(op, indices, "indices");
        TD_CHECK_ARG(mode == "sum" || mode == "mean" || mode == "max", "[", op,
                     "] mode has to be one of sum, mean or max, got '", mode, "'");
        TD_CHECK(!a.bool_at(5), ErrorCode::kUnimplemented, "[", op,
                 "] sparse gradients are not supported "
                 "(sparse=True); tensord has no sparse tensors");
        TD_CHECK(!psw.defined() || mode == "sum", ErrorCode::kUnimplemented, "[", op,
                 "] embedding_bag: "
                 "per_sample_weights was not None. per_sample_weights is only supported for mode='sum' (got "
                 "mode='",
                 mode, "'). Please open a feature request on GitHub.");
        TD_CHECK_ARG(!psw.defined() || psw.shape() == indices.shape(), "[", op,
                     "] embedding_bag: If "
                     "per_sample_weights (",
                     shape_str(psw.sizes()),
                     ") is not None, then it must have the same "
                     "shape as the input (",
                     shape_str(indices.sizes()), ")");
        const int64_t rows = weight.size(0);
        int64_t padding_idx = -1;
        if (!a.is_none(8)) {
          padding_idx = a.int_at(8);
          TD_CHECK_ARG(padding_idx >= -rows && padding_idx < rows, "[", op,
                       "] padding_idx must be within the "
                       "number of embeddings, -",
                       rows, " to ", rows - 1, ", but got ", padding_idx);
          if (padding_idx < 0) padding_idx += rows;
        }
        // Bag boundaries: [start, end) of each bag in the flat indices.
        const std::vector<int64_t> flat = host_indices(op, indices, rows);
        const auto length = static_cast<int64_t>(flat.size());
        std::vector<int64_t> starts;
        int64_t bags = 0;
        if (indices.dim() == 2) {
          TD_CHECK_ARG(
              !offsets.defined(), "[", op,
              "] if input is 2D, then offsets has to be None, as input is "
              "treated is a mini-batch of fixed length sequences. However, found offsets of type Tensor");
          bags = indices.size(0);
          for (int64_t b = 0; b <= bags; ++b) starts.push_back(b * indices.size(1));
        } else {
          TD_CHECK_ARG(indices.dim() == 1, "[", op,
                       "] input has to be 1D or 2D Tensor, but got Tensor of "
                       "dimension ",
                       indices.dim());
          TD_CHECK_ARG(offsets.defined(), "[", op, "] offsets has to be a 1D Tensor but got None");
          TD_CHECK_ARG(offsets.dim() == 1, "[", op, "] offsets has to be a 1D Tensor");
          check_indices(op, offsets, "offsets");
          starts = offsets.to(DType::kInt64).to_vector<int64_t>();
          TD_CHECK_ARG(!last_offset || !starts.empty(), "[", op,
                       "] include_last_offset needs at least one offset");
          if (!starts.empty()) {
            TD_CHECK_ARG(starts[0] == 0, "[", op,
                         "] offsets[0] has to be 0, i.e., the first sequence in the "
                         "mini-batch has to start from position 0. However, got ",
                         starts[0]);
            TD_CHECK_ARG(starts.back() <= length, "[", op,
                         "] offsets[-1] can not be greater than input's length ", length,
                         " but got offsets[-1] of ", starts.back());
          }
          for (size_t i = 1; i < starts.size(); ++i) {
            TD_CHECK_ARG(starts[i] >= starts[i - 1], "[", op,
                         "] offsets must be non-decreasing, but offsets[", i, "] = ", starts[i], " follows ",
                         starts[i - 1]);
          }
          bags = static_cast<int64_t>(starts.size()) - (last_offset ? 1 : 0);
          if (!last_offset) starts.push_back(length);
          // With include_last_offset the last offset ends the last bag; indices past it belong to no bag.
        }
        // Positions kept (padding_idx dropped) and the bag of each.
        std::vector<int64_t> kept, bag_of, kept_index;
        std::vector<double> counts(static_cast<size_t>(bags), 0);
        for (int64_t b = 0; b < bags; ++b) {
          for (int64_t p = starts[static_cast<size_t>(b)]; p < starts[static_cast<size_t>(b) + 1]; ++p) {
            if (flat[static_cast<size_t>(p)] == padding_idx) continue;
            kept.push_back(p);
            bag_of.push_back(b);
            kept_index.push_back(flat[static_cast<size_t>(p)]);
            counts[static_cast<size_t>(b)] += 1;
          }
        }
        const Device device = weight.device();
        const auto n = static_cast<int64_t>(kept.size());
        const int64_t dim = weight.size(1);
        Tensor index = tensor(kept_index, {n}, device);
        Tensor values = lookup(weight, index, kept_index, -1, a.bool_at(3));
        if (psw.defined()) {
          values = values.mul(psw.reshape({-1}).index_select(0, tensor(kept, {n}, device)).unsqueeze(1));
        }
        Tensor bag = tensor(bag_of, {n}, device);
        Tensor out = zeros({bags, dim}, {values.dtype(), device});
        if (mode == "max") {
          out = out.scatter_reduce(0, bag.unsqueeze(1).expand({n, dim}), values, "amax", false);
        } else {
          out = out.index_add(0, bag, values);
          if (mode == "mean") {
            for (double& c : counts) c = std::max(c, 1.0);
            out = out.div(tensor(counts, {bags, 1}, device).to(out.dtype()));
          }
        }
        return one(out);
      });
}

}  // namespace td
