// Image files (PNG and JPEG round trips, libjpeg's decode of our encode, the decoders' errors), make_grid and
// save_image, ImageFolder over a generated tree, the new transforms' reprs, randomness and errors,
// nn.Upsample and F.interpolate's argument errors, and finite-difference checks of the interpolation
// gradients.
#include "vision/io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/autograd/gradcheck.h"
#include "core/nn/functional.h"
#include "core/nn/upsampling.h"
#include "core/random/generator.h"
#include "tests/core/test_util.h"
#include "vision/datasets.h"
#include "vision/ops.h"
#include "vision/transforms.h"
#include "vision/utils.h"

namespace td {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
namespace io = vision::io;
namespace T = vision::transforms;
namespace fs = std::filesystem;

Tensor random_image(int64_t c, int64_t h, int64_t w) {
  return random::randint(0, 256, {c, h, w}).to(DType::kUInt8);
}

std::string what(const Error& e) {
  return e.what();
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("td_vision_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(ImageIO, PngRoundTripsEveryChannelCount) {
  manual_seed(1);
  for (int64_t c : {1, 2, 3, 4}) {
    Tensor img = random_image(c, 5, 9);
    Tensor bytes = io::encode_png(img, c == 3 ? 9 : 6);
    EXPECT_EQ(bytes.dtype(), DType::kUInt8);
    Tensor back = io::decode_png(bytes);
    EXPECT_TRUE(back.equal(img).item<bool>()) << c << " channels";
  }
  const fs::path dir = temp_dir("png");
  Tensor img = random_image(3, 4, 6);
  io::write_png(img, (dir / "a.png").string());
  EXPECT_TRUE(io::read_image((dir / "a.png").string()).equal(img).item<bool>());
  // Mode conversions through libpng: RGB to RGB + opaque alpha, gray to three equal channels.
  Tensor rgba = io::read_image((dir / "a.png").string(), io::ImageReadMode::kRGBAlpha);
  EXPECT_EQ(rgba.shape(), (std::vector<int64_t>{4, 4, 6}));
  EXPECT_TRUE(rgba.narrow(0, 0, 3).equal(img).item<bool>());
  EXPECT_EQ(rgba.select(0, 3).to(DType::kInt64).min().item<int64_t>(), 255);
  Tensor gray = random_image(1, 3, 3);
  Tensor rgb = io::decode_png(io::encode_png(gray), io::ImageReadMode::kRGB);
  EXPECT_TRUE(rgb.equal(gray.expand({3, 3, 3})).item<bool>());
  fs::remove_all(dir);
}

TEST(ImageIO, JpegRoundTripIsCloseAndGrayStaysGray) {
  // A smooth image (JPEG's blocks keep it well): libjpeg's decode of our encode stays within a few levels.
  std::vector<uint8_t> px;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 24; ++x) px.push_back(static_cast<uint8_t>(20 + 4 * x + 3 * y + 20 * c));
  Tensor img = from_buffer(px.data(), {3, 16, 24}, DType::kUInt8);
  Tensor back = io::decode_jpeg(io::encode_jpeg(img, 95));
  EXPECT_EQ(back.shape(), img.shape());
  EXPECT_LE(back.to(DType::kInt64).sub(img.to(DType::kInt64)).abs().max().item<int64_t>(), 6);
  Tensor low = io::decode_jpeg(io::encode_jpeg(img, 10));
  EXPECT_GT(io::encode_jpeg(img, 95).numel(), io::encode_jpeg(img, 10).numel());
  EXPECT_EQ(low.shape(), img.shape());
  Tensor gray = img.narrow(0, 0, 1).contiguous();
  EXPECT_EQ(io::decode_image(io::encode_jpeg(gray)).shape(), (std::vector<int64_t>{1, 16, 24}));
  EXPECT_EQ(io::decode_jpeg(io::encode_jpeg(img), io::ImageReadMode::kGray).size(0), 1);
  const fs::path dir = temp_dir("jpeg");
  io::write_jpeg(img, (dir / "a.jpg").string(), 90);
  EXPECT_EQ(io::read_image((dir / "a.jpg").string()).shape(), img.shape());
  fs::remove_all(dir);
}

TEST(ImageIO, Errors) {
  Tensor junk = tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {9}).to(DType::kUInt8);
  EXPECT_THAT(what(error_of([&] { io::decode_png(junk); })), HasSubstr("[decode_png] Content is not png"));
  EXPECT_THAT(what(error_of([&] { io::decode_jpeg(junk); })), HasSubstr("[decode_jpeg]"));
  EXPECT_THAT(what(error_of([&] { io::decode_image(junk); })),
              HasSubstr("Unsupported image file. Only jpeg and png are currently supported."));
  EXPECT_THAT(what(error_of([&] { io::decode_png(junk.to(DType::kInt64)); })),
              HasSubstr("Expected a torch.uint8 tensor"));
  EXPECT_THAT(what(error_of([&] { io::encode_jpeg(random_image(4, 2, 2)); })),
              HasSubstr("The number of channels should be 1 or 3, got: 4"));
  EXPECT_THAT(what(error_of([&] { io::encode_png(random_image(3, 2, 2), 10); })),
              HasSubstr("Compression level should be between 0 and 9"));
  EXPECT_THAT(what(error_of([&] { io::encode_png(random_image(3, 2, 2).to(DType::kFloat32)); })),
              HasSubstr("Input tensor dtype should be uint8"));
  EXPECT_EQ(error_of([&] { io::read_file("/nonexistent/x.png"); }).code(), ErrorCode::kNotFound);
  // A PNG cut short fails cleanly.
  Tensor png = io::encode_png(random_image(3, 8, 8));
  EXPECT_THAT(what(error_of([&] { io::decode_png(png.narrow(0, 0, 40).contiguous()); })),
              HasSubstr("[decode_png]"));
}

