// cuDNN convolutions (kernels/cuda/cudnn_conv.cpp) and training batch norm (kernels/cuda/cudnn_batch_norm.cpp).
// Loading the library and setting up its descriptors need no GPU, so the first tests run wherever cuDNN is
// installed; the others run convolutions and batch norms and their gradients through cuDNN and through our
// own kernels on a GPU and require the same values.
#include "core/cudnn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/backend.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "kernels/cudnn.h"

namespace td {
namespace {

bool have_gpu() {
  return backend(DeviceType::kCUDA).is_available();
}

// One convolution's hyper-parameters, as aten::convolution takes them.
struct Conv {
  std::string name;
  std::vector<int64_t> x, w;  // input and weight shapes
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
  bool transposed = false;
  std::vector<int64_t> output_padding = {};
  bool bias = true;
};

std::vector<Conv> battery() {
  return {
      {"conv2d 3x3 pad 1", {4, 8, 10, 9}, {16, 8, 3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {"conv2d stride 2, no bias", {3, 4, 11, 12}, {6, 4, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, false, {}, false},
      {"conv2d 7x7 stride 2 pad 3 (resnet's stem)", {2, 3, 32, 32}, {8, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}},
      {"conv2d 1x1 stride 2 (a downsample)", {4, 8, 8, 8}, {16, 8, 1, 1}, {2, 2}, {0, 0}, {1, 1}},
      {"conv2d dilated, uneven window", {2, 4, 13, 11}, {5, 4, 3, 2}, {1, 2}, {2, 1}, {2, 3}},
      {"conv2d grouped", {2, 6, 9, 9}, {9, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 3},
      {"conv2d depthwise", {2, 8, 9, 9}, {8, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 8},
      {"conv2d 3x3 pad 1 on 1x1 (dead taps: a strided weight view)",
       {4, 16, 1, 1},
       {8, 16, 3, 3},
       {1, 1},
       {1, 1},
       {1, 1}},
      {"conv1d", {3, 4, 20}, {6, 4, 5}, {2}, {2}, {1}},
      {"conv3d", {2, 3, 6, 7, 5}, {4, 3, 3, 3, 2}, {1, 2, 1}, {1, 1, 0}, {1, 1, 1}},
      {"conv_transpose2d stride 2, output padding",
       {2, 6, 5, 4},
       {6, 4, 3, 3},
       {2, 2},
       {1, 1},
       {1, 1},
       1,
       true,
       {1, 0}},
      {"conv_transpose2d grouped", {2, 4, 5, 5}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 2, true, {0, 0}},
      {"conv_transpose1d dilated", {2, 3, 7}, {3, 5, 3}, {1}, {0}, {2}, 1, true, {0}},
  };
}

Tensor run_conv(const Conv& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  std::vector<int64_t> op = c.output_padding;
  if (op.empty()) op.assign(c.stride.size(), 0);
  return call_op("convolution", {x, w, b.defined() ? Value(b) : Value(None{}), c.stride, c.padding,
                                 c.dilation, Scalar(c.transposed), op, Scalar(c.groups)})[0];
}

// The output and the gradients of x, w and b for a fixed output gradient, all copied to the CPU in float64.
std::vector<Tensor> forward_backward(const Conv& c, DType dtype, const std::string& device,
                                     bool offset_input = false) {
  manual_seed(7);
  const TensorOptions cpu{DType::kFloat64};
  Tensor x = random::randn(c.x, cpu), w = random::randn(c.w, cpu) * 0.3;
  const int64_t cout = c.transposed ? c.w[1] * c.groups : c.w[0];
  Tensor b = c.bias ? random::randn({cout}, cpu) : Tensor();
  auto on = [&](const Tensor& t) { return t.to(dtype).to(device).detach().requires_grad_(); };
  Tensor xd = on(x), wd = on(w), bd = c.bias ? on(b) : Tensor();
  if (offset_input) {
    // x as a contiguous view one element into a larger buffer: its data is not 16-byte aligned.
    Tensor flat = zeros({x.numel() + 1}, {dtype, Device::parse(device)});
    flat.narrow(0, 1, x.numel()).copy_(x.to(dtype).to(device).reshape({-1}));
    xd = flat.narrow(0, 1, x.numel()).view(c.x).detach().requires_grad_();
  }
  Tensor y = run_conv(c, xd, wd, bd);
  manual_seed(11);
  Tensor gy = random::randn(y.shape(), cpu).to(dtype).to(device);
  std::vector<Tensor> inputs = {xd, wd};
  if (c.bias) inputs.push_back(bd);
  std::vector<Tensor> out = {y.detach()};
  for (const Tensor& g : autograd::grad({y}, inputs, {gy})) out.push_back(g);
  for (Tensor& t : out) t = t.to("cpu").to(DType::kFloat64);
  return out;
}

TEST(Cudnn, LoadsVersionNineOrSaysWhyNot) {
  const kernels::CudnnLibrary& lib = kernels::cudnn_library();
  if (lib.version == 0) {
    EXPECT_FALSE(lib.reason.empty()) << "a library that did not load must say why";
    // scripts/gpu-check.sh names the cuDNN it found: there it must load.
    const char* named = std::getenv("TD_CUDNN_LIBRARY");
    if (have_gpu() && named && *named && std::string(named).find("nonexistent") == std::string::npos) {
      FAIL() << "TD_CUDNN_LIBRARY=" << named << " did not load: " << lib.reason;
    }
    EXPECT_FALSE(backends::cudnn::is_available());
    GTEST_SKIP() << "cuDNN is not available here: " << lib.reason;
  }
  EXPECT_TRUE(backends::cudnn::is_available());
  EXPECT_EQ(backends::cudnn::version(), lib.version);
  EXPECT_EQ(lib.version / 10000, 9) << lib.version;
  EXPECT_TRUE(lib.reason.empty()) << lib.reason;
}

TEST(Cudnn, FlagsHavePyTorchsDefaultsAndTheGuardRestoresThem) {
  // The test binaries turn TF32 off (tests/strict_tf32.cpp); PyTorch's other defaults hold.
  EXPECT_TRUE(backends::cudnn::enabled());
  EXPECT_FALSE(backends::cudnn::benchmark());
  EXPECT_FALSE(backends::cudnn::deterministic());
  EXPECT_FALSE(backends::cudnn::allow_tf32());
  // The graph API is tensord's switch, off unless TD_CUDNN_GRAPH_API=1 at start.
  const char* graph = std::getenv("TD_CUDNN_GRAPH_API");
  EXPECT_EQ(backends::cudnn::graph_api(), graph && std::string(graph) == "1");
  {
    backends::cudnn::FlagsGuard guard(false, true, true, true);
    EXPECT_FALSE(backends::cudnn::enabled());
    EXPECT_TRUE(backends::cudnn::benchmark());
    EXPECT_TRUE(backends::cudnn::deterministic());
    EXPECT_TRUE(backends::cudnn::allow_tf32());
  }
  EXPECT_TRUE(backends::cudnn::enabled());
  EXPECT_FALSE(backends::cudnn::benchmark());
  EXPECT_FALSE(backends::cudnn::deterministic());
  EXPECT_FALSE(backends::cudnn::allow_tf32());
}

// The descriptors' set-up, checked without a GPU: cuDNN's own output sizes for each case of the battery must
// be the ones the convolution op computes (on the CPU) for a non-transposed convolution.
TEST(Cudnn, DescriptorsGiveTheOpsOutputSizes) {
  if (!backends::cudnn::is_available()) GTEST_SKIP() << kernels::cudnn_library().reason;
  int checked = 0;
  for (const Conv& c : battery()) {
    if (c.transposed) continue;
    SCOPED_TRACE(c.name);
    ConvWindow win;
    win.dims = static_cast<int>(c.x.size()) - 2;
    for (int d = 0; d < win.dims; ++d) {
      win.in[d] = c.x[static_cast<size_t>(d) + 2];
      win.kernel[d] = c.w[static_cast<size_t>(d) + 2];
      win.stride[d] = c.stride[static_cast<size_t>(d)];
      win.padding[d] = c.padding[static_cast<size_t>(d)];
      win.dilation[d] = c.dilation[static_cast<size_t>(d)];
    }
    const Tensor y = run_conv(c, zeros(c.x), zeros(c.w), Tensor());
    for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
      EXPECT_EQ(kernels::cudnn_output_sizes(t, c.x, c.w, win, c.groups), y.shape()) << dtype_name(t);
    }
    // Types cuDNN's convolutions do not take: no sizes (the im2col path takes them).
    EXPECT_TRUE(kernels::cudnn_output_sizes(DType::kComplex64, c.x, c.w, win, c.groups).empty());
    EXPECT_TRUE(kernels::cudnn_output_sizes(DType::kInt32, c.x, c.w, win, c.groups).empty());
    ++checked;
  }
  EXPECT_EQ(checked, 10);
  // Sizes past cuDNN's 32-bit indexing: refused, for the im2col path.
  ConvWindow big;
  big.dims = 2;
  big.in[0] = big.in[1] = 1 << 16;
  big.kernel[0] = big.kernel[1] = big.stride[0] = big.stride[1] = big.dilation[0] = big.dilation[1] = 1;
  const std::vector<int64_t> bx = {1, 1, 1 << 16, 1 << 16}, bw = {1, 1, 1, 1};
  EXPECT_TRUE(kernels::cudnn_output_sizes(DType::kFloat32, bx, bw, big, 1).empty());
}

// The graph API's set-up, checked without a GPU: for each case of the battery, each dtype and each of the
// three calls, cuDNN finalizes the operation graph (it checks the tensors, the window and the node against
// each other); an output of the wrong size, or a dtype cuDNN lacks, is refused.
TEST(Cudnn, GraphsOfEachCaseBuild) {
  if (!backends::cudnn::is_available()) GTEST_SKIP() << kernels::cudnn_library().reason;
  int checked = 0;
  for (const Conv& c : battery()) {
    if (c.transposed) continue;  // a transposed convolution's calls are these three with x and y swapped
    ConvWindow win;
    win.dims = static_cast<int>(c.x.size()) - 2;
    for (int d = 0; d < win.dims; ++d) {
      win.stride[d] = c.stride[static_cast<size_t>(d)];
      win.padding[d] = c.padding[static_cast<size_t>(d)];
      win.dilation[d] = c.dilation[static_cast<size_t>(d)];
    }
    const std::vector<int64_t> y = run_conv(c, zeros(c.x), zeros(c.w), Tensor()).shape();
    std::vector<int64_t> wrong = y;
    wrong.back() += 1;
    for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
      for (int kind = 0; kind < 3; ++kind) {
        SCOPED_TRACE(c.name + " " + std::string(dtype_name(t)) + " kind " + std::to_string(kind));
        EXPECT_TRUE(kernels::cudnn_graph_builds(kind, t, c.x, c.w, y, win, c.groups));
        EXPECT_FALSE(kernels::cudnn_graph_builds(kind, t, c.x, c.w, wrong, win, c.groups));
        ++checked;
      }
    }
    EXPECT_FALSE(kernels::cudnn_graph_builds(0, DType::kComplex64, c.x, c.w, y, win, c.groups));
  }
  EXPECT_EQ(checked, 10 * 4 * 3);
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  double scale = 0;
  for (double v : bv) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < av.size(); ++i) {
    ASSERT_NEAR(av[i], bv[i], tol * (1 + scale)) << what << " at " << i;
  }
}

double tolerance(DType t) {
  return t == DType::kFloat64 ? 1e-12 : t == DType::kFloat32 ? 2e-5 : t == DType::kFloat16 ? 4e-3 : 3e-2;
}

// td::backends::cudnn::graph_api() for the guard's lifetime.
class GraphApi {
 public:
  explicit GraphApi(bool on) : saved_(backends::cudnn::graph_api()) { backends::cudnn::set_graph_api(on); }
  ~GraphApi() { backends::cudnn::set_graph_api(saved_); }
  GraphApi(const GraphApi&) = delete;
  GraphApi& operator=(const GraphApi&) = delete;

 private:
  bool saved_;
};

// The convolution counts of cuDNN's two paths; expect() checks the calls since construction: at least `n`
// through cuDNN, all of them through the graph API when it is on (it has a plan for every case here).
class CudnnRuns {
 public:
  CudnnRuns() : all_(kernels::cudnn_convolutions_run()), graph_(kernels::cudnn_graph_convolutions_run()) {}
  void expect(int64_t n) const {
    const int64_t all = kernels::cudnn_convolutions_run() - all_;
    const int64_t graph = kernels::cudnn_graph_convolutions_run() - graph_;
    EXPECT_GE(all, n) << "cuDNN did not run";
    if (backends::cudnn::graph_api()) {
      EXPECT_EQ(graph, all) << "the graph API left calls to the legacy API: "
                            << kernels::cudnn_graph_unusable_reason();
    } else {
      EXPECT_EQ(graph, 0) << "the graph API ran while off";
    }
  }

 private:
  int64_t all_, graph_;
};

// cuDNN's results against the im2col path's for one case and dtype; cuDNN must have run all three
// convolutions (forward, both gradients; a transposed convolution's forward is cuDNN's backward data).
void expect_cudnn_matches(const Conv& c, DType t, bool offset_input = false) {
  std::vector<Tensor> ref;
  {
    backends::cudnn::FlagsGuard off(false, false, false, false);
    ref = forward_backward(c, t, "cuda:0", offset_input);
  }
  const CudnnRuns runs;
  const std::vector<Tensor> got = forward_backward(c, t, "cuda:0", offset_input);
  runs.expect(3);
  const char* names[] = {"output", "x's gradient", "w's gradient", "b's gradient"};
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], ref[i], tolerance(t), names[i]);
}

// The tests that run convolutions run each through both of cuDNN's paths: the legacy calls and the graph API.
class CudnnPaths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no GPU";
    if (!backends::cudnn::is_available()) GTEST_SKIP() << kernels::cudnn_library().reason;
  }
  GraphApi path_{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Cudnn, CudnnPaths, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "GraphApi" : "LegacyApi"; });

