// complex64 and complex128 on every device: creation, conversions both ways, item/to_vector, printing,
// promotion, arithmetic, comparisons, sums and products, where/gather/cat, and the errors PyTorch gives.
// Expected values are PyTorch 1.13's (printed by /usr/bin/python3 with torch 1.13), or exact by hand where
// the derivation is given.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <functional>
#include <numbers>
#include <vector>

#include "core/complex.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"

namespace td {
namespace {

using ::testing::HasSubstr;
using c64 = std::complex<float>;
using c128 = std::complex<double>;

class ComplexTest : public testing::DeviceTest {
 protected:
  Tensor make_c(const std::vector<c64>& v) const { return tensor(v, {static_cast<int64_t>(v.size())}, device_); }
  Tensor make_z(const std::vector<c128>& v) const { return tensor(v, {static_cast<int64_t>(v.size())}, device_); }
  // The message of the error f throws.
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
  }
  std::string kernel(std::string_view name) const { return str(name, device_.is_cuda() ? "_cuda" : "_cpu"); }
};

void expect_near(const std::vector<c128>& got, const std::vector<c128>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].real(), want[i].real(), tol) << "element " << i;
    EXPECT_NEAR(got[i].imag(), want[i].imag(), tol) << "element " << i;
  }
}

TEST(ComplexType, LayoutAndArithmetic) {
  static_assert(sizeof(Complex<float>) == 8 && sizeof(Complex<double>) == 16);
  const Complex<double> a(1, 2), b(0.5, -1);
  // (1+2i)(0.5-i) = 0.5 - i + i - 2i^2 = 2.5; (1+2i)/(0.5-i) = (1+2i)(0.5+i)/1.25 = (-1.5+2i)/1.25.
  EXPECT_EQ(a * b, Complex<double>(2.5, 0));
  EXPECT_NEAR((a / b).re, -1.2, 1e-15);
  EXPECT_NEAR((a / b).im, 1.6, 1e-15);
  // Smith's division keeps huge denominators finite: (1+i) / (1e300 + 1e300 i) = 1e-300.
  const Complex<double> q = Complex<double>(1, 1) / Complex<double>(1e300, 1e300);
  EXPECT_DOUBLE_EQ(q.re, 1e-300);
  EXPECT_EQ(q.im, 0.0);
  EXPECT_EQ(abs(Complex<double>(3, 4)), 5.0);
  // sqrt(-4) = 2i; sqrt(-4 - 0i) = -2i (the branch cut follows the sign of the zero).
  EXPECT_EQ(sqrt(Complex<double>(-4, 0)), Complex<double>(0, 2));
  EXPECT_EQ(sqrt(Complex<double>(-4, -0.0)), Complex<double>(0, -2));
  const std::complex<double> s = std::exp(std::complex<double>(0.3, -1.7));
  const Complex<double> e = exp(Complex<double>(0.3, -1.7));
  EXPECT_NEAR(e.re, s.real(), 1e-15);
  EXPECT_NEAR(e.im, s.imag(), 1e-15);
  const std::complex<double> t = std::tanh(std::complex<double>(0.4, 1.1));
  const Complex<double> th = tanh(Complex<double>(0.4, 1.1));
  EXPECT_NEAR(th.re, t.real(), 1e-15);
  EXPECT_NEAR(th.im, t.imag(), 1e-15);
  EXPECT_EQ(tanh(Complex<double>(1000, 0.5)), Complex<double>(1, 0));  // no inf/inf
}

TD_DEVICE_TEST(ComplexTest, CreationAndReadBack) {
  Tensor a = make_c({{1, 2}, {3, -1}});
  EXPECT_EQ(a.dtype(), DType::kComplex64);
  EXPECT_EQ(a.to_vector<c64>(), (std::vector<c64>{{1, 2}, {3, -1}}));
  EXPECT_EQ(make_z({{0.1, -0.2}}).dtype(), DType::kComplex128);
  EXPECT_EQ(make_z({{0.1, -0.2}}).to_vector<c128>(), (std::vector<c128>{{0.1, -0.2}}));
  EXPECT_EQ(zeros({2}, {DType::kComplex128, device_}).to_vector<c128>(), (std::vector<c128>{0, 0}));
  EXPECT_EQ(ones({2}, {DType::kComplex64, device_}).to_vector<c64>(), (std::vector<c64>{1, 1}));
  // A complex fill value makes a complex64 tensor, as torch.full((2,), 1+2j).
  Tensor f = full({2}, Scalar(c128(1, 2)), {Scalar(c128(1, 2)).natural_dtype(), device_});
  EXPECT_EQ(f.dtype(), DType::kComplex64);
  EXPECT_EQ(f.to_vector<c64>(), (std::vector<c64>{{1, 2}, {1, 2}}));
  const std::vector<c128> raw = {{1.5, -2.5}, {0, 7}};
  Tensor b = from_buffer(raw.data(), {2}, DType::kComplex128, device_);
  EXPECT_EQ(b.to_vector<c128>(), raw);
  // item keeps both parts, as Python's complex.
  Scalar s = make_c({{1, 2}}).item();
  EXPECT_TRUE(s.is_complex());
  EXPECT_EQ(s.to_complex(), c128(1, 2));
  EXPECT_EQ(make_z({{-3, 0.5}}).item<c128>(), c128(-3, 0.5));
  EXPECT_EQ(make_c({{-3, 0.5}}).item<c64>(), c64(-3, 0.5));
}

TD_DEVICE_TEST(ComplexTest, Conversions) {
  // real -> complex: imaginary part 0.
  EXPECT_EQ(tensor(std::vector<int64_t>{1, 2}, {2}, device_).to(DType::kComplex64).to_vector<c64>(),
            (std::vector<c64>{{1, 0}, {2, 0}}));
  EXPECT_EQ(tensor_bool({true, false}, {2}, device_).to(DType::kComplex64).to_vector<c64>(),
            (std::vector<c64>{{1, 0}, {0, 0}}));
  EXPECT_EQ(make(std::vector<float>{0.5f}, {1}).to(DType::kFloat16).to(DType::kComplex128).to_vector<c128>(),
            (std::vector<c128>{{0.5, 0}}));
  // complex -> real keeps the real part (PyTorch warns "Casting complex values to real discards the
  // imaginary part"), for bool too: 1j casts to False in PyTorch 1.13.
  Tensor z = make_c({{0, 0}, {0, 1}, {2.7f, 1}, {0, -1.5f}});
  EXPECT_EQ(z.to(DType::kFloat32).to_vector<float>(), (std::vector<float>{0, 0, 2.7f, 0}));
  EXPECT_EQ(z.to(DType::kInt32).to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 2, 0}));
  EXPECT_EQ(z.to(DType::kBool).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 0}));
  // complex64 <-> complex128.
  Tensor w = make_z({{0.1, -0.2}}).to(DType::kComplex64);
  EXPECT_EQ(w.to_vector<c64>(), (std::vector<c64>{{0.1f, -0.2f}}));
  EXPECT_EQ(w.to(DType::kComplex128).to_vector<c128>(),
            (std::vector<c128>{{static_cast<double>(0.1f), static_cast<double>(-0.2f)}}));
}

