#!/usr/bin/python3
"""Writes tests/golden/modules/models.json, read by tests/vision/models_test.cpp: for each architecture of
vision/models.h, PyTorch's repr, state_dict keys and shapes and parameter count, and for resnet18 and
mobilenet_v2 (10 classes, input [2, 3, 32, 32], evaluation mode, float64) the output and the gradients of
sum(out * g) w.r.t. the input and a few named parameters.

torchvision is not installed beside the system's PyTorch, so the classes below are torchvision 0.14's own
(torchvision/models/resnet.py, vgg.py, mobilenetv2.py, and ops/misc.py's Conv2dNormActivation), transcribed with
the defaults the builders use (groups 1, base_width 64, no dilation, BatchNorm2d, width_mult 1.0,
round_nearest 8) and their names and registration order unchanged, so keys and reprs are torchvision's. LeNet has
no torchvision counterpart: it is the LeNet-5 of vision/models.h.

The numeric cases do not store the parameters (resnet18 has 11M): both sides fill the state_dict with the
deterministic pattern of `pattern_state` (integer arithmetic, so exactly reproducible): for the t-th floating
entry and its j-th element (row-major), u = ((7919 j + 104729 t) mod 1000) / 1000 - 0.5, then
  running_var: 1 + 0.5 (u + 0.5);  running_mean: 0.1 u;  weights of 2+ dims: 2 sqrt(6 / fan_in) u
  (He-scaled, fan_in = size(1) * kernel elements);  other weights (BatchNorm): 1 + 0.2 u;  biases: 0.1 u.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_models.py
"""

import json
import math
import os

import torch
from torch import nn

from generate import encode_tensor

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "models.json")


# ---- torchvision 0.14, models/resnet.py ----

def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
        super().__init__()
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def resnet18(num_classes=1000):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet34(num_classes=1000):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def resnet50(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)


# ---- torchvision 0.14, models/vgg.py ----

class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def make_layers(cfg, batch_norm=False):
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg11(num_classes=1000):
    return VGG(make_layers(CFG_A, False), num_classes)


def vgg11_bn(num_classes=1000):
    return VGG(make_layers(CFG_A, True), num_classes)


# ---- torchvision 0.14, ops/misc.py and models/mobilenetv2.py ----

class Conv2dNormActivation(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                            groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


def _make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers.extend([
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim, norm_layer=norm_layer,
                                 activation_layer=nn.ReLU6),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ])
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2):
        super().__init__()
        block = InvertedResidual
        norm_layer = nn.BatchNorm2d
        input_channel = 32
        last_channel = 1280
        inverted_residual_setting = [
            [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
            [6, 320, 1, 1]]
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                         activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(block(input_channel, output_channel, stride, expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(num_classes=1000):
    return MobileNetV2(num_classes)


# ---- LeNet-5 (vision/models.h; not in torchvision) ----

class LeNet(nn.Module):
    def __init__(self, num_classes=10, input_size=28):
        super().__init__()
        padding = (32 - input_size) // 2
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=padding), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ---- the fixture ----

def pattern_state(model):
    """The deterministic state_dict values described in the module docstring (float64)."""
    state = {}
    t = 0
    for name, v in model.state_dict().items():
        if not v.is_floating_point():
            state[name] = v.clone()
            continue
        j = torch.arange(v.numel(), dtype=torch.int64)
        u = ((j * 7919 + t * 104729) % 1000).double() / 1000 - 0.5
        if name.endswith("running_var"):
            x = 1 + 0.5 * (u + 0.5)
        elif name.endswith("running_mean"):
            x = 0.1 * u
        elif v.dim() >= 2:
            fan_in = v.shape[1] * math.prod(v.shape[2:])
            x = 2 * math.sqrt(6.0 / fan_in) * u
        elif name.endswith("weight"):
            x = 1 + 0.2 * u
        else:
            x = 0.1 * u
        state[name] = x.reshape(v.shape)
        t += 1
    return state


BUILDERS = {
    "resnet18": (resnet18, {"num_classes": 1000}),
    "resnet34": (resnet34, {"num_classes": 1000}),
    "resnet50": (resnet50, {"num_classes": 1000}),
    "vgg11": (vgg11, {"num_classes": 1000}),
    "vgg11_bn": (vgg11_bn, {"num_classes": 1000}),
    "mobilenet_v2": (mobilenet_v2, {"num_classes": 1000}),
    "lenet": (LeNet, {"num_classes": 10}),
}

# The gradients kept for the numeric cases (the big convolutions' would bloat the file).
GRAD_PARAMS = {
    "resnet18": ["conv1.weight", "bn1.weight", "layer1.0.bn1.weight", "layer2.0.downsample.1.bias",
                 "layer3.0.downsample.0.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"],
    "mobilenet_v2": ["features.0.0.weight", "features.0.1.weight", "features.1.conv.0.0.weight",
                     "features.1.conv.1.weight", "features.7.conv.1.0.weight", "features.17.conv.3.bias",
                     "features.18.1.weight", "classifier.1.weight", "classifier.1.bias"],
}


def structure_case(name):
    make, kwargs = BUILDERS[name]
    model = make(**kwargs)
    return {
        "name": name,
        "kwargs": kwargs,
        "repr": repr(model),
        "state": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()],
        "num_parameters": sum(p.numel() for p in model.parameters()),
    }


def numeric_case(name):
    make = BUILDERS[name][0]
    model = make(num_classes=10).double()
    model.load_state_dict(pattern_state(model))
    model.eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    out = model(x)
    g = torch.randn(out.shape, dtype=torch.float64)
    (out * g).sum().backward()
    params = dict(model.named_parameters())
    return {
        "name": name,
        "input": encode_tensor(x),
        "g": encode_tensor(g),
        "output": encode_tensor(out),
        "grad_input": encode_tensor(x.grad),
        "grads": {p: encode_tensor(params[p].grad) for p in GRAD_PARAMS[name]},
    }


def main():
    torch.manual_seed(20240612)
    data = {
        "generator": "tests/golden/generate_models.py",
        "torch_version": torch.__version__,
        "structure": [structure_case(name) for name in BUILDERS],
        "numeric": [numeric_case(name) for name in GRAD_PARAMS],
    }
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {os.path.getsize(OUT)} bytes to {OUT}")


if __name__ == "__main__":
    main()
