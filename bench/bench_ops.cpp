// Google Benchmark of the core ops on each device present. Compare with PyTorch through
// bench/compare_torch.sh, which runs the same shapes in PyTorch back to back and prints the ratios.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/cudnn.h"
#include "core/fft.h"
#include "core/linalg.h"
#include "core/memory_account.h"
#include "core/nn/attention.h"
#include "core/nn/functional.h"
#include "core/nn/modules.h"
#include "core/nn/normalization.h"
#include "core/nn/rnn.h"
#include "core/optim/optimizers.h"
#include "core/profiler/profiler.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "examples/reference_cnn.h"
#include "kernels/cpu/loops.h"
#include "vision/models.h"

namespace {

td::Device device_of(const benchmark::State& state) {
  return state.range(1) ? td::Device::parse("cuda:0") : td::kCPU;
}

bool skip_missing(benchmark::State& state) {
  if (state.range(1) && !td::backend(td::DeviceType::kCUDA).is_available()) {
    state.SkipWithError("no CUDA device");
    return true;
  }
  return false;
}

void sync(const td::Device& d) { td::backend(d.type).synchronize(d.index); }

// Square float32 matmul, n x n; reports FLOP/s.
void BM_Matmul(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n, n}, {td::DType::kFloat32, d}), b = td::ones({n, n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.matmul(b);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Matmul)->ArgsProduct({{256, 1024, 2048}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Elementwise add of two contiguous float32 vectors; reports bytes/s moved (2 reads + 1 write).
void BM_Add(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n}, {td::DType::kFloat32, d}), b = td::ones({n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.add(b);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * 12);
}
BENCHMARK(BM_Add)->ArgsProduct({{1 << 10, 1 << 20, 1 << 24}, {0, 1}})->UseRealTime();

// A tensor times a number (`x * 0.5`): the number is a 0-dim CPU float64 tensor that the kernel needs as
// float32 on the tensor's device, the per-op cost of every scaled update in a training step.
void BM_MulScalar(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a * 0.5;
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_MulScalar)->ArgsProduct({{1 << 10}, {0, 1}})->UseRealTime();

// The profiler's cost on a small op (CPU add of 1k floats): range(0) = 0 profiler off (the hot path pays one
// relaxed load and a branch), 1 on with default options, 2 on with record_shapes, profile_memory and
// with_flops, 3 a thread-bound profile (a server session's) with this thread bound to it, 4 a thread-bound
// profile recording while this thread is not bound (what the other sessions pay while one profiles).
// Traces restart every 8192 calls, outside the timing, so memory stays bounded.
void BM_AddProfiler(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  td::Tensor a = td::ones({1024}), b = td::ones({1024});
  td::profiler::ProfilerOptions options;
  options.record_shapes = options.profile_memory = options.with_flops = mode == 2;
  options.thread_bound = mode >= 3;
  std::optional<td::profiler::profile> prof;
  std::optional<td::profiler::profile::ThreadBinding> binding;
  auto restart = [&] {
    binding.reset();
    prof.reset();
    prof.emplace(options);
    if (mode == 3) binding.emplace(prof->bind_thread());
  };
  if (mode) restart();
  int64_t calls = 0;
  for (auto _ : state) {
    td::Tensor c = a.add(b);
    benchmark::DoNotOptimize(c.data_ptr());
    if (mode && ++calls % 8192 == 0) {
      state.PauseTiming();
      restart();
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_AddProfiler)->DenseRange(0, 4)->UseRealTime();

// A server session's memory account on the same small op: range(0) = 1 charges each output's allocation and
// release to a MemoryAccount (two relaxed atomic adds, a CAS for the peak and a shared_ptr copy), 0 does not.
void BM_AddCharged(benchmark::State& state) {
  td::Tensor a = td::ones({1024}), b = td::ones({1024});
  std::optional<td::MemoryAccount::Scope> scope;
  if (state.range(0)) scope.emplace(std::make_shared<td::MemoryAccount>());
  for (auto _ : state) {
    td::Tensor c = a.add(b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(BM_AddCharged)->Arg(0)->Arg(1)->UseRealTime();

// Full sum of a float32 vector; reports bytes/s read.
void BM_Sum(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor s = a.sum();
    sync(d);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
}
BENCHMARK(BM_Sum)->ArgsProduct({{1 << 20, 1 << 24}, {0, 1}})->UseRealTime();

// A transcendental elementwise op on a contiguous float32 vector; reports bytes/s (1 read + 1 write).
// Random draws: 16M float32 uniforms (one Philox block per four) and normals (one per element); bytes are
// what is written.
void BM_Rand(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  for (auto _ : state) {
    td::Tensor r = td::random::rand({n}, {td::DType::kFloat32, d});
    sync(d);
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
}
BENCHMARK(BM_Rand)->ArgsProduct({{1 << 24}, {0, 1}})->UseRealTime();
void BM_Randn(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  for (auto _ : state) {
    td::Tensor r = td::random::randn({n}, {td::DType::kFloat32, d});
    sync(d);
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * 4);
}
BENCHMARK(BM_Randn)->ArgsProduct({{1 << 24}, {0, 1}})->UseRealTime();

// Row scans and arg reductions of [64, n] float32 along the rows (CUDA: a block per row).
void BM_Cumsum(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({64, n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.cumsum(1);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 64 * n * 8);
}
BENCHMARK(BM_Cumsum)->ArgsProduct({{1 << 16}, {0, 1}})->UseRealTime();
void BM_Argmax(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({64, n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.argmax(1);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 64 * n * 4);
}
BENCHMARK(BM_Argmax)->ArgsProduct({{1 << 16}, {0, 1}})->UseRealTime();

void BM_Exp(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.exp();
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * 8);
}
BENCHMARK(BM_Exp)->ArgsProduct({{1 << 20}, {0, 1}})->UseRealTime();

// Row softmax of a rows x 1024 float32 matrix (one fused kernel: max, exp-sum and normalise per row).
void BM_Softmax(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t rows = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({rows, 1024}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.softmax(1);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * rows * 1024 * 8);
}
BENCHMARK(BM_Softmax)->ArgsProduct({{1024}, {0, 1}})->UseRealTime();

// log_softmax along the rows, and softmax along dim 0 (the dim that is not innermost), of rows x 1024 floats.
void BM_LogSoftmax(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t rows = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({rows, 1024}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.log_softmax(1);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * rows * 1024 * 8);
}
BENCHMARK(BM_LogSoftmax)->ArgsProduct({{1024}, {0, 1}})->UseRealTime();

void BM_SoftmaxDim0(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t rows = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({rows, 1024}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.softmax(0);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * rows * 1024 * 8);
}
BENCHMARK(BM_SoftmaxDim0)->ArgsProduct({{1024}, {0, 1}})->UseRealTime();

// Materialising a transpose: a strided read and a contiguous write of n x n float32.
void BM_TransposeCopy(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({n, n}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor c = a.t().contiguous();
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * n * 8);
}
BENCHMARK(BM_TransposeCopy)->ArgsProduct({{2048}, {0, 1}})->UseRealTime();

// The autograd overhead of a small graph: forward + backward of sum((a @ b) * a).
void BM_SmallBackward(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::Tensor a = td::ones({16, 16}, {td::DType::kFloat32, d, true});
  for (auto _ : state) {
    a.matmul(a).mul(a).sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_SmallBackward)->ArgsProduct({{16}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// 20 x (Linear(width, width) + ReLU), seeded, on d: the MLP of BM_MlpBackward and BM_MlpJvp.
std::shared_ptr<td::nn::Sequential> mlp20(int64_t width, td::Device d) {
  td::manual_seed(0);
  auto model = std::make_shared<td::nn::Sequential>();
  for (int i = 0; i < 20; ++i) {
    model->push_back(std::make_shared<td::nn::Linear>(width, width));
    model->push_back(std::make_shared<td::nn::ReLU>());
  }
  model->to(d);
  return model;
}

// Training-step autograd cost of an MLP: 20 x (Linear(256, 256) + ReLU) on a batch of 64, forward and
// backward with set-to-none zero_grad, as `model.zero_grad(); model(x).sum().backward()` in PyTorch.
void BM_MlpBackward(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  const int64_t width = state.range(0);
  auto model = mlp20(width, d);
  td::Tensor x = td::ones({64, width}, {td::DType::kFloat32, d});
  for (auto _ : state) {
    model->zero_grad();
    (*model)(x).sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_MlpBackward)->ArgsProduct({{256}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Forward-mode AD through the same 20-layer MLP: the Jacobian-vector product for one input tangent, as
// `with fwAD.dual_level(): model(fwAD.make_dual(x, t))` in PyTorch (bench/compare_torch.py runs it).
void BM_MlpJvp(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  const int64_t width = state.range(0);
  auto model = mlp20(width, d);
  td::Tensor x = td::ones({64, width}, {td::DType::kFloat32, d});
  td::Tensor t = td::full({64, width}, 0.5, {td::DType::kFloat32, d});
  td::autograd::NoGradGuard no_grad;  // only the forward mode: nothing records for backward
  for (auto _ : state) {
    td::autograd::forward_ad::DualLevel level;
    td::Tensor jvp = td::autograd::forward_ad::unpack_dual((*model)(td::autograd::forward_ad::make_dual(x, t))).tangent;
    benchmark::DoNotOptimize(jvp);
    sync(d);
  }
}
BENCHMARK(BM_MlpJvp)->ArgsProduct({{256}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// One optimizer step over the 8 parameters of the MNIST CNN of PyTorch's examples (conv 1->32, conv 32->64,
// fc 9216->128, fc 128->10; 1.2M floats) with fixed gradients: SGD with momentum (first argument 0) or Adam
// (1), as `opt.step()` with foreach=False in PyTorch (bench/compare_torch.py runs the same).
void BM_OptimizerStep(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  std::vector<td::Tensor> params;
  for (std::vector<int64_t> shape : std::vector<std::vector<int64_t>>{
           {32, 1, 3, 3}, {32}, {64, 32, 3, 3}, {64}, {128, 9216}, {128}, {10, 128}, {10}}) {
    td::Tensor p = td::ones(shape, {td::DType::kFloat32, d, true});
    p.set_grad(td::full(shape, 0.01, {td::DType::kFloat32, d}));
    params.push_back(p);
  }
  std::unique_ptr<td::optim::Optimizer> opt;
  if (state.range(0) == 0) {
    opt = std::make_unique<td::optim::SGD>(params, td::optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  } else {
    opt = std::make_unique<td::optim::Adam>(params);
  }
  for (auto _ : state) {
    opt->step();
    sync(d);
  }
}
BENCHMARK(BM_OptimizerStep)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// The engine's cost per node: forward and backward of a chain of 100 multiplications of a one-element
// tensor (the arithmetic is negligible, so this is recording plus running 100 nodes).
void BM_EngineChain(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  const int64_t n = state.range(0);
  td::Tensor x = td::ones({1}, {td::DType::kFloat32, d, true});
  for (auto _ : state) {
    td::Tensor y = x;
    for (int64_t i = 0; i < n; ++i) y = y.mul(1.0001);
    y.sum().backward();
    sync(d);
  }
  state.counters["per_node"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_EngineChain)->ArgsProduct({{100}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// 2^22 pseudo-random float32 values with few repeats, the same as compare_torch.py makes.
td::Tensor scrambled(int64_t rows, int64_t n, const td::Device& d) {
  std::vector<float> v(static_cast<size_t>(rows * n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 2654435761ULL) % 1000003ULL);
  return td::tensor(v, {rows, n}, d);
}

// Sort along the last dim of 2^22 float32 values in rows of n (one long row to many short ones); reports
// elements/s.
void BM_Sort(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled((int64_t{1} << 22) / n, n, d);
  for (auto _ : state) {
    auto [values, indices] = a.sort();
    sync(d);
    benchmark::DoNotOptimize(values.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Sort)->ArgsProduct({{16, 4096, 1 << 22}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The k largest of each row of a 1024 x 4096 float32 matrix (on the sort, so nearly independent of k).
void BM_Topk(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t k = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled(1024, 4096, d);
  for (auto _ : state) {
    auto [values, indices] = a.topk(k);
    sync(d);
    benchmark::DoNotOptimize(values.data_ptr());
  }
}
BENCHMARK(BM_Topk)->ArgsProduct({{16}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// rfft of each row of a [2^20 / n, n] float32 matrix (n / 2 + 1 complex64 frequencies per row).
void BM_Rfft(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled((int64_t{1} << 20) / n, n, d);
  for (auto _ : state) {
    td::Tensor y = td::fft::rfft(a);
    sync(d);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Rfft)->ArgsProduct({{256, 4096}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// fft2 of 16 complex64 images of n x n (the real parts scrambled, the imaginary parts 0).
void BM_Fft2(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled(16 * n, n, d).reshape({16, n, n}).to(td::DType::kComplex64);
  for (auto _ : state) {
    td::Tensor y = td::fft::fft2(a);
    sync(d);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Fft2)->ArgsProduct({{256}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// torch.linalg.solve of 64 batched n x n float32 systems (A made diagonally dominant), one right-hand side each.
void BM_LinalgSolve(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled(64 * n, n, d).div(1000003.0).reshape({64, n, n});
  a = a.add(td::call_op("eye", {td::Scalar(n), td::None{}, td::DType::kFloat32, d.str()})[0].mul(td::Scalar(n)));
  td::Tensor b = scrambled(64, n, d).div(1000003.0);
  for (auto _ : state) {
    td::Tensor x = td::linalg::solve(a, b);
    sync(d);
    benchmark::DoNotOptimize(x.data_ptr());
  }
}
BENCHMARK(BM_LinalgSolve)->ArgsProduct({{64}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// torch.linalg.svd (reduced) of an n x n float32 matrix.
void BM_Svd(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled(n, n, d).div(1000003.0);
  for (auto _ : state) {
    auto [u, s, vh] = td::linalg::svd(a, false);
    sync(d);
    benchmark::DoNotOptimize(s.data_ptr());
  }
}
BENCHMARK(BM_Svd)->ArgsProduct({{256}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Rows of a [2^16, 64] float32 matrix picked by 2^16 pseudo-random indices (embedding lookups).
void BM_IndexSelect(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t rows = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = td::ones({rows, 64}, {td::DType::kFloat32, d});
  td::Tensor idx = scrambled(1, rows, td::kCPU).to(td::DType::kInt64).remainder(rows).reshape({rows}).to(d.str());
  for (auto _ : state) {
    td::Tensor c = a.index_select(0, idx);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * rows * 64 * 8);
}
BENCHMARK(BM_IndexSelect)->ArgsProduct({{1 << 16}, {0, 1}})->UseRealTime();

// gather along dim 1 of a 1024 x 1024 float32 matrix with a pseudo-random index of the same shape.
void BM_Gather(benchmark::State& state) {
  if (skip_missing(state)) return;
  const int64_t n = state.range(0);
  td::Device d = device_of(state);
  td::Tensor a = scrambled(n, n, d);
  td::Tensor idx = scrambled(n, n, td::kCPU).to(td::DType::kInt64).remainder(n).to(d.str());
  for (auto _ : state) {
    td::Tensor c = a.gather(1, idx);
    sync(d);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * n * n * 16);
}
BENCHMARK(BM_Gather)->ArgsProduct({{1024}, {0, 1}})->UseRealTime();

// The reference CNN's convolutions at batch 64 (seed-notes.txt): 3x3, stride 1, padding 1, with bias; the
// first argument is the input channels: 1 -> 32 on 28x28, or 32 -> 128 on 14x14. Inputs hold
// scrambled() values scaled to [0, 1); reports FLOP/s of the forward (2 per multiply-add).
struct ConvLayer {
  td::Tensor x, w, b;
  int64_t flops;
};
ConvLayer conv_layer(int64_t cin, const td::Device& d, bool grad) {
  const int64_t cout = cin == 1 ? 32 : 128, hw = cin == 1 ? 28 : 14;
  ConvLayer l;
  l.x = scrambled(64 * cin, hw * hw, d).div(1000003.0f).view({64, cin, hw, hw});
  l.w = scrambled(cout, cin * 9, d).div(1000003.0f * 3).view({cout, cin, 3, 3});
  l.b = scrambled(1, cout, d).div(1000003.0f).view({cout});
  if (grad) {
    l.x.requires_grad_();
    l.w.requires_grad_();
    l.b.requires_grad_();
  }
  l.flops = 2 * 64 * cout * hw * hw * cin * 9;
  return l;
}
td::Tensor conv_call(const ConvLayer& l) {
  return td::call_op("conv2d", {l.x, l.w, l.b, td::Scalar(1), td::Scalar(1)})[0];
}

void BM_Conv2d(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  ConvLayer l = conv_layer(state.range(0), d, false);
  for (auto _ : state) {
    td::Tensor y = conv_call(l);
    sync(d);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(l.flops), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Conv2d)->ArgsProduct({{1, 32}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward and backward of the same layers: gradients of input, weight and bias for loss = sum(y * g), g the
// gradient fed in (as a module in a network receives it).
void BM_Conv2dBackward(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  ConvLayer l = conv_layer(state.range(0), d, true);
  for (auto _ : state) {
    td::Tensor y = conv_call(l);
    y.backward(td::ones(y.shape(), {td::DType::kFloat32, d}));
    sync(d);
    l.x.set_grad(td::Tensor());
    l.w.set_grad(td::Tensor());
    l.b.set_grad(td::Tensor());
  }
}
BENCHMARK(BM_Conv2dBackward)->ArgsProduct({{1, 32}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// MaxPool2d(2) of the reference CNN's activations: [64, C, S, S] float32 with (C, S) = (32, 28) or (128, 14)
// (range 0 is C), forward only (no gradient needed, so no indices) and forward + backward.
td::Tensor pool_input(const benchmark::State& state, td::Device d) {
  const int64_t c = state.range(0), s = c == 32 ? 28 : 14;
  return scrambled(64 * c, s * s, d).view({64, c, s, s});
}

void BM_MaxPool2d(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::Tensor x = pool_input(state, d);
  for (auto _ : state) {
    td::Tensor y = td::nn::functional::max_pool2d(x, 2);
    sync(d);
    benchmark::DoNotOptimize(y.data_ptr());
  }
}
BENCHMARK(BM_MaxPool2d)->ArgsProduct({{32, 128}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// resnet's stem pooling, MaxPool2d(3, 2, 1), with its indices (what training computes) on resnet18's
// [64, 64, 16, 16] at 32x32 input: small planes, a padded border, overlapping windows.
void BM_MaxPool2dStem(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::Tensor x = scrambled(64 * 64, 16 * 16, d).view({64, 64, 16, 16});
  for (auto _ : state) {
    auto [y, indices] = td::nn::functional::max_pool2d_with_indices(x, 3, 2, 1);
    sync(d);
    benchmark::DoNotOptimize(indices.data_ptr());
  }
}
BENCHMARK(BM_MaxPool2dStem)->ArgsProduct({{64}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_MaxPool2dBackward(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::Tensor x = pool_input(state, d).requires_grad_();
  td::Tensor g = td::ones(td::nn::functional::max_pool2d(x.detach(), 2).shape(), {td::DType::kFloat32, d});
  for (auto _ : state) {
    td::Tensor y = td::nn::functional::max_pool2d(x, 2);
    y.backward(g);
    sync(d);
    benchmark::DoNotOptimize(x.grad().data_ptr());
    x.set_grad(td::Tensor());
  }
}
BENCHMARK(BM_MaxPool2dBackward)->ArgsProduct({{32, 128}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// The reference CNN's loss: cross_entropy of [64, 10] logits against int64 class indices, forward and backward
// (range 0 is the batch), as `F.cross_entropy(x, t).backward(); x.grad = None` in PyTorch.
void BM_CrossEntropy(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  const int64_t n = state.range(0);
  td::Tensor x = scrambled(n, 10, d).div(1000003.0f).requires_grad_();
  td::Tensor t = scrambled(1, n, td::kCPU).to(td::DType::kInt64).remainder(10).view({n}).to(d.str());
  for (auto _ : state) {
    td::nn::functional::cross_entropy(x, t).backward();
    sync(d);
    benchmark::DoNotOptimize(x.grad().data_ptr());
    x.set_grad(td::Tensor());
  }
}
BENCHMARK(BM_CrossEntropy)->ArgsProduct({{64}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// BatchNorm2d in training as in a ResNet block: [64, 64, 32, 32] float32 (range 0 is the channels), forward and
// backward (gradients of input, weight and bias for loss = sum(y * g)) with the running statistics updated, as
// `bn(x).backward(g); x.grad = bn.weight.grad = bn.bias.grad = None` in PyTorch.
void BM_BatchNorm2d(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  const int64_t c = state.range(0);
  td::nn::BatchNorm2d bn(c);
  bn.to(d);
  td::Tensor x = scrambled(64 * c, 32 * 32, d).div(1000003.0f).view({64, c, 32, 32}).requires_grad_();
  td::Tensor g = td::ones(x.shape(), {td::DType::kFloat32, d});
  for (auto _ : state) {
    bn(x).backward(g);
    sync(d);
    benchmark::DoNotOptimize(x.grad().data_ptr());
    x.set_grad(td::Tensor());
    bn.weight.set_grad(td::Tensor());
    bn.bias.set_grad(td::Tensor());
  }
}
BENCHMARK(BM_BatchNorm2d)->ArgsProduct({{64}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The machine's memory bandwidth, STREAM's triad a = b + 3c on 2^24 floats over preallocated host arrays,
// with the same OpenMP threads as the kernels: the ceiling for large elementwise ops on the CPU.
// One training step of the users' reference CNN (examples/reference_cnn.h) at batch 64 on 28x28 inputs:
// zero_grad, forward, cross-entropy, backward, SGD(lr 0.05, momentum 0.9) step. The seed-notes recipe.
void BM_CnnStep(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto model = std::make_shared<td::examples::CNN>(10, 1, 28, 28);
  model->to(d);
  td::optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
  td::Tensor x = td::random::randn({64, 1, 28, 28}).to(d.str());
  td::Tensor y = td::random::randint(0, 10, {64}).to(d.str());
  for (auto _ : state) {
    opt.zero_grad(true);
    td::Tensor loss = td::nn::functional::cross_entropy((*model)(x), y);
    loss.backward();
    opt.step();
    sync(d);
  }
}
BENCHMARK(BM_CnnStep)->ArgsProduct({{64}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// One training step of torchvision's resnet18 (vision/models.h, 10 classes) at batch `size` on 32x32 inputs
// (CIFAR-sized): zero_grad, forward in training mode, cross-entropy, backward, SGD(lr 0.1, momentum 0.9) step.
void BM_Resnet18Step(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto model = td::vision::models::resnet18(10);
  model->to(d);
  td::optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  td::Tensor x = td::random::randn({state.range(0), 3, 32, 32}).to(d.str());
  td::Tensor y = td::random::randint(0, 10, {state.range(0)}).to(d.str());
  for (auto _ : state) {
    opt.zero_grad(true);
    td::Tensor loss = td::nn::functional::cross_entropy((*model)(x), y);
    loss.backward();
    opt.step();
    sync(d);
  }
}
BENCHMARK(BM_Resnet18Step)->ArgsProduct({{2, 64}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward and backward of LSTM(128, 256, num_layers=2) over 50 steps at batch `size` (float32): the input
// projections as one GEMM per layer, then one addmm and the gate ops per step, and their backward.
void BM_LstmStep(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto lstm = std::make_shared<td::nn::LSTM>(128, 256, td::nn::RNNOptions{.num_layers = 2});
  lstm->to(d);
  td::Tensor x = td::random::randn({50, state.range(0), 128}).to(d.str());
  for (auto _ : state) {
    lstm->zero_grad(true);
    (*lstm)(x).output.sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_LstmStep)->ArgsProduct({{32}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward and backward of GRU(128, 256, num_layers=2) over 50 steps at batch `size` (float32), as
// BM_LstmStep.
void BM_GruStep(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto gru = std::make_shared<td::nn::GRU>(128, 256, td::nn::RNNOptions{.num_layers = 2});
  gru->to(d);
  td::Tensor x = td::random::randn({50, state.range(0), 128}).to(d.str());
  for (auto _ : state) {
    gru->zero_grad(true);
    (*gru)(x).output.sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_GruStep)->ArgsProduct({{32}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// BM_LstmStep over a packed batch: sequences of 50, 49, ..., 19 steps (batch 32, longest first), packed with
// pack_padded_sequence, bidirectional (a reverse run has sequences starting midway), forward and backward.
void BM_LstmPacked(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto lstm = std::make_shared<td::nn::LSTM>(128, 256, td::nn::RNNOptions{.bidirectional = true});
  lstm->to(d);
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < state.range(0); ++b) lengths.push_back(50 - b);
  const td::Tensor x = td::random::randn({50, state.range(0), 128}).to(d.str());
  const auto packed = td::nn::utils::rnn::pack_padded_sequence(x, lengths);
  for (auto _ : state) {
    lstm->zero_grad(true);
    (*lstm)(packed).output.data.sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_LstmPacked)->ArgsProduct({{32}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Forward and backward of TransformerEncoderLayer(d_model 256, 8 heads, feed-forward 1024, dropout 0.1,
// training) on [64, batch, 256] float32 (sequence first).
void BM_TransformerStep(benchmark::State& state) {
  if (skip_missing(state)) return;
  td::Device d = device_of(state);
  td::manual_seed(0);
  auto layer = std::make_shared<td::nn::TransformerEncoderLayer>(
      256, 8, td::nn::TransformerEncoderLayerOptions{.dim_feedforward = 1024});
  layer->to(d);
  const td::Tensor x = td::random::randn({64, state.range(0), 256}).to(d.str());
  for (auto _ : state) {
    layer->zero_grad(true);
    (*layer)(x).sum().backward();
    sync(d);
  }
}
BENCHMARK(BM_TransformerStep)->ArgsProduct({{16}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Triad(benchmark::State& state) {
  if (state.range(1)) {
    state.SkipWithError("CPU only");
    return;
  }
  const int64_t n = state.range(0);
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n), 1.0f), c(static_cast<size_t>(n), 2.0f);
  float* pa = a.data();
  const float *pb = b.data(), *pc = c.data();
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 3.0f * pc[i];
    benchmark::DoNotOptimize(pa);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 12);
}
BENCHMARK(BM_Triad)->ArgsProduct({{1 << 24}, {0}})->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // Which GEMM kernels ran, in the context block of every report (compare_torch.py prints it).
  benchmark::AddCustomContext("cpu_gemm", td::kernels::cpu_gemm_library());
  // TD_CUDNN_BENCHMARK=1: torch.backends.cudnn.benchmark = True (compare_torch.py --cudnn-benchmark sets both).
  if (const char* b = std::getenv("TD_CUDNN_BENCHMARK"); b && std::string_view(b) == "1") {
    td::backends::cudnn::set_benchmark(true);
  }
  benchmark::AddCustomContext("cudnn_benchmark", td::backends::cudnn::benchmark() ? "on" : "off");
  // TD_CUDNN_GRAPH_API=1 (read at start by core/cudnn.h): convolutions through cuDNN's graph API.
  benchmark::AddCustomContext("cudnn_graph_api", td::backends::cudnn::graph_api() ? "on" : "off");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
