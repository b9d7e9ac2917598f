// td::vision::transforms: torchvision.transforms on tensors. An image is a tensor [..., C, H, W] (after
// ToTensor) or, as read from a dataset, uint8 [H, W] or [H, W, C]. Random transforms draw from td's current
// generator, so a DataLoader worker's own generator makes them reproducible.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace td::vision::transforms {

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

}  // namespace td::vision::transforms
