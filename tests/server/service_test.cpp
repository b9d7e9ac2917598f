// End-to-end tests of the service: a real tensord server on a free loopback port, driven by td::remote.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include "client/remote.h"
#include "core/fft.h"
#include "core/linalg.h"
#include "core/tensor_impl.h"
#include "server/server.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using remote::Tensor;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(server::Options options) {
    server_.reset();
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "";
    options.threads = 2;
    server_ = std::make_unique<server::Server>(options);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
    client_ = std::make_unique<remote::Client>(target_);
  }

  std::unique_ptr<server::Server> server_;
  std::string target_;
  std::unique_ptr<remote::Client> client_;
};

TEST_F(ServiceTest, PipelinedMatmulSumBackwardWithHookReplacement) {
  remote::Session s = client_->create_session("e2e", "cpu");
  Tensor x = s.tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = s.tensor<float>({0.5f, -1, 2, 0, 1, 1}, {3, 2}, /*requires_grad=*/true);
  Tensor y = x.matmul(w);
  int hook_calls = 0;
  double seen_mean = 0;
  y.register_hook([&](const Tensor& g) -> std::optional<Tensor> {
    ++hook_calls;
    seen_mean = g.mean().item<double>();  // a callback may issue ops and wait for values
    return g + g;
  });
  Tensor loss = y.sum();
  // y = [[7.5, 2], [18, 2]]: its sum is 29.5.
  EXPECT_DOUBLE_EQ(loss.item<double>(), 29.5);
  loss.backward();
  EXPECT_EQ(hook_calls, 1);
  EXPECT_DOUBLE_EQ(seen_mean, 1.0);  // d(sum)/dy is all ones
  // dL/dw = x^T @ (2 * ones(2, 2)): each row of w gets twice its column sum of x.
  EXPECT_THAT(w.grad().to_vector<float>(), ElementsAre(10, 10, 14, 14, 18, 18));
}

TEST_F(ServiceTest, BadOpIsInvalidArgumentNamingOpAndShapesAndSessionGoesOn) {
  remote::Session s = client_->create_session("errors", "cpu");
  Tensor x = s.tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor bad = x.matmul(x);
  try {
    s.sync();
    FAIL() << "sync must raise the matmul error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("[matmul]"));
    EXPECT_THAT(e.what(), HasSubstr("[2, 3] and [2, 3]"));
  }
  // The poisoned output fails with the original error; other tensors still work.
  try {
    (void)bad.sum().item();
    FAIL() << "a poisoned handle must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("cannot be multiplied"));
    EXPECT_THAT(e.what(), HasSubstr("poisoned by command"));
  }
  EXPECT_THAT((x + x).to_vector<float>(), ElementsAre(2, 4, 6, 8, 10, 12));
}

TEST_F(ServiceTest, CatOfRemoteTensorsAndChunkWithSeveralOutputs) {
  remote::Session s = client_->create_session("join", "cpu");
  Tensor a = s.tensor<float>({1, 2, 3, 4}, {2, 2}, /*requires_grad=*/true);
  Tensor b = s.tensor<float>({5, 6}, {1, 2});
  // A Tensor[] argument travels as a list of handles.
  Tensor c = Tensor::cat({a, b});
  EXPECT_THAT(c.shape(), ElementsAre(3, 2));
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6));
  // chunk(2) of 3 rows gives 2 pieces (rows 0-1 and row 2): one op command with two output handles.
  std::vector<Tensor> pieces = c.chunk(2);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_THAT(pieces[0].to_vector<float>(), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(pieces[1].to_vector<float>(), ElementsAre(5, 6));
  // Gradients flow back through both pieces and the cat: 1 and 2 per element of rows 0-1 of c, i.e. of a.
  (pieces[0].sum() + pieces[1].mul(2.0).sum()).backward();
  EXPECT_THAT(a.grad().to_vector<float>(), ElementsAre(1, 1, 1, 1));
  // An error in a multi-output op poisons every output.
  std::vector<Tensor> bad = c.split_with_sizes({1, 1});
  ASSERT_EQ(bad.size(), 2u);
  try {
    (void)bad[1].item();
    FAIL() << "split sizes that do not sum to the dim must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(),
                HasSubstr("[split_with_sizes] split_with_sizes expects split_sizes to sum exactly to 3"));
  }
}

