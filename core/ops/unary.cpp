// Elementwise unary ops: exp/log/trig/... (integers promote to the default float), abs/neg/sign/sgn/rounding/relu
// (dtype kept), the bool predicates isnan/isinf/isfinite/logical_not, and nan_to_num (built on them). Each
// entry is its name in core/ops/unary_list.h, a backward formula in public ops below, and a functor in
// kernels/elementwise_ops.h.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
enum class Kind { kFloat, kAny, kPredicate };

// The unary ops PyTorch 1.13 runs on complex tensors have kernels (kComplexUnary and kComplexAny in
// kernels/elementwise_ops.h, abs, the predicates); the others are refused in PyTorch's words.
// The differentiable ones with a complex kernel: abs, neg, sgn and the holomorphic functions.
bool has_complex_kernel(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: case UnaryOp::kLog: case UnaryOp::kLog2: case UnaryOp::kLog10: case UnaryOp::kSqrt:
    case UnaryOp::kRsqrt: case UnaryOp::kSin: case UnaryOp::kCos: case UnaryOp::kTan: case UnaryOp::kAsin:
    case UnaryOp::kAcos: case UnaryOp::kAtan: case UnaryOp::kSinh: case UnaryOp::kCosh: case UnaryOp::kTanh:
    case UnaryOp::kAsinh: case UnaryOp::kAcosh: case UnaryOp::kAtanh: case UnaryOp::kSigmoid:
    case UnaryOp::kReciprocal: case UnaryOp::kAbs: case UnaryOp::kNeg: case UnaryOp::kSgn:
      return true;
    default:
      return false;
  }
}

void complex_check(UnaryOp op, Kind kind, DType dtype) {
  if (has_complex_kernel(op)) return;
  switch (op) {
    case UnaryOp::kSign:
      throw Error(ErrorCode::kInvalidArgument, "[sign] Unlike NumPy, torch.sign is not intended to support complex "
                                               "numbers. Please use torch.sgn instead.");
    case UnaryOp::kFloor: case UnaryOp::kCeil: case UnaryOp::kTrunc: {
      std::string_view name = unary_op_name(op);
      throw Error(ErrorCode::kInvalidArgument, str("[", name, "] ", name, " is not supported for complex inputs"));
    }
    case UnaryOp::kRelu:
      throw Error(ErrorCode::kInvalidArgument, "[relu] clamp is not supported for complex types");
    default:
      // isnan/isinf/isfinite/logical_not look at both parts.
      if (kind == Kind::kPredicate) return;
      throw Error(ErrorCode::kInvalidArgument,
                  str("[", unary_op_name(op), "] not implemented for '", scalar_type_name(dtype), "'"));
  }
}

