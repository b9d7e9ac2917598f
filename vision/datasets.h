// td::vision::datasets: torchvision's MNIST and FashionMNIST, read from IDX files (plain or gzip) under a
// root folder. A sample is {image, target}: the image is the uint8 [28, 28] tensor, or what `transform` makes
// of it (ToTensor gives float [1, 28, 28] in [0, 1]); the target is an int64 0-dim class index.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "vision/transforms.h"

namespace td::vision::datasets {

/// Reads an IDX file (the format of MNIST's files: big-endian magic, dims, then unsigned bytes), gzip or
/// plain, into a uint8 tensor of the stored shape.
Tensor read_idx(const std::string& path);

/// The MNIST family (torchvision.datasets.MNIST): 60000 training or 10000 test images of 28x28.
class MNIST : public data::Dataset {
 public:
  /// Looks for train-images-idx3-ubyte[.gz] and the others in root, then in root/<Name>/raw (torchvision's
  /// layout); Debian's dataset-fashion-mnist installs FashionMNIST's in /usr/share/datasets/fashion-mnist.
  MNIST(const std::string& root, bool train = true, std::shared_ptr<transforms::Transform> transform = nullptr,
        std::shared_ptr<transforms::Transform> target_transform = nullptr);
  int64_t size() const override { return targets_.size(0); }
  data::Sample get(int64_t index) const override;
  /// Without transforms: one gather of images and targets.
  data::Sample get_batch(const std::vector<int64_t>& indices) const override;

  /// All images, uint8 [N, 28, 28], and all targets, int64 [N].
  const Tensor& data() const { return images_; }
  const Tensor& targets() const { return targets_; }
  virtual const std::vector<std::string>& classes() const;
  bool train() const { return train_; }
  std::string repr() const;

 protected:
  MNIST(std::string name, const std::string& root, bool train, std::shared_ptr<transforms::Transform> transform,
        std::shared_ptr<transforms::Transform> target_transform);

 private:
  std::string name_, root_;
  bool train_;
  std::shared_ptr<transforms::Transform> transform_, target_transform_;
  Tensor images_, targets_;
};

/// Zalando's Fashion-MNIST (torchvision.datasets.FashionMNIST): MNIST's format, ten kinds of clothing.
class FashionMNIST : public MNIST {
 public:
  FashionMNIST(const std::string& root, bool train = true, std::shared_ptr<transforms::Transform> transform = nullptr,
               std::shared_ptr<transforms::Transform> target_transform = nullptr);
  const std::vector<std::string>& classes() const override;
};

/// The file name endings ImageFolder accepts by default (torchvision's IMG_EXTENSIONS).
const std::vector<std::string>& image_extensions();

/// Images in root/<class>/**/<file> (torchvision.datasets.ImageFolder): classes are the sorted subfolder
/// names, numbered in that order; files are walked in sorted order and kept when their lower-cased name ends
/// with one of `extensions`. A sample is {loader(path) through transform, int64 0-dim class index through
/// target_transform}; the default loader is io::read_image in RGB mode (torchvision's loader converts to RGB).
class ImageFolder : public data::Dataset {
 public:
  using Loader = std::function<Tensor(const std::string& path)>;
  explicit ImageFolder(std::string root, std::shared_ptr<transforms::Transform> transform = nullptr,
                       std::shared_ptr<transforms::Transform> target_transform = nullptr, Loader loader = nullptr,
                       std::vector<std::string> extensions = image_extensions());
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  data::Sample get(int64_t index) const override;

  const std::vector<std::string>& classes() const { return classes_; }
  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  /// (path, class index) of every sample, in order.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  /// The class index of every sample.
  std::vector<int64_t> targets() const;
  std::string repr() const;

 private:
  std::string root_;
  std::shared_ptr<transforms::Transform> transform_, target_transform_;
  Loader loader_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<std::pair<std::string, int64_t>> samples_;
};

}  // namespace td::vision::datasets
