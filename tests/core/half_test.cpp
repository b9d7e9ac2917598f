// float16 and bfloat16 on every device: conversions (round to nearest even, subnormals, overflow, inf/NaN),
// printing, promotion, float32 accumulation, gradients in the tensor's dtype, sort order, GEMM, and the
// errors PyTorch gives. Values per op are checked against PyTorch by tests/golden/half.json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"

namespace td {
namespace {

using ::testing::HasSubstr;

class HalfTest : public testing::DeviceTest {
 protected:
  // The bits of float32 values converted to float16 (or bfloat16) on the test's device.
  std::vector<uint16_t> half_bits(const std::vector<float>& v, DType dtype = DType::kFloat16) const {
    Tensor h = make(v, {static_cast<int64_t>(v.size())}).to(dtype);
    EXPECT_EQ(h.dtype(), dtype);
    std::vector<uint16_t> bits;
    if (dtype == DType::kFloat16) {
      for (Half x : h.to_vector<Half>()) bits.push_back(x.bits);
    } else {
      for (BFloat16 x : h.to_vector<BFloat16>()) bits.push_back(x.bits);
    }
    return bits;
  }
};

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error thrown";
  return Error(ErrorCode::kOk, "");
}

TD_DEVICE_TEST(HalfTest, Float16RoundsToNearestEven) {
  const float u = std::ldexp(1.0f, -11);  // half of float16's spacing at 1
  // 1 + u is a tie: to the even neighbour 1. 1 + 3u is a tie between 1 + 2u (odd) and 1 + 4u (even).
  // Just above a tie rounds up; just below rounds down.
  EXPECT_EQ(half_bits({1 + u, 1 + 3 * u, 1 + u + std::ldexp(1.0f, -20), 1 + u - std::ldexp(1.0f, -20), -(1 + 3 * u)}),
            (std::vector<uint16_t>{0x3c00, 0x3c02, 0x3c01, 0x3c00, 0xbc02}));
}

TD_DEVICE_TEST(HalfTest, Float16SubnormalsAndZeros) {
  const float tiny = std::ldexp(1.0f, -24);  // the smallest subnormal
  EXPECT_EQ(half_bits({tiny, tiny / 2, tiny * 0.75f, tiny * 1.5f, tiny * 2.5f, tiny * 1023, -tiny, -0.0f, 0.0f,
                       std::ldexp(1.0f, -14), std::ldexp(1.0f, -14) - tiny / 4, 1e-10f}),
            (std::vector<uint16_t>{0x0001,    // 2^-24
                                   0x0000,    // 2^-25: a tie, to the even 0
                                   0x0001,    // 0.75 units rounds up
                                   0x0002,    // 1.5 units: tie, to even 2
                                   0x0002,    // 2.5 units: tie, to even 2
                                   0x03ff,    // the largest subnormal
                                   0x8001,    // negative subnormal
                                   0x8000,    // -0 keeps its sign
                                   0x0000,    //
                                   0x0400,    // the smallest normal
                                   0x0400,    // rounds up across the subnormal/normal boundary
                                   0x0000}));  // underflow to 0
}

TD_DEVICE_TEST(HalfTest, Float16OverflowInfAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(half_bits({65504.0f, 65519.0f, 65520.0f, 1e6f, -65520.0f, inf, -inf}),
            (std::vector<uint16_t>{0x7bff, 0x7bff, 0x7c00, 0x7c00, 0xfc00, 0x7c00, 0xfc00}));
  Tensor nan = make({std::nanf("")}, {1}).to(DType::kFloat16);
  EXPECT_TRUE(std::isnan(nan.item<double>()));
  EXPECT_TRUE(nan.isnan().item<bool>());
  EXPECT_EQ(make({65504.0f}, {1}).to(DType::kFloat16).item<double>(), 65504.0);
}

TD_DEVICE_TEST(HalfTest, Float16EveryValueRoundTripsThroughFloat32) {
  // Each of the 65536 bit patterns (but NaNs) widens to float32 exactly and narrows back to itself.
  std::vector<Half> all;
  for (uint32_t b = 0; b < 0x10000; ++b) all.push_back(Half::from_bits(static_cast<uint16_t>(b)));
  Tensor h = tensor(all, {0x10000}, device_);
  std::vector<float> wide = h.to(DType::kFloat32).to_vector<float>();
  std::vector<Half> back = h.to(DType::kFloat32).to(DType::kFloat16).to_vector<Half>();
  int mismatches = 0;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const bool is_nan = (b & 0x7c00) == 0x7c00 && (b & 0x3ff);
    if (is_nan) {
      mismatches += !std::isnan(wide[b]) || !std::isnan(float(back[b]));
    } else {
      mismatches += back[b].bits != b;
      mismatches += wide[b] != float(Half::from_bits(static_cast<uint16_t>(b)));
    }
  }
  EXPECT_EQ(mismatches, 0);
  // Spot values of the widening: the largest, the smallest subnormal, one third.
  EXPECT_EQ(wide[0x7bff], 65504.0f);
  EXPECT_EQ(wide[0x0001], std::ldexp(1.0f, -24));
  EXPECT_EQ(wide[0x3555], 0.333251953125f);
}

