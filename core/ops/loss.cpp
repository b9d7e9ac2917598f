// Loss functions of torch.nn.functional with aten's names and argument order (mse_loss, l1_loss,
// smooth_l1_loss, huber_loss, nll_loss, cross_entropy_loss, binary_cross_entropy,
// binary_cross_entropy_with_logits, kl_div, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
// soft_margin_loss, hinge_embedding_loss, poisson_nll_loss, ctc_loss, and torch.nn.functional's
// gaussian_nll_loss). The reduction is the string of the functional form ("none", "mean", "sum"), not aten's
// enum. Each loss is written in other ops, with PyTorch 1.13's formulas, so its gradient (and second gradient)
// is theirs; weights, which PyTorch refuses to differentiate for nll_loss and the binary cross entropies, get
// their gradient too.
//
// nll_loss, on the hot path of classifier training, picks each target's log-probability with one gather along
// the class dim; the targets are read once on the host to check their bounds (PyTorch's "Target 12 is out of
// bounds.") and count the ignored ones, so a batch without ignored targets or weights costs a gather and a
// sum.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"

namespace td {

namespace {

std::vector<Tensor> one(Tensor t) {
  return {std::move(t)};
}

enum class Reduction : uint8_t { kNone, kMean, kSum };

// The reduction strings of torch.nn.functional (torch.nn._reduction.get_enum).
Reduction reduction_of(std::string_view op, const std::string& s) {
  if (s == "none") return Reduction::kNone;
  if (s == "mean") return Reduction::kMean;
  TD_CHECK_ARG(s == "sum", "[", op, "] ", s, " is not a valid value for reduction");
  return Reduction::kSum;
}

// PyTorch's apply_loss_reduction: the mean of an empty loss is NaN, as mean() gives.
Tensor apply_reduction(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::kNone:
      return loss;
    case Reduction::kMean:
      return loss.mean();
    case Reduction::kSum:
      return loss.sum();
  }
  return loss;
}

void check_floating(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(is_floating(x.dtype()), "[", op, "] \"", op, "\" not implemented for '", dtype_name(x.dtype()),
               "': losses take floating inputs");
}

// The elementwise losses broadcast input and target, as PyTorch does after its size-mismatch warning; a shape
// that does not broadcast is refused here, under the loss's name.
void check_broadcast(std::string_view op, const Tensor& a, const Tensor& b) {
  (void)ops::broadcast_shapes(op, a.sizes(), b.sizes());
}

void check_same_size(std::string_view op, const Tensor& input, const Tensor& target,
                     std::string_view message) {
  TD_CHECK_ARG(input.shape() == target.shape(), "[", op, "] ", message);
}

// ---- class-index targets (nll_loss, cross_entropy_loss) ----

// Class-index targets, read once on the host: bounds checked, ignored entries counted.
struct ClassTargets {
  Tensor index;   // the targets, ignored ones replaced by class 0, with a size-1 class dim for gather
  Tensor keep;    // target != ignore_index; undefined when nothing is ignored
  Tensor weight;  // each element's class weight, 0 where ignored; undefined without a weight
  int64_t kept = 0;
};

int64_t class_dim_of(const Tensor& input) {
  return input.dim() == 1 ? 0 : 1;
}

// nll_loss's checks (PyTorch's nll_loss_nd, nll_loss and its kernel), in PyTorch's words.
void check_class_targets(std::string_view op, const Tensor& input, const Tensor& target,
                         const Tensor& weight) {
  TD_CHECK_ARG(input.dim() >= 1, "[", op, "] Expected 1 or more dimensions (got ", input.dim(), ")");
  TD_CHECK_ARG(target.dtype() == DType::kInt64, "[", op, "] expected scalar type Long but found ",
               scalar_type_name(target.dtype()), " (class-index targets are int64)");
  if (input.dim() == 1) {
    TD_CHECK_ARG(target.dim() == 0, "[", op, "] size mismatch (got input: ", shape_str(input.sizes()),
                 ", target: ", shape_str(target.sizes()), ")");
  } else {
    TD_CHECK_ARG(target.dim() >= 1 && input.size(0) == target.size(0), "[", op,
                 "] Expected input batch_size (", input.size(0), ") to match target batch_size (",
                 target.dim() ? target.size(0) : 0, ").");
    if (input.dim() == 2) {
      TD_CHECK_ARG(target.dim() == 1, "[", op,
                   "] 0D or 1D target tensor expected, multi-target not supported");
    } else {
      std::vector<int64_t> want = input.shape();
      want.erase(want.begin() + 1);
      TD_CHECK_ARG(target.shape() == want, "[", op, "] Expected target size ", shape_str(want), ", got ",
                   shape_str(target.sizes()));
    }
  }
  const int64_t classes = input.size(class_dim_of(input));
  TD_CHECK_ARG(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes), "[", op,
               "] weight tensor should be defined either for all ", classes,
               " classes or no classes but got weight tensor of shape: ", shape_str(weight.sizes()));
}

