// Server metrics through prometheus-cpp: counters and histograms updated by sessions, gauges read at scrape.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "server/metrics_http.h"
#include "server/session.h"

namespace td::server {

class SessionManager;

class Metrics final : public SessionObserver {
 public:
  explicit Metrics(std::string version);
  ~Metrics() override;

  /// Serves /metrics on `bind` ("127.0.0.1:9464"; port 0 picks one); returns the bound port.
  int serve(const std::string& bind, const SessionManager* sessions);
  /// Stops serving /metrics (before the session manager it reads goes away).
  void stop_serving() { http_.reset(); }

  void on_command(std::string_view name, bool is_op, double seconds, bool ok) override;
  void on_hook_event(double round_trip_seconds, bool ok) override;
  /// Counts one finished RPC (unary method or stream) with its status code name.
  void on_rpc(std::string_view method, std::string_view code);
  uint64_t ops_executed() const { return ops_executed_.load(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& ops_;
  prometheus::Family<prometheus::Counter>& op_errors_;
  prometheus::Family<prometheus::Histogram>& op_seconds_;
  prometheus::Family<prometheus::Counter>& commands_;
  prometheus::Family<prometheus::Histogram>& hook_seconds_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  std::atomic<uint64_t> ops_executed_{0};
  std::string version_for_state_;
  std::shared_ptr<prometheus::Collectable> state_;
  std::unique_ptr<MetricsHttpServer> http_;
};

}  // namespace td::server
