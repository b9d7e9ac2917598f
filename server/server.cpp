#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "core/backend.h"
#include "core/error.h"
#include "proto/codec.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/sessions.h"
#include "vision/models.h"

namespace td::server {

const char* version() { return "0.1.0"; }

namespace {
bool is_loopback(const std::string& address) {
  return address.starts_with("127.") || address.starts_with("localhost:") || address.starts_with("[::1]:");
}

// Room for one chunk (kMaxChunkBytes) plus a batch of small commands and protobuf framing.
constexpr int kMaxMessageBytes = 8 << 20;
}  // namespace

Server::Server(const Options& options) {
  // DESIGN.md security default: no auth exists yet, so only loopback may be bound.
  TD_CHECK_ARG(is_loopback(options.listen), "[tensord] refusing to listen on ", options.listen,
               ": binding a non-loopback address needs a tokens file, which this build does not support yet");
  Backend& cuda = backend(DeviceType::kCUDA);
  default_device_ = options.device.empty() ? (cuda.device_count() > 0 ? "cuda:0" : "cpu") : options.device;
  Device device = Device::parse(default_device_);
  TD_CHECK_ARG(options.session_memory_limit >= 0, "[tensord] --session-memory-limit must be >= 0, got ",
               options.session_memory_limit);
  TD_CHECK_ARG(device.is_cpu() || device.index < cuda.device_count(), "[tensord] default device ", default_device_,
               " is not available (", cuda.device_count(), " CUDA devices)");

  // Clients create torchvision's models by name (create_module("resnet18", ...)) like any layer.
  vision::models::register_models();
  metrics_ = std::make_unique<Metrics>(
      MetricsOptions{version(), options.metrics_session_labels, options.session_memory_limit});
  sessions_ = std::make_unique<SessionManager>(metrics_.get(), options.threads, options.session_grace);
  SessionOptions session_defaults;
  session_defaults.device = device;
  session_defaults.hook_timeout = options.hook_timeout;
  session_defaults.memory_limit = options.session_memory_limit;
  service_ = std::make_unique<TensordService>(sessions_.get(), metrics_.get(), session_defaults, version());
  if (!options.metrics_listen.empty()) metrics_port_ = metrics_->serve(options.metrics_listen, sessions_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, a stale server on the same port would silently share it (SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  grpc_ = builder.BuildAndStart();
  TD_CHECK(grpc_ && port_ > 0, ErrorCode::kUnavailable, "[tensord] could not listen on ", options.listen,
           " (address in use?)");
}

Server::~Server() {
  // Order matters: no new commands, then no scrapes (they read the sessions), then the sessions (which
  // report to metrics), then metrics.
  shutdown();
  grpc_.reset();
  metrics_->stop_serving();
  sessions_.reset();
}

void Server::wait() { grpc_->Wait(); }

void Server::shutdown() {
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace td::server
