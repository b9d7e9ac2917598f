// Server metrics through prometheus-cpp: counters and histograms updated by sessions and RPCs, gauges read at
// scrape (sessions by user, the CUDA allocator, the process, NVML). Labels stay bounded: op names, devices
// types, users, methods and codes; session ids only when asked for (per_session_labels).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/metrics_http.h"
#include "server/session.h"

namespace td::server {

class SessionManager;

/// Seconds spent per op over a sliding window of kSlots slots of kSlot each: the "top ops" gauge. The window
/// slides a slot at a time, so it covers between (kSlots - 1) and kSlots slots of history.
class OpTimeWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kSlots = 6;
  static constexpr std::chrono::seconds kSlot{10};

  void add(const std::string& op, double seconds, Clock::time_point now = Clock::now());
  /// The op's index for add(size_t, ...), given once per op name.
  size_t index(const std::string& op);
  void add(size_t op, double seconds, Clock::time_point now);
  /// The `n` ops with the most seconds in the window, most first.
  std::vector<std::pair<std::string, double>> top(size_t n, Clock::time_point now = Clock::now()) const;

 private:
  struct Slot {
    int64_t epoch = -1;
    std::vector<double> seconds;  // by op index
  };
  static int64_t epoch_of(Clock::time_point t);
  mutable std::mutex mu_;
  std::array<Slot, kSlots> slots_;
  std::vector<std::string> names_;  // by op index
  std::unordered_map<std::string, size_t> index_;
};

struct MetricsOptions {
  std::string version;
  /// Adds per-session series (queued commands, bytes, handles by session id): unbounded, off by default.
  bool per_session_labels = false;
  /// The per-session memory limit, exported as tensord_session_memory_limit_bytes.
  int64_t session_memory_limit = 0;
};

class Metrics final : public SessionObserver {
 public:
  explicit Metrics(MetricsOptions options);
  ~Metrics() override;

  /// Serves /metrics on `bind` ("127.0.0.1:9464"; port 0 picks one); returns the bound port.
  int serve(const std::string& bind, const SessionManager* sessions);
  /// Stops serving /metrics (before the session manager it reads goes away).
  void stop_serving() { http_.reset(); }

  /// Op commands are counted per thread and published by flush(): no histogram lock per op.
  void on_command(std::string_view name, bool is_op, DeviceType device, double seconds, bool ok) override;
  void flush() override;
  void on_backward(DeviceType device, double seconds) override;
  void on_hook_event(std::string_view kind, bool blocking) override;
  void on_hook_reply(double round_trip_seconds, ErrorCode code) override;
  /// Counts one finished RPC (unary method or stream) with its status code name and duration.
  void on_rpc(std::string_view method, std::string_view code, double seconds);
  uint64_t ops_executed() const { return ops_executed_.load(); }

 private:
  /// One op's series on one device type, looked up once and then cached (Family::Add builds a label map).
  struct OpSeries {
    prometheus::Counter* count;
    prometheus::Counter* errors;
    prometheus::Histogram* seconds;
    size_t window;  // the op's index in op_window_
    size_t slot;    // its index among op_series_, for the per-thread counts
  };
  /// Looked up in a per-thread cache first: no lock and no label map per op.
  OpSeries& op_series(std::string_view op, DeviceType device);
  const uint64_t instance_;  // tells the per-thread caches of two Metrics apart

  MetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& ops_;
  prometheus::Family<prometheus::Counter>& op_errors_;
  prometheus::Family<prometheus::Histogram>& op_seconds_;
  prometheus::Family<prometheus::Counter>& commands_;
  prometheus::Family<prometheus::Histogram>& backward_seconds_;
  prometheus::Family<prometheus::Counter>& hook_events_;
  prometheus::Family<prometheus::Histogram>& hook_seconds_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  std::mutex series_mu_;
  std::unordered_map<std::string, OpSeries> op_series_;  // key: op + '\0' + device type
  std::unordered_map<std::string, std::array<prometheus::Counter*, 2>> command_series_;  // key: name + "\0command"; ok, error
  std::atomic<uint64_t> ops_executed_{0};
  OpTimeWindow op_window_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectors_;
  std::unique_ptr<MetricsHttpServer> http_;
};

}  // namespace td::server
