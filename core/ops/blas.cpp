// Matrix products: mm and bmm (primitives on the backend's GEMM), and matmul with PyTorch's rules.
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
// A matrix argument the GEMM kernels accept: unit stride in one of its last two dims.
Tensor gemm_operand(const Tensor& t) {
  int64_t n = t.dim();
  return gemm_layout(t.sizes()[n - 2], t.sizes()[n - 1], t.strides()[n - 2], t.strides()[n - 1]).valid ? t
                                                                                                       : t.contiguous();
}

void check_gemm_dtypes(std::string_view op, const Tensor& a, const Tensor& b) {
  const Tensor both[] = {a, b};
  ops::check_same_device(op, both);
  TD_CHECK_ARG(a.dtype() == b.dtype(), "[", op, "] expected mat1 and mat2 to have the same dtype, but got: ",
               dtype_name(a.dtype()), " != ", dtype_name(b.dtype()));
  TD_CHECK_ARG(a.dtype() != DType::kBool, "[", op, "] not implemented for 'bool'");
}

// out[B, M, N] = a[B, M, K] @ b[B, K, N] on the backend.
Tensor batched_gemm(const Tensor& a3, const Tensor& b3) {
  Tensor a = gemm_operand(a3), b = gemm_operand(b3);
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, {a.dtype(), a.device()});
  if (out.numel() == 0) return out;
  if (a.size(2) == 0) {
    backend(out.device().type).fill(strided_ref(out), 0, out.device().index);
    return out;
  }
  backend(out.device().type).gemm(strided_ref(out), strided_ref(a), strided_ref(b), out.device().index);
  return out;
}

std::string mat_str(const Tensor& t) { return str(t.size(-2), "x", t.size(-1)); }
}  // namespace

void register_blas_ops(Registry& r) {
  r.def("mm(Tensor self, Tensor mat2) -> Tensor")
      .doc("2-d matrix product")
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        TD_CHECK_ARG(a.dim() == 2, "[mm] self must be a matrix (got shape ", shape_str(a.sizes()), ")");
        TD_CHECK_ARG(b.dim() == 2, "[mm] mat2 must be a matrix (got shape ", shape_str(b.sizes()), ")");
        TD_CHECK_ARG(a.size(1) == b.size(0), "[mm] mat1 and mat2 shapes cannot be multiplied (", mat_str(a), " and ",
                     mat_str(b), ")");
        check_gemm_dtypes("mm", a, b);
        return {batched_gemm(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0)};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // C = A B: dA = dC B^T, dB = A^T dC.
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = c.grad().mm(c.input(1).t());
        if (c.needs_grad(1)) gb = c.input(0).t().mm(c.grad());
        return {ga, gb};
      });

  r.def("bmm(Tensor self, Tensor mat2) -> Tensor")
      .doc("batched 3-d matrix product")
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        TD_CHECK_ARG(a.dim() == 3, "[bmm] batch1 must be a 3D tensor (got shape ", shape_str(a.sizes()), ")");
        TD_CHECK_ARG(b.dim() == 3, "[bmm] batch2 must be a 3D tensor (got shape ", shape_str(b.sizes()), ")");
        TD_CHECK_ARG(a.size(0) == b.size(0), "[bmm] batch1 and batch2 must have same number of batches, got ",
                     a.size(0), " and ", b.size(0));
        TD_CHECK_ARG(a.size(2) == b.size(1), "[bmm] Expected size for first two dimensions of batch2 tensor to be: [",
                     a.size(0), ", ", a.size(2), "] but got: [", b.size(0), ", ", b.size(1), "].");
        check_gemm_dtypes("bmm", a, b);
        return {batched_gemm(a, b)};
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = c.grad().bmm(c.input(1).transpose(1, 2));
        if (c.needs_grad(1)) gb = c.input(0).transpose(1, 2).bmm(c.grad());
        return {ga, gb};
      });

  r.def("matmul(Tensor self, Tensor other) -> Tensor")
      .doc("matrix product with PyTorch's 1-d, 2-d and broadcast-batched rules")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        TD_CHECK_ARG(a.dim() > 0 && b.dim() > 0, "[matmul] both arguments to matmul need to be at least 1D, but they are ",
                     a.dim(), "D and ", b.dim(), "D");
        int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
        TD_CHECK_ARG(ka == kb, "[matmul] shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()),
                     " cannot be multiplied (", a.dim() == 1 ? str("1x", ka) : mat_str(a), " and ",
                     b.dim() == 1 ? str(kb, "x1") : mat_str(b), ")");
        check_gemm_dtypes("matmul", a, b);
        if (a.dim() == 1 && b.dim() == 1) return {a.unsqueeze(0).mm(b.unsqueeze(1)).view({})};
        if (a.dim() == 2 && b.dim() == 1) return {a.mm(b.unsqueeze(1)).squeeze(1)};
        if (a.dim() == 1 && b.dim() == 2) return {a.unsqueeze(0).mm(b).squeeze(0)};
        if (a.dim() == 2 && b.dim() == 2) return {a.mm(b)};
        if (a.dim() >= 3 && b.dim() <= 2) {
          // Fold the batch into rows: one GEMM instead of a batch of small ones.
          std::vector<int64_t> out_shape(a.sizes().begin(), a.sizes().end() - 1);
          Tensor bm = b.dim() == 1 ? b.unsqueeze(1) : b;
          // Rows counted, not inferred: reshape cannot infer a -1 next to a zero-size K.
          Tensor rows = a.reshape({shape_numel(out_shape), ka}).mm(bm);
          if (b.dim() == 2) out_shape.push_back(b.size(1));
          return {rows.view(out_shape)};
        }
        // General case: broadcast the batch dims, then one bmm.
        Tensor a3 = a.dim() == 1 ? a.unsqueeze(0) : a, b3 = b.dim() == 1 ? b.unsqueeze(1) : b;
        std::vector<int64_t> ba(a3.sizes().begin(), a3.sizes().end() - 2), bb(b3.sizes().begin(), b3.sizes().end() - 2);
        auto batch = ops::broadcast_shapes("matmul", ba, bb);
        int64_t n = shape_numel(batch), m = a3.size(-2), p = b3.size(-1);
        auto with = [&](int64_t x, int64_t y) {
          auto s = batch;
          s.push_back(x);
          s.push_back(y);
          return s;
        };
        Tensor out = a3.expand(with(m, ka)).reshape({n, m, ka}).bmm(b3.expand(with(ka, p)).reshape({n, ka, p}));
        auto out_shape = batch;
        if (a.dim() > 1) out_shape.push_back(m);
        if (b.dim() > 1) out_shape.push_back(p);
        return {out.view(out_shape)};
      });
}

}  // namespace td
