// td::vision::io: torchvision.io's image reading and writing. Images are uint8 tensors [C, H, W]; PNG goes
// through libpng, JPEG through libjpeg(-turbo).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace td::vision::io {

/// The channels to decode into (torchvision.io.ImageReadMode).
enum class ImageReadMode { kUnchanged, kGray, kGrayAlpha, kRGB, kRGBAlpha };

/// A file's bytes as a uint8 [N] tensor (torchvision.io.read_file).
Tensor read_file(const std::string& path);
/// Writes a uint8 [N] tensor's bytes to a file (torchvision.io.write_file).
void write_file(const std::string& path, const Tensor& data);

/// Decodes PNG bytes (uint8 [N]) into uint8 [C, H, W]: 8-bit images only; palettes expand to RGB(A)
/// (torchvision.io.decode_png).
Tensor decode_png(const Tensor& data, ImageReadMode mode = ImageReadMode::kUnchanged);
/// Decodes JPEG bytes into uint8 [C, H, W] (1 channel for grayscale, else RGB) (torchvision.io.decode_jpeg).
Tensor decode_jpeg(const Tensor& data, ImageReadMode mode = ImageReadMode::kUnchanged);
/// Decodes PNG or JPEG bytes, told apart by their signature (torchvision.io.decode_image).
Tensor decode_image(const Tensor& data, ImageReadMode mode = ImageReadMode::kUnchanged);
/// decode_image of a file's bytes (torchvision.io.read_image).
Tensor read_image(const std::string& path, ImageReadMode mode = ImageReadMode::kUnchanged);

/// Encodes uint8 [C, H, W] with C in 1-4 as PNG bytes; compression_level 0-9 (torchvision.io.encode_png).
Tensor encode_png(const Tensor& image, int compression_level = 6);
/// encode_png into a file (torchvision.io.write_png).
void write_png(const Tensor& image, const std::string& path, int compression_level = 6);
/// Encodes uint8 [C, H, W] with C 1 or 3 as JPEG bytes; quality 1-100 (torchvision.io.encode_jpeg).
Tensor encode_jpeg(const Tensor& image, int quality = 75);
/// encode_jpeg into a file (torchvision.io.write_jpeg).
void write_jpeg(const Tensor& image, const std::string& path, int quality = 75);

}  // namespace td::vision::io