Tensor unary(UnaryOp op, Kind kind, const Tensor& x) {
  std::string_view name = unary_op_name(op);
  DType in = x.dtype(), out_dtype = x.dtype();
  if (is_complex(in)) {
    complex_check(op, kind, in);
    // abs of a complex number is its (real) modulus.
    if (op == UnaryOp::kAbs) out_dtype = in == DType::kComplex64 ? DType::kFloat32 : DType::kFloat64;
    if (kind == Kind::kPredicate) out_dtype = DType::kBool;
  } else if (kind == Kind::kFloat) {
    // frac has no integer meaning, so PyTorch refuses integers instead of promoting them.
    TD_CHECK_ARG(op != UnaryOp::kFrac || !is_integral(in), "[frac] not implemented for '", dtype_name(in), "'");
    if (is_integral(in)) in = out_dtype = default_float_dtype();
  } else if (kind == Kind::kPredicate) {
    out_dtype = DType::kBool;
  } else if (op == UnaryOp::kBitwiseNot) {
    TD_CHECK_ARG(is_integral(in), "[bitwise_not] not implemented for '", dtype_name(in),
                 "': bitwise ops take integer or bool tensors");
  } else if (op == UnaryOp::kRelu) {
    TD_CHECK_ARG(in != DType::kBool, "[relu] Boolean inputs not supported for relu");
  } else if (op == UnaryOp::kNeg) {
    TD_CHECK_ARG(in != DType::kBool, "[neg] Negation, the `-` operator, on a bool tensor is not supported. "
                 "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
  } else if (op != UnaryOp::kSign && op != UnaryOp::kSgn) {
    TD_CHECK_ARG(in != DType::kBool, "[", name, "] not implemented for 'bool'");
  }
  Tensor src = ops::cast(x, in);
  Tensor out = empty(x.shape(), {out_dtype, x.device()});
  if (out.numel()) backend(x.device().type).unary(op, strided_ref(out), strided_ref(src), x.device().index);
  return out;
}

// Derivatives: g is the incoming gradient, x the input, y the output. Constants multiply as numbers.
using Formula = std::function<Tensor(const Tensor& g, const Tensor& x, const Tensor& y)>;
struct Derivative {
  Formula formula;
  bool needs_input;
  bool needs_output;
};

constexpr double kLn2 = 0.69314718055994530942, kLn10 = 2.30258509299404568402;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390, kSqrtPiOverTwo = 0.88622692545275801365;

Tensor zeros_like(const Tensor& g) { return zeros(g.shape(), {g.dtype(), g.device()}); }

// ReLU's backward, g where y > 0: one fused pass where the backend has one (and the result is not itself
// recorded, so it need not differentiate again), else where + gt.
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  if (!autograd::GradMode::is_enabled() && g.dtype() == y.dtype() && g.device() == y.device() &&
      std::ranges::equal(g.sizes(), y.sizes())) {
    Tensor out = empty(g.shape(), {g.dtype(), g.device()});
    if (backend(g.device().type).threshold_backward(strided_ref(out), strided_ref(g), strided_ref(y), 0.0,
                                                    g.device().index)) {
      return out;
    }
  }
  return g.where(y.gt(0), 0.0);
}
Tensor one_minus_square(const Tensor& t) { return t.mul(t).neg().add(1); }

