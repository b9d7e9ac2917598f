// torchvision 0.14's model builders, transcribed layer for layer: the registration order of every submodule
// is torchvision's __init__ order, since state_dict keys and repr follow it.
#include "vision/models.h"

#include <string>
#include <utility>

#include "core/error.h"
#include "core/nn/activation.h"
#include "core/nn/factory.h"
#include "core/nn/init.h"
#include "core/nn/pooling.h"

namespace td::vision::models {

namespace {

namespace init = nn::init;

// nn.ReLU(inplace=True) / nn.ReLU6(inplace=True): computed out of place (autograd), printed as torchvision's.
std::shared_ptr<nn::Module> relu_inplace() {
  return std::make_shared<nn::Activation>(
      "ReLU", [](const Tensor& x) { return x.relu(); }, "inplace=True");
}
std::shared_ptr<nn::Module> relu6_inplace() {
  return std::make_shared<nn::Activation>(
      "ReLU6", [](const Tensor& x) { return nn::functional::relu6(x); }, "inplace=True");
}

// resnet.py's conv3x3 and conv1x1: no bias, the BatchNorm after them has one.
std::shared_ptr<nn::Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return std::make_shared<nn::Conv2d>(in, out, 3,
                                      nn::ConvOptions{.stride = stride, .padding = 1, .bias = false});
}
std::shared_ptr<nn::Conv2d> conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return std::make_shared<nn::Conv2d>(in, out, 1, nn::ConvOptions{.stride = stride, .bias = false});
}

// The weight init loops of VGG's and MobileNetV2's __init__ (over self.modules(), in order).
void init_weights(nn::Module& model, const std::string& conv_nonlinearity) {
  for (nn::Module* m : model.modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      // VGG names nonlinearity="relu"; MobileNetV2 keeps the default leaky_relu with a = 0. Both give gain
      // sqrt(2), but the call is kept as each file writes it.
      init::kaiming_normal_(conv->weight, 0, "fan_out", conv_nonlinearity);
      if (conv->bias.defined()) init::zeros_(conv->bias);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      init::ones_(bn->weight);
      init::zeros_(bn->bias);
    } else if (auto* fc = dynamic_cast<nn::Linear*>(m)) {
      init::normal_(fc->weight, 0, 0.01);
      if (fc->bias.defined()) init::zeros_(fc->bias);
    }
  }
}

}  // namespace

// ---- ResNet ----

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride_,
                       std::shared_ptr<nn::Sequential> down)
    : Module("BasicBlock"), stride(stride_) {
  conv1 = register_module("conv1", conv3x3(inplanes, planes, stride));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  relu = register_module("relu", relu_inplace());
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (down) downsample = register_module("downsample", std::move(down));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = (*relu)((*bn1)((*conv1)(x)));
  out = (*bn2)((*conv2)(out));
  Tensor identity = downsample ? (*downsample)(x) : x;
  return (*relu)(out + identity);
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride_,
                       std::shared_ptr<nn::Sequential> down)
    : Module("Bottleneck"), stride(stride_) {
  const int64_t width = planes;  // int(planes * (base_width / 64.0)) * groups with base_width 64, groups 1
  conv1 = register_module("conv1", conv1x1(inplanes, width));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(width));
  conv2 = register_module("conv2", conv3x3(width, width, stride));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(width));
  conv3 = register_module("conv3", conv1x1(width, planes * kExpansion));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * kExpansion));
  relu = register_module("relu", relu_inplace());
  if (down) downsample = register_module("downsample", std::move(down));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = (*relu)((*bn1)((*conv1)(x)));
  out = (*relu)((*bn2)((*conv2)(out)));
  out = (*bn3)((*conv3)(out));
  Tensor identity = downsample ? (*downsample)(x) : x;
  return (*relu)(out + identity);
}

