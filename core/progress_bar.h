// A progress bar for training loops, redrawn in place on a terminal stream (what tqdm is to PyTorch users):
//   epoch 1 [=========>                    ] 412/938 loss 0.4821 35.2 it/s
// Local and remote loops (td::remote::ProgressBar) use the same one.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace td {

class ProgressBar {
 public:
  /// `total` steps (0: unknown, no bar), `label` before the bar ("epoch 1"), drawn on `out`.
  explicit ProgressBar(int64_t total, std::string label = "", std::FILE* out = stderr);

  /// Moves to `done` steps and redraws. A loss given is shown smoothed (each new value weighs 0.2), as
  /// reading it every few steps is what a remote loop can afford.
  void update(int64_t done, std::optional<double> loss = std::nullopt);
  /// Ends the bar's line (once; the destructor does it too).
  void finish();
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// The text last drawn, without the carriage return.
  const std::string& line() const { return line_; }
  /// The smoothed loss shown, if any was given.
  std::optional<double> smoothed_loss() const { return loss_; }

 private:
  static constexpr int kWidth = 30;
  int64_t total_;
  std::string label_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::optional<double> loss_;
  std::string line_;
  bool finished_ = false;
};

}  // namespace td