// Each case of the battery, forward and backward, through cuDNN and through im2col + GEMM, in float64,
// float32 (no TF32), float16 and bfloat16, twice (the second time with the cached algorithms or plans).
TEST_P(CudnnPaths, ConvolutionsAndGradientsMatchTheIm2colPath) {
  for (const Conv& c : battery()) {
    for (DType t : {DType::kFloat64, DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
      for (int pass = 0; pass < 2; ++pass) {
        SCOPED_TRACE(c.name + " " + std::string(dtype_name(t)) + (pass ? ", cached" : ""));
        const int64_t choices = kernels::cudnn_graph_choices();
        expect_cudnn_matches(c, t);
        if (pass == 1) {
          EXPECT_EQ(kernels::cudnn_graph_choices(), choices) << "the cached pass made plans again";
        }
      }
    }
  }
}

// A transposed convolution whose output_padding reaches past the stride (allowed below the dilation) has
// sizes cuDNN's descriptors cannot describe: both paths refuse its three calls, twice (the refusal is
// cached), and the im2col path gives the CPU's values.
TEST_P(CudnnPaths, OutputPaddingPastTheStrideTakesTheIm2colPath) {
  const Conv c{"conv_transpose2d, output padding past the stride",
               {2, 3, 6, 5},
               {3, 4, 3, 3},
               {1, 1},
               {0, 0},
               {2, 2},
               1,
               true,
               {1, 1}};
  for (DType t : {DType::kFloat64, DType::kFloat32}) {
    const std::vector<Tensor> ref = forward_backward(c, t, "cpu");
    for (int pass = 0; pass < 2; ++pass) {
      SCOPED_TRACE(std::string(dtype_name(t)) + (pass ? ", refusal cached" : ""));
      const int64_t before = kernels::cudnn_convolutions_run(), choices = kernels::cudnn_graph_choices();
      const std::vector<Tensor> got = forward_backward(c, t, "cuda:0");
      EXPECT_EQ(kernels::cudnn_convolutions_run(), before) << "cuDNN ran a case it cannot describe";
      // Refused before any ranking or plan (Case::output_matches), on both passes.
      EXPECT_EQ(kernels::cudnn_graph_choices(), choices);
      const char* names[] = {"output", "x's gradient", "w's gradient", "b's gradient"};
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], ref[i], tolerance(t), names[i]);
    }
  }
}