TD_DEVICE_TEST(HalfTest, BFloat16Conversions) {
  const float u = std::ldexp(1.0f, -8);  // half of bfloat16's spacing at 1
  const float inf = std::numeric_limits<float>::infinity();
  const float bf16_max = float(BFloat16::from_bits(0x7f7f));
  EXPECT_EQ(bf16_max, 3.3895313892515355e38f);
  EXPECT_EQ(half_bits({1 + u, 1 + 3 * u, 1 + u + std::ldexp(1.0f, -20), bf16_max, std::numeric_limits<float>::max(),
                       inf, -inf, -0.0f, 1e-40f},
                      DType::kBFloat16),
            (std::vector<uint16_t>{0x3f80,    // tie to even
                                   0x3f82,    // tie to even (up)
                                   0x3f81,    // above the tie
                                   0x7f7f,    // the largest bfloat16
                                   0x7f80,    // float32's largest rounds to inf, as in PyTorch
                                   0x7f80, 0xff80, 0x8000,
                                   0x0001}));  // float32 subnormals keep bfloat16 subnormals (same exponent)
  Tensor nan = make({std::nanf(""), -std::nanf("")}, {2}).to(DType::kBFloat16);
  EXPECT_EQ(nan.isnan().to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1}));
  // bfloat16 -> float16 goes through float32: 1e5 is beyond float16.
  Tensor b = make({1e5f, 0.5f}, {2}).to(DType::kBFloat16).to(DType::kFloat16);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{std::numeric_limits<float>::infinity(), 0.5f}));
}