TEST_F(ServiceTest, UnknownOpIsNotFound) {
  remote::Session s = client_->create_session("unknown", "cpu");
  Tensor x = s.tensor<float>({1}, {1});
  Tensor y = x.invoke_op("no_such_op", {x});
  try {
    s.sync();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_THAT(e.what(), HasSubstr("no_such_op"));
  }
}

TEST_F(ServiceTest, LargeTensorsTravelInChunks) {
  remote::Session s = client_->create_session("chunks", "cpu");
  // 3.5 MiB of float64: four upload chunks and four download chunks of at most 1 MiB.
  const int64_t n = 3 * 1024 * 1024 / 8 * 7 / 6;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i % 1000) - 500.5;
  Tensor t = s.tensor<double>(v, {n});
  EXPECT_EQ(t.to_vector<double>(), v);
  std::vector<double> twice = (t + t).to_vector<double>();
  EXPECT_EQ(twice[1], 2 * v[1]);
  EXPECT_EQ(twice.back(), 2 * v.back());
}

TEST_F(ServiceTest, ObserveOnlyHookDoesNotBlockOrReplace) {
  remote::Session s = client_->create_session("observe", "cpu");
  Tensor a = s.tensor<double>({1, 2, 3}, {3}, true);
  Tensor b = a * a;
  std::vector<double> seen;
  b.register_hook([&](const Tensor& g) -> std::optional<Tensor> {
    seen = g.to_vector<double>();
    return g + g;  // ignored: observe-only hooks cannot replace
  }, /*blocking=*/false);
  b.sum().backward();
  EXPECT_THAT(seen, ElementsAre(1, 1, 1));
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(2, 4, 6));  // d(a^2)/da = 2a, unscaled
}

TEST_F(ServiceTest, RemovedHookDoesNotFire) {
  remote::Session s = client_->create_session("remove", "cpu");
  Tensor a = s.tensor<double>({1, 2}, {2}, true);
  int calls = 0;
  auto handle = a.register_hook([&](const Tensor&) -> std::optional<Tensor> {
    ++calls;
    return std::nullopt;
  });
  (a * a).sum().backward();
  handle.remove();
  (a * a).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(a.grad().to_vector<double>(), ElementsAre(4, 8));  // two backwards accumulate 2a twice
}

// torch.no_grad() / enable_grad() from a client: the ops between the guard's start and end record no graph.
TEST_F(ServiceTest, NoGradGuardsStopTheServerFromRecordingGraphs) {
  remote::Session s = client_->create_session("no grad", "cpu");
  Tensor w = s.tensor<double>({1, 2}, {2}, true);
  Tensor frozen, tracked;
  {
    remote::NoGradGuard no_grad(s);
    frozen = w.mul(2.0).sum();
    {
      remote::EnableGradGuard again(s);
      tracked = w.mul(3.0).sum();
    }
    w.sub_(w.mul(0.5));  // an update by hand, as an optimizer does: allowed on a leaf under no_grad
  }
  Error e = testing::error_of([&] { frozen.backward(); });
  EXPECT_THAT(e.what(), HasSubstr("does not require grad"));
  tracked.backward();
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(3, 3));
  EXPECT_THAT(w.to_vector<double>(), ElementsAre(0.5, 1));
  w.mul(w).sum().backward();  // after the guards, graphs again
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(4, 5));
}

