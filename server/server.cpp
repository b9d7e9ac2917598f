#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/backend.h"
#include "core/error.h"
#include "proto/codec.h"
#include "server/auth.h"
#include "server/event_bus.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/sessions.h"
#include "tensord/v1/snapshot.pb.h"
#include "vision/models.h"

namespace td::server {

const char* version() { return "0.1.0"; }

namespace {
bool is_loopback(const std::string& address) {
  return address.starts_with("127.") || address.starts_with("localhost:") || address.starts_with("[::1]:");
}

std::string read_pem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  TD_CHECK_ARG(in.good(), "[tensord] ", flag, ": cannot read '", path, "'");
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TD_CHECK_ARG(pem.find("-----BEGIN ") != std::string::npos, "[tensord] ", flag, ": '", path, "' is not a PEM file");
  return pem;
}

// Room for one chunk (kMaxChunkBytes) plus a batch of small commands and protobuf framing.
constexpr int kMaxMessageBytes = 8 << 20;
}  // namespace

Server::Server(const Options& options) {
  // DESIGN.md security defaults: loopback with no auth is the embedded default; any other address needs a
  // tokens file, and TLS unless plaintext is asked for by name.
  const bool loopback = is_loopback(options.listen);
  TD_CHECK_ARG(loopback || !options.tokens_file.empty(), "[tensord] refusing to listen on ", options.listen,
               " without authentication: give a tokens file (--tokens FILE, docs/security.md), or listen on 127.0.0.1");
  TD_CHECK_ARG(options.tls_cert.empty() == options.tls_key.empty(), "[tensord] --tls-cert and --tls-key go together");
  TD_CHECK_ARG(loopback || !options.tls_cert.empty() || options.allow_plaintext, "[tensord] refusing to listen on ",
               options.listen, " without TLS: bearer tokens would cross the network in clear text; give "
               "--tls-cert and --tls-key, or --allow-plaintext on a network you trust");
  shutdown_grace_ = options.shutdown_grace;
  TD_CHECK_ARG(!(options.checkpoint_sessions || options.restore) || !options.data_dir.empty(),
               "[tensord] --checkpoint-sessions and --restore need --data-dir: sessions are saved there");
  data_dir_ = options.data_dir;
  checkpoint_sessions_ = options.checkpoint_sessions;
  auth_ = options.tokens_file.empty() ? std::make_unique<Authenticator>()
                                      : std::make_unique<Authenticator>(options.tokens_file);
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
  events_ = std::make_unique<EventBus>();
  sessions_ = std::make_unique<SessionManager>(metrics_.get(), options.threads, options.session_grace);
  SessionOptions session_defaults;
  session_defaults.device = device;
  session_defaults.hook_timeout = options.hook_timeout;
  session_defaults.memory_limit = options.session_memory_limit;
  session_defaults.data_dir = options.data_dir;
  session_defaults.events = events_.get();
  if (!options.data_dir.empty()) std::filesystem::create_directories(options.data_dir);
  if (options.restore) restore_sessions(session_defaults);
  service_ = std::make_unique<TensordService>(sessions_.get(), metrics_.get(), auth_.get(), events_.get(),
                                             session_defaults, version());
  if (!options.metrics_listen.empty()) metrics_port_ = metrics_->serve(options.metrics_listen, sessions_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, a stale server on the same port would silently share it (SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, codec::kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, codec::kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, codec::kMinPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({read_pem(options.tls_key, "--tls-key"), read_pem(options.tls_cert, "--tls-cert")});
    credentials = grpc::SslServerCredentials(tls);
  }
  builder.AddListeningPort(options.listen, credentials, &port_);
  builder.RegisterService(service_.get());
  grpc_ = builder.BuildAndStart();
  TD_CHECK(grpc_ && port_ > 0, ErrorCode::kUnavailable, "[tensord] could not listen on ", options.listen,
           " (address in use?)");
}

void Server::reload_tokens() {
  auth_->reload();
  for (const auto& usage : sessions_->usages()) {
    if (auto user = auth_->user(usage->name)) apply_quota(*usage, user->quota);
  }
  // Streams attached with a token that is gone end now (their sessions stay, for the grace period).
  for (const auto& s : sessions_->list()) s->cancel_stream_unless([&](const std::string& h) { return auth_->valid(h); });
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

void Server::log(std::string line) {
  std::lock_guard lock(log_mu_);
  log_.push_back(std::move(line));
}

std::vector<std::string> Server::take_log() {
  std::lock_guard lock(log_mu_);
  return std::exchange(log_, {});
}

void Server::restore_sessions(const SessionOptions& defaults) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(data_dir_) / kSessionsFolder;
  if (!fs::is_directory(root)) return;
  std::vector<fs::path> saved;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.ends_with(".tmp") && !name.ends_with(".failed")) saved.push_back(entry.path());
  }
  std::sort(saved.begin(), saved.end());
  for (const fs::path& dir : saved) {
    const std::string id = dir.filename().string();
    try {
      pb::SessionSnapshot snap;
      std::ifstream in(dir / "snapshot.pb", std::ios::binary);
      TD_CHECK_ARG(in.good() && snap.ParseFromIstream(&in), "[restore] ", (dir / "snapshot.pb").string(),
                   " is missing or unreadable");
      TD_CHECK_ARG(snap.id() == id, "[restore] the snapshot in folder ", id, " is of session ", snap.id());
      auto user = auth_->user(snap.user());
      TD_CHECK(user != nullptr, ErrorCode::kPermissionDenied, "[restore] user '", snap.user(),
               "' is not in the tokens file any more");
      SessionOptions options = defaults;
      options.name = snap.name();
      options.user = snap.user();
      options.device = Device::parse(snap.device());
      TD_CHECK_ARG(options.device.is_cpu() || options.device.index < backend(DeviceType::kCUDA).device_count(),
                   "[restore] device ", snap.device(), " is not available");
      options.usage = sessions_->usage_of(snap.user());
      apply_quota(*options.usage, user->quota);
      auto session = sessions_->create(std::move(options), 0, id);
      try {
        session->restore(snap, dir);
      } catch (...) {
        sessions_->close(id);
        throw;
      }
      fs::remove_all(dir);
      log(str("session ", id, " (user ", snap.user(), ", '", snap.name(), "') restored: ", session->handle_count(),
              " handles, ", session->bytes_held(), " bytes"));
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::rename(dir, dir.string() + ".failed", ec);
      log(str("session ", id, " was not restored (its folder is now ", id, ".failed): ", e.what()));
    }
  }
}

