// Comparisons and logic with bool results (eq, ne, lt, le, gt, ge, logical_and/or/xor), and where.
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  std::string_view name = compare_op_name(op);
  const Tensor both[] = {a, b};
  Device device = ops::common_device(name, both);
  DType dtype = ops::result_type(both);  // compare in the promoted type: 1 == 1.0
  // Complex numbers have no order: PyTorch's kernels for lt/le/gt/ge are not compiled for them.
  const bool ordered = op == CompareOp::kLt || op == CompareOp::kLe || op == CompareOp::kGt || op == CompareOp::kGe;
  TD_CHECK(!(ordered && is_complex(dtype)), ErrorCode::kInvalidArgument, "[", name, "] \"", name,
           device.is_cuda() ? "_cuda" : "_cpu", "\" not implemented for '",
           scalar_type_name(dtype), "'");
  auto shape = ops::broadcast_shapes(name, a.sizes(), b.sizes());
  Tensor ca = ops::operand(a, dtype, device), cb = ops::operand(b, dtype, device);
  Tensor out = empty(shape, {DType::kBool, device});
  if (out.numel() == 0) return out;
  auto sa = ops::broadcast_strides(ca, shape), sb = ops::broadcast_strides(cb, shape);
  StridedRef ra{ca.data_ptr(), dtype, shape, sa}, rb{cb.data_ptr(), dtype, shape, sb};
  backend(device.type).compare(op, strided_ref(out), ra, rb, device.index);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  TD_CHECK_ARG(cond.dtype() == DType::kBool, "[where] where expected condition to be a boolean tensor, but got a "
               "tensor with dtype ", dtype_name(cond.dtype()));
  const Tensor all[] = {cond, a, b};
  Device device = ops::common_device("where", all);
  const Tensor values[] = {a, b};
  DType dtype = ops::result_type(values);
  auto shape = ops::broadcast_shapes("where", ops::broadcast_shapes("where", cond.sizes(), a.sizes()), b.sizes());
  Tensor cc = ops::on_device(cond, device);
  Tensor ca = ops::operand(a, dtype, device), cb = ops::operand(b, dtype, device);
  Tensor out = empty(shape, {dtype, device});
  if (out.numel() == 0) return out;
  auto sc = ops::broadcast_strides(cc, shape), sa = ops::broadcast_strides(ca, shape),
       sb = ops::broadcast_strides(cb, shape);
  StridedRef rc{cc.data_ptr(), DType::kBool, shape, sc}, ra{ca.data_ptr(), dtype, shape, sa},
      rb{cb.data_ptr(), dtype, shape, sb};
  backend(device.type).where(strided_ref(out), rc, ra, rb, device.index);
  return out;
}
}  // namespace

void register_compare_ops(Registry& r) {
  for (CompareOp op : {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt, CompareOp::kLe, CompareOp::kGt, CompareOp::kGe,
                       CompareOp::kLogicalAnd, CompareOp::kLogicalOr, CompareOp::kLogicalXor}) {
    r.def(str(compare_op_name(op), "(Tensor self, Tensor other) -> Tensor"))
        .doc("elementwise comparison or logic, broadcasting; gives a bool tensor")
        .no_grad()
        .forward([op](const Args& a) -> std::vector<Tensor> { return {compare(op, a.tensor(0), a.tensor(1))}; });
  }

  r.def("where(Tensor condition, Tensor self, Tensor other) -> Tensor")
      .doc("self where condition holds, else other, broadcasting all three")
      .forward([](const Args& a) -> std::vector<Tensor> { return {where(a.tensor(0), a.tensor(1), a.tensor(2))}; })
      .saves_inputs({0})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // The gradient flows to whichever input each element came from.
        const Tensor& g = c.grad();
        Tensor cond = c.input(0), gs, go;
        if (c.needs_grad(1)) gs = ops::sum_to(g.where(cond, 0.0), c.input_meta(1).sizes);
        if (c.needs_grad(2)) go = ops::sum_to(g.where(cond.logical_not(), 0.0), c.input_meta(2).sizes);
        return {Tensor(), gs, go};
      });
}

}  // namespace td
