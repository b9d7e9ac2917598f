// td::vision: Fashion-MNIST read from Debian's dataset-fashion-mnist (its sizes, labels and pixels as numpy
// reads the same files), the IDX reader's errors, and the tensor transforms with torchvision's values and
// reprs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/data/dataloader.h"
#include "core/error.h"
#include "core/random/generator.h"
#include "tests/core/test_util.h"
#include "vision/datasets.h"
#include "vision/transforms.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;
namespace T = vision::transforms;

constexpr const char* kRoot = "/usr/share/datasets/fashion-mnist";

std::vector<int64_t> ints(const Tensor& t) {
  Tensor c = t.to(DType::kInt64).contiguous();
  return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
}
std::vector<float> floats(const Tensor& t) {
  Tensor c = t.to(DType::kFloat32).contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

// Installed by scripts/setup-deps.sh (Debian's dataset-fashion-mnist); the numbers are numpy's on the files.
TEST(FashionMNISTTest, ReadsDebiansFiles) {
  vision::datasets::FashionMNIST train(kRoot, true);
  vision::datasets::FashionMNIST test(kRoot, false);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.data().shape(), (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(train.data().dtype(), DType::kUInt8);
  EXPECT_THAT(ints(train.targets().narrow(0, 0, 10)), ElementsAre(9, 0, 0, 3, 0, 2, 7, 2, 5, 5));
  EXPECT_THAT(ints(test.targets().narrow(0, 0, 10)), ElementsAre(9, 2, 1, 1, 6, 1, 4, 6, 5, 7));
  data::Sample s = train.get(0);
  EXPECT_EQ(s[0].to(DType::kInt64).sum().item<int64_t>(), 76247);
  EXPECT_THAT(ints(s[0].select(0, 14).narrow(0, 10, 6)), ElementsAre(0, 0, 237, 226, 217, 223));
  EXPECT_EQ(s[1].item<int64_t>(), 9);
  EXPECT_EQ(train.classes()[9], "Ankle boot");
  EXPECT_EQ(test.get(-1)[0].to(DType::kInt64).sum().item<int64_t>(), 24390);
  // The dataset's pixel statistics, which the example normalises with.
  Tensor pixels = train.data().to(DType::kFloat64).div(255);
  EXPECT_NEAR(pixels.mean().item<double>(), 0.2860406, 1e-6);
  EXPECT_NEAR(pixels.std().item<double>(), 0.3530242, 1e-6);
}

TEST(FashionMNISTTest, TransformsAndLoaderBatches) {
  auto transform = std::make_shared<T::Compose>(std::vector<std::shared_ptr<T::Transform>>{
      std::make_shared<T::ToTensor>(), std::make_shared<T::Normalize>(std::vector<double>{0.5}, std::vector<double>{0.5})});
  auto test = std::make_shared<vision::datasets::FashionMNIST>(kRoot, false, transform);
  data::Sample s = test->get(0);
  EXPECT_EQ(s[0].shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(s[0].dtype(), DType::kFloat32);
  EXPECT_FLOAT_EQ(s[0].min().item<float>(), -1.0f);
  EXPECT_EQ(test->repr(),
            "Dataset FashionMNIST\n    Number of datapoints: 10000\n    Root location: " + std::string(kRoot) +
                "\n    Split: Test\n    StandardTransform\nTransform: Compose(\n                   ToTensor()\n"
                "                   Normalize(mean=(0.5,), std=(0.5,))\n               )");
  data::DataLoader loader(test, {.batch_size = 64, .num_workers = 2});
  EXPECT_EQ(loader.size(), 157);
  int64_t seen = 0;
  for (const data::Sample& b : loader) {
    if (seen == 0) {
      EXPECT_EQ(b[0].shape(), (std::vector<int64_t>{64, 1, 28, 28}));
      EXPECT_THAT(ints(b[1].narrow(0, 0, 4)), ElementsAre(9, 2, 1, 1));
    }
    seen += b[1].size(0);
  }
  EXPECT_EQ(seen, 10000);
}

TEST(FashionMNISTTest, MissingAndMalformedFiles) {
  EXPECT_THAT(std::string(error_of([] { vision::datasets::FashionMNIST("/nonexistent", true); }).what()),
              HasSubstr("[FashionMNIST] Dataset not found: none of /nonexistent/train-images-idx3-ubyte"));
  const std::string path = (std::filesystem::temp_directory_path() / "td_bad_idx").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "not an idx file";
  }
  EXPECT_THAT(std::string(error_of([&] { vision::datasets::read_idx(path); }).what()),
              HasSubstr("is not an unsigned-byte IDX file"));
  {
    std::ofstream out(path, std::ios::binary);
    const unsigned char header[] = {0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3};  // claims 10 bytes, holds 3
    out.write(reinterpret_cast<const char*>(header), sizeof header);
  }
  EXPECT_THAT(std::string(error_of([&] { vision::datasets::read_idx(path); }).what()), HasSubstr("ends early"));
  std::remove(path.c_str());
}

TEST(TransformsTest, ToTensorNormalizeCrop) {
  // uint8 [H, W, C] to float [C, H, W] / 255.
  Tensor hwc = tensor(std::vector<int64_t>{0, 255, 51, 102, 153, 204}, {1, 2, 3}).to(DType::kUInt8);
  Tensor chw = T::ToTensor()(hwc);
  EXPECT_EQ(chw.shape(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_THAT(floats(chw), ElementsAre(0.0f, 0.4f, 1.0f, 0.6f, 0.2f, 0.8f));
  // (x - mean[c]) / std[c].
  Tensor norm = T::Normalize({0.5, 0, 1}, {0.5, 2, 1})(chw);
  std::vector<float> n = floats(norm);
  EXPECT_FLOAT_EQ(n[0], -1.0f);
  EXPECT_FLOAT_EQ(n[2], 0.5f);
  EXPECT_FLOAT_EQ(n[5], -0.2f);
  EXPECT_THAT(std::string(error_of([&] { T::Normalize({0.5}, {0.5})(hwc); }).what()),
              HasSubstr("Input tensor should be a float tensor. Got torch.uint8."));
  EXPECT_THAT(std::string(error_of([] { T::Normalize({0.5}, {0.0}); }).what()), HasSubstr("division by zero"));

  Tensor img = tensor(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {1, 4, 4});
  EXPECT_THAT(floats(T::CenterCrop({2})(img)), ElementsAre(5, 6, 9, 10));
  // torchvision rounds the offset: (4 - 3) / 2 = 0.5 -> 0 (round half to even) on both axes.
  EXPECT_THAT(floats(T::CenterCrop({3, 1})(img)), ElementsAre(2, 6, 10));
  // A crop larger than the image pads with zeros first.
  EXPECT_EQ(T::CenterCrop({6})(img).shape(), (std::vector<int64_t>{1, 6, 6}));
  EXPECT_FLOAT_EQ(T::CenterCrop({6})(img).sum().item<float>(), 120.0f);
  EXPECT_EQ(T::CenterCrop({3, 5}).repr(), "CenterCrop(size=(3, 5))");
}

TEST(TransformsTest, PadModes) {
  Tensor row = tensor(std::vector<float>{1, 2, 3}, {1, 1, 3});
  EXPECT_THAT(floats(T::Pad({2, 0}, 9)(row)), ElementsAre(9, 9, 1, 2, 3, 9, 9));
  EXPECT_THAT(floats(T::Pad({2, 0}, 0, "edge")(row)), ElementsAre(1, 1, 1, 2, 3, 3, 3));
  EXPECT_THAT(floats(T::Pad({2, 0}, 0, "reflect")(row)), ElementsAre(3, 2, 1, 2, 3, 2, 1));
  EXPECT_THAT(floats(T::Pad({2, 0}, 0, "symmetric")(row)), ElementsAre(2, 1, 1, 2, 3, 3, 2));
  EXPECT_EQ(T::Pad({1, 2, 3, 4}).repr(), "Pad(padding=(1, 2, 3, 4), fill=0.0, padding_mode=constant)");
  EXPECT_THAT(std::string(error_of([] { T::Pad({1, 2, 3}); }).what()),
              HasSubstr("Padding must be an int or a 1, 2, or 4 element tuple, not a 3 element tuple"));
}

TEST(TransformsTest, RandomTransformsFollowTheGenerator) {
  Tensor img = tensor(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {1, 4, 4});
  T::RandomCrop crop({2}, std::vector<int64_t>{1});
  std::vector<std::vector<float>> first, second;
  manual_seed(5);
  for (int i = 0; i < 8; ++i) first.push_back(floats(crop(img)));
  manual_seed(5);
  for (int i = 0; i < 8; ++i) second.push_back(floats(crop(img)));
  EXPECT_EQ(first, second);
  std::set<std::vector<float>> distinct(first.begin(), first.end());
  EXPECT_GT(distinct.size(), 1u);
  EXPECT_EQ(crop.repr(), "RandomCrop(size=(2, 2), padding=(1, 1, 1, 1))");
  EXPECT_THAT(std::string(error_of([&] { T::RandomCrop({5})(img); }).what()),
              HasSubstr("Required crop size (5, 5) is larger than input image size (4, 4)"));

  EXPECT_THAT(floats(T::RandomHorizontalFlip(1.0)(img).select(1, 0)), ElementsAre(3, 2, 1, 0));
  EXPECT_THAT(floats(T::RandomHorizontalFlip(0.0)(img).select(1, 0)), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(floats(T::RandomVerticalFlip(1.0)(img).select(2, 0)), ElementsAre(12, 8, 4, 0));
  int flipped = 0;
  T::RandomHorizontalFlip half;
  for (int i = 0; i < 200; ++i) flipped += half(img).select(1, 0).select(1, 0).item<float>() == 3.0f;
  EXPECT_GT(flipped, 60);
  EXPECT_LT(flipped, 140);
  EXPECT_EQ(half.repr(), "RandomHorizontalFlip(p=0.5)");
}

}  // namespace
}  // namespace td
