// Convolution, pooling, normalization, embedding and bilinear layers (core/nn/conv.h, pooling.h,
// normalization.h, sparse.h, modules.h) on every device: PyTorch 1.13's outputs, gradients and updated buffers
// (running statistics over several train steps, eval mode, max_norm renormalisation) for the same layer and
// parameters (tests/golden/modules/layers.json, written by tests/golden/generate_layers.py), PyTorch's reprs and argument errors, default initialisation bounds,
// return_indices, and the reference CNN of the users' notes with its gradient alarm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/nn/conv.h"
#include "core/nn/functional.h"
#include "core/nn/modules.h"
#include "core/nn/normalization.h"
#include "core/nn/pooling.h"
#include "core/nn/sparse.h"
#include "core/random/generator.h"
#include "examples/reference_cnn.h"
#include "tests/core/device_test.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using nlohmann::json;
using nn::TensorList;
using ::testing::HasSubstr;
using testing::error_of;
namespace F = nn::functional;

std::vector<int64_t> ints(const json& j) {
  if (j.is_array()) return j.get<std::vector<int64_t>>();
  return {j.get<int64_t>()};
}

// The tensord layer a fixture case names, built from PyTorch's keyword arguments.
std::shared_ptr<nn::Module> build(const std::string& type, const json& kw) {
  auto get = [&](const char* key, json fallback) { return kw.contains(key) ? kw.at(key) : fallback; };
  if (type.rfind("Conv", 0) == 0) {
    nn::ConvOptions o;
    o.stride = ints(get("stride", 1));
    const json pad = get("padding", 0);
    if (pad.is_string()) {
      o.padding = pad.get<std::string>();
    } else {
      o.padding = ints(pad);
    }
    o.dilation = ints(get("dilation", 1));
    o.groups = get("groups", 1).get<int64_t>();
    o.bias = get("bias", true).get<bool>();
    o.padding_mode = get("padding_mode", "zeros").get<std::string>();
    o.output_padding = ints(get("output_padding", 0));
    o.options.dtype = DType::kFloat64;
    const int64_t in = kw.at("in_channels"), out = kw.at("out_channels");
    const F::IntArg k = ints(kw.at("kernel_size"));
    if (type == "Conv1d") return std::make_shared<nn::Conv1d>(in, out, k, o);
    if (type == "Conv2d") return std::make_shared<nn::Conv2d>(in, out, k, o);
    if (type == "Conv3d") return std::make_shared<nn::Conv3d>(in, out, k, o);
    if (type == "ConvTranspose1d") return std::make_shared<nn::ConvTranspose1d>(in, out, k, o);
    if (type == "ConvTranspose2d") return std::make_shared<nn::ConvTranspose2d>(in, out, k, o);
    if (type == "ConvTranspose3d") return std::make_shared<nn::ConvTranspose3d>(in, out, k, o);
  }
  const F::IntArg stride = kw.contains("stride") ? F::IntArg(ints(kw.at("stride"))) : F::IntArg();
  const bool ceil = get("ceil_mode", false).get<bool>(), with_indices = get("return_indices", false).get<bool>();
  if (type.rfind("MaxPool", 0) == 0) {
    const size_t dims = static_cast<size_t>(type[7] - '0');
    return std::make_shared<nn::MaxPoolNd>(dims, ints(kw.at("kernel_size")), stride, ints(get("padding", 0)),
                                           ints(get("dilation", 1)), with_indices, ceil);
  }
  if (type.rfind("AvgPool", 0) == 0) {
    const size_t dims = static_cast<size_t>(type[7] - '0');
    std::optional<int64_t> divisor;
    if (kw.contains("divisor_override")) divisor = kw.at("divisor_override").get<int64_t>();
    return std::make_shared<nn::AvgPoolNd>(dims, ints(kw.at("kernel_size")), stride, ints(get("padding", 0)), ceil,
                                           get("count_include_pad", true).get<bool>(), divisor);
  }
  if (type.rfind("Adaptive", 0) == 0) {
    const size_t dims = static_cast<size_t>(type[15] - '0');
    return std::make_shared<nn::AdaptivePoolNd>(dims, type.find("Max") != std::string::npos,
                                                ints(kw.at("output_size")), with_indices);
  }
  if (type.rfind("LPPool", 0) == 0) {
    const size_t dims = static_cast<size_t>(type[6] - '0');
    return std::make_shared<nn::LPPoolNd>(dims, kw.at("norm_type").get<double>(), ints(kw.at("kernel_size")),
                                          stride, ceil);
  }
  auto opt_double = [&](const char* key) -> std::optional<double> {
    if (!kw.contains(key) || kw.at(key).is_null()) return std::nullopt;
    return kw.at(key).get<double>();
  };
  auto opt_int = [&](const char* key) -> std::optional<int64_t> {
    if (!kw.contains(key) || kw.at(key).is_null()) return std::nullopt;
    return kw.at(key).get<int64_t>();
  };
  const TensorOptions f64{DType::kFloat64};
  const double eps = get("eps", 1e-5).get<double>();
  if (type.rfind("BatchNorm", 0) == 0) {
    const auto dims = static_cast<size_t>(type[9] - '0');
    std::optional<double> momentum = kw.contains("momentum") ? opt_double("momentum") : std::optional<double>(0.1);
    return std::make_shared<nn::BatchNormNd>(dims, kw.at("num_features").get<int64_t>(), eps, momentum,
                                             get("affine", true).get<bool>(),
                                             get("track_running_stats", true).get<bool>(), f64);
  }
  if (type.rfind("InstanceNorm", 0) == 0) {
    const auto dims = static_cast<size_t>(type[12] - '0');
    return std::make_shared<nn::InstanceNormNd>(dims, kw.at("num_features").get<int64_t>(), eps,
                                                get("momentum", 0.1).get<double>(), get("affine", false).get<bool>(),
                                                get("track_running_stats", false).get<bool>(), f64);
  }
  if (type == "LayerNorm") {
    return std::make_shared<nn::LayerNorm>(ints(kw.at("normalized_shape")), eps,
                                           get("elementwise_affine", true).get<bool>(), f64);
  }
  if (type == "GroupNorm") {
    return std::make_shared<nn::GroupNorm>(kw.at("num_groups").get<int64_t>(), kw.at("num_channels").get<int64_t>(),
                                           eps, get("affine", true).get<bool>(), f64);
  }
  if (type == "LocalResponseNorm") {
    return std::make_shared<nn::LocalResponseNorm>(kw.at("size").get<int64_t>(), get("alpha", 1e-4).get<double>(),
                                                   get("beta", 0.75).get<double>(), get("k", 1.0).get<double>());
  }
  if (type == "Embedding") {
    return std::make_shared<nn::Embedding>(kw.at("num_embeddings").get<int64_t>(), kw.at("embedding_dim").get<int64_t>(),
                                           opt_int("padding_idx"), opt_double("max_norm"),
                                           get("norm_type", 2.0).get<double>(),
                                           get("scale_grad_by_freq", false).get<bool>(), false, f64);
  }
  if (type == "EmbeddingBag") {
    return std::make_shared<nn::EmbeddingBag>(
        kw.at("num_embeddings").get<int64_t>(), kw.at("embedding_dim").get<int64_t>(), opt_double("max_norm"),
        get("norm_type", 2.0).get<double>(), get("scale_grad_by_freq", false).get<bool>(),
        get("mode", "mean").get<std::string>(), false, get("include_last_offset", false).get<bool>(),
        opt_int("padding_idx"), f64);
  }
  if (type == "Bilinear") {
    return std::make_shared<nn::Bilinear>(kw.at("in1_features").get<int64_t>(), kw.at("in2_features").get<int64_t>(),
                                          kw.at("out_features").get<int64_t>(), get("bias", true).get<bool>(), f64);
  }
  throw Error(ErrorCode::kUnimplemented, "layers_test: no builder for " + type);
}

