#include "server/system_metrics.h"

#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <fstream>
#include <sstream>

namespace td::server {

prometheus::MetricFamily metric_family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_sample(prometheus::MetricFamily& family, double value, std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

namespace {

// ---- process ----

/// The fields of /proc/self/stat after the command name (field 3, the state, is index 0).
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  const size_t close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const std::vector<std::string> f = proc_stat_fields();
    if (f.size() > 21) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      auto field = [&](size_t stat_field) { return std::stod(f[stat_field - 3]); };
      auto cpu = metric_family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                               prometheus::MetricType::Counter);
      add_sample(cpu, (field(14) + field(15)) / ticks);
      out.push_back(std::move(cpu));
      auto threads = metric_family("process_threads", "Number of OS threads in the process.");
      add_sample(threads, field(20));
      out.push_back(std::move(threads));
      auto start = metric_family("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.");
      add_sample(start, boot_time_seconds() + field(22) / ticks);
      out.push_back(std::move(start));
      auto vsize = metric_family("process_virtual_memory_bytes", "Virtual memory size in bytes.");
      add_sample(vsize, field(23));
      out.push_back(std::move(vsize));
      auto rss = metric_family("process_resident_memory_bytes", "Resident memory size in bytes.");
      add_sample(rss, field(24) * page);
      out.push_back(std::move(rss));
    }
    std::error_code ec;
    size_t fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
         it.increment(ec)) {
      ++fds;
    }
    auto open = metric_family("process_open_fds", "Number of open file descriptors.");
    add_sample(open, static_cast<double>(fds));
    out.push_back(std::move(open));
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      auto max = metric_family("process_max_fds", "Maximum number of open file descriptors.");
      add_sample(max, limit.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(limit.rlim_cur));
      out.push_back(std::move(max));
    }
    return out;
  }
};

// ---- NVML ----
// The few NVML entry points used, declared as nvml.h declares them (a stable C ABI), so the server builds
// without the header and runs without the driver.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;

class NvmlCollector final : public prometheus::Collectable {
 public:
  static std::shared_ptr<NvmlCollector> open() {
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    auto c = std::shared_ptr<NvmlCollector>(new NvmlCollector(lib));
    if (!c->init_ || !c->count_ || !c->handle_ || !c->util_ || !c->memory_ || !c->name_ || c->init_() != kNvmlSuccess) {
      return nullptr;  // the destructor closes the library
    }
    c->initialised_ = true;
    return c;
  }

  ~NvmlCollector() override {
    if (initialised_ && shutdown_) shutdown_();
    dlclose(lib_);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    auto util = metric_family("tensord_gpu_utilization_ratio",
                              "Fraction of the last sample period in which a kernel ran on the GPU (NVML).");
    auto used = metric_family("tensord_gpu_memory_used_bytes", "GPU memory in use by all processes (NVML).");
    auto total = metric_family("tensord_gpu_memory_total_bytes", "GPU memory installed (NVML).");
    unsigned int count = 0;
    if (count_(&count) == kNvmlSuccess) {
      for (unsigned int i = 0; i < count; ++i) {
        nvmlDevice_t dev = nullptr;
        if (handle_(i, &dev) != kNvmlSuccess) continue;
        char name[96] = {};
        if (name_(dev, name, sizeof(name)) != kNvmlSuccess) name[0] = '\0';
        std::vector<prometheus::ClientMetric::Label> labels = {{"gpu", std::to_string(i)}, {"name", name}};
        nvmlUtilization_t u{};
        if (util_(dev, &u) == kNvmlSuccess) add_sample(util, u.gpu / 100.0, labels);
        nvmlMemory_t m{};
        if (memory_(dev, &m) == kNvmlSuccess) {
          add_sample(used, static_cast<double>(m.used), labels);
          add_sample(total, static_cast<double>(m.total), labels);
        }
      }
    }
    return {std::move(util), std::move(used), std::move(total)};
  }

 private:
  explicit NvmlCollector(void* lib) : lib_(lib) {
    load(init_, "nvmlInit_v2");
    load(shutdown_, "nvmlShutdown");
    load(count_, "nvmlDeviceGetCount_v2");
    load(handle_, "nvmlDeviceGetHandleByIndex_v2");
    load(util_, "nvmlDeviceGetUtilizationRates");
    load(memory_, "nvmlDeviceGetMemoryInfo");
    load(name_, "nvmlDeviceGetName");
  }
  template <class F>
  void load(F*& fn, const char* symbol) {
    fn = reinterpret_cast<F*>(dlsym(lib_, symbol));
  }

  void* lib_;
  bool initialised_ = false;
  nvmlReturn_t (*init_)() = nullptr;
  nvmlReturn_t (*shutdown_)() = nullptr;
  nvmlReturn_t (*count_)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle_)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*util_)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory_)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*name_)(nvmlDevice_t, char*, unsigned int) = nullptr;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> make_process_collector() {
  return std::make_shared<ProcessCollector>();
}

std::shared_ptr<prometheus::Collectable> make_nvml_collector() {
  return NvmlCollector::open();
}

}  // namespace td::server
