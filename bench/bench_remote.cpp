// End-to-end service benchmarks, each printed side by side with its in-process twin as a ratio (issue 6):
//   (a) pipelined small ops: c = a + b on 1k floats, ops/s over the stream vs in-process;
//   (b) a sync round trip: item() of a 1-element tensor, p50/p90 latency;
//   (d) one SGD step of the seed-notes CNN at batch 64 (no hooks), remote vs in-process.
// The server runs in this process on a loopback port (its executor threads are its own), as tensord does.
//   bench_remote [--ops N] [--steps N] [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "client/remote.h"
#include "client/remote_nn.h"
#include "core/nn/functional.h"
#include "core/optim/optimizers.h"
#include "core/random/generator.h"
#include "core/threads.h"
#include "examples/reference_cnn.h"
#include "examples/remote_cnn.h"
#include "server/server.h"

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

td::remote::Tensor upload(td::remote::Session& s, const td::Tensor& t) {
  td::Tensor c = t.contiguous();
  return s.from_bytes(c.data_ptr(), static_cast<size_t>(c.nbytes()), c.dtype(), c.shape(), false);
}
}  // namespace

int main(int argc, char** argv) {
  int64_t ops = 200000, steps = 30;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--ops") ops = std::stoll(argv[i + 1]);
    if (a == "--steps") steps = std::stoll(argv[i + 1]);
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
  }
  td::set_num_threads(threads);
  td::server::Options options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "";
  options.threads = 2;
  td::server::Server server(options);
  td::remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  td::remote::Session s = client.create_session("bench", "cpu");
  std::printf("%-44s %14s %14s %8s\n", "benchmark", "remote", "in-process", "ratio");

  // (a) pipelined a + b on 1k floats; results released as they go (the handles' last copies die).
  {
    std::vector<float> v(1024, 1.0f);
    td::remote::Tensor ra = s.tensor<float>(v, {1024}), rb = s.tensor<float>(v, {1024});
    s.sync();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < ops; ++i) td::remote::Tensor c = ra.add(rb);
    s.sync();
    const double remote = static_cast<double>(ops) / seconds(t0, Clock::now());
    td::Tensor a = td::ones({1024}), b = td::ones({1024});
    t0 = Clock::now();
    for (int64_t i = 0; i < ops; ++i) td::Tensor c = a.add(b);
    const double local = static_cast<double>(ops) / seconds(t0, Clock::now());
    std::printf("%-44s %10.0f/s %10.0f/s %8.2f\n", "(a) pipelined a+b, 1k floats (ops/s)", remote, local, local / remote);
  }
  // (b) item() round trips.
  {
    td::remote::Tensor x = s.tensor<float>({1.5f}, {1});
    std::vector<double> lat;
    for (int i = 0; i < 2000; ++i) {
      auto t0 = Clock::now();
      (void)x.item<double>();
      lat.push_back(seconds(t0, Clock::now()) * 1e6);
    }
    std::sort(lat.begin(), lat.end());
    std::printf("%-44s %9.1f us %14s %8s\n", "(b) item() round trip, p50", lat[lat.size() / 2], "-", "-");
    std::printf("%-44s %9.1f us %14s %8s\n", "(b) item() round trip, p90", lat[lat.size() * 9 / 10], "-", "-");
  }
  // (d) the CNN's SGD step at batch 64, without hooks; loss read back every step (a sync point).
  {
    td::manual_seed(0);
    auto local = std::make_shared<td::examples::CNN>(10, 1, 28, 28);
    td::optim::SGD local_opt(local->parameters(), {.lr = 0.05, .momentum = 0.9});
    td::examples::RemoteCNN model(s, 10, 1, 28, 28);
    model.alarm = false;
    auto loss_fn = td::remote::nn::layer(s, "CrossEntropyLoss");
    td::remote::optim::Optimizer opt(s, "SGD", model.parameters(), {{"lr", td::Scalar(0.05)}, {"momentum", td::Scalar(0.9)}});
    td::Tensor x = td::random::randn({64, 1, 28, 28}), y = td::random::randint(0, 10, {64});
    auto remote_step = [&] {
      opt.zero_grad(true);
      td::remote::Tensor loss = loss_fn->call({model(upload(s, x)), upload(s, y)})[0];
      loss.backward();
      opt.step();
      (void)loss.item<double>();
    };
    auto local_step = [&] {
      local_opt.zero_grad(true);
      td::Tensor loss = td::nn::functional::cross_entropy((*local)(x), y);
      loss.backward();
      local_opt.step();
      (void)loss.item<double>();
    };
    remote_step();
    local_step();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < steps; ++i) remote_step();
    const double remote = seconds(t0, Clock::now()) / static_cast<double>(steps);
    t0 = Clock::now();
    for (int64_t i = 0; i < steps; ++i) local_step();
    const double in_process = seconds(t0, Clock::now()) / static_cast<double>(steps);
    std::printf("%-44s %11.2f ms %11.2f ms %8.2f\n", "(d) CNN SGD step, batch 64 (uploads included)", remote * 1e3,
                in_process * 1e3, remote / in_process);
  }
  s.close();
  return 0;
}
