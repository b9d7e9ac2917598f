// End-to-end service benchmarks, each printed side by side with a baseline run in the same process, back to
// back, and their ratio (issue 6):
//   (a) pipelined small ops: c = a + b on 1k floats, ops/s over the stream vs in-process and vs PyTorch eager
//       (python3 with torch, when present, on the same thread count);
//   (b) a sync round trip: item() of a 1-element tensor vs a bare gRPC ping-pong on a bidirectional stream,
//       p50/p90 latency;
//   (c) upload and download of --mib MiB vs bare chunked gRPC streaming (1 MiB messages), GB/s;
//   (d) one SGD step of the seed-notes CNN at batch 64 (no hooks), remote vs in-process.
// BENCH_REMOTE_ONLY=1 runs (a)'s remote side alone and stops (for a profiler).
// The servers run in this process on loopback ports (their threads are their own), as tensord does.
//   bench_remote [--ops N] [--steps N] [--threads N] [--mib N] [--only abcd] (--only: the cases to run)
#include <grpcpp/grpcpp.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
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
#include "baseline.grpc.pb.h"

namespace {
namespace bench = ::tensord::bench;
using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Bare gRPC with nothing behind it (bench/baseline.proto).
class BaselineService final : public bench::Baseline::Service {
 public:
  grpc::Status PingPong(grpc::ServerContext*, grpc::ServerReaderWriter<bench::Blob, bench::Blob>* stream) override {
    bench::Blob b;
    while (stream->Read(&b)) stream->Write(b);
    return grpc::Status::OK;
  }
  // Keeps what arrives, as any server must (and as the bare download's client does): into one buffer of
  // the announced size, allocated at the first chunk.
  grpc::Status Upload(grpc::ServerContext* ctx, grpc::ServerReader<bench::Blob>* reader, bench::Size* out) override {
    const auto& md = ctx->client_metadata();
    auto it = md.find("bytes");
    const size_t total = it == md.end() ? 0 : std::stoull(std::string(it->second.data(), it->second.size()));
    std::vector<char> kept(total);
    bench::Blob b;
    size_t n = 0;
    while (reader->Read(&b)) {
      if (n + b.data().size() <= kept.size()) std::memcpy(kept.data() + n, b.data().data(), b.data().size());
      n += b.data().size();
    }
    out->set_bytes(static_cast<int64_t>(n));
    return grpc::Status::OK;
  }
  grpc::Status Download(grpc::ServerContext*, const bench::Size* req, grpc::ServerWriter<bench::Blob>* writer) override {
    bench::Blob b;
    for (int64_t left = req->bytes(); left > 0; left -= kChunk) {
      b.mutable_data()->assign(static_cast<size_t>(std::min(left, kChunk)), 'x');
      writer->Write(b);
    }
    return grpc::Status::OK;
  }
  static constexpr int64_t kChunk = int64_t{1} << 20;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// PyTorch eager's ops/s for the same a + b (Debian's python3-torch), or 0 without it.
double torch_ops_per_second(int64_t ops, int threads) {
  const std::string cmd = "OMP_NUM_THREADS=" + std::to_string(threads) + " OPENBLAS_NUM_THREADS=" +
                          std::to_string(threads) +
                          " /usr/bin/python3 -c 'import time, torch\n"
                          "a = torch.ones(1024); b = torch.ones(1024)\n"
                          "for _ in range(1000): c = a + b\n"
                          "t = time.perf_counter()\n"
                          "for _ in range(" + std::to_string(ops) + "): c = a + b\n"
                          "print(" + std::to_string(ops) + " / (time.perf_counter() - t))' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  double rate = 0;
  if (std::fscanf(p, "%lf", &rate) != 1) rate = 0;
  pclose(p);
  return rate;
}

td::remote::Tensor upload(td::remote::Session& s, const td::Tensor& t) {
  td::Tensor c = t.contiguous();
  return s.from_bytes(c.data_ptr(), static_cast<size_t>(c.nbytes()), c.dtype(), c.shape(), false);
}
}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv("BENCH_FASTBINS")) mallopt(M_MXFAST, 0);  // as tensord's main does (server/main.cc)
  int64_t ops = 1000000, steps = 30, mib = 256;
  int threads = 1;
  std::string only = "abcd";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--ops") ops = std::stoll(argv[i + 1]);
    if (a == "--steps") steps = std::stoll(argv[i + 1]);
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    if (a == "--mib") mib = std::stoll(argv[i + 1]);
    if (a == "--only") only = argv[i + 1];
  }
  td::set_num_threads(threads);
  td::server::Options options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "";
  options.threads = 2;
  td::server::Server server(options);
  td::remote::ClientOptions client_options;
  if (std::getenv("BENCH_NO_RESEND")) client_options.reconnect_timeout = std::chrono::milliseconds(0);
  td::remote::Client client("127.0.0.1:" + std::to_string(server.port()), client_options);
  td::remote::Session s = client.create_session("bench", "cpu");

  BaselineService baseline;
  grpc::ServerBuilder builder;
  int baseline_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &baseline_port);
  builder.SetMaxReceiveMessageSize(8 << 20);
  builder.SetMaxSendMessageSize(8 << 20);
  builder.RegisterService(&baseline);
  std::unique_ptr<grpc::Server> bare_server = builder.BuildAndStart();
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(8 << 20);
  auto bare = bench::Baseline::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(baseline_port), grpc::InsecureChannelCredentials(), channel_args));

  std::printf("%-44s %14s %14s %8s\n", "benchmark (ratio: tensord's time / baseline's)", "tensord", "baseline", "ratio");

  // (a) pipelined a + b on 1k floats; results released as they go (the handles' last copies die).
  if (only.find('a') != std::string::npos) {
    std::vector<float> v(1024, 1.0f);
    td::remote::Tensor ra = s.tensor<float>(v, {1024}), rb = s.tensor<float>(v, {1024});
    s.sync();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < ops; ++i) td::remote::Tensor c = ra.add(rb);
    s.sync();
    const double remote = static_cast<double>(ops) / seconds(t0, Clock::now());
    if (std::getenv("BENCH_REMOTE_ONLY")) {  // for profiling the service alone
      std::printf("%-44s %10.0f/s\n", "(a) pipelined a+b, 1k floats", remote);
      return 0;
    }
    td::Tensor a = td::ones({1024}), b = td::ones({1024});
    t0 = Clock::now();
    for (int64_t i = 0; i < ops; ++i) td::Tensor c = a.add(b);
    const double local = static_cast<double>(ops) / seconds(t0, Clock::now());
    std::printf("%-44s %10.0f/s %10.0f/s %8.2f\n", "(a) pipelined a+b, 1k floats, vs in-process", remote, local, local / remote);
    if (const double torch = torch_ops_per_second(ops, threads); torch > 0) {
      std::printf("%-44s %10.0f/s %10.0f/s %8.2f\n", "(a) pipelined a+b, 1k floats, vs PyTorch eager", remote, torch,
                  torch / remote);
    } else {
      std::printf("%-44s %10.0f/s %14s %8s\n", "(a) ... vs PyTorch eager (no python3 torch)", remote, "-", "-");
    }
  }
  // (b) item() round trips against a bare ping-pong of one small message on a bidirectional stream, taken
  // in turns so both see the same machine.
  if (only.find('b') != std::string::npos) {
    td::remote::Tensor x = s.tensor<float>({1.5f}, {1});
    grpc::ClientContext ctx;
    auto stream = bare->PingPong(&ctx);
    bench::Blob ping, pong;
    ping.set_data(std::string(8, 'p'));
    std::vector<double> remote, ping_pong;
    for (int i = 0; i < 4000; ++i) {
      auto t0 = Clock::now();
      if (i % 2 == 0) {
        (void)x.item<double>();
        remote.push_back(seconds(t0, Clock::now()) * 1e6);
      } else {
        stream->Write(ping);
        stream->Read(&pong);
        ping_pong.push_back(seconds(t0, Clock::now()) * 1e6);
      }
    }
    stream->WritesDone();
    (void)stream->Finish();
    for (double p : {0.5, 0.9}) {
      const double r = percentile(remote, p), b = percentile(ping_pong, p);
      std::printf("%-44s %11.1f us %11.1f us %8.2f\n",
                  p == 0.5 ? "(b) item() vs bare ping-pong, p50" : "(b) item() vs bare ping-pong, p90", r, b, r / b);
    }
  }
  // (c) a large upload and download against bare chunked streaming of the same bytes.
  if (only.find('c') != std::string::npos) {
    const int64_t bytes = mib << 20;
    std::vector<uint8_t> data(static_cast<size_t>(bytes), 7);
    auto t0 = Clock::now();
    td::remote::Tensor big = s.from_bytes(data.data(), data.size(), td::DType::kUInt8, {bytes}, false);
    s.sync();
    const double up = seconds(t0, Clock::now());
    t0 = Clock::now();
    td::remote::HostTensor back = big.fetch();
    const double down = seconds(t0, Clock::now());
    if (back.bytes.size() != data.size()) std::printf("download returned %zu bytes\n", back.bytes.size());
    big = td::remote::Tensor();
    s.sync();

    t0 = Clock::now();
    {
      grpc::ClientContext ctx;
      ctx.AddMetadata("bytes", std::to_string(bytes));
      bench::Size got;
      auto writer = bare->Upload(&ctx, &got);
      bench::Blob chunk;
      for (int64_t off = 0; off < bytes; off += BaselineService::kChunk) {
        chunk.set_data(reinterpret_cast<const char*>(data.data()) + off,
                       static_cast<size_t>(std::min(BaselineService::kChunk, bytes - off)));
        writer->Write(chunk);
      }
      writer->WritesDone();
      (void)writer->Finish();
    }
    const double bare_up = seconds(t0, Clock::now());
    t0 = Clock::now();
    {
      grpc::ClientContext ctx;
      bench::Size req;
      req.set_bytes(bytes);
      auto reader = bare->Download(&ctx, req);
      bench::Blob chunk;
      std::vector<uint8_t> sink(static_cast<size_t>(bytes));
      int64_t off = 0;
      while (reader->Read(&chunk)) {
        std::memcpy(sink.data() + off, chunk.data().data(), chunk.data().size());
        off += static_cast<int64_t>(chunk.data().size());
      }
      (void)reader->Finish();
    }
    const double bare_down = seconds(t0, Clock::now());
    const double gb = static_cast<double>(bytes) / 1e9;
    std::printf("%-44s %10.2f GB/s %8.2f GB/s %8.2f\n", ("(c) upload " + std::to_string(mib) + " MiB vs bare").c_str(),
                gb / up, gb / bare_up, up / bare_up);
    std::printf("%-44s %10.2f GB/s %8.2f GB/s %8.2f\n", ("(c) download " + std::to_string(mib) + " MiB vs bare").c_str(),
                gb / down, gb / bare_down, down / bare_down);
  }
  // (d) the CNN's SGD step at batch 64, without hooks; loss read back every step (a sync point).
  if (only.find('d') != std::string::npos) {
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
