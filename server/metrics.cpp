#include "server/metrics.h"

#include <prometheus/family.h>

#include <algorithm>
#include <map>

#include "core/cuda.h"
#include "core/cudnn.h"
#include "core/tensor_impl.h"
#include "server/sessions.h"
#include "server/system_metrics.h"

namespace td::server {

namespace {
using prometheus::Histogram;
using Labels = std::vector<prometheus::ClientMetric::Label>;

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

std::string device_label(DeviceType type) {
  return type == DeviceType::kCUDA ? "cuda" : "cpu";
}

// Values that live elsewhere (sessions, allocators, the op window), read when Prometheus scrapes.
class StateCollector final : public prometheus::Collectable {
 public:
  StateCollector(const SessionManager* sessions, const OpTimeWindow* window, MetricsOptions options)
      : sessions_(sessions), window_(window), options_(std::move(options)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    collect_sessions(out);

    auto bytes = metric_family("tensord_tensor_bytes", "Bytes of tensor storage allocated, by device type.");
    add_sample(bytes, static_cast<double>(memory_allocated(DeviceType::kCPU)), {{"device", "cpu"}});
    add_sample(bytes, static_cast<double>(memory_allocated(DeviceType::kCUDA)), {{"device", "cuda"}});
    out.push_back(std::move(bytes));
    if (cuda::is_available()) collect_cuda(out);

    auto top = metric_family("tensord_top_op_seconds",
                             "Seconds spent executing client-issued ops over the last minute, for the 10 busiest ops.");
    for (const auto& [op, seconds] : window_->top(10)) add_sample(top, seconds, {{"op", op}});
    out.push_back(std::move(top));

    auto info = metric_family("tensord_build_info", "Always 1; labels carry the build's version, CUDA support and the cuDNN loaded.");
#ifdef TD_HAVE_CUDA
    const char* with_cuda = "on";
#else
    const char* with_cuda = "off";
#endif
    // The cuDNN this process loaded for its CUDA convolutions (core/cudnn.h), or "none".
    const int cudnn = backends::cudnn::version();
    const std::string cudnn_version = cudnn ? std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) +
                                                  "." + std::to_string(cudnn % 100)
                                            : "none";
    add_sample(info, 1, {{"version", options_.version}, {"cuda", with_cuda}, {"cudnn", cudnn_version}});
    out.push_back(std::move(info));
    return out;
  }

 private:
  // Sessions, handles, bytes and queued commands summed by user (and device); by session too if enabled.
  void collect_sessions(std::vector<prometheus::MetricFamily>& out) const {
    struct PerUser {
      double attached = 0, detached = 0, handles = 0, queued = 0;
      std::map<std::string, double> bytes;  // by device type
    };
    std::map<std::string, PerUser> users;
    auto sessions = metric_family("tensord_sessions", "Sessions open on the server, by state and user.");
    auto handles = metric_family("tensord_session_handles", "Tensor handles held by sessions, by user.");
    auto bytes = metric_family("tensord_session_bytes",
                               "Bytes of tensor storage that sessions hold (tensors, modules, optimizer state, "
                               "graphs), by user and device type.");
    auto queued = metric_family("tensord_session_queued_commands",
                                "Commands received and not yet started, by user.");
    for (const auto& s : sessions_->list()) {
      // Read once per session: its handle count and queue take its locks.
      const auto handle_count = static_cast<double>(s->handle_count());
      const auto queued_count = static_cast<double>(s->queued_commands());
      std::vector<std::pair<std::string, double>> held;  // by device type: its own, and any other in use
      for (DeviceType type : {DeviceType::kCPU, DeviceType::kCUDA}) {
        const int64_t b = s->bytes_held(type);
        if (b != 0 || type == s->options().device.type) held.emplace_back(device_label(type), static_cast<double>(b));
      }
      PerUser& u = users[s->options().user];
      (s->attached() ? u.attached : u.detached) += 1;
      u.handles += handle_count;
      u.queued += queued_count;
      for (const auto& [device, b] : held) u.bytes[device] += b;
      if (options_.per_session_labels) {
        const Labels labels = {{"user", s->options().user}, {"session", s->id()}};
        add_sample(handles, handle_count, labels);
        add_sample(queued, queued_count, labels);
        for (const auto& [device, b] : held) {
          Labels with_device = labels;
          with_device.push_back({"device", device});
          add_sample(bytes, b, with_device);
        }
      }
    }
    // With no session open the series still exist (at zero), so alerts and dashboards see 0, not nothing.
    if (users.empty()) users["anonymous"];
    for (const auto& [user, u] : users) {
      add_sample(sessions, u.attached, {{"state", "attached"}, {"user", user}});
      add_sample(sessions, u.detached, {{"state", "detached"}, {"user", user}});
      if (options_.per_session_labels) continue;
      add_sample(handles, u.handles, {{"user", user}});
      add_sample(queued, u.queued, {{"user", user}});
      if (u.bytes.empty()) add_sample(bytes, 0, {{"user", user}, {"device", "cpu"}});
      for (const auto& [device, b] : u.bytes) add_sample(bytes, b, {{"user", user}, {"device", device}});
    }
    auto limit = metric_family("tensord_session_memory_limit_bytes",
                               "The most bytes one session may hold on a device type (0: no limit).");
    add_sample(limit, static_cast<double>(options_.session_memory_limit));
    for (auto* f : {&sessions, &handles, &bytes, &queued, &limit}) out.push_back(std::move(*f));
  }

