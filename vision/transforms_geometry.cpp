// The geometric transforms: F.rotate, F.affine and F.perspective and their random transforms, all sampling
// through torchvision's grids (_gen_affine_grid, _perspective_grid) and grid_sample's zero-padded taps.
#include <array>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/nn/repr.h"
#include "vision/transforms.h"
#include "vision/transforms_detail.h"

// LAPACK's least squares (OpenBLAS ships LAPACK), for perspective's coefficients.
extern "C" void sgels_(const char* trans, const int* m, const int* n, const int* nrhs, float* a, const int* lda,
                       float* b, const int* ldb, float* work, const int* lwork, int* info);

namespace td::vision::transforms {

using namespace detail;  // NOLINT: the transforms' shared helpers
using nn::detail::py_float;

namespace {

// torchvision's _get_inverse_affine_matrix: the inverse of rotation by angle and shear (degrees) and scale
// about center, then translation (C * RSS^-1 * C^-1 * T^-1).
std::array<double, 6> inverse_affine(double cx, double cy, double angle, double tx, double ty, double scale,
                                     double shear_x, double shear_y) {
  const double rot = angle * std::numbers::pi / 180.0;
  const double sx = shear_x * std::numbers::pi / 180.0, sy = shear_y * std::numbers::pi / 180.0;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};
  for (double& x : m) x /= scale;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

// torchvision's centre convention: pixel coordinates moved so that (0, 0) is the image centre.
std::pair<double, double> centred(const std::vector<double>& center, int64_t w, int64_t h) {
  if (center.empty()) return {0.0, 0.0};
  return {center[0] - static_cast<double>(w) * 0.5, center[1] - static_cast<double>(h) * 0.5};
}

// torchvision's _compute_affine_output_size (PIL's rule), in float32 as its tensors.
std::pair<int64_t, int64_t> affine_output_size(const std::array<double, 6>& m, int64_t w, int64_t h) {
  const float hw = 0.5f * static_cast<float>(w), hh = 0.5f * static_cast<float>(h);
  const float pts[4][2] = {{-hw, -hh}, {-hw, hh}, {hw, hh}, {hw, -hh}};
  float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (const auto& p : pts) {
    for (int r = 0; r < 2; ++r) {
      const float v = p[0] * static_cast<float>(m[3 * r]) + p[1] * static_cast<float>(m[3 * r + 1]) +
                      static_cast<float>(m[3 * r + 2]);
      lo[r] = std::min(lo[r], v), hi[r] = std::max(hi[r], v);
    }
  }
  const float shift[2] = {hw, hh}, tol = 1e-4f;
  int64_t size[2];
  for (int r = 0; r < 2; ++r) {
    const float cmax = std::ceil(std::trunc((hi[r] + shift[r]) / tol) * tol);
    const float cmin = std::floor(std::trunc((lo[r] + shift[r]) / tol) * tol);
    size[r] = static_cast<int64_t>(cmax - cmin);
  }
  return {size[0], size[1]};
}

// grid_sample(align_corners=False, padding "zeros") at the grid coord(x, y) gives for each output pixel (x, y):
// the flat input offsets and weights of its taps (1 for nearest, 4 for bilinear; out of range taps get weight
// 0), computed in T (the grid's dtype).
template <class T, class Coord>
void grid_taps(int64_t w, int64_t h, int64_t ow, int64_t oh, bool nearest, const Coord& coord,
               std::vector<int64_t>& index, std::vector<double>& weight) {
  const int taps = nearest ? 1 : 4;
  index.assign(static_cast<size_t>(oh * ow * taps), 0);
  weight.assign(index.size(), 0.0);
  for (int64_t y = 0; y < oh; ++y) {
    for (int64_t x = 0; x < ow; ++x) {
      const auto [gx, gy] = coord(x, y);
      // grid_sample's unnormalize with align_corners=False.
      const T ix = ((gx + T(1)) * static_cast<T>(w) - T(1)) / T(2);
      const T iy = ((gy + T(1)) * static_cast<T>(h) - T(1)) / T(2);
      const size_t at = static_cast<size_t>((y * ow + x) * taps);
      auto put = [&](size_t k, int64_t px, int64_t py, T wt) {
        if (px < 0 || py < 0 || px >= w || py >= h) return;
        index[at + k] = py * w + px;
        weight[at + k] = static_cast<double>(wt);
      };
      if (nearest) {
        put(0, static_cast<int64_t>(std::nearbyint(ix)), static_cast<int64_t>(std::nearbyint(iy)), T(1));
        continue;
      }
      const auto x0 = static_cast<int64_t>(std::floor(ix)), y0 = static_cast<int64_t>(std::floor(iy));
      const T fx = ix - static_cast<T>(x0), fy = iy - static_cast<T>(y0);
      put(0, x0, y0, (T(1) - fx) * (T(1) - fy));
      put(1, x0 + 1, y0, fx * (T(1) - fy));
      put(2, x0, y0 + 1, (T(1) - fx) * fy);
      put(3, x0 + 1, y0 + 1, fx * fy);
    }
  }
}

// torchvision's _gen_affine_grid: output pixel centres about the output's centre, through theta rescaled to
// the input's [-1, 1].
template <class T>
void affine_taps(const std::array<double, 6>& m, int64_t w, int64_t h, int64_t ow, int64_t oh, bool nearest,
                 std::vector<int64_t>& index, std::vector<double>& weight) {
  const std::vector<T> xs = linspace<T>(-ow * 0.5 + 0.5, ow * 0.5 + 0.5 - 1, ow);
  const std::vector<T> ys = linspace<T>(-oh * 0.5 + 0.5, oh * 0.5 + 0.5 - 1, oh);
  T t[2][3];
  for (int r = 0; r < 2; ++r) {
    const T s = static_cast<T>(0.5 * static_cast<double>(r == 0 ? w : h));
    for (int k = 0; k < 3; ++k) t[r][k] = static_cast<T>(m[static_cast<size_t>(3 * r + k)]) / s;
  }
  grid_taps<T>(w, h, ow, oh, nearest, [&](int64_t x, int64_t y) {
    const T px = xs[static_cast<size_t>(x)], py = ys[static_cast<size_t>(y)];
    return std::pair<T, T>{px * t[0][0] + py * t[0][1] + t[0][2], px * t[1][0] + py * t[1][1] + t[1][2]};
  }, index, weight);
}

// torchvision's _perspective_grid: output pixel centres (0.5, 1.5, ...) through the homography's coefficients
// (x' = (c0 x + c1 y + c2) / (c6 x + c7 y + 1), likewise y'), rescaled to [-1, 1].
template <class T>
void perspective_taps(const std::array<double, 8>& c, int64_t w, int64_t h, bool nearest,
                      std::vector<int64_t>& index, std::vector<double>& weight) {
  const std::vector<T> xs = linspace<T>(0.5, static_cast<double>(w) - 0.5, w);
  const std::vector<T> ys = linspace<T>(0.5, static_cast<double>(h) - 0.5, h);
  T k[8];
  for (int i = 0; i < 8; ++i) k[i] = static_cast<T>(c[static_cast<size_t>(i)]);
  const T sw = static_cast<T>(0.5 * static_cast<double>(w)), sh = static_cast<T>(0.5 * static_cast<double>(h));
  grid_taps<T>(w, h, w, h, nearest, [&](int64_t x, int64_t y) {
    const T px = xs[static_cast<size_t>(x)], py = ys[static_cast<size_t>(y)];
    const T den = px * k[6] + py * k[7] + T(1);
    return std::pair<T, T>{(px * (k[0] / sw) + py * (k[1] / sw) + k[2] / sw) / den - T(1),
                           (px * (k[3] / sh) + py * (k[4] / sh) + k[5] / sh) / den - T(1)};
  }, index, weight);
}

// torchvision's _get_perspective_coeffs: the homography taking endpoints to startpoints, from its 8 x 8
// system, solved as torchvision solves it: torch.linalg.lstsq(driver="gels") in float32, that is LAPACK's
// sgels (OpenBLAS's, as Debian's PyTorch uses).
std::array<double, 8> perspective_coeffs(const std::vector<std::array<double, 2>>& start,
                                         const std::vector<std::array<double, 2>>& end) {
  float a[8 * 8];  // column-major: a[col * 8 + row]
  float b[8];
  for (int i = 0; i < 4; ++i) {
    const float x = static_cast<float>(end[static_cast<size_t>(i)][0]), y = static_cast<float>(end[static_cast<size_t>(i)][1]);
    const float u = static_cast<float>(start[static_cast<size_t>(i)][0]), v = static_cast<float>(start[static_cast<size_t>(i)][1]);
    const float r0[8] = {x, y, 1, 0, 0, 0, -u * x, -u * y};
    const float r1[8] = {0, 0, 0, x, y, 1, -v * x, -v * y};
    for (int col = 0; col < 8; ++col) {
      a[col * 8 + 2 * i] = r0[col];
      a[col * 8 + 2 * i + 1] = r1[col];
    }
    b[2 * i] = u;
    b[2 * i + 1] = v;
  }
  const char trans = 'N';
  const int n = 8, nrhs = 1, lwork = 8 * 64;
  float work[8 * 64];
  int info = 0;
  sgels_(&trans, &n, &n, &nrhs, a, &n, b, &n, work, &lwork, &info);
  TD_CHECK_ARG(info == 0, "[perspective] the four point pairs do not define a perspective transform (sgels info ",
               info, ")");
  std::array<double, 8> out{};
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<double>(b[i]);
  return out;
}


// torchvision's F_t.affine and rotate after the matrix: _gen_affine_grid and _apply_grid_transform, with the
// fill painted through a ones channel sampled like the image.
// `taps(is_double, nearest, index, weight)` computes the taps in the grid's dtype.
template <class Taps>
Tensor apply_grid(const Tensor& image, int64_t ow, int64_t oh, InterpolationMode interpolation,
                  const std::vector<double>& fill, const Taps& taps_of) {
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  const DType grid_dtype = is_floating(image.dtype()) ? image.dtype() : DType::kFloat32;
  const bool nearest = interpolation == InterpolationMode::kNearest;
  std::vector<int64_t> index;
  std::vector<double> weight;
  taps_of(grid_dtype == DType::kFloat64, nearest, index, weight);
  Batched b = cast_squeeze_in(image, grid_dtype);
  Tensor x = b.image;
  if (!fill.empty()) x = Tensor::cat({x, ones({x.size(0), 1, h, w}, {x.dtype(), x.device()})}, 1);
  const int64_t taps = nearest ? 1 : 4, n = static_cast<int64_t>(index.size());
  Tensor flat = x.reshape({x.size(0), x.size(1), h * w});
  Tensor wts = tensor(weight, {n}, x.device()).to(x.dtype());
  Tensor y = flat.index_select(2, tensor(index, {n}, x.device())).mul(wts);
  y = y.view({x.size(0), x.size(1), oh * ow, taps}).sum({3}).view({x.size(0), x.size(1), oh, ow});
  if (!fill.empty()) {
    // The ones channel, sampled like the image, says how much of each pixel came from inside it.
    Tensor mask = y.narrow(1, c, 1);
    y = y.narrow(1, 0, c);
    std::vector<double> full_fill = fill.size() == 1 ? std::vector<double>(static_cast<size_t>(c), fill[0]) : fill;
    Tensor fill_img = tensor(full_fill, {1, c, 1, 1}, y.device()).to(y.dtype()).expand_as(y);
    mask = mask.expand_as(y);
    if (nearest) {
      y = fill_img.where(mask.lt(Scalar(0.5)), y);
    } else {
      y = y.mul(mask).add(mask.neg().add(Scalar(1.0)).mul(fill_img));
    }
  }
  return cast_squeeze_out(b, y);
}

Tensor apply_affine(const Tensor& image, const std::array<double, 6>& m, int64_t ow, int64_t oh,
                    InterpolationMode interpolation, const std::vector<double>& fill) {
  const int64_t w = image.size(-1), h = image.size(-2);
  return apply_grid(image, ow, oh, interpolation, fill,
                    [&](bool is_double, bool nearest, std::vector<int64_t>& index, std::vector<double>& weight) {
                      if (is_double) {
                        affine_taps<double>(m, w, h, ow, oh, nearest, index, weight);
                      } else {
                        affine_taps<float>(m, w, h, ow, oh, nearest, index, weight);
                      }
                    });
}
}  // namespace

namespace functional {

Tensor rotate(const Tensor& image, double angle, InterpolationMode interpolation, bool expand,
              std::vector<double> center, std::vector<double> fill) {
  check_chw("rotate", image);
  TD_CHECK_ARG(interpolation != InterpolationMode::kBicubic,
               "[rotate] Interpolation mode 'bicubic' is unsupported with Tensor input");
  TD_CHECK_ARG(center.empty() || center.size() == 2, "[rotate] center should be a sequence of length 2.");
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  TD_CHECK_ARG(fill.empty() || fill.size() == 1 || static_cast<int64_t>(fill.size()) == c,
               "[rotate] The number of elements in 'fill' cannot broadcast to match the number of channels of the "
               "image (", fill.size(), " != ", c, ")");
  const auto [cx, cy] = centred(center, w, h);
  // torchvision rotates by -angle through the inverse affine matrix (its affine and rotate disagree in sign).
  const std::array<double, 6> m = inverse_affine(cx, cy, -angle, 0.0, 0.0, 1.0, 0.0, 0.0);
  const auto [ow, oh] = expand ? affine_output_size(m, w, h) : std::pair<int64_t, int64_t>{w, h};
  return apply_affine(image, m, ow, oh, interpolation, fill);
}

Tensor affine(const Tensor& image, double angle, std::vector<double> translate, double scale, std::vector<double> shear,
              InterpolationMode interpolation, std::vector<double> fill, std::vector<double> center) {
  check_chw("affine", image);
  TD_CHECK_ARG(translate.size() == 2, "[affine] Argument translate should be a sequence of length 2");
  TD_CHECK_ARG(scale > 0.0, "[affine] Argument scale should be positive");
  TD_CHECK_ARG(shear.size() == 1 || shear.size() == 2, "[affine] Shear should be either a single value or a sequence "
               "of two values");
  if (shear.size() == 1) shear = {shear[0], shear[0]};
  TD_CHECK_ARG(center.empty() || center.size() == 2, "[affine] center should be a sequence of length 2.");
  TD_CHECK_ARG(interpolation != InterpolationMode::kBicubic,
               "[affine] Interpolation mode 'bicubic' is unsupported with Tensor input");
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  TD_CHECK_ARG(fill.empty() || fill.size() == 1 || static_cast<int64_t>(fill.size()) == c,
               "[affine] The number of elements in 'fill' cannot broadcast to match the number of channels of the "
               "image (", fill.size(), " != ", c, ")");
  const auto [cx, cy] = centred(center, w, h);
  const std::array<double, 6> m = inverse_affine(cx, cy, angle, translate[0], translate[1], scale, shear[0], shear[1]);
  return apply_affine(image, m, w, h, interpolation, fill);
}

Tensor perspective(const Tensor& image, const std::vector<std::array<double, 2>>& startpoints,
                   const std::vector<std::array<double, 2>>& endpoints, InterpolationMode interpolation,
                   std::vector<double> fill) {
  check_chw("perspective", image);
  TD_CHECK_ARG(startpoints.size() == 4 && endpoints.size() == 4, "[perspective] Argument startpoints and endpoints "
               "should be lists of 4 points, got ", startpoints.size(), " and ", endpoints.size());
  TD_CHECK_ARG(interpolation != InterpolationMode::kBicubic,
               "[perspective] Interpolation mode 'bicubic' is unsupported with Tensor input");
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  TD_CHECK_ARG(fill.empty() || fill.size() == 1 || static_cast<int64_t>(fill.size()) == c,
               "[perspective] The number of elements in 'fill' cannot broadcast to match the number of channels of "
               "the image (", fill.size(), " != ", c, ")");
  const std::array<double, 8> coeffs = perspective_coeffs(startpoints, endpoints);
  return apply_grid(image, w, h, interpolation, fill,
                    [&](bool is_double, bool nearest, std::vector<int64_t>& index, std::vector<double>& weight) {
                      if (is_double) {
                        perspective_taps<double>(coeffs, w, h, nearest, index, weight);
                      } else {
                        perspective_taps<float>(coeffs, w, h, nearest, index, weight);
                      }
                    });
}

}  // namespace functional

namespace F = functional;

RandomRotation::RandomRotation(std::vector<double> degrees, InterpolationMode interpolation, bool expand,
                               std::vector<double> center, std::vector<double> fill)
    : degrees_(std::move(degrees)), center_(std::move(center)), fill_(std::move(fill)),
      interpolation_(interpolation), expand_(expand) {
  if (degrees_.size() == 1) {
    TD_CHECK_ARG(degrees_[0] >= 0, "[RandomRotation] If degrees is a single number, it must be positive.");
    degrees_ = {-degrees_[0], degrees_[0]};
  }
  TD_CHECK_ARG(degrees_.size() == 2, "[RandomRotation] degrees should be a sequence of length 2.");
  TD_CHECK_ARG(center_.empty() || center_.size() == 2, "[RandomRotation] center should be a sequence of length 2.");
  TD_CHECK_ARG(interpolation_ != InterpolationMode::kBicubic,
               "[RandomRotation] Interpolation mode 'bicubic' is unsupported with Tensor input");
}

Tensor RandomRotation::operator()(const Tensor& image) const {
  check_chw("RandomRotation", image);
  const double angle = uniform(degrees_[0], degrees_[1]);
  return F::rotate(image, angle, interpolation_, expand_, center_, fill_);
}

std::string RandomRotation::repr() const {
  std::string s = "RandomRotation(degrees=[" + py_float(degrees_[0]) + ", " + py_float(degrees_[1]) +
                  "], interpolation=" + mode_name(interpolation_) + ", expand=" + nn::detail::py_bool(expand_);
  if (!center_.empty()) s += ", center=" + float_pair(center_);
  if (!fill_.empty()) s += fill_repr(fill_);
  return s + ")";
}

namespace {
// torchvision's _setup_angle: a number d gives [-d, d]; otherwise a sequence of one of the allowed lengths.
std::vector<double> setup_angle(std::vector<double> v, const char* op, const char* name,
                                std::initializer_list<size_t> sizes) {
  if (v.size() == 1) {
    TD_CHECK_ARG(v[0] >= 0, "[", op, "] If ", name, " is a single number, it must be positive.");
    return {-v[0], v[0]};
  }
  bool ok = false;
  std::string allowed;
  for (size_t n : sizes) {
    ok = ok || v.size() == n;
    allowed += (allowed.empty() ? "" : " or ") + std::to_string(n);
  }
  TD_CHECK_ARG(ok, "[", op, "] If ", name, " is a sequence, it should have ", allowed, " values.");
  return v;
}

// A Python list of floats as torchvision's reprs print them: "[-10.0, 10.0]".
std::string float_list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + py_float(v[i]);
  return s + "]";
}
}  // namespace

