// The profiler's entry points for the code it observes: the op registry, the storage allocator, the autograd
// engine and nn::Module::call. Kept apart from profiler.h so those files pay one relaxed atomic load and a
// predictable branch when no profiler runs, and include nothing heavy.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace td {
struct OpDef;
class Args;
class Tensor;
struct Device;
namespace nn {
class Module;
}
}  // namespace td

namespace td::profiler::detail {

/// How many traces record now (a process-wide one, thread-bound ones): when zero, nothing is recorded.
extern std::atomic<int> g_recording;
/// How many recording traces count memory (profile_memory).
extern std::atomic<int> g_memory;

inline bool recording() {
  return g_recording.load(std::memory_order_relaxed) > 0;
}

/// Bytes a storage allocated (> 0) or freed (< 0), charged to the innermost event open on this thread.
void record_memory(int64_t bytes, const Device& device);

/// Records one registry op call from begin to destruction (an op that throws is recorded too).
class OpScope {
 public:
  OpScope(const OpDef& def, const Args& args);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
  /// Gives the outputs, for FLOPs that depend on the output's shape (convolutions).
  void set_outputs(const std::vector<Tensor>& outputs);

 private:
  bool open_ = false;
};

/// Records a named range (record_function, autograd's evaluate_function) from construction to destruction.
class RangeScope {
 public:
  enum class Kind : uint8_t { kUser, kBackward };
  RangeScope(Kind kind, std::string name);
  ~RangeScope();
  RangeScope(const RangeScope&) = delete;
  RangeScope& operator=(const RangeScope&) = delete;

 private:
  bool open_ = false;
};

/// Marks a module's call (with_modules): ops inside carry its dotted name ("features.0").
class ModuleScope {
 public:
  explicit ModuleScope(const nn::Module& module);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  bool open_ = false;
};

}  // namespace td::profiler::detail