ClassTargets class_targets(std::string_view op, const Tensor& input, const Tensor& target,
                           const Tensor& weight, int64_t ignore_index) {
  const int64_t class_dim = class_dim_of(input), classes = input.size(class_dim);
  int64_t ignored = 0;
  for (int64_t v : target.to_vector<int64_t>()) {
    if (v == ignore_index) {
      ++ignored;
      continue;
    }
    TD_CHECK(v >= 0 && v < classes, ErrorCode::kOutOfRange, "[", op, "] Target ", v, " is out of bounds.");
  }
  ClassTargets t;
  t.kept = target.numel() - ignored;
  Tensor safe = target;
  if (ignored) {
    t.keep = target.ne(ignore_index);
    safe = target.where(t.keep, Scalar(int64_t{0}));
  }
  t.index = safe.unsqueeze(class_dim);
  if (weight.defined()) {
    t.weight = weight.gather(0, safe.reshape({-1})).view(target.shape());
    if (ignored) t.weight = t.weight.where(t.keep, 0.0);
  }
  return t;
}

// Reduces a per-element class loss that is already 0 where the target is ignored: the mean divides by the
// weights of the kept targets (their count without weights), as PyTorch's nll_loss; all ignored gives NaN.
Tensor reduce_class_loss(const Tensor& loss, const ClassTargets& t, Reduction r) {
  if (r != Reduction::kMean) return apply_reduction(loss, r);
  if (t.weight.defined()) return loss.sum().div(t.weight.sum());
  return loss.sum().div(static_cast<double>(t.kept));
}

// -log_probs[target] per element, weighted and 0 where ignored, then reduced.
Tensor nll_loss(const Tensor& log_probs, const ClassTargets& t, Reduction r) {
  const int64_t class_dim = class_dim_of(log_probs);
  Tensor picked = log_probs.gather(class_dim, t.index).squeeze(class_dim);
  if (!t.weight.defined() && !t.keep.defined()) {
    // The common case, in as few ops as it takes: no mask, no weights, the sign folded into the reduction.
    if (r == Reduction::kNone) return picked.neg();
    if (r == Reduction::kSum) return picked.sum().neg();
    return picked.sum().mul(-1.0 / static_cast<double>(t.kept));  // an empty batch: 0 * -inf = NaN
  }
  Tensor loss = picked.neg();
  if (t.weight.defined()) loss = loss.mul(t.weight);
  // where, not a product with the mask: an ignored element's log-probability may be -inf.
  if (t.keep.defined()) loss = loss.where(t.keep, 0.0);
  return reduce_class_loss(loss, t, r);
}

// The weight viewed as [C, 1, ...] to broadcast along the class dim of input.
Tensor class_weight_view(const Tensor& weight, const Tensor& input) {
  std::vector<int64_t> shape(static_cast<size_t>(input.dim()), 1);
  shape[static_cast<size_t>(class_dim_of(input))] = weight.numel();
  return weight.view(shape);
}

// PyTorch 1.13's cross_entropy_loss_prob_target: targets are class probabilities of input's shape.
Tensor cross_entropy_probabilities(const Tensor& input, const Tensor& target, const Tensor& weight,
                                   Reduction r, double label_smoothing) {
  const int64_t class_dim = class_dim_of(input), classes = input.size(class_dim);
  TD_CHECK_ARG(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes),
               "[cross_entropy_loss] cross_entropy: weight tensor should be defined either for all ", classes,
               " classes or no classes but got weight tensor of shape: ", shape_str(weight.sizes()));
  Tensor log_probs = input.log_softmax(class_dim);
  Tensor p = target;
  if (label_smoothing > 0)
    p = target.mul(1 - label_smoothing).add(label_smoothing / static_cast<double>(classes));
  Tensor prod = log_probs.mul(p);
  if (weight.defined()) prod = prod.mul(class_weight_view(weight, input));
  switch (r) {
    case Reduction::kNone:
      return prod.sum({class_dim}).neg();
    case Reduction::kSum:
      return prod.sum().neg();
    case Reduction::kMean:
      // Divided by the number of samples (all elements but the class dim); none gives NaN.
      return prod.sum().neg().div(static_cast<double>(input.numel() / std::max<int64_t>(classes, 1)));
  }
  return prod;
}

