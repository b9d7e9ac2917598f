// torch.linalg beyond the PyTorch fixtures (tests/golden/linalg.json): float64 and complex128
// finite-difference checks of first and second derivatives, identities between the ops (A inv(A) = I,
// L L^H = A, V diag(w) V^H = A, det = the product of the eigenvalues), batches that broadcast, and the
// errors, each naming the op and what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/linalg.h"
#include "core/tensor.h"
#include "core/tensor_impl.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using c128 = std::complex<double>;
using Inputs = std::vector<Tensor>;
using testing::error_of;
using ::testing::HasSubstr;

class LinalgTest : public testing::DeviceTest {
 protected:
  /// A float64 matrix (batch) of full rank, plus `shift` on the diagonal (well-conditioned).
  Tensor matrix(std::vector<int64_t> shape, double shift, bool requires_grad = true) const {
    std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
    // Not a linear recurrence (sin(a i + b) alone is one, which makes any three columns dependent).
    for (size_t i = 0; i < v.size(); ++i) {
      const double k = static_cast<double>(i);
      v[i] = std::sin(1.7 * k + 0.4) + 0.5 * std::cos(0.37 * k * k);
    }
    Tensor t = make64(v, shape);
    const int64_t n = shape.back();
    if (shift != 0)
      t = t.add(call_op("eye", {Scalar(n), None{}, DType::kFloat64, device_.str()})[0].mul(Scalar(shift)));
    return requires_grad ? t.detach().requires_grad_() : t.detach();
  }
  Tensor cmatrix(std::vector<int64_t> shape, double shift, bool requires_grad = true) const {
    Tensor re = matrix(shape, shift, false), im = matrix(shape, 0, false).flip({-1}).mul(Scalar(0.5));
    Tensor z = Tensor::complex(re, im);
    return requires_grad ? z.requires_grad_() : z;
  }
  static Tensor mh(const Tensor& x) { return x.transpose(-2, -1).conj(); }
  static void expect_close(const Tensor& a, const Tensor& b, double tol) {
    EXPECT_TRUE(a.sub(b).abs().max().item<double>() <= tol) << a.str() << "\nvs\n" << b.str();
  }
};

TD_DEVICE_TEST(LinalgTest, SolveAndInverseGradcheck) {
  Tensor a = matrix({3, 3}, 4), b = matrix({3, 2}, 0);
  expect_gradcheck("solve", [](const Inputs& v) { return linalg::solve(v[0], v[1]); }, {a, b});
  Tensor vector = matrix({1, 3}, 0, false).reshape({3}).requires_grad_();
  expect_gradcheck("solve vector", [](const Inputs& v) { return linalg::solve(v[0], v[1]); }, {a, vector});
  expect_gradcheck("solve broadcast", [](const Inputs& v) { return linalg::solve(v[0], v[1]); },
                   {matrix({2, 3, 3}, 4), matrix({3, 1}, 0)});
  expect_gradcheck("solve right", [](const Inputs& v) { return linalg::solve(v[0], v[1], false); },
                   {a, matrix({2, 3}, 0)});
  expect_gradcheck("inv", [](const Inputs& v) { return linalg::inv(v[0]); }, {matrix({2, 3, 3}, 4)});
  expect_gradcheck("complex solve", [](const Inputs& v) { return linalg::solve(v[0], v[1]); },
                   {cmatrix({3, 3}, 4), cmatrix({3, 2}, 0)});
  expect_gradcheck("complex inv", [](const Inputs& v) { return linalg::inv(v[0]); }, {cmatrix({3, 3}, 4)});
}

TD_DEVICE_TEST(LinalgTest, DeterminantsGradcheck) {
  expect_gradcheck("det", [](const Inputs& v) { return linalg::det(v[0]); }, {matrix({2, 3, 3}, 1)});
  expect_gradcheck("slogdet", [](const Inputs& v) { return linalg::slogdet(v[0]).second; }, {matrix({3, 3}, -2)});
  expect_gradcheck("complex det", [](const Inputs& v) { return linalg::det(v[0]); }, {cmatrix({3, 3}, 1)});
  expect_gradcheck("complex slogdet sign", [](const Inputs& v) { return linalg::slogdet(v[0]).first; },
                   {cmatrix({3, 3}, 1)});
  expect_gradcheck("complex slogdet", [](const Inputs& v) { return linalg::slogdet(v[0]).second; },
                   {cmatrix({3, 3}, 1)});
}