const std::map<UnaryOp, Derivative>& derivatives() {
  static const std::map<UnaryOp, Derivative> table = {
      {UnaryOp::kExp, {[](auto& g, auto&, auto& y) { return g.mul(y); }, false, true}},
      {UnaryOp::kExp2, {[](auto& g, auto&, auto& y) { return g.mul(y).mul(kLn2); }, false, true}},
      {UnaryOp::kExpm1, {[](auto& g, auto&, auto& y) { return g.mul(y.add(1)); }, false, true}},
      {UnaryOp::kLog, {[](auto& g, auto& x, auto&) { return g.div(x); }, true, false}},
      {UnaryOp::kLog2, {[](auto& g, auto& x, auto&) { return g.div(x.mul(kLn2)); }, true, false}},
      {UnaryOp::kLog10, {[](auto& g, auto& x, auto&) { return g.div(x.mul(kLn10)); }, true, false}},
      {UnaryOp::kLog1p, {[](auto& g, auto& x, auto&) { return g.div(x.add(1)); }, true, false}},
      // d sqrt(x) = 1 / (2 sqrt(x)); d x^-1/2 = -x^-3/2 / 2 = -y^3 / 2.
      {UnaryOp::kSqrt, {[](auto& g, auto&, auto& y) { return g.div(y.mul(2)); }, false, true}},
      {UnaryOp::kRsqrt, {[](auto& g, auto&, auto& y) { return g.mul(y.mul(y).mul(y)).mul(-0.5); }, false, true}},
      {UnaryOp::kSin, {[](auto& g, auto& x, auto&) { return g.mul(x.cos()); }, true, false}},
      {UnaryOp::kCos, {[](auto& g, auto& x, auto&) { return g.mul(x.sin()).neg(); }, true, false}},
      {UnaryOp::kTan, {[](auto& g, auto&, auto& y) { return g.mul(y.mul(y).add(1)); }, false, true}},
      {UnaryOp::kAsin, {[](auto& g, auto& x, auto&) { return g.mul(one_minus_square(x).rsqrt()); }, true, false}},
      {UnaryOp::kAcos, {[](auto& g, auto& x, auto&) { return g.mul(one_minus_square(x).rsqrt()).neg(); }, true, false}},
      {UnaryOp::kAtan, {[](auto& g, auto& x, auto&) { return g.div(x.mul(x).add(1)); }, true, false}},
      {UnaryOp::kSinh, {[](auto& g, auto& x, auto&) { return g.mul(x.cosh()); }, true, false}},
      {UnaryOp::kCosh, {[](auto& g, auto& x, auto&) { return g.mul(x.sinh()); }, true, false}},
      {UnaryOp::kTanh, {[](auto& g, auto&, auto& y) { return g.mul(one_minus_square(y)); }, false, true}},
      {UnaryOp::kAsinh, {[](auto& g, auto& x, auto&) { return g.mul(x.mul(x).add(1).rsqrt()); }, true, false}},
      {UnaryOp::kAcosh, {[](auto& g, auto& x, auto&) { return g.mul(x.sub(1).mul(x.add(1)).rsqrt()); }, true, false}},
      {UnaryOp::kAtanh, {[](auto& g, auto& x, auto&) { return g.div(one_minus_square(x)); }, true, false}},
      {UnaryOp::kSigmoid, {[](auto& g, auto&, auto& y) { return g.mul(y.mul(y.neg().add(1))); }, false, true}},
      // d erf(x) = 2/sqrt(pi) e^(-x^2); d erfinv(y) = sqrt(pi)/2 e^(erfinv(y)^2).
      {UnaryOp::kErf, {[](auto& g, auto& x, auto&) { return g.mul(x.mul(x).neg().exp()).mul(kTwoOverSqrtPi); }, true, false}},
      {UnaryOp::kErfc,
       {[](auto& g, auto& x, auto&) { return g.mul(x.mul(x).neg().exp()).mul(-kTwoOverSqrtPi); }, true, false}},
      {UnaryOp::kErfinv, {[](auto& g, auto&, auto& y) { return g.mul(y.mul(y).exp()).mul(kSqrtPiOverTwo); }, false, true}},
      {UnaryOp::kReciprocal, {[](auto& g, auto&, auto& y) { return g.mul(y.mul(y)).neg(); }, false, true}},
      {UnaryOp::kFrac, {[](auto& g, auto&, auto&) { return g; }, false, false}},
      {UnaryOp::kAbs, {[](auto& g, auto& x, auto&) { return g.mul(x.sign()); }, true, false}},
      {UnaryOp::kNeg, {[](auto& g, auto&, auto&) { return g.neg(); }, false, false}},
      // Piecewise constant: the gradient is zero almost everywhere.
      {UnaryOp::kSign, {[](auto& g, auto&, auto&) { return zeros_like(g); }, false, false}},
      {UnaryOp::kSgn, {[](auto& g, auto&, auto&) { return zeros_like(g); }, true, true}},
      {UnaryOp::kFloor, {[](auto& g, auto&, auto&) { return zeros_like(g); }, false, false}},
      {UnaryOp::kCeil, {[](auto& g, auto&, auto&) { return zeros_like(g); }, false, false}},
      {UnaryOp::kRound, {[](auto& g, auto&, auto&) { return zeros_like(g); }, false, false}},
      {UnaryOp::kTrunc, {[](auto& g, auto&, auto&) { return zeros_like(g); }, false, false}},
      // PyTorch's threshold_backward: the gradient passes where the output is positive.
      {UnaryOp::kRelu, {[](auto& g, auto&, auto& y) { return relu_backward(g, y); }, false, true}},
  };
  return table;
}

