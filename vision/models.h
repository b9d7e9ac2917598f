// torchvision.models architectures (no pretrained weights) built from td::nn layers, with torchvision 0.14's
// module structure, names, default initialisation and reprs, so state_dicts interchange with torchvision's:
// resnet18/34/50, vgg11/vgg11_bn, mobilenet_v2, and a LeNet-5 (which torchvision has not).
//
//   auto model = td::vision::models::resnet18(/*num_classes=*/10);
//   td::Tensor logits = (*model)(images);  // images [N, 3, H, W]
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/nn/conv.h"
#include "core/nn/modules.h"
#include "core/nn/normalization.h"

namespace td::vision::models {

// ---- ResNet (torchvision/models/resnet.py) ----

/// Two 3x3 convolutions with a shortcut (torchvision's BasicBlock, expansion 1).
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  /// `downsample` (may be null) maps the input onto the output's shape for the shortcut.
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::shared_ptr<nn::Sequential> downsample = nullptr);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Module> relu;
  std::shared_ptr<nn::Sequential> downsample;
  int64_t stride;
};

/// 1x1, 3x3 (strided), 1x1 convolutions with a shortcut (torchvision's Bottleneck, ResNet V1.5: the stride
/// sits on the 3x3 convolution; expansion 4).
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::shared_ptr<nn::Sequential> downsample = nullptr);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Module> relu;
  std::shared_ptr<nn::Sequential> downsample;
  int64_t stride;
};

/// torchvision's ResNet: conv1 (7x7/2), bn1, relu, maxpool (3x3/2), layer1..layer4 of blocks, avgpool, fc.
/// Convolutions start as kaiming_normal_(mode="fan_out", nonlinearity="relu"), BatchNorms as weight 1, bias
/// 0; with zero_init_residual each block's last BatchNorm weight starts at 0.
class ResNet : public nn::Module {
 public:
  enum class Block { kBasic, kBottleneck };
  ResNet(Block block, const std::vector<int64_t>& layers, int64_t num_classes = 1000,
         bool zero_init_residual = false);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Module> relu, maxpool, avgpool;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::Linear> fc;

 private:
  std::shared_ptr<nn::Sequential> make_layer(Block block, int64_t planes, int64_t blocks, int64_t stride);
  int64_t inplanes_ = 64;
};

/// ResNet-18: BasicBlock, [2, 2, 2, 2] (11,689,512 parameters at 1000 classes).
std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000, bool zero_init_residual = false);
/// ResNet-34: BasicBlock, [3, 4, 6, 3].
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000, bool zero_init_residual = false);
/// ResNet-50: Bottleneck, [3, 4, 6, 3].
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000, bool zero_init_residual = false);

// ---- VGG (torchvision/models/vgg.py) ----

/// torchvision's VGG: features, avgpool (AdaptiveAvgPool2d((7, 7))), classifier (Linear 25088 -> 4096, ReLU,
/// Dropout, Linear 4096 -> 4096, ReLU, Dropout, Linear 4096 -> num_classes). With init_weights, convolutions
/// start as kaiming_normal_(mode="fan_out", nonlinearity="relu") with zero bias, BatchNorms as 1/0 and
/// Linears as normal(0, 0.01) with zero bias.
class VGG : public nn::Module {
 public:
  VGG(std::shared_ptr<nn::Sequential> features, int64_t num_classes = 1000, bool init_weights = true,
      double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> features, classifier;
  std::shared_ptr<nn::Module> avgpool;
};

/// torchvision's make_layers: 3x3 convolutions (padding 1) with channel counts from cfg, -1 for a
/// MaxPool2d(2, 2), each followed by BatchNorm2d when batch_norm and ReLU.
std::shared_ptr<nn::Sequential> make_vgg_layers(const std::vector<int64_t>& cfg, bool batch_norm);
/// VGG-11 (configuration "A"; 132,863,336 parameters at 1000 classes).
std::shared_ptr<VGG> vgg11(int64_t num_classes = 1000, double dropout = 0.5);
/// VGG-11 with BatchNorm after each convolution.
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes = 1000, double dropout = 0.5);

// ---- MobileNetV2 (torchvision/models/mobilenetv2.py, torchvision/ops/misc.py) ----

/// Conv2d (no bias, padding (k - 1) / 2), BatchNorm2d, ReLU6, children "0", "1", "2" called in order
/// (torchvision.ops's Conv2dNormActivation, a Sequential, with MobileNetV2's activation_layer=nn.ReLU6).
class Conv2dNormActivation : public nn::Module {
 public:
  Conv2dNormActivation(int64_t in_channels, int64_t out_channels, int64_t kernel_size = 3, int64_t stride = 1,
                       int64_t groups = 1);
  Tensor forward(const Tensor& x) override;
  int64_t out_channels;
};

/// Expand (1x1, unless expand_ratio is 1), depthwise 3x3, project (1x1 + BatchNorm), in a Sequential named
/// conv; the input is added back when stride is 1 and the channel counts agree (torchvision's
/// InvertedResidual).
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> conv;
  int64_t stride, out_channels;
  bool use_res_connect;
};

/// torchvision's MobileNetV2 (width_mult 1.0, round_nearest 8): features (20 blocks), then adaptive average
/// pooling to 1x1, flatten, classifier (Dropout(dropout), Linear(1280, num_classes)). Convolutions start as
/// kaiming_normal_(mode="fan_out"), BatchNorms as 1/0, the Linear as normal(0, 0.01) with zero bias.
class MobileNetV2 : public nn::Module {
 public:
  explicit MobileNetV2(int64_t num_classes = 1000, double dropout = 0.2);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> features, classifier;
  int64_t last_channel;
};

/// MobileNetV2 (3,504,872 parameters at 1000 classes).
std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes = 1000, double dropout = 0.2);

// ---- LeNet-5 (not in torchvision) ----

/// LeNet-5 as commonly written today (ReLU and max pooling in place of the 1998 paper's scaled tanh,
/// subsampling and partially connected C3): features = Conv2d(1, 6, 5, padding=p), ReLU, MaxPool2d(2, 2),
/// Conv2d(6, 16, 5), ReLU, MaxPool2d(2, 2); classifier = Linear(400, 120), ReLU, Linear(120, 84), ReLU,
/// Linear(84, num_classes), flattened in between. input_size 28 (MNIST) pads the first convolution by 2,
/// input_size 32 (the paper's) by 0, so both reach 16x5x5 features. PyTorch's default initialisation; 61,706
/// parameters at 10 classes.
class LeNet : public nn::Module {
 public:
  explicit LeNet(int64_t num_classes = 10, int64_t input_size = 28);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> features, classifier;
};

std::shared_ptr<LeNet> lenet(int64_t num_classes = 10, int64_t input_size = 28);

/// Adds the models above to nn::create_module's table (so a remote client can create them by name):
/// "resnet18(num_classes=1000, zero_init_residual=False)", resnet34, resnet50, "vgg11(num_classes=1000,
/// dropout=0.5)", vgg11_bn, "mobilenet_v2(num_classes=1000, dropout=0.2)", "LeNet(num_classes=10,
/// input_size=28)". Calling it again does nothing.
void register_models();

}  // namespace td::vision::models