TD_DEVICE_TEST(LinalgTest, CholeskyAndEighGradcheck) {
  // Functions of a free matrix X through a Hermitian input: X X^H + 3 I (Cholesky), X + X^H (eigh), so the
  // finite differences move the input within the matrices the ops accept.
  auto eye3 = [this] { return call_op("eye", {Scalar(int64_t{3}), None{}, DType::kFloat64, device_.str()})[0]; };
  Tensor x = matrix({3, 3}, 1);
  expect_gradcheck("cholesky", [&](const Inputs& v) { return linalg::cholesky(v[0].matmul(mh(v[0])).add(eye3())); },
                   {x});
  expect_gradcheck("cholesky upper", [&](const Inputs& v) {
    return linalg::cholesky(v[0].matmul(mh(v[0])).add(eye3()), true);
  }, {x});
  expect_gradcheck("eigvalsh", [](const Inputs& v) { return linalg::eigvalsh(v[0].add(mh(v[0]))); }, {x});
  // Eigenvectors up to sign: V * V is invariant.
  expect_gradcheck("eigh vectors", [](const Inputs& v) {
    Tensor vectors = linalg::eigh(v[0].add(mh(v[0]))).second;
    return vectors.mul(vectors);
  }, {x});
  // Complex eigenvectors up to phase: V diag(w) V^H is invariant (and is the input).
  expect_gradcheck("complex eigh", [](const Inputs& v) {
    auto [w, vectors] = linalg::eigh(v[0].add(mh(v[0])));
    return vectors.mul(w.to(vectors.dtype()).unsqueeze(-2)).matmul(mh(vectors)).mul(vectors.abs().to(vectors.dtype()));
  }, {cmatrix({3, 3}, 1)});
}

TD_DEVICE_TEST(LinalgTest, IdentitiesHold) {
  Tensor a = matrix({2, 4, 4}, 5, false);
  Tensor eye = call_op("eye", {Scalar(int64_t{4}), None{}, DType::kFloat64, device_.str()})[0];
  expect_close(a.matmul(linalg::inv(a)), eye.expand({2, 4, 4}), 1e-12);
  Tensor s = a.matmul(mh(a)).add(eye);
  Tensor l = linalg::cholesky(s);
  expect_close(l.matmul(mh(l)), s, 1e-12);
  EXPECT_EQ(l.triu(1).abs().max().item<double>(), 0.0);
  auto [w, v] = linalg::eigh(s);
  expect_close(v.mul(w.unsqueeze(-2)).matmul(mh(v)), s, 1e-12);
  expect_close(linalg::det(s), w.prod(-1), 1e-9);
  auto [sign, logabsdet] = linalg::slogdet(a.neg());
  expect_close(sign.mul(logabsdet.exp()), linalg::det(a.neg()), 1e-9);
  Tensor z = cmatrix({3, 3}, 4, false);
  Tensor zeye = call_op("eye", {Scalar(int64_t{3}), None{}, DType::kFloat64, device_.str()})[0].to(DType::kComplex128);
  expect_close(z.matmul(linalg::inv(z)), zeye, 1e-12);
}

// Batches of larger square matrices (CUDA factors and solves real ones with cuBLAS's batched getrf/getrs):
// the CPU's pivots (LAPACK's partial pivoting, no ties here), its factors and solutions, and small residuals.
TD_DEVICE_TEST(LinalgTest, BatchedLuOfLargerMatricesMatchesTheCpu) {
  for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double tol = dtype == DType::kFloat64 ? 1e-10 : 2e-4;
    Tensor a = matrix({6, 48, 48}, 10, false).to(dtype), b = matrix({6, 48, 3}, 0, false).to(dtype);
    auto [lu, pivots] = linalg::lu_factor(a);
    auto [cpu_lu, cpu_pivots] = linalg::lu_factor(a.to("cpu"));
    EXPECT_EQ(pivots.to("cpu").to_vector<int32_t>(), cpu_pivots.to_vector<int32_t>());
    expect_close(lu.to("cpu"), cpu_lu, tol);
    Tensor x = linalg::solve(a, b);
    expect_close(x.to("cpu"), linalg::solve(a.to("cpu"), b.to("cpu")), tol);
    expect_close(a.matmul(x), b, tol);
  }
}

