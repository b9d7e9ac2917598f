// Grad mode and inference mode: whether ops record the graph (torch.no_grad / torch.enable_grad /
// torch.inference_mode).
#pragma once

namespace td::autograd {

/// Thread-local switch read by every op.
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

/// Disables recording for a scope (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Sets grad mode for a scope (torch.set_grad_enabled / enable_grad()).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(enabled); }
  ~GradModeGuard() { GradMode::set_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

/// c10::InferenceMode: a scope with grad mode off whose new tensors are inference tensors
/// (Tensor::is_inference()). Inference tensors have no version counter, cannot be saved for backward, and
/// cannot be updated in place outside inference mode. InferenceMode(false) inside one turns it off again
/// (and grad mode back on), as in PyTorch.
class InferenceMode {
 public:
  explicit InferenceMode(bool enabled = true);
  ~InferenceMode();
  InferenceMode(const InferenceMode&) = delete;
  InferenceMode& operator=(const InferenceMode&) = delete;
  /// Whether this thread is inside an enabled InferenceMode scope.
  static bool is_enabled();

 private:
  bool prev_inference_;
  bool prev_grad_;
};

}  // namespace td::autograd
