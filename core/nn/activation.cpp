// Activation and dropout layers: thin callers of the registry ops (core/ops/activation.cpp).
#include "core/nn/activation.h"

#include "core/error.h"
#include "core/nn/init.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace functional {
namespace {
Tensor op(std::string_view name, std::vector<Value> args) { return call_op(name, std::move(args)).at(0); }
}  // namespace

Tensor leaky_relu(const Tensor& x, double slope) { return op("leaky_relu", {x, Scalar(slope)}); }
Tensor elu(const Tensor& x, double alpha) { return op("elu", {x, Scalar(alpha), Scalar(1.0), Scalar(1.0)}); }
Tensor selu(const Tensor& x) { return op("selu", {x}); }
Tensor celu(const Tensor& x, double alpha) { return op("celu", {x, Scalar(alpha)}); }
Tensor gelu(const Tensor& x, const std::string& approximate) { return op("gelu", {x, approximate}); }
Tensor silu(const Tensor& x) { return op("silu", {x}); }
Tensor mish(const Tensor& x) { return op("mish", {x}); }
Tensor hardtanh(const Tensor& x, double lo, double hi) { return op("hardtanh", {x, Scalar(lo), Scalar(hi)}); }
Tensor relu6(const Tensor& x) { return op("relu6", {x}); }
Tensor hardswish(const Tensor& x) { return op("hardswish", {x}); }
Tensor hardsigmoid(const Tensor& x) { return op("hardsigmoid", {x}); }
Tensor softplus(const Tensor& x, double beta, double th) { return op("softplus", {x, Scalar(beta), Scalar(th)}); }
Tensor softsign(const Tensor& x) { return op("softsign", {x}); }
Tensor threshold(const Tensor& x, double th, double value) { return op("threshold", {x, Scalar(th), Scalar(value)}); }
Tensor glu(const Tensor& x, int64_t dim) { return op("glu", {x, Scalar(dim)}); }
Tensor prelu(const Tensor& x, const Tensor& weight) { return op("prelu", {x, weight}); }
Tensor logsigmoid(const Tensor& x) { return op("log_sigmoid", {x}); }
Tensor tanhshrink(const Tensor& x) { return op("tanhshrink", {x}); }
Tensor softshrink(const Tensor& x, double lambd) { return op("softshrink", {x, Scalar(lambd)}); }
Tensor hardshrink(const Tensor& x, double lambd) { return op("hardshrink", {x, Scalar(lambd)}); }
Tensor rrelu(const Tensor& x, double lower, double upper, bool training) {
  return op("rrelu", {x, Scalar(lower), Scalar(upper), Scalar(training)});
}
Tensor softmin(const Tensor& x, int64_t dim) { return x.neg().softmax(dim); }
Tensor dropout(const Tensor& x, double p, bool training) { return op("dropout", {x, p, Scalar(training)}); }

namespace {
// PyTorch's dropout1d/2d/3d: the expected ranks, an unbatched input treated as a batch of one.
Tensor feature_dropout_of_rank(std::string_view name, const Tensor& x, double p, bool training, int64_t batched) {
  TD_CHECK_ARG(x.dim() == batched || x.dim() == batched - 1, "[", name, "] ", name, ": Expected ", batched - 1,
               "D or ", batched, "D input, but received a ", x.dim(), "D input");
  if (x.dim() == batched) return op("feature_dropout", {x, p, Scalar(training)});
  return op("feature_dropout", {x.unsqueeze(0), p, Scalar(training)}).squeeze(0);
}
}  // namespace

Tensor dropout1d(const Tensor& x, double p, bool training) {
  return feature_dropout_of_rank("dropout1d", x, p, training, 3);
}
Tensor dropout2d(const Tensor& x, double p, bool training) {
  return feature_dropout_of_rank("dropout2d", x, p, training, 4);
}
Tensor dropout3d(const Tensor& x, double p, bool training) {
  return feature_dropout_of_rank("dropout3d", x, p, training, 5);
}
Tensor alpha_dropout(const Tensor& x, double p, bool training) { return op("alpha_dropout", {x, p, Scalar(training)}); }
Tensor feature_alpha_dropout(const Tensor& x, double p, bool training) {
  return op("feature_alpha_dropout", {x, p, Scalar(training)});
}
}  // namespace functional

namespace {
using detail::py_float;

std::shared_ptr<Module> activation(std::string name, std::function<Tensor(const Tensor&)> fn, std::string extra = "") {
  return std::make_shared<Activation>(std::move(name), std::move(fn), std::move(extra));
}
}  // namespace

Activation::Activation(std::string type_name, std::function<Tensor(const Tensor&)> fn, std::string extra)
    : Module(std::move(type_name)), fn_(std::move(fn)), extra_(std::move(extra)) {}

namespace F = functional;