TD_DEVICE_TEST(LinalgTest, SingularAndEmptyMatrices) {
  // det's gradient at a singular matrix is its cofactor matrix ([[4, -2], [-2, 1]] here; PyTorch 2's answer,
  // where 1.13 gives 0), in a batch beside an invertible matrix (whose gradient stays the adjugate's transpose).
  Tensor pair = Tensor::stack({make64({1, 2, 2, 4}, {2, 2}), make64({2, 1, 1, 3}, {2, 2})}).requires_grad_();
  linalg::det(pair).sum().backward();
  expect_close(pair.grad(), make64({4, -2, -2, 1, 3, -1, -1, 2}, {2, 2, 2}), 1e-12);
  Tensor rank2 = make64({1, 2, 3, 2, 4, 6, 0, 1, 1}, {3, 3}).requires_grad_();
  linalg::det(rank2).backward();
  // The cofactors of [[1, 2, 3], [2, 4, 6], [0, 1, 1]]: rows (-2, -2, 2), (1, 1, -1), (0, 0, 0).
  expect_close(rank2.grad(), make64({-2, -2, 2, 1, 1, -1, 0, 0, 0}, {3, 3}), 1e-12);
  Tensor singular = make64({1, 2, 2, 4}, {2, 2});
  EXPECT_EQ(linalg::det(singular).item<double>(), 0.0);
  auto [sign, logabsdet] = linalg::slogdet(singular);
  EXPECT_EQ(sign.item<double>(), 0.0);
  EXPECT_TRUE(std::isinf(logabsdet.item<double>()) && logabsdet.item<double>() < 0);
  Tensor empty_batch = make64({}, {0, 3, 3});
  EXPECT_EQ(linalg::inv(empty_batch).shape(), (std::vector<int64_t>{0, 3, 3}));
  EXPECT_EQ(linalg::det(make64({}, {0, 0})).item<double>(), 1.0);
}

TD_DEVICE_TEST(LinalgTest, ErrorsNameTheOpAndTheProblem) {
  Tensor singular = make64({1, 2, 2, 4}, {2, 2});
  EXPECT_THAT(error_of([&] { linalg::inv(singular); }).what(),
              HasSubstr("[linalg_inv] linalg.inv: The diagonal element 2 is zero, the inversion could not be "
                        "completed because the input matrix is singular."));
  Tensor batch = Tensor::stack({make64({1, 0, 0, 1}, {2, 2}), singular});
  EXPECT_THAT(error_of([&] { linalg::solve(batch, make64({1, 1}, {2})); }).what(),
              HasSubstr("torch.linalg.solve: (Batch element 1): The solver failed because the input matrix is "
                        "singular."));
  EXPECT_THAT(error_of([&] { linalg::cholesky(make64({1, 2, 2, 1}, {2, 2})); }).what(),
              HasSubstr("[linalg_cholesky_ex] linalg.cholesky: The factorization could not be completed because the "
                        "input is not positive-definite (the leading minor of order 2 is not positive-definite)."));
  EXPECT_THAT(error_of([&] { linalg::det(make64({1, 2, 3, 4, 5, 6}, {2, 3})); }).what(),
              HasSubstr("[linalg_det] A must be batches of square matrices, but they are 2 by 3 matrices"));
  EXPECT_THAT(error_of([&] { linalg::det(tensor(std::vector<int64_t>{1, 2, 3, 4}, {2, 2}, device_)); }).what(),
              HasSubstr("[linalg_det] Expected a floating point or complex tensor as input. Got Long"));
  EXPECT_THAT(error_of([&] { linalg::solve(make64({1, 0, 0, 1}, {2, 2}), make64({1, 2, 3}, {3})); }).what(),
              HasSubstr("[linalg_solve] Incompatible shapes of A and B for the equation AX = B ([2, 2] and [3])"));
  EXPECT_THAT(error_of([&] { linalg::eigh(make64({1, 0, 0, 1}, {2, 2}), "X"); }).what(),
              HasSubstr("[linalg_eigh] Expected UPLO argument to be 'L' or 'U', but got X"));
  // A loss of complex eigenvectors that depends on their phase has no gradient.
  Tensor z = cmatrix({2, 2}, 2);
  Tensor vectors = linalg::eigh(z.add(mh(z))).second;
  EXPECT_THAT(error_of([&] { vectors.real().sum().backward(); }).what(),
              HasSubstr("specified up to multiplication by e^{i phi}"));
}

