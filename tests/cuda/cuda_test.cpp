// CUDA against CPU: the same inputs through both backends must agree. Skips without a GPU, but then checks
// that using CUDA fails with a clear error instead of crashing.
#include "core/cuda.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/backend.h"
#include "core/error.h"
#include "core/matmul_precision.h"
#include "core/nn/functional.h"
#include "core/optim/optimizers.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "examples/reference_cnn.h"
#include "tests/core/test_util.h"

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

TEST(MatmulPrecision, SettingRoundTripsAndIsChecked) {
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  EXPECT_FALSE(cuda::matmul::allow_tf32());
  set_float32_matmul_precision("medium");
  EXPECT_EQ(get_float32_matmul_precision(), "medium");
  EXPECT_TRUE(cuda::matmul::allow_tf32());
  cuda::matmul::set_allow_tf32(false);
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
  try {
    set_float32_matmul_precision("low");
    FAIL() << "an unknown precision must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("Invalid precision \"low\""));
  }
  EXPECT_EQ(get_float32_matmul_precision(), "highest");
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

// TF32 keeps 10 of float32's 23 mantissa bits per product: "highest" agrees with the CPU to float32's
// rounding, "high" only to TF32's (about 1e-3 relative), and the setting goes back.
TEST_F(CudaVsCpu, Tf32FollowsTheMatmulPrecision) {
  Tensor a = tensor(ramp(256 * 256, 0.013f), {256, 256}), b = tensor(ramp(256 * 256, 0.007f), {256, 256});
  Tensor want = a.to(DType::kFloat64).matmul(b.to(DType::kFloat64));
  auto worst = [&](const Tensor& got) {
    return got.to("cpu").to(DType::kFloat64).sub(want).abs().max().item<double>() / want.abs().max().item<double>();
  };
  const double exact = worst(a.to("cuda:0").matmul(b.to("cuda:0")));
  set_float32_matmul_precision("high");
  const double tf32 = worst(a.to("cuda:0").matmul(b.to("cuda:0")));
  set_float32_matmul_precision("highest");
  EXPECT_LT(exact, 1e-5);
  EXPECT_GT(tf32, 1e-5);
  EXPECT_LT(tf32, 1e-2);
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

// cuBLAS has no integer GEMM (PyTorch's CUDA matmul refuses integers); ours has a kernel of its own.
TEST_F(CudaVsCpu, IntegerMatmulMatchesTheCpu) {
  Tensor a = tensor(ramp(37 * 45), {37, 45}).mul(100).to(DType::kInt64);
  Tensor b = tensor(ramp(45 * 19), {45, 19}).mul(100).to(DType::kInt64);
  expect_close(a.to("cuda:0").mm(b.to("cuda:0")), a.mm(b), 0);
  Tensor a_cols = a.t().contiguous().to("cuda:0").t();  // a's values, column-major on the GPU
  expect_close(a_cols.mm(b.to("cuda:0")), a.mm(b), 0);
  Tensor x = tensor(ramp(3 * 5 * 7), {3, 5, 7}).mul(10).to(DType::kInt32), y = x.transpose(1, 2);
  expect_close(x.to("cuda:0").bmm(y.to("cuda:0")), x.bmm(y), 0);
  Tensor e = zeros({0, 4}, {DType::kInt64, gpu_});
  EXPECT_EQ(e.mm(zeros({4, 3}, {DType::kInt64, gpu_})).shape(), (std::vector<int64_t>{0, 3}));
}

// Reductions take a row path (reduced elements adjacent) or a column path (outputs adjacent), each in one
// pass or cut into slices and folded twice; every combination against the CPU.
TEST_F(CudaVsCpu, ReductionsOnEveryPath) {
  Tensor big = tensor(ramp(1 << 20), {1 << 20});
  Tensor g = big.to("cuda:0");
  expect_close(g.sum(), big.sum(), 1e-6);                       // rows, two passes
  expect_close(g.amax(), big.amax(), 0);
  Tensor m = big.reshape({1024, 1024}), gm = g.reshape({1024, 1024});
  expect_close(gm.sum({1}), m.sum({1}), 1e-6);                  // rows, one pass
  expect_close(gm.sum({0}), m.sum({0}), 1e-6);                  // columns
  Tensor tall = big.reshape({1 << 17, 8}), gtall = g.reshape({1 << 17, 8});
  expect_close(gtall.sum({0}), tall.sum({0}), 1e-5);            // columns, two passes
  expect_close(gtall.sum({1}), tall.sum({1}), 1e-6);            // short rows: one thread each
  expect_close(gtall.amin({0}), tall.amin({0}), 0);
  Tensor ints = big.mul(100).to(DType::kInt64), gints = ints.to("cuda:0");
  expect_close(gints.sum(), ints.sum(), 0);
  expect_close(gints.reshape({64, 16384}).prod({0}).sum(), ints.reshape({64, 16384}).prod({0}).sum(), 0);
  Tensor cube = big.reshape({64, 128, 128}), gcube = g.reshape({64, 128, 128});
  expect_close(gcube.sum({0, 2}), cube.sum({0, 2}), 1e-5);       // reduced dims not mergeable
  expect_close(gcube.permute({2, 0, 1}).sum({1, 2}), cube.permute({2, 0, 1}).sum({1, 2}), 1e-5);
  Tensor empty = zeros({0, 5}, {DType::kFloat32, gpu_});
  EXPECT_EQ(empty.sum({0}).to("cpu").to_vector<float>(), std::vector<float>(5, 0.0f));
}

// The caching allocator: a freed block is reused without cudaMalloc, and the counters add up.
TEST_F(CudaVsCpu, CachingAllocatorReusesBlocks) {
  cuda::empty_cache();
  cuda::reset_peak_memory_stats();
  const int64_t base = cuda::memory_allocated();
  const MemoryStats before = cuda::memory_stats();
  { Tensor t = zeros({1 << 20}, {DType::kFloat32, gpu_}); }
  { Tensor t = zeros({1 << 20}, {DType::kFloat32, gpu_}); }
  const MemoryStats after = cuda::memory_stats();
  EXPECT_EQ(after.alloc_requests - before.alloc_requests, 2);
  EXPECT_EQ(after.cache_hits - before.cache_hits, 1);
  EXPECT_EQ(cuda::memory_allocated(), base);
  EXPECT_EQ(cuda::max_memory_allocated(), base + (4 << 20));
  EXPECT_GE(cuda::memory_reserved(), 4 << 20);
  const int64_t reserved = cuda::memory_reserved();
  cuda::empty_cache();
  EXPECT_LE(cuda::memory_reserved(), reserved - (20 << 20)) << "the idle 20 MiB segment goes back";
  auto [free_b, total_b] = cuda::mem_get_info();
  EXPECT_GT(total_b, free_b);
}

// Out of memory fails the request with the sizes, and the device goes on working.
TEST_F(CudaVsCpu, OutOfMemoryIsAnErrorNotACrash) {
  Error e = testing::error_of([&] { (void)empty({int64_t{1} << 40}, {DType::kFloat32, gpu_}); });
  EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("cuda:0 out of memory. Tried to allocate 4398046511104 bytes"));
  cuda::set_per_process_memory_fraction(0.01);
  const int64_t cap = static_cast<int64_t>(0.01 * static_cast<double>(cuda::mem_get_info().second));
  EXPECT_EQ(testing::error_of([&] { (void)empty({cap}, {DType::kFloat32, gpu_}); }).code(),
            ErrorCode::kResourceExhausted);
  cuda::set_per_process_memory_fraction(1.0);
  expect_close(ones({4}, {DType::kFloat32, gpu_}).sum(), ones({4}).sum(), 0);
  EXPECT_EQ(testing::error_of([] { cuda::set_per_process_memory_fraction(1.5); }).code(),
            ErrorCode::kInvalidArgument);
}

