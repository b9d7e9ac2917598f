// td::vision::datasets: torchvision's MNIST and FashionMNIST, read from IDX files (plain or gzip) under a
// root folder. A sample is {image, target}: the image is the uint8 [28, 28] tensor, or what `transform` makes
// of it (ToTensor gives float [1, 28, 28] in [0, 1]); the target is an int64 0-dim class index.
#pragma once

#include <array>
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

}  // namespace td::vision::datasets
