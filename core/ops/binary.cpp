// Elementwise binary arithmetic with broadcasting and type promotion: add, sub, mul, div, maximum,
// minimum, clamp, pow, fmod, remainder, floor_divide, atan2, bitwise_and/or/xor, and lerp (a ternary op
// built on the binary kernels).
#include <algorithm>
#include <cmath>
#include <complex>
#include <initializer_list>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
bool promotes_ints_to_float(BinaryOp op) { return op == BinaryOp::kDiv || op == BinaryOp::kAtan2; }
bool is_bitwise(BinaryOp op) {
  return op == BinaryOp::kBitwiseAnd || op == BinaryOp::kBitwiseOr || op == BinaryOp::kBitwiseXor;
}
bool divides(BinaryOp op) {
  return op == BinaryOp::kFmod || op == BinaryOp::kRemainder || op == BinaryOp::kFloorDivide;
}

// Whether the result (shape, dtype, device) can be written over `into` directly: its type and place match,
// and each operand either does not share into's memory or is exactly into (each element then reads its own
// place before writing it).
bool writable_into(const Tensor& into, std::span<const int64_t> shape, DType dtype, Device device,
                   std::initializer_list<const Tensor*> operands) {
  if (into.dtype() != dtype || into.device() != device || !std::ranges::equal(into.sizes(), shape))
    return false;
  for (const Tensor* x : operands) {
    if (!x->shares_storage(into)) continue;
    if (x->data_ptr() != into.data_ptr() ||
        !std::ranges::equal(ops::broadcast_strides(*x, shape), into.strides())) {
      return false;
    }
  }
  return true;
}

// The one front end of the family: checks, promotes, broadcasts, allocates, and calls the backend kernel.
// With `into`, the result goes there instead when writable_into allows, else nothing runs and the result is
// undefined.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, Scalar alpha = 1, const Tensor* into = nullptr) {
  std::string_view name = binary_op_name(op);
  const Tensor both[] = {a, b};
  Device device = ops::common_device(name, both);
  DType dtype = ops::result_type(both);
  if (promotes_ints_to_float(op) && is_integral(dtype)) dtype = default_float_dtype();
  TD_CHECK_ARG(!(op == BinaryOp::kSub && dtype == DType::kBool), "[sub] Subtraction, the `-` operator, with two bool "
               "tensors is not supported. Use the `^` or `logical_xor()` operator instead.");
  TD_CHECK_ARG(!(is_integral(dtype) && alpha.is_floating()), "[", name,
               "] For integral input tensors, argument alpha must not be a floating point number.");
  TD_CHECK_ARG(!is_bitwise(op) || is_integral(dtype), "[", name, "] not implemented for '", dtype_name(dtype),
               "': bitwise ops take integer or bool tensors");
  TD_CHECK_ARG(!(divides(op) && dtype == DType::kBool), "[", name, "] not implemented for 'bool'");
  TD_CHECK_ARG(!(alpha.is_complex() && !is_complex(dtype)), "[", name,
               "] For non-complex input tensors, argument alpha must not be a complex number.");
  if (is_complex(dtype)) {
    // PyTorch's messages: maximum/minimum say so, the other ops name their missing kernel.
    TD_CHECK_ARG(op != BinaryOp::kMaximum && op != BinaryOp::kMinimum, "[", name, "] ", name,
                 " not implemented for complex tensors.");
    TD_CHECK_ARG(op == BinaryOp::kAdd || op == BinaryOp::kSub || op == BinaryOp::kMul || op == BinaryOp::kDiv ||
                     op == BinaryOp::kPow,
                 "[", name, "] \"", op == BinaryOp::kFloorDivide ? "div_floor" : name,
                 device.is_cuda() ? "_cuda" : "_cpu", "\" not implemented for '",
                 scalar_type_name(dtype), "'");
  }
  if (op == BinaryOp::kPow && is_integral(dtype) && b.impl().wrapped_number) {
    TD_CHECK_ARG(b.item().to_int() >= 0, "[pow] Integers to negative integer powers are not allowed.");
  }
  auto shape = ops::broadcast_shapes(name, a.sizes(), b.sizes());
  Tensor ca = ops::operand(a, dtype, device), cb = ops::operand(b, dtype, device);
  if (divides(op) && is_integral(dtype) && cb.numel() > 0) {
    // Integer division by zero has no value (C++ traps on it); PyTorch raises, and so do we.
    TD_CHECK_ARG(cb.eq(0).sum().item().to_int() == 0, "[", name, "] ZeroDivisionError");
  }
  Tensor out;
  if (into) {
    if (!writable_into(*into, shape, dtype, device, {&ca, &cb})) return Tensor();
    out = *into;
  } else {
    out = empty(shape, {dtype, device});
    // Arithmetic on two numbers gives a number: it keeps its weak role in later type promotion.
    out.impl().wrapped_number = a.impl().wrapped_number && b.impl().wrapped_number;
  }
  if (out.numel() == 0) return out;
  auto sa = ops::broadcast_strides(ca, shape), sb = ops::broadcast_strides(cb, shape);
  StridedRef ra{ca.data_ptr(), dtype, shape, sa}, rb{cb.data_ptr(), dtype, shape, sb};
  backend(device.type).binary(op, strided_ref(out), ra, rb, alpha, device.index);
  return out;
}

