// KeyAverages::table: PyTorch 1.13's key_averages table (torch/autograd/profiler_util.py's _build_table,
// reproduced step by step), including the CUDA time columns of its legacy (CUDA-event) profiler.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/profiler/profiler.h"

namespace td::profiler {

// ---- the table ----

const FunctionEventAvg* KeyAverages::find(std::string_view key) const {
  for (const auto& r : rows_) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

double KeyAverages::self_cpu_time_total() const {
  double total = 0;
  for (const auto& r : rows_) total += r.self_cpu_time_total;
  return total;
}

namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// profiler_util.py's _format_time: microseconds in, "1.234ms" out.
std::string format_time(double us) {
  if (us >= 1e6) return format("%.3fs", us / 1e6);
  if (us >= 1e3) return format("%.3fms", us / 1e3);
  return format("%.3fus", us);
}

// _format_time_share.
std::string format_time_share(double us, double total_us) {
  if (total_us == 0) return "NaN";
  return format("%.2f%%", us * 100.0 / total_us);
}

// _format_memory.
std::string format_memory(int64_t nbytes) {
  constexpr double kKB = 1024, kMB = 1024 * kKB, kGB = 1024 * kMB;
  double b = static_cast<double>(nbytes);
  if (std::abs(b) >= kGB) return format("%.2f Gb", b / kGB);
  if (std::abs(b) >= kMB) return format("%.2f Mb", b / kMB);
  if (std::abs(b) >= kKB) return format("%.2f Kb", b / kKB);
  return std::to_string(nbytes) + " b";
}

double sort_value(const FunctionEventAvg& r, const std::string& key) {
  if (key == "self_cpu_time_total") return r.self_cpu_time_total;
  if (key == "cpu_time_total") return r.cpu_time_total;
  if (key == "cpu_time") return r.cpu_time();
  if (key == "count") return static_cast<double>(r.count);
  if (key == "cpu_memory_usage") return static_cast<double>(r.cpu_memory_usage);
  if (key == "self_cpu_memory_usage") return static_cast<double>(r.self_cpu_memory_usage);
  if (key == "cuda_memory_usage") return static_cast<double>(r.cuda_memory_usage);
  if (key == "self_cuda_memory_usage") return static_cast<double>(r.self_cuda_memory_usage);
  if (key == "flops") return static_cast<double>(r.flops);
  if (key == "cuda_time_total") return r.cuda_time_total;
  if (key == "self_cuda_time_total") return r.self_cuda_time_total;
  if (key == "cuda_time") return r.cuda_time();
  throw Error(ErrorCode::kInvalidArgument,
              str("[profiler] 'FunctionEventAvg' object has no attribute '", key, "'"));
}

// Python's '{: >N}'.format(s): right-aligned in at least N characters.
std::string right(const std::string& s, int64_t width) {
  return static_cast<int64_t>(s.size()) >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::string KeyAverages::table(std::string_view sort_by, int64_t row_limit) const {
  TableOptions options;
  options.sort_by = std::string(sort_by);
  options.row_limit = row_limit;
  return table(options);
}

std::string KeyAverages::table(const TableOptions& options) const {
  if (rows_.empty()) return "";
  std::vector<const FunctionEventAvg*> events;
  for (const auto& r : rows_) events.push_back(&r);
  if (!options.sort_by.empty()) {
    // Python's sorted(reverse=True) is stable: equal rows keep their first-seen order.
    std::vector<std::pair<double, const FunctionEventAvg*>> keyed;
    for (const auto* e : events) keyed.emplace_back(sort_value(*e, options.sort_by), e);
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < keyed.size(); ++i) events[i] = keyed[i].second;
  }
  bool has_input_shapes = std::any_of(events.begin(), events.end(), [](const FunctionEventAvg* e) {
    return !e->input_shapes.empty() && e->input_shapes != "[]";
  });
  int64_t name_width = 0, shapes_width = 0;
  for (const auto* e : events) {
    name_width = std::max<int64_t>(name_width, static_cast<int64_t>(e->key.size()) + 4);
    // str(evt.input_shapes) of "" is "", of an empty list "[]".
    shapes_width = std::max<int64_t>(shapes_width, static_cast<int64_t>(e->input_shapes.size()) + 4);
  }
  name_width = std::min(name_width, options.max_name_column_width);
  shapes_width = std::min(shapes_width, options.max_shapes_column_width);
  constexpr int64_t kColumn = 12;
  constexpr int64_t kSpacing = 2;

  std::vector<std::string> headers = {"Name",        "Self CPU %", "Self CPU",
                                      "CPU total %", "CPU total",  "CPU time avg"};
  const bool has_cuda_time = std::any_of(events.begin(), events.end(),
                                         [](const FunctionEventAvg* e) { return e->self_cuda_time_total > 0; });
  if (has_cuda_time) {
    for (const char* h : {"Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg"}) headers.push_back(h);
  }
  if (profile_memory_) {
    headers.push_back("CPU Mem");
    headers.push_back("Self CPU Mem");
    // PyTorch adds CUDA memory columns when any row has self CUDA memory > 0.
  }
  bool has_cuda_mem =
      profile_memory_ && std::any_of(events.begin(), events.end(),
                                     [](const FunctionEventAvg* e) { return e->self_cuda_memory_usage > 0; });
  if (has_cuda_mem) {
    headers.push_back("CUDA Mem");
    headers.push_back("Self CUDA Mem");
  }
  headers.push_back("# of Calls");
  std::vector<int64_t> widths = {name_width};
  for (size_t i = 1; i < headers.size(); ++i) widths.push_back(kColumn);
  if (has_input_shapes) {
    headers.push_back("Input Shapes");
    widths.push_back(shapes_width);
  }
  bool with_flops = with_flops_;
  double flops_scale = 1;
  if (with_flops) {
    int64_t min_flops = 0;
    for (const auto* e : events) {
      if (e->flops > 0 && (min_flops == 0 || e->flops < min_flops)) min_flops = e->flops;
    }
    if (min_flops > 0) {
      static const char* kUnits[] = {"FLOPs", "KFLOPs", "MFLOPs", "GFLOPs", "TFLOPs", "PFLOPs"};
      double log_flops = std::max(0.0, std::min(std::log10(static_cast<double>(min_flops)) / 3, 5.0));
      flops_scale = std::pow(10.0, std::floor(log_flops) * -3.0);
      headers.push_back(std::string("Total ") + kUnits[static_cast<int>(log_flops)]);
      widths.push_back(kColumn);
    } else {
      with_flops = false;
    }
  }
  int64_t line_length = -kSpacing;
  std::string header_sep;
  for (int64_t w : widths) {
    header_sep += std::string(w, '-') + std::string(kSpacing, ' ');
    line_length += w + kSpacing;
  }
  auto row = [&](const std::vector<std::string>& values) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i)
      out += right(values[i], widths[i]) + std::string(kSpacing, ' ');
    return out;
  };

