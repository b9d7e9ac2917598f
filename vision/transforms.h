// td::vision::transforms: torchvision.transforms on tensors. An image is a tensor [..., C, H, W] (after
// ToTensor or io::read_image) or, as read from MNIST, uint8 [H, W] or [H, W, C]. Random transforms draw from
// td's current generator, so a DataLoader worker's own generator makes them reproducible. The functional
// forms (torchvision.transforms.functional on tensors) are in transforms::functional.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace td::vision::transforms {

/// torchvision's InterpolationMode for tensors.
enum class InterpolationMode { kNearest, kBilinear, kBicubic };

namespace functional {
/// Resizes the last two dims of [..., C, H, W]: size {s} scales the shorter side to s (the longer one
/// int(s * long / short), capped by max_size), {h, w} sets both; integer images go through float32 and
/// are rounded back (bicubic clamped to 0..255 for uint8). antialias=False behaviour (torchvision 0.14's
/// default for tensors).
Tensor resize(const Tensor& image, std::vector<int64_t> size, InterpolationMode interpolation =
              InterpolationMode::kBilinear, std::optional<int64_t> max_size = std::nullopt);
/// crop(top, left, height, width) then resize (F.resized_crop).
Tensor resized_crop(const Tensor& image, int64_t top, int64_t left, int64_t height, int64_t width,
                    std::vector<int64_t> size, InterpolationMode interpolation = InterpolationMode::kBilinear);
/// Rotates counter-clockwise by angle degrees about center (pixel coordinates; the image centre when empty),
/// sampling nearest or bilinear through an affine grid; expand grows the output to hold the whole rotated
/// image; fill (one value or one per channel) paints the area outside (F.rotate).
Tensor rotate(const Tensor& image, double angle, InterpolationMode interpolation = InterpolationMode::kNearest,
              bool expand = false, std::vector<double> center = {}, std::vector<double> fill = {});
/// Rotation by angle, translation by translate (pixels), scaling by scale and shearing by shear (degrees:
/// one value for x, or x and y) about center (the image centre when empty), with the output the input's size
/// (F.affine; nearest or bilinear, fill as in rotate).
Tensor affine(const Tensor& image, double angle, std::vector<double> translate, double scale, std::vector<double> shear,
              InterpolationMode interpolation = InterpolationMode::kNearest, std::vector<double> fill = {},
              std::vector<double> center = {});
/// The perspective transform taking the four startpoints ([x, y], top-left first, clockwise) to the four
/// endpoints (F.perspective; nearest or bilinear, fill as in rotate).
Tensor perspective(const Tensor& image, const std::vector<std::array<double, 2>>& startpoints,
                   const std::vector<std::array<double, 2>>& endpoints,
                   InterpolationMode interpolation = InterpolationMode::kBilinear, std::vector<double> fill = {});
/// 0.2989 R + 0.587 G + 0.114 B, in 1 or 3 channels (F.rgb_to_grayscale).
Tensor rgb_to_grayscale(const Tensor& image, int64_t num_output_channels = 1);
/// factor * image, clamped to the dtype's range (F.adjust_brightness).
Tensor adjust_brightness(const Tensor& image, double factor);
/// Blends with the mean of the grayscale image (F.adjust_contrast).
Tensor adjust_contrast(const Tensor& image, double factor);
/// Blends with the grayscale image (F.adjust_saturation).
Tensor adjust_saturation(const Tensor& image, double factor);
/// Shifts the hue by hue_factor in [-0.5, 0.5] turns through HSV (F.adjust_hue).
Tensor adjust_hue(const Tensor& image, double hue_factor);
/// Gaussian blur with kernel_size (kx, ky), odd, and sigma (sx, sy), reflect-padded (F.gaussian_blur).
Tensor gaussian_blur(const Tensor& image, std::vector<int64_t> kernel_size, std::vector<double> sigma);
/// A copy with [..., i:i+h, j:j+w] set to v (broadcast) (F.erase).
Tensor erase(const Tensor& image, int64_t i, int64_t j, int64_t h, int64_t w, const Tensor& v);
/// Converts between dtypes rescaling values: floats in [0, 1], integers in [0, max] (F.convert_image_dtype).
Tensor convert_image_dtype(const Tensor& image, DType dtype = DType::kFloat32);
}  // namespace functional

