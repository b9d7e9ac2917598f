// Modules by PyTorch's class name and constructor arguments: create_module("Conv2d", {1, 32, 3},
// {{"padding", 1}}) is nn.Conv2d(1, 32, 3, padding=1). A remote client creates its server-side modules this
// way; the arguments are op values (numbers, int lists, strings, tensors, None).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/nn/functional.h"
#include "core/nn/module.h"
#include "core/value.h"

namespace td::nn {

/// Keyword arguments, by name.
using Kwargs = std::vector<std::pair<std::string, Value>>;

/// The arguments of one constructor call, bound by name with the signature's defaults filled in. Each getter
/// fails with INVALID_ARGUMENT naming the module and argument when the value is of another kind.
class ModuleArgs {
 public:
  ModuleArgs(std::string module, std::map<std::string, Value> values);
  /// Whether the argument is there and not None.
  bool given(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string text(const std::string& name) const;
  /// An int or a list of ints (`int or tuple`); empty for None.
  functional::IntArg ints(const std::string& name) const;
  /// A list of floats given as one number (repeated); None gives nullopt.
  std::optional<std::vector<double>> floats(const std::string& name) const;
  /// A number, a list of ints, or "same"/"valid".
  functional::Padding padding(const std::string& name) const;
  /// A tensor; undefined for None.
  Tensor tensor(const std::string& name) const;
  std::optional<int64_t> optional_integer(const std::string& name) const;
  std::optional<double> optional_number(const std::string& name) const;
  std::optional<bool> optional_flag(const std::string& name) const;

 private:
  const Value& at(const std::string& name) const { return values_.at(name); }
  [[noreturn]] void wrong(const std::string& name, const char* want, const Value& v) const;
  std::string module_;
  std::map<std::string, Value> values_;
};

/// Makes a module from its bound arguments.
using ModuleBuilder = std::function<std::shared_ptr<Module>(const ModuleArgs&)>;

/// Builds the module `name` (nn.Conv2d's "Conv2d") from positional then keyword arguments, as Python binds
/// them: unknown names, a value given twice, a missing required argument or a value of the wrong kind are
/// INVALID_ARGUMENT errors naming the module and argument; an unknown module is NOT_FOUND.
std::shared_ptr<Module> create_module(std::string_view name, std::vector<Value> args = {},
                                      const Kwargs& kwargs = {});

/// Every module create_module builds, as its Python signature: "Conv2d(in_channels, out_channels,
/// kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')".
std::vector<std::string> module_signatures();

/// Adds a module to create_module's table under the name its Python-style signature starts with
/// ("resnet18(num_classes=1000)"), for libraries above td_core (td::vision::register_models). Registering the
/// same signature again does nothing; another signature under a taken name is ALREADY_EXISTS.
void register_module_type(std::string signature, ModuleBuilder builder);

}  // namespace td::nn