RandomAffine::RandomAffine(std::vector<double> degrees, std::vector<double> translate, std::vector<double> scale,
                           std::vector<double> shear, InterpolationMode interpolation, std::vector<double> fill,
                           std::vector<double> center)
    : degrees_(setup_angle(std::move(degrees), "RandomAffine", "degrees", {2})),
      translate_(std::move(translate)),
      scale_(std::move(scale)),
      shear_(shear.empty() ? shear : setup_angle(std::move(shear), "RandomAffine", "shear", {2, 4})),
      fill_(std::move(fill)),
      center_(std::move(center)),
      interpolation_(interpolation) {
  TD_CHECK_ARG(translate_.empty() || translate_.size() == 2, "[RandomAffine] If translate is a sequence, it should "
               "have 2 values.");
  for (double t : translate_) {
    TD_CHECK_ARG(t >= 0.0 && t <= 1.0, "[RandomAffine] translation values should be between 0 and 1");
  }
  TD_CHECK_ARG(scale_.empty() || scale_.size() == 2, "[RandomAffine] If scale is a sequence, it should have 2 values.");
  for (double v : scale_) TD_CHECK_ARG(v > 0.0, "[RandomAffine] scale values should be positive");
  TD_CHECK_ARG(center_.empty() || center_.size() == 2, "[RandomAffine] If center is a sequence, it should have 2 "
               "values.");
  TD_CHECK_ARG(interpolation_ != InterpolationMode::kBicubic,
               "[RandomAffine] Interpolation mode 'bicubic' is unsupported with Tensor input");
}