// An input that starts inside an allocation (a view at an element offset) after the same case ran aligned:
// the algorithm chosen for aligned buffers is not assumed to take it.
TEST_P(CudnnPaths, UnalignedInputsRunToo) {
  const Conv c = battery()[0];
  for (DType t : {DType::kFloat16, DType::kFloat32}) {
    SCOPED_TRACE(dtype_name(t));
    expect_cudnn_matches(c, t);
    expect_cudnn_matches(c, t, true);
  }
}

// TF32 (torch.backends.cudnn.allow_tf32, on by default): float32 convolutions within TF32's precision of the
// float64 ones, through cuDNN.
TEST_P(CudnnPaths, Tf32ConvolutionsStayWithinTf32Precision) {
  const Conv c = battery()[0];
  const std::vector<Tensor> exact = forward_backward(c, DType::kFloat64, "cuda:0");
  backends::cudnn::FlagsGuard tf32(true, false, false, true);
  const CudnnRuns runs;
  const std::vector<Tensor> got = forward_backward(c, DType::kFloat32, "cuda:0");
  runs.expect(3);
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], exact[i], 5e-3, "tensor " + std::to_string(i));
}

// Benchmark mode (cuDNN times its algorithms) and deterministic mode pick other algorithms: same values.
TEST_P(CudnnPaths, BenchmarkAndDeterministicModesGiveTheSameValues) {
  const std::vector<Conv> cases = battery();
  for (const Conv& c : {cases[0], cases[5], cases[10]}) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> ref;
    {
      backends::cudnn::FlagsGuard off(false, false, false, false);
      ref = forward_backward(c, DType::kFloat64, "cuda:0");
    }
    for (bool deterministic : {false, true}) {
      backends::cudnn::FlagsGuard mode(true, true, deterministic, false);
      const CudnnRuns runs;
      const std::vector<Tensor> got = forward_backward(c, DType::kFloat64, "cuda:0");
      const std::vector<Tensor> again = forward_backward(c, DType::kFloat64, "cuda:0");
      SCOPED_TRACE(deterministic ? "deterministic" : "benchmark");
      runs.expect(6);
      for (size_t i = 0; i < got.size(); ++i) {
        expect_close(got[i], ref[i], 1e-12, "benchmark mode");
        if (deterministic) {
          EXPECT_EQ(got[i].to_vector<double>(), again[i].to_vector<double>())
              << "deterministic mode, tensor " << i;
        }
      }
    }
  }
}

