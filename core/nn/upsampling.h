// Upsampling layers (nn.Upsample, UpsamplingNearest2d, UpsamplingBilinear2d) over F.interpolate, with
// PyTorch's defaults and repr.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/nn/functional.h"
#include "core/nn/module.h"

namespace td::nn {

/// Resizes its input with F.interpolate to `size` or by `scale_factor` (nn.Upsample).
class Upsample : public Module {
 public:
  explicit Upsample(functional::IntArg size = {}, functional::FloatArg scale_factor = {},
                    std::string mode = "nearest", std::optional<bool> align_corners = std::nullopt,
                    std::optional<bool> recompute_scale_factor = std::nullopt);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  /// The same layer under another class name (UpsamplingNearest2d, UpsamplingBilinear2d).
  Upsample(std::string type_name, functional::IntArg size, functional::FloatArg scale_factor,
           std::string mode, std::optional<bool> align_corners);

  functional::IntArg size;
  functional::FloatArg scale_factor;
  std::string mode;
  std::optional<bool> align_corners, recompute_scale_factor;
};

/// nn.UpsamplingNearest2d: Upsample in "nearest" mode (its repr keeps the class name).
std::shared_ptr<Upsample> UpsamplingNearest2d(functional::IntArg size = {},
                                              functional::FloatArg scale_factor = {});
/// nn.UpsamplingBilinear2d: Upsample in "bilinear" mode with align_corners=True.
std::shared_ptr<Upsample> UpsamplingBilinear2d(functional::IntArg size = {},
                                               functional::FloatArg scale_factor = {});

}  // namespace td::nn