ResNet::ResNet(Block block, const std::vector<int64_t>& layers, int64_t num_classes, bool zero_init_residual)
    : Module("ResNet") {
  TD_CHECK_ARG(layers.size() == 4, "[ResNet] layers must have 4 entries, got ", layers.size());
  const int64_t expansion = block == Block::kBasic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  conv1 = register_module(
      "conv1", std::make_shared<nn::Conv2d>(3, inplanes_, 7,
                                            nn::ConvOptions{.stride = 2, .padding = 3, .bias = false}));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(inplanes_));
  relu = register_module("relu", relu_inplace());
  maxpool = register_module("maxpool", nn::MaxPool2d(3, 2, 1));
  layer1 = register_module("layer1", make_layer(block, 64, layers[0], 1));
  layer2 = register_module("layer2", make_layer(block, 128, layers[1], 2));
  layer3 = register_module("layer3", make_layer(block, 256, layers[2], 2));
  layer4 = register_module("layer4", make_layer(block, 512, layers[3], 2));
  avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d({1, 1}));
  fc = register_module("fc", std::make_shared<nn::Linear>(512 * expansion, num_classes));

  for (nn::Module* m : modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      init::kaiming_normal_(conv->weight, 0, "fan_out", "relu");
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      init::constant_(bn->weight, 1);
      init::constant_(bn->bias, 0);
    }
  }
  // The fc keeps nn.Linear's default initialisation, as in torchvision.
  if (zero_init_residual) {
    for (nn::Module* m : modules()) {
      if (auto* b = dynamic_cast<Bottleneck*>(m)) init::constant_(b->bn3->weight, 0);
      if (auto* b = dynamic_cast<BasicBlock*>(m)) init::constant_(b->bn2->weight, 0);
    }
  }
}

std::shared_ptr<nn::Sequential> ResNet::make_layer(Block block, int64_t planes, int64_t blocks,
                                                   int64_t stride) {
  const int64_t expansion = block == Block::kBasic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  std::shared_ptr<nn::Sequential> downsample;
  if (stride != 1 || inplanes_ != planes * expansion) {
    downsample = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        conv1x1(inplanes_, planes * expansion, stride),
        std::make_shared<nn::BatchNorm2d>(planes * expansion)});
  }
  auto make = [&](int64_t inplanes, int64_t s,
                  std::shared_ptr<nn::Sequential> down) -> std::shared_ptr<nn::Module> {
    if (block == Block::kBasic) return std::make_shared<BasicBlock>(inplanes, planes, s, std::move(down));
    return std::make_shared<Bottleneck>(inplanes, planes, s, std::move(down));
  };
  auto layer = std::make_shared<nn::Sequential>();
  layer->push_back(make(inplanes_, stride, downsample));
  inplanes_ = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) layer->push_back(make(inplanes_, 1, nullptr));
  return layer;
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = (*maxpool)((*relu)((*bn1)((*conv1)(x))));
  y = (*layer4)((*layer3)((*layer2)((*layer1)(y))));
  return (*fc)((*avgpool)(y).flatten(1));
}

std::shared_ptr<ResNet> resnet18(int64_t num_classes, bool zero_init_residual) {
  return std::make_shared<ResNet>(ResNet::Block::kBasic, std::vector<int64_t>{2, 2, 2, 2}, num_classes,
                                  zero_init_residual);
}
std::shared_ptr<ResNet> resnet34(int64_t num_classes, bool zero_init_residual) {
  return std::make_shared<ResNet>(ResNet::Block::kBasic, std::vector<int64_t>{3, 4, 6, 3}, num_classes,
                                  zero_init_residual);
}
std::shared_ptr<ResNet> resnet50(int64_t num_classes, bool zero_init_residual) {
  return std::make_shared<ResNet>(ResNet::Block::kBottleneck, std::vector<int64_t>{3, 4, 6, 3}, num_classes,
                                  zero_init_residual);
}

// ---- VGG ----