Tensor RandomAffine::operator()(const Tensor& image) const {
  check_chw("RandomAffine", image);
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  // get_params, in torchvision's order of draws.
  const double angle = uniform(degrees_[0], degrees_[1]);
  std::vector<double> translate = {0.0, 0.0};
  if (!translate_.empty()) {
    const double max_dx = translate_[0] * static_cast<double>(w), max_dy = translate_[1] * static_cast<double>(h);
    translate[0] = std::nearbyint(uniform(-max_dx, max_dx));  // Python's round: half to even
    translate[1] = std::nearbyint(uniform(-max_dy, max_dy));
  }
  const double scale = scale_.empty() ? 1.0 : uniform(scale_[0], scale_[1]);
  std::vector<double> shear = {0.0, 0.0};
  if (!shear_.empty()) {
    shear[0] = uniform(shear_[0], shear_[1]);
    if (shear_.size() == 4) shear[1] = uniform(shear_[2], shear_[3]);
  }
  std::vector<double> fill = fill_.size() == 1 ? std::vector<double>(static_cast<size_t>(c), fill_[0]) : fill_;
  return F::affine(image, angle, translate, scale, shear, interpolation_, fill, center_);
}

std::string RandomAffine::repr() const {
  std::string s = "RandomAffine(degrees=" + float_list(degrees_);
  if (!translate_.empty()) s += ", translate=" + float_pair(translate_);
  if (!scale_.empty()) s += ", scale=" + float_pair(scale_);
  if (!shear_.empty()) s += ", shear=" + float_list(shear_);
  if (interpolation_ != InterpolationMode::kNearest) s += std::string(", interpolation=") + mode_name(interpolation_);
  if (!(fill_.size() == 1 && fill_[0] == 0.0)) s += fill_repr(fill_);  // torchvision omits fill=0
  if (!center_.empty()) s += ", center=" + float_pair(center_);
  return s + ")";
}