// One training batch norm of x (shape, dtype) on cuda:0, with cuDNN on or off: the output, the saved mean
// and 1 / std, the running statistics after the update, and the gradients of x, weight and bias, in float64
// on the CPU.
std::vector<Tensor> batch_norm_step(const std::vector<int64_t>& shape, DType dtype, bool cudnn_on) {
  backends::cudnn::FlagsGuard flags(cudnn_on, false, false, false);
  manual_seed(3);
  const TensorOptions cpu{DType::kFloat64};
  const int64_t c = shape[1];
  auto on = [&](const Tensor& t) { return t.to(dtype).to("cuda:0"); };
  Tensor x = on(random::randn(shape, cpu).mul(1.7).add(0.4)).requires_grad_();
  Tensor w = on(random::randn({c}, cpu)).requires_grad_(), b = on(random::randn({c}, cpu)).requires_grad_();
  Tensor rm = on(random::randn({c}, cpu)), rv = on(random::rand({c}, cpu).add(0.5));
  std::vector<Tensor> out =
      call_op("native_batch_norm", {x, w, b, rm, rv, Scalar(true), Scalar(0.3), Scalar(1e-5)});
  Tensor g = on(random::randn(shape, cpu));
  std::vector<Tensor> grads = autograd::grad({out[0]}, {x, w, b}, {g});
  out.push_back(rm);
  out.push_back(rv);
  out.insert(out.end(), grads.begin(), grads.end());
  for (Tensor& t : out) t = t.detach().to("cpu").to(DType::kFloat64);
  return out;
}