VGG::VGG(std::shared_ptr<nn::Sequential> features_, int64_t num_classes, bool init, double dropout)
    : Module("VGG") {
  features = register_module("features", std::move(features_));
  avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d({7, 7}));
  classifier = register_module(
      "classifier",
      std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
          std::make_shared<nn::Linear>(512 * 7 * 7, 4096), relu_inplace(),
          std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(4096, 4096), relu_inplace(),
          std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(4096, num_classes)}));
  if (init) init_weights(*this, "relu");
}

Tensor VGG::forward(const Tensor& x) {
  return (*classifier)((*avgpool)((*features)(x)).flatten(1));
}

std::shared_ptr<nn::Sequential> make_vgg_layers(const std::vector<int64_t>& cfg, bool batch_norm) {
  auto layers = std::make_shared<nn::Sequential>();
  int64_t in_channels = 3;
  for (int64_t v : cfg) {
    if (v < 0) {
      layers->push_back(nn::MaxPool2d(2, 2));
      continue;
    }
    layers->push_back(std::make_shared<nn::Conv2d>(in_channels, v, 3, nn::ConvOptions{.padding = 1}));
    if (batch_norm) layers->push_back(std::make_shared<nn::BatchNorm2d>(v));
    layers->push_back(relu_inplace());
    in_channels = v;
  }
  return layers;
}

namespace {
// torchvision's cfgs["A"], with -1 for "M".
const std::vector<int64_t> kVggA = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};
}  // namespace

std::shared_ptr<VGG> vgg11(int64_t num_classes, double dropout) {
  return std::make_shared<VGG>(make_vgg_layers(kVggA, false), num_classes, true, dropout);
}
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes, double dropout) {
  return std::make_shared<VGG>(make_vgg_layers(kVggA, true), num_classes, true, dropout);
}

// ---- MobileNetV2 ----

Conv2dNormActivation::Conv2dNormActivation(int64_t in_channels, int64_t out_channels_, int64_t kernel_size,
                                           int64_t stride, int64_t groups)
    : Module("Conv2dNormActivation"), out_channels(out_channels_) {
  // padding = (kernel_size - 1) // 2 * dilation; bias = norm_layer is None, i.e. False.
  register_module(
      "0", std::make_shared<nn::Conv2d>(
               in_channels, out_channels, kernel_size,
               nn::ConvOptions{
                   .stride = stride, .padding = (kernel_size - 1) / 2, .groups = groups, .bias = false}));
  register_module("1", std::make_shared<nn::BatchNorm2d>(out_channels));
  register_module("2", relu6_inplace());
}

Tensor Conv2dNormActivation::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, child] : named_children()) y = (*child)(y);
  return y;
}

InvertedResidual::InvertedResidual(int64_t inp, int64_t oup, int64_t stride_, int64_t expand_ratio)
    : Module("InvertedResidual"), stride(stride_), out_channels(oup) {
  TD_CHECK_ARG(stride == 1 || stride == 2, "[InvertedResidual] stride should be 1 or 2 instead of ", stride);
  const int64_t hidden_dim = inp * expand_ratio;  // int(round(inp * expand_ratio)) for an integer ratio
  use_res_connect = stride == 1 && inp == oup;
  auto layers = std::make_shared<nn::Sequential>();
  if (expand_ratio != 1) layers->push_back(std::make_shared<Conv2dNormActivation>(inp, hidden_dim, 1));
  layers->push_back(std::make_shared<Conv2dNormActivation>(hidden_dim, hidden_dim, 3, stride, hidden_dim));
  layers->push_back(std::make_shared<nn::Conv2d>(hidden_dim, oup, 1, nn::ConvOptions{.bias = false}));
  layers->push_back(std::make_shared<nn::BatchNorm2d>(oup));
  conv = register_module("conv", layers);
}

Tensor InvertedResidual::forward(const Tensor& x) {
  return use_res_connect ? x + (*conv)(x) : (*conv)(x);
}

