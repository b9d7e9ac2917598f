// torch.cuda.memory_stats' dictionary and memory_summary's table (torch/cuda/memory.py of PyTorch 1.13,
// reproduced step by step: the same rows, unit prefixes and column formats).
#include <cstdio>
#include <span>
#include <vector>

#include "core/cuda.h"

namespace td::cuda {

namespace {

struct Metric {
  const char* key;
  const char* name;
  MemoryStatArray MemoryStats::*stat;
  bool bytes;
};

const Metric kMetrics[] = {
    {"allocated_bytes", "Allocated memory", &MemoryStats::allocated_bytes, true},
    {"active_bytes", "Active memory", &MemoryStats::active_bytes, true},
    {"reserved_bytes", "GPU reserved memory", &MemoryStats::reserved_bytes, true},
    {"inactive_split_bytes", "Non-releasable memory", &MemoryStats::inactive_split_bytes, true},
    {"allocation", "Allocations", &MemoryStats::allocation, false},
    {"active", "Active allocs", &MemoryStats::active, false},
    {"segment", "GPU reserved segments", &MemoryStats::segment, false},
    {"inactive_split", "Non-releasable allocs", &MemoryStats::inactive_split, false},
};

// PyTorch's StatType order in the dictionary and the table: all, large pool, small pool.
struct Pool {
  const char* key;
  MemoryPoolIndex index;
  const char* row;
};
const Pool kPools[] = {{"all", kAllPools, nullptr},
                       {"large_pool", kLargePool, "      from large pool"},
                       {"small_pool", kSmallPool, "      from small pool"}};

// Python's // (floor division).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// memory.py's _format_size and _format_count: v scaled down by `base` while the row's first value (pref,
// so that a row's columns share a unit) is at least `threshold`, with the prefix of the last step.
std::string scaled(int64_t v, double pref, std::span<const char* const> prefixes, double threshold, int64_t base,
                   const char* fmt) {
  const char* prefix = prefixes[0];
  for (size_t i = 1; i < prefixes.size() && pref >= threshold; ++i) {
    prefix = prefixes[i];
    v = floor_div(v, base);
    pref /= static_cast<double>(base);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, static_cast<long long>(v), prefix);
  return buf;
}

std::string format_size(int64_t sz, double pref) {
  static const char* const kPrefixes[] = {"B ", "KB", "MB", "GB", "TB", "PB"};
  return scaled(sz, pref, kPrefixes, 768 * 1024, 1024, "%7lld %s");
}

std::string format_count(int64_t cnt, double pref) {
  static const char* const kPrefixes[] = {" ", "K", "M"};
  return scaled(cnt, pref, kPrefixes, 750 * 1000, 1000, "%7lld %s ");
}

// Python's "{:<N}".format(s) / "{:<Nd}".format(v).
std::string left(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::map<std::string, int64_t> memory_stats_dict(const MemoryStats& stats) {
  std::map<std::string, int64_t> d;
  for (const Metric& m : kMetrics) {
    for (const Pool& p : kPools) {
      const MemoryStat& st = (stats.*m.stat)[p.index];
      const std::string prefix = std::string(m.key) + "." + p.key + ".";
      d[prefix + "current"] = st.current;
      d[prefix + "peak"] = st.peak;
      d[prefix + "allocated"] = st.allocated;
      d[prefix + "freed"] = st.freed;
    }
  }
  for (const char* k : {"oversize_allocations", "oversize_segments"}) {
    for (const char* f : {".current", ".peak", ".allocated", ".freed"}) d[std::string(k) + f] = 0;
  }
  d["num_alloc_retries"] = stats.alloc_retries;
  d["num_ooms"] = stats.ooms;
  d["max_split_size"] = -1;
  return d;
}

std::string memory_summary(const MemoryStats& stats, int device, bool abbreviated) {
  std::vector<std::string> lines;
  lines.push_back(std::string(75, '='));
  lines.push_back(" " + std::string(16, ' ') + " PyTorch CUDA memory summary, device ID " +
                  left(std::to_string(device), 17) + " ");
  lines.push_back(std::string(75, '-'));
  lines.push_back("  " + std::string(9, ' ') + " CUDA OOMs: " + left(std::to_string(stats.ooms), 12) + " | " +
                  std::string(6, ' ') + " cudaMalloc retries: " + left(std::to_string(stats.alloc_retries), 8) +
                  "  ");
  lines.push_back(std::string(75, '='));
  lines.push_back("        Metric         | Cur Usage  | Peak Usage | Tot Alloc  | Tot Freed  ");
  auto row = [&](const std::string& name, const MemoryStat& st, const MemoryStat& pref, bool bytes) {
    auto f = [&](int64_t v, int64_t p) {
      return bytes ? format_size(v, static_cast<double>(p)) : format_count(v, static_cast<double>(p));
    };
    lines.push_back(" " + left(name, 21) + " | " + f(st.current, pref.current) + " | " + f(st.peak, pref.peak) +
                    " | " + f(st.allocated, pref.allocated) + " | " + f(st.freed, pref.freed) + " ");
  };
  for (const Metric& m : kMetrics) {
    lines.push_back(std::string(75, '-'));
    const MemoryStatArray& a = stats.*m.stat;
    row(m.name, a[kAllPools], a[kAllPools], m.bytes);
    if (!abbreviated) {
      for (const Pool& p : kPools) {
        if (p.row) row(p.row, a[p.index], a[kAllPools], m.bytes);
      }
    }
  }
  for (const char* name : {"Oversize allocations", "Oversize GPU segments"}) {
    lines.push_back(std::string(75, '-'));
    row(name, MemoryStat{}, MemoryStat{}, false);
  }
  lines.push_back(std::string(75, '='));
  std::string out = "|";
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "|\n|" : "") + lines[i];
  return out + "|\n";
}

}  // namespace td::cuda
