// The interpolation family, with PyTorch 1.13's aten names, arguments, coordinate rules and messages:
// upsample_nearest{1,2,3}d, _upsample_nearest_exact{1,2,3}d, upsample_linear1d, upsample_bilinear2d,
// upsample_bicubic2d and upsample_trilinear3d over batched [N, C, spatial...] inputs.
//
// Every op is a composite: interpolation is separable, so along each spatial dim (the last first, as aten's
// nested loop evaluates it) the result is a sum over a few taps of index_select(dim, index_k) * weight_k,
// with the taps' indices and weights computed on the host from the sizes alone (in the input's float type, as
// aten's compute_indices_weights). The gradient is then index_add of the weighted gradients, on any device
// and differentiable again; there are no backend kernels.
#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops/registry.h"

namespace td {

namespace {

enum class Interp { kNearest, kNearestExact, kLinear, kCubic };

// The indices and weights of each output position's taps along one dim: index[k][o], weight[k][o].
struct Taps {
  std::vector<std::vector<int64_t>> index;
  std::vector<std::vector<double>> weight;  // empty for nearest
};

// aten's area_pixel_compute_scale.
template <class T>
T pixel_scale(int64_t in, int64_t out, bool align_corners, std::optional<double> scale) {
  if (align_corners) return out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  if (scale && *scale > 0) return static_cast<T>(1.0 / *scale);
  return static_cast<T>(in) / static_cast<T>(out);
}

// aten's area_pixel_compute_source_index.
template <class T>
T source_index(T scale, int64_t dst, bool align_corners, bool cubic) {
  if (align_corners) return scale * static_cast<T>(dst);
  T src = scale * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  return (!cubic && src < 0) ? T(0) : src;
}

// Keys' cubic convolution with A = -0.75, as aten's get_cubic_upsample_coefficients.
template <class T>
std::array<T, 4> cubic_coefficients(T t) {
  const T A = T(-0.75);
  auto c1 = [&](T x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto c2 = [&](T x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
  return {c2(t + 1), c1(t), c1(1 - t), c2(2 - t)};
}

template <class T>
Taps taps_for(Interp mode, int64_t in, int64_t out, bool align_corners, std::optional<double> scale) {
  Taps taps;
  const size_t n = static_cast<size_t>(out);
  if (mode == Interp::kNearest || mode == Interp::kNearestExact) {
    // aten computes nearest indices with float scale and floorf, whatever the input's dtype.
    const float s = pixel_scale<float>(in, out, false, scale);
    const float shift = mode == Interp::kNearestExact ? 0.5f : 0.0f;
    taps.index.assign(1, std::vector<int64_t>(n));
    for (int64_t o = 0; o < out; ++o) {
      const auto src = static_cast<int64_t>(std::floor((static_cast<float>(o) + shift) * s));
      taps.index[0][static_cast<size_t>(o)] = std::min(src, in - 1);
    }
    return taps;
  }
  const T s = pixel_scale<T>(in, out, align_corners, scale);
  if (mode == Interp::kLinear) {
    taps.index.assign(2, std::vector<int64_t>(n));
    taps.weight.assign(2, std::vector<double>(n));
    for (int64_t o = 0; o < out; ++o) {
      const size_t i = static_cast<size_t>(o);
      if (in == out) {  // aten copies when the size does not change, whatever the scale
        taps.index[0][i] = taps.index[1][i] = o;
        taps.weight[0][i] = 1, taps.weight[1][i] = 0;
        continue;
      }
      const T real = source_index<T>(s, o, align_corners, false);
      const auto i0 = static_cast<int64_t>(real);
      const T lambda1 = std::min(std::max(real - static_cast<T>(i0), T(0)), T(1));
      taps.index[0][i] = i0;
      taps.index[1][i] = i0 + (i0 < in - 1 ? 1 : 0);
      taps.weight[0][i] = static_cast<double>(T(1) - lambda1);
      taps.weight[1][i] = static_cast<double>(lambda1);
    }
    return taps;
  }
  taps.index.assign(4, std::vector<int64_t>(n));
  taps.weight.assign(4, std::vector<double>(n));
  for (int64_t o = 0; o < out; ++o) {
    const size_t i = static_cast<size_t>(o);
    const T real = source_index<T>(s, o, align_corners, true);
    const auto i0 = static_cast<int64_t>(std::floor(static_cast<float>(real)));
    const auto w = cubic_coefficients<T>(real - static_cast<T>(i0));
    for (size_t k = 0; k < 4; ++k) {
      taps.index[k][i] = std::max<int64_t>(std::min<int64_t>(i0 - 1 + static_cast<int64_t>(k), in - 1), 0);
      taps.weight[k][i] = static_cast<double>(w[k]);
    }
  }
  return taps;
}

// Interpolates x along dim (negative, from the end) to `out` entries.
Tensor interpolate_dim(const Tensor& x, int64_t dim, Interp mode, int64_t out, bool align_corners,
                       std::optional<double> scale) {
  const int64_t in = x.size(dim);
  const Taps taps = x.dtype() == DType::kFloat64 ? taps_for<double>(mode, in, out, align_corners, scale)
                                                 : taps_for<float>(mode, in, out, align_corners, scale);
  auto index = [&](size_t k) { return tensor(taps.index[k], {out}, x.device()); };
  if (taps.weight.empty()) return x.index_select(dim, index(0));
  std::vector<int64_t> wshape(static_cast<size_t>(-dim), 1);
  wshape[0] = out;
  Tensor result;
  for (size_t k = 0; k < taps.index.size(); ++k) {
    Tensor w = tensor(taps.weight[k], wshape, x.device()).to(x.dtype());
    Tensor term = x.index_select(dim, index(k)).mul(w);
    result = k == 0 ? term : result.add(term);
  }
  return result;
}

const char* const kDimNames[3][3] = {{"W", "", ""}, {"H", "W", ""}, {"D", "H", "W"}};

// aten's upsample_{1,2,3}d_common_check and the meta function's non-empty check.
void check_upsample(const std::string& op, const Tensor& x, const std::vector<int64_t>& size, int n) {
  TD_CHECK_ARG(static_cast<int>(size.size()) == n, "[", op, "] It is expected output_size equals to ", n,
               ", but got size ", size.size());
  TD_CHECK_ARG(x.dim() == n + 2, "[", op, "] It is expected input_size equals to ", n + 2, ", but got size ",
               x.dim());
  bool positive = true;
  std::string in_str, out_str;
  for (int d = 0; d < n; ++d) {
    const int64_t i = x.size(d + 2), o = size[static_cast<size_t>(d)];
    positive = positive && i > 0 && o > 0;
    in_str += str(d ? ", " : "", kDimNames[n - 1][d], ": ", i);
    out_str += str(d ? ", " : "", kDimNames[n - 1][d], ": ", o);
  }
  TD_CHECK_ARG(positive, "[", op, "] Input and output sizes should be greater than 0, but got input (",
               in_str, ") output (", out_str, ")");
  int64_t rest = 1;
  for (int64_t d = 1; d < x.dim(); ++d) rest *= x.size(d);
  TD_CHECK_ARG(x.numel() != 0 || rest != 0, "[", op, "] Non-empty ", n + 2,
               "D data tensor expected but got a tensor with sizes ", shape_str(x.sizes()));
}

std::optional<double> opt_float(const Args& a, size_t i) {
  if (a.is_none(i)) return std::nullopt;
  return a.float_at(i);
}

void register_upsample(Registry& r, Interp mode, int n, const std::string& name) {
  const bool has_align = mode == Interp::kLinear || mode == Interp::kCubic;
  std::string sig = name + "(Tensor self, int[" + std::to_string(n) + "] output_size, ";
  if (has_align) sig += "bool align_corners, ";
  const char* scales[3][3] = {
      {"scales", "", ""}, {"scales_h", "scales_w", ""}, {"scales_d", "scales_h", "scales_w"}};
  for (int d = 0; d < n; ++d) sig += str(d ? ", " : "", "float? ", scales[n - 1][d], "=None");
  sig += ") -> Tensor";
  const char* what = mode == Interp::kNearest ? "nearest-neighbour (PyTorch's floor(dst * scale))"
                     : mode == Interp::kNearestExact
                         ? "nearest-neighbour (pixel centres: floor((dst + 0.5) * scale))"
                     : mode == Interp::kLinear ? "linear"
                                               : "bicubic (A = -0.75, edge-clamped taps)";
  r.def(sig)
      .doc(str(what, " interpolation of the last ", n,
               " dims to output_size; scales, when given, set the "
               "coordinate ratio as 1/scale (as F.interpolate's scale_factor)"))
      .composite()
      .forward([mode, n, name, has_align](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const auto& size = a.ints(1);
        check_upsample(name, x, size, n);
        const bool align = has_align && a.bool_at(2);
        const size_t first_scale = has_align ? 3 : 2;
        if (mode != Interp::kNearest && mode != Interp::kNearestExact) {
          TD_CHECK_ARG(is_floating(x.dtype()), "[", name, "] \"", name, "_out_frame\" not implemented for '",
                       scalar_type_name(x.dtype()), "'");
        }
        Tensor out = x;
        for (int d = n - 1; d >= 0; --d) {
          out = interpolate_dim(out, d - n, mode, size[static_cast<size_t>(d)], align,
                                opt_float(a, first_scale + static_cast<size_t>(d)));
        }
        return {out};
      });
}

// ---- grid_sampler (F.grid_sample) and affine_grid_generator (F.affine_grid) ----
//
// Composites too, following aten's GridSampler.h: grid coordinates in [-1, 1] are unnormalized to pixels,
// padded (border: clipped; reflection: reflected, then clipped), and sampled by gathering each tap from the
// input flattened over its spatial dims, times its weight (bilinear) or alone (nearest). Gradients for the
// input (through gather) and the grid (through the weights) come from the ops.

// grid_sampler_unnormalize.
Tensor unnormalize(const Tensor& coord, int64_t size, bool align_corners) {
  if (align_corners) return coord.add(1.0).mul(static_cast<double>(size - 1) / 2.0);
  return coord.add(1.0).mul(static_cast<double>(size)).sub(1.0).div(2.0);
}

// reflect_coordinates: reflects into [twice_low / 2, twice_high / 2].
Tensor reflect(const Tensor& x, double twice_low, double twice_high) {
  if (twice_low == twice_high) return x.mul(0.0);
  const double low = twice_low / 2, span = (twice_high - twice_low) / 2;
  const Tensor in = x.sub(low).abs();
  const Tensor extra = in.fmod(span);
  const Tensor even = in.div(span).floor().remainder(2.0).eq(0.0);
  return extra.add(low).where(even, extra.neg().add(span + low));
}

// grid_sampler_compute_source_index.
Tensor source_index(const Tensor& coord, int64_t size, int64_t padding, bool align_corners) {
  Tensor x = unnormalize(coord, size, align_corners);
  if (padding == 2) x = align_corners ? reflect(x, 0, 2.0 * static_cast<double>(size - 1))
                                      : reflect(x, -1, 2.0 * static_cast<double>(size) - 1);
  if (padding != 0) x = x.clamp(Scalar(0.0), Scalar(static_cast<double>(size - 1)));
  return x;
}

void register_grid_ops(Registry& r) {
  r.def("grid_sampler(Tensor input, Tensor grid, int interpolation_mode, int padding_mode, bool align_corners) -> "
        "Tensor")
      .doc("samples input [N, C, H, W] at grid [N, Ho, Wo, 2]'s (x, y) in [-1, 1] (F.grid_sample): interpolation "
           "0 bilinear, 1 nearest; padding 0 zeros, 1 border, 2 reflection")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &input = a.tensor(0), &grid = a.tensor(1);
        const int64_t mode = a.int_at(2), padding = a.int_at(3);
        const bool align = a.bool_at(4);
        TD_CHECK_ARG(input.dim() == grid.dim() && (input.dim() == 4 || input.dim() == 5),
                     "[grid_sampler] grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
                     "but got input with sizes ", shape_str(input.shape()), " and grid with sizes ",
                     shape_str(grid.shape()));
        TD_CHECK(input.dim() == 4, ErrorCode::kUnimplemented, "[grid_sampler] 5-D (volumetric) grid sampling is not "
                 "implemented; 4-D input [N, C, H, W] only");
        TD_CHECK_ARG(input.size(0) == grid.size(0), "[grid_sampler] grid_sampler(): expected grid and input to have "
                     "same batch size, but got input with sizes ", shape_str(input.shape()), " and grid with sizes ",
                     shape_str(grid.shape()));
        TD_CHECK_ARG(grid.size(-1) == 2, "[grid_sampler] grid_sampler(): expected grid to have size 2 in last "
                     "dimension, but got grid with sizes ", shape_str(grid.shape()));
        TD_CHECK_ARG(input.dtype() == grid.dtype(), "[grid_sampler] grid_sampler(): expected input and grid to have "
                     "same dtype, but input has ", scalar_type_name(input.dtype()), " and grid has ",
                     scalar_type_name(grid.dtype()));
        TD_CHECK_ARG(is_floating(input.dtype()), "[grid_sampler] \"grid_sampler_2d_cpu\" not implemented for '",
                     scalar_type_name(input.dtype()), "'");
        for (int64_t d = 2; d < 4; ++d) {
          TD_CHECK_ARG(input.size(d) > 0, "[grid_sampler] grid_sampler(): expected input to have non-empty spatial "
                       "dimensions, but input has sizes ", shape_str(input.shape()), " with dimension ", d,
                       " being empty");
        }
        TD_CHECK_ARG(mode == 0 || mode == 1 || mode == 2, "[grid_sampler] interpolation_mode must be 0 (bilinear), "
                     "1 (nearest) or 2 (bicubic), got ", mode);
        TD_CHECK(mode != 2, ErrorCode::kUnimplemented, "[grid_sampler] bicubic grid sampling is not implemented; "
                 "use bilinear or nearest");
        TD_CHECK_ARG(padding >= 0 && padding <= 2, "[grid_sampler] padding_mode must be 0 (zeros), 1 (border) or "
                     "2 (reflection), got ", padding);
        const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
        const int64_t ho = grid.size(1), wo = grid.size(2);
        const Tensor ix = source_index(grid.select(3, 0), w, padding, align);  // [N, Ho, Wo]
        const Tensor iy = source_index(grid.select(3, 1), h, padding, align);
        const Tensor flat = input.reshape({n, c, h * w});
        // The input at integer coordinates (x, y), zero where they fall outside it.
        auto tap = [&](const Tensor& x, const Tensor& y) {
          const Tensor inside = x.ge(0.0).logical_and(x.le(static_cast<double>(w - 1)))
                                    .logical_and(y.ge(0.0)).logical_and(y.le(static_cast<double>(h - 1)));
          const Tensor xi = x.clamp(Scalar(0.0), Scalar(static_cast<double>(w - 1))).to(DType::kInt64);
          const Tensor yi = y.clamp(Scalar(0.0), Scalar(static_cast<double>(h - 1))).to(DType::kInt64);
          const Tensor index = yi.mul(w).add(xi).reshape({n, 1, ho * wo}).expand({n, c, ho * wo});
          const Tensor values = flat.gather(2, index).reshape({n, c, ho, wo});
          return values.mul(inside.unsqueeze(1).to(input.dtype()));
        };
        if (mode == 1) {
          // nearbyint: half to even, as torch.round. The grid's gradient is zeros, as PyTorch's: the rounded
          // coordinates join the graph through a where that never picks them.
          const Tensor rx = ix.round(), ry = iy.round();
          const Tensor out = tap(rx, ry);
          const Tensor keep = ones({1}, {DType::kBool, out.device()});
          return {out.where(keep, rx.add(ry).unsqueeze(1))};
        }
        const Tensor x0 = ix.floor().detach(), y0 = iy.floor().detach();
        const Tensor x1 = x0.add(1.0), y1 = y0.add(1.0);
        auto weight = [](const Tensor& t) { return t.unsqueeze(1); };
        Tensor out = tap(x0, y0).mul(weight(x1.sub(ix).mul(y1.sub(iy))));
        out = out.add(tap(x1, y0).mul(weight(ix.sub(x0).mul(y1.sub(iy)))));
        out = out.add(tap(x0, y1).mul(weight(x1.sub(ix).mul(iy.sub(y0)))));
        out = out.add(tap(x1, y1).mul(weight(ix.sub(x0).mul(iy.sub(y0)))));
        return {out};
      });

  r.def("affine_grid_generator(Tensor theta, int[] size, bool align_corners) -> Tensor")
      .doc("the sampling grid [N, H, W, 2] ([N, D, H, W, 3]) of affine matrices theta [N, 2, 3] ([N, 3, 4]) for an "
           "output of size [N, C, H, W] ([N, C, D, H, W]) (F.affine_grid)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& theta = a.tensor(0);
        const auto& size = a.ints(1);
        const bool align = a.bool_at(2);
        TD_CHECK_ARG(size.size() == 4 || size.size() == 5, "[affine_grid_generator] affine_grid only supports 4D and "
                     "5D sizes, for 2D and 3D affine transforms, respectively. Got size ", shape_str(size), ".");
        const int64_t spatial = static_cast<int64_t>(size.size()) - 2;
        TD_CHECK_ARG(is_floating(theta.dtype()), "[affine_grid_generator] Expected theta to have floating point type, "
                     "but got ", scalar_type_name(theta.dtype()));
        TD_CHECK_ARG(theta.dim() == 3 && theta.size(0) == size[0] && theta.size(1) == spatial &&
                         theta.size(2) == spatial + 1,
                     "[affine_grid_generator] Expected a batch of ", spatial, "D affine matrices of shape Nx", spatial,
                     "x", spatial + 1, " for size ", shape_str(size), ". Got ", shape_str(theta.shape()), ".");
        for (int64_t s : size) {
          TD_CHECK_ARG(s > 0, "[affine_grid_generator] Expected non-zero, positive output size. Got ", shape_str(size));
        }
        // linspace_from_neg_one: the pixel centres' coordinates in [-1, 1].
        auto axis = [&](int64_t steps) {
          std::vector<double> v(static_cast<size_t>(steps), 0.0);
          for (int64_t i = 0; steps > 1 && i < steps; ++i) {
            double x = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(steps - 1);
            if (!align) x = x * static_cast<double>(steps - 1) / static_cast<double>(steps);
            v[static_cast<size_t>(i)] = x;
          }
          return v;
        };
        // The base grid [points, spatial + 1]: (x, y[, z], 1), x fastest.
        const std::vector<int64_t> dims(size.begin() + 2, size.end());  // [D,] H, W
        int64_t points = 1;
        for (int64_t d : dims) points *= d;
        std::vector<double> base(static_cast<size_t>(points * (spatial + 1)), 1.0);
        std::vector<std::vector<double>> axes;
        for (int64_t d : dims) axes.push_back(axis(d));
        for (int64_t p = 0; p < points; ++p) {
          int64_t rest = p;
          for (int64_t k = spatial - 1; k >= 0; --k) {  // dims are [D,] H, W: W is coordinate 0 (x)
            const int64_t extent = dims[static_cast<size_t>(k)];
            const int64_t coord = spatial - 1 - k;
            base[static_cast<size_t>(p * (spatial + 1) + coord)] = axes[static_cast<size_t>(k)][static_cast<size_t>(rest % extent)];
            rest /= extent;
          }
        }
        const Tensor grid = tensor(base, {1, points, spatial + 1}, theta.device()).to(theta.dtype());
        std::vector<int64_t> shape = {size[0]};
        shape.insert(shape.end(), dims.begin(), dims.end());
        shape.push_back(spatial);
        return {grid.expand({size[0], points, spatial + 1}).bmm(theta.transpose(1, 2)).view(shape)};
      });
}

}  // namespace

void register_upsample_ops(Registry& r) {
  register_grid_ops(r);
  for (int n : {1, 2, 3}) {
    register_upsample(r, Interp::kNearest, n, str("upsample_nearest", n, "d"));
    register_upsample(r, Interp::kNearestExact, n, str("_upsample_nearest_exact", n, "d"));
  }
  register_upsample(r, Interp::kLinear, 1, "upsample_linear1d");
  register_upsample(r, Interp::kLinear, 2, "upsample_bilinear2d");
  register_upsample(r, Interp::kLinear, 3, "upsample_trilinear3d");
  register_upsample(r, Interp::kCubic, 2, "upsample_bicubic2d");
}

}  // namespace td