// PyTorch 1.13's cross_entropy_loss_label_smoothing: (1 - e) nll + e / C * the loss against uniform targets,
// which is -sum_c w_c log p_c per element, 0 where ignored, reduced with nll's denominator.
Tensor cross_entropy_smoothed(const Tensor& log_probs, const ClassTargets& t, const Tensor& weight,
                              Reduction r, double label_smoothing) {
  const int64_t class_dim = class_dim_of(log_probs), classes = log_probs.size(class_dim);
  Tensor nll = nll_loss(log_probs, t, r);
  Tensor weighted = weight.defined() ? log_probs.mul(class_weight_view(weight, log_probs)) : log_probs;
  Tensor smooth = weighted.sum({class_dim}).neg();
  if (t.keep.defined()) smooth = smooth.where(t.keep, 0.0);
  return nll.mul(1 - label_smoothing).add(reduce_class_loss(smooth, t, r).mul(label_smoothing / classes));
}

// ---- the binary cross entropies ----

// max(log(x), -100), PyTorch's clamp in binary_cross_entropy; the log sees 1 where x is 0, so its gradient
// there is 0 rather than 0/0.
Tensor clamped_log(const Tensor& x) {
  Tensor positive = x.gt(0);
  return x.where(positive, 1.0).log().clamp(-100.0).where(positive, -100.0);
}

// ---- distances ----

// torch.pairwise_distance: the p-norm of x1 - x2 + eps over the last dim.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps) {
  const int64_t last = std::max(x1.dim(), x2.dim()) - 1;
  return x1.sub(x2).add(eps).norm(p, std::vector<int64_t>{last});
}

// ---- CTC ----

// The forward (alpha) recursion of CTC over the extended labels (blank, l1, blank, l2, ..., blank) in log
// space, one step per frame, written in ops so autograd gives the gradient (and the second). log(0) is the
// finite kImpossible rather than -inf: logsumexp over all -inf states has a 0/0 gradient, a finite floor has
// none and absorbs every log-probability added to it; losses at or beyond kInfinite are the impossible
// alignments.
constexpr double kImpossible = -1e30;
constexpr double kInfinite = 1e29;