TD_DEVICE_TEST(HalfTest, CreationItemAndVectors) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    TensorOptions o{dt, device_};
    EXPECT_EQ(zeros({2}, o).to_vector<float>(), (std::vector<float>{0, 0}));
    EXPECT_EQ(ones({2}, o).to_vector<double>(), (std::vector<double>{1, 1}));
    Tensor f = full({3}, 0.1, o);
    EXPECT_EQ(f.dtype(), dt);
    // 0.1 rounds to the nearest 16-bit value: 0.0999755859375 (float16), 0.10009765625 (bfloat16).
    EXPECT_EQ(f.to_vector<double>()[2], dt == DType::kFloat16 ? 0.0999755859375 : 0.10009765625);
    Tensor a = call_op("arange", {Scalar(0), Scalar(2.0), Scalar(0.5), dt, device_.str()})[0];
    EXPECT_EQ(a.dtype(), dt);
    EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 0.5f, 1, 1.5f}));
    EXPECT_EQ(a.sum().item<double>(), 3.0);
  }
  Tensor h = tensor(std::vector<Half>{Half(1.5f), Half(-2.0f)}, {2}, device_);
  EXPECT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_EQ(h.to(DType::kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(h.select(0, 0).item<Half>().bits, Half(1.5f).bits);
  const uint16_t raw[] = {0x3c00, 0xc000};  // 1, -2 as float16 bits
  EXPECT_EQ(from_buffer(raw, {2}, DType::kFloat16, device_).to_vector<float>(), (std::vector<float>{1, -2}));
  EXPECT_EQ(from_buffer(raw, {2}, DType::kBFloat16, device_).to_vector<float>()[0], float(BFloat16::from_bits(0x3c00)));
}

TD_DEVICE_TEST(HalfTest, Printing) {
  std::string dev = device_.is_cpu() ? "" : ", device='" + device_.str() + "'";
  // Strings from PyTorch 1.13.
  EXPECT_EQ(make({1.5f, -2.25f, 0.1f}, {3}).to(DType::kFloat16).str(),
            "tensor([ 1.5000, -2.2500,  0.1000]" + dev + ", dtype=torch.float16)");
  EXPECT_EQ(make({1e-5f, 300.0f}, {1, 2}).to(DType::kFloat16).str(),
            "tensor([[1.0014e-05, 3.0000e+02]]" + dev + ", dtype=torch.float16)");
  EXPECT_EQ(full({}, 65504.0, {DType::kFloat16, device_}).str(), "tensor(65504." + dev + ", dtype=torch.float16)");
  EXPECT_EQ(make({INFINITY, NAN, 3.0f}, {3}).to(DType::kBFloat16).str(),
            "tensor([inf, nan, 3.]" + dev + ", dtype=torch.bfloat16)");
  Tensor g = make({1, 2}, {2}).to(DType::kFloat16);
  g.requires_grad_();
  EXPECT_EQ(g.str(), "tensor([1., 2.]" + dev + ", dtype=torch.float16, requires_grad=True)");
}

TEST(HalfPromotion, MatchesPyTorch) {
  // torch.promote_types(a, b) for a in (float16, bfloat16), b in PyTorch's order, from PyTorch 1.13.
  const DType all[] = {DType::kBool,    DType::kUInt8,    DType::kInt8,    DType::kInt16,  DType::kInt32,
                       DType::kInt64,   DType::kFloat16,  DType::kBFloat16, DType::kFloat32, DType::kFloat64};
  const DType f16 = DType::kFloat16, bf16 = DType::kBFloat16, f32 = DType::kFloat32, f64 = DType::kFloat64;
  const DType with_f16[] = {f16, f16, f16, f16, f16, f16, f16, f32, f32, f64};
  const DType with_bf16[] = {bf16, bf16, bf16, bf16, bf16, bf16, f32, bf16, f32, f64};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(promote_types(f16, all[i]), with_f16[i]) << dtype_name(all[i]);
    EXPECT_EQ(promote_types(all[i], f16), with_f16[i]) << dtype_name(all[i]);
    EXPECT_EQ(promote_types(bf16, all[i]), with_bf16[i]) << dtype_name(all[i]);
    EXPECT_EQ(promote_types(all[i], bf16), with_bf16[i]) << dtype_name(all[i]);
  }
}

TD_DEVICE_TEST(HalfTest, TensorPromotion) {
  Tensor h = ones({2}, {DType::kFloat16, device_});
  Tensor b = ones({2}, {DType::kBFloat16, device_});
  Tensor i = ones({2}, {DType::kInt64, device_});
  EXPECT_EQ(h.add(b).dtype(), DType::kFloat32);
  EXPECT_EQ(i.add(h).dtype(), DType::kFloat16);
  EXPECT_EQ(h.mul(2.5).dtype(), DType::kFloat16);                                      // a number: category only
  EXPECT_EQ(h.add(scalar_tensor(1.0, DType::kFloat32, device_)).dtype(), DType::kFloat16);  // 0-dim: same
  EXPECT_EQ(i.add(scalar_tensor(1.0, DType::kBFloat16, device_)).dtype(), DType::kBFloat16);
  EXPECT_EQ(h.add(ones({2}, {DType::kFloat32, device_})).dtype(), DType::kFloat32);
  EXPECT_EQ(i.div(i).dtype(), DType::kFloat32);  // the default float, never float16
  EXPECT_EQ(h.sum().dtype(), DType::kFloat16);
  EXPECT_EQ(h.sum(std::vector<int64_t>{0}, false, DType::kFloat32).dtype(), DType::kFloat32);
  EXPECT_EQ(h.gt(b).dtype(), DType::kBool);
}