class LayersTest : public testing::DeviceTest {
 protected:
  std::string message_of(const std::function<void()>& fn) { return std::string(error_of(fn).what()); }
  void expect_near(const Tensor& actual, const Tensor& expected, const std::string& what) {
    ASSERT_TRUE(actual.defined()) << what << " is undefined";
    ASSERT_EQ(actual.shape(), expected.shape()) << what;
    const double diff = actual.to("cpu").to(DType::kFloat64).sub(expected.to(DType::kFloat64)).abs().max().item<double>();
    EXPECT_LT(diff, 1e-9) << what;
  }
};

TD_DEVICE_TEST(LayersTest, MatchPyTorchGolden) {
  std::ifstream in(fixture_dir() + "/modules/layers.json");
  ASSERT_TRUE(in) << "run /usr/bin/python3 tests/golden/generate_layers.py";
  const json doc = json::parse(in);
  ASSERT_GE(doc.at("cases").size(), 60u);
  for (const json& c : doc.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    auto layer = build(c.at("module"), c.at("kwargs"));
    layer->to(device_);
    nn::StateDict state;
    for (auto& [key, value] : c.at("state").items()) state.emplace_back(key, tensor_from_json(value, device_));
    layer->load_state_dict(state);
    layer->train(c.value("train", true));
    if (c.contains("steps")) {
      autograd::NoGradGuard no_grad;
      for (const json& step : c.at("steps")) layer->call({tensor_from_json(step, device_)});
    }
    Tensor x = tensor_from_json(c.at("input"), device_);
    if (is_floating(x.dtype())) x.requires_grad_();
    TensorList inputs{x};
    if (c.contains("extra_inputs")) {
      for (const json& e : c.at("extra_inputs")) {
        Tensor t = tensor_from_json(e, device_);
        if (is_floating(t.dtype())) t.requires_grad_();
        inputs.push_back(t);
      }
    }
    TensorList out;
    if (c.at("forward_kwargs").contains("output_size")) {
      auto& conv = dynamic_cast<nn::ConvTransposeNd&>(*layer);
      out = {conv.forward(x, c.at("forward_kwargs").at("output_size").get<std::vector<int64_t>>())};
    } else {
      out = layer->call(inputs);
    }
    expect_near(out[0], tensor_from_json(c.at("output"), kCPU), name + " output");
    if (c.contains("indices")) {
      ASSERT_EQ(out.size(), 2u);
      EXPECT_TRUE(out[1].to("cpu").equal(tensor_from_json(c.at("indices"), kCPU)).item<bool>()) << name << " indices";
    }
    out[0].backward(tensor_from_json(c.at("grad_output"), device_));
    if (c.at("grad_input").is_null()) {
      EXPECT_FALSE(x.grad().defined()) << name << " grad_input";
    } else {
      expect_near(x.grad(), tensor_from_json(c.at("grad_input"), kCPU), name + " grad_input");
    }
    for (auto& [key, value] : c.at("grad_params").items()) {
      expect_near(layer->get_tensor(key).grad(), tensor_from_json(value, kCPU), name + " grad " + key);
    }
    if (c.contains("grad_extra_inputs")) {
      for (size_t i = 0; i < c.at("grad_extra_inputs").size(); ++i) {
        const json& g = c.at("grad_extra_inputs")[i];
        if (!g.is_null()) expect_near(inputs[i + 1].grad(), tensor_from_json(g, kCPU), name + " grad extra input");
      }
    }
    // Buffers and parameters after the calls: running statistics, num_batches_tracked, max_norm's rescaling.
    if (c.contains("state_after")) {
      const nn::StateDict after = layer->state_dict();
      ASSERT_EQ(after.size(), c.at("state_after").size()) << name << " state_dict keys";
      for (const auto& [key, value] : after) {
        const Tensor want = tensor_from_json(c.at("state_after").at(key), kCPU);
        if (is_floating(want.dtype())) {
          expect_near(value, want, name + " state " + key);
        } else {
          EXPECT_TRUE(value.to("cpu").equal(want).item<bool>()) << name << " state " << key << ": " << value.str();
        }
      }
    }
  }
}