// log_probs [T, N, C], targets [N, S] (padded) or the concatenated 1-d form; returns the loss per sample [N].
Tensor ctc_negative_log_likelihood(const Tensor& log_probs, const Tensor& targets,
                                   const std::vector<int64_t>& input_lengths,
                                   const std::vector<int64_t>& target_lengths, int64_t blank) {
  const int64_t steps = log_probs.size(0), batch = log_probs.size(1), classes = log_probs.size(2);
  TD_CHECK_ARG(blank >= 0 && blank < classes, "[ctc_loss] blank must be in label range (blank ", blank, ", ",
               classes, " classes)");
  TD_CHECK_ARG(static_cast<int64_t>(input_lengths.size()) == batch,
               "[ctc_loss] input_lengths must be of size batch_size (", input_lengths.size(),
               " lengths, batch ", batch, ")");
  TD_CHECK_ARG(static_cast<int64_t>(target_lengths.size()) == batch,
               "[ctc_loss] target_lengths must be of size batch_size (", target_lengths.size(),
               " lengths, batch ", batch, ")");
  TD_CHECK_ARG(is_integral(targets.dtype()), "[ctc_loss] targets must hold integer class indices (got ",
               dtype_name(targets.dtype()), ")");
  int64_t max_target = 0, total_target = 0, max_input = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const int64_t il = input_lengths[static_cast<size_t>(n)], tl = target_lengths[static_cast<size_t>(n)];
    TD_CHECK_ARG(il >= 0 && il <= steps, "[ctc_loss] Expected input_lengths to have value at ",
                 il < 0 ? "least 0" : str("most ", steps), ", but got value ", il);
    TD_CHECK_ARG(tl >= 0, "[ctc_loss] Expected target_lengths to have value at least 0, but got value ", tl);
    max_target = std::max(max_target, tl);
    max_input = std::max(max_input, il);
    total_target += tl;
  }
  if (targets.dim() == 1) {
    TD_CHECK_ARG(targets.size(0) == total_target, "[ctc_loss] Expected tensor to have size ", total_target,
                 " at dimension 0, but got size ", targets.size(0),
                 " for argument #2 'targets' (the concatenated "
                 "targets hold sum(target_lengths) labels)");
  } else {
    TD_CHECK_ARG(targets.dim() == 2 && targets.size(0) == batch,
                 "[ctc_loss] targets must be [N, S] or 1-d, got ", shape_str(targets.sizes()), " for batch ",
                 batch);
    TD_CHECK_ARG(targets.size(1) >= max_target, "[ctc_loss] Expected tensor to have size at least ",
                 max_target, " at dimension 1, but got size ", targets.size(1), " for argument #2 'targets'");
  }
  // The extended labels, where two labels may be joined by skipping the blank between them, and each sample's
  // last two states, on the host.
  const std::vector<int64_t> labels = targets.to_vector<int64_t>();
  const int64_t states = 2 * max_target + 1;
  std::vector<int64_t> ext(static_cast<size_t>(batch * states), blank), ends(static_cast<size_t>(batch * 2));
  std::vector<bool> skip(static_cast<size_t>(batch * states), false),
      last_two(static_cast<size_t>(batch * 2));
  std::vector<bool> first_two(static_cast<size_t>(batch * states), false);
  int64_t offset = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const int64_t tl = target_lengths[static_cast<size_t>(n)];
    const int64_t start = targets.dim() == 1 ? offset : n * targets.size(1);
    offset += tl;
    for (int64_t k = 0; k < tl; ++k) {
      const int64_t label = labels[static_cast<size_t>(start + k)];
      TD_CHECK(label >= 0 && label < classes, ErrorCode::kOutOfRange, "[ctc_loss] target ", label,
               " is out of bounds for ", classes, " classes");
      const size_t s = static_cast<size_t>(n * states + 2 * k + 1);
      ext[s] = label;
      skip[s] = k > 0 && label != ext[s - 2];
    }
    first_two[static_cast<size_t>(n * states)] = true;
    if (tl > 0) first_two[static_cast<size_t>(n * states + 1)] = true;
    ends[static_cast<size_t>(2 * n)] = 2 * tl;
    ends[static_cast<size_t>(2 * n + 1)] = std::max<int64_t>(2 * tl - 1, 0);
    last_two[static_cast<size_t>(2 * n)] = true;
    last_two[static_cast<size_t>(2 * n + 1)] = tl > 0;
  }
  const Device device = log_probs.device();
  const Tensor ext_t = tensor(ext, {batch, states}, device);
  const Tensor skip_t = tensor_bool(skip, {batch, states}, device);
  const Tensor first_t = tensor_bool(first_two, {batch, states}, device);
  // Each frame's log-probability of each extended label: one gather, [T, N, states].
  Tensor emit = log_probs.gather(2, ext_t.unsqueeze(0).expand({steps, batch, states}));
  // Frame 0 starts in the first blank or the first label; a sample with no frames stays in the empty
  // alignment.
  std::vector<int64_t> lengths_n(input_lengths);
  const Tensor lengths = tensor(lengths_n, {batch, 1}, device);
  Tensor alpha = steps == 0 ? full({batch, states}, kImpossible, {log_probs.dtype(), device})
                            : emit.select(0, 0).where(first_t, kImpossible);
  Tensor empty_alignment = full({batch, states}, kImpossible, {log_probs.dtype(), device});
  empty_alignment = empty_alignment.index_fill(1, tensor(std::vector<int64_t>{0}, {1}, device), 0.0);
  alpha = alpha.where(lengths.gt(0), empty_alignment);
  for (int64_t t = 1; t < max_input; ++t) {
    Tensor stay = alpha;
    Tensor advance = alpha.pad({1, -1}, "constant", kImpossible);
    Tensor jump = alpha.pad({2, -2}, "constant", kImpossible).where(skip_t, kImpossible);
    Tensor next = Tensor::stack({stay, advance, jump}).logsumexp({0}).add(emit.select(0, t));
    alpha = next.where(lengths.gt(t), alpha);  // frames past a sample's length leave it as it was
  }
  Tensor end = alpha.gather(1, tensor(ends, {batch, 2}, device));
  end = end.where(tensor_bool(last_two, {batch, 2}, device), kImpossible);
  Tensor nll = end.logsumexp({1}).neg();
  return nll.where(nll.lt(kInfinite), std::numeric_limits<double>::infinity());
}

}  // namespace