TEST_F(ServiceTest, ForwardModeADRunsOnTheServerPerSession) {
  // sin(x * x) along t: the tangent 2 x cos(x^2) t, computed on the server, as in-process.
  remote::Session s = client_->create_session("forward mode", "cpu");
  remote::Session other = client_->create_session("neighbour", "cpu");
  Tensor x = s.tensor<double>({-1.5, 0.25, 2}, {3}), t = s.tensor<double>({1, 2, -1}, {3});
  Tensor y, plain;
  {
    remote::forward_ad::DualLevel level(s);
    // The neighbour session has no level: its ops are plain, and it cannot see s's.
    Tensor o = other.tensor<double>({1, 2}, {2});
    plain = o.mul(o);
    Tensor d = remote::forward_ad::make_dual(x, t);
    y = d.mul(d).sin();
    auto [primal, tangent] = remote::forward_ad::unpack_dual(y);
    std::vector<double> want;
    const std::vector<double> xs = {-1.5, 0.25, 2}, ts = {1, 2, -1};
    for (size_t i = 0; i < 3; ++i) want.push_back(2 * xs[i] * std::cos(xs[i] * xs[i]) * ts[i]);
    EXPECT_THAT(tangent.to_vector<double>(), ::testing::Pointwise(::testing::DoubleNear(1e-12), want));
    EXPECT_THAT(primal.to_vector<double>()[1], ::testing::DoubleNear(std::sin(0.0625), 1e-12));
    // A second level is refused, in PyTorch's words; the session goes on.
    { remote::forward_ad::DualLevel nested(s); }
    Error e = testing::error_of([&] { s.sync(); });
    EXPECT_THAT(e.what(), HasSubstr("Nested forward mode AD is not supported at the moment"));
  }
  // After the level, the same tensor has no tangent: using the absent one fails as an absent grad() does.
  Tensor gone = remote::forward_ad::unpack_dual(y).tangent;
  EXPECT_THAT(testing::error_of([&] { gone.to_vector<double>(); }).what(), HasSubstr("holds no tensor"));
  EXPECT_THAT(plain.to_vector<double>(), ElementsAre(1, 4));
  EXPECT_THAT(testing::error_of([&] { remote::forward_ad::make_dual(x, t).to_vector<double>(); }).what(),
              HasSubstr("no level exists"));
}

TEST_F(ServiceTest, HookWithoutReplyFailsBackwardWithDeadlineExceeded) {
  server::Options options;
  options.hook_timeout = std::chrono::milliseconds(300);
  start(options);
  remote::Session s = client_->create_session("deadline", "cpu");
  Tensor a = s.tensor<double>({1, 2}, {2}, true);
  a.register_hook([&](const Tensor&) -> std::optional<Tensor> {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the reply comes too late
    return std::nullopt;
  });
  try {
    (a * a).sum().backward();
    FAIL() << "backward must fail when the hook misses its deadline";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
    EXPECT_THAT(e.what(), HasSubstr("no reply"));
  }
  // The late reply is harmless and the session goes on.
  EXPECT_THAT((a + a).to_vector<double>(), ElementsAre(2, 4));
}

TEST_F(ServiceTest, ClosingASessionFreesItsMemory) {
  {
    remote::Session s = client_->create_session("mem", "cpu");
    Tensor big = s.tensor<float>(std::vector<float>(1 << 16, 1.0f), {1 << 16});
    s.sync();
    EXPECT_GE(memory_allocated(DeviceType::kCPU), int64_t{1} << 18);
  }
  // Closing the session frees every byte its handles held.
  for (int i = 0; i < 50 && memory_allocated(DeviceType::kCPU) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(memory_allocated(DeviceType::kCPU), 0);
}

TEST_F(ServiceTest, TwoSessionsCannotSeeEachOthersHandles) {
  remote::Session a = client_->create_session("a", "cpu");
  remote::Session b = client_->create_session("b", "cpu");
  Tensor ta = a.tensor<float>({1, 2}, {2});
  Tensor tb = b.tensor<float>({10, 20}, {2});
  ASSERT_EQ(ta.handle(), tb.handle());  // the same client-side id names a different tensor in each session
  EXPECT_THAT(ta.to_vector<float>(), ElementsAre(1, 2));
  EXPECT_THAT(tb.to_vector<float>(), ElementsAre(10, 20));
}

TEST_F(ServiceTest, CreatingASessionOnAMissingDeviceFails) {
  try {
    (void)client_->create_session("gpu", "cuda:7");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("cuda:7"));
  }
  try {
    (void)client_->create_session("bad", "tpu");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(ServiceTest, OpsWithTwoOutputsAndNumbersTravel) {
  remote::Session s = client_->create_session("multi", "cpu");
  Tensor x = s.tensor<double>({1, 5, 2, 4, 3, 0}, {2, 3}, true);
  auto [values, indices] = x.max(1);  // two output handles in one op command
  EXPECT_THAT(values.to_vector<double>(), ElementsAre(5, 4));
  EXPECT_THAT(indices.to_vector<int64_t>(), ElementsAre(1, 0));
  // A number where a tensor goes crosses the wire as a number and is wrapped on the server.
  (values * 2.0).sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(0, 2, 0, 2, 0, 0));
  EXPECT_THAT(x.gather(1, s.tensor<int64_t>({2, 0}, {2, 1})).to_vector<double>(), ElementsAre(2, 4));
}

// In-place ops, indexing with a None in the `Tensor?[]` (handle 0 on the wire) and writes through views:
// the same methods as local tensors, run on the server.
TEST_F(ServiceTest, InPlaceOpsAndIndexingTravel) {
  remote::Session s = client_->create_session("inplace", "cpu");
  Tensor x = s.tensor<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  x.mul_(2.0).add_(1.0);
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 3, 5, 7, 9, 11));
  Tensor cols = x.index({Slice(), s.tensor<int64_t>({2, 0}, {2})});  // x[:, [2, 0]]
  EXPECT_THAT(cols.to_vector<float>(), ElementsAre(5, 1, 11, 7));
  x.index_put_({x.gt(6.0)}, 0.0);  // x[x > 6] = 0
  x.index_put_({0, Slice(1)}, s.tensor<float>({-1, -2}, {2}));  // x[0, 1:] = [-1, -2]
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, -1, -2, 0, 0, 0));
  // Autograd through an in-place op on a view, on the server.
  Tensor w = s.tensor<double>({1, 2, 3}, {3}, true);
  Tensor y = w.mul(1.0);
  y.index({Slice(1)}).mul_(w.index({Slice(std::nullopt, 2)}));  // y[1:] *= w[:2]
  y.sum().backward();
  EXPECT_THAT(w.grad().to_vector<double>(), ElementsAre(1 + 2, 1 + 3, 2));  // y = [w0, w1 w0, w2 w1]
}

