// td::cuda's streams and events, the caching allocator's stream rules, and the profiler's CUDA-event timing,
// on a GPU; without one, that the API fails with a clear error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/backend.h"
#include "core/cuda.h"
#include "core/error.h"
#include "core/profiler/profiler.h"
#include "core/tensor.h"
#include "kernels/cuda_handles.h"
#include "kernels/cudnn.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

bool have_gpu() { return cuda::is_available(); }

TEST(CudaStreams, WithoutAGpuTheApiFailsClearly) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present";
  for (auto f : std::initializer_list<std::function<void()>>{
           [] { (void)cuda::Stream(); }, [] { (void)cuda::current_stream(); }, [] { cuda::Event e; e.record(); },
           [] { (void)cuda::get_device_properties(); }, [] { cuda::set_device(0); }}) {
    const Error e = testing::error_of(f);
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("no CUDA device"));
  }
  cuda::Event never_recorded;
  EXPECT_TRUE(never_recorded.query()) << "an event never recorded has nothing to wait for";
}

TEST(PinnedMemory, NeedsACudaDeviceAndACpuTensor) {
  const Tensor t = ones({4});
  EXPECT_FALSE(t.is_pinned());
  if (!have_gpu()) {
    const Error e = testing::error_of([&] { (void)t.pin_memory(); });
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("[pin_memory]"));
    EXPECT_EQ(testing::error_of([] { (void)empty({2}, {DType::kFloat32, kCPU, false, true}); }).code(),
              ErrorCode::kFailedPrecondition);
  }
  EXPECT_EQ(testing::error_of([] {
              (void)empty({2}, {DType::kFloat32, Device::parse("cuda:0"), false, /*pin_memory=*/true});
            }).code(),
            ErrorCode::kInvalidArgument);
  // non_blocking has no effect between CPU tensors, and to() keeps its copy rules.
  EXPECT_TRUE(t.to("cpu", /*non_blocking=*/true).is_same(t));
  EXPECT_FALSE(t.to("cpu", /*non_blocking=*/true, /*copy=*/true).is_same(t));
  EXPECT_EQ(t.to(DType::kFloat64, true).dtype(), DType::kFloat64);
  Tensor dst = zeros({4});
  dst.copy_(t, /*non_blocking=*/true);
  EXPECT_EQ(dst.to_vector<float>(), std::vector<float>(4, 1.0f));
}

class CudaStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  }
  TensorOptions gpu_{DType::kFloat32, Device::parse("cuda:0")};
};

TEST_F(CudaStreamTest, DevicePropertiesAndGuards) {
  const DeviceProperties p = cuda::get_device_properties(0);
  EXPECT_EQ(p.name, cuda::get_device_name(0));
  EXPECT_GT(p.total_memory, 0);
  EXPECT_GT(p.multi_processor_count, 0);
  EXPECT_EQ(cuda::get_device_capability(0), std::make_pair(p.major, p.minor));
  EXPECT_EQ(cuda::current_device(), 0);
  { cuda::DeviceGuard guard(0); EXPECT_EQ(cuda::current_device(), 0); }
  EXPECT_EQ(testing::error_of([] { cuda::set_device(cuda::device_count()); }).code(), ErrorCode::kInvalidArgument);
}

TEST_F(CudaStreamTest, StreamGuardMakesKernelsRunOnItsStreamAndRestores) {
  const cuda::Stream s;
  EXPECT_NE(s.id(), 0u) << "a pool stream, not the default one";
  EXPECT_EQ(cuda::current_stream(), cuda::default_stream());
  Tensor x = ones({1 << 20}, gpu_);
  Tensor y;
  {
    cuda::StreamGuard guard(s);
    EXPECT_EQ(cuda::current_stream(), s);
    s.wait_stream(cuda::default_stream());  // x was filled on the default stream
    y = x.mul(x).add(x);
    s.synchronize();
    EXPECT_TRUE(s.query());
  }
  EXPECT_EQ(cuda::current_stream(), cuda::default_stream()) << "the guard restores the previous stream";
  EXPECT_EQ(y.sum().item<float>(), 2.0f * (1 << 20));
  // Another thread has its own current stream.
  std::thread([&] { EXPECT_EQ(cuda::current_stream(), cuda::default_stream()); }).join();
}

TEST_F(CudaStreamTest, EventsOrderStreamsAndTime) {
  const cuda::Stream producer, consumer;
  Tensor a = empty({1 << 22}, gpu_);
  cuda::Event start(/*enable_timing=*/true), end(/*enable_timing=*/true), ready;
  {
    cuda::StreamGuard guard(producer);
    start.record();
    a.fill_(3.0);
    for (int i = 0; i < 20; ++i) a.mul_(1.0);
    end.record();
    ready.record();
  }
  Tensor total;
  {
    cuda::StreamGuard guard(consumer);
    consumer.wait_event(ready);  // the consumer's kernels run after the producer's
    cuda::record_stream(a, consumer);
    total = a.sum();
  }
  // total was made on the consumer stream: the default stream's copy to the host must wait for it (as in
  // PyTorch, where item() reads on the current stream). A run without this wait read 0.
  consumer.synchronize();
  EXPECT_EQ(total.item<double>(), 3.0 * (1 << 22));
  end.synchronize();
  EXPECT_TRUE(end.query());
  const float ms = start.elapsed_time(end);
  EXPECT_GT(ms, 0.0f);
  EXPECT_LT(ms, 10000.0f);
  EXPECT_EQ(testing::error_of([&] { (void)ready.elapsed_time(end); }).code(), ErrorCode::kInvalidArgument)
      << "an event without timing cannot be timed";
}