TD_DEVICE_TEST(LinalgTest, SvdQrAndTriangularGradcheck) {
  // Singular vectors up to sign (real) or phase (complex): U diag(S) Vh and |U| are invariant.
  for (auto shape : {std::vector<int64_t>{4, 3}, std::vector<int64_t>{3, 4}}) {
    const std::string tag = shape_str(shape);
    expect_gradcheck("svd " + tag, [](const Inputs& v) {
      auto [u, s, vh] = linalg::svd(v[0], false);
      return u.mul(s.to(u.dtype()).unsqueeze(-2)).matmul(vh).add(u.abs().to(u.dtype()).sum({-1}, true));
    }, {matrix(shape, 0)});
    expect_gradcheck("complex svd " + tag, [](const Inputs& v) {
      auto [u, s, vh] = linalg::svd(v[0], false);
      return u.mul(s.to(u.dtype()).unsqueeze(-2)).matmul(vh).mul(vh.abs().sum().to(u.dtype()));
    }, {cmatrix(shape, 0)});
    expect_gradcheck("svdvals " + tag, [](const Inputs& v) { return linalg::svdvals(v[0]); }, {matrix(shape, 0)});
    expect_gradcheck("qr " + tag, [](const Inputs& v) {
      auto [q, r] = linalg::qr(v[0]);
      return Tensor::cat({q.reshape({-1}), r.reshape({-1})});
    }, {matrix(shape, 0)});
    expect_gradcheck("complex qr " + tag, [](const Inputs& v) {
      auto [q, r] = linalg::qr(v[0]);
      return Tensor::cat({q.reshape({-1}), r.reshape({-1})});
    }, {cmatrix(shape, 0)});
    expect_gradcheck("pinv " + tag, [](const Inputs& v) { return linalg::pinv(v[0]); }, {matrix(shape, 0)});
  }
  // A singular value of 0 (rank 2 of 3): svdvals' gradient stays finite (it needs no division by S).
  Tensor rank2 = make64({1, 2, 3, 2, 4, 6, 0, 1, 1}, {3, 3}).requires_grad_();
  linalg::svdvals(rank2).sum().backward();
  EXPECT_TRUE(rank2.grad().isfinite().all().item<bool>());
  Tensor a = matrix({3, 3}, 4), b = matrix({3, 2}, 0);
  for (bool upper : {true, false}) {
    for (bool unit : {true, false}) {
      const std::string tag = std::string(upper ? " upper" : " lower") + (unit ? " unit" : "");
      expect_gradcheck("solve_triangular" + tag, [=](const Inputs& v) {
        return linalg::solve_triangular(v[0], v[1], upper, true, unit);
      }, {a, b});
      expect_gradcheck("solve_triangular right" + tag, [=](const Inputs& v) {
        return linalg::solve_triangular(v[0], v[1].transpose(0, 1), upper, false, unit);
      }, {a, b});
    }
  }
}