// torch.fft's C++ functions are templates over the tensor type: the same calls run on the server, and the
// gradient flows back through the transforms there. rfft of [1, 2, 3, 4] is [10, -2 + 2i, -2]; the
// round trip gives the signal back, so d sum(irfft(rfft(x))) / dx = 1.
TEST_F(ServiceTest, FftRunsOnTheServerSession) {
  remote::Session s = client_->create_session("fft", "cpu");
  Tensor x = s.tensor<double>({1, 2, 3, 4}, {4}, true);
  Tensor spectrum = fft::rfft(x);
  auto parts = spectrum.view_as_real().to_vector<double>();
  EXPECT_THAT(parts, ElementsAre(10, 0, -2, 2, -2, 0));
  Tensor back = fft::irfft(spectrum, 4);
  EXPECT_THAT(back.to_vector<double>(), ElementsAre(1, 2, 3, 4));
  back.sum().backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_NEAR(g, 1, 1e-12);
  EXPECT_THAT(s.op("fft_fftfreq", {Scalar(int64_t{4})}).to_vector<float>(), ElementsAre(0, 0.25, -0.5, -0.25));
}

// torch.linalg's C++ functions run on a server session the same way: A x = b for A = [[2, 1], [1, 3]] and
// b = [3, 5] is x = [0.8, 1.4]; d sum(x) / db = A^-T 1 = [0.4, 0.2].
TEST_F(ServiceTest, LinalgRunsOnTheServerSession) {
  remote::Session s = client_->create_session("linalg", "cpu");
  Tensor a = s.tensor<double>({2, 1, 1, 3}, {2, 2});
  Tensor b = s.tensor<double>({3, 5}, {2}, true);
  Tensor x = linalg::solve(a, b);
  auto got = x.to_vector<double>();
  EXPECT_NEAR(got[0], 0.8, 1e-12);
  EXPECT_NEAR(got[1], 1.4, 1e-12);
  x.sum().backward();
  auto g = b.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 0.4, 1e-12);
  EXPECT_NEAR(g[1], 0.2, 1e-12);
  EXPECT_NEAR(linalg::det(a).item<double>(), 5, 1e-12);
  auto [values, vectors] = linalg::eigh(a);
  EXPECT_NEAR(values.sum().item<double>(), 5, 1e-12);
  try {
    (void)linalg::inv(s.tensor<double>({1, 2, 2, 4}, {2, 2})).to_vector<double>();
    FAIL() << "the inverse of a singular matrix must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("input matrix is singular"));
  }
}

TEST_F(ServiceTest, HealthCheckServiceReportsServing) {
  // grpc.health.v1.Health/Check with an empty request; a SERVING reply is field 1 = 1 on the wire.
  auto channel = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST(ServerOptions, RefusesNonLoopbackWithoutAuth) {
  server::Options options;
  options.listen = "0.0.0.0:0";
  options.metrics_listen = "";
  try {
    server::Server s(options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("tokens file"));
  }
}

}  // namespace
}  // namespace td