void register_loss_ops(Registry& r) {
  r.def("mse_loss(Tensor self, Tensor target, str reduction=\"mean\") -> Tensor")
      .doc("(self - target)^2, reduced; input and target broadcast")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("mse_loss", x);
        check_broadcast("mse_loss", x, t);
        const Reduction red = reduction_of("mse_loss", a.string_at(2));
        Tensor d = x.sub(t);
        return one(apply_reduction(d.mul(d), red));
      });
  r.def("l1_loss(Tensor self, Tensor target, str reduction=\"mean\") -> Tensor")
      .doc("|self - target|, reduced; input and target broadcast")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("l1_loss", x);
        check_broadcast("l1_loss", x, t);
        const Reduction red = reduction_of("l1_loss", a.string_at(2));
        return one(apply_reduction(x.sub(t).abs(), red));
      });
  r.def("smooth_l1_loss(Tensor self, Tensor target, str reduction=\"mean\", float beta=1.0) -> Tensor")
      .doc("0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = self - target; beta = 0 is l1_loss")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("smooth_l1_loss", x);
        check_broadcast("smooth_l1_loss", x, t);
        const Reduction red = reduction_of("smooth_l1_loss", a.string_at(2));
        const double beta = a.float_at(3);
        TD_CHECK_ARG(beta >= 0, "[smooth_l1_loss] smooth_l1_loss does not support negative values for beta.");
        Tensor d = x.sub(t), ad = d.abs();
        if (beta == 0) return one(apply_reduction(ad, red));
        return one(apply_reduction(d.mul(d).mul(0.5 / beta).where(ad.lt(beta), ad.sub(0.5 * beta)), red));
      });
  r.def("huber_loss(Tensor self, Tensor target, str reduction=\"mean\", float delta=1.0) -> Tensor")
      .doc("0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), for d = self - target")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("huber_loss", x);
        check_broadcast("huber_loss", x, t);
        const Reduction red = reduction_of("huber_loss", a.string_at(2));
        const double delta = a.float_at(3);
        TD_CHECK_ARG(delta > 0, "[huber_loss] huber_loss does not support non-positive values for delta.");
        Tensor d = x.sub(t), ad = d.abs();
        return one(
            apply_reduction(d.mul(d).mul(0.5).where(ad.lt(delta), ad.sub(0.5 * delta).mul(delta)), red));
      });

  r.def(
       "nll_loss(Tensor self, Tensor target, Tensor? weight=None, str reduction=\"mean\", int "
       "ignore_index=-100) "
       "-> Tensor")
      .doc(
          "-weight[t] * self[n, t, ...] for class indices t (int64) of self [N, C, d...] or [C]; the mean "
          "divides by "
          "the weights of the targets not ignored")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &target = a.tensor(1);
        const Tensor weight = a.optional_tensor(2);
        check_floating("nll_loss", x);
        const Reduction red = reduction_of("nll_loss", a.string_at(3));
        check_class_targets("nll_loss", x, target, weight);
        return one(nll_loss(x, class_targets("nll_loss", x, target, weight, a.int_at(4)), red));
      });
  r.def(
       "cross_entropy_loss(Tensor self, Tensor target, Tensor? weight=None, str reduction=\"mean\", "
       "int ignore_index=-100, float label_smoothing=0.0) -> Tensor")
      .doc(
          "nll_loss of log_softmax(self) over the class dim (1, or 0 for [C]); a target of self's shape "
          "holds class "
          "probabilities")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &target = a.tensor(1);
        const Tensor weight = a.optional_tensor(2);
        check_floating("cross_entropy_loss", x);
        const Reduction red = reduction_of("cross_entropy_loss", a.string_at(3));
        const int64_t ignore_index = a.int_at(4);
        const double smoothing = a.float_at(5);
        TD_CHECK_ARG(x.dim() >= 1, "[cross_entropy_loss] Expected 1 or more dimensions (got ", x.dim(), ")");
        if (x.shape() == target.shape()) {
          TD_CHECK_ARG(
              is_floating(target.dtype()),
              "[cross_entropy_loss] Expected floating point type for target with class probabilities, got ",
              scalar_type_name(target.dtype()));
          TD_CHECK_ARG(ignore_index < 0,
                       "[cross_entropy_loss] ignore_index is not supported for floating point target");
          TD_CHECK_ARG(smoothing <= 1.0,
                       "[cross_entropy_loss] label_smoothing must be between 0.0 and 1.0. Got: ", smoothing);
          return one(cross_entropy_probabilities(x, target, weight, red, smoothing));
        }
        check_class_targets("cross_entropy_loss", x, target, weight);
        ClassTargets t = class_targets("cross_entropy_loss", x, target, weight, ignore_index);
        Tensor log_probs = x.log_softmax(class_dim_of(x));
        if (smoothing > 0) {
          TD_CHECK_ARG(smoothing <= 1.0,
                       "[cross_entropy_loss] label_smoothing must be between 0.0 and 1.0. Got: ", smoothing);
          return one(cross_entropy_smoothed(log_probs, t, weight, red, smoothing));
        }
        return one(nll_loss(log_probs, t, red));
      });

  r.def(
       "binary_cross_entropy(Tensor self, Tensor target, Tensor? weight=None, str reduction=\"mean\") -> "
       "Tensor")
      .doc("-weight (t log(x) + (1 - t) log(1 - x)) for probabilities x, each log clamped at -100")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        const Tensor weight = a.optional_tensor(2);
        check_floating("binary_cross_entropy", x);
        const Reduction red = reduction_of("binary_cross_entropy", a.string_at(3));
        check_same_size(
            "binary_cross_entropy", x, t,
            str("Using a target size (", shape_str(t.sizes()), ") that is different to the input size (",
                shape_str(x.sizes()), ") is deprecated. Please ensure they have the same size."));
        if (weight.defined()) check_broadcast("binary_cross_entropy", t, weight);
        // NaN fails the test too, as in PyTorch's kernel.
        TD_CHECK_ARG(x.numel() == 0 || x.ge(0).logical_and(x.le(1)).all().item<bool>(),
                     "[binary_cross_entropy] all elements of input should be between 0 and 1");
        Tensor loss = t.sub(1).mul(clamped_log(x.neg().add(1))).sub(t.mul(clamped_log(x)));
        if (weight.defined()) loss = loss.mul(weight);
        return one(apply_reduction(loss, red));
      });
  r.def(
       "binary_cross_entropy_with_logits(Tensor self, Tensor target, Tensor? weight=None, Tensor? "
       "pos_weight=None, "
       "str reduction=\"mean\") -> Tensor")
      .doc(
          "binary_cross_entropy(sigmoid(self)) computed stably from the logits; pos_weight scales the "
          "positive term")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        const Tensor weight = a.optional_tensor(2), pos_weight = a.optional_tensor(3);
        check_floating("binary_cross_entropy_with_logits", x);
        const Reduction red = reduction_of("binary_cross_entropy_with_logits", a.string_at(4));
        check_same_size("binary_cross_entropy_with_logits", x, t,
                        str("Target size (", shape_str(t.sizes()), ") must be the same as input size (",
                            shape_str(x.sizes()), ")"));
        if (weight.defined()) check_broadcast("binary_cross_entropy_with_logits", x, weight);
        if (pos_weight.defined()) check_broadcast("binary_cross_entropy_with_logits", x, pos_weight);
        // PyTorch's formula: log(1 + exp(-x)) = m + log(exp(-m) + exp(-x - m)) with m = max(-x, 0), so no exp
        // overflows; its derivative in m is 0, so the kink of the clamp does not reach the gradient.
        Tensor m = x.neg().clamp(0.0);
        Tensor softplus_neg = m.neg().exp().add(x.neg().sub(m).exp()).log().add(m);
        Tensor loss = t.neg().add(1).mul(x);
        if (pos_weight.defined()) {
          loss = loss.add(pos_weight.sub(1).mul(t).add(1).mul(softplus_neg));
        } else {
          loss = loss.add(softplus_neg);
        }
        if (weight.defined()) loss = loss.mul(weight);
        return one(apply_reduction(loss, red));
      });

  r.def("kl_div(Tensor self, Tensor target, str reduction=\"mean\", *, bool log_target=False) -> Tensor")
      .doc(
          "target (log(target) - self) for log-probabilities self; reduction may also be \"batchmean\" (sum "
          "/ N)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("kl_div", x);
        check_broadcast("kl_div", x, t);
        const std::string& name = a.string_at(2);
        const bool batchmean = name == "batchmean";
        const Reduction red = batchmean ? Reduction::kSum : reduction_of("kl_div", name);
        Tensor loss = a.bool_at(3) ? t.exp().mul(t.sub(x)) : t.xlogy(t).sub(t.mul(x));
        Tensor out = apply_reduction(loss, red);
        if (batchmean && x.dim() != 0) out = out.div(static_cast<double>(x.size(0)));
        return one(out);
      });

  r.def(
       "cosine_embedding_loss(Tensor input1, Tensor input2, Tensor target, float margin=0.0, "
       "str reduction=\"mean\") -> Tensor")
      .doc(
          "1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; rows of [N, D] or "
          "one [D]")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x1 = a.tensor(0), &x2 = a.tensor(1), &t = a.tensor(2);
        check_floating("cosine_embedding_loss", x1);
        const Reduction red = reduction_of("cosine_embedding_loss", a.string_at(4));
        const int64_t tdim = t.dim();
        TD_CHECK_ARG(tdim == 0 || tdim == 1,
                     "[cosine_embedding_loss] 0D or 1D target tensor expected, multi-target not supported");
        TD_CHECK_ARG(x1.dim() == tdim + 1 && x2.dim() == tdim + 1, "[cosine_embedding_loss] ", tdim,
                     "D target tensor expects ", tdim + 1, "D input tensors, but found inputs with sizes ",
                     shape_str(x1.sizes()), " and ", shape_str(x2.sizes()), ".");
        constexpr double kEps = 1e-12;  // PyTorch's EPSILON in the squared magnitudes
        Tensor prod = x1.mul(x2).sum({tdim});
        Tensor mag1 = x1.mul(x1).sum({tdim}).add(kEps), mag2 = x2.mul(x2).sum({tdim}).add(kEps);
        Tensor cos = prod.div(mag1.mul(mag2).sqrt());
        Tensor pos = cos.neg().add(1).where(t.eq(1), 0.0);
        Tensor neg = cos.sub(a.float_at(3)).clamp(0.0).where(t.eq(-1), 0.0);
        return one(apply_reduction(pos.add(neg), red));
      });
  r.def(
       "margin_ranking_loss(Tensor input1, Tensor input2, Tensor target, float margin=0.0, "
       "str reduction=\"mean\") -> Tensor")
      .doc("max(0, -target (input1 - input2) + margin), target 1 or -1")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x1 = a.tensor(0), &x2 = a.tensor(1), &t = a.tensor(2);
        check_floating("margin_ranking_loss", x1);
        const Reduction red = reduction_of("margin_ranking_loss", a.string_at(4));
        TD_CHECK_ARG(
            x1.dim() == x2.dim() && x1.dim() == t.dim(),
            "[margin_ranking_loss] margin_ranking_loss : All input tensors should have same dimension but "
            "got sizes: input1: ",
            shape_str(x1.sizes()), ", input2: ", shape_str(x2.sizes()), ", target: ", shape_str(t.sizes()));
        check_broadcast("margin_ranking_loss", x1, x2);
        check_broadcast("margin_ranking_loss", x1, t);
        return one(apply_reduction(t.neg().mul(x1.sub(x2)).add(a.float_at(3)).clamp(0.0), red));
      });
  r.def(
       "triplet_margin_loss(Tensor anchor, Tensor positive, Tensor negative, float margin=1.0, float p=2, "
       "float eps=1e-06, bool swap=False, str reduction=\"mean\") -> Tensor")
      .doc(
          "max(0, margin + d(anchor, positive) - d(anchor, negative)) with d the pairwise p-distance; swap "
          "takes "
          "the smaller of d(a, n) and d(p, n)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &anchor = a.tensor(0), &pos = a.tensor(1), &neg = a.tensor(2);
        check_floating("triplet_margin_loss", anchor);
        const Reduction red = reduction_of("triplet_margin_loss", a.string_at(7));
        TD_CHECK_ARG(anchor.dim() == pos.dim() && pos.dim() == neg.dim(),
                     "[triplet_margin_loss] All inputs should have same dimension but got ", anchor.dim(),
                     "D, ", pos.dim(), "D and ", neg.dim(), "D inputs.");
        TD_CHECK_ARG(anchor.dim() >= 1,
                     "[triplet_margin_loss] inputs need at least 1 dimension (got 0D inputs)");
        check_broadcast("triplet_margin_loss", anchor, pos);
        check_broadcast("triplet_margin_loss", anchor, neg);
        const double margin = a.float_at(3), p = a.float_at(4), eps = a.float_at(5);
        Tensor d_pos = pairwise_distance(anchor, pos, p, eps);
        Tensor d_neg = pairwise_distance(anchor, neg, p, eps);
        if (a.bool_at(6)) d_neg = d_neg.minimum(pairwise_distance(pos, neg, p, eps));
        return one(apply_reduction(d_pos.sub(d_neg).add(margin).clamp(0.0), red));
      });
  r.def("soft_margin_loss(Tensor self, Tensor target, str reduction=\"mean\") -> Tensor")
      .doc("log(1 + exp(-target * self)), target 1 or -1")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("soft_margin_loss", x);
        check_broadcast("soft_margin_loss", x, t);
        const Reduction red = reduction_of("soft_margin_loss", a.string_at(2));
        return one(apply_reduction(x.neg().mul(t).exp().log1p(), red));
      });
  r.def(
       "hinge_embedding_loss(Tensor self, Tensor target, float margin=1.0, str reduction=\"mean\") -> Tensor")
      .doc("self where target is 1, max(0, margin - self) where it is -1")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("hinge_embedding_loss", x);
        check_broadcast("hinge_embedding_loss", x, t);
        const Reduction red = reduction_of("hinge_embedding_loss", a.string_at(3));
        Tensor margin_term = x.neg().add(a.float_at(2)).clamp(0.0).where(t.ne(1), 0.0);
        Tensor self_term = x.where(t.ne(-1), 0.0);
        return one(apply_reduction(margin_term.add(self_term), red));
      });
  r.def(
       "poisson_nll_loss(Tensor input, Tensor target, bool log_input=True, bool full=False, float eps=1e-08, "
       "str reduction=\"mean\") -> Tensor")
      .doc(
          "exp(input) - target input (log_input), else input - target log(input + eps); full adds Stirling's "
          "term "
          "where target > 1")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        check_floating("poisson_nll_loss", x);
        check_broadcast("poisson_nll_loss", x, t);
        const Reduction red = reduction_of("poisson_nll_loss", a.string_at(5));
        Tensor loss = a.bool_at(2) ? x.exp().sub(t.mul(x)) : x.sub(t.mul(x.add(a.float_at(4)).log()));
        if (a.bool_at(3)) {
          // t log t - t + 0.5 log(2 pi t), 0 where t <= 1; the logs see 2 there, so no log(0) reaches a
          // gradient.
          Tensor big = t.gt(1);
          Tensor ts = t.where(big, 2.0);
          Tensor stirling = ts.mul(ts.log()).sub(ts).add(ts.mul(2 * std::numbers::pi).log().mul(0.5));
          loss = loss.add(stirling.where(big, 0.0));
        }
        return one(apply_reduction(loss, red));
      });
  r.def(
       "gaussian_nll_loss(Tensor input, Tensor target, Tensor var, bool full=False, float eps=1e-06, "
       "str reduction=\"mean\") -> Tensor")
      .doc(
          "0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) if full); var one "
          "per "
          "element or one per row (its last dim 1 or missing)")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &t = a.tensor(1);
        Tensor var = a.tensor(2);
        check_floating("gaussian_nll_loss", x);
        check_broadcast("gaussian_nll_loss", x, t);
        if (var.shape() != x.shape()) {
          std::vector<int64_t> rows = x.shape();
          if (!rows.empty()) rows.pop_back();
          std::vector<int64_t> var_rows = var.shape();
          if (!var_rows.empty()) var_rows.pop_back();
          if (x.dim() >= 1 && var.shape() == rows) {
            var = var.unsqueeze(-1);
          } else {
            TD_CHECK_ARG(x.dim() >= 1 && var.dim() == x.dim() && var_rows == rows && var.size(-1) == 1,
                         "[gaussian_nll_loss] var is of incorrect size (var ", shape_str(var.sizes()),
                         ", input ", shape_str(x.sizes()), ")");
          }
        }
        const Reduction red = reduction_of("gaussian_nll_loss", a.string_at(5));
        TD_CHECK_ARG(var.numel() == 0 || !var.lt(0).any().item<bool>(),
                     "[gaussian_nll_loss] var has negative entry/entries");
        // PyTorch clamps a clone of var in place under no_grad: the value is clamped, the gradient passes as
        // if it were not. c + (var - var) is exactly c, with var's gradient.
        Tensor clamped = var.detach().clamp(a.float_at(4)).add(var.sub(var.detach()));
        Tensor d = x.sub(t);
        Tensor loss = clamped.log().add(d.mul(d).div(clamped)).mul(0.5);
        if (a.bool_at(3)) loss = loss.add(0.5 * std::log(2 * std::numbers::pi));
        return one(apply_reduction(loss, red));
      });
  r.def(
       "ctc_loss(Tensor log_probs, Tensor targets, int[] input_lengths, int[] target_lengths, int blank=0, "
       "str reduction=\"mean\", bool zero_infinity=False) -> Tensor")
      .doc(
          "connectionist temporal classification: -log of the total probability of the alignments of each "
          "target to "
          "log_probs [T, N, C] (or [T, C]); \"mean\" divides each loss by its target length first")
      .composite()
      .forward([](const Args& a) {
        const Tensor& log_probs = a.tensor(0);
        const Tensor& targets = a.tensor(1);
        check_floating("ctc_loss", log_probs);
        const Reduction red = reduction_of("ctc_loss", a.string_at(5));
        TD_CHECK_ARG(log_probs.dim() == 3 || log_probs.dim() == 2,
                     "[ctc_loss] log_probs must be [T, N, C] or [T, C] (got ", shape_str(log_probs.sizes()),
                     ")");
        const bool batched = log_probs.dim() == 3;
        Tensor nll = ctc_negative_log_likelihood(batched ? log_probs : log_probs.unsqueeze(1),
                                                 batched ? targets : targets.unsqueeze(0), a.ints(2),
                                                 a.ints(3), a.int_at(4));
        if (a.bool_at(6)) nll = nll.where(nll.isinf().logical_not(), 0.0);
        if (!batched) nll = nll.squeeze(0);
        if (red != Reduction::kMean) return one(apply_reduction(nll, red));
        std::vector<double> lengths;
        for (int64_t l : a.ints(3)) lengths.push_back(static_cast<double>(std::max<int64_t>(l, 1)));
        Tensor divisor =
            tensor(lengths, {static_cast<int64_t>(lengths.size())}, log_probs.device()).to(log_probs.dtype());
        return one(nll.div(batched ? divisor : divisor.squeeze(0)).mean());
      });
}

}  // namespace td