  static void collect_cuda(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    auto allocated = metric_family("tensord_cuda_memory_allocated_bytes",
                                   "Bytes in live tensors' blocks of the CUDA caching allocator.");
    auto reserved = metric_family("tensord_cuda_memory_reserved_bytes",
                                  "Bytes the CUDA caching allocator holds from the device (live and cached).");
    auto peak = metric_family("tensord_cuda_memory_peak_allocated_bytes",
                              "Highest tensord_cuda_memory_allocated_bytes since start or reset_peak_memory_stats.");
    auto active = metric_family("tensord_cuda_memory_active_bytes",
                                "Bytes in live blocks and in freed blocks still used by other CUDA streams.");
    auto inactive_split = metric_family(
        "tensord_cuda_memory_inactive_split_bytes",
        "Idle cached bytes cut from segments partly in use: the allocator cannot release them (fragmentation).");
    auto requests = metric_family("tensord_cuda_allocator_requests_total", "Allocation requests to the CUDA caching allocator.",
                                  MetricType::Counter);
    auto hits = metric_family("tensord_cuda_allocator_cache_hits_total",
                              "Allocation requests served from the caching allocator's cache.", MetricType::Counter);
    auto ooms = metric_family("tensord_cuda_allocator_ooms_total", "Allocation requests refused for lack of memory.",
                              MetricType::Counter);
    for (int i = 0; i < cuda::device_count(); ++i) {
      const MemoryStats s = cuda::memory_stats(i);
      const Labels labels = {{"device", std::to_string(i)}};
      add_sample(allocated, static_cast<double>(s.allocated), labels);
      add_sample(reserved, static_cast<double>(s.reserved), labels);
      add_sample(peak, static_cast<double>(s.peak_allocated), labels);
      add_sample(active, static_cast<double>(s.active_bytes[kAllPools].current), labels);
      add_sample(inactive_split, static_cast<double>(s.inactive_split_bytes[kAllPools].current), labels);
      add_sample(requests, static_cast<double>(s.alloc_requests), labels);
      add_sample(hits, static_cast<double>(s.cache_hits), labels);
      add_sample(ooms, static_cast<double>(s.ooms), labels);
    }
    for (auto* f : {&allocated, &reserved, &peak, &active, &inactive_split, &requests, &hits, &ooms}) {
      out.push_back(std::move(*f));
    }
  }

  const SessionManager* sessions_;
  const OpTimeWindow* window_;
  MetricsOptions options_;
};
}  // namespace

std::atomic<uint64_t> next_metrics_instance{1};

// ---- OpTimeWindow ----

int64_t OpTimeWindow::epoch_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() / kSlot.count();
}

size_t OpTimeWindow::index(const std::string& op) {
  std::lock_guard lock(mu_);
  auto [it, added] = index_.emplace(op, names_.size());
  if (added) names_.push_back(op);
  return it->second;
}

void OpTimeWindow::add(const std::string& op, double seconds, Clock::time_point now) { add(index(op), seconds, now); }

void OpTimeWindow::add(size_t op, double seconds, Clock::time_point now) {
  const int64_t epoch = epoch_of(now);
  std::lock_guard lock(mu_);
  Slot& slot = slots_[static_cast<size_t>(epoch % kSlots)];
  if (slot.epoch != epoch) {
    slot.epoch = epoch;
    slot.seconds.assign(names_.size(), 0.0);
  }
  if (op >= slot.seconds.size()) slot.seconds.resize(names_.size(), 0.0);
  slot.seconds[op] += seconds;
}