// pow; a float32, float64 or complex result with a number exponent takes PyTorch's pow(Tensor, Scalar)
// shortcuts (its CPU and CUDA kernels both do), which are exact where pow's library routine need not be
// (on an H100 the second derivative of x^3 at -3, 6 * pow(-3.0, 1.0), did not come out as -18; a complex
// (-1)^2 is 1 - 2.4e-16i through exp(b log a)): 0 and 1 fill and copy, 2, 3 and -2 multiply, 1/2, -1/2 and
// -1 are sqrt, rsqrt and reciprocal. The 16-bit floats keep pow, which rounds once where x * x * x would
// round twice.
Tensor pow(const Tensor& a, const Tensor& b) {
  const Tensor both[] = {a, b};
  const DType dtype = ops::result_type(both);
  const bool shortcuts = is_complex(dtype) || dtype == DType::kFloat32 || dtype == DType::kFloat64;
  if (!shortcuts || !b.impl().wrapped_number || a.impl().wrapped_number) return binary(BinaryOp::kPow, a, b);
  const std::complex<double> e = b.item().to_complex();
  const double twice = 2 * e.real();
  if (e.imag() != 0.0 || std::fabs(twice) > 8 || twice != std::trunc(twice)) return binary(BinaryOp::kPow, a, b);
  const Tensor x = ops::cast(a, dtype);
  switch (static_cast<int>(twice)) {
    case 0: return ones(x.shape(), {dtype, x.device()});
    case 2: return x.clone();
    case 4: return x.mul(x);
    case 6: return x.mul(x).mul(x);
    case -4: return x.mul(x).reciprocal();
    case 1: return x.sqrt();
    case -1: return x.rsqrt();
    case -2: return x.reciprocal();
    default: return binary(BinaryOp::kPow, a, b);
  }
}

// g * conj(alpha): the gradient of alpha * x (PyTorch's convention for complex numbers).
Tensor scaled(const Tensor& g, Scalar alpha) {
  if (alpha.is_complex()) return g.mul(Scalar(std::conj(alpha.to_complex())));
  if (alpha.to_double() == 1.0) return g;
  return g.mul(alpha);
}

ForwardFn forward_of(BinaryOp op) {
  return [op](const Args& a) -> std::vector<Tensor> { return {binary(op, a.tensor(0), a.tensor(1))}; };
}

// The op written into a given tensor (OpDef::forward_into).
auto forward_into_of(BinaryOp op) {
  return [op](const Args& a, const Tensor& out) {
    return binary(op, a.tensor(0), a.tensor(1), 1, &out).defined();
  };
}

