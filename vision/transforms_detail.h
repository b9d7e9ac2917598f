// Internal to td::vision's transforms: the helpers that transforms.cpp (crops, colour, blur, erasing) and
// transforms_geometry.cpp (rotate, affine, perspective) share. Not installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "vision/transforms.h"

namespace td::vision::transforms::detail {

const char* mode_name(InterpolationMode m);

// torchvision's _cast_squeeze_in / _cast_squeeze_out: the image as [N, C, H, W] in a float dtype, and back
// (integers rounded first). Images of more dims fold their leading dims into N.
struct Batched {
  Tensor image;
  std::vector<int64_t> leading;
  DType out_dtype;
  bool cast;
};
Batched cast_squeeze_in(const Tensor& image, DType float_dtype);
Tensor cast_squeeze_out(const Batched& b, Tensor out);

/// An image [..., C, H, W] of at least 3 dims, or torchvision's error naming `op`.
void check_chw(const char* op, const Tensor& image);

/// Draws from the current generator, as torch.rand(1) and torch.randint(high, (1,)).
double uniform01();
int64_t uniform_int(int64_t high);
double uniform(double lo, double hi);

/// A Python tuple of floats: "(0.1, 0.2)".
std::string float_pair(const std::vector<double>& v);
/// ", fill=0" or ", fill=(0.5, 1, 0)", as torchvision's reprs print a fill.
std::string fill_repr(const std::vector<double>& fill);

// torch.linspace's float32 values (its default dtype, which torchvision's grids and kernels use), as T: the
// step in float, the first half counted from start, the second half back from end.
template <class T>
std::vector<T> linspace(double start, double end, int64_t steps) {
  std::vector<T> v(static_cast<size_t>(steps));
  if (steps == 1) v[0] = static_cast<T>(static_cast<float>(start));
  if (steps <= 1) return v;
  const float s = static_cast<float>(start), e = static_cast<float>(end);
  const float step = (e - s) / static_cast<float>(steps - 1);
  const int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i) {
    const float x = i < half ? s + step * static_cast<float>(i) : e - step * static_cast<float>(steps - i - 1);
    v[static_cast<size_t>(i)] = static_cast<T>(x);
  }
  return v;
}

}  // namespace td::vision::transforms::detail
