#include "core/progress_bar.h"

#include <algorithm>

namespace td {

ProgressBar::ProgressBar(int64_t total, std::string label, std::FILE* out)
    : total_(std::max<int64_t>(total, 0)), label_(std::move(label)), out_(out) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, std::optional<double> loss) {
  if (loss) loss_ = loss_ ? 0.8 * *loss_ + 0.2 * *loss : *loss;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string text = label_;
  if (total_ > 0) {
    const int64_t clamped = std::clamp<int64_t>(done, 0, total_);
    const int filled = static_cast<int>(kWidth * clamped / total_);
    std::string bar(kWidth, ' ');
    for (int i = 0; i < kWidth; ++i) bar[static_cast<size_t>(i)] = i < filled ? '=' : i == filled ? '>' : ' ';
    if (!text.empty()) text += ' ';
    text += "[" + bar + "] " + std::to_string(done) + "/" + std::to_string(total_);
  } else {
    if (!text.empty()) text += ' ';
    text += std::to_string(done);
  }
  char tail[64];
  if (loss_) {
    std::snprintf(tail, sizeof tail, " loss %.4f", *loss_);
    text += tail;
  }
  std::snprintf(tail, sizeof tail, " %.1f it/s", seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
  text += tail;
  line_ = std::move(text);
  if (out_) {
    std::fprintf(out_, "\r%s", line_.c_str());
    std::fflush(out_);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (out_ && !line_.empty()) std::fputc('\n', out_);
}

}  // namespace td
