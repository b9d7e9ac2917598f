// CUDA against CPU: the same inputs through both backends must agree. Skips without a GPU, but then checks
// that using CUDA fails with a clear error instead of crashing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/tensor.h"

namespace td {
namespace {

bool have_gpu() { return backend(DeviceType::kCUDA).is_available(); }

std::vector<float> ramp(int64_t n, float scale = 0.01f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 101 - 50) * scale;
  return v;
}

void expect_close(const Tensor& gpu, const Tensor& cpu, double tol) {
  ASSERT_EQ(gpu.shape(), cpu.shape());
  ASSERT_EQ(gpu.dtype(), cpu.dtype());
  auto g = gpu.to_vector<double>(), c = cpu.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], c[i], tol * (1 + std::abs(c[i]))) << "at " << i;
}

TEST(CudaBackend, WithoutAGpuCudaTensorsFailClearly) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present";
  try {
    (void)zeros({2}, {DType::kFloat32, Device::parse("cuda:0")});
    FAIL() << "creating a CUDA tensor without a GPU must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cuda:0"));
  }
}

class CudaVsCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  }
  Device gpu_ = Device::parse("cuda:0");
};

TEST_F(CudaVsCpu, DeviceNameAndRoundTrip) {
  EXPECT_GT(backend(DeviceType::kCUDA).device_count(), 0);
  EXPECT_FALSE(backend(DeviceType::kCUDA).device_name(0).empty());
  Tensor c = tensor(ramp(1000), {10, 100});
  Tensor g = c.to("cuda:0");
  EXPECT_EQ(g.device(), gpu_);
  EXPECT_EQ(g.to("cpu").to_vector<float>(), c.to_vector<float>());
}

TEST_F(CudaVsCpu, ElementwiseWithBroadcastingAndStrides) {
  Tensor a = tensor(ramp(12 * 64), {12, 64}), b = tensor(ramp(64, 0.5f), {64});
  Tensor ga = a.to("cuda:0"), gb = b.to("cuda:0");
  expect_close(ga.add(gb, 2.5), a.add(b, 2.5), 1e-6);
  expect_close(ga.mul(gb), a.mul(b), 1e-6);
  expect_close(ga.sub(gb), a.sub(b), 1e-6);
  expect_close(ga.div(gb.add(tensor(std::vector<float>{100}, {1}).to("cuda:0"))), a.div(b.add(tensor(std::vector<float>{100}, {1}))), 1e-6);
  expect_close(ga.t().contiguous(), a.t().contiguous(), 0);
  expect_close(ga.to(DType::kFloat64), a.to(DType::kFloat64), 0);
  expect_close(ga.to(DType::kInt64), a.to(DType::kInt64), 0);
}

TEST_F(CudaVsCpu, SumOverDims) {
  Tensor a = tensor(ramp(4 * 5 * 300), {4, 5, 300});
  Tensor g = a.to("cuda:0");
  expect_close(g.sum(), a.sum(), 1e-5);
  expect_close(g.sum({0, 2}), a.sum({0, 2}), 1e-5);
  expect_close(g.sum({1}, true), a.sum({1}, true), 1e-5);
  expect_close(g.transpose(0, 2).sum({0}), a.transpose(0, 2).sum({0}), 1e-5);
}

TEST_F(CudaVsCpu, MatmulThroughCublas) {
  Tensor a = tensor(ramp(64 * 48), {64, 48}), b = tensor(ramp(48 * 32), {48, 32});
  Tensor ga = a.to("cuda:0"), gb = b.to("cuda:0");
  expect_close(ga.matmul(gb), a.matmul(b), 1e-4);
  expect_close(gb.t().matmul(ga.t()), b.t().matmul(a.t()), 1e-4);  // transposed operands, no copies
  Tensor x = tensor(ramp(3 * 64 * 48), {3, 64, 48});
  expect_close(x.to("cuda:0").matmul(gb), x.matmul(b), 1e-4);
  Tensor y = tensor(ramp(2 * 1 * 5 * 6), {2, 1, 5, 6}), z = tensor(ramp(3 * 6 * 4), {3, 6, 4});
  expect_close(y.to("cuda:0").matmul(z.to("cuda:0")), y.matmul(z), 1e-5);
  Tensor d = a.to(DType::kFloat64), e = b.to(DType::kFloat64);
  expect_close(d.to("cuda:0").mm(e.to("cuda:0")), d.mm(e), 1e-12);
}

TEST_F(CudaVsCpu, IntegerMatmulIsANamedError) {
  Tensor a = zeros({2, 2}, {DType::kInt64, gpu_});
  try {
    (void)a.mm(a);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("[matmul] has no CUDA kernel for dtype int64"));
  }
}

TEST_F(CudaVsCpu, AutogradOnTheGpu) {
  Tensor a = tensor(ramp(6), {2, 3}).to("cuda:0").requires_grad_();
  Tensor w = tensor(ramp(12, 0.1f), {3, 4}).to("cuda:0").requires_grad_();
  a.matmul(w).mul(a.sum({1}, true)).sum().backward();
  Tensor ca = tensor(ramp(6), {2, 3}).requires_grad_(), cw = tensor(ramp(12, 0.1f), {3, 4}).requires_grad_();
  ca.matmul(cw).mul(ca.sum({1}, true)).sum().backward();
  expect_close(a.grad(), ca.grad(), 1e-5);
  expect_close(w.grad(), cw.grad(), 1e-5);
  EXPECT_EQ(a.grad().device(), gpu_);
}

}  // namespace
}  // namespace td