// cuDNN's batch norm against our fused channel passes (cuDNN off) for 2-d ([N, C], BatchNorm1d's) to 5-d
// inputs: every output, the running statistics' update (the unbiased variance) and the three gradients;
// cuDNN must have run the forward and the backward.
TEST(Cudnn, BatchNormMatchesTheFusedPasses) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  if (!backends::cudnn::is_available()) GTEST_SKIP() << kernels::cudnn_library().reason;
  const char* names[] = {"output",      "saved mean", "saved invstd", "running mean", "running var",
                         "x's gradient", "w's gradient", "b's gradient"};
  for (DType t : {DType::kFloat64, DType::kFloat32}) {
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
             {8, 5}, {4, 3, 7}, {6, 4, 5, 5}, {2, 3, 4, 3, 5}, {64, 16, 8, 8}}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " " + shape_str(shape));
      const std::vector<Tensor> want = batch_norm_step(shape, t, false);
      const int64_t before = kernels::cudnn_batch_norms_run();
      const std::vector<Tensor> got = batch_norm_step(shape, t, true);
      EXPECT_EQ(kernels::cudnn_batch_norms_run() - before, 2) << "cuDNN did not run forward and backward";
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        expect_close(got[i], want[i], t == DType::kFloat64 ? 1e-10 : 1e-4, names[i]);
      }
    }
  }
}