TD_DEVICE_TEST(HalfTest, ReductionsAccumulateInFloat32) {
  // 2^20 elements of 2^-6: 16384 exactly with a float32 accumulator; a float16 one stalls far below. Large
  // enough for the multi-slice CUDA reduction and the chunked CPU one.
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    Tensor x = full({1 << 20}, std::ldexp(1.0, -6), {dt, device_});
    EXPECT_EQ(x.sum().item<double>(), 16384.0) << dtype_name(dt);
    EXPECT_EQ(x.sum().dtype(), dt);
    EXPECT_EQ(x.view({1024, 1024}).sum(std::vector<int64_t>{0}).select(0, 7).item<double>(), 16.0);
    EXPECT_EQ(x.mean().item<double>(), std::ldexp(1.0, -6));
    EXPECT_EQ(x.view({1024, 1024}).cumsum(1).select(1, 1023).select(0, 3).item<double>(), 16.0);
  }
  Tensor m = make({1, -3, 2, 65504, -65504}, {5}).to(DType::kFloat16);
  EXPECT_EQ(m.max().item<double>(), 65504.0);
  EXPECT_EQ(m.argmin().item<int64_t>(), 4);
  // 65504 + 65504 overflows float16 (inf), even though the float32 accumulator holds it.
  EXPECT_TRUE(std::isinf(m.narrow(0, 3, 1).expand({2}).sum().item<double>()));
}

TD_DEVICE_TEST(HalfTest, GradientsHaveTheTensorsDtype) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    Tensor x = make({0.5f, -1.0f, 2.0f}, {3}).to(dt);
    x.requires_grad_();
    // d/dx sum(x * x) = 2x, exact in 16 bits.
    x.mul(x).sum().backward();
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().dtype(), dt);
    EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, -2, 4}));

    // softmax runs in float32 inside; its gradient still arrives as dt. d/dx sum(softmax(x)) = 0.
    Tensor y = make({0.5f, -1.0f, 2.0f}, {1, 3}).to(dt);
    y.requires_grad_();
    Tensor s = y.softmax(1);
    EXPECT_EQ(s.dtype(), dt);
    s.mul(make({1, 0, 0}, {1, 3}).to(dt)).sum().backward();
    EXPECT_EQ(y.grad().dtype(), dt);
    // d s0 / dx = s0 (delta - s): [s0 (1 - s0), -s0 s1, -s0 s2].
    std::vector<float> sv = s.to_vector<float>(), gv = y.grad().to_vector<float>();
    const double tol = dt == DType::kFloat16 ? 2e-3 : 2e-2;
    EXPECT_NEAR(gv[0], sv[0] * (1 - sv[0]), tol);
    EXPECT_NEAR(gv[1], -sv[0] * sv[1], tol);
    EXPECT_NEAR(gv[2], -sv[0] * sv[2], tol);

    // matmul: d/da sum(a @ b) = rows of b summed, for every row of a.
    Tensor a = make({1, 2, 3, 4}, {2, 2}).to(dt), bm = make({1, 0.5f, -1, 2}, {2, 2}).to(dt);
    a.requires_grad_();
    a.matmul(bm).sum().backward();
    EXPECT_EQ(a.grad().dtype(), dt);
    EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1.5f, 1, 1.5f, 1}));
  }
}

TD_DEVICE_TEST(HalfTest, SortOrdersNaNLastAndNegativeZeroEqual) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    Tensor x = make({2, NAN, -0.0f, -INFINITY, 0.0f, -1.5f, INFINITY}, {7}).to(dt);
    auto out = x.sort(0, false);
    std::vector<float> v = out.first.to_vector<float>();
    EXPECT_EQ(out.first.dtype(), dt);
    EXPECT_EQ(out.second.to_vector<int64_t>(), (std::vector<int64_t>{3, 5, 2, 4, 0, 6, 1}));  // stable: -0 first
    EXPECT_EQ(v[0], -INFINITY);
    EXPECT_EQ(v[5], INFINITY);
    EXPECT_TRUE(std::isnan(v[6]));
    auto desc = x.sort(0, true);
    EXPECT_EQ(desc.second.to_vector<int64_t>(), (std::vector<int64_t>{1, 6, 0, 2, 4, 5, 3}));
    EXPECT_EQ(x.topk(2).second.to_vector<int64_t>(), (std::vector<int64_t>{1, 6}));
  }
}

TD_DEVICE_TEST(HalfTest, ScatterAddOfDuplicatesAndGather) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    // 200 adds of 1 into one element (CUDA: a compare-and-swap loop on the 32-bit word around it) next to
    // an untouched neighbour: 200 is exact in both types.
    Tensor out = zeros({3}, {dt, device_});
    Tensor idx = zeros({200}, {DType::kInt64, device_}).add(1);
    Tensor r = out.scatter_add(0, idx, ones({200}, {dt, device_}));
    EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 200, 0}));
    Tensor g = make({1, 2, 3, 4}, {4}).to(dt).gather(0, tensor(std::vector<int64_t>{3, 3, 0}, {3}, device_));
    EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{4, 4, 1}));
  }
}