/// A callable image transform with torchvision's repr.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor operator()(const Tensor& image) const = 0;
  /// "Normalize(mean=(0.5,), std=(0.5,))".
  virtual std::string repr() const = 0;
};

/// The transforms one after the other (transforms.Compose).
class Compose : public Transform {
 public:
  explicit Compose(std::vector<std::shared_ptr<Transform>> transforms);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<std::shared_ptr<Transform>> transforms_;
};

/// uint8 [H, W] or [H, W, C] in 0..255 to float32 [C, H, W] in [0, 1]; other dtypes keep their values
/// (transforms.ToTensor).
class ToTensor : public Transform {
 public:
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override { return "ToTensor()"; }
};

/// (x - mean[c]) / std[c] per channel of a float [..., C, H, W] image (transforms.Normalize).
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<double> mean_, std_;
};

/// The central crop of size (h, w); an image smaller than that is zero-padded first (transforms.CenterCrop).
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(std::vector<int64_t> size);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<int64_t> size_;
};

/// Pads the last two dims by (left, top, right, bottom); one value pads all sides, two pad left/right and
/// top/bottom (transforms.Pad). padding_mode: "constant" (with fill), "edge", "reflect" or "symmetric".
class Pad : public Transform {
 public:
  explicit Pad(std::vector<int64_t> padding, double fill = 0, std::string padding_mode = "constant");
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<int64_t> padding_;  // left, top, right, bottom
  double fill_;
  std::string mode_;
};

/// A crop of size (h, w) at a uniformly drawn place, after optional padding (transforms.RandomCrop).
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(std::vector<int64_t> size, std::optional<std::vector<int64_t>> padding = std::nullopt,
                      bool pad_if_needed = false, double fill = 0, std::string padding_mode = "constant");
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<int64_t> size_;
  std::optional<std::vector<int64_t>> padding_;
  bool pad_if_needed_;
  double fill_;
  std::string mode_;
};

/// Mirrors the last dim with probability p (transforms.RandomHorizontalFlip).
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  double p_;
};

/// Mirrors the second-to-last dim with probability p (transforms.RandomVerticalFlip).
class RandomVerticalFlip : public Transform {
 public:
  explicit RandomVerticalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  double p_;
};

/// Any function as a transform (transforms.Lambda).
class Lambda : public Transform {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor operator()(const Tensor& image) const override { return fn_(image); }
  std::string repr() const override { return "Lambda()"; }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

/// Resizes to size (one value: the shorter side, as torchvision; or (h, w)) (transforms.Resize).
class Resize : public Transform {
 public:
  explicit Resize(std::vector<int64_t> size, InterpolationMode interpolation = InterpolationMode::kBilinear,
                  std::optional<int64_t> max_size = std::nullopt, std::optional<bool> antialias = std::nullopt);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<int64_t> size_;
  InterpolationMode interpolation_;
  std::optional<int64_t> max_size_;
  std::optional<bool> antialias_;
};

/// A crop of random area fraction in scale and aspect ratio in ratio (log-uniform), resized to size
/// (transforms.RandomResizedCrop).
class RandomResizedCrop : public Transform {
 public:
  explicit RandomResizedCrop(std::vector<int64_t> size, std::vector<double> scale = {0.08, 1.0},
                             std::vector<double> ratio = {3.0 / 4.0, 4.0 / 3.0},
                             InterpolationMode interpolation = InterpolationMode::kBilinear);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;
  /// The crop (top, left, height, width) torchvision's get_params draws for an image of h x w.
  std::array<int64_t, 4> get_params(int64_t height, int64_t width) const;