TEST(LayersReprTest, MatchesPyTorch) {
  using nn::ConvOptions;
  EXPECT_EQ(nn::Conv1d(4, 6, 3, {.stride = 2, .padding = "valid"}).repr(),
            "Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=valid)");
  EXPECT_EQ(nn::Conv2d(4, 6, {3, 5}, {.padding = "same", .dilation = 2, .groups = 2, .bias = false,
                                       .padding_mode = "reflect"}).repr(),
            "Conv2d(4, 6, kernel_size=(3, 5), stride=(1, 1), padding=same, dilation=(2, 2), groups=2, bias=False, "
            "padding_mode=reflect)");
  EXPECT_EQ(nn::Conv3d(2, 4, 3, {.padding = 1, .padding_mode = "circular"}).repr(),
            "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1), padding_mode=circular)");
  EXPECT_EQ(nn::ConvTranspose2d(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1}).repr(),
            "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))");
  EXPECT_EQ(nn::MaxPool1d(3)->repr(), "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(nn::MaxPool2d({2, 3}, 1, 1, 1, false, true)->repr(),
            "MaxPool2d(kernel_size=(2, 3), stride=1, padding=1, dilation=1, ceil_mode=True)");
  EXPECT_EQ(nn::AvgPool1d(3)->repr(), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))");
  EXPECT_EQ(nn::AvgPool2d(2)->repr(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(nn::AvgPool2d({2, 3}, {1, 2})->repr(), "AvgPool2d(kernel_size=(2, 3), stride=(1, 2), padding=0)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d({5, 7})->repr(), "AdaptiveAvgPool2d(output_size=(5, 7))");
  EXPECT_EQ(nn::AdaptiveMaxPool1d(3)->repr(), "AdaptiveMaxPool1d(output_size=3)");
  EXPECT_EQ(nn::LPPool2d(2, 3)->repr(), "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)");
  EXPECT_EQ(nn::LPPool1d(1.5, 3, 2)->repr(), "LPPool1d(norm_type=1.5, kernel_size=3, stride=2, ceil_mode=False)");
  EXPECT_EQ(nn::MaxUnpool2d(2)->repr(), "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  EXPECT_EQ(nn::MaxUnpool1d(3, 2, 1)->repr(), "MaxUnpool1d(kernel_size=(3,), stride=(2,), padding=(1,))");
  EXPECT_EQ(nn::FractionalMaxPool2d(3, {}, std::vector<double>{0.5}).repr(), "FractionalMaxPool2d()");
}

TEST(LayersErrorTest, ConvArgumentsAreCheckedWithPyTorchWords) {
  auto message = [](const std::function<void()>& fn) { return std::string(error_of(fn).what()); };
  EXPECT_THAT(message([] { nn::Conv2d(3, 4, 3, {.groups = 2}); }),
              HasSubstr("[Conv2d] in_channels must be divisible by groups"));
  EXPECT_THAT(message([] { nn::Conv2d(4, 3, 3, {.groups = 2}); }),
              HasSubstr("[Conv2d] out_channels must be divisible by groups"));
  EXPECT_THAT(message([] { nn::Conv2d(4, 4, 3, {.groups = 0}); }), HasSubstr("groups must be a positive integer"));
  EXPECT_THAT(message([] { nn::Conv2d(1, 1, 3, {.stride = 2, .padding = "same"}); }),
              HasSubstr("padding='same' is not supported for strided convolutions"));
  EXPECT_THAT(message([] { nn::Conv2d(1, 1, 3, {.padding = "full"}); }),
              HasSubstr("Invalid padding string 'full', should be one of {'valid', 'same'}"));
  EXPECT_THAT(message([] { nn::Conv1d(1, 1, 3, {.padding_mode = "mirror"}); }),
              HasSubstr("padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, but got "
                        "padding_mode='mirror'"));
  EXPECT_THAT(message([] { nn::ConvTranspose2d(1, 1, 3, {.padding_mode = "reflect"}); }),
              HasSubstr("Only \"zeros\" padding mode is supported for ConvTranspose2d"));
  EXPECT_THAT(message([] { nn::Conv2d(1, 1, {3, 3, 3}); }),
              HasSubstr("[Conv2d] kernel_size must be an int or a list of 2 ints, got [3, 3, 3]"));
  auto deconv = std::make_shared<nn::ConvTranspose2d>(2, 3, 3, nn::ConvOptions{.stride = 3, .padding = 1});
  EXPECT_THAT(message([&] { deconv->forward(zeros({1, 2, 3, 3}), {12, 9}); }),
              HasSubstr("requested an output size of [12, 9], but valid sizes range from [7, 7] to [9, 9] (for an "
                        "input of [3, 3])"));
  EXPECT_THAT(message([] { nn::FractionalMaxPool2d(2); }),
              HasSubstr("requires specifying either an output size, or a pooling ratio"));
}

TEST(LayersInitTest, ConvDrawsFromPyTorchsBounds) {
  // kaiming_uniform_(a = sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = 3 * 3 * 3 = 27 here, and
  // for the transposed layer weight.size(1) * 9 = 2 * 9 = 18.
  manual_seed(1);
  nn::Conv2d conv(3, 64, 3);
  const double bound = 1 / std::sqrt(27.0);
  EXPECT_LE(conv.weight.abs().max().item<double>(), bound);
  EXPECT_GT(conv.weight.abs().max().item<double>(), 0.9 * bound);
  EXPECT_LE(conv.bias.abs().max().item<double>(), bound);
  EXPECT_FALSE(conv.weight.requires_grad() == false);
  nn::ConvTranspose2d deconv(4, 2, 3);
  EXPECT_LE(deconv.weight.abs().max().item<double>(), 1 / std::sqrt(18.0));
  EXPECT_EQ(deconv.weight.shape(), (std::vector<int64_t>{4, 2, 3, 3}));
}

TEST(LayersPoolTest, ReturnIndicesGivesTwoOutputsAndUnpoolInvertsThem) {
  auto pool = nn::MaxPool2d(2, {}, 0, 1, /*return_indices=*/true);
  Tensor x = tensor(std::vector<float>{1, 5, 2, 0, 3, 4, 8, 7, 0, 1, 2, 3, 9, 6, 4, 5}, {1, 1, 4, 4});
  TensorList out = pool->call({x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].equal(tensor(std::vector<float>{5, 8, 9, 5}, {1, 1, 2, 2})).item<bool>());
  EXPECT_TRUE(out[1].equal(tensor(std::vector<int64_t>{1, 6, 12, 15}, {1, 1, 2, 2})).item<bool>());
  EXPECT_THAT(std::string(error_of([&] { (*pool)(x); }).what()), HasSubstr("returned 2 outputs"));
  auto unpool = nn::MaxUnpool2d(2);
  Tensor back = unpool->call({out[0], out[1]})[0];
  EXPECT_TRUE(back.equal(tensor(std::vector<float>{0, 5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 9, 0, 0, 5}, {1, 1, 4, 4})).item<bool>());
}

TEST(ReferenceCnnTest, PrintsLikePyTorchAndTrainsWithTheAlarmHooked) {
  manual_seed(0);
  auto model = std::make_shared<examples::CNN>(10, 1, 28, 28);
  EXPECT_EQ(model->repr(),
            "CNN(\n"
            "  (features): Sequential(\n"
            "    (0): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
            "    (1): ReLU()\n"
            "    (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
            "    (3): Conv2d(32, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
            "    (4): ReLU()\n"
            "    (5): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
            "  )\n"
            "  (classifier): Sequential(\n"
            "    (0): Linear(in_features=6272, out_features=64, bias=True)\n"
            "    (1): ReLU()\n"
            "    (2): Linear(in_features=64, out_features=10, bias=True)\n"
            "  )\n"
            ")");
  auto alarm = std::make_shared<examples::GradientAlarm>();
  std::vector<std::string> lines;
  alarm->report = [&](const std::string& line) { lines.push_back(line); };
  model->alarm = alarm;
  Tensor x = random::randn({2, 1, 28, 28});
  Tensor y = (*model)(x);
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 10}));
  y.sum().backward();
  EXPECT_TRUE(lines.empty());
  // Scaling the loss up by 1e9 explodes both conv outputs' gradients; by 1e-12 they vanish.
  (*model)(x).sum().mul(1e9).backward();
  (*model)(x).sum().mul(1e-12).backward();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr("[Exploding Gradient] Conv2: max="));
  EXPECT_THAT(lines[1], HasSubstr("[Exploding Gradient] Conv1: max="));
  EXPECT_THAT(lines[2], HasSubstr("[Vanishing Gradient] Conv2: max="));
  EXPECT_THAT(lines[3], HasSubstr("[Vanishing Gradient] Conv1: max="));
  for (const Tensor& p : model->parameters()) EXPECT_TRUE(p.grad().defined());
}

