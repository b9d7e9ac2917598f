// The tensord server: owns the session manager, metrics and the gRPC server (STYLE.md: main only parses
// flags into Options; the server owns its parts; services hold non-owning pointers).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/device.h"

namespace td::server {

class Authenticator;
class EventBus;
struct SessionOptions;
class Metrics;
class SessionManager;
class TensordService;

struct Options {
  /// gRPC listen address; port 0 picks a free port (read it back with Server::port()).
  std::string listen = "127.0.0.1:7447";
  /// Prometheus /metrics address; empty disables it.
  std::string metrics_listen = "127.0.0.1:9464";
  /// Adds series labelled by session id to /metrics (unbounded: for debugging a few sessions).
  bool metrics_session_labels = false;
  /// Device for sessions that name none: the first GPU if present, else cpu (empty = that choice).
  std::string device;
  /// Executor threads (0 = one per core).
  size_t threads = 0;
  /// How long a detached session is kept for a re-attach.
  std::chrono::seconds session_grace{600};
  /// The most bytes of tensor storage one session may hold on each device type (0: no limit).
  int64_t session_memory_limit = 0;
  /// Users, hashed tokens and quotas (docs/security.md); empty: no authentication, loopback only.
  std::string tokens_file;
  /// PEM files of the server's certificate (chain) and key: TLS on the gRPC port when given.
  std::string tls_cert;
  std::string tls_key;
  /// Lets a non-loopback address serve without TLS (bearer tokens then travel in clear text).
  bool allow_plaintext = false;
  /// Where checkpoints go, a folder per user (empty: checkpoint commands fail with FAILED_PRECONDITION).
  std::string data_dir;
  /// At shutdown, save each session to data_dir/.sessions, for a restart with `restore` to bring back.
  bool checkpoint_sessions = false;
  /// At start, bring back the sessions saved there (each saved folder is removed once its session is back).
  bool restore = false;
  /// At shutdown, how long the commands already received may take to finish before the server goes anyway.
  std::chrono::seconds shutdown_grace{30};
  /// How long a blocking hook may wait for the client's reply.
  std::chrono::milliseconds hook_timeout{std::chrono::seconds(60)};
};

class Server {
 public:
  /// Validates options, starts the metrics exposer and the gRPC server. Throws td::Error on bad options.
  explicit Server(const Options& options);
  ~Server();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  const std::string& default_device() const { return default_device_; }
  /// Blocks until shutdown() (from another thread or a signal handler thread).
  void wait();
  /// Graceful: refuses new sessions and attaches, lets the commands already received run (up to
  /// shutdown_grace), sends each attached client a Goodbye, then stops the gRPC server. Idempotent.
  void shutdown();
  /// Ops executed for clients since start.
  uint64_t ops_executed() const;
  /// The session table (tests reach sessions through it).
  SessionManager& sessions() { return *sessions_; }
  /// Re-reads the tokens file (SIGHUP): revoked tokens fail from the next call on; quotas apply at once.
  /// On a bad file, the old users stay and the error is thrown.
  void reload_tokens();
  /// What restore and shutdown did to each session (restored, saved, or why not), oldest first; clears it.
  std::vector<std::string> take_log();

 private:
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<EventBus> events_;  // outlives the sessions that publish to it
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<TensordService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::chrono::seconds shutdown_grace_{30};
  std::once_flag shutdown_once_;
  std::string default_device_;
  std::string data_dir_;
  bool checkpoint_sessions_ = false;
  std::mutex log_mu_;
  std::vector<std::string> log_;
  void log(std::string line);
  /// Brings back the sessions saved in data_dir/.sessions (Options::restore).
  void restore_sessions(const SessionOptions& defaults);
  /// Seals, saves and says goodbye to each session (Options::checkpoint_sessions), by `deadline`.
  void save_sessions(std::chrono::steady_clock::time_point deadline);
};

/// The folder of data_dir where sessions are saved at shutdown (user names cannot start with '.').
inline constexpr const char* kSessionsFolder = ".sessions";

/// The version string (`tensorctl info`, build info metric).
const char* version();

}  // namespace td::server
