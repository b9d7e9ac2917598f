// Modules by PyTorch's class name and constructor arguments: create_module("Conv2d", {1, 32, 3},
// {{"padding", 1}}) is nn.Conv2d(1, 32, 3, padding=1). A remote client creates its server-side modules this
// way; the arguments are op values (numbers, int lists, strings, tensors, None).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/nn/module.h"
#include "core/value.h"

namespace td::nn {

/// Keyword arguments, by name.
using Kwargs = std::vector<std::pair<std::string, Value>>;

/// Builds the module `name` (nn.Conv2d's "Conv2d") from positional then keyword arguments, as Python binds
/// them: unknown names, a value given twice, a missing required argument or a value of the wrong kind are
/// INVALID_ARGUMENT errors naming the module and argument; an unknown module is NOT_FOUND.
std::shared_ptr<Module> create_module(std::string_view name, std::vector<Value> args = {}, const Kwargs& kwargs = {});

/// Every module create_module builds, as its Python signature: "Conv2d(in_channels, out_channels,
/// kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')".
std::vector<std::string> module_signatures();

}  // namespace td::nn