TD_DEVICE_TEST(ComplexTest, InPlace) {
  // copy_ converts any dtype: complex into real keeps the real parts (PyTorch warns).
  Tensor x = zeros({2}, {DType::kFloat32, device_});
  x.copy_(make_c({{1, 2}, {0, 3}}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 0}));
  // Arithmetic in place may not turn a real tensor complex.
  EXPECT_THAT(error_of([&] { zeros({2}, {DType::kFloat32, device_}).add_(make_c({{0, 1}, {0, 1}})); }),
              HasSubstr("result type ComplexFloat can't be cast to the desired output type Float"));
  Tensor z = zeros({2}, {DType::kComplex64, device_});
  z.add_(make({1, 2}, {2}));
  z.mul_(Scalar(c128(0, 1)));
  EXPECT_EQ(z.to_vector<c64>(), (std::vector<c64>{{0, 1}, {0, 2}}));
}

TD_DEVICE_TEST(ComplexTest, PrintsLikePyTorch) {
  const std::string dev = device_.is_cuda() ? ", device='cuda:0'" : "";
  EXPECT_EQ(make_c({{1, 2}, {3, -1}}).str(), "tensor([1.+2.j, 3.-1.j]" + dev + ")");
  EXPECT_EQ(make_z({{1, 2}, {3, -1}}).str(), "tensor([1.+2.j, 3.-1.j]" + dev + ", dtype=torch.complex128)");
  EXPECT_EQ(make_c({{1.5f, 2}, {-3, -0.25f}, {0, 0}}).str(),
            "tensor([ 1.5000+2.0000j, -3.0000-0.2500j,  0.0000+0.0000j]" + dev + ")");
  EXPECT_EQ(tensor(std::vector<c64>{{1, 2}}, {}, device_).str(), "tensor(1.+2.j" + dev + ")");
  EXPECT_EQ(tensor(std::vector<c64>{{1, 2}, {3, -1}, {0, 0.5f}, {-2, 0}}, {2, 2}, device_).str(),
            "tensor([[ 1.+2.0000j,  3.-1.0000j],\n        [ 0.+0.5000j, -2.+0.0000j]]" + dev + ")");
  EXPECT_EQ(make_c({{1e-5f, 1}, {1000, 0}}).str(), "tensor([1.0000e-05+1.j, 1.0000e+03+0.j]" + dev + ")");
  EXPECT_EQ(make_c({{INFINITY, 1}, {NAN, NAN}}).str(), "tensor([inf+1.j, nan+nanj]" + dev + ")");
  EXPECT_EQ(make_z({{0.1, 0.2}, {-0.0, -0.3}}).str(),
            "tensor([0.1000+0.2000j, -0.0000-0.3000j]" + dev + ", dtype=torch.complex128)");
  EXPECT_EQ(Scalar(c128(1, -2)).str(), "(1-2j)");
}

TD_DEVICE_TEST(ComplexTest, Promotion) {
  Tensor c = make_c({{1, 2}});
  EXPECT_EQ(c.add(make64({1}, {1})).dtype(), DType::kComplex128);  // complex64 + float64
  EXPECT_EQ(c.add(make({1}, {1})).dtype(), DType::kComplex64);
  EXPECT_EQ(c.add(make_z({{1, 0}})).dtype(), DType::kComplex128);
  // Numbers: a complex number makes real tensors complex64 (complex128 from float64), and never widens a
  // complex64 tensor.
  EXPECT_EQ(tensor(std::vector<int64_t>{1, 2}, {2}, device_).mul(Scalar(c128(1, 1))).dtype(), DType::kComplex64);
  EXPECT_EQ(make64({1, 2}, {2}).mul(Scalar(c128(1, 1))).dtype(), DType::kComplex128);
  EXPECT_EQ(c.add(Scalar(c128(0, 1))).dtype(), DType::kComplex64);
  // A 0-dim complex128 tensor with a float32 one: the float keeps its precision (PyTorch's toComplexType).
  EXPECT_EQ(make({1, 2}, {2}).add(tensor(std::vector<c128>{{1, 1}}, {}, device_)).dtype(), DType::kComplex64);
  EXPECT_EQ(make64({1, 2}, {2}).add(tensor(std::vector<c64>{{1, 1}}, {}, device_)).dtype(), DType::kComplex128);
  EXPECT_EQ(c.mul(2.5).to_vector<c64>(), (std::vector<c64>{{2.5f, 5}}));
  EXPECT_EQ(promote_types(DType::kComplex64, DType::kFloat64), DType::kComplex128);
  EXPECT_EQ(promote_types(DType::kInt64, DType::kComplex64), DType::kComplex64);
}

TD_DEVICE_TEST(ComplexTest, Arithmetic) {
  Tensor a = make_z({{1, 2}, {3, -1}}), b = make_z({{0.5, -1}, {2, 0.5}});
  EXPECT_EQ(a.add(b).to_vector<c128>(), (std::vector<c128>{{1.5, 1}, {5, -0.5}}));
  EXPECT_EQ(a.sub(b).to_vector<c128>(), (std::vector<c128>{{0.5, 3}, {1, -1.5}}));
  // (1+2i)(0.5-i) = 2.5; (3-i)(2+0.5i) = 6 + 1.5i - 2i + 0.5 = 6.5 - 0.5i.
  EXPECT_EQ(a.mul(b).to_vector<c128>(), (std::vector<c128>{{2.5, 0}, {6.5, -0.5}}));
  // (3-i)/(2+0.5i) = (3-i)(2-0.5i)/4.25 = (5.5-3.5i)/4.25.
  expect_near(a.div(b).to_vector<c128>(), {{-1.2, 1.6}, {5.5 / 4.25, -3.5 / 4.25}}, 1e-15);
  expect_near(a.pow(b).to_vector<c128>(),
              {{4.382565059863358, -1.1243974773611554}, {11.718355540400472, -0.7963696993978862}}, 1e-13);
  EXPECT_EQ(a.sub(b, 2).to_vector<c128>(), (std::vector<c128>{{0, 4}, {-1, -2}}));
  EXPECT_EQ(a.add(b, Scalar(c128(0, 1))).to_vector<c128>(), (std::vector<c128>{{2, 2.5}, {2.5, 1}}));
  EXPECT_EQ(a.neg().to_vector<c128>(), (std::vector<c128>{{-1, -2}, {-3, 1}}));
  // Division by zero is NaN + NaNj, as PyTorch.
  for (c64 z : make_c({{1, 2}}).div(make_c({{0, 0}})).to_vector<c64>()) {
    EXPECT_TRUE(std::isnan(z.real()) && std::isnan(z.imag()));
  }
  // Mixed with a real tensor: promoted first.
  EXPECT_EQ(make({1, 2}, {2}).add(make_c({{1, 2}, {3, -1}})).to_vector<c64>(), (std::vector<c64>{{2, 2}, {5, -1}}));
}