std::vector<std::pair<std::string, double>> OpTimeWindow::top(size_t n, Clock::time_point now) const {
  const int64_t epoch = epoch_of(now);
  std::unordered_map<std::string, double> sum;
  {
    std::lock_guard lock(mu_);
    for (const Slot& slot : slots_) {
      if (slot.epoch <= epoch - kSlots || slot.epoch > epoch) continue;
      for (size_t op = 0; op < slot.seconds.size(); ++op) {
        if (slot.seconds[op] > 0) sum[names_[op]] += slot.seconds[op];
      }
    }
  }
  std::vector<std::pair<std::string, double>> rows(sum.begin(), sum.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (rows.size() > n) rows.resize(n);
  return rows;
}

// ---- Metrics ----

Metrics::Metrics(MetricsOptions options)
    : instance_(next_metrics_instance++),
      options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      ops_(prometheus::BuildCounter()
               .Name("tensord_ops_total")
               .Help("Ops executed for clients, by op name and device type.")
               .Register(*registry_)),
      op_errors_(prometheus::BuildCounter()
                     .Name("tensord_op_errors_total")
                     .Help("Ops that failed, by op name and device type.")
                     .Register(*registry_)),
      op_seconds_(prometheus::BuildHistogram()
                      .Name("tensord_op_duration_seconds")
                      .Help("Time to execute one op on the server, by op name and device type.")
                      .Register(*registry_)),
      commands_(prometheus::BuildCounter()
                    .Name("tensord_commands_total")
                    .Help("Stream commands other than ops, by kind and outcome.")
                    .Register(*registry_)),
      backward_seconds_(prometheus::BuildHistogram()
                            .Name("tensord_backward_duration_seconds")
                            .Help("Time of one backward command, the hooks it waited for included, by device type.")
                            .Register(*registry_)),
      hook_events_(prometheus::BuildCounter()
                       .Name("tensord_hook_events_total")
                       .Help("Hooks fired, by kind (tensor, module, builtin) and mode (blocking, observe).")
                       .Register(*registry_)),
      hook_seconds_(prometheus::BuildHistogram()
                        .Name("tensord_hook_round_trip_seconds")
                        .Help("Time from a blocking hook event to its reply, by outcome (a gRPC code name).")
                        .Register(*registry_)),
      rpcs_(prometheus::BuildCounter()
                .Name("tensord_rpcs_total")
                .Help("Finished RPCs, by method and gRPC status code.")
                .Register(*registry_)),
      rpc_seconds_(prometheus::BuildHistogram()
                       .Name("tensord_rpc_duration_seconds")
                       .Help("Time from an RPC's start to its status (a stream's whole life for Attach), by method.")
                       .Register(*registry_)) {}

Metrics::~Metrics() = default;

int Metrics::serve(const std::string& bind, const SessionManager* sessions) {
  collectors_ = {std::make_shared<StateCollector>(sessions, &op_window_, options_), make_process_collector()};
  if (auto nvml = make_nvml_collector()) collectors_.push_back(std::move(nvml));
  std::vector<std::weak_ptr<prometheus::Collectable>> all = {registry_};
  for (const auto& c : collectors_) all.push_back(c);
  http_ = std::make_unique<MetricsHttpServer>(bind, std::move(all));
  return http_->port();
}

namespace {
/// A thread's cache of series pointers (of the Metrics numbered `owner`): found without a lock or a label map.
struct SeriesCache {
  uint64_t owner = 0;
  std::string key;  // reused: no allocation per command once warm
  std::unordered_map<std::string, void*> series;
  /// The cache for `instance`, its key set to `name` (+ '\0' + `suffix` when given).
  static SeriesCache& of(uint64_t instance, std::string_view name, std::string_view suffix = {}) {
    thread_local SeriesCache cache;
    if (cache.owner != instance) {
      cache.series.clear();
      cache.owner = instance;
    }
    cache.key.assign(name);
    if (!suffix.empty()) {
      cache.key += '\0';
      cache.key += suffix;
    }
    return cache;
  }
  void* find() const {
    auto it = series.find(key);
    return it == series.end() ? nullptr : it->second;
  }
};
/// A thread's op counts not yet published (Metrics::flush), by series slot.
struct OpCounts {
  struct Slot {
    void* series = nullptr;  // the Metrics' OpSeries
    uint64_t count = 0;
    uint64_t errors = 0;
    double seconds = 0;
    std::vector<double> buckets;  // per latency bucket, +Inf last
  };
  uint64_t owner = 0;
  std::vector<Slot> slots;
  std::vector<size_t> touched;  // slots with counts
  /// The thread's counts for the Metrics numbered `instance` (flushed at the end of every drain, so a
  /// thread that moves to another Metrics has nothing left of the last).
  static OpCounts& of(uint64_t instance) {
    thread_local OpCounts counts;
    if (counts.owner != instance) {
      counts.slots.clear();
      counts.touched.clear();
      counts.owner = instance;
    }
    return counts;
  }
};
}  // namespace

Metrics::OpSeries& Metrics::op_series(std::string_view op, DeviceType device) {
  SeriesCache& cache = SeriesCache::of(instance_, op, device_label(device));
  if (void* hit = cache.find()) return *static_cast<OpSeries*>(hit);
  std::lock_guard lock(series_mu_);
  auto it = op_series_.find(cache.key);
  if (it == op_series_.end()) {
    const std::map<std::string, std::string> labels = {{"op", std::string(op)}, {"device", device_label(device)}};
    OpSeries s{&ops_.Add(labels), &op_errors_.Add(labels), &op_seconds_.Add(labels, latency_buckets()),
               op_window_.index(std::string(op)), op_series_.size()};
    it = op_series_.emplace(cache.key, s).first;
  }
  cache.series.emplace(cache.key, &it->second);
  return it->second;
}

namespace {
// The coarse monotonic clock (a tick's resolution, enough for the window's 10 s slots), much cheaper than
// steady_clock's on VMs whose clock source is not the TSC; both count from the same origin.
OpTimeWindow::Clock::time_point coarse_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return OpTimeWindow::Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}
}  // namespace

