// Metrics of the machine rather than of tensord's own work, read at scrape: Prometheus' conventional
// process_* series (from /proc/self) and the GPUs' utilisation and memory through NVML.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

namespace td::server {

/// An empty family of one type, to fill with add_sample.
prometheus::MetricFamily metric_family(std::string name, std::string help,
                                       prometheus::MetricType type = prometheus::MetricType::Gauge);
/// Appends one sample (a gauge's or a counter's value, by the family's type) with its labels.
void add_sample(prometheus::MetricFamily& family, double value,
                std::vector<prometheus::ClientMetric::Label> labels = {});

/// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
/// process_max_fds, process_start_time_seconds and process_threads, as Prometheus' client libraries name them.
std::shared_ptr<prometheus::Collectable> make_process_collector();

/// tensord_gpu_utilization_ratio, tensord_gpu_memory_used_bytes and tensord_gpu_memory_total_bytes per GPU,
/// through the driver's NVML (libnvidia-ml.so.1, opened at run time so the server needs no GPU to start);
/// nullptr when NVML cannot be loaded or initialised.
std::shared_ptr<prometheus::Collectable> make_nvml_collector();

}  // namespace td::server