TD_DEVICE_TEST(ComplexTest, EqualityAndLogic) {
  Tensor a = make_c({{1, 2}, {3, -1}});
  EXPECT_EQ(a.eq(make_c({{1, 2}, {3, 1}})).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(a.ne(make_c({{1, 2}, {3, 1}})).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1}));
  // 1+0j equals the real 1; 1+2j does not.
  EXPECT_EQ(make_c({{1, 0}, {1, 2}}).eq(make({1, 1}, {2})).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  // logical ops: a complex number is true when either part is non-zero.
  EXPECT_EQ(make_c({{0, 1}, {0, 0}}).logical_and(make_c({{1, 0}, {1, 0}})).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 0}));
}

TD_DEVICE_TEST(ComplexTest, SumAndProd) {
  Tensor x = tensor(std::vector<c64>{{1, 1}, {2, -1}, {3, 0}, {0, -1}}, {2, 2}, device_);
  EXPECT_EQ(x.sum({0}).to_vector<c64>(), (std::vector<c64>{{4, 1}, {2, -2}}));
  EXPECT_EQ(x.sum({1}).to_vector<c64>(), (std::vector<c64>{{3, 0}, {3, -1}}));
  // (1+i)(2-i) = 2 - i + 2i + 1 = 3 + i; 3 * (-i) = -3i.
  EXPECT_EQ(x.prod(1).to_vector<c64>(), (std::vector<c64>{{3, 1}, {0, -3}}));
  EXPECT_EQ(x.sum().item<c64>(), c64(6, -1));
  Tensor big = full({100000}, Scalar(c128(0.5, -0.25)), {DType::kComplex64, device_});
  EXPECT_EQ(big.sum().item<c64>(), c64(50000, -25000));
}