void Metrics::on_command(std::string_view name, bool is_op, DeviceType device, double seconds, bool ok) {
  if (!is_op) {
    SeriesCache& cache = SeriesCache::of(instance_, name, "command");
    auto* counters = static_cast<std::array<prometheus::Counter*, 2>*>(cache.find());
    if (!counters) {
      std::lock_guard lock(series_mu_);
      auto it = command_series_.find(cache.key);
      if (it == command_series_.end()) {
        const std::string command(name);
        it = command_series_.emplace(cache.key, std::array<prometheus::Counter*, 2>{
                                                    &commands_.Add({{"command", command}, {"status", "ok"}}),
                                                    &commands_.Add({{"command", command}, {"status", "error"}})}).first;
      }
      counters = &it->second;
      cache.series.emplace(cache.key, counters);
    }
    (*counters)[ok ? 0 : 1]->Increment();
    return;
  }
  OpSeries& s = op_series(name, device);
  OpCounts& counts = OpCounts::of(instance_);
  if (counts.slots.size() <= s.slot) counts.slots.resize(s.slot + 1);
  OpCounts::Slot& c = counts.slots[s.slot];
  if (c.count == 0) {
    counts.touched.push_back(s.slot);
    c.series = &s;
    c.buckets.assign(latency_buckets().size() + 1, 0.0);
  }
  ++c.count;
  if (!ok) ++c.errors;
  c.seconds += seconds;
  const auto& bounds = latency_buckets();
  c.buckets[static_cast<size_t>(std::find_if(bounds.begin(), bounds.end(), [&](double b) { return b >= seconds; }) -
                                bounds.begin())] += 1;
}

void Metrics::flush() {
  OpCounts& counts = OpCounts::of(instance_);
  if (counts.touched.empty()) return;
  const auto now = coarse_now();
  uint64_t ops = 0;
  for (size_t slot : counts.touched) {
    OpCounts::Slot& c = counts.slots[slot];
    auto* s = static_cast<OpSeries*>(c.series);
    s->count->Increment(static_cast<double>(c.count));
    if (c.errors) s->errors->Increment(static_cast<double>(c.errors));
    s->seconds->ObserveMultiple(c.buckets, c.seconds);
    op_window_.add(s->window, c.seconds, now);
    ops += c.count;
    c = OpCounts::Slot{};
  }
  counts.touched.clear();
  ops_executed_ += ops;
}

void Metrics::on_backward(DeviceType device, double seconds) {
  backward_seconds_.Add({{"device", device_label(device)}}, latency_buckets()).Observe(seconds);
}

void Metrics::on_hook_event(std::string_view kind, bool blocking) {
  hook_events_.Add({{"kind", std::string(kind)}, {"mode", blocking ? "blocking" : "observe"}}).Increment();
}

void Metrics::on_hook_reply(double seconds, ErrorCode code) {
  std::string status(error_code_name(code));
  std::transform(status.begin(), status.end(), status.begin(), [](unsigned char c) { return std::tolower(c); });
  hook_seconds_.Add({{"status", status}}, latency_buckets()).Observe(seconds);
}

void Metrics::on_rpc(std::string_view method, std::string_view code, double seconds) {
  rpcs_.Add({{"method", std::string(method)}, {"code", std::string(code)}}).Increment();
  rpc_seconds_.Add({{"method", std::string(method)}}, latency_buckets()).Observe(seconds);
}

}  // namespace td::server