TEST(VisionUtils, MakeGridAsTorchvision) {
  Tensor imgs = random::rand({5, 1, 2, 3});
  Tensor grid = vision::utils::make_grid(imgs, {.nrow = 2, .padding = 1, .pad_value = 0.5});
  // 3 rows x 2 columns of 2x3 images, one pixel of padding around and between, gray copied to 3 channels.
  EXPECT_EQ(grid.shape(), (std::vector<int64_t>{3, 3 * 3 + 1, 2 * 4 + 1}));
  EXPECT_TRUE(
      grid.select(0, 2).narrow(0, 4, 2).narrow(1, 5, 3).equal(imgs.select(0, 3).select(0, 0)).item<bool>());
  EXPECT_FLOAT_EQ(grid.select(0, 0).select(0, 0).select(0, 0).item<float>(), 0.5f);
  // The empty sixth slot keeps pad_value.
  EXPECT_FLOAT_EQ(grid.select(0, 1).select(0, 8).select(0, 6).item<float>(), 0.5f);
  Tensor one = vision::utils::make_grid(imgs.narrow(0, 0, 1));
  EXPECT_EQ(one.shape(), (std::vector<int64_t>{3, 2, 3}));
  Tensor x = tensor(std::vector<float>{-1, 0, 1, 3}, {1, 1, 2, 2});
  Tensor n = vision::utils::make_grid(x, {.normalize = true});
  EXPECT_FLOAT_EQ(n.select(0, 0).select(0, 1).select(0, 0).item<float>(), 0.5f);
  Tensor r = vision::utils::make_grid(x, {.normalize = true, .value_range = std::pair{0.0, 2.0}});
  EXPECT_FLOAT_EQ(r.select(0, 0).select(0, 0).select(0, 0).item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(r.select(0, 0).select(0, 1).select(0, 1).item<float>(), 1.0f);
  Tensor two = Tensor::stack({x.select(0, 0), x.select(0, 0).mul(Scalar(2))}, 0);
  Tensor each = vision::utils::make_grid(two, {.padding = 0, .normalize = true, .scale_each = true});
  EXPECT_TRUE(each.narrow(2, 0, 2).equal(each.narrow(2, 2, 2)).item<bool>());
}

TEST(VisionUtils, SaveImageWritesRoundedPixels) {
  const fs::path dir = temp_dir("save");
  Tensor img = tensor(std::vector<float>{0.0f, 0.5f, 1.0f, 0.2f, 0.7f, 0.9f}, {1, 2, 3})
                   .expand({3, 2, 3})
                   .contiguous();
  vision::utils::save_image(img, (dir / "g.png").string());
  Tensor back = io::read_image((dir / "g.png").string());
  // floor(x * 255 + 0.5): 0, 128, 255, 51, 179, 230.
  EXPECT_EQ(back.select(0, 1).to(DType::kInt64).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 128, 255, 51, 179, 230}));
  vision::utils::save_image(img, (dir / "g.jpg").string());
  EXPECT_EQ(io::read_image((dir / "g.jpg").string()).shape(), (std::vector<int64_t>{3, 2, 3}));
  EXPECT_THAT(what(error_of([&] { vision::utils::save_image(img, (dir / "g.bmp").string()); })),
              HasSubstr("unknown file extension"));
  fs::remove_all(dir);
}