TD_DEVICE_TEST(ComplexTest, ScansAndPredicates) {
  // (1+i)(2-i) = 3+i; (3+i) 3 = 9+3i.
  Tensor a = make_c({{1, 1}, {2, -1}, {3, 0}});
  EXPECT_EQ(a.cumsum(0).to_vector<c64>(), (std::vector<c64>{{1, 1}, {3, 0}, {6, 0}}));
  EXPECT_EQ(a.cumprod(0).to_vector<c64>(), (std::vector<c64>{{1, 1}, {3, 1}, {9, 3}}));
  // A complex number is NaN if either part is, infinite if either part is (PyTorch: inf+nanj is both).
  Tensor z = make_z({{1, 1}, {NAN, 0}, {0, INFINITY}, {INFINITY, NAN}});
  EXPECT_EQ(z.isnan().to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(z.isinf().to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(z.isfinite().to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(make_c({{0, 0}, {0, 1}}).logical_not().to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
}

TD_DEVICE_TEST(ComplexTest, CopyLikeOps) {
  Tensor a = make_c({{1, 2}, {3, -1}}), b = make_c({{0.5f, -1}, {2, 0.5f}});
  EXPECT_EQ(a.where(tensor_bool({true, false}, {2}, device_), b).to_vector<c64>(),
            (std::vector<c64>{{1, 2}, {2, 0.5f}}));
  EXPECT_EQ(Tensor::cat({a, make_c({{0, 5}})}, 0).to_vector<c64>(), (std::vector<c64>{{1, 2}, {3, -1}, {0, 5}}));
  EXPECT_EQ(a.flip({0}).to_vector<c64>(), (std::vector<c64>{{3, -1}, {1, 2}}));
  EXPECT_EQ(a.gather(0, tensor(std::vector<int64_t>{1, 1, 0}, {3}, device_)).to_vector<c64>(),
            (std::vector<c64>{{3, -1}, {3, -1}, {1, 2}}));
  Tensor m = tensor(std::vector<c64>{{1, 1}, {2, 2}, {3, 3}, {4, 4}}, {2, 2}, device_);
  EXPECT_EQ(m.t().contiguous().to_vector<c64>(), (std::vector<c64>{{1, 1}, {3, 3}, {2, 2}, {4, 4}}));
}

TD_DEVICE_TEST(ComplexTest, UnaryMath) {
  // PyTorch 1.13's complex128 results for these four inputs.
  Tensor z = make_z({{0.5, -1.25}, {-2, 0.3}, {1.5, 0}, {-0.7, -0.2}});
  const std::vector<std::pair<const char*, std::vector<c128>>> want = {
      {"exp", {{0.5198786860084937, -1.5646111274988195}, {0.12929073434208505, 0.039994310870654706},
               {4.4816890703380645, 0.0}, {0.48668665929310007, -0.09865626998690151}}},
      {"log", {{0.2973535538733464, -1.1902899496825317}, {0.7042724850273552, 2.992702705980296},
               {0.4054651081081644, 0.0}, {-0.31743913621798486, -2.8632929945846817}}},
      {"sqrt", {{0.9608046632337985, -0.6504964265019547}, {0.10577060464909056, 1.4181633970765972},
                {1.224744871391589, 0.0}, {0.11834481173260582, -0.8449884581839127}}},
      {"sin", {{0.9053586344209573, -1.4058162504314684}, {-0.9505236210591543, -0.1267251567824359},
               {0.9974949866040544, 0.0}, {-0.657145046132976, -0.1539902685626457}}},
      {"cos", {{1.6572478640539148, 0.7680009178735728}, {-0.4350143157756156, 0.27689951924768824},
               {0.0707372016677029, -0.0}, {0.7801900885438858, -0.12970421391470546}}},
      {"tanh", {{1.5839635482844237, -0.8066346988510736}, {-0.970012646804119, 0.02007006236624231},
                {0.9051482536448665, 0.0}, {-0.619897992347183, -0.12676545620338805}}},
      {"sigmoid", {{0.6805661698086823, -0.32883527469514817}, {0.11559770349185451, 0.03132148286143035},
                   {0.8175744761936435, -0.0}, {0.33031236003742387, -0.04444035614502229}}},
      {"reciprocal", {{0.27586206896551724, 0.6896551724137931}, {-0.48899755501222497, -0.07334963325183375},
                      {0.6666666666666666, -0.0}, {-1.3207547169811322, 0.3773584905660378}}},
  };
  for (const auto& [op, values] : want) {
    SCOPED_TRACE(op);
    Tensor r = call_op(op, {z})[0];
    EXPECT_EQ(r.dtype(), DType::kComplex128);
    expect_near(r.to_vector<c128>(), values, 1e-14);
    Tensor r64 = call_op(op, {z.to(DType::kComplex64)})[0];
    EXPECT_EQ(r64.dtype(), DType::kComplex64);
    expect_near(r64.to(DType::kComplex128).to_vector<c128>(), values, 2e-6);
  }
  // abs is the modulus, a real tensor of the parts' dtype.
  Tensor m = z.abs();
  EXPECT_EQ(m.dtype(), DType::kFloat64);
  // CUDA's hypot may differ from glibc's in the last bit.
  EXPECT_THAT(m.to_vector<double>(),
              ::testing::Pointwise(::testing::DoubleNear(1e-15), std::vector<double>{std::hypot(0.5, -1.25),
                                                                                 std::hypot(-2.0, 0.3), 1.5,
                                                                                 std::hypot(-0.7, -0.2)}));
  EXPECT_EQ(z.to(DType::kComplex64).abs().dtype(), DType::kFloat32);
}

// Row-major [m, k] @ [k, n] by the definition, in std::complex<double>.
std::vector<c128> reference_mm(const std::vector<c128>& a, const std::vector<c128>& b, int64_t m, int64_t k,
                               int64_t n) {
  std::vector<c128> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < k; ++p) out[i * n + j] += a[i * k + p] * b[p * n + j];
    }
  }
  return out;
}

TD_DEVICE_TEST(ComplexTest, MatrixProducts) {
  std::vector<c128> av, bv;
  for (int i = 0; i < 12; ++i) av.emplace_back(0.25 * i - 1, 0.5 - 0.125 * i);
  for (int i = 0; i < 12; ++i) bv.emplace_back(1 - 0.375 * i, 0.25 * (i % 5) - 0.5);
  const std::vector<c128> want = reference_mm(av, bv, 3, 4, 3);
  Tensor a = tensor(av, {3, 4}, device_), b = tensor(bv, {4, 3}, device_);
  expect_near(a.mm(b).to_vector<c128>(), want, 1e-14);
  // A transposed operand goes to BLAS as a transpose (not a conjugate transpose).
  expect_near(a.t().contiguous().t().mm(b).to_vector<c128>(), want, 1e-14);
  expect_near(a.to(DType::kComplex64).matmul(b.to(DType::kComplex64)).to(DType::kComplex128).to_vector<c128>(), want,
              1e-5);
  Tensor batched = Tensor::stack({a, a.mul(Scalar(c128(0, 1)))}, 0).bmm(Tensor::stack({b, b}, 0));
  std::vector<c128> twice = want;
  for (const c128& z : want) twice.push_back(z * c128(0, 1));
  expect_near(batched.to_vector<c128>(), twice, 1e-14);
}

TD_DEVICE_TEST(ComplexTest, RealAndImagAreViews) {
  Tensor z = tensor(std::vector<c64>{{1, 2}, {3, -1}, {0, 5}, {-2, 0.5f}}, {2, 2}, device_);
  Tensor r = z.view_as_real();
  EXPECT_EQ(r.dtype(), DType::kFloat32);
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(std::vector<int64_t>(r.strides().begin(), r.strides().end()), (std::vector<int64_t>{4, 2, 1}));
  EXPECT_TRUE(r.shares_storage(z));
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{1, 2, 3, -1, 0, 5, -2, 0.5f}));
  Tensor re = z.real(), im = z.imag();
  EXPECT_EQ(std::vector<int64_t>(re.strides().begin(), re.strides().end()), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(re.to_vector<float>(), (std::vector<float>{1, 3, 0, -2}));
  EXPECT_EQ(im.to_vector<float>(), (std::vector<float>{2, -1, 5, 0.5f}));
  // Views of a view: the second column's real parts, and writes through them reach z.
  EXPECT_EQ(z.select(1, 1).imag().to_vector<float>(), (std::vector<float>{-1, 0.5f}));
  im.mul_(Scalar(2));
  EXPECT_EQ(z.to_vector<c64>(), (std::vector<c64>{{1, 4}, {3, -2}, {0, 10}, {-2, 1}}));
  // view_as_complex undoes view_as_real, and reads a float tensor's pairs in place.
  Tensor back = z.view_as_real().view_as_complex();
  EXPECT_EQ(back.dtype(), DType::kComplex64);
  EXPECT_EQ(back.to_vector<c64>(), z.to_vector<c64>());
  Tensor pairs = make64({1, 2, 3, 4, 5, 6}, {3, 2});
  EXPECT_EQ(pairs.narrow(0, 1, 2).view_as_complex().to_vector<c128>(), (std::vector<c128>{{3, 4}, {5, 6}}));
  // real of a real tensor is itself (a view); a real tensor has no imag.
  EXPECT_EQ(make({1, 2}, {2}).real().to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_THAT(error_of([&] { make({1, 2}, {2}).imag(); }),
              HasSubstr("imag is not implemented for tensors with non-complex dtypes."));
}

TD_DEVICE_TEST(ComplexTest, ComplexPolarAngleConj) {
  Tensor c = Tensor::complex(make({1, 1}, {2, 1}), make({0, 1, 2}, {3}));  // broadcast to [2, 3]
  EXPECT_EQ(c.dtype(), DType::kComplex64);
  EXPECT_EQ(c.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c.to_vector<c64>(), (std::vector<c64>{{1, 0}, {1, 1}, {1, 2}, {1, 0}, {1, 1}, {1, 2}}));
  // polar(2, 0.5) = 2 cos 0.5 + 2 sin 0.5 j; PyTorch: [1.7552+0.9589j, -0.9900-0.1411j].
  Tensor p = Tensor::polar(make64({2, 1}, {2}), make64({0.5, -3}, {2}));
  EXPECT_EQ(p.dtype(), DType::kComplex128);
  expect_near(p.to_vector<c128>(), {std::polar(2.0, 0.5), std::polar(1.0, -3.0)}, 1e-15);
  // angle: atan2(imag, real) for complex; 0 or pi for real values, NaN kept; integers give floats.
  expect_near(make_z({{1, 1}, {-1, 0}, {0, 0}}).angle().to(DType::kComplex128).to_vector<c128>(),
              {{std::numbers::pi / 4, 0}, {std::numbers::pi, 0}, {0, 0}}, 1e-15);
  EXPECT_EQ(make_c({{1, 1}}).angle().dtype(), DType::kFloat32);
  std::vector<float> a = make({1, -2, 0, NAN, -0.0f}, {5}).angle().to_vector<float>();
  EXPECT_EQ(a[0], 0.0f);
  EXPECT_EQ(a[1], static_cast<float>(std::numbers::pi));
  EXPECT_EQ(a[2], 0.0f);
  EXPECT_TRUE(std::isnan(a[3]));
  EXPECT_EQ(a[4], 0.0f);
  EXPECT_EQ(tensor(std::vector<int64_t>{1, -2}, {2}, device_).angle().dtype(), DType::kFloat32);
  // conj flips the imaginary parts (a copy here); a real tensor is its own conjugate.
  Tensor z = make_c({{1, 2}, {3, -1}});
  EXPECT_EQ(z.conj().to_vector<c64>(), (std::vector<c64>{{1, -2}, {3, 1}}));
  EXPECT_EQ(z.conj_physical().to_vector<c64>(), (std::vector<c64>{{1, -2}, {3, 1}}));
  EXPECT_EQ(tensor(std::vector<c64>{{1, 1}, {2, 2}, {3, 3}, {4, 4}}, {2, 2}, device_).t().conj().to_vector<c64>(),
            (std::vector<c64>{{1, -1}, {3, -3}, {2, -2}, {4, -4}}));
  EXPECT_EQ(make({1, 2}, {2}).conj().to_vector<float>(), (std::vector<float>{1, 2}));
}

TD_DEVICE_TEST(ComplexTest, ViewAndPartErrors) {
  EXPECT_THAT(error_of([&] { make({1, 2}, {2}).view_as_real(); }),
              HasSubstr("view_as_real is only supported for complex tensors"));
  EXPECT_THAT(error_of([&] { make({1, 2, 3}, {3}).view_as_complex(); }),
              HasSubstr("Tensor must have a last dimension of size 2"));
  EXPECT_THAT(error_of([&] { make({1, 2, 3, 4, 5, 6}, {2, 3}).t().view_as_complex(); }),
              HasSubstr("Tensor must have a last dimension with stride 1"));
  EXPECT_THAT(error_of([&] { make({1, 2, 3, 4, 5, 6}, {3, 2}).view({6}).narrow(0, 1, 4).view({2, 2}).view_as_complex(); }),
              HasSubstr("Tensor must have a storage_offset divisible by 2"));
  EXPECT_THAT(error_of([&] { tensor(std::vector<int32_t>{1, 2}, {1, 2}, device_).view_as_complex(); }),
              HasSubstr("view_as_complex is only supported for half, float and double tensors, but got a tensor of "
                        "scalar type: Int"));
  EXPECT_THAT(error_of([&] { Tensor::complex(make({1}, {1}), make64({1}, {1})); }),
              HasSubstr("Expected object of scalar type Float but got scalar type Double for second argument"));
  EXPECT_THAT(error_of([&] {
                Tensor::complex(tensor(std::vector<int64_t>{1}, {1}, device_), tensor(std::vector<int64_t>{1}, {1}, device_));
              }),
              HasSubstr("Expected both inputs to be Half, Float or Double tensors but got Long and Long"));
}

TD_DEVICE_TEST(ComplexTest, GradientsFlowThroughVerifiedOpsOnly) {
  // Ops whose backward is checked for complex values record (complex_autograd_test.cpp has their
  // gradients); the others refuse rather than give a silently wrong gradient.
  Tensor x = make64({1, 2}, {2}).requires_grad_();
  Tensor z = x.to(DType::kComplex128);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_TRUE(Tensor::complex(x, x.detach()).requires_grad());
  EXPECT_THAT(error_of([&] { z.scatter_reduce(0, tensor(std::vector<int64_t>{0, 0}, {2}, device_), z, "prod"); }),
              HasSubstr("[scatter_reduce] gradients through complex tensors are not implemented yet"));
}

TD_DEVICE_TEST(ComplexTest, Errors) {
  Tensor a = make_c({{1, 2}, {3, -1}}), b = make_c({{0.5f, -1}, {2, 0.5f}});
  for (const char* op : {"lt", "le", "gt", "ge"}) {
    EXPECT_THAT(error_of([&] { call_op(op, {a, b}); }),
                HasSubstr(str("\"", kernel(op), "\" not implemented for 'ComplexFloat'")));
  }
  EXPECT_THAT(error_of([&] { make_z({{1, 0}}).lt(make_z({{1, 0}})); }),
              HasSubstr(str("\"", kernel("lt"), "\" not implemented for 'ComplexDouble'")));
  EXPECT_THAT(error_of([&] { a.maximum(b); }), HasSubstr("maximum not implemented for complex tensors."));
  EXPECT_THAT(error_of([&] { a.minimum(b); }), HasSubstr("minimum not implemented for complex tensors."));
  EXPECT_THAT(error_of([&] { a.fmod(b); }), HasSubstr(str("\"", kernel("fmod"), "\" not implemented for 'ComplexFloat'")));
  EXPECT_THAT(error_of([&] { a.floor_divide(b); }),
              HasSubstr(str("\"", kernel("div_floor"), "\" not implemented for 'ComplexFloat'")));
  EXPECT_THAT(error_of([&] { a.erf(); }), HasSubstr("[erf] not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { make({1}, {1}).add(make({1}, {1}), Scalar(c128(0, 1))); }),
              HasSubstr("For non-complex input tensors, argument alpha must not be a complex number."));
}

// The elementary functions of core/complex.h (the code both backends run) against std::complex, which is what
// PyTorch's CPU kernels call: a grid of finite values to ~1e-13 relative (float: 2e-6), and Annex G's signed
// zeros and infinities on the axes exactly.
TEST(ComplexType, ElementaryFunctionsMatchStdComplex) {
  using C = std::complex<double>;
  const std::vector<std::pair<const char*, std::function<C(C)>>> ours = {
#define TD_OURS(fn) {#fn, [](C z) { const Complex<double> r = fn(Complex<double>(z)); return C(r.re, r.im); }}
      TD_OURS(exp),  TD_OURS(log),  TD_OURS(sqrt), TD_OURS(sin),   TD_OURS(cos),   TD_OURS(tan),
      TD_OURS(sinh), TD_OURS(cosh), TD_OURS(tanh), TD_OURS(asin),  TD_OURS(acos),  TD_OURS(atan),
      TD_OURS(asinh), TD_OURS(acosh), TD_OURS(atanh), TD_OURS(log10),
#undef TD_OURS
  };
  const std::vector<std::function<C(C)>> theirs = {
      [](C z) { return std::exp(z); },  [](C z) { return std::log(z); },   [](C z) { return std::sqrt(z); },
      [](C z) { return std::sin(z); },  [](C z) { return std::cos(z); },   [](C z) { return std::tan(z); },
      [](C z) { return std::sinh(z); }, [](C z) { return std::cosh(z); },  [](C z) { return std::tanh(z); },
      [](C z) { return std::asin(z); }, [](C z) { return std::acos(z); },  [](C z) { return std::atan(z); },
      [](C z) { return std::asinh(z); }, [](C z) { return std::acosh(z); }, [](C z) { return std::atanh(z); },
      [](C z) { return std::log10(z); },
  };
  std::vector<C> grid;
  const double parts[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.75, 2.0, -3.5, 1e-9, 0.999, 1.001, 17.0, -40.0, 250.0};
  for (double x : parts) {
    for (double y : parts) grid.emplace_back(x, y);
  }
  for (int i = 0; i < 400; ++i) grid.emplace_back(std::sin(i * 1.7) * (i % 7 + 1), std::cos(i * 0.9) * (i % 5 + 0.1));
  // Relative to the result's modulus part by part; infinite parts must match exactly (log(0) is -inf).
  auto near = [](C got, C want) {
    const double scale = std::hypot(std::isinf(want.real()) ? 0 : want.real(), std::isinf(want.imag()) ? 0 : want.imag());
    auto part = [&](double g, double w) { return std::isinf(w) ? g == w : std::fabs(g - w) <= 1e-13 * scale + 1e-300; };
    return part(got.real(), want.real()) && part(got.imag(), want.imag());
  };
  auto same_zero_sign = [](double got, double want) { return want != 0 || std::signbit(got) == std::signbit(want); };
  for (size_t f = 0; f < ours.size(); ++f) {
    SCOPED_TRACE(ours[f].first);
    for (C z : grid) {
      const C got = ours[f].second(z), want = theirs[f](z);
      EXPECT_TRUE(near(got, want)) << "at " << z << ": " << got << " vs " << want;
      EXPECT_TRUE(same_zero_sign(got.real(), want.real()) && same_zero_sign(got.imag(), want.imag()))
          << "sign of a zero part at " << z << ": " << got << " vs " << want;
    }
  }
  // The same functions computed in float stay within a few float ulps of std::complex<float>.
  for (C z : grid) {
    const std::complex<float> zf(static_cast<float>(z.real()), static_cast<float>(z.imag()));
    const Complex<float> a = asin(Complex<float>(zf.real(), zf.imag())), t = atanh(Complex<float>(zf.real(), zf.imag()));
    const std::complex<float> wa = std::asin(zf), wt = std::atanh(zf);
    EXPECT_LE(std::abs(std::complex<float>(a.re, a.im) - wa), 2e-6f * (std::abs(wa) + 1e-30f)) << zf;
    if (std::isfinite(std::abs(wt))) {  // atanh(±1) is infinite
      EXPECT_LE(std::abs(std::complex<float>(t.re, t.im) - wt), 2e-6f * (std::abs(wt) + 1e-30f)) << zf;
    }
  }
  // Infinite parts, as Annex G (and std::complex) give them.
  const double inf = INFINITY;
  const std::vector<C> infinite = {{inf, 0.0}, {-inf, 0.0}, {inf, 1.0}, {-inf, -2.0}, {1.0, inf}, {-3.0, -inf},
                                   {inf, inf}, {-inf, inf}, {0.0, inf}};
  for (size_t f = 0; f < ours.size(); ++f) {
    SCOPED_TRACE(ours[f].first);
    for (C z : infinite) {
      const C got = ours[f].second(z), want = theirs[f](z);
      auto part_ok = [](double g, double w) {
        if (std::isnan(w)) return std::isnan(g);
        if (std::isinf(w)) return std::isinf(g);  // Annex G leaves some signs of infinite parts unspecified
        return std::fabs(g - w) <= 1e-15 * (std::fabs(w) + 1);
      };
      EXPECT_TRUE(part_ok(got.real(), want.real()) && part_ok(got.imag(), want.imag()))
          << "at " << z << ": " << got << " vs " << want;
    }
  }
}

TD_DEVICE_TEST(ComplexTest, BranchCutsAndSpecialValues) {
  const double inf = INFINITY, nan = NAN;
  auto one = [&](const char* op, c128 z) { return call_op(op, {make_z({z})})[0].to_vector<c128>()[0]; };
  auto exact = [](c128 got, c128 want) {
    auto part = [](double g, double w) {
      return std::isnan(w) ? std::isnan(g) : g == w && std::signbit(g) == std::signbit(w);
    };
    return part(got.real(), want.real()) && part(got.imag(), want.imag());
  };
  const double pi = std::numbers::pi, half_pi = pi / 2;
  // sqrt and log take the side of the cut that the sign of a zero imaginary part names.
  EXPECT_PRED2(exact, one("sqrt", {-1, 0.0}), c128(0, 1));
  EXPECT_PRED2(exact, one("sqrt", {-1, -0.0}), c128(0, -1));
  EXPECT_PRED2(exact, one("sqrt", {0.0, -0.0}), c128(0, -0.0));
  EXPECT_PRED2(exact, one("sqrt", {nan, inf}), c128(inf, inf));  // an infinite imaginary part wins over NaN
  EXPECT_PRED2(exact, one("log", {0.0, 0.0}), c128(-inf, 0));
  EXPECT_PRED2(exact, one("log", {-0.0, 0.0}), c128(-inf, pi));
  EXPECT_PRED2(exact, one("log", {-1, 0.0}), c128(0, pi));
  EXPECT_PRED2(exact, one("log", {-1, -0.0}), c128(0, -pi));
  EXPECT_PRED2(exact, one("log", {inf, nan}), c128(inf, nan));
  // The inverse functions: above and below their cuts on the real (asin, acos, acosh, atanh) and imaginary
  // (asinh, atan) axes.
  const double acosh2 = std::acosh(2.0), atanh_half = std::atanh(0.5);
  EXPECT_NEAR(one("asin", {2, 0.0}).imag(), acosh2, 1e-15);
  EXPECT_NEAR(one("asin", {2, -0.0}).imag(), -acosh2, 1e-15);
  EXPECT_NEAR(one("acos", {2, 0.0}).imag(), -acosh2, 1e-15);
  EXPECT_NEAR(one("acos", {2, -0.0}).imag(), acosh2, 1e-15);
  EXPECT_NEAR(one("acosh", {-2, 0.0}).imag(), pi, 1e-15);
  EXPECT_NEAR(one("acosh", {-2, -0.0}).imag(), -pi, 1e-15);
  EXPECT_NEAR(one("atanh", {2, 0.0}).imag(), half_pi, 1e-15);
  EXPECT_NEAR(one("atanh", {2, -0.0}).imag(), -half_pi, 1e-15);
  EXPECT_NEAR(one("asinh", {0.0, 2}).real(), acosh2, 1e-15);
  EXPECT_NEAR(one("asinh", {-0.0, 2}).real(), -acosh2, 1e-15);
  // std::atan's side of the cut (PyTorch 1.13 gives -pi/2 on both sides, from i/2 log((i+z)/(i-z))).
  EXPECT_NEAR(one("atan", {0.0, 2}).real(), half_pi, 1e-15);
  EXPECT_NEAR(one("atan", {-0.0, 2}).real(), -half_pi, 1e-15);
  EXPECT_PRED2(exact, one("atanh", {1, 0.0}), c128(inf, 0));  // PyTorch: atanh(-1) is -inf+0j
  EXPECT_PRED2(exact, one("atanh", {-1, 0.0}), c128(-inf, 0));
  EXPECT_NEAR(one("atanh", {0.5, 0.0}).real(), atanh_half, 1e-15);
  EXPECT_PRED2(exact, one("acosh", {-1, 0.0}), c128(0, pi));
  // Infinities: exp, the hyperbolic functions and the inverse ones.
  EXPECT_PRED2(exact, one("exp", {inf, 0.0}), c128(inf, 0));
  EXPECT_PRED2(exact, one("exp", {-inf, inf}), c128(0, 0));
  EXPECT_TRUE(std::isinf(one("exp", {inf, nan}).real()));
  EXPECT_PRED2(exact, one("sinh", {inf, 0.0}), c128(inf, 0));
  EXPECT_PRED2(exact, one("cosh", {-inf, 0.0}), c128(inf, -0.0));
  EXPECT_PRED2(exact, one("tanh", {inf, 1}), c128(1, 0));
  EXPECT_PRED2(exact, one("tanh", {-30, 2}), c128(-1, -0.0));  // sign of sin(2y)
  EXPECT_PRED2(exact, one("asinh", {inf, 1}), c128(inf, 0));
  EXPECT_PRED2(exact, one("acos", {1, inf}), c128(half_pi, -inf));
  EXPECT_PRED2(exact, one("atanh", {inf, -1}), c128(0, -half_pi));
  // NaN parts stay NaN.
  for (const char* op : {"exp", "log", "sqrt", "sin", "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh"}) {
    SCOPED_TRACE(op);
    const c128 r = one(op, {nan, 1});
    EXPECT_TRUE(std::isnan(r.real()) && std::isnan(r.imag())) << r;
  }
  // sgn is z / |z| part by part, 0 for 0; division by zero gives NaN parts (rsqrt, reciprocal), as PyTorch.
  EXPECT_PRED2(exact, one("sgn", {0.0, 0.0}), c128(0, 0));
  EXPECT_PRED2(exact, one("sgn", {3, -4}), c128(0.6, -0.8));
  EXPECT_TRUE(std::isnan(one("rsqrt", {0, 0}).real()) && std::isnan(one("reciprocal", {0, 0}).imag()));
  // neg flips the sign of zero parts too.
  EXPECT_PRED2(exact, one("neg", {1, 0.0}), c128(-1, -0.0));
  EXPECT_PRED2(exact, one("neg", {-inf, -0.0}), c128(inf, 0.0));
}

TD_DEVICE_TEST(ComplexTest, MoreUnaryMathMatchesStdComplex) {
  const std::vector<c128> values = {{0.5, -1.25}, {-2, 0.3}, {1.5, 0}, {-0.7, -0.2}, {3, 4}};
  const std::vector<std::pair<const char*, c128 (*)(const c128&)>> ops = {
      {"log2", [](const c128& z) { return std::log(z) / std::log(2.0); }},
      {"log10", [](const c128& z) { return std::log10(z); }},
      {"rsqrt", [](const c128& z) { return 1.0 / std::sqrt(z); }},
      {"tan", [](const c128& z) { return std::tan(z); }},
      {"sinh", [](const c128& z) { return std::sinh(z); }},
      {"cosh", [](const c128& z) { return std::cosh(z); }},
      {"asin", [](const c128& z) { return std::asin(z); }},
      {"acos", [](const c128& z) { return std::acos(z); }},
      {"atan", [](const c128& z) { return std::atan(z); }},
      {"asinh", [](const c128& z) { return std::asinh(z); }},
      {"acosh", [](const c128& z) { return std::acosh(z); }},
      {"atanh", [](const c128& z) { return std::atanh(z); }},
      {"neg", [](const c128& z) { return -z; }},
      {"square", [](const c128& z) { return z * z; }},
      {"sgn", [](const c128& z) { return z / std::abs(z); }},
  };
  Tensor z = make_z(values);
  for (const auto& [op, f] : ops) {
    SCOPED_TRACE(op);
    std::vector<c128> want;
    for (const c128& v : values) want.push_back(f(v));
    Tensor r = call_op(op, {z})[0];
    EXPECT_EQ(r.dtype(), DType::kComplex128);
    expect_near(r.to_vector<c128>(), want, 1e-14);
    Tensor r64 = call_op(op, {z.to(DType::kComplex64)})[0];
    EXPECT_EQ(r64.dtype(), DType::kComplex64);
    expect_near(r64.to(DType::kComplex128).to_vector<c128>(), want, 1e-5);
    // Strided input: every other element of a longer tensor.
    Tensor strided = Tensor::cat({z.unsqueeze(1), z.unsqueeze(1)}, 1).select(1, 1);
    expect_near(call_op(op, {strided})[0].to_vector<c128>(), want, 1e-14);
  }
  // In-place forms exist for the new dtype-keeping ops.
  Tensor w = make_z({{1, -2}});
  w.neg_();
  EXPECT_EQ(w.to_vector<c128>(), (std::vector<c128>{{-1, 2}}));
}

TD_DEVICE_TEST(ComplexTest, PowFollowsPyTorch) {
  Tensor z = make_z({{1, 2}, {-1, 0}, {0, 0}});
  // Number exponents take PyTorch's exact shortcuts: (-1)^2 is 1 - 0i, not exp(2 log(-1)) = 1 - 2.4e-16i.
  EXPECT_EQ(z.pow(2).to_vector<c128>(), (std::vector<c128>{{-3, 4}, {1, -0.0}, {0, 0}}));
  EXPECT_EQ(z.pow(3).to_vector<c128>(), (std::vector<c128>{{-11, -2}, {-1, 0}, {0, 0}}));
  EXPECT_EQ(z.pow(0).to_vector<c128>(), (std::vector<c128>{{1, 0}, {1, 0}, {1, 0}}));
  EXPECT_EQ(z.pow(1).to_vector<c128>(), z.to_vector<c128>());
  expect_near(make_z({{-4, 0}}).pow(0.5).to_vector<c128>(), {{0, 2}}, 0);
  expect_near(make_z({{1, 2}}).pow(-2).to_vector<c128>(), {{-0.12, -0.16}}, 1e-16);
  // A tensor exponent is exp(b log a), as std::pow: 0^0 is NaN there (PyTorch: nan+nanj).
  Tensor zero = make_z({{0, 0}});
  const c128 p00 = zero.pow(zero).item<c128>();
  EXPECT_TRUE(std::isnan(p00.real()) && std::isnan(p00.imag()));
  EXPECT_EQ(zero.pow(make_z({{2, 1}})).item<c128>(), c128(0, 0));
  expect_near(make_z({{-1, 0}}).pow(make_z({{2, 0}})).to_vector<c128>(), {{1, -2.4492935982947064e-16}}, 1e-30);
  // A complex number exponent of a real tensor promotes it: 2^i = cos(ln 2) + i sin(ln 2).
  Tensor r = tensor(std::vector<float>{2, -1}, {2}, device_).pow(Scalar(c128(0, 1)));
  EXPECT_EQ(r.dtype(), DType::kComplex64);
  expect_near(r.to(DType::kComplex128).to_vector<c128>(), {{std::cos(std::log(2.0)), std::sin(std::log(2.0))},
                                                          {std::exp(-std::numbers::pi), 0}}, 1e-7);
  EXPECT_EQ(z.to(DType::kComplex64).pow(2).dtype(), DType::kComplex64);
}

TD_DEVICE_TEST(ComplexTest, IndexOps) {
  Tensor base = make_z({{1, 1}, {2, 2}, {3, 3}, {4, 4}});
  Tensor idx = tensor(std::vector<int64_t>{3, 0, 3}, {3}, device_);
  Tensor src = make_z({{0.5, -1}, {10, 0}, {0, 2}});
  // Duplicate indices add up: 4+4i + (0.5-i) + 2i = 4.5+5i.
  EXPECT_EQ(base.scatter_add(0, idx, src).to_vector<c128>(),
            (std::vector<c128>{{11, 1}, {2, 2}, {3, 3}, {4.5, 5}}));
  EXPECT_EQ(base.index_add(0, idx, src).to_vector<c128>(), (std::vector<c128>{{11, 1}, {2, 2}, {3, 3}, {4.5, 5}}));
  EXPECT_EQ(base.scatter(0, tensor(std::vector<int64_t>{2, 0}, {2}, device_), src.narrow(0, 0, 2)).to_vector<c128>(),
            (std::vector<c128>{{10, 0}, {2, 2}, {0.5, -1}, {4, 4}}));
  Tensor acc = base.clone();
  acc.index_put_({idx}, src, /*accumulate=*/true);
  EXPECT_EQ(acc.to_vector<c128>(), (std::vector<c128>{{11, 1}, {2, 2}, {3, 3}, {4.5, 5}}));
  Tensor mask = tensor_bool({true, false, false, true}, {4}, device_);
  EXPECT_EQ(base.masked_fill(mask, Scalar(c128(0, -1))).to_vector<c128>(),
            (std::vector<c128>{{0, -1}, {2, 2}, {3, 3}, {0, -1}}));
  EXPECT_EQ(base.masked_select(mask).to_vector<c128>(), (std::vector<c128>{{1, 1}, {4, 4}}));
  EXPECT_EQ(base.take(tensor(std::vector<int64_t>{-1, 1}, {2}, device_)).to_vector<c128>(),
            (std::vector<c128>{{4, 4}, {2, 2}}));
  // A complex number is non-zero when either part is.
  EXPECT_EQ(make_z({{0, 0}, {0, 1}, {-0.0, 0}, {2, 0}}).nonzero().to_vector<int64_t>(), (std::vector<int64_t>{1, 3}));
  // scatter_reduce: sum, mean and prod (complex64 on CUDA: a complex128 product needs a 16-byte CAS).
  Tensor ri = tensor(std::vector<int64_t>{1, 1}, {2}, device_);
  Tensor rs = make_z({{0, 1}, {2, 0}});
  EXPECT_EQ(base.scatter_reduce(0, ri, rs, "sum").to_vector<c128>(),
            (std::vector<c128>{{1, 1}, {4, 3}, {3, 3}, {4, 4}}));
  // (2+2i) i 2 = -4+4i; the mean of 2+2i, i and 2 is (4+3i)/3.
  EXPECT_EQ(base.to(DType::kComplex64).scatter_reduce(0, ri, rs.to(DType::kComplex64), "prod").to_vector<c64>()[1],
            c64(-4, 4));
  expect_near({base.scatter_reduce(0, ri, rs, "mean").to_vector<c128>()[1]}, {{4.0 / 3, 1}}, 1e-15);
  if (!device_.is_cuda()) {
    EXPECT_EQ(base.scatter_reduce(0, ri, rs, "prod").to_vector<c128>()[1], c128(-4, 4));
  }
}

TD_DEVICE_TEST(ComplexTest, RealValuedReductions) {
  Tensor z = make_z({{3, 4}, {0, 0}, {1, -1}});
  // The variance of complex values is real: the mean of |z - mean|^2 (corrected). mean = (4+3i)/3.
  double ss = 0;
  const c128 mean(4.0 / 3, 1.0);
  for (c128 v : {c128(3, 4), c128(0, 0), c128(1, -1)}) ss += std::norm(v - mean);
  EXPECT_EQ(z.var().dtype(), DType::kFloat64);
  EXPECT_NEAR(z.var().item<double>(), ss / 2, 1e-14);
  EXPECT_NEAR(z.to(DType::kComplex64).std().item<float>(), std::sqrt(ss / 2), 1e-6);
  // The 2-norm of complex values is that of their moduli: sqrt(25 + 0 + 2).
  EXPECT_EQ(z.norm().dtype(), DType::kFloat64);
  EXPECT_NEAR(z.norm().item<double>(), std::sqrt(27.0), 1e-14);
  EXPECT_NEAR(z.norm(1).item<double>(), 5 + std::sqrt(2.0), 1e-14);
  EXPECT_EQ(z.isclose(make_z({{3, 4 + 1e-9}, {0, 1e-9}, {1, 1}})).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0}));  // |1e-9 i| <= atol
}

