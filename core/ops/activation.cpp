// Activation functions of torch.nn.functional with aten's names and arguments (leaky_relu, elu, selu, celu,
// gelu, silu, mish, hardtanh, relu6, hardswish, hardsigmoid, softplus, softsign, threshold, glu, prelu,
// log_sigmoid, tanhshrink, softshrink, hardshrink, rrelu) and the dropout family (dropout, feature_dropout,
// alpha_dropout, feature_alpha_dropout). Each is written in other ops, so its gradient (and second gradient)
// is theirs; piecewise functions pick their pieces with `where`, and a piece that could overflow where it is
// not used gets a clamped input, so no NaN leaks into the gradient through an unused branch. At the points
// where a piece starts, the gradient is the one PyTorch's backward kernel gives (hardtanh passes none at its
// bounds, leaky_relu takes the slope at 0).
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/ops/registry.h"
#include "core/random/generator.h"

namespace td {

namespace {

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

void check_floating(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(is_floating(x.dtype()), "[", op, "] \"", op, "\" not implemented for '", dtype_name(x.dtype()),
               "': activations take floating tensors");
}

// The pieces below are picked by "not (x <= t)" rather than "x > t" where PyTorch's kernels test it that way
// round, so a NaN input stays NaN as in PyTorch.

// value where x <= threshold, else x: PyTorch's threshold (no gradient to the replaced elements).
Tensor threshold(const Tensor& x, double th, double value) { return x.where(x.le(th).logical_not(), value); }

// PyTorch's hardtanh: values clamped to [lo, hi]; the gradient passes only strictly inside.
Tensor hardtanh(const Tensor& x, double lo, double hi) {
  return x.where(x.le(lo).logical_not(), lo).where(x.ge(hi).logical_not(), hi);
}

Tensor elu(const Tensor& x, double alpha, double scale, double input_scale) {
  // The exponential piece sees min(x, 0): exp of a large x, unused there, would overflow.
  Tensor negative = x.clamp(std::nullopt, 0.0).mul(input_scale).expm1().mul(alpha * scale);
  return x.mul(scale).where(x.gt(0), negative);
}

Tensor softplus(const Tensor& x, double beta, double th) {
  Tensor bx = x.mul(beta);
  Tensor smooth = bx.clamp(std::nullopt, th).exp().log1p().div(beta);
  return x.where(bx.gt(th), smooth);
}

// PyTorch's empty(...).bernoulli_(1 - p): one scalar probability, so no tensor of probabilities is made,
// converted and checked on the device for every dropout.
Tensor dropout_mask(const Tensor& x, double p, std::vector<int64_t> shape) {
  return random::bernoulli(empty(shape, {x.dtype(), x.device()}), 1 - p);
}

void check_p(std::string_view op, double p) {
  TD_CHECK_ARG(p >= 0 && p <= 1, "[", op, "] dropout probability has to be between 0 and 1, but got ", p);
}

// The mask shape of feature dropout: one draw per (batch, channel) plane.
std::vector<int64_t> feature_shape(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(x.dim() >= 2, "[", op, "] Feature dropout requires at least 2 dimensions in the input (got shape ",
               shape_str(x.shape()), ")");
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  shape[1] = x.size(1);
  return shape;
}

// PyTorch's _dropout_impl: the mask scaled by 1 / (1 - p) in place (it needs no gradient), then one product,
// so the forward and the backward each make one pass over x's size, where x * mask / (1 - p) made two.
Tensor dropout(const Tensor& x, double p, bool train, std::vector<int64_t> mask_shape) {
  if (!train || p == 0 || x.numel() == 0) return x;
  if (p == 1) return x.mul(0);
  Tensor noise = dropout_mask(x, p, std::move(mask_shape));
  noise.div_(1 - p);
  return x.mul(noise);
}

// alpha dropout keeps SELU's mean and variance: dropped units become alpha' = -scale*alpha, then an affine map.
Tensor alpha_dropout(const Tensor& x, double p, bool train, std::vector<int64_t> mask_shape) {
  if (!train || p == 0 || x.numel() == 0) return x;
  if (p == 1) return x.mul(0);
  constexpr double kAlpha = 1.7580993408473766;  // scale * alpha of SELU
  const double a = 1 / std::sqrt((kAlpha * kAlpha * p + 1) * (1 - p));
  Tensor keep = dropout_mask(x, p, std::move(mask_shape));
  Tensor b = keep.sub(1).mul(kAlpha * a).add(kAlpha * a * p);
  return x.mul(keep.mul(a)).add(b);
}

}  // namespace

void register_activation_ops(Registry& r) {
  r.def("leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor")
      .doc("x if x > 0 else negative_slope * x")
      .composite()
      .forward([](const Args& a) {
        check_floating("leaky_relu", a.tensor(0));
        const Tensor& x = a.tensor(0);
        return one(x.where(x.gt(0), x.mul(a.scalar(1))));
      });
  r.def("elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor")
      .doc("scale * x if x > 0 else scale * alpha * (exp(input_scale * x) - 1)")
      .composite()
      .forward([](const Args& a) {
        check_floating("elu", a.tensor(0));
        return one(elu(a.tensor(0), a.float_at(1), a.float_at(2), a.float_at(3)));
      });
  r.def("selu(Tensor self) -> Tensor")
      .doc("elu with alpha = 1.6732632423543772, scale = 1.0507009873554805 (self-normalising)")
      .composite()
      .forward([](const Args& a) {
        check_floating("selu", a.tensor(0));
        return one(elu(a.tensor(0), 1.6732632423543772848170429916717, 1.0507009873554804934193349852946, 1));
      });
  r.def("celu(Tensor self, Scalar alpha=1.0) -> Tensor")
      .doc("max(0, x) + min(0, alpha * (exp(x / alpha) - 1))")
      .composite()
      .forward([](const Args& a) {
        check_floating("celu", a.tensor(0));
        const double alpha = a.float_at(1);
        TD_CHECK_ARG(alpha != 0, "[celu] ZeroDivisionError: alpha must not be 0");
        return one(elu(a.tensor(0), alpha, 1, 1 / alpha));
      });
  r.def("gelu(Tensor self, *, str approximate=\"none\") -> Tensor")
      .doc("x * Phi(x), or with approximate='tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("gelu", x);
        const std::string& approx = a.string_at(1);
        if (approx == "none") return one(x.mul(x.mul(std::numbers::sqrt2 / 2).erf().add(1)).mul(0.5));
        TD_CHECK_ARG(approx == "tanh", "[gelu] approximate argument must be either none or tanh, got '", approx, "'");
        const double k = std::sqrt(2 / std::numbers::pi);
        Tensor inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(k);
        return one(x.mul(inner.tanh().add(1)).mul(0.5));
      });
  r.def("silu(Tensor self) -> Tensor").doc("x * sigmoid(x)").composite().forward([](const Args& a) {
    check_floating("silu", a.tensor(0));
    return one(a.tensor(0).mul(a.tensor(0).sigmoid()));
  });
  r.def("mish(Tensor self) -> Tensor").doc("x * tanh(softplus(x))").composite().forward([](const Args& a) {
    check_floating("mish", a.tensor(0));
    return one(a.tensor(0).mul(softplus(a.tensor(0), 1, 20).tanh()));
  });
  r.def("hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor")
      .doc("x clamped to [min_val, max_val]; no gradient at or beyond the bounds")
      .composite()
      .forward([](const Args& a) {
        check_floating("hardtanh", a.tensor(0));
        const double lo = a.float_at(1), hi = a.float_at(2);
        TD_CHECK_ARG(lo <= hi, "[hardtanh] min_val cannot be greater than max_val (got ", lo, " and ", hi, ")");
        return one(hardtanh(a.tensor(0), lo, hi));
      });
  r.def("relu6(Tensor self) -> Tensor").doc("hardtanh(x, 0, 6)").composite().forward([](const Args& a) {
    check_floating("relu6", a.tensor(0));
    return one(hardtanh(a.tensor(0), 0, 6));
  });
  r.def("hardswish(Tensor self) -> Tensor").doc("x * relu6(x + 3) / 6").composite().forward([](const Args& a) {
    check_floating("hardswish", a.tensor(0));
    // Pieces chosen so the gradient is PyTorch's at the joins too: (2x + 3) / 6 on [-3, 3], 0 below, 1 above.
    const Tensor& x = a.tensor(0);
    Tensor middle = x.mul(x.add(3)).div(6);
    return one(middle.where(x.gt(3).logical_not(), x).where(x.lt(-3).logical_not(), 0.0));
  });
  r.def("hardsigmoid(Tensor self) -> Tensor").doc("relu6(x + 3) / 6").composite().forward([](const Args& a) {
    check_floating("hardsigmoid", a.tensor(0));
    return one(hardtanh(a.tensor(0).add(3), 0, 6).div(6));
  });
  r.def("softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor")
      .doc("log(1 + exp(beta x)) / beta, or x where beta x > threshold")
      .composite()
      .forward([](const Args& a) {
        check_floating("softplus", a.tensor(0));
        return one(softplus(a.tensor(0), a.float_at(1), a.float_at(2)));
      });
  r.def("softsign(Tensor self) -> Tensor").doc("x / (1 + |x|)").composite().forward([](const Args& a) {
    check_floating("softsign", a.tensor(0));
    return one(a.tensor(0).div(a.tensor(0).abs().add(1)));
  });
  r.def("threshold(Tensor self, Scalar threshold, Scalar value) -> Tensor")
      .doc("x if x > threshold else value")
      .composite()
      .forward([](const Args& a) {
        check_floating("threshold", a.tensor(0));
        return one(threshold(a.tensor(0), a.float_at(1), a.float_at(2)));
      });
  r.def("glu(Tensor self, int dim=-1) -> Tensor")
      .doc("a * sigmoid(b) for the two halves a, b of self along dim")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("glu", x);
        TD_CHECK_ARG(x.dim() > 0, "[glu] glu does not support scalars because halving size must be even");
        const int64_t d = a.int_at(1) < 0 ? a.int_at(1) + x.dim() : a.int_at(1);
        TD_CHECK(d >= 0 && d < x.dim(), ErrorCode::kOutOfRange, "[glu] Dimension out of range (expected to be in range of [",
                 -x.dim(), ", ", x.dim() - 1, "], but got ", a.int_at(1), ")");
        TD_CHECK_ARG(x.size(d) % 2 == 0, "[glu] Halving dimension must be even, but dimension ", d, " is size ",
                     x.size(d));
        const int64_t h = x.size(d) / 2;
        return one(x.narrow(d, 0, h).mul(x.narrow(d, h, h).sigmoid()));
      });
  r.def("prelu(Tensor self, Tensor weight) -> Tensor")
      .doc("x if x > 0 else weight * x, weight per channel (dim 1) or one for all")
      .composite()
      .forward([](const Args& a) {
        const Tensor &x = a.tensor(0), &w = a.tensor(1);
        check_floating("prelu", x);
        const int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
        TD_CHECK_ARG(w.dim() <= 1, "[prelu] weight must be a scalar or 1-D tensor (got shape ", shape_str(w.shape()), ")");
        TD_CHECK_ARG(w.numel() == 1 || w.numel() == channels, "[prelu] Mismatch of parameter numbers and input channel "
                     "size. Found parameter numbers = ", w.numel(), " and channel size = ", channels, ".");
        Tensor wb = w;
        if (w.numel() > 1) {
          std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
          shape[1] = channels;
          wb = w.reshape(shape);
        } else {
          wb = w.reshape({});
        }
        return one(x.where(x.gt(0), x.mul(wb)));
      });
  r.def("log_sigmoid(Tensor self) -> Tensor")
      .doc("log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), without overflow")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("log_sigmoid", x);
        // -log1p(exp(-x)) for x >= 0, x - log1p(exp(x)) below: each piece sees only the inputs it is used
        // for (clamped), so neither overflows, and the gradient at 0 is sigmoid(-0) = 0.5 as in PyTorch.
        Tensor upper = x.clamp(0.0, std::nullopt).neg().exp().log1p().neg();
        Tensor lower = x.clamp(std::nullopt, 0.0);
        lower = lower.sub(lower.exp().log1p());
        return one(upper.where(x.ge(0), lower));
      });
  r.def("tanhshrink(Tensor self) -> Tensor").doc("x - tanh(x)").composite().forward([](const Args& a) {
    check_floating("tanhshrink", a.tensor(0));
    return one(a.tensor(0).sub(a.tensor(0).tanh()));
  });
  r.def("softshrink(Tensor self, Scalar lambd=0.5) -> Tensor")
      .doc("x - lambd if x > lambd, x + lambd if x < -lambd, else 0")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("softshrink", x);
        const double l = a.float_at(1);
        TD_CHECK_ARG(l >= 0, "[softshrink] lambda must be greater or equal to 0, but found to be ", l, ".");
        return one(x.sub(l).where(x.gt(l), x.add(l).where(x.lt(-l), 0.0)));
      });
  r.def("hardshrink(Tensor self, Scalar lambd=0.5) -> Tensor")
      .doc("x if |x| > lambd else 0")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("hardshrink", x);
        const double l = a.float_at(1);
        return one(x.where(x.ge(-l).logical_and(x.le(l)).logical_not(), 0.0));
      });
  r.def("rrelu(Tensor self, Scalar lower=0.125, Scalar upper=0.3333333333333333, bool training=False) -> Tensor")
      .doc("leaky_relu with a slope drawn from U(lower, upper) per element in training, (lower + upper) / 2 in eval")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("rrelu", x);
        const double lo = a.float_at(1), hi = a.float_at(2);
        TD_CHECK_ARG(lo <= hi, "[rrelu] Lower bound should be less than or equal to the upper bound");
        if (!a.bool_at(3)) return one(x.where(x.gt(0), x.mul((lo + hi) / 2)));
        Tensor slope = empty(x.shape(), {x.dtype(), x.device()});
        random::uniform_(slope, lo, hi);
        return one(x.where(x.gt(0), x.mul(slope)));
      });

  r.def("dropout(Tensor input, float p, bool train) -> Tensor")
      .doc("in training, zeroes each element with probability p and scales the rest by 1/(1-p)")
      .composite()
      .forward([](const Args& a) {
        check_p("dropout", a.float_at(1));
        return one(dropout(a.tensor(0), a.float_at(1), a.bool_at(2), a.tensor(0).shape()));
      });
  r.def("feature_dropout(Tensor input, float p, bool train) -> Tensor")
      .doc("dropout of whole channels (Dropout1d/2d/3d): one draw per (batch, channel)")
      .composite()
      .forward([](const Args& a) {
        check_p("feature_dropout", a.float_at(1));
        return one(dropout(a.tensor(0), a.float_at(1), a.bool_at(2), feature_shape("feature_dropout", a.tensor(0))));
      });
  r.def("alpha_dropout(Tensor input, float p, bool train) -> Tensor")
      .doc("dropout that keeps SELU's zero mean and unit variance")
      .composite()
      .forward([](const Args& a) {
        check_p("alpha_dropout", a.float_at(1));
        return one(alpha_dropout(a.tensor(0), a.float_at(1), a.bool_at(2), a.tensor(0).shape()));
      });
  r.def("feature_alpha_dropout(Tensor input, float p, bool train) -> Tensor")
      .doc("alpha dropout of whole channels")
      .composite()
      .forward([](const Args& a) {
        check_p("feature_alpha_dropout", a.float_at(1));
        return one(alpha_dropout(a.tensor(0), a.float_at(1), a.bool_at(2),
                                 feature_shape("feature_alpha_dropout", a.tensor(0))));
      });
}

}  // namespace td