// Cases cuDNN's batch norm does not take run our kernels: no affine parameters, a strided input, float16.
TEST(Cudnn, BatchNormOutsideCudnnsCasesTakesTheFusedPasses) {
  if (!have_gpu()) GTEST_SKIP() << "no GPU";
  if (!backends::cudnn::is_available()) GTEST_SKIP() << kernels::cudnn_library().reason;
  const TensorOptions gpu{DType::kFloat32, Device::parse("cuda:0")};
  Tensor x = random::randn({4, 3, 5, 5}, gpu);
  const int64_t before = kernels::cudnn_batch_norms_run();
  Tensor plain = call_op("native_batch_norm", {x, None{}, None{}, None{}, None{}, Scalar(true), Scalar(0.1),
                                               Scalar(1e-5)})[0];
  Tensor w = ones({3}, gpu), b = zeros({3}, gpu);
  Tensor strided = call_op("native_batch_norm", {x.transpose(2, 3), w, b, None{}, None{}, Scalar(true),
                                                 Scalar(0.1), Scalar(1e-5)})[0];
  Tensor half = call_op("native_batch_norm", {x.to(DType::kFloat16), w.to(DType::kFloat16), b.to(DType::kFloat16),
                                              None{}, None{}, Scalar(true), Scalar(0.1), Scalar(1e-5)})[0];
  EXPECT_EQ(kernels::cudnn_batch_norms_run(), before);
  expect_close(strided.transpose(2, 3).to("cpu"), plain.to("cpu"), 1e-5, "strided input");
  expect_close(half.to(DType::kFloat32).to("cpu"), plain.to("cpu"), 1e-2, "float16 input");
}

}  // namespace
}  // namespace td