TD_DEVICE_TEST(LinalgTest, DecompositionsReconstructTheirInput) {
  for (auto shape : {std::vector<int64_t>{2, 5, 3}, std::vector<int64_t>{2, 3, 5}}) {
    Tensor a = matrix(shape, 0, false);
    auto [u, s, vh] = linalg::svd(a, false);
    expect_close(u.mul(s.unsqueeze(-2)).matmul(vh), a, 1e-12);
    auto [uf, sf, vhf] = linalg::svd(a, true);
    EXPECT_EQ(uf.size(-1), shape[1]);
    EXPECT_EQ(vhf.size(-2), shape[2]);
    auto [q, r] = linalg::qr(a);
    expect_close(q.matmul(r), a, 1e-12);
    EXPECT_EQ(r.tril(-1).abs().max().item<double>(), 0.0);
    auto [qc, rc] = linalg::qr(a, "complete");
    expect_close(qc.matmul(rc), a, 1e-12);
    EXPECT_EQ(qc.size(-1), shape[1]);
    auto [qr_q, qr_r] = linalg::qr(a, "r");
    EXPECT_EQ(qr_q.numel(), 0);
    expect_close(qr_r, r, 0);
    Tensor p = linalg::pinv(a);
    expect_close(a.matmul(p).matmul(a), a, 1e-12);  // a Moore-Penrose condition
  }
  Tensor a = matrix({3, 3}, 4, false);
  Tensor l = a.tril();
  expect_close(l.matmul(linalg::solve_triangular(a, matrix({3, 2}, 0, false), false)), matrix({3, 2}, 0, false), 1e-12);
  EXPECT_EQ(linalg::matrix_rank(make64({1, 2, 3, 2, 4, 6, 0, 1, 1}, {3, 3})).item<int64_t>(), 2);
  EXPECT_EQ(linalg::matrix_rank(a).item<int64_t>(), 3);
  expect_close(linalg::matrix_power(a, 3), a.matmul(a).matmul(a), 1e-10);
  expect_close(linalg::matrix_power(a, -1), linalg::inv(a), 1e-12);
  expect_close(linalg::multi_dot(std::vector<Tensor>{a, a, a}), a.matmul(a).matmul(a), 1e-10);
  Tensor x = make64({3, -4, 1, 2}, {2, 2});
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(linalg::matrix_norm(x, Scalar(inf)).item<double>(), 7);   // max row sum of |x|
  EXPECT_DOUBLE_EQ(linalg::matrix_norm(x, Scalar(-inf)).item<double>(), 3);
  EXPECT_DOUBLE_EQ(linalg::matrix_norm(x, Scalar(1)).item<double>(), 6);     // max column sum
  EXPECT_NEAR(linalg::norm(x).item<double>(), std::sqrt(30.0), 1e-12);
  EXPECT_DOUBLE_EQ(linalg::vector_norm(x, Scalar(inf)).item<double>(), 4);
  EXPECT_NEAR(linalg::cond(a).item<double>(),
              (linalg::svdvals(a).max().div(linalg::svdvals(a).min())).item<double>(), 1e-12);
}

TD_DEVICE_TEST(LinalgTest, LeastSquares) {
  // Fitting y = 1 + 2 t exactly: the solution, zero residuals with gelsd, and rank 2.
  Tensor a = make64({1, 0, 1, 1, 1, 2, 1, 3}, {4, 2});
  Tensor y = make64({1, 3, 5, 7}, {4});
  auto [x, residuals, rank, values] = linalg::lstsq(a, y, std::nullopt, std::string("gelsd"));
  expect_close(x, make64({1, 2}, {2}), 1e-12);
  EXPECT_LT(residuals.abs().max().item<double>(), 1e-20);
  EXPECT_EQ(rank.item<int64_t>(), 2);
  EXPECT_EQ(values.numel(), 2);
  // A rank-deficient A (two equal columns): the minimum-norm solution splits the weight evenly.
  Tensor twin = make64({1, 1, 2, 2, 3, 3}, {3, 2});
  Tensor x2 = std::get<0>(linalg::lstsq(twin, make64({2, 4, 6}, {3})));
  expect_close(x2, make64({1, 1}, {2}), 1e-10);
  EXPECT_EQ(std::get<2>(linalg::lstsq(twin, make64({2, 4, 6}, {3}))).item<int64_t>(), 1);
  expect_gradcheck("lstsq", [](const Inputs& v) { return std::get<0>(linalg::lstsq(v[0], v[1])); },
                   {matrix({5, 3}, 0), matrix({5, 2}, 0)});
  EXPECT_THAT(error_of([&] { linalg::lstsq(a, y, std::nullopt, std::string("qr")); }).what(),
              HasSubstr("[linalg_lstsq] torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, "
                        "gelss)"));
  EXPECT_THAT(error_of([&] { linalg::lstsq(a, make64({1, 2, 3}, {3})); }).what(),
              HasSubstr("[linalg_lstsq] torch.linalg.lstsq: input.size(-2) should match other.size(-2), got [4, 2] and "
                        "[3]"));
}

