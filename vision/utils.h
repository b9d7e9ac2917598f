// td::vision::utils: torchvision.utils' make_grid and save_image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace td::vision::utils {

/// make_grid's and save_image's options, as torchvision.utils.make_grid's keyword arguments.
struct GridOptions {
  int64_t nrow = 8;        ///< images per row
  int64_t padding = 2;     ///< pixels around and between images
  bool normalize = false;  ///< shift and scale to [0, 1] by value_range or the min and max
  std::optional<std::pair<double, double>> value_range;
  bool scale_each = false;  ///< normalize each image by its own range
  double pad_value = 0.0;
};

/// Tiles images [B, C, H, W] (or one [C, H, W] or [H, W]) into one [C, H', W'] image, nrow per row, single
/// channels repeated to three (torchvision.utils.make_grid).
Tensor make_grid(const Tensor& images, const GridOptions& options = {});
/// make_grid of a list of same-shaped [C, H, W] images.
Tensor make_grid(const std::vector<Tensor>& images, const GridOptions& options = {});
/// Writes make_grid's image, scaled from [0, 1] to uint8 with rounding, as PNG or (by a .jpg/.jpeg name) JPEG
/// of quality 75 (torchvision.utils.save_image, whose PIL picks the format by the name).
void save_image(const Tensor& images, const std::string& path, const GridOptions& options = {});

}  // namespace td::vision::utils