// lerp.Scalar / lerp.Tensor of PyTorch 1.13 (a number weight arrives as a wrapped number): self and end (and
// a tensor weight) share a floating dtype; the three broadcast. PyTorch's formula starts from the nearer end,
// so weight 0 gives self and weight 1 gives end exactly.
Tensor lerp(const Tensor& self, const Tensor& end, const Tensor& weight) {
  const bool number = weight.impl().wrapped_number;
  TD_CHECK_ARG(end.dtype() == self.dtype(), "[lerp] expected dtype ", dtype_name(self.dtype()),
               " for `end` but got dtype ", dtype_name(end.dtype()));
  TD_CHECK_ARG(number || weight.dtype() == self.dtype(), "[lerp] expected dtype ", dtype_name(self.dtype()),
               " for `weight` but got dtype ", dtype_name(weight.dtype()));
  const Tensor all[] = {self, end, weight};
  (void)ops::common_device("lerp", all);
  auto shape =
      ops::broadcast_shapes("lerp", ops::broadcast_shapes("lerp", self.sizes(), end.sizes()), weight.sizes());
  TD_CHECK_ARG(is_floating(self.dtype()), "[lerp] \"", number ? "lerp_kernel_scalar" : "lerp_kernel_tensor",
               "\" not implemented for '", dtype_name(self.dtype()), "'");
  Tensor diff = binary(BinaryOp::kSub, end, self), out;
  if (number) {
    // The weight in the tensors' compute precision (float for float32, float16, bfloat16), as PyTorch's
    // kernel sees it.
    double w = weight.item().to_double(), one_minus = 1.0 - w;
    if (self.dtype() != DType::kFloat64) {
      w = static_cast<float>(w);
      one_minus = 1.0f - static_cast<float>(w);
    }
    out = std::abs(w) < 0.5
              ? binary(BinaryOp::kAdd, self, binary(BinaryOp::kMul, diff, wrapped_scalar(w)))
              : binary(BinaryOp::kSub, end, binary(BinaryOp::kMul, diff, wrapped_scalar(one_minus)));
  } else {
    Tensor near_self = binary(BinaryOp::kAdd, self, binary(BinaryOp::kMul, weight, diff));
    Tensor near_end = binary(BinaryOp::kSub, end,
                             binary(BinaryOp::kMul, diff, binary(BinaryOp::kSub, wrapped_scalar(1), weight)));
    out = near_self.where(weight.abs().lt(0.5), near_end);
  }
  return out.shape() == shape ? out : out.expand(shape).contiguous();
}

// The gradient where mask holds, else 0 (where, not a product: 0 * inf would be NaN).
Tensor masked(const Tensor& g, const Tensor& mask) { return g.where(mask, 0.0); }
}  // namespace

