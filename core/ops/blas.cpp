// Matrix products: mm and bmm (primitives on the backend's GEMM), matmul with PyTorch's rules, and bilinear
// (nn.Bilinear's x1^T W x2 + b, two GEMMs).
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
        // C = A B: dA = dC B^H, dB = A^H dC (the conjugate transposes; plain ones for real values).
        Tensor ga, gb;
        if (c.needs_grad(0)) ga = c.grad().mm(ops::conj_if_complex(c.input(1)).t());
        if (c.needs_grad(1)) gb = ops::conj_if_complex(c.input(0)).t().mm(c.grad());
        return {ga, gb};
      })
      .complex_autograd();

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
        if (c.needs_grad(0)) ga = c.grad().bmm(ops::conj_if_complex(c.input(1)).transpose(1, 2));
        if (c.needs_grad(1)) gb = ops::conj_if_complex(c.input(0)).transpose(1, 2).bmm(c.grad());
        return {ga, gb};
      })
      .complex_autograd();

  r.def("dot(Tensor self, Tensor tensor) -> Tensor")
      .doc("inner product of two 1-d tensors")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        TD_CHECK_ARG(a.dim() == 1 && b.dim() == 1, "[dot] 1D tensors expected, but got ", a.dim(), "D and ", b.dim(),
                     "D tensors");
        TD_CHECK_ARG(a.size(0) == b.size(0), "[dot] inconsistent tensor size, expected tensor [", a.size(0),
                     "] and src [", b.size(0), "] to have the same number of elements, but got ", a.size(0), " and ",
                     b.size(0), " elements respectively");
        TD_CHECK_ARG(a.dtype() == b.dtype(), "[dot] expected both vectors to have same dtype, but found ",
                     dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
        return {a.unsqueeze(0).mm(b.unsqueeze(1)).view({})};
      });

  r.def("mv(Tensor self, Tensor vec) -> Tensor")
      .doc("matrix-vector product")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &m = args.tensor(0), &v = args.tensor(1);
        TD_CHECK_ARG(m.dim() == 2 && v.dim() == 1, "[mv] vector + matrix @ vector expected, got matrix of shape ",
                     shape_str(m.sizes()), " and vector of shape ", shape_str(v.sizes()));
        TD_CHECK_ARG(m.size(1) == v.size(0), "[mv] size mismatch, got ", m.size(0), "x", m.size(1), " matrix and ",
                     v.size(0), " vector");
        return {m.mm(v.unsqueeze(1)).squeeze(1)};
      });

  r.def("outer(Tensor self, Tensor vec2) -> Tensor")
      .doc("outer product of two 1-d tensors")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        TD_CHECK_ARG(a.dim() == 1 && b.dim() == 1, "[outer] 1D tensors expected, but got ", a.dim(), "D and ",
                     b.dim(), "D tensors");
        return {a.unsqueeze(1).mul(b.unsqueeze(0))};
      });

  // beta * self + alpha * product, the result in the product's shape; beta == 0 ignores self's values
  // entirely (NaN included), as PyTorch does.
  auto scaled_sum = [](std::string_view op, const Tensor& self, const Tensor& product, const Scalar& beta,
                       const Scalar& alpha) {
    auto shape = ops::broadcast_shapes(op, self.sizes(), product.sizes());
    TD_CHECK_ARG(shape == product.shape(), "[", op, "] self of shape ", shape_str(self.sizes()),
                 " does not broadcast to the product's shape ", shape_str(product.sizes()));
    Tensor p = alpha.to_double() == 1.0 ? product : product.mul(alpha);
    // Values from the product only, but self stays in the graph with a zero gradient, as in PyTorch.
    if (beta.to_double() == 0.0) return p.add(ops::zeros_linked_to(self));
    return (beta.to_double() == 1.0 ? self : self.mul(beta)).add(p);
  };
  r.def("addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor")
      .doc("beta * self + alpha * (mat1 @ mat2), self broadcast to the product's shape")
      .composite()
      .forward([scaled_sum](const Args& args) -> std::vector<Tensor> {
        const Tensor &m1 = args.tensor(1), &m2 = args.tensor(2);
        TD_CHECK_ARG(m1.dim() == 2 && m2.dim() == 2, "[addmm] mat1 and mat2 must be matrices (got shapes ",
                     shape_str(m1.sizes()), " and ", shape_str(m2.sizes()), ")");
        return {scaled_sum("addmm", args.tensor(0), m1.mm(m2), args.scalar(3), args.scalar(4))};
      });
  r.def("baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> Tensor")
      .doc("beta * self + alpha * (batch1 @ batch2) for batches of matrices")
      .composite()
      .forward([scaled_sum](const Args& args) -> std::vector<Tensor> {
        return {scaled_sum("baddbmm", args.tensor(0), args.tensor(1).bmm(args.tensor(2)), args.scalar(3),
                           args.scalar(4))};
      });

  r.def("tensordot(Tensor self, Tensor other, int[] dims_self, int[] dims_other) -> Tensor")
      .doc("contraction of self's dims_self with other's dims_other (paired in order), as one matrix product")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &a = args.tensor(0), &b = args.tensor(1);
        const auto &da = args.ints(2), &db = args.ints(3);
        TD_CHECK_ARG(da.size() == db.size(), "[tensordot] both dimension lists should have same length (got ",
                     da.size(), " and ", db.size(), ")");
        std::vector<bool> ca(a.dim()), cb(b.dim());
        int64_t k = 1;
        std::vector<int64_t> pa_free, pb_free, pa, pb, out_shape;
        for (size_t i = 0; i < da.size(); ++i) {
          int64_t x = wrap_dim("tensordot", da[i], a.dim()), y = wrap_dim("tensordot", db[i], b.dim());
          TD_CHECK_ARG(a.size(x) == b.size(y), "[tensordot] contracted dimensions need to match, but first has size ",
                       a.size(x), " in dim ", x, " and second has size ", b.size(y), " in dim ", y);
          TD_CHECK_ARG(!ca[x] && !cb[y], "[tensordot] a dim appears twice in the dimension lists");
          ca[x] = cb[y] = true;
          pa.push_back(x);
          pb.push_back(y);
          k *= a.size(x);
        }
        int64_t m = 1, n = 1;
        for (int64_t i = 0; i < a.dim(); ++i) {
          if (ca[i]) continue;
          pa_free.push_back(i);
          out_shape.push_back(a.size(i));
          m *= a.size(i);
        }
        for (int64_t i = 0; i < b.dim(); ++i) {
          if (cb[i]) continue;
          pb_free.push_back(i);
          out_shape.push_back(b.size(i));
          n *= b.size(i);
        }
        // a as [free_a, contracted], b as [contracted, free_b]: one mm.
        std::vector<int64_t> perm_a = pa_free, perm_b = pb;
        perm_a.insert(perm_a.end(), pa.begin(), pa.end());
        perm_b.insert(perm_b.end(), pb_free.begin(), pb_free.end());
        Tensor am = a.permute(perm_a).reshape({m, k}), bm = b.permute(perm_b).reshape({k, n});
        return {am.mm(bm).view(out_shape)};
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

  r.def("bilinear(Tensor input1, Tensor input2, Tensor weight, Tensor? bias=None) -> Tensor")
      .doc("y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]")
      .composite()
      .forward([](const Args& args) -> std::vector<Tensor> {
        const Tensor &x1 = args.tensor(0), &x2 = args.tensor(1), &w = args.tensor(2);
        const Tensor bias = args.optional_tensor(3);
        TD_CHECK_ARG(x1.dim() == x2.dim(), "[bilinear] bilinear(): input dimensions do not match: got ", x1.dim(),
                     " and ", x2.dim());
        for (int64_t d = 0; d + 1 < x1.dim(); ++d) {
          TD_CHECK_ARG(x1.size(d) == x2.size(d), "[bilinear] bilinear(): input batch dimensions do not match at dim ",
                       d, ": got ", x1.size(d), " and ", x2.size(d));
        }
        TD_CHECK_ARG(w.dim() == 3, "[bilinear] weight must be 3-D [out_features, in1_features, in2_features], got ",
                     shape_str(w.sizes()));
        TD_CHECK_ARG(x1.dim() >= 1 && x1.size(-1) == w.size(1), "[bilinear] bilinear(): input1 size does not match "
                     "weight size: got ", x1.dim() ? x1.size(-1) : 0, " but expected ", w.size(1));
        TD_CHECK_ARG(x2.size(-1) == w.size(2), "[bilinear] bilinear(): input2 size does not match weight size: got ",
                     x2.size(-1), " but expected ", w.size(2));
        TD_CHECK_ARG(!bias.defined() || (bias.dim() == 1 && bias.size(0) == w.size(0)), "[bilinear] bilinear(): bias "
                     "size does not match weight size: got ", bias.defined() ? bias.size(-1) : 0, " but expected ",
                     w.size(0));
        const int64_t out_f = w.size(0), in1 = w.size(1), in2 = w.size(2);
        std::vector<int64_t> batch(x1.sizes().begin(), x1.sizes().end() - 1);
        const int64_t n = shape_numel(batch);
        // t[n, o, j] = sum_i x1[n, i] w[o, i, j] (one GEMM), then y[n, o] = sum_j t[n, o, j] x2[n, j] (a bmm).
        Tensor t = x1.reshape({n, in1}).matmul(w.permute({1, 0, 2}).reshape({in1, out_f * in2}));
        Tensor y = t.reshape({n, out_f, in2}).bmm(x2.reshape({n, in2, 1})).reshape({n, out_f});
        if (bias.defined()) y = y.add(bias);
        batch.push_back(out_f);
        return {y.reshape(batch)};
      });
}

}  // namespace td
