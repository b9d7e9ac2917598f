#include "server/metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>

#include "core/tensor_impl.h"
#include "server/sessions.h"

namespace td::server {

namespace {
using prometheus::Histogram;

// 1 µs .. ~16 s in powers of 4: op latencies span tiny elementwise ops to large GEMMs. Built once: every
// observation passes them to Family::Add.
const Histogram::BucketBoundaries& latency_buckets() {
  static const Histogram::BucketBoundaries buckets = [] {
    Histogram::BucketBoundaries b;
    for (double v = 1e-6; v < 20; v *= 4) b.push_back(v);
    return b;
  }();
  return buckets;
}

prometheus::MetricFamily gauge_family(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void add_gauge(prometheus::MetricFamily& f, double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

// Values that live elsewhere (sessions, allocator counters), read when Prometheus scrapes.
class StateCollector final : public prometheus::Collectable {
 public:
  StateCollector(const SessionManager* sessions, std::string version)
      : sessions_(sessions), version_(std::move(version)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    auto active = gauge_family("tensord_sessions", "Sessions open on the server, by state.");
    size_t attached = 0, total = 0;
    for (const auto& s : sessions_->list()) {
      ++total;
      attached += s->attached() ? 1 : 0;
    }
    add_gauge(active, static_cast<double>(attached), {{"state", "attached"}});
    add_gauge(active, static_cast<double>(total - attached), {{"state", "detached"}});
    out.push_back(std::move(active));

    auto bytes = gauge_family("tensord_tensor_bytes", "Bytes of tensor storage allocated, by device type.");
    add_gauge(bytes, static_cast<double>(memory_allocated(DeviceType::kCPU)), {{"device", "cpu"}});
    add_gauge(bytes, static_cast<double>(memory_allocated(DeviceType::kCUDA)), {{"device", "cuda"}});
    out.push_back(std::move(bytes));

    auto info = gauge_family("tensord_build_info", "Always 1; labels carry the build's version.");
    add_gauge(info, 1, {{"version", version_}});
    out.push_back(std::move(info));
    return out;
  }

 private:
  const SessionManager* sessions_;
  std::string version_;
};
}  // namespace

Metrics::Metrics(std::string version)
    : registry_(std::make_shared<prometheus::Registry>()),
      ops_(prometheus::BuildCounter()
               .Name("tensord_ops_total")
               .Help("Ops executed for clients, by op name.")
               .Register(*registry_)),
      op_errors_(prometheus::BuildCounter()
                     .Name("tensord_op_errors_total")
                     .Help("Ops that failed, by op name.")
                     .Register(*registry_)),
      op_seconds_(prometheus::BuildHistogram()
                      .Name("tensord_op_duration_seconds")
                      .Help("Time to execute one op on the server, by op name.")
                      .Register(*registry_)),
      commands_(prometheus::BuildCounter()
                    .Name("tensord_commands_total")
                    .Help("Stream commands other than ops, by kind and outcome.")
                    .Register(*registry_)),
      hook_seconds_(prometheus::BuildHistogram()
                        .Name("tensord_hook_round_trip_seconds")
                        .Help("Time from a blocking hook event to its reply, by outcome.")
                        .Register(*registry_)),
      rpcs_(prometheus::BuildCounter()
                .Name("tensord_rpcs_total")
                .Help("Finished RPCs, by method and gRPC status code.")
                .Register(*registry_)),
      version_for_state_(std::move(version)) {}

Metrics::~Metrics() = default;

int Metrics::serve(const std::string& bind, const SessionManager* sessions) {
  state_ = std::make_shared<StateCollector>(sessions, version_for_state_);
  http_ = std::make_unique<MetricsHttpServer>(bind, std::vector<std::weak_ptr<prometheus::Collectable>>{registry_, state_});
  return http_->port();
}

void Metrics::on_command(std::string_view name, bool is_op, double seconds, bool ok) {
  if (!is_op) {
    commands_.Add({{"command", std::string(name)}, {"status", ok ? "ok" : "error"}}).Increment();
    return;
  }
  ++ops_executed_;
  std::string op(name);
  ops_.Add({{"op", op}}).Increment();
  if (!ok) op_errors_.Add({{"op", op}}).Increment();
  op_seconds_.Add({{"op", op}}, latency_buckets()).Observe(seconds);
}

void Metrics::on_hook_event(double seconds, bool ok) {
  hook_seconds_.Add({{"status", ok ? "ok" : "error"}}, latency_buckets()).Observe(seconds);
}

void Metrics::on_rpc(std::string_view method, std::string_view code) {
  rpcs_.Add({{"method", std::string(method)}, {"code", std::string(code)}}).Increment();
}

}  // namespace td::server