void register_binary_ops(Registry& r) {
  r.def("add(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor")
      .doc("self + alpha * other, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {binary(BinaryOp::kAdd, a.tensor(0), a.tensor(1), a.scalar(2))};
      })
      .forward_into([](const Args& a, const Tensor& out) {
        return binary(BinaryOp::kAdd, a.tensor(0), a.tensor(1), a.scalar(2), &out).defined();
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a + alpha*b)/da = 1, /db = alpha; broadcasting sums the gradient back.
        const Tensor& g = c.grad();
        return {ops::sum_to(g, c.input_meta(0).sizes), ops::sum_to(scaled(g, c.args().scalar(2)), c.input_meta(1).sizes)};
      })
      .complex_autograd();

  r.def("sub(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor")
      .doc("self - alpha * other, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {binary(BinaryOp::kSub, a.tensor(0), a.tensor(1), a.scalar(2))};
      })
      .forward_into([](const Args& a, const Tensor& out) {
        return binary(BinaryOp::kSub, a.tensor(0), a.tensor(1), a.scalar(2), &out).defined();
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        return {ops::sum_to(g, c.input_meta(0).sizes),
                ops::sum_to(scaled(g, c.args().scalar(2)).neg(), c.input_meta(1).sizes)};
      })
      .complex_autograd();

  r.def("mul(Tensor self, Tensor other) -> Tensor")
      .doc("elementwise product, broadcasting")
      .forward(forward_of(BinaryOp::kMul))
      .forward_into(forward_into_of(BinaryOp::kMul))
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a*b)/da = b, d(a*b)/db = a, conjugated for complex values; a real input keeps the real part
        // (the node casts its gradient to the input's dtype).
        const Tensor& g = c.grad();
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g.mul(ops::conj_if_complex(c.input(1))), c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(g.mul(ops::conj_if_complex(c.input(0))), c.input_meta(1).sizes);
        return {ga, gb};
      })
      .complex_autograd();

  r.def("div(Tensor self, Tensor other) -> Tensor")
      .doc("true division, broadcasting; integers divide as floats")
      .forward(forward_of(BinaryOp::kDiv))
      .forward_into(forward_into_of(BinaryOp::kDiv))
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2, conjugated for complex values.
        const Tensor& g = c.grad();
        Tensor b = ops::conj_if_complex(c.input(1)), ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g.div(b), c.input_meta(0).sizes);
        if (c.needs_grad(1)) {
          gb = ops::sum_to(g.mul(ops::conj_if_complex(c.input(0))).div(b.mul(b)).neg(), c.input_meta(1).sizes);
        }
        return {ga, gb};
      })
      .complex_autograd();

  // max/min: the gradient goes to the larger (smaller) input; ties split it in half, as PyTorch 1.13.
  for (BinaryOp op : {BinaryOp::kMaximum, BinaryOp::kMinimum}) {
    bool is_max = op == BinaryOp::kMaximum;
    r.def(str(binary_op_name(op), "(Tensor self, Tensor other) -> Tensor"))
        .doc(is_max ? "elementwise maximum; NaN propagates" : "elementwise minimum; NaN propagates")
        .forward(forward_of(op))
        .backward([is_max](GradContext& c) -> std::vector<Tensor> {
          const Tensor &g = c.grad(), a = c.input(0), b = c.input(1);
          Tensor half = g.mul(0.5), tie = a.eq(b);
          Tensor a_wins = is_max ? a.gt(b) : a.lt(b), b_wins = is_max ? b.gt(a) : b.lt(a);
          Tensor ga, gb;
          if (c.needs_grad(0)) ga = ops::sum_to(masked(g, a_wins).add(masked(half, tie)), c.input_meta(0).sizes);
          if (c.needs_grad(1)) gb = ops::sum_to(masked(g, b_wins).add(masked(half, tie)), c.input_meta(1).sizes);
          return {ga, gb};
        });
  }

  r.def("clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor")
      .doc("limits values to [min, max]; either bound may be None")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(!a.is_none(1) || !a.is_none(2), "[clamp] At least one of 'min' or 'max' must not be None");
        TD_CHECK_ARG(!is_complex(x.dtype()), "[clamp] clamp is not supported for complex types");
        Tensor out = x;
        // PyTorch applies min then max, so min > max gives max everywhere.
        if (!a.is_none(1)) out = binary(BinaryOp::kMaximum, out, wrapped_scalar(a.scalar(1)));
        if (!a.is_none(2)) out = binary(BinaryOp::kMinimum, out, wrapped_scalar(a.scalar(2)));
        return {out};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d clamp(x)/dx = 1 inside [min, max] (bounds included), 0 outside.
        Tensor x = c.input(0);
        Tensor inside = ones(x.shape(), {DType::kBool, x.device()});
        if (!c.args().is_none(1)) inside = inside.logical_and(x.ge(c.args().scalar(1)));
        if (!c.args().is_none(2)) inside = inside.logical_and(x.le(c.args().scalar(2)));
        return {masked(c.grad(), inside)};
      });

  r.def("addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor")
      .doc("self + value * tensor1 * tensor2, broadcasting (the optimizers' update step)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {a.tensor(0).add(a.tensor(1).mul(a.scalar(3)).mul(a.tensor(2)))};
      })
      .forward_into([](const Args& a, const Tensor& out) {
        Tensor product = a.tensor(1).mul(a.scalar(3)).mul(a.tensor(2));
        return binary(BinaryOp::kAdd, a.tensor(0), product, 1, &out).defined();
      });
  r.def("addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor")
      .doc("self + value * tensor1 / tensor2, broadcasting")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &t1 = a.tensor(1), &t2 = a.tensor(2);
        TD_CHECK_ARG(!(is_integral(t1.dtype()) && is_integral(t2.dtype())),
                     "[addcdiv] Integer division with addcdiv is no longer supported, and in a future release "
                     "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv behavior "
                     "can be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                     "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                     "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                     "for all dtypes.");
        return {a.tensor(0).add(t1.mul(a.scalar(3)).div(t2))};
      })
      .forward_into([](const Args& a, const Tensor& out) {
        const Tensor &t1 = a.tensor(1), &t2 = a.tensor(2);
        if (is_integral(t1.dtype()) && is_integral(t2.dtype()))
          return false;  // the forward raises PyTorch's error
        return binary(BinaryOp::kAdd, a.tensor(0), t1.mul(a.scalar(3)).div(t2), 1, &out).defined();
      });

  r.def("pow(Tensor self, Tensor exponent) -> Tensor")
      .doc("self ** exponent, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> { return {pow(a.tensor(0), a.tensor(1))}; })
      .saves_outputs()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a^b)/da = b a^(b-1) (0 where b == 0); d(a^b)/db = a^b ln a (0 where a == 0 and b >= 0);
        // conjugated for complex values, where "b >= 0" means a real b >= 0 (PyTorch's pow_backward_self
        // and pow_backward_exponent). A real a with a complex b takes its logarithm as a complex number.
        const Tensor &g = c.grad(), a = c.input(0), b = c.input(1);
        Tensor ga, gb;
        if (c.needs_grad(0)) {
          Tensor d = g.mul(ops::conj_if_complex(b.mul(a.pow(b.sub(1)))));
          ga = ops::sum_to(d.where(b.ne(0), 0.0), c.input_meta(0).sizes);
        }
        if (c.needs_grad(1)) {
          const Tensor out = c.output();
          Tensor b_nonneg = is_complex(b.dtype()) ? b.imag().eq(0).logical_and(b.real().ge(0)) : b.ge(0);
          Tensor d = g.mul(ops::conj_if_complex(out.mul(ops::cast(a, out.dtype()).log())));
          gb = ops::sum_to(d.where(a.eq(0).logical_and(b_nonneg).logical_not(), 0.0), c.input_meta(1).sizes);
        }
        return {ga, gb};
      })
      .complex_autograd();

  r.def("fmod(Tensor self, Tensor other) -> Tensor")
      .doc("remainder of division truncated toward zero (C's fmod), broadcasting")
      .forward(forward_of(BinaryOp::kFmod))
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // a - trunc(a/b) b: d/da = 1, d/db = -trunc(a/b).
        const Tensor& g = c.grad();
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g, c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(g.mul(c.input(0).div(c.input(1)).trunc()).neg(), c.input_meta(1).sizes);
        return {ga, gb};
      });

  r.def("remainder(Tensor self, Tensor other) -> Tensor")
      .doc("Python's %: the remainder has the sign of the divisor, broadcasting")
      .forward(forward_of(BinaryOp::kRemainder))
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // a - floor(a/b) b: d/da = 1, d/db = -floor(a/b).
        const Tensor& g = c.grad();
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g, c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(g.mul(c.input(0).div(c.input(1)).floor()).neg(), c.input_meta(1).sizes);
        return {ga, gb};
      });

  r.def("floor_divide(Tensor self, Tensor other) -> Tensor")
      .doc("Python's //: division rounded toward -inf, broadcasting")
      .no_grad()
      .forward(forward_of(BinaryOp::kFloorDivide));

  r.def("atan2(Tensor self, Tensor other) -> Tensor")
      .doc("elementwise atan(self / other) in the quadrant of (other, self); integers give floats")
      .forward(forward_of(BinaryOp::kAtan2))
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d atan2(a, b)/da = b / (a^2 + b^2), /db = -a / (a^2 + b^2).
        const Tensor &g = c.grad(), a = c.input(0), b = c.input(1);
        Tensor scale = g.div(a.mul(a).add(b.mul(b)));
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(scale.mul(b), c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(scale.mul(a).neg(), c.input_meta(1).sizes);
        return {ga, gb};
      });

  r.def("lerp(Tensor self, Tensor end, Tensor weight) -> Tensor")
      .doc("self + weight * (end - self), broadcasting; weight is a number or a tensor")
      .forward(
          [](const Args& a) -> std::vector<Tensor> { return {lerp(a.tensor(0), a.tensor(1), a.tensor(2))}; })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d/dself = 1 - weight, d/dend = weight, d/dweight = end - self.
        const Tensor& g = c.grad();
        Tensor w = c.input(2), gs, ge, gw;
        const bool number = w.impl().wrapped_number;
        if (c.needs_grad(0)) {
          Tensor d = number ? g.mul(Scalar(1.0 - w.item().to_double())) : g.mul(w.neg().add(1));
          gs = ops::sum_to(d, c.input_meta(0).sizes);
        }
        if (c.needs_grad(1)) ge = ops::sum_to(number ? g.mul(w.item()) : g.mul(w), c.input_meta(1).sizes);
        if (c.needs_grad(2)) gw = ops::sum_to(g.mul(c.input(1).sub(c.input(0))), c.input_meta(2).sizes);
        return {gs, ge, gw};
      });

  for (BinaryOp op : {BinaryOp::kBitwiseAnd, BinaryOp::kBitwiseOr, BinaryOp::kBitwiseXor}) {
    r.def(str(binary_op_name(op), "(Tensor self, Tensor other) -> Tensor"))
        .doc("elementwise bitwise op on integer or bool tensors")
        .no_grad()
        .forward(forward_of(op));
  }
}

}  // namespace td
