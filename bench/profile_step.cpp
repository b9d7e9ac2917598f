// Where one training step's time goes: the benchmarks' steps (BM_CnnStep, BM_Resnet18Step,
// BM_TransformerStep) timed by phase (forward with the loss, backward, optimizer step) and then recorded by
// td::profiler, whose key_averages table (PyTorch's format) lists the ops by self time. For choosing what to
// speed up next; docs/performance.md quotes its findings. On cuda, the profile also times the ops with CUDA
// events (ProfilerActivity::kCUDA) and the table is sorted by self CUDA time.
//
//   profile_step [--model cnn|resnet18|transformer] [--threads 2] [--steps 20] [--rows 25] [--device
//   cpu|cuda]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "core/cuda.h"
#include "core/cudnn.h"
#include "core/nn/attention.h"
#include "core/nn/functional.h"
#include "core/optim/optimizers.h"
#include "core/profiler/profiler.h"
#include "core/random/generator.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "examples/reference_cnn.h"
#include "vision/models.h"

int main(int argc, char** argv) {
  std::string model_name = "resnet18";
  int threads = 2, steps = 20, rows = 25;
  std::string device = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") {
      model_name = v;
    } else if (a == "--threads") {
      threads = std::stoi(v);
    } else if (a == "--steps") {
      steps = std::stoi(v);
    } else if (a == "--rows") {
      rows = std::stoi(v);
    } else if (a == "--device") {
      device = v;
    } else {
      std::fprintf(
          stderr,
          "usage: profile_step [--model cnn|resnet18|transformer] [--threads N] [--steps N] [--rows N] "
          "[--device D]\n");
      return 2;
    }
  }
  td::set_num_threads(threads);
  td::manual_seed(0);
  // The benchmarks' recipes: the seed-notes CNN on 1x28x28 with lr 0.05, resnet18 on 3x32x32 with lr 0.1, a
  // TransformerEncoderLayer(256, 8, 1024) on [64, 16, 256] (the loss: the output's sum) with lr 0.1.
  const bool cnn = model_name == "cnn", transformer = model_name == "transformer";
  std::shared_ptr<td::nn::Module> model;
  if (cnn) {
    model = std::make_shared<td::examples::CNN>(10, 1, 28, 28);
  } else if (transformer) {
    model = std::make_shared<td::nn::TransformerEncoderLayer>(
        256, 8, td::nn::TransformerEncoderLayerOptions{.dim_feedforward = 1024});
  } else {
    model = td::vision::models::resnet18(10);
  }
  const bool on_cuda = device != "cpu";
  if (on_cuda && !td::cuda::is_available()) {
    std::fprintf(stderr, "profile_step: --device %s needs a CUDA device, and none is available\n", device.c_str());
    return 2;
  }
  if (on_cuda) model->to(td::Device::parse(device));
  td::optim::SGD opt(model->parameters(), {.lr = cnn ? 0.05 : 0.1, .momentum = 0.9});
  td::Tensor x = td::random::randn(cnn           ? std::vector<int64_t>{64, 1, 28, 28}
                                   : transformer ? std::vector<int64_t>{64, 16, 256}
                                                 : std::vector<int64_t>{64, 3, 32, 32})
                     .to(device);
  td::Tensor y = td::random::randint(0, 10, {64}).to(device);
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  double forward = 0, backward = 0, update = 0;
  auto step = [&](bool timed) {
    const auto t0 = Clock::now();
    opt.zero_grad(true);
    td::Tensor loss = transformer ? (*model)(x).sum() : td::nn::functional::cross_entropy((*model)(x), y);
    const auto t1 = Clock::now();
    loss.backward();
    const auto t2 = Clock::now();
    opt.step();
    if (on_cuda) td::cuda::synchronize();  // the phases' times include their kernels
    const auto t3 = Clock::now();
    if (timed) {
      forward += ms(t0, t1);
      backward += ms(t1, t2);
      update += ms(t2, t3);
    }
  };
  // The caching allocator's counters from the end of step 2: in a steady state every request is served from
  // its cache (no new device allocation) and the reserved memory stays put.
  for (int i = 0; i < 2; ++i) step(false);
  const td::MemoryStats warm = on_cuda ? td::cuda::memory_stats() : td::MemoryStats{};
  for (int i = 0; i < 3; ++i) step(false);
  for (int i = 0; i < steps; ++i) step(true);
  if (on_cuda) {
    const td::MemoryStats now = td::cuda::memory_stats();
    const auto misses = [](const td::MemoryStats& m) { return m.alloc_requests - m.cache_hits; };
    std::printf("caching allocator over steps 3-%d: %lld requests, %lld new device allocations; reserved %.1f MiB "
                "after step 2, %.1f MiB now\n",
                steps + 5, static_cast<long long>(now.alloc_requests - warm.alloc_requests),
                static_cast<long long>(misses(now) - misses(warm)), static_cast<double>(warm.reserved) / (1 << 20),
                static_cast<double>(now.reserved) / (1 << 20));
  }
  std::printf(
      "%s on %s, batch %lld, %d threads, mean of %d steps: forward + loss %.2f ms, backward %.2f ms, "
      "optimizer %.2f ms, step %.2f ms%s\n",
      model_name.c_str(), device.c_str(), static_cast<long long>(transformer ? x.size(1) : x.size(0)),
      threads, steps, forward / steps, backward / steps, update / steps,
      (forward + backward + update) / steps,
      on_cuda ? " (host times; each step ends waiting for the device, in the optimizer's share)" : "");
  if (on_cuda) {
    std::printf("cuDNN %d, convolutions through its %s API\n", td::backends::cudnn::version(),
                td::backends::cudnn::graph_api() ? "graph" : "legacy");
  }
  td::profiler::ProfilerOptions options;
  if (on_cuda) options.activities.push_back(td::profiler::ProfilerActivity::kCUDA);
  td::profiler::profile prof(options);
  for (int i = 0; i < 10; ++i) step(false);
  prof.stop();
  std::cout << "10 steps under the profiler:\n"
            << prof.key_averages().table(on_cuda ? "self_cuda_time_total" : "self_cpu_time_total", rows);
}
