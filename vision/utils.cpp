// make_grid and save_image, step for step as torchvision 0.14's Python.
#include "vision/utils.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "vision/io.h"

namespace td::vision::utils {

namespace {
// torchvision's norm_ip: clamp to [low, high], then (x - low) / max(high - low, 1e-5).
Tensor norm_ip(const Tensor& img, double low, double high) {
  return img.clamp(Scalar(low), Scalar(high)).sub(Scalar(low)).div(Scalar(std::max(high - low, 1e-5)));
}

Tensor norm_range(const Tensor& t, const std::optional<std::pair<double, double>>& range) {
  if (range) return norm_ip(t, range->first, range->second);
  return norm_ip(t, t.min().to(DType::kFloat64).item<double>(), t.max().to(DType::kFloat64).item<double>());
}
}  // namespace

Tensor make_grid(const Tensor& images, const GridOptions& o) {
  Tensor t = images;
  if (t.dim() == 2) t = t.unsqueeze(0);
  if (t.dim() == 3) {
    if (t.size(0) == 1) t = Tensor::cat({t, t, t}, 0);
    t = t.unsqueeze(0);
  }
  TD_CHECK_ARG(t.dim() == 4, "[make_grid] expected images [B, C, H, W], [C, H, W] or [H, W], got ",
               shape_str(images.sizes()));
  if (t.size(1) == 1) t = Tensor::cat({t, t, t}, 1);
  if (o.normalize) {
    if (o.scale_each) {
      std::vector<Tensor> each;
      for (int64_t i = 0; i < t.size(0); ++i) each.push_back(norm_range(t.select(0, i), o.value_range));
      t = Tensor::stack(each, 0);
    } else {
      t = norm_range(t, o.value_range);
    }
  }
  if (t.size(0) == 1) return t.squeeze(0);
  TD_CHECK_ARG(o.nrow > 0, "[make_grid] nrow must be positive, got ", o.nrow);
  const int64_t nmaps = t.size(0), xmaps = std::min(o.nrow, nmaps), ymaps = (nmaps + xmaps - 1) / xmaps;
  const int64_t height = t.size(2) + o.padding, width = t.size(3) + o.padding, channels = t.size(1);
  Tensor grid = full({channels, height * ymaps + o.padding, width * xmaps + o.padding}, Scalar(o.pad_value),
                     {t.dtype(), t.device()});
  int64_t k = 0;
  for (int64_t y = 0; y < ymaps && k < nmaps; ++y) {
    for (int64_t x = 0; x < xmaps && k < nmaps; ++x, ++k) {
      grid.narrow(1, y * height + o.padding, height - o.padding)
          .narrow(2, x * width + o.padding, width - o.padding)
          .copy_(t.select(0, k));
    }
  }
  return grid;
}

Tensor make_grid(const std::vector<Tensor>& images, const GridOptions& options) {
  TD_CHECK_ARG(!images.empty(), "[make_grid] expected at least one image");
  return make_grid(Tensor::stack(images, 0), options);
}

void save_image(const Tensor& images, const std::string& path, const GridOptions& options) {
  Tensor grid = make_grid(images, options);
  // + 0.5 after scaling to [0, 255] rounds to the nearest integer, as torchvision.
  Tensor pixels = grid.mul(Scalar(255)).add(Scalar(0.5)).clamp(Scalar(0), Scalar(255)).to(DType::kUInt8);
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  auto ends = [&](const std::string& e) {
    return lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".jpg") || ends(".jpeg")) return io::write_jpeg(pixels, path, 75);
  TD_CHECK_ARG(ends(".png"), "[save_image] unknown file extension of '", path, "': use .png, .jpg or .jpeg");
  io::write_png(pixels, path);
}

}  // namespace td::vision::utils