void Server::save_sessions(std::chrono::steady_clock::time_point deadline) {
  const std::filesystem::path root = std::filesystem::path(data_dir_) / kSessionsFolder;
  for (const auto& s : sessions_->list()) s->seal();  // what arrives from now on is sent again after the restart
  for (const auto& s : sessions_->list()) {
    while (!s->idle() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bool saved = false;
    if (!s->idle()) {
      log(str("session ", s->id(), " was not saved: it was still running commands (a hook waiting for its client?) "
              "when the shutdown grace ran out"));
    } else {
      try {
        s->save(root / s->id());
        saved = true;
        log(str("session ", s->id(), " (user ", s->options().user, ", '", s->options().name, "') saved: ",
                s->handle_count(), " handles, ", s->bytes_held(), " bytes"));
      } catch (const std::exception& e) {
        log(str("session ", s->id(), " was not saved: ", e.what()));
      }
    }
    s->say_goodbye(saved ? "the server is restarting; this session was saved and comes back when it does"
                         : "the server is shutting down",
                   saved);
  }
}

void Server::shutdown() {
  std::call_once(shutdown_once_, [this] {
    service_->stop_accepting();
    const auto deadline = std::chrono::steady_clock::now() + shutdown_grace_;
    auto all_idle = [&] {
      for (const auto& s : sessions_->list()) {
        if (!s->idle()) return false;
      }
      return true;
    };
    while (!all_idle() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (checkpoint_sessions_) {
      save_sessions(deadline);
    } else {
      for (const auto& s : sessions_->list()) s->say_goodbye("the server is shutting down");
    }
    events_->close();  // watchers' calls end
    // Clients end their streams on the Goodbye; any left are cancelled at this deadline.
    if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
}

uint64_t Server::ops_executed() const {
  return metrics_->ops_executed();
}

}  // namespace td::server