  double sum_self_cpu = 0, sum_self_cuda = 0;
  for (const auto* e : events) sum_self_cpu += e->self_cpu_time_total;
  // Every event is a CPU event carrying its CUDA time, as the legacy profiler's: they all count.
  for (const auto* e : events) sum_self_cuda += e->self_cuda_time_total;

  std::string out;
  auto append = [&](const std::string& s) { out += s + "\n"; };
  if (options.header) {
    append(std::string(line_length, '='));
    append(*options.header);
  }
  append(header_sep);
  append(row(headers));
  append(header_sep);
  int64_t shown = 0;
  for (const auto* e : events) {
    if (shown == options.row_limit) break;
    ++shown;
    std::string name = e->key;
    if (static_cast<int64_t>(name.size()) >= options.max_name_column_width - 3) {
      name = name.substr(0, options.max_name_column_width - 3) + "...";
    }
    std::vector<std::string> values = {
        name,
        format_time_share(e->self_cpu_time_total, sum_self_cpu),
        format_time(e->self_cpu_time_total),
        format_time_share(e->cpu_time_total, sum_self_cpu),
        format_time(e->cpu_time_total),
        format_time(e->cpu_time()),
    };
    if (has_cuda_time) {
      values.push_back(format_time(e->self_cuda_time_total));
      values.push_back(format_time_share(e->self_cuda_time_total, sum_self_cuda));
      values.push_back(format_time(e->cuda_time_total));
      values.push_back(format_time(e->cuda_time()));
    }
    if (profile_memory_) {
      values.push_back(format_memory(e->cpu_memory_usage));
      values.push_back(format_memory(e->self_cpu_memory_usage));
      if (has_cuda_mem) {
        values.push_back(format_memory(e->cuda_memory_usage));
        values.push_back(format_memory(e->self_cuda_memory_usage));
      }
    }
    values.push_back(std::to_string(e->count));
    if (has_input_shapes) values.push_back(e->input_shapes.substr(0, shapes_width));
    if (with_flops)
      values.push_back(e->flops <= 0 ? "--" : format("%8.3f", static_cast<double>(e->flops) * flops_scale));
    append(row(values));
  }
  append(header_sep);
  append("Self CPU time total: " + format_time(sum_self_cpu));
  if (has_cuda_time) append("Self CUDA time total: " + format_time(sum_self_cuda));
  return out;
}

}  // namespace td::profiler