TD_DEVICE_TEST(LinalgTest, LuFactorsSolvesAndGradients) {
  for (auto shape : {std::vector<int64_t>{4, 4}, std::vector<int64_t>{5, 3}, std::vector<int64_t>{3, 5}}) {
    const std::string tag = shape_str(shape);
    Tensor a = matrix(shape, 0, false);
    auto [p, l, u] = linalg::lu(a);
    expect_close(p.matmul(l).matmul(u), a, 1e-12);
    EXPECT_EQ(u.tril(-1).abs().max().item<double>(), 0.0);
    expect_gradcheck("lu " + tag, [](const Inputs& v) {
      auto [pp, ll, uu] = linalg::lu(v[0]);
      return Tensor::cat({ll.reshape({-1}), uu.reshape({-1})});
    }, {matrix(shape, 0)});
    Tensor z = cmatrix(shape, 0);
    auto [zp, zl, zu] = linalg::lu(z);
    EXPECT_TRUE(zl.requires_grad() && zu.requires_grad()) << tag;
    expect_gradcheck("complex lu " + tag, [](const Inputs& v) {
      auto [pp, ll, uu] = linalg::lu(v[0]);
      return Tensor::cat({ll.reshape({-1}), uu.reshape({-1})});
    }, {z});
  }
  Tensor a = matrix({3, 3}, 4, false), b = matrix({3, 2}, 0, false);
  auto [lu, pivots] = linalg::lu_factor(a);
  EXPECT_EQ(pivots.dtype(), DType::kInt32);
  expect_close(linalg::lu_solve(lu, pivots, b), linalg::solve(a, b), 1e-12);
  expect_close(linalg::lu_solve(lu, pivots, b, true, true), linalg::solve(mh(a), b), 1e-12);
  expect_close(linalg::lu_solve(lu, pivots, b.transpose(0, 1), false), linalg::solve(a, b.transpose(0, 1), false),
               1e-12);
  EXPECT_THAT(error_of([&] { linalg::lu_factor(make64({1, 2, 2, 4}, {2, 2})); }).what(),
              HasSubstr("[linalg_lu_factor] torch.linalg.lu_factor: U[2,2] is zero and using it on lu_solve would "
                        "result in a division by zero."));
  EXPECT_EQ(std::get<2>(linalg::lu_factor_ex(make64({1, 2, 2, 4}, {2, 2}))).to(DType::kInt64).item<int64_t>(), 2);
  // The _ex forms report a singular matrix in info (LAPACK's non-finite result stands) or raise on request.
  auto [inverse, info] = linalg::inv_ex(make64({1, 2, 2, 4}, {2, 2}));
  EXPECT_EQ(info.to(DType::kInt64).item<int64_t>(), 2);
  EXPECT_FALSE(inverse.isfinite().all().item<bool>());
  EXPECT_THAT(error_of([&] { linalg::inv_ex(make64({1, 2, 2, 4}, {2, 2}), true); }).what(),
              HasSubstr("[linalg_inv_ex] linalg.inv_ex: The diagonal element 2 is zero"));
  auto [x, solve_info] = linalg::solve_ex(a, b);
  expect_close(x, linalg::solve(a, b), 1e-12);
  EXPECT_EQ(solve_info.to(DType::kInt64).item<int64_t>(), 0);
}

TD_DEVICE_TEST(LinalgTest, GeneralEigenproblem) {
  // A rotation by 90 degrees has eigenvalues +-i (LAPACK lists the pair as i, -i).
  Tensor rot = make64({0, -1, 1, 0}, {2, 2});
  auto values = linalg::eigvals(rot).to_vector<c128>();
  ASSERT_EQ(values.size(), 2U);
  EXPECT_NEAR(std::abs(values[0] - c128(0, 1)), 0, 1e-12);
  EXPECT_NEAR(std::abs(values[1] - c128(0, -1)), 0, 1e-12);
  for (bool complex : {false, true}) {
    Tensor a = complex ? cmatrix({4, 4}, 0, false) : matrix({4, 4}, 0, false);
    auto [w, v] = linalg::eig(a);
    EXPECT_EQ(w.dtype(), DType::kComplex128);
    expect_close(a.to(DType::kComplex128).matmul(v), v.mul(w.unsqueeze(-2)), 1e-12);
    const std::string tag = complex ? " complex" : " real";
    expect_gradcheck("eigvals" + tag, [](const Inputs& x) { return linalg::eigvals(x[0]); },
                     {complex ? cmatrix({3, 3}, 0) : matrix({3, 3}, 0)});
    // V diag(L) V^-1 and |V| do not depend on the eigenvectors' phases.
    expect_gradcheck("eig" + tag, [](const Inputs& x) {
      auto [l, vv] = linalg::eig(x[0]);
      return vv.mul(l.unsqueeze(-2)).matmul(linalg::inv(vv)).add(vv.abs().to(vv.dtype()));
    }, {complex ? cmatrix({3, 3}, 0) : matrix({3, 3}, 0)});
  }
}