TEST(ImageFolderTest, SortedClassesAndFiles) {
  const fs::path root = temp_dir("folder");
  manual_seed(3);
  for (const char* cls : {"dog", "cat"}) fs::create_directories(root / cls / "nested");
  io::write_png(random_image(3, 4, 4), (root / "dog" / "b.png").string());
  io::write_png(random_image(1, 4, 4), (root / "dog" / "A.PNG").string());
  io::write_jpeg(random_image(3, 8, 8), (root / "dog" / "nested" / "c.jpg").string());
  io::write_png(random_image(3, 5, 6), (root / "cat" / "z.png").string());
  std::ofstream(root / "cat" / "notes.txt") << "not an image";
  vision::datasets::ImageFolder ds(root.string());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.class_to_idx().at("dog"), 1);
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.samples()[0].first, (root / "cat" / "z.png").string());
  EXPECT_EQ(ds.samples()[1].first, (root / "dog" / "A.PNG").string());  // "A" sorts before "b"
  EXPECT_EQ(ds.samples()[3].first, (root / "dog" / "nested" / "c.jpg").string());
  EXPECT_EQ(ds.targets(), (std::vector<int64_t>{0, 1, 1, 1}));
  data::Sample s = ds.get(1);
  EXPECT_EQ(s[0].shape(), (std::vector<int64_t>{3, 4, 4}));  // gray read as RGB, as torchvision's loader
  EXPECT_EQ(s[1].item<int64_t>(), 1);
  auto resize = std::make_shared<T::Resize>(std::vector<int64_t>{2, 2});
  vision::datasets::ImageFolder small(root.string(), resize);
  EXPECT_EQ(small.get(3)[0].shape(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(small.repr(),
            "Dataset ImageFolder\n    Number of datapoints: 4\n    Root location: " + root.string() +
                "\n    StandardTransform\nTransform: Resize(size=(2, 2), interpolation=bilinear, "
                "max_size=None, antialias=None)");
  // cat has no .jpg.
  EXPECT_THAT(what(error_of([&] {
                vision::datasets::ImageFolder ds(root.string(), nullptr, nullptr, nullptr, {".jpg"});
              })),
              HasSubstr("Found no valid file for the classes cat. Supported extensions are: .jpg"));
  fs::remove_all(root);
}

TEST(ImageFolderTest, Errors) {
  const fs::path root = temp_dir("folder_err");
  EXPECT_THAT(what(error_of([&] { vision::datasets::ImageFolder ds(root.string()); })),
              HasSubstr("Couldn't find any class folder in"));
  fs::create_directories(root / "a");
  std::ofstream(root / "a" / "x.txt") << "x";
  EXPECT_THAT(
      what(error_of([&] { vision::datasets::ImageFolder ds(root.string()); })),
      HasSubstr("Found no valid file for the classes a. Supported extensions are: .jpg, .jpeg, .png"));
  fs::remove_all(root);
}

TEST(TransformsRepr, AsTorchvision) {
  EXPECT_EQ(T::Resize({32}).repr(), "Resize(size=32, interpolation=bilinear, max_size=None, antialias=None)");
  EXPECT_EQ(T::Resize({32, 24}, T::InterpolationMode::kNearest, std::nullopt, false).repr(),
            "Resize(size=(32, 24), interpolation=nearest, max_size=None, antialias=False)");
  EXPECT_EQ(
      T::RandomResizedCrop({224}).repr(),
      "RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333), interpolation=bilinear, "
      "antialias=None)");
  EXPECT_EQ(T::RandomRotation({30}).repr(),
            "RandomRotation(degrees=[-30.0, 30.0], interpolation=nearest, "
            "expand=False, fill=0)");
  EXPECT_EQ(
      T::ColorJitter({0.4}, {0.4}, {0.4}, {0.1}).repr(),
      "ColorJitter(brightness=(0.6, 1.4), contrast=(0.6, 1.4), saturation=(0.6, 1.4), hue=(-0.1, 0.1))");
  EXPECT_EQ(T::ColorJitter().repr(),
            "ColorJitter(brightness=None, contrast=None, saturation=None, hue=None)");
  EXPECT_EQ(T::Grayscale(3).repr(), "Grayscale(num_output_channels=3)");
  EXPECT_EQ(T::RandomGrayscale().repr(), "RandomGrayscale(p=0.1)");
  EXPECT_EQ(T::GaussianBlur({3}).repr(), "GaussianBlur(kernel_size=(3, 3), sigma=(0.1, 2.0))");
  EXPECT_EQ(T::RandomErasing().repr(),
            "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False)");
  EXPECT_EQ(T::ConvertImageDtype(DType::kFloat32).repr(), "ConvertImageDtype()");
  EXPECT_EQ(T::RandomAffine({10}).repr(), "RandomAffine(degrees=[-10.0, 10.0])");
  EXPECT_EQ(T::RandomPerspective().repr(), "RandomPerspective(p=0.5)");
  EXPECT_EQ(T::RandomAffine({-5, 20}, {0.1, 0.2}, {0.9, 1.1}, {5}, T::InterpolationMode::kBilinear, {1},
                            {3.0, 4.0})
                .repr(),
            "RandomAffine(degrees=[-5.0, 20.0], translate=(0.1, 0.2), scale=(0.9, 1.1), shear=[-5.0, 5.0], "
            "interpolation=bilinear, fill=1, center=(3.0, 4.0))");
}

// RandomPerspective: corners move inwards within distortion_scale of half the image; p decides; no
// distortion is the identity.
TEST(TransformsRandom, RandomPerspectiveMovesCornersWithinItsScale) {
  const Tensor img = random::rand({3, 12, 16}, {.dtype = DType::kFloat64});
  for (int i = 0; i < 20; ++i) {
    const auto [start, end] = T::RandomPerspective::get_params(16, 12, 0.5);
    ASSERT_EQ(end.size(), 4u);
    EXPECT_EQ(start[2], (std::array<double, 2>{15, 11}));
    EXPECT_LE(end[0][0], 4);  // top-left x within 0.5 * 8
    EXPECT_LE(end[0][1], 3);
    EXPECT_GE(end[2][0], 15 - 4 - 1 + 0.0);
    EXPECT_GE(end[2][1], 11 - 3 - 1 + 0.0);
  }
  EXPECT_TRUE(T::RandomPerspective(0.5, 0.0)(img).equal(img).item<bool>());
  EXPECT_LT(T::RandomPerspective(0.0, 1.0)(img).sub(img).abs().max().item<double>(), 1e-5);
  const Tensor warped = T::RandomPerspective(0.8, 1.0)(img);
  EXPECT_EQ(warped.shape(), img.shape());
  EXPECT_GT(warped.sub(img).abs().max().item<double>(), 1e-3);
}

// RandomAffine draws its parameters and hands them to F.affine: with every range a single point it is that
// F.affine; with none, the identity.
TEST(TransformsRandom, RandomAffineIsFAffineAtItsDrawnParameters) {
  const Tensor img = random::rand({3, 9, 11}, {.dtype = DType::kFloat64});
  EXPECT_TRUE(T::RandomAffine({0})(img).equal(img).item<bool>());
  const Tensor fixed = T::RandomAffine({30, 30}, {}, {1.2, 1.2}, {-10, -10, 5, 5}, T::InterpolationMode::kBilinear)(img);
  const Tensor direct = T::functional::affine(img, 30, {0, 0}, 1.2, {-10, 5}, T::InterpolationMode::kBilinear,
                                              {0, 0, 0});
  EXPECT_TRUE(fixed.equal(direct).item<bool>());
  // Translations are whole pixels within translate * size.
  for (int i = 0; i < 5; ++i) {
    const Tensor moved = T::RandomAffine({0}, {0.2, 0.2})(img);
    EXPECT_EQ(moved.shape(), img.shape());
  }
  EXPECT_EQ(T::RandomAffine({10}, {}, {}, {}, T::InterpolationMode::kNearest)(random_image(3, 9, 11)).dtype(),
            DType::kUInt8);
}

TEST(TransformsRandom, ShapesRangesAndRepeatability) {
  Tensor img = random::rand({3, 20, 30});
  T::RandomResizedCrop rrc({8, 10});
  for (int i = 0; i < 5; ++i) {
    auto [top, left, h, w] = rrc.get_params(20, 30);
    EXPECT_GE(top, 0);
    EXPECT_LE(top + h, 20);
    EXPECT_LE(left + w, 30);
    EXPECT_EQ(rrc(img).shape(), (std::vector<int64_t>{3, 8, 10}));
  }
  manual_seed(7);
  Tensor a = T::ColorJitter({0.5}, {0.5}, {0.5}, {0.2})(img);
  manual_seed(7);
  Tensor b = T::ColorJitter({0.5}, {0.5}, {0.5}, {0.2})(img);
  EXPECT_TRUE(a.equal(b).item<bool>());
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
  EXPECT_EQ(T::RandomRotation({45}, T::InterpolationMode::kBilinear, true)(img).size(0), 3);
  EXPECT_EQ(T::RandomGrayscale(1.0)(img).shape(), img.shape());
  EXPECT_TRUE(T::RandomGrayscale(1.0)(img)
                  .select(0, 0)
                  .equal(T::RandomGrayscale(1.0)(img).select(0, 2))
                  .item<bool>());
  Tensor erased = T::RandomErasing(1.0, {0.1, 0.2}, {0.5, 2.0}, {0})(img);
  const int64_t zeros_count = erased.eq(Scalar(0)).sum().item<int64_t>();
  EXPECT_GT(zeros_count, 0);
  EXPECT_EQ(T::RandomErasing(0.0)(img).equal(img).item<bool>(), true);
  EXPECT_EQ(T::GaussianBlur({5}, {1.0})(img).shape(), img.shape());
  // A batch [B, C, H, W] resizes as one.
  EXPECT_EQ(T::Resize({10})(random::rand({2, 3, 20, 30})).shape(), (std::vector<int64_t>{2, 3, 10, 15}));
  EXPECT_EQ(T::Resize({10})(random_image(3, 30, 20)).dtype(), DType::kUInt8);
}

TEST(TransformsErrors, AsTorchvision) {
  EXPECT_THAT(what(error_of([] { T::ColorJitter({-1}); })),
              HasSubstr("If brightness is a single number, it must be non negative."));
  EXPECT_THAT(what(error_of([] { T::ColorJitter({0}, {0}, {0}, {0.7}); })),
              HasSubstr("hue values should be between (-0.5, 0.5), but got [-0.7, 0.7]."));
  EXPECT_THAT(what(error_of([] { T::GaussianBlur({4}); })),
              HasSubstr("Kernel size value should be an odd and positive number."));
  EXPECT_THAT(what(error_of([] { T::RandomRotation({-3}); })),
              HasSubstr("If degrees is a single number, it must be positive."));
  EXPECT_THAT(what(error_of([] { T::RandomAffine({5}, {1.5, 0}); })),
              HasSubstr("translation values should be between 0 and 1"));
  EXPECT_THAT(what(error_of([] { T::RandomAffine({5}, {}, {0, 1}); })), HasSubstr("scale values should be positive"));
  EXPECT_THAT(what(error_of([] { T::RandomAffine({5}, {}, {}, {1, 2, 3}); })),
              HasSubstr("If shear is a sequence, it should have 2 or 4 values."));
  EXPECT_THAT(what(error_of([] { T::functional::affine(random::rand({3, 4, 4}), 0, {0}, 1, {0}); })),
              HasSubstr("Argument translate should be a sequence of length 2"));
  EXPECT_THAT(what(error_of([] {
                T::functional::adjust_hue(random::rand({3, 2, 2}), 0.6);
              })),
              HasSubstr("hue_factor (0.6) is not in [-0.5, 0.5]."));
  EXPECT_THAT(what(error_of([] {
                T::functional::adjust_brightness(random::rand({2, 2, 2}), 1.0);
              })),
              HasSubstr("permitted channel values are [1, 3], but found 2"));
  EXPECT_THAT(what(error_of([] {
                T::functional::convert_image_dtype(random::rand({3, 2, 2}), DType::kInt32);
              })),
              HasSubstr("The cast from torch.float32 to torch.int32 cannot be performed safely."));
  EXPECT_EQ(error_of([] { T::Resize({8}, T::InterpolationMode::kBilinear, std::nullopt, true); }).code(),
            ErrorCode::kUnimplemented);
}

TEST(Upsample, ModuleAndInterpolateErrors) {
  auto up = std::make_shared<nn::Upsample>(nn::functional::IntArg{}, 2.0);
  EXPECT_EQ(up->repr(), "Upsample(scale_factor=2.0, mode='nearest')");
  EXPECT_EQ((*up)(random::rand({1, 2, 3, 4})).shape(), (std::vector<int64_t>{1, 2, 6, 8}));
  EXPECT_EQ(nn::Upsample({5, 6}, {}, "bilinear").repr(), "Upsample(size=(5, 6), mode='bilinear')");
  auto bil = nn::UpsamplingBilinear2d({}, 2.0);
  EXPECT_EQ(bil->repr(), "UpsamplingBilinear2d(scale_factor=2.0, mode='bilinear')");
  // align_corners=True: the corners are kept.
  Tensor x = random::rand({1, 1, 3, 3}, {DType::kFloat64});
  Tensor y = (*bil)(x);
  EXPECT_DOUBLE_EQ(y.select(3, 5).select(2, 5).item<double>(), x.select(3, 2).select(2, 2).item<double>());
  namespace Fn = nn::functional;
  Tensor x4 = random::rand({1, 1, 4, 4});
  EXPECT_THAT(what(error_of([&] { Fn::interpolate(x4); })),
              HasSubstr("either size or scale_factor should be defined"));
  EXPECT_THAT(what(error_of([&] { Fn::interpolate(x4, 2, 2.0); })),
              HasSubstr("only one of size or scale_factor should be defined"));
  EXPECT_THAT(
      what(error_of([&] {
        Fn::interpolate(x4, {2, 2, 2});
      })),
      HasSubstr("Input and output must have the same number of spatial dimensions, but got input with "
                "spatial dimensions of [4, 4] and output size of [2, 2, 2]"));
  EXPECT_THAT(what(error_of([&] { Fn::interpolate(x4, 2, {}, "nearest", true); })),
              HasSubstr("align_corners option can only be set with the interpolating modes"));
  EXPECT_THAT(what(error_of([&] { Fn::interpolate(x4, 2, {}, "linear"); })),
              HasSubstr("Got 4D input, but linear mode needs 3D input"));
  EXPECT_THAT(what(error_of([&] { Fn::interpolate(x4, 2, {}, "bilinear", std::nullopt, true); })),
              HasSubstr("recompute_scale_factor is not meaningful with an explicit size."));
  EXPECT_THAT(what(error_of([&] {
                Fn::interpolate(random::rand({2, 4}), 2);
              })),
              HasSubstr("Input Error: Only 3D, 4D and 5D input Tensors supported (got 2D)"));
  EXPECT_THAT(
      what(error_of([&] {
        call_op("upsample_bilinear2d", {x4, std::vector<int64_t>{0, 2}, true});
      })),
      HasSubstr(
          "Input and output sizes should be greater than 0, but got input (H: 4, W: 4) output (H: 0, W: 2)"));
  EXPECT_THAT(what(error_of([&] {
                call_op("upsample_bilinear2d", {x4.to(DType::kInt64), std::vector<int64_t>{2, 2}, true});
              })),
              HasSubstr("not implemented for 'Long'"));
}

TEST(Upsample, GradientsMatchFiniteDifferences) {
  Tensor x = random::rand({1, 2, 3, 4}, {DType::kFloat64});
  for (const char* mode : {"bilinear", "bicubic", "nearest"}) {
    auto fn = [mode](const std::vector<Tensor>& in) {
      const bool interp = std::string(mode) != "nearest";
      return nn::functional::interpolate(in[0], {5, 7}, {}, mode,
                                         interp ? std::optional<bool>(false) : std::nullopt);
    };
    auto r = autograd::gradcheck(fn, {x.clone().requires_grad_()});
    EXPECT_TRUE(r.ok) << mode << ": " << r.message;
    auto rr = autograd::gradgradcheck(fn, {x.clone().requires_grad_()});
    EXPECT_TRUE(rr.ok) << mode << ": " << rr.message;
  }
  Tensor boxes = tensor(std::vector<double>{0, 0.5, 0.5, 2.5, 2.0}, {1, 5});
  auto roi = [&](const std::vector<Tensor>& in) {
    return vision::ops::roi_align(in[0], boxes, {2, 2}, 1.0, 2);
  };
  EXPECT_TRUE(autograd::gradcheck(roi, {x.clone().requires_grad_()}).ok);
}

}  // namespace
}  // namespace td