// The users' reference CNN trained on the GPU (SGD with momentum, batch 64): from the end of step 2 on, every
// request to the caching allocator is served from its cache, so no new device memory is allocated, and the
// reserved memory stays put (issue 9's steady-state criterion).
TEST_F(CudaVsCpu, SteadyStateTrainingAllocatesNoDeviceMemoryAfterStepTwo) {
  manual_seed(0);
  auto model = std::make_shared<examples::CNN>(10, 1, 28, 28);
  model->to(gpu_);
  optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
  Tensor x = random::randn({64, 1, 28, 28}).to(gpu_.str()), y = random::randint(0, 10, {64}).to(gpu_.str());
  auto step = [&] {
    opt.zero_grad(true);
    nn::functional::cross_entropy((*model)(x), y).backward();
    opt.step();
  };
  step();
  step();
  cuda::synchronize();
  const MemoryStats warm = cuda::memory_stats();
  for (int i = 0; i < 4; ++i) step();
  cuda::synchronize();
  const MemoryStats now = cuda::memory_stats();
  EXPECT_GT(now.alloc_requests, warm.alloc_requests) << "the steps allocate their tensors through the allocator";
  EXPECT_EQ(now.alloc_requests - warm.alloc_requests, now.cache_hits - warm.cache_hits)
      << "requests after step 2 that needed a new device allocation";
  EXPECT_EQ(now.reserved, warm.reserved);
  EXPECT_EQ(now.segments, warm.segments);
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

// The interpolation ops are composites (host-computed taps, index_select, weighted sums): on the GPU they
// must give the CPU's values and input gradients.
TEST_F(CudaVsCpu, InterpolationCompositesMatchTheCpu) {
  for (const char* op : {"upsample_bilinear2d", "upsample_bicubic2d"}) {
    Tensor x = tensor(ramp(2 * 3 * 4 * 5), {2, 3, 4, 5}).to("cuda:0").requires_grad_();
    Tensor cx = tensor(ramp(2 * 3 * 4 * 5), {2, 3, 4, 5}).requires_grad_();
    Tensor y = call_op(op, {x, std::vector<int64_t>{7, 3}, false})[0];
    Tensor cy = call_op(op, {cx, std::vector<int64_t>{7, 3}, false})[0];
    expect_close(y.to("cpu"), cy, 1e-5);
    y.mul(y).sum().backward();
    cy.mul(cy).sum().backward();
    expect_close(x.grad().to("cpu"), cx.grad(), 1e-5);
  }
  Tensor n = tensor(ramp(24), {1, 2, 3, 4}).to("cuda:0");
  expect_close(call_op("upsample_nearest2d", {n, std::vector<int64_t>{5, 9}})[0].to("cpu"),
               call_op("upsample_nearest2d", {n.to("cpu"), std::vector<int64_t>{5, 9}})[0], 0);
}

// Fused softmax/log_softmax: warp-per-row (n <= 1024), block-per-row (longer rows, n not a multiple of the
// block) and column (dim not innermost) paths, every floating dtype, against the CPU kernel; then NaN and
// -inf rows, non-contiguous inputs and the backward.
TEST_F(CudaVsCpu, SoftmaxOnEveryPath) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t dim;
  };
  const std::vector<Case> cases = {{{1000, 7}, 1},   {{37, 1024}, 1},   {{5, 1025}, -1}, {{3, 100000}, 1},
                                   {{64, 33, 5}, 1}, {{2, 3000, 3}, 1}, {{300, 40}, 0},  {{1, 1}, 0},
                                   {{4, 1, 6}, 1},   {{7}, 0},          {{0, 5}, 1}};
  for (const Case& c : cases) {
    int64_t n = 1;
    for (int64_t s : c.shape) n *= s;
    Tensor x = tensor(ramp(n, 0.37f), c.shape);
    for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
      Tensor cx = x.to(dt), gx = cx.to("cuda:0");
      const double tol = dt == DType::kFloat64   ? 1e-12
                         : dt == DType::kFloat32 ? 1e-5
                         : dt == DType::kFloat16 ? 2e-3
                                                 : 1e-2;
      SCOPED_TRACE(::testing::Message() << "shape " << ::testing::PrintToString(c.shape) << " dim " << c.dim
                                        << " dtype " << dtype_name(dt));
      expect_close(gx.softmax(c.dim).to("cpu"), cx.softmax(c.dim), tol);
      expect_close(gx.log_softmax(c.dim).to("cpu"), cx.log_softmax(c.dim), tol);
    }
  }
  // Rows: [NaN, 1, 2] -> all NaN; [-inf, 0, 1] -> a 0 first; [-inf, -inf, -inf] -> all NaN (as PyTorch).
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Tensor special = tensor<double>({nan, 1, 2, -inf, 0, 1, -inf, -inf, -inf}, {3, 3});
  for (bool is_log : {false, true}) {
    for (int64_t dim : {1, 0}) {
      Tensor src = dim == 1 ? special : special.t();
      Tensor c = is_log ? src.log_softmax(dim) : src.softmax(dim);
      Tensor g = is_log ? src.to("cuda:0").log_softmax(dim) : src.to("cuda:0").softmax(dim);
      auto cv = c.to_vector<double>(), gv = g.to("cpu").to_vector<double>();
      for (size_t i = 0; i < cv.size(); ++i) {
        if (std::isnan(cv[i])) {
          EXPECT_TRUE(std::isnan(gv[i])) << "at " << i;
        } else if (std::isinf(cv[i])) {
          EXPECT_EQ(gv[i], cv[i]) << "at " << i;  // log_softmax's -inf: the difference would be NaN
        } else {
          EXPECT_NEAR(gv[i], cv[i], 1e-12) << "at " << i;
        }
      }
    }
  }
  Tensor big = tensor(ramp(64 * 48, 0.1f), {64, 48}), gbig = big.to("cuda:0");
  expect_close(gbig.t().softmax(1).to("cpu"), big.t().softmax(1), 1e-5);  // non-contiguous input
  expect_close(gbig.t().log_softmax(0).to("cpu"), big.t().log_softmax(0), 1e-5);
  for (int64_t dim : {0, 1}) {
    for (bool is_log : {false, true}) {
      Tensor ca = big.to(DType::kFloat64).requires_grad_(),
             ga = big.to(DType::kFloat64).to("cuda:0").requires_grad_();
      Tensor w = tensor(ramp(64 * 48, 0.03f), {64, 48}).to(DType::kFloat64);
      (is_log ? ca.log_softmax(dim) : ca.softmax(dim)).mul(w).sum().backward();
      (is_log ? ga.log_softmax(dim) : ga.softmax(dim)).mul(w.to("cuda:0")).sum().backward();
      expect_close(ga.grad().to("cpu"), ca.grad(), 1e-12);
    }
  }
}