void define(Registry& r, UnaryOp op, Kind kind) {
  std::string name(unary_op_name(op));
  OpBuilder b = r.def(name + "(Tensor self) -> Tensor");
  b.forward([op, kind](const Args& a) -> std::vector<Tensor> { return {unary(op, kind, a.tensor(0))}; });
  auto it = derivatives().find(op);
  if (kind == Kind::kPredicate || it == derivatives().end()) {
    b.no_grad().doc("elementwise " + name + " (not differentiable)");
    return;
  }
  const Derivative& d = it->second;
  b.doc("elementwise " + name);
  b.saves_inputs(d.needs_input ? std::vector<int>{0} : std::vector<int>{});
  if (d.needs_output) b.saves_outputs();
  Formula formula = d.formula;
  bool needs_input = d.needs_input, needs_output = d.needs_output;
  // Every op with a complex kernel has a complex backward: abs and sgn their own, the others are
  // holomorphic with real coefficients, so conj(f'(z)) = f'(conj z) and the real formula runs on the
  // conjugated input and output (grad * conj(f'(z)), PyTorch's convention).
  if (has_complex_kernel(op)) b.complex_autograd();
  b.backward([op, formula, needs_input, needs_output](GradContext& c) -> std::vector<Tensor> {
    Tensor x = needs_input ? c.input(0) : Tensor(), y = needs_output ? c.output() : Tensor();
    if (!is_complex(c.input_meta(0).dtype)) return {formula(c.grad(), x, y)};
    const Tensor& g = c.grad();
    // |z| is real: grad * z / |z| (0 at z = 0).
    if (op == UnaryOp::kAbs) return {g.mul(x.sgn())};
    if (op == UnaryOp::kAcosh) {
      // acosh'(z) = 1 / (sqrt(z - 1) sqrt(z + 1)): unlike for real x > 1, not 1 / sqrt(z^2 - 1), whose branch
      // differs off the real axis (PyTorch's complex formula).
      const Tensor z = x.conj();
      return {g.mul(z.sub(1).rsqrt().mul(z.add(1).rsqrt()))};
    }
    if (op == UnaryOp::kSgn) {
      // PyTorch's sgn_backward: (g - Re(g conj(sgn z)) sgn z) / |z|, 0 at z = 0.
      // 1 / |z| through a safe denominator, so no 0 * inf appears in this formula's own derivatives (forward
      // mode transposes it; double backward differentiates it).
      Tensor a = x.abs();
      Tensor nonzero = a.ne(0);
      Tensor inverse = a.where(nonzero, 1.0).reciprocal().where(nonzero, 0.0);
      return {g.sub(g.mul(y.conj()).real().mul(y)).mul(inverse)};
    }
    return {formula(g, ops::conj_if_complex(x), ops::conj_if_complex(y))};
  });
}
}  // namespace

// The largest and lowest finite values of a float dtype.
std::pair<double, double> finite_range(DType dtype) {
  if (dtype == DType::kFloat16) return {65504.0, -65504.0};
  if (dtype == DType::kBFloat16) {
    const double largest = float(BFloat16::from_bits(0x7f7f));  // (2 - 2^-7) * 2^127
    return {largest, -largest};
  }
  if (dtype == DType::kFloat32)
    return {std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest()};
  return {std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest()};
}

void register_unary_ops(Registry& r) {
  r.def("nan_to_num(Tensor self, float? nan=None, float? posinf=None, float? neginf=None) -> Tensor")
      .doc(
          "NaN, +inf and -inf replaced by nan (0), posinf and neginf (the dtype's largest and lowest values)")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(!is_complex(x.dtype()), "[nan_to_num] \"nan_to_num\" not implemented for '",
                     scalar_type_name(x.dtype()), "'");
        if (!is_floating(x.dtype())) return {x.clone()};  // integers hold no NaN or inf
        auto [largest, lowest] = finite_range(x.dtype());
        TensorOptions opts{x.dtype(), x.device()};
        Tensor nan = full({}, a.is_none(1) ? 0.0 : a.float_at(1), opts);
        Tensor posinf = full({}, a.is_none(2) ? largest : a.float_at(2), opts);
        Tensor neginf = full({}, a.is_none(3) ? lowest : a.float_at(3), opts);
        Tensor replacement = nan.where(x.isnan(), posinf.where(x.gt(0), neginf));
        return {x.where(x.isfinite(), replacement)};
      })
      .saves_inputs({0})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // The finite values pass through; the replaced ones are constants (a product, as PyTorch: 0 * NaN is
        // NaN).
        return {c.grad().mul(c.input(0).isfinite())};
      });

#define TD_DEFINE_UNARY(Name, name) define(r, UnaryOp::k##Name, Kind::kFloat);
  TD_FLOAT_UNARY_OPS(TD_DEFINE_UNARY)
#undef TD_DEFINE_UNARY
#define TD_DEFINE_UNARY(Name, name) define(r, UnaryOp::k##Name, Kind::kAny);
  TD_ANY_UNARY_OPS(TD_DEFINE_UNARY)
#undef TD_DEFINE_UNARY
#define TD_DEFINE_UNARY(Name, name) define(r, UnaryOp::k##Name, Kind::kPredicate);
  TD_PREDICATE_UNARY_OPS(TD_DEFINE_UNARY)
#undef TD_DEFINE_UNARY
}

}  // namespace td
