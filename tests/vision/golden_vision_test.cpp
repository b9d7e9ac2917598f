// F.interpolate, the tensor transforms' functional forms, torchvision.ops and PNG decoding against
// PyTorch 1.13 and torchvision 0.14's code (tests/golden/modules/vision.json, written by
// tests/golden/generate_vision.py), with the input gradients of interpolate, roi_align and roi_pool.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/nn/functional.h"
#include "tests/core/golden_json.h"
#include "vision/io.h"
#include "vision/ops.h"
#include "vision/transforms.h"

namespace td {
namespace {

namespace F = vision::transforms::functional;
namespace ops = vision::ops;
using nlohmann::json;

const json& fixture() {
  static const json j = [] {
    std::ifstream in(fixture_dir() + "/modules/vision.json");
    if (!in) throw Error(ErrorCode::kNotFound, "tests/golden/modules/vision.json is missing");
    return json::parse(in);
  }();
  return j;
}

vision::transforms::InterpolationMode mode_of(const std::string& s) {
  using M = vision::transforms::InterpolationMode;
  return s == "nearest" ? M::kNearest : s == "bilinear" ? M::kBilinear : M::kBicubic;
}

template <class T>
T arg(const json& args, const char* name, T fallback) {
  return args.contains(name) && !args.at(name).is_null() ? args.at(name).get<T>() : fallback;
}

// Runs one case's computation on (already made) inputs.
Tensor run_case(const std::string& kind, const json& a, const std::vector<Tensor>& in) {
  if (kind == "interpolate") {
    nn::functional::IntArg size;
    nn::functional::FloatArg scale;
    if (a.contains("size")) size = a.at("size").get<std::vector<int64_t>>();
    if (a.contains("scale_factor")) {
      scale = a.at("scale_factor").is_array()
                  ? nn::functional::FloatArg(a.at("scale_factor").get<std::vector<double>>())
                  : nn::functional::FloatArg(a.at("scale_factor").get<double>());
    }
    std::optional<bool> align, recompute;
    if (a.contains("align_corners")) align = a.at("align_corners").get<bool>();
    if (a.contains("recompute_scale_factor")) recompute = a.at("recompute_scale_factor").get<bool>();
    return nn::functional::interpolate(in[0], size, scale, a.at("mode").get<std::string>(), align, recompute);
  }
  if (kind == "resize") {
    std::optional<int64_t> max_size;
    if (a.contains("max_size")) max_size = a.at("max_size").get<int64_t>();
    return F::resize(in[0], a.at("size").get<std::vector<int64_t>>(),
                     mode_of(a.at("interpolation").get<std::string>()), max_size);
  }
  if (kind == "rotate") {
    return F::rotate(in[0], a.at("angle").get<double>(), mode_of(a.at("interpolation").get<std::string>()),
                     a.at("expand").get<bool>(), arg<std::vector<double>>(a, "center", {}),
                     arg<std::vector<double>>(a, "fill", {}));
  }
  if (kind == "affine") {
    return F::affine(in[0], a.at("angle").get<double>(), a.at("translate").get<std::vector<double>>(),
                     a.at("scale").get<double>(), a.at("shear").get<std::vector<double>>(),
                     mode_of(a.at("interpolation").get<std::string>()), arg<std::vector<double>>(a, "fill", {}),
                     arg<std::vector<double>>(a, "center", {}));
  }
  if (kind == "perspective") {
    auto points = [&](const char* key) {
      std::vector<std::array<double, 2>> out;
      for (const auto& p : a.at(key)) out.push_back({p.at(0).get<double>(), p.at(1).get<double>()});
      return out;
    };
    return F::perspective(in[0], points("startpoints"), points("endpoints"),
                          mode_of(a.at("interpolation").get<std::string>()), arg<std::vector<double>>(a, "fill", {}));
  }
  if (kind == "rgb_to_grayscale")
    return F::rgb_to_grayscale(in[0], a.at("num_output_channels").get<int64_t>());
  if (kind == "adjust_brightness") return F::adjust_brightness(in[0], a.at("factor").get<double>());
  if (kind == "adjust_contrast") return F::adjust_contrast(in[0], a.at("factor").get<double>());
  if (kind == "adjust_saturation") return F::adjust_saturation(in[0], a.at("factor").get<double>());
  if (kind == "adjust_hue") return F::adjust_hue(in[0], a.at("factor").get<double>());
  if (kind == "gaussian_blur") {
    return F::gaussian_blur(in[0], a.at("kernel_size").get<std::vector<int64_t>>(),
                            a.at("sigma").get<std::vector<double>>());
  }
  if (kind == "erase") {
    return F::erase(in[0], a.at("i").get<int64_t>(), a.at("j").get<int64_t>(), a.at("h").get<int64_t>(),
                    a.at("w").get<int64_t>(), in[1]);
  }
  if (kind == "convert_image_dtype")
    return F::convert_image_dtype(in[0], dtype_from_name(a.at("dtype").get<std::string>()));
  if (kind == "box_area") return ops::box_area(in[0]);
  if (kind == "box_iou") return ops::box_iou(in[0], in[1]);
  if (kind == "nms") return ops::nms(in[0], in[1], a.at("iou_threshold").get<double>());
  if (kind == "batched_nms")
    return ops::batched_nms(in[0], in[1], in[2], a.at("iou_threshold").get<double>());
  if (kind == "roi_align") {
    return ops::roi_align(in[0], in[1], a.at("output_size").get<std::vector<int64_t>>(),
                          a.at("spatial_scale").get<double>(), a.at("sampling_ratio").get<int64_t>(),
                          a.at("aligned").get<bool>());
  }
  if (kind == "roi_pool") {
    return ops::roi_pool(in[0], in[1], a.at("output_size").get<std::vector<int64_t>>(),
                         a.at("spatial_scale").get<double>());
  }
  if (kind == "decode_png") return vision::io::decode_png(in[0]);
  throw Error(ErrorCode::kUnimplemented, "unknown golden vision case kind " + kind);
}

// Float results to the dtype's rounding; integer images exactly, except that a pixel computed in float32 and
// rounded may land one step away where the float sum sits at .5 (resampling and blurring).
void expect_close(const std::string& name, const std::string& kind, const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape()) << name;
  ASSERT_EQ(got.dtype(), want.dtype()) << name;
  std::vector<double> g = got.to(DType::kFloat64).to_vector<double>(),
                      w = want.to(DType::kFloat64).to_vector<double>();
  const bool f64 = got.dtype() == DType::kFloat64, f32 = got.dtype() == DType::kFloat32;
  const bool resampled =
      kind == "rotate" || kind == "affine" || kind == "perspective" || kind == "resize" || kind == "gaussian_blur" ||
      kind == "adjust_hue";
  // torchvision builds the blur kernel in float32 whatever the image's dtype: its values carry float32's
  // last-bit differences (exp, the sum) into float64 results.
  // perspective solves its coefficients in float32 as torchvision does, through LAPACK's sgels, and two LAPACKs
  // (OpenBLAS's here, whichever libtorch links there) round the solution differently in its last bits.
  const double f64_tol = kind == "gaussian_blur" ? 1e-6 : kind == "perspective" ? 1e-5 : 1e-10;
  const double rtol = f64 ? f64_tol : f32 ? 1e-5 : 0, atol = f64 ? f64_tol : f32 ? 1e-5 : resampled ? 1 : 0;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::fabs(g[i] - w[i]) > atol + rtol * std::fabs(w[i])) {
      if (++bad <= 3) ADD_FAILURE() << name << " element " << i << ": got " << g[i] << ", want " << w[i];
    }
  }
  EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << g.size() << " elements differ";
}

TEST(GoldenVision, MatchesPyTorchAndTorchvision) {
  int count = 0;
  for (const json& c : fixture().at("cases")) {
    const std::string name = c.at("name"), kind = c.at("kind");
    SCOPED_TRACE(name);
    std::vector<Tensor> in;
    for (const json& t : c.at("inputs")) in.push_back(tensor_from_json(t, kCPU));
    const bool with_grad = c.contains("grad");
    if (with_grad) in[0].requires_grad_(true);
    Tensor out = run_case(kind, c.at("args"), in);
    expect_close(name, kind, out.detach(), tensor_from_json(c.at("expected"), kCPU));
    if (with_grad) {
      out.mul(tensor_from_json(c.at("grad_weight"), kCPU)).sum().backward();
      ASSERT_TRUE(in[0].grad().defined()) << name;
      expect_close(name + " grad", kind, in[0].grad(), tensor_from_json(c.at("grad"), kCPU));
    }
    ++count;
  }
  EXPECT_EQ(count, 77);
}

}  // namespace
}  // namespace td