// Library handles are per thread, and a thread that ends returns its own to a pool (kernels/cuda/handle_pool.h):
// eight threads one after another, each running a matmul (cuBLAS) and a batch norm (cuDNN where it loads),
// make at most one handle of each kind between them, where each used to make its own and leak it.
TEST_F(CudaStreamTest, ThreadsThatEndReturnTheirLibraryHandles) {
  Tensor a = ones({64, 64}, gpu_), x = ones({8, 4, 3, 3}, gpu_), w = ones({4}, gpu_), b = zeros({4}, gpu_);
  auto work = [&] {
    EXPECT_EQ(a.matmul(a).sum().item<float>(), 64.0f * 64 * 64);
    Tensor y = call_op("native_batch_norm", {x, w, b, None{}, None{}, Scalar(true), Scalar(0.1), Scalar(1e-5)})[0];
    EXPECT_EQ(y.abs().sum().item<float>(), 0.0f) << "a constant input normalises to 0";
  };
  work();  // this thread's own handles
  const int64_t blas = kernels::cuda::blas_handles_made(), cudnn = kernels::cudnn_handles_made();
  for (int i = 0; i < 8; ++i) std::thread(work).join();
  EXPECT_LE(kernels::cuda::blas_handles_made() - blas, 1);
  EXPECT_LE(kernels::cudnn_handles_made() - cudnn, 1);
  EXPECT_GE(kernels::cuda::blas_handles_made(), 1) << "the count moves";
}

// A block freed on one stream is not handed to another stream while the first may still use it.
TEST_F(CudaStreamTest, TheAllocatorKeepsBlocksOnTheirStream) {
  const cuda::Stream s1, s2;
  void* first = nullptr;
  {
    cuda::StreamGuard guard(s1);
    Tensor t = empty({1 << 18}, gpu_);
    first = t.data_ptr();
  }
  {
    cuda::StreamGuard guard(s2);
    Tensor t = empty({1 << 18}, gpu_);
    EXPECT_NE(t.data_ptr(), first) << "stream 2 must not get stream 1's block";
  }
  {
    cuda::StreamGuard guard(s1);
    Tensor t = empty({1 << 18}, gpu_);
    EXPECT_EQ(t.data_ptr(), first) << "stream 1 gets its block back";
  }
}

TEST_F(CudaStreamTest, TheProfilerTimesCudaOpsWithEvents) {
  Tensor a = ones({1024, 1024}, gpu_), b = ones({1024, 1024}, gpu_);
  profiler::ProfilerOptions options;
  options.activities = {profiler::ProfilerActivity::kCPU, profiler::ProfilerActivity::kCUDA};
  profiler::profile prof(options);
  {
    profiler::record_function range("step");
    for (int i = 0; i < 5; ++i) a = a.matmul(b).div(1024.0);
  }
  prof.stop();
  int timed = 0;
  for (const profiler::Event& e : prof.events()) {
    if (e.name == "aten::mm" || e.name == "step") {
      EXPECT_GT(e.cuda_time_ns, 0) << e.name;
      EXPECT_GE(e.cuda_start_ns, 0) << e.name;
      ++timed;
    }
  }
  EXPECT_GE(timed, 6);
  const profiler::FunctionEventAvg* mm = prof.key_averages().find("aten::mm");
  ASSERT_NE(mm, nullptr);
  EXPECT_GT(mm->self_cuda_time_total, 0);
  const std::string table = prof.key_averages().table("self_cuda_time_total");
  EXPECT_THAT(table, ::testing::HasSubstr("Self CUDA %"));
  EXPECT_THAT(table, ::testing::HasSubstr("Self CUDA time total"));
  EXPECT_THAT(prof.events().chrome_trace(), ::testing::HasSubstr("gpu_user_annotation"));
}

TEST_F(CudaStreamTest, PinnedMemoryAndNonBlockingCopies) {
  std::vector<float> values(1 << 16);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 977) * 0.5f;
  const Tensor host = tensor(values, {256, 256});
  EXPECT_FALSE(host.is_pinned());
  const Tensor pinned = host.pin_memory();
  EXPECT_TRUE(pinned.is_pinned());
  EXPECT_TRUE(pinned.pin_memory().is_same(pinned)) << "already pinned: itself";
  EXPECT_EQ(pinned.to_vector<float>(), values);
  const cuda::Stream s;
  Tensor back;
  {
    cuda::StreamGuard guard(s);
    Tensor dev = pinned.to("cuda:0", /*non_blocking=*/true);
    dev = dev.mul(2.0);
    back = dev.to("cpu", /*non_blocking=*/true);  // lands in new pinned memory
    EXPECT_TRUE(back.is_pinned());
    Tensor into = zeros({256, 256}, gpu_);
    into.copy_(pinned, /*non_blocking=*/true);
    EXPECT_EQ(into.to("cpu").to_vector<float>(), values);  // a blocking copy back, after the stream's work
  }
  s.synchronize();  // the host reads back only after the stream has run
  const std::vector<float> got = back.to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(got[i], 2.0f * values[i]) << i;
  EXPECT_EQ(testing::error_of([&] { (void)ones({2}, gpu_).pin_memory(); }).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace td