// One test per class of refusal: PyTorch 1.13 refuses these on complex tensors, naming the op and dtype.
TD_DEVICE_TEST(ComplexTest, RefusesUnaryOpsPyTorchRefuses) {
  Tensor a = make_c({{1, 2}, {3, -1}});
  EXPECT_THAT(error_of([&] { a.sign(); }),
              HasSubstr("[sign] Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
                        "torch.sgn instead."));
  for (const char* op : {"floor", "ceil", "trunc"}) {
    EXPECT_THAT(error_of([&] { call_op(op, {a}); }), HasSubstr(str("[", op, "] ", op, " is not supported for complex inputs")));
  }
  EXPECT_THAT(error_of([&] { a.relu(); }), HasSubstr("[relu] clamp is not supported for complex types"));
  // PyTorch 1.13 has no complex kernels for exp2, expm1 and log1p yet (later releases add them).
  for (const char* op : {"exp2", "expm1", "log1p", "erfc", "frac", "round", "bitwise_not"}) {
    EXPECT_THAT(error_of([&] { call_op(op, {a}); }), HasSubstr(str("[", op, "] not implemented for 'ComplexFloat'")));
  }
  EXPECT_THAT(error_of([&] { make_z({{1, 0}}).nan_to_num(); }),
              HasSubstr("[nan_to_num] \"nan_to_num\" not implemented for 'ComplexDouble'"));
}

