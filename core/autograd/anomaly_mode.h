// Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly): while it is on, each recorded
// node remembers the forward op that made it (name and input shapes, and the innermost nn::Module call in
// progress: the C++ stand-in for PyTorch's forward traceback), a backward node that returns NaN fails naming
// both, and any other error inside a node's backward gets the same line appended.
#pragma once

#include <string>
#include <vector>

namespace td::autograd {

/// Process-wide, as PyTorch's AnomalyMode.
class AnomalyMode {
 public:
  static bool is_enabled();
  /// Whether backward checks every node's output gradients for NaN (on unless turned off).
  static bool should_check_nan();
  static void set_enabled(bool enabled, bool check_nan = true);
};

/// A module call in progress on this thread while anomaly mode is on (nn::Module::call keeps them):
/// `module` identifies it, `path` is its dotted name under the outermost call ("features.0"; "" for that
/// one), `type` its class name.
struct AnomalyModuleFrame {
  const void* module;
  std::string path;
  std::string type;
};
/// The thread's module calls in progress, innermost last.
std::vector<AnomalyModuleFrame>& anomaly_module_stack();

/// torch.autograd.set_detect_anomaly(mode).
inline void set_detect_anomaly(bool enabled, bool check_nan = true) {
  AnomalyMode::set_enabled(enabled, check_nan);
}
/// torch.is_anomaly_enabled().
inline bool is_anomaly_enabled() {
  return AnomalyMode::is_enabled();
}

/// Turns anomaly detection on for a scope (torch.autograd.detect_anomaly()), restoring the previous setting.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool check_nan = true)
      : prev_(AnomalyMode::is_enabled()), prev_check_nan_(AnomalyMode::should_check_nan()) {
    AnomalyMode::set_enabled(true, check_nan);
  }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_, prev_check_nan_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
  bool prev_check_nan_;
};

}  // namespace td::autograd