TD_DEVICE_TEST(HalfTest, MatmulAccumulatesInFloat32) {
  // 4096 products of 1 * 2^-8 sum to 16, exact with a float32 accumulator; a float16 one stalls at 8 (where
  // 2^-8 is half its spacing and ties to even), a bfloat16 one at 1.
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    Tensor a = ones({3, 4096}, {dt, device_}), b = full({4096, 5}, std::ldexp(1.0, -8), {dt, device_});
    Tensor c = a.matmul(b);
    EXPECT_EQ(c.dtype(), dt);
    EXPECT_EQ(c.to_vector<float>(), std::vector<float>(15, 16.0f));
    // A transposed operand and a batch, against the float32 product rounded once.
    Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3}).to(dt), y = make({0.5f, -1, 2, 0.25f, 1, 3}, {2, 3}).to(dt);
    Tensor p = x.matmul(y.t());
    Tensor want = x.to(DType::kFloat32).matmul(y.to(DType::kFloat32).t()).to(dt);
    EXPECT_EQ(p.to_vector<float>(), want.to_vector<float>());
  }
  EXPECT_THAT(error_of([&] {
                (void)ones({2, 2}, {DType::kFloat16, device_}).matmul(ones({2, 2}, {DType::kFloat32, device_}));
              }).what(),
              HasSubstr("float16 != float32"));
}

TD_DEVICE_TEST(HalfTest, UnaryAndBinaryComputeInFloat32) {
  Tensor x = make({0.5f, -1.25f, 2.0f, 10.0f}, {4}).to(DType::kFloat16);
  // exp(10) = 22026.47 rounds to 22032 in float16 (spacing 16 there).
  EXPECT_EQ(x.exp().to_vector<float>()[3], 22032.0f);
  EXPECT_EQ(x.exp().dtype(), DType::kFloat16);
  // 300 * 300 overflows float16 but not bfloat16; alpha applies in float32 before the single rounding.
  Tensor big = full({1}, 300.0, {DType::kFloat16, device_});
  EXPECT_TRUE(std::isinf(big.mul(big).item<double>()));
  EXPECT_EQ(big.to(DType::kBFloat16).mul(big.to(DType::kBFloat16)).item<double>(), 90112.0);
  // add(a, b, alpha) rounds once: -3 + 3 * (1 + 2^-10) = 3 * 2^-10 exactly, where rounding 3 * b to float16
  // first (a tie, to 3 + 2^-8) would give 2^-8.
  Tensor minus3 = full({1}, -3.0, {DType::kFloat16, device_});
  Tensor b = full({1}, 1.0 + std::ldexp(1.0, -10), {DType::kFloat16, device_});
  EXPECT_EQ(minus3.add(b, 3).item<double>(), 3 * std::ldexp(1.0, -10));
  EXPECT_EQ(x.abs().to_vector<float>(), (std::vector<float>{0.5f, 1.25f, 2, 10}));
  EXPECT_EQ(x.lt(0.0).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(x.where(x.gt(0.0), 0.0).to_vector<float>(), (std::vector<float>{0.5f, 0, 2, 10}));
}

TD_DEVICE_TEST(HalfTest, ErrorsNameTheOpAndDtype) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    Tensor h = ones({2}, {dt, device_});
    const std::string name = std::string(dtype_name(dt));
    // PyTorch: "bitwise_and_cpu" not implemented for 'Half'.
    Error e = error_of([&] { (void)h.bitwise_and(h); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("[bitwise_and] not implemented for '" + name + "'"));
    EXPECT_THAT(error_of([&] { (void)h.bitwise_not(); }).what(),
                HasSubstr("[bitwise_not] not implemented for '" + name + "'"));
    EXPECT_THAT(error_of([&] { (void)h.bitwise_xor(h); }).what(), HasSubstr(name));
    // Random draws in float32 and rounds: [0, 1) still (a draw rounding up to 1 becomes 0, as in PyTorch).
    Tensor r = call_op("rand", {std::vector<int64_t>{4096}, dt, device_.str()})[0];
    EXPECT_EQ(r.dtype(), dt);
    EXPECT_LT(r.max().item<double>(), 1.0);
    EXPECT_GE(r.min().item<double>(), 0.0);
  }
}

TD_INSTANTIATE_DEVICES(HalfTest);

}  // namespace
}  // namespace td
