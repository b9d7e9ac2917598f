// Upsampling layers: a thin Module over F.interpolate.
#include "core/nn/upsampling.h"

#include "core/nn/repr.h"

namespace td::nn {

namespace F = functional;

Upsample::Upsample(F::IntArg size_, F::FloatArg scale, std::string mode_, std::optional<bool> align,
                   std::optional<bool> recompute)
    : Module("Upsample"),
      size(std::move(size_)),
      scale_factor(std::move(scale)),
      mode(std::move(mode_)),
      align_corners(align),
      recompute_scale_factor(recompute) {}

Upsample::Upsample(std::string type_name, F::IntArg size_, F::FloatArg scale, std::string mode_,
                   std::optional<bool> align)
    : Module(std::move(type_name)),
      size(std::move(size_)),
      scale_factor(std::move(scale)),
      mode(std::move(mode_)),
      align_corners(align) {}

Tensor Upsample::forward(const Tensor& input) {
  return F::interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor);
}

std::string Upsample::extra_repr() const {
  // PyTorch keeps scale_factor as a float (or a tuple of floats) and size as given.
  std::string info;
  if (!scale_factor.values.empty()) {
    const auto& v = scale_factor.values;
    if (v.size() == 1) {
      info = "scale_factor=" + detail::py_float(v[0]);
    } else {
      info = "scale_factor=(";
      for (size_t i = 0; i < v.size(); ++i) info += (i ? ", " : "") + detail::py_float(v[i]);
      info += ")";
    }
  } else {
    info = "size=" + (size.values.empty() ? std::string("None") : detail::py_int_or_tuple(size.values));
  }
  return info + ", mode='" + mode + "'";
}

std::shared_ptr<Upsample> UpsamplingNearest2d(F::IntArg size, F::FloatArg scale_factor) {
  return std::make_shared<Upsample>("UpsamplingNearest2d", std::move(size), std::move(scale_factor),
                                    "nearest", std::nullopt);
}

std::shared_ptr<Upsample> UpsamplingBilinear2d(F::IntArg size, F::FloatArg scale_factor) {
  return std::make_shared<Upsample>("UpsamplingBilinear2d", std::move(size), std::move(scale_factor),
                                    "bilinear", true);
}

}  // namespace td::nn