TD_DEVICE_TEST(LinalgTest, MatrixExponential) {
  // exp of t times a rotation's generator is the rotation by t (t = 5: two squarings after scaling).
  Tensor gen = make64({0, -5, 5, 0}, {2, 2});
  expect_close(linalg::matrix_exp(gen), make64({std::cos(5.0), -std::sin(5.0), std::sin(5.0), std::cos(5.0)}, {2, 2}),
               1e-13);
  Tensor diag = make64({1, 0, 0, -2}, {2, 2});
  expect_close(linalg::matrix_exp(diag), make64({std::exp(1.0), 0, 0, std::exp(-2.0)}, {2, 2}), 1e-14);
  Tensor a = matrix({2, 3, 3}, 0, false);
  expect_close(
      linalg::matrix_exp(a).matmul(linalg::matrix_exp(a.neg())),
      call_op("eye", {Scalar(int64_t{3}), None{}, DType::kFloat64, device_.str()})[0].expand({2, 3, 3}),
      1e-12);
  expect_gradcheck("matrix_exp", [](const Inputs& v) { return linalg::matrix_exp(v[0]); }, {matrix({3, 3}, 0)});
  expect_gradcheck("complex matrix_exp", [](const Inputs& v) { return linalg::matrix_exp(v[0]); },
                   {cmatrix({2, 2}, 0)});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(linalg::matrix_exp(make64({1, nan, 0, 1}, {2, 2})).isnan().all().item<bool>());
}