std::shared_ptr<Module> LeakyReLU(double s) {
  return activation("LeakyReLU", [s](const Tensor& x) { return F::leaky_relu(x, s); }, "negative_slope=" + py_float(s));
}
std::shared_ptr<Module> ELU(double a) {
  return activation("ELU", [a](const Tensor& x) { return F::elu(x, a); }, "alpha=" + py_float(a));
}
std::shared_ptr<Module> SELU() { return activation("SELU", [](const Tensor& x) { return F::selu(x); }); }
std::shared_ptr<Module> CELU(double a) {
  return activation("CELU", [a](const Tensor& x) { return F::celu(x, a); }, "alpha=" + py_float(a));
}
std::shared_ptr<Module> GELU(const std::string& approx) {
  return activation("GELU", [approx](const Tensor& x) { return F::gelu(x, approx); }, "approximate='" + approx + "'");
}
std::shared_ptr<Module> SiLU() { return activation("SiLU", [](const Tensor& x) { return F::silu(x); }); }
std::shared_ptr<Module> Mish() { return activation("Mish", [](const Tensor& x) { return F::mish(x); }); }
std::shared_ptr<Module> Hardtanh(double lo, double hi) {
  return activation("Hardtanh", [lo, hi](const Tensor& x) { return F::hardtanh(x, lo, hi); },
                    "min_val=" + py_float(lo) + ", max_val=" + py_float(hi));
}
std::shared_ptr<Module> ReLU6() { return activation("ReLU6", [](const Tensor& x) { return F::relu6(x); }); }
std::shared_ptr<Module> Hardswish() { return activation("Hardswish", [](const Tensor& x) { return F::hardswish(x); }); }
std::shared_ptr<Module> Hardsigmoid() {
  return activation("Hardsigmoid", [](const Tensor& x) { return F::hardsigmoid(x); });
}
std::shared_ptr<Module> Softplus(double beta, double th) {
  return activation("Softplus", [beta, th](const Tensor& x) { return F::softplus(x, beta, th); },
                    "beta=" + py_float(beta) + ", threshold=" + py_float(th));
}
std::shared_ptr<Module> Softsign() { return activation("Softsign", [](const Tensor& x) { return F::softsign(x); }); }
std::shared_ptr<Module> Threshold(double th, double value) {
  return activation("Threshold", [th, value](const Tensor& x) { return F::threshold(x, th, value); },
                    "threshold=" + py_float(th) + ", value=" + py_float(value));
}
std::shared_ptr<Module> GLU(int64_t dim) {
  return activation("GLU", [dim](const Tensor& x) { return F::glu(x, dim); }, "dim=" + std::to_string(dim));
}
std::shared_ptr<Module> LogSigmoid() {
  return activation("LogSigmoid", [](const Tensor& x) { return F::logsigmoid(x); });
}
std::shared_ptr<Module> Tanhshrink() {
  return activation("Tanhshrink", [](const Tensor& x) { return F::tanhshrink(x); });
}
std::shared_ptr<Module> Softshrink(double l) {
  return activation("Softshrink", [l](const Tensor& x) { return F::softshrink(x, l); }, py_float(l));
}
std::shared_ptr<Module> Hardshrink(double l) {
  return activation("Hardshrink", [l](const Tensor& x) { return F::hardshrink(x, l); }, py_float(l));
}
std::shared_ptr<Module> Softmin(int64_t dim) {
  return activation("Softmin", [dim](const Tensor& x) { return F::softmin(x, dim); }, "dim=" + std::to_string(dim));
}

PReLU::PReLU(int64_t n, double init_value, TensorOptions options) : Module("PReLU"), num_parameters(n) {
  options.requires_grad = false;
  weight = register_parameter("weight", empty({n}, options));
  init::constant_(weight, init_value);
}

RReLU::RReLU(double lo, double hi) : Module("RReLU"), lower(lo), upper(hi) {}
std::string RReLU::extra_repr() const { return "lower=" + py_float(lower) + ", upper=" + py_float(upper); }

namespace {
const char* dropout_name(Dropout::Kind kind) {
  switch (kind) {
    case Dropout::Kind::kElement: return "Dropout";
    case Dropout::Kind::kFeature1d: return "Dropout1d";
    case Dropout::Kind::kFeature2d: return "Dropout2d";
    case Dropout::Kind::kFeature3d: return "Dropout3d";
    case Dropout::Kind::kAlpha: return "AlphaDropout";
    case Dropout::Kind::kFeatureAlpha: return "FeatureAlphaDropout";
  }
  return "Dropout";
}
}  // namespace

Dropout::Dropout(double p_, Kind kind_) : Module(dropout_name(kind_)), p(p_), kind(kind_) {
  TD_CHECK_ARG(p >= 0 && p <= 1, "[", type_name(), "] dropout probability has to be between 0 and 1, but got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
  const bool train = is_training();
  switch (kind) {
    case Kind::kElement: return F::dropout(x, p, train);
    case Kind::kFeature1d: return F::dropout1d(x, p, train);
    case Kind::kFeature2d: return F::dropout2d(x, p, train);
    case Kind::kFeature3d: return F::dropout3d(x, p, train);
    case Kind::kAlpha: return F::alpha_dropout(x, p, train);
    case Kind::kFeatureAlpha: return F::feature_alpha_dropout(x, p, train);
  }
  return x;
}

std::string Dropout::extra_repr() const { return "p=" + py_float(p) + ", inplace=False"; }

std::shared_ptr<Module> Dropout1d(double p) { return std::make_shared<Dropout>(p, Dropout::Kind::kFeature1d); }
std::shared_ptr<Module> Dropout2d(double p) { return std::make_shared<Dropout>(p, Dropout::Kind::kFeature2d); }
std::shared_ptr<Module> Dropout3d(double p) { return std::make_shared<Dropout>(p, Dropout::Kind::kFeature3d); }
std::shared_ptr<Module> AlphaDropout(double p) { return std::make_shared<Dropout>(p, Dropout::Kind::kAlpha); }
std::shared_ptr<Module> FeatureAlphaDropout(double p) {
  return std::make_shared<Dropout>(p, Dropout::Kind::kFeatureAlpha);
}

}  // namespace td::nn
