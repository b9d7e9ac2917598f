// Elementwise binary arithmetic: add, sub, mul, div (and neg), with broadcasting and type promotion.
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
// The one front end of the family: checks, promotes, broadcasts, allocates, and calls the backend kernel.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, Scalar alpha = 1) {
  std::string_view name = binary_op_name(op);
  const Tensor both[] = {a, b};
  ops::check_same_device(name, both);
  DType dtype = ops::result_type(both);
  if (op == BinaryOp::kDiv && is_integral(dtype)) dtype = default_float_dtype();
  TD_CHECK_ARG(!(op == BinaryOp::kSub && dtype == DType::kBool), "[sub] Subtraction, the `-` operator, with two bool "
               "tensors is not supported. Use the `^` or `logical_xor()` operator instead.");
  TD_CHECK_ARG(!(is_integral(dtype) && alpha.is_floating()), "[", name,
               "] For integral input tensors, argument alpha must not be a floating point number.");
  auto shape = ops::broadcast_shapes(name, a.sizes(), b.sizes());
  Tensor ca = ops::cast(a, dtype), cb = ops::cast(b, dtype);
  Tensor out = empty(shape, {dtype, a.device()});
  if (out.numel() == 0) return out;
  auto sa = ops::broadcast_strides(ca, shape), sb = ops::broadcast_strides(cb, shape);
  StridedRef ra{ca.data_ptr(), dtype, shape, sa}, rb{cb.data_ptr(), dtype, shape, sb};
  backend(out.device().type).binary(op, strided_ref(out), ra, rb, alpha, out.device().index);
  return out;
}

Tensor scaled(const Tensor& g, Scalar alpha) {
  if (alpha.to_double() == 1.0) return g;
  return g.mul(scalar_tensor(alpha, g.dtype(), g.device()));
}
}  // namespace

void register_binary_ops(Registry& r) {
  r.def("add(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor")
      .doc("self + alpha * other, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {binary(BinaryOp::kAdd, a.tensor(0), a.tensor(1), a.scalar(2))};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a + alpha*b)/da = 1, /db = alpha; broadcasting sums the gradient back.
        const Tensor& g = c.grad();
        return {ops::sum_to(g, c.input_meta(0).sizes), ops::sum_to(scaled(g, c.args().scalar(2)), c.input_meta(1).sizes)};
      });

  r.def("sub(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor")
      .doc("self - alpha * other, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {binary(BinaryOp::kSub, a.tensor(0), a.tensor(1), a.scalar(2))};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        return {ops::sum_to(g, c.input_meta(0).sizes),
                ops::sum_to(scaled(g, c.args().scalar(2)).neg(), c.input_meta(1).sizes)};
      });

  r.def("mul(Tensor self, Tensor other) -> Tensor")
      .doc("elementwise product, broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> { return {binary(BinaryOp::kMul, a.tensor(0), a.tensor(1))}; })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a*b)/da = b, d(a*b)/db = a.
        const Tensor& g = c.grad();
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g.mul(c.input(1)), c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(g.mul(c.input(0)), c.input_meta(1).sizes);
        return {ga, gb};
      });

  r.def("div(Tensor self, Tensor other) -> Tensor")
      .doc("true division, broadcasting; integers divide as floats")
      .forward([](const Args& a) -> std::vector<Tensor> { return {binary(BinaryOp::kDiv, a.tensor(0), a.tensor(1))}; })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
        const Tensor& g = c.grad();
        Tensor b = c.input(1), ga, gb;
        if (c.needs_grad(0)) ga = ops::sum_to(g.div(b), c.input_meta(0).sizes);
        if (c.needs_grad(1)) gb = ops::sum_to(g.mul(c.input(0)).div(b.mul(b)).neg(), c.input_meta(1).sizes);
        return {ga, gb};
      });

  r.def("neg(Tensor self) -> Tensor")
      .doc("-self")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(x.dtype() != DType::kBool, "[neg] Negation, the `-` operator, on a bool tensor is not supported. "
                     "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
        return {binary(BinaryOp::kSub, zeros({}, {x.dtype(), x.device()}), x)};
      })
      .saves_inputs({})
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().neg()}; });
}

}  // namespace td