 private:
  std::vector<int64_t> size_;
  std::vector<double> scale_, ratio_;
  InterpolationMode interpolation_;
};

/// Rotation by an angle drawn uniformly from degrees ({d}: [-d, d]) (transforms.RandomRotation).
class RandomRotation : public Transform {
 public:
  explicit RandomRotation(std::vector<double> degrees, InterpolationMode interpolation = InterpolationMode::kNearest,
                          bool expand = false, std::vector<double> center = {}, std::vector<double> fill = {0});
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<double> degrees_, center_, fill_;
  InterpolationMode interpolation_;
  bool expand_;
};

/// A random affine map (transforms.RandomAffine): angle uniform in degrees ({d}: [-d, d]); translation up to
/// translate[0] * width and translate[1] * height pixels each way (rounded, empty: none); scale uniform in
/// scale (empty: 1); shear uniform in shear ({s}: x in [-s, s]; two values: x's range; four: x's and y's;
/// empty: none).
class RandomAffine : public Transform {
 public:
  explicit RandomAffine(std::vector<double> degrees, std::vector<double> translate = {}, std::vector<double> scale = {},
                        std::vector<double> shear = {}, InterpolationMode interpolation = InterpolationMode::kNearest,
                        std::vector<double> fill = {0}, std::vector<double> center = {});
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<double> degrees_, translate_, scale_, shear_, fill_, center_;
  InterpolationMode interpolation_;
};

/// With probability p, a random perspective transform moving each corner inwards by up to distortion_scale of
/// half the image (transforms.RandomPerspective).
class RandomPerspective : public Transform {
 public:
  explicit RandomPerspective(double distortion_scale = 0.5, double p = 0.5,
                             InterpolationMode interpolation = InterpolationMode::kBilinear, std::vector<double> fill = {0});
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;
  /// torchvision's get_params: the corners (top-left, top-right, bottom-right, bottom-left) and where they go.
  static std::pair<std::vector<std::array<double, 2>>, std::vector<std::array<double, 2>>> get_params(
      int64_t width, int64_t height, double distortion_scale);

 private:
  double distortion_scale_, p_;
  InterpolationMode interpolation_;
  std::vector<double> fill_;
};

/// Random brightness, contrast, saturation and hue changes in a random order (transforms.ColorJitter). A
/// number v gives [max(0, 1 - v), 1 + v] ([-v, v] for hue); a pair gives the range.
class ColorJitter : public Transform {
 public:
  explicit ColorJitter(std::vector<double> brightness = {0}, std::vector<double> contrast = {0},
                       std::vector<double> saturation = {0}, std::vector<double> hue = {0});
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::optional<std::array<double, 2>> brightness_, contrast_, saturation_, hue_;
};

/// RGB to grayscale with 1 or 3 output channels (transforms.Grayscale).
class Grayscale : public Transform {
 public:
  explicit Grayscale(int64_t num_output_channels = 1);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  int64_t channels_;
};

/// Grayscale (keeping the channel count) with probability p (transforms.RandomGrayscale).
class RandomGrayscale : public Transform {
 public:
  explicit RandomGrayscale(double p = 0.1);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  double p_;
};

/// Gaussian blur with sigma drawn uniformly from (min, max) ({s}: exactly s) (transforms.GaussianBlur).
class GaussianBlur : public Transform {
 public:
  explicit GaussianBlur(std::vector<int64_t> kernel_size, std::vector<double> sigma = {0.1, 2.0});
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  std::vector<int64_t> kernel_size_;
  std::vector<double> sigma_;
};

/// With probability p, sets a random rectangle (area fraction in scale, aspect ratio in ratio) to value: one
/// number, one per channel, or normal noise when `random_value` (transforms.RandomErasing).
class RandomErasing : public Transform {
 public:
  explicit RandomErasing(double p = 0.5, std::vector<double> scale = {0.02, 0.33},
                         std::vector<double> ratio = {0.3, 3.3}, std::vector<double> value = {0},
                         bool random_value = false);
  Tensor operator()(const Tensor& image) const override;
  std::string repr() const override;

 private:
  double p_;
  std::vector<double> scale_, ratio_, value_;
  bool random_;
};

/// Converts the image to dtype, rescaling values (transforms.ConvertImageDtype).
class ConvertImageDtype : public Transform {
 public:
  explicit ConvertImageDtype(DType dtype) : dtype_(dtype) {}
  Tensor operator()(const Tensor& image) const override { return functional::convert_image_dtype(image, dtype_); }
  std::string repr() const override { return "ConvertImageDtype()"; }

 private:
  DType dtype_;
};

}  // namespace td::vision::transforms