TD_DEVICE_TEST(ComplexTest, RefusesOrderingOps) {
  Tensor a = make_c({{1, 2}, {3, -1}, {0, 0}});
  for (const char* op : {"sort", "argsort", "msort", "unique"}) {
    EXPECT_THAT(error_of([&] { call_op(op, {a}); }), HasSubstr("not implemented for 'ComplexFloat'")) << op;
  }
  EXPECT_THAT(error_of([&] { call_op("topk", {a, Scalar(1)}); }),
              HasSubstr("[topk] \"topk\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { call_op("kthvalue", {a, Scalar(1)}); }),
              HasSubstr("[kthvalue] \"kthvalue\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { a.max(); }), HasSubstr("[max] \"max\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { a.amax(); }), HasSubstr("[amax] \"amax\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { a.argmax(); }), HasSubstr("[argmax] \"argmax\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { call_op("max.dim", {a, Scalar(0)}); }),
              HasSubstr("[max] max(): does not support complex input (got ComplexFloat)"));
  EXPECT_THAT(error_of([&] { a.clamp(0, 1); }), HasSubstr("[clamp] clamp is not supported for complex types"));
  EXPECT_THAT(error_of([&] { a.clamp_min(0); }), HasSubstr("clamp is not supported for complex types"));
  EXPECT_THAT(error_of([&] { a.softmax(0); }),
              HasSubstr("\"softmax_lastdim_kernel_impl\" not implemented for 'ComplexFloat'"));
  EXPECT_THAT(error_of([&] { call_op("logsumexp", {a, std::vector<int64_t>{0}}); }),
              HasSubstr("[logsumexp] logsumexp(): Expected floating point type for result tensor, but got: "
                        "ComplexFloat"));
  EXPECT_THAT(error_of([&] { a.scatter_reduce(0, tensor(std::vector<int64_t>{0}, {1}, device_), a.narrow(0, 0, 1),
                                              "amax"); }),
              HasSubstr("[scatter_reduce] \"scatter_gather_tensor_cpu_reduce_amax\" not implemented for 'ComplexFloat'"));
}

TD_INSTANTIATE_DEVICES(ComplexTest);

}  // namespace
}  // namespace td