RandomPerspective::RandomPerspective(double distortion_scale, double p, InterpolationMode interpolation,
                                     std::vector<double> fill)
    : distortion_scale_(distortion_scale), p_(p), interpolation_(interpolation), fill_(std::move(fill)) {
  TD_CHECK_ARG(interpolation_ != InterpolationMode::kBicubic,
               "[RandomPerspective] Interpolation mode 'bicubic' is unsupported with Tensor input");
}

std::pair<std::vector<std::array<double, 2>>, std::vector<std::array<double, 2>>> RandomPerspective::get_params(
    int64_t width, int64_t height, double distortion_scale) {
  const int64_t half_h = height / 2, half_w = width / 2;
  const auto dw = static_cast<int64_t>(distortion_scale * static_cast<double>(half_w));
  const auto dh = static_cast<int64_t>(distortion_scale * static_cast<double>(half_h));
  // torch.randint(low, high) draws in [low, high).
  auto draw = [](int64_t low, int64_t high) { return static_cast<double>(low + uniform_int(high - low)); };
  const std::array<double, 2> top_left = {draw(0, dw + 1), draw(0, dh + 1)};
  const std::array<double, 2> top_right = {draw(width - dw - 1, width), draw(0, dh + 1)};
  const std::array<double, 2> bottom_right = {draw(width - dw - 1, width), draw(height - dh - 1, height)};
  const std::array<double, 2> bottom_left = {draw(0, dw + 1), draw(height - dh - 1, height)};
  const double w1 = static_cast<double>(width - 1), h1 = static_cast<double>(height - 1);
  return {{{0.0, 0.0}, {w1, 0.0}, {w1, h1}, {0.0, h1}}, {top_left, top_right, bottom_right, bottom_left}};
}

Tensor RandomPerspective::operator()(const Tensor& image) const {
  check_chw("RandomPerspective", image);
  if (uniform01() >= p_) return image;
  const int64_t c = image.size(-3), h = image.size(-2), w = image.size(-1);
  const auto [start, end] = get_params(w, h, distortion_scale_);
  std::vector<double> fill = fill_.size() == 1 ? std::vector<double>(static_cast<size_t>(c), fill_[0]) : fill_;
  return F::perspective(image, start, end, interpolation_, fill);
}

std::string RandomPerspective::repr() const { return "RandomPerspective(p=" + py_float(p_) + ")"; }

}  // namespace td::vision::transforms