TD_DEVICE_TEST(LinalgTest, TensorSolvesAndChains) {
  Tensor a = matrix({6, 6}, 6, false).reshape({2, 3, 6}), b = matrix({2, 3}, 0, false);
  Tensor x = linalg::tensorsolve(a, b);
  EXPECT_EQ(x.shape(), (std::vector<int64_t>{6}));
  expect_close(a.reshape({6, 6}).matmul(x).reshape({2, 3}), b, 1e-12);
  Tensor inv = linalg::tensorinv(a, 2);
  EXPECT_EQ(inv.shape(), (std::vector<int64_t>{6, 2, 3}));
  expect_close(inv.reshape({6, 6}).matmul(a.reshape({6, 6})),
               call_op("eye", {Scalar(int64_t{6}), None{}, DType::kFloat64, device_.str()})[0], 1e-12);
  // The cheapest order multiplies [5, 1] x [1, 4] first; the value is the product in any order.
  std::vector<Tensor> chain{matrix({2, 5}, 0, false), matrix({5, 1}, 0, false), matrix({1, 4}, 0, false),
                            matrix({4, 3}, 0, false)};
  expect_close(linalg::multi_dot(chain), chain[0].matmul(chain[1]).matmul(chain[2]).matmul(chain[3]), 1e-12);
  Tensor u = make64({1, 0, 0}, {3}), v = make64({0, 1, 0}, {3});
  expect_close(linalg::cross(u, v), make64({0, 0, 1}, {3}), 0);
  EXPECT_DOUBLE_EQ(linalg::vecdot(u, u).item<double>(), 1);
  EXPECT_THAT(error_of([&] { linalg::tensorinv(matrix({2, 3}, 0, false), 1); }).what(),
              HasSubstr("[linalg_tensorinv] Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                        "prod(self.shape[:ind]), but got 3 != 2"));
}

TD_DEVICE_TEST(LinalgTest, EmptyMatricesGiveEmptyFactors) {
  // PyTorch's shapes for empty inputs, and no LAPACK call on an empty matrix.
  Tensor square = make64({}, {2, 0, 0}), tall = make64({}, {3, 0});
  EXPECT_EQ(linalg::det(square).to_vector<double>(), (std::vector<double>{1, 1}));
  EXPECT_EQ(linalg::inv(square).shape(), (std::vector<int64_t>{2, 0, 0}));
  EXPECT_EQ(linalg::cholesky(square).shape(), (std::vector<int64_t>{2, 0, 0}));
  EXPECT_EQ(linalg::eigh(square).first.shape(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(linalg::eig(square).first.shape(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(linalg::matrix_exp(square).shape(), (std::vector<int64_t>{2, 0, 0}));
  auto [u, s, vh] = linalg::svd(tall);
  EXPECT_EQ(u.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(s.shape(), (std::vector<int64_t>{0}));
  EXPECT_EQ(vh.shape(), (std::vector<int64_t>{0, 0}));
  auto [q, r] = linalg::qr(tall);
  EXPECT_EQ(q.shape(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{0, 0}));
  auto [p, l, up] = linalg::lu(tall);
  EXPECT_EQ(p.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(l.shape(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(up.shape(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(linalg::pinv(tall).shape(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(linalg::matrix_rank(tall).item<int64_t>(), 0);
}

TD_DEVICE_TEST(LinalgTest, LdlFactorsAndSolves) {
  // An indefinite symmetric matrix (2 x 2 pivot blocks) and a Hermitian one: ldl_solve agrees with solve.
  Tensor a = make64({0, 1, 2, 1, 0, 3, 2, 3, 1}, {3, 3}), b = matrix({3, 2}, 0, false);
  auto [ld, pivots] = linalg::ldl_factor(a);
  EXPECT_EQ(pivots.dtype(), DType::kInt32);
  expect_close(linalg::ldl_solve(ld, pivots, b), linalg::solve(a, b), 1e-12);
  Tensor z = cmatrix({3, 3}, 4, false);
  Tensor h = z.add(mh(z));
  auto [zld, zpiv] = linalg::ldl_factor(h, true);
  Tensor zb = cmatrix({3, 1}, 0, false);
  expect_close(linalg::ldl_solve(zld, zpiv, zb, true), linalg::solve(h, zb), 1e-12);
  Tensor leaf = a.detach().requires_grad_();
  EXPECT_THAT(error_of([&] { linalg::ldl_factor(leaf).first.sum().backward(); }).what(),
              HasSubstr("[linalg_ldl_factor_ex] the derivative of linalg.ldl_factor_ex is not implemented"));
  EXPECT_THAT(error_of([&] { linalg::ldl_factor(make64({0, 0, 0, 0}, {2, 2})); }).what(),
              HasSubstr("[linalg_ldl_factor] torch.linalg.ldl_factor: D[1,1] is exactly zero"));
}

TD_DEVICE_TEST(LinalgTest, DecompositionErrors) {
  Tensor a = make64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_THAT(error_of([&] { linalg::qr(a, "thin"); }).what(),
              HasSubstr("[linalg_qr] qr received unrecognized mode 'thin' but expected one of 'reduced' (default), "
                        "'r', or 'complete'"));
  Tensor tall = make64({1, 2, 3, 4, 5, 7}, {3, 2}).requires_grad_();
  EXPECT_THAT(error_of([&] { linalg::qr(tall, "complete").first.sum().backward(); }).what(),
              HasSubstr("The QR decomposition is not differentiable when mode='complete' and nrows > ncols."));
  EXPECT_THAT(error_of([&] { linalg::svd(make64({1, 2}, {2})); }).what(),
              HasSubstr("[linalg_svd] The input tensor A must have at least 2 dimensions."));
  EXPECT_THAT(error_of([&] { linalg::solve_triangular(make64({1, 0, 0, 1}, {2, 2}), make64({1, 2, 3}, {3, 1}), true); })
                  .what(),
              HasSubstr("[linalg_solve_triangular] Incompatible shapes of A and B for the equation AX = B ([2, 2] and "
                        "[3, 1])"));
  EXPECT_THAT(error_of([&] { linalg::matrix_norm(a, "spectral"); }).what(),
              HasSubstr("[linalg_matrix_norm] Order spectral not supported."));
  EXPECT_THAT(error_of([&] { linalg::multi_dot(std::vector<Tensor>{a}); }).what(),
              HasSubstr("[linalg_multi_dot] multi_dot(): expected at least 2 tensors but got 1"));
  // A complex loss that depends on the singular vectors' phases has no gradient.
  Tensor z = cmatrix({3, 2}, 0);
  EXPECT_THAT(error_of([&] { std::get<0>(linalg::svd(z, false)).real().sum().backward(); }).what(),
              HasSubstr("specified up to multiplication by e^{i phi}"));
}

TD_INSTANTIATE_DEVICES(LinalgTest);

}  // namespace
}  // namespace td