MobileNetV2::MobileNetV2(int64_t num_classes, double dropout) : Module("MobileNetV2") {
  // _make_divisible(c * 1.0, 8) is c itself for every channel count below.
  int64_t input_channel = 32;
  last_channel = 1280;
  struct Stage {
    int64_t t, c, n, s;
  };
  const Stage setting[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                           {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  auto f = std::make_shared<nn::Sequential>();
  f->push_back(std::make_shared<Conv2dNormActivation>(3, input_channel, 3, 2));
  for (const Stage& st : setting) {
    for (int64_t i = 0; i < st.n; ++i) {
      f->push_back(std::make_shared<InvertedResidual>(input_channel, st.c, i == 0 ? st.s : 1, st.t));
      input_channel = st.c;
    }
  }
  f->push_back(std::make_shared<Conv2dNormActivation>(input_channel, last_channel, 1));
  features = register_module("features", f);
  classifier = register_module(
      "classifier",
      std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
          std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(last_channel, num_classes)}));
  init_weights(*this, "leaky_relu");
}

Tensor MobileNetV2::forward(const Tensor& x) {
  Tensor y = nn::functional::adaptive_avg_pool2d((*features)(x), {1, 1});
  return (*classifier)(y.flatten(1));
}

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes, double dropout) {
  return std::make_shared<MobileNetV2>(num_classes, dropout);
}

// ---- LeNet ----

LeNet::LeNet(int64_t num_classes, int64_t input_size) : Module("LeNet") {
  TD_CHECK_ARG(input_size == 28 || input_size == 32, "[LeNet] input_size must be 28 or 32, got ", input_size);
  const int64_t padding = (32 - input_size) / 2;
  features = register_module(
      "features",
      std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
          std::make_shared<nn::Conv2d>(1, 6, 5, nn::ConvOptions{.padding = padding}),
          std::make_shared<nn::ReLU>(), nn::MaxPool2d(2, 2), std::make_shared<nn::Conv2d>(6, 16, 5),
          std::make_shared<nn::ReLU>(), nn::MaxPool2d(2, 2)}));
  classifier = register_module(
      "classifier", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                        std::make_shared<nn::Linear>(16 * 5 * 5, 120), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(120, 84), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(84, num_classes)}));
}

Tensor LeNet::forward(const Tensor& x) {
  return (*classifier)((*features)(x).flatten(1));
}

std::shared_ptr<LeNet> lenet(int64_t num_classes, int64_t input_size) {
  return std::make_shared<LeNet>(num_classes, input_size);
}

// ---- registration ----

void register_models() {
  using A = const nn::ModuleArgs&;
  nn::register_module_type("resnet18(num_classes=1000, zero_init_residual=False)", [](A a) {
    return resnet18(a.integer("num_classes"), a.flag("zero_init_residual"));
  });
  nn::register_module_type("resnet34(num_classes=1000, zero_init_residual=False)", [](A a) {
    return resnet34(a.integer("num_classes"), a.flag("zero_init_residual"));
  });
  nn::register_module_type("resnet50(num_classes=1000, zero_init_residual=False)", [](A a) {
    return resnet50(a.integer("num_classes"), a.flag("zero_init_residual"));
  });
  nn::register_module_type("vgg11(num_classes=1000, dropout=0.5)",
                           [](A a) { return vgg11(a.integer("num_classes"), a.number("dropout")); });
  nn::register_module_type("vgg11_bn(num_classes=1000, dropout=0.5)",
                           [](A a) { return vgg11_bn(a.integer("num_classes"), a.number("dropout")); });
  nn::register_module_type("mobilenet_v2(num_classes=1000, dropout=0.2)",
                           [](A a) { return mobilenet_v2(a.integer("num_classes"), a.number("dropout")); });
  nn::register_module_type("LeNet(num_classes=10, input_size=28)",
                           [](A a) { return lenet(a.integer("num_classes"), a.integer("input_size")); });
}

}  // namespace td::vision::models