// The contiguous elementwise paths move 16-byte packs when every pointer is aligned to one: sizes around the
// pack width (tails of every length), views starting one element in (misaligned: the element path), every
// dtype width (bool's 1 byte, 2, 4, 8 bytes), and casts between widths.
TEST_F(CudaVsCpu, PackedElementwiseOnEveryTailAndAlignment) {
  const int64_t total = (1 << 20) + 64;
  Tensor base = tensor(ramp(total, 0.013f), {total}), gbase = base.to("cuda:0");
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{5}, int64_t{15}, int64_t{16}, int64_t{17},
                    int64_t{1023}, int64_t{(1 << 20) + 3}}) {
    for (int64_t off : {0, 1, 2, 8}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << off);
      Tensor a = base.slice(0, off, off + n), b = base.slice(0, 7, 7 + n).mul(0.5);
      Tensor ga = gbase.slice(0, off, off + n), gb = b.to("cuda:0");
      for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt64,
                       DType::kInt32, DType::kInt16}) {
        Tensor ca = a.mul(100).to(dt), cb = b.mul(100).to(dt);
        Tensor xa = ga.mul(100).to(dt), xb = gb.mul(100).to(dt);
        expect_close(xa.to("cpu"), ca, 0);  // copy/cast
        expect_close(xa.add(xb).to("cpu"), ca.add(cb),
                     dt == DType::kBFloat16 || dt == DType::kFloat16 ? 1e-2 : 0);
        expect_close(xa.mul(xb).to("cpu"), ca.mul(cb),
                     dt == DType::kBFloat16 || dt == DType::kFloat16 ? 1e-2 : 1e-6);
        expect_close(xa.neg().to("cpu"), ca.neg(), 0);
        expect_close(xa.gt(xb).to("cpu"), ca.gt(cb), 0);
        expect_close(xa.isnan().to("cpu"), ca.isnan(), 0);
      }
      expect_close(ga.exp().to("cpu"), a.exp(), 1e-6);
      expect_close(ga.gt(0).to("cpu").to(DType::kFloat32), a.gt(0).to(DType::kFloat32), 0);
      Tensor bools = ga.gt(0), cbools = a.gt(0);
      expect_close(bools.logical_not().to("cpu"), cbools.logical_not(), 0);
      expect_close(bools.to(DType::kFloat64).to("cpu"), cbools.to(DType::kFloat64),
                   0);  // 1-byte to 8-byte cast
      expect_close(ga.to(DType::kFloat16).to(DType::kFloat32).to("cpu"),
                   a.to(DType::kFloat16).to(DType::kFloat32), 0);  // 4 -> 2 -> 4 bytes
    }
  }
}

}  // namespace
}  // namespace td