// A spatial transformer's two halves: the identity affine grid samples the input back exactly (bilinear,
// align_corners false: pixel centres land on pixel centres); a half-turn flips it; bad modes are named.
TD_DEVICE_TEST(LayersTest, AffineGridAndGridSampleMakeASpatialTransformer) {
  const Tensor x = random::randn({2, 3, 4, 5}, {.dtype = DType::kFloat64}).to(device_.str());
  const Tensor identity = tensor(std::vector<double>{1, 0, 0, 0, 1, 0}, {1, 2, 3}, device_).expand({2, 2, 3});
  const Tensor grid = F::affine_grid(identity, {2, 3, 4, 5});
  EXPECT_THAT(grid.shape(), ::testing::ElementsAre(2, 4, 5, 2));
  EXPECT_LT(F::grid_sample(x, grid).sub(x).abs().max().item<double>(), 1e-12);
  EXPECT_LT(F::grid_sample(x, grid, "nearest").sub(x).abs().max().item<double>(), 1e-12);
  const Tensor half_turn = tensor(std::vector<double>{-1, 0, 0, 0, -1, 0}, {1, 2, 3}, device_).expand({2, 2, 3});
  EXPECT_LT(F::grid_sample(x, F::affine_grid(half_turn, {2, 3, 4, 5})).sub(x.flip({2, 3})).abs().max().item<double>(),
            1e-12);
  EXPECT_THAT(testing::error_of([&] { (void)F::grid_sample(x, grid, "linear"); }).what(),
              ::testing::HasSubstr("expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'linear'"));
  EXPECT_EQ(testing::error_of([&] { (void)F::grid_sample(x, grid, "bicubic"); }).code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(testing::error_of([&] { (void)F::affine_grid(identity, {2, 3, 4}); }).what(),
              ::testing::HasSubstr("affine_grid only supports 4D and 5D sizes"));
}

TD_INSTANTIATE_DEVICES(LayersTest);

}  // namespace
}  // namespace td
