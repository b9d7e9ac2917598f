// Image transforms in tensor ops: every step is a registry op, so the transforms run on any device. The
// geometric ones (rotate, affine, perspective) are in transforms_geometry.cpp.
#include "vision/transforms.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/nn/functional.h"
#include "core/nn/repr.h"
#include "core/random/generator.h"
#include "vision/transforms_detail.h"

namespace td::vision::transforms {

namespace detail {

const char* mode_name(InterpolationMode m) {
  return m == InterpolationMode::kNearest ? "nearest" : m == InterpolationMode::kBilinear ? "bilinear" : "bicubic";
}

Batched cast_squeeze_in(const Tensor& image, DType float_dtype) {
  Batched b{image, {}, image.dtype(), false};
  for (int64_t d = 0; d + 3 < image.dim(); ++d) b.leading.push_back(image.size(d));
  b.image = image.reshape({-1, image.size(-3), image.size(-2), image.size(-1)});
  if (!is_floating(image.dtype())) {
    b.cast = true;
    b.image = b.image.to(float_dtype);
  }
  return b;
}

Tensor cast_squeeze_out(const Batched& b, Tensor out) {
  std::vector<int64_t> shape = b.leading;
  for (int64_t d = 1; d < out.dim(); ++d) shape.push_back(out.size(d));
  out = out.reshape(shape);
  if (b.cast) {
    if (!is_floating(b.out_dtype) && b.out_dtype != DType::kBool) out = out.round();
    out = out.to(b.out_dtype);
  }
  return out;
}

void check_chw(const char* op, const Tensor& image) {
  TD_CHECK_ARG(image.dim() >= 3, "[", op, "] Tensor image should have at least 3 dimensions [..., C, H, W], got ",
               shape_str(image.sizes()));
}

double uniform01() { return random::rand({1}, {DType::kFloat64}).data<double>()[0]; }
int64_t uniform_int(int64_t high) { return random::randint(0, high, {1}).data<int64_t>()[0]; }
double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

std::string float_pair(const std::vector<double>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + nn::detail::py_float(v[i]);
  return s + ")";
}

std::string fill_repr(const std::vector<double>& fill) {
  // torchvision prints fill as given: a number or a sequence, whole numbers without a point.
  auto number = [](double v) { return v == std::floor(v) ? std::to_string(static_cast<int64_t>(v)) : nn::detail::py_float(v); };
  if (fill.size() == 1) return ", fill=" + number(fill[0]);
  std::string s = ", fill=(";
  for (size_t i = 0; i < fill.size(); ++i) s += (i ? ", " : "") + number(fill[i]);
  return s + ")";
}

}  // namespace detail

using namespace detail;  // NOLINT: the transforms' shared helpers

namespace {
using nn::detail::py_float;

std::string float_tuple(const std::vector<double>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + py_float(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// A size argument: one value for a square, or (h, w).
std::vector<int64_t> hw(const char* what, std::vector<int64_t> size) {
  TD_CHECK_ARG(size.size() == 1 || size.size() == 2, "[", what, "] Please provide only two dimensions (h, w) for "
               "size, got ", shape_str(size));
  if (size.size() == 1) size.push_back(size[0]);
  for (int64_t s : size) TD_CHECK_ARG(s > 0, "[", what, "] size must be positive, got ", shape_str(size));
  return size;
}

void check_image(const char* what, const Tensor& image) {
  TD_CHECK_ARG(image.dim() >= 2, "[", what, "] expected an image of at least 2 dims [..., H, W], got ",
               shape_str(image.shape()));
}

// (left, top, right, bottom) from torchvision's 1-, 2- or 4-value padding.
std::vector<int64_t> sides(const char* what, std::vector<int64_t> p) {
  TD_CHECK_ARG(p.size() == 1 || p.size() == 2 || p.size() == 4, "[", what, "] Padding must be an int or a 1, 2, "
               "or 4 element tuple, not a ", p.size(), " element tuple");
  if (p.size() == 1) return {p[0], p[0], p[0], p[0]};
  if (p.size() == 2) return {p[0], p[1], p[0], p[1]};
  return p;
}

Tensor pad_image(const Tensor& image, const std::vector<int64_t>& ltrb, double fill, const std::string& mode) {
  // torchvision's names to F.pad's: edge is replicate; symmetric (the edge pixel repeated) has no F.pad mode.
  std::vector<int64_t> pad = {ltrb[0], ltrb[2], ltrb[1], ltrb[3]};
  if (mode == "constant") return image.pad(pad, "constant", fill);
  if (mode == "edge") return image.pad(pad, "replicate");
  if (mode == "reflect") return image.pad(pad, "reflect");
  TD_CHECK_ARG(mode == "symmetric", "[Pad] Padding mode should be either constant, edge, reflect or symmetric, "
               "got ", mode);
  // symmetric: reflect an image that has its border row/column duplicated, one side at a time.
  Tensor out = image;
  for (int64_t dim : {-1, -2}) {
    const int64_t lo = dim == -1 ? ltrb[0] : ltrb[1], hi = dim == -1 ? ltrb[2] : ltrb[3];
    const int64_t n = out.size(dim);
    TD_CHECK_ARG(lo <= n && hi <= n, "[Pad] symmetric padding of ", lo, " and ", hi, " exceeds the size ", n);
    std::vector<Tensor> parts;
    if (lo > 0) parts.push_back(out.narrow(dim, 0, lo).flip({dim}));
    parts.push_back(out);
    if (hi > 0) parts.push_back(out.narrow(dim, n - hi, hi).flip({dim}));
    out = Tensor::cat(parts, out.dim() + dim);
  }
  return out;
}

Tensor crop(const Tensor& image, int64_t top, int64_t left, int64_t h, int64_t w) {
  return image.narrow(-2, top, h).narrow(-1, left, w);
}

}  // namespace

Compose::Compose(std::vector<std::shared_ptr<Transform>> transforms) : transforms_(std::move(transforms)) {
  for (const auto& t : transforms_) TD_CHECK_ARG(t != nullptr, "[Compose] a transform is null");
}

Tensor Compose::operator()(const Tensor& image) const {
  Tensor x = image;
  for (const auto& t : transforms_) x = (*t)(x);
  return x;
}

std::string Compose::repr() const {
  std::string s = "Compose(";
  for (const auto& t : transforms_) s += "\n    " + t->repr();
  return s + "\n)";
}

Tensor ToTensor::operator()(const Tensor& image) const {
  TD_CHECK_ARG(image.dim() == 2 || image.dim() == 3, "[ToTensor] pic should be 2 or 3 dimensional [H, W] or "
               "[H, W, C]. Got ", image.dim(), " dimensions (shape ", shape_str(image.shape()), ")");
  Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image.permute({2, 0, 1}).contiguous();
  if (chw.dtype() == DType::kUInt8) return chw.to(DType::kFloat32).div(255.0);
  return chw;
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  TD_CHECK_ARG(!mean_.empty() && !std_.empty(), "[Normalize] mean and std must not be empty");
  for (double s : std_) {
    TD_CHECK_ARG(s != 0, "[Normalize] std evaluated to zero after conversion to torch.float32, leading to division "
                 "by zero.");
  }
}

Tensor Normalize::operator()(const Tensor& image) const {
  TD_CHECK_ARG(is_floating(image.dtype()), "[Normalize] Input tensor should be a float tensor. Got torch.",
               dtype_name(image.dtype()), ".");
  TD_CHECK_ARG(image.dim() >= 3, "[Normalize] Expected tensor to be a tensor image of size (..., C, H, W). Got "
               "tensor.size() = ", shape_str(image.shape()), ".");
  const int64_t c = image.size(-3);
  auto column = [&](const std::vector<double>& v, const char* name) {
    TD_CHECK_ARG(v.size() == 1 || static_cast<int64_t>(v.size()) == c, "[Normalize] ", name, " has ", v.size(),
                 " values for an image of ", c, " channels");
    std::vector<double> full = v.size() == 1 ? std::vector<double>(static_cast<size_t>(c), v[0]) : v;
    return tensor(full, {c, 1, 1}, image.device()).to(image.dtype());
  };
  return image.sub(column(mean_, "mean")).div(column(std_, "std"));
}

std::string Normalize::repr() const { return "Normalize(mean=" + float_tuple(mean_) + ", std=" + float_tuple(std_) + ")"; }

CenterCrop::CenterCrop(std::vector<int64_t> size) : size_(hw("CenterCrop", std::move(size))) {}

Tensor CenterCrop::operator()(const Tensor& image) const {
  check_image("CenterCrop", image);
  Tensor x = image;
  const int64_t h = x.size(-2), w = x.size(-1), th = size_[0], tw = size_[1];
  if (th > h || tw > w) {
    // torchvision pads a too-small image with zeros, (th - h) / 2 above, the rest below.
    const int64_t top = th > h ? (th - h) / 2 : 0, left = tw > w ? (tw - w) / 2 : 0;
    x = pad_image(x, {left, top, tw > w ? (tw - w + 1) / 2 : 0, th > h ? (th - h + 1) / 2 : 0}, 0, "constant");
  }
  const int64_t top = static_cast<int64_t>(std::nearbyint((x.size(-2) - th) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((x.size(-1) - tw) / 2.0));
  return crop(x, top, left, th, tw);
}

std::string CenterCrop::repr() const { return "CenterCrop(size=" + nn::detail::py_tuple(size_) + ")"; }

Pad::Pad(std::vector<int64_t> padding, double fill, std::string padding_mode)
    : padding_(sides("Pad", std::move(padding))), fill_(fill), mode_(std::move(padding_mode)) {
  TD_CHECK_ARG(mode_ == "constant" || mode_ == "edge" || mode_ == "reflect" || mode_ == "symmetric",
               "[Pad] Padding mode should be either constant, edge, reflect or symmetric, got ", mode_);
}

Tensor Pad::operator()(const Tensor& image) const {
  check_image("Pad", image);
  return pad_image(image, padding_, fill_, mode_);
}

std::string Pad::repr() const {
  return "Pad(padding=" + nn::detail::py_tuple(padding_) + ", fill=" + py_float(fill_) + ", padding_mode=" + mode_ + ")";
}

RandomCrop::RandomCrop(std::vector<int64_t> size, std::optional<std::vector<int64_t>> padding, bool pad_if_needed,
                       double fill, std::string padding_mode)
    : size_(hw("RandomCrop", std::move(size))), pad_if_needed_(pad_if_needed), fill_(fill),
      mode_(std::move(padding_mode)) {
  if (padding) padding_ = sides("RandomCrop", std::move(*padding));
}

Tensor RandomCrop::operator()(const Tensor& image) const {
  check_image("RandomCrop", image);
  Tensor x = image;
  if (padding_) x = pad_image(x, *padding_, fill_, mode_);
  const int64_t th = size_[0], tw = size_[1];
  if (pad_if_needed_ && x.size(-1) < tw) x = pad_image(x, {tw - x.size(-1), 0, tw - x.size(-1), 0}, fill_, mode_);
  if (pad_if_needed_ && x.size(-2) < th) x = pad_image(x, {0, th - x.size(-2), 0, th - x.size(-2)}, fill_, mode_);
  const int64_t h = x.size(-2), w = x.size(-1);
  TD_CHECK_ARG(h >= th && w >= tw, "[RandomCrop] Required crop size (", th, ", ", tw,
               ") is larger than input image size (", h, ", ", w, ")");
  if (h == th && w == tw) return x;
  const int64_t top = uniform_int(h - th + 1);
  const int64_t left = uniform_int(w - tw + 1);
  return crop(x, top, left, th, tw);
}

std::string RandomCrop::repr() const {
  return "RandomCrop(size=" + nn::detail::py_tuple(size_) +
         ", padding=" + (padding_ ? nn::detail::py_tuple(*padding_) : std::string("None")) + ")";
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  TD_CHECK_ARG(p >= 0 && p <= 1, "[RandomHorizontalFlip] p must be in [0, 1], got ", p);
}
Tensor RandomHorizontalFlip::operator()(const Tensor& image) const {
  check_image("RandomHorizontalFlip", image);
  return uniform01() < p_ ? image.flip({-1}) : image;
}
std::string RandomHorizontalFlip::repr() const { return "RandomHorizontalFlip(p=" + py_float(p_) + ")"; }

RandomVerticalFlip::RandomVerticalFlip(double p) : p_(p) {
  TD_CHECK_ARG(p >= 0 && p <= 1, "[RandomVerticalFlip] p must be in [0, 1], got ", p);
}
Tensor RandomVerticalFlip::operator()(const Tensor& image) const {
  check_image("RandomVerticalFlip", image);
  return uniform01() < p_ ? image.flip({-2}) : image;
}
std::string RandomVerticalFlip::repr() const { return "RandomVerticalFlip(p=" + py_float(p_) + ")"; }

// ---- functional: resizing, rotation, colour, blur, erasing, dtype conversion ----

namespace {

void check_channels(const char* op, const Tensor& image) {
  check_chw(op, image);
  const int64_t c = image.size(-3);
  TD_CHECK_ARG(c == 1 || c == 3, "[", op, "] Input image tensor permitted channel values are [1, 3], but found ", c);
}

// torchvision's _max_value: the largest value of an image dtype (1 for floats).
double max_value(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return 255;
    case DType::kInt8: return 127;
    case DType::kInt16: return 32767;
    case DType::kInt32: return 2147483647.0;
    case DType::kInt64: return 9223372036854775807.0;
    default: return 1;
  }
}

// torchvision's _blend: ratio * a + (1 - ratio) * b, clamped to [0, max] and cast to a's dtype.
Tensor blend(const Tensor& a, const Tensor& b, double ratio) {
  const double bound = max_value(a.dtype());
  return a.mul(Scalar(ratio)).add(b.mul(Scalar(1.0 - ratio))).clamp(Scalar(0), Scalar(bound)).to(a.dtype());
}

}  // namespace

namespace functional {

Tensor resize(const Tensor& image, std::vector<int64_t> size, InterpolationMode interpolation,
              std::optional<int64_t> max_size) {
  check_chw("resize", image);
  TD_CHECK_ARG(size.size() == 1 || size.size() == 2, "[resize] If size is a sequence, it should have 1 or 2 values");
  const int64_t h = image.size(-2), w = image.size(-1);
  std::vector<int64_t> out;
  if (size.size() == 1) {
    // torchvision's _compute_resized_output_size: the shorter side to size, the longer in proportion.
    const int64_t shorter = std::min(h, w), longer = std::max(h, w);
    int64_t new_short = size[0], new_long = static_cast<int64_t>(static_cast<double>(size[0]) *
                                                                  static_cast<double>(longer) /
                                                                  static_cast<double>(shorter));
    if (max_size) {
      TD_CHECK_ARG(*max_size > size[0], "[resize] max_size = ", *max_size, " must be strictly greater than the "
                   "requested size for the smaller edge size = ", size[0]);
      if (new_long > *max_size) {
        new_short = static_cast<int64_t>(static_cast<double>(*max_size) * static_cast<double>(new_short) /
                                         static_cast<double>(new_long));
        new_long = *max_size;
      }
    }
    out = w <= h ? std::vector<int64_t>{new_long, new_short} : std::vector<int64_t>{new_short, new_long};
  } else {
    TD_CHECK_ARG(!max_size, "[resize] max_size should only be passed if size specifies the length of the smaller "
                 "edge, i.e. size should be an int or a sequence of length 1 in torchscript mode.");
    out = size;
  }
  if (out[0] == h && out[1] == w) return image;
  Batched b = cast_squeeze_in(image, DType::kFloat32);
  const bool interpolating = interpolation != InterpolationMode::kNearest;
  Tensor y = nn::functional::interpolate(b.image, out, {}, mode_name(interpolation),
                                         interpolating ? std::optional<bool>(false) : std::nullopt);
  if (interpolation == InterpolationMode::kBicubic && b.out_dtype == DType::kUInt8) {
    y = y.clamp(Scalar(0), Scalar(255));
  }
  return cast_squeeze_out(b, y);
}

Tensor resized_crop(const Tensor& image, int64_t top, int64_t left, int64_t height, int64_t width,
                    std::vector<int64_t> size, InterpolationMode interpolation) {
  check_chw("resized_crop", image);
  return resize(crop(image, top, left, height, width), std::move(size), interpolation);
}

Tensor rgb_to_grayscale(const Tensor& image, int64_t num_output_channels) {
  check_channels("rgb_to_grayscale", image);
  TD_CHECK_ARG(num_output_channels == 1 || num_output_channels == 3,
               "[rgb_to_grayscale] num_output_channels should be either 1 or 3");
  Tensor l;
  if (image.size(-3) == 3) {
    Tensor r = image.select(-3, 0), g = image.select(-3, 1), b = image.select(-3, 2);
    l = r.mul(Scalar(0.2989)).add(g.mul(Scalar(0.587))).add(b.mul(Scalar(0.114))).to(image.dtype()).unsqueeze(-3);
  } else {
    l = image.clone();
  }
  return num_output_channels == 3 ? l.expand(image.shape()) : l;
}

Tensor adjust_brightness(const Tensor& image, double factor) {
  TD_CHECK_ARG(factor >= 0, "[adjust_brightness] brightness_factor (", factor, ") is not non-negative.");
  check_channels("adjust_brightness", image);
  return blend(image, zeros(image.shape(), {image.dtype(), image.device()}), factor);
}

Tensor adjust_contrast(const Tensor& image, double factor) {
  TD_CHECK_ARG(factor >= 0, "[adjust_contrast] contrast_factor (", factor, ") is not non-negative.");
  check_channels("adjust_contrast", image);
  const DType dtype = is_floating(image.dtype()) ? image.dtype() : DType::kFloat32;
  Tensor gray = image.size(-3) == 3 ? rgb_to_grayscale(image) : image;
  Tensor mean = gray.to(dtype).mean({-3, -2, -1}, true);
  return blend(image, mean, factor);
}

Tensor adjust_saturation(const Tensor& image, double factor) {
  TD_CHECK_ARG(factor >= 0, "[adjust_saturation] saturation_factor (", factor, ") is not non-negative.");
  check_channels("adjust_saturation", image);
  if (image.size(-3) == 1) return image;  // as PIL
  return blend(image, rgb_to_grayscale(image), factor);
}

namespace {
// torchvision's _rgb2hsv (Pillow's formulas, with the divisions guarded where max == min).
Tensor rgb2hsv(const Tensor& img) {
  Tensor r = img.select(-3, 0), g = img.select(-3, 1), b = img.select(-3, 2);
  Tensor maxc = img.amax({-3}), minc = img.amin({-3});
  Tensor eqc = maxc.eq(minc), cr = maxc.sub(minc);
  Tensor one = ones(maxc.shape(), {maxc.dtype(), maxc.device()});
  Tensor s = cr.div(one.where(eqc, maxc));
  Tensor cr_divisor = one.where(eqc, cr);
  Tensor rc = maxc.sub(r).div(cr_divisor), gc = maxc.sub(g).div(cr_divisor), bc = maxc.sub(b).div(cr_divisor);
  Tensor hr = maxc.eq(r).to(img.dtype()).mul(bc.sub(gc));
  Tensor hg = maxc.eq(g).logical_and(maxc.ne(r)).to(img.dtype()).mul(rc.sub(bc).add(Scalar(2.0)));
  Tensor hb = maxc.ne(g).logical_and(maxc.ne(r)).to(img.dtype()).mul(gc.sub(rc).add(Scalar(4.0)));
  Tensor h = hr.add(hg).add(hb);
  h = h.div(Scalar(6.0)).add(Scalar(1.0)).fmod(Scalar(1.0));
  return Tensor::stack({h, s, maxc}, -3);
}

// torchvision's _hsv2rgb: the six sectors' (r, g, b) picked by a one-hot mask.
Tensor hsv2rgb(const Tensor& img) {
  Tensor h = img.select(-3, 0), s = img.select(-3, 1), v = img.select(-3, 2);
  Tensor i = h.mul(Scalar(6.0)).floor();
  Tensor f = h.mul(Scalar(6.0)).sub(i);
  Tensor ii = i.to(DType::kInt32);
  Tensor p = v.mul(s.neg().add(Scalar(1.0))).clamp(Scalar(0.0), Scalar(1.0));
  Tensor q = v.mul(s.mul(f).neg().add(Scalar(1.0))).clamp(Scalar(0.0), Scalar(1.0));
  Tensor t = v.mul(s.mul(f.neg().add(Scalar(1.0))).neg().add(Scalar(1.0))).clamp(Scalar(0.0), Scalar(1.0));
  ii = ii.remainder(Scalar(6));
  Tensor sector = tensor(std::vector<int32_t>{0, 1, 2, 3, 4, 5}, {6, 1, 1}, ii.device());
  Tensor mask = ii.unsqueeze(-3).eq(sector).to(img.dtype());  // [..., 6, H, W]
  Tensor a1 = Tensor::stack({v, q, p, p, t, v}, -3);
  Tensor a2 = Tensor::stack({t, v, v, q, p, p}, -3);
  Tensor a3 = Tensor::stack({p, p, t, v, v, q}, -3);
  Tensor a4 = Tensor::stack({a1, a2, a3}, -4);  // [..., 3, 6, H, W]
  return mask.unsqueeze(-4).mul(a4).sum({-3});
}
}  // namespace

Tensor adjust_hue(const Tensor& image, double hue_factor) {
  TD_CHECK_ARG(hue_factor >= -0.5 && hue_factor <= 0.5, "[adjust_hue] hue_factor (", hue_factor,
               ") is not in [-0.5, 0.5].");
  check_channels("adjust_hue", image);
  if (image.size(-3) == 1) return image;  // as PIL
  const DType orig = image.dtype();
  Tensor img = orig == DType::kUInt8 ? image.to(DType::kFloat32).div(Scalar(255.0)) : image;
  Tensor hsv = rgb2hsv(img);
  Tensor h = hsv.select(-3, 0).add(Scalar(hue_factor)).remainder(Scalar(1.0));
  hsv = Tensor::stack({h, hsv.select(-3, 1), hsv.select(-3, 2)}, -3);
  Tensor out = hsv2rgb(hsv);
  return orig == DType::kUInt8 ? out.mul(Scalar(255.0)).to(orig) : out;
}

Tensor gaussian_blur(const Tensor& image, std::vector<int64_t> kernel_size, std::vector<double> sigma) {
  check_chw("gaussian_blur", image);
  if (kernel_size.size() == 1) kernel_size.push_back(kernel_size[0]);
  if (sigma.size() == 1) sigma.push_back(sigma[0]);
  TD_CHECK_ARG(kernel_size.size() == 2, "[gaussian_blur] If kernel_size is a sequence its length should be 2. Got ",
               kernel_size.size());
  for (int64_t k : kernel_size) {
    TD_CHECK_ARG(k > 0 && k % 2 == 1, "[gaussian_blur] kernel_size should have odd and positive integers. Got ",
                 shape_str(kernel_size));
  }
  TD_CHECK_ARG(sigma.size() == 2, "[gaussian_blur] If sigma is a sequence, its length should be 2. Got ",
               sigma.size());
  for (double s : sigma) TD_CHECK_ARG(s > 0, "[gaussian_blur] sigma should have positive values. Got ", s);
  const DType dtype = is_floating(image.dtype()) ? image.dtype() : DType::kFloat32;
  // torchvision's _get_gaussian_kernel1d, in float32 (torch.linspace's default dtype).
  auto kernel1d = [](int64_t k, double s) {
    const double half = static_cast<double>(k - 1) * 0.5;
    std::vector<float> x = linspace<float>(-half, half, k);
    Tensor pdf = tensor(x, {k}).div(Scalar(s)).pow(Scalar(2)).mul(Scalar(-0.5)).exp();
    return pdf.div(pdf.sum());
  };
  Tensor kx = kernel1d(kernel_size[0], sigma[0]).to(dtype).to(image.device().str());
  Tensor ky = kernel1d(kernel_size[1], sigma[1]).to(dtype).to(image.device().str());
  Tensor kernel = ky.unsqueeze(1).mm(kx.unsqueeze(0));
  Batched b = cast_squeeze_in(image, dtype);
  const int64_t c = b.image.size(1);
  Tensor weight = kernel.expand({c, 1, kernel.size(0), kernel.size(1)});
  Tensor x = b.image.pad({kernel_size[0] / 2, kernel_size[0] / 2, kernel_size[1] / 2, kernel_size[1] / 2}, "reflect");
  Tensor y = nn::functional::conv2d(x, weight, {}, 1, 0, 1, c);
  return cast_squeeze_out(b, y);
}

Tensor erase(const Tensor& image, int64_t i, int64_t j, int64_t h, int64_t w, const Tensor& v) {
  check_chw("erase", image);
  Tensor out = image.clone();
  Tensor region = out.narrow(-2, i, h).narrow(-1, j, w);
  region.copy_(v.to(image.dtype()).expand(region.shape()));
  return out;
}

Tensor convert_image_dtype(const Tensor& image, DType dtype) {
  if (image.dtype() == dtype) return image;
  if (is_floating(image.dtype())) {
    if (is_floating(dtype)) return image.to(dtype);
    TD_CHECK_ARG(!((image.dtype() == DType::kFloat32 && (dtype == DType::kInt32 || dtype == DType::kInt64)) ||
                   (image.dtype() == DType::kFloat64 && dtype == DType::kInt64)),
                 "[convert_image_dtype] The cast from torch.", dtype_name(image.dtype()), " to torch.",
                 dtype_name(dtype), " cannot be performed safely.");
    // max + 1 - eps spreads [0, 1] evenly over the integers (only 1.0 itself maps to max).
    return image.mul(Scalar(max_value(dtype) + 1.0 - 1e-3)).to(dtype);
  }
  const double input_max = max_value(image.dtype());
  if (is_floating(dtype)) return image.to(dtype).div(Scalar(input_max));
  const double output_max = max_value(dtype);
  if (input_max > output_max) {
    const auto factor = static_cast<int64_t>(std::floor((input_max + 1) / (output_max + 1)));
    return image.floor_divide(Scalar(factor)).to(dtype);
  }
  const auto factor = static_cast<int64_t>(std::floor((output_max + 1) / (input_max + 1)));
  return image.to(dtype).mul(Scalar(factor));
}

}  // namespace functional

namespace {
namespace F = functional;

// Python's round(x, 4) as torchvision's reprs use it.
double round4(double x) { return std::nearbyint(x * 1e4) / 1e4; }

}  // namespace

Resize::Resize(std::vector<int64_t> size, InterpolationMode interpolation, std::optional<int64_t> max_size,
               std::optional<bool> antialias)
    : size_(std::move(size)), interpolation_(interpolation), max_size_(max_size), antialias_(antialias) {
  TD_CHECK_ARG(size_.size() == 1 || size_.size() == 2, "[Resize] If size is a sequence, it should have 1 or 2 values");
  TD_CHECK(!antialias_.value_or(false), ErrorCode::kUnimplemented,
           "[Resize] antialias=True is not supported yet (tensord resizes tensors as torchvision 0.14's default, "
           "antialias=False)");
}

Tensor Resize::operator()(const Tensor& image) const { return F::resize(image, size_, interpolation_, max_size_); }

std::string Resize::repr() const {
  return str("Resize(size=", size_.size() == 1 ? std::to_string(size_[0]) : nn::detail::py_tuple(size_),
             ", interpolation=", mode_name(interpolation_), ", max_size=",
             max_size_ ? std::to_string(*max_size_) : std::string("None"), ", antialias=",
             antialias_ ? nn::detail::py_bool(*antialias_) : "None", ")");
}

RandomResizedCrop::RandomResizedCrop(std::vector<int64_t> size, std::vector<double> scale, std::vector<double> ratio,
                                     InterpolationMode interpolation)
    : size_(hw("RandomResizedCrop", std::move(size))), scale_(std::move(scale)), ratio_(std::move(ratio)),
      interpolation_(interpolation) {
  TD_CHECK_ARG(scale_.size() == 2 && ratio_.size() == 2, "[RandomResizedCrop] Scale and ratio should be of kind "
               "(min, max)");
}

std::array<int64_t, 4> RandomResizedCrop::get_params(int64_t height, int64_t width) const {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(ratio_[0]), log_hi = std::log(ratio_[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(scale_[0], scale_[1]);
    const double aspect = std::exp(uniform(log_lo, log_hi));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t i = uniform_int(height - h + 1), j = uniform_int(width - w + 1);
      return {i, j, h, w};
    }
  }
  // Fallback: the central crop closest to the ratio range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  const double lo = std::min(ratio_[0], ratio_[1]), hi = std::max(ratio_[0], ratio_[1]);
  if (in_ratio < lo) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / lo));
  } else if (in_ratio > hi) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * hi));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Tensor RandomResizedCrop::operator()(const Tensor& image) const {
  check_chw("RandomResizedCrop", image);
  const auto [i, j, h, w] = get_params(image.size(-2), image.size(-1));
  return F::resized_crop(image, i, j, h, w, size_, interpolation_);
}

std::string RandomResizedCrop::repr() const {
  return str("RandomResizedCrop(size=", nn::detail::py_tuple(size_), ", scale=",
             float_pair({round4(scale_[0]), round4(scale_[1])}), ", ratio=",
             float_pair({round4(ratio_[0]), round4(ratio_[1])}), ", interpolation=", mode_name(interpolation_),
             ", antialias=None)");
}

namespace {
// ColorJitter's _check_input: a number v gives [center - v, center + v] (the low end clipped at 0 for the
// factors), a pair is taken as is; (center, center) means the adjustment is off.
std::optional<std::array<double, 2>> jitter_range(const char* name, const std::vector<double>& v, double center,
                                                  double lo_bound, double hi_bound, bool clip_first_on_zero) {
  std::array<double, 2> r{};
  if (v.size() == 1) {
    TD_CHECK_ARG(v[0] >= 0, "[ColorJitter] If ", name, " is a single number, it must be non negative.");
    r = {center - v[0], center + v[0]};
    if (clip_first_on_zero) r[0] = std::max(r[0], 0.0);
  } else {
    TD_CHECK_ARG(v.size() == 2, "[ColorJitter] ", name, " should be a single number or a list/tuple with length 2.");
    r = {v[0], v[1]};
  }
  TD_CHECK_ARG(lo_bound <= r[0] && r[0] <= r[1] && r[1] <= hi_bound, "[ColorJitter] ", name,
               " values should be between (", py_float(lo_bound), ", ", py_float(hi_bound), "), but got [",
               py_float(r[0]), ", ", py_float(r[1]), "].");
  if (r[0] == center && r[1] == center) return std::nullopt;
  return r;
}

std::string jitter_repr(const std::optional<std::array<double, 2>>& r) {
  return r ? "(" + py_float((*r)[0]) + ", " + py_float((*r)[1]) + ")" : std::string("None");
}
}  // namespace

ColorJitter::ColorJitter(std::vector<double> brightness, std::vector<double> contrast, std::vector<double> saturation,
                         std::vector<double> hue)
    : brightness_(jitter_range("brightness", brightness, 1, 0, INFINITY, true)),
      contrast_(jitter_range("contrast", contrast, 1, 0, INFINITY, true)),
      saturation_(jitter_range("saturation", saturation, 1, 0, INFINITY, true)),
      hue_(jitter_range("hue", hue, 0, -0.5, 0.5, false)) {}

Tensor ColorJitter::operator()(const Tensor& image) const {
  // torchvision's get_params: the order, then one factor per enabled adjustment.
  std::vector<int64_t> order = random::randperm(4).to_vector<int64_t>();
  auto draw = [](const std::optional<std::array<double, 2>>& r) {
    return r ? std::optional<double>(uniform((*r)[0], (*r)[1])) : std::nullopt;
  };
  const std::optional<double> b = draw(brightness_), c = draw(contrast_), s = draw(saturation_), h = draw(hue_);
  Tensor x = image;
  for (int64_t fn : order) {
    if (fn == 0 && b) x = F::adjust_brightness(x, *b);
    if (fn == 1 && c) x = F::adjust_contrast(x, *c);
    if (fn == 2 && s) x = F::adjust_saturation(x, *s);
    if (fn == 3 && h) x = F::adjust_hue(x, *h);
  }
  return x;
}

std::string ColorJitter::repr() const {
  return "ColorJitter(brightness=" + jitter_repr(brightness_) + ", contrast=" + jitter_repr(contrast_) +
         ", saturation=" + jitter_repr(saturation_) + ", hue=" + jitter_repr(hue_) + ")";
}

Grayscale::Grayscale(int64_t num_output_channels) : channels_(num_output_channels) {
  TD_CHECK_ARG(channels_ == 1 || channels_ == 3, "[Grayscale] num_output_channels should be either 1 or 3");
}
Tensor Grayscale::operator()(const Tensor& image) const { return F::rgb_to_grayscale(image, channels_); }
std::string Grayscale::repr() const { return str("Grayscale(num_output_channels=", channels_, ")"); }

RandomGrayscale::RandomGrayscale(double p) : p_(p) {
  TD_CHECK_ARG(p >= 0 && p <= 1, "[RandomGrayscale] p must be in [0, 1], got ", p);
}
Tensor RandomGrayscale::operator()(const Tensor& image) const {
  check_chw("RandomGrayscale", image);
  return uniform01() < p_ ? F::rgb_to_grayscale(image, image.size(-3)) : image;
}
std::string RandomGrayscale::repr() const { return "RandomGrayscale(p=" + py_float(p_) + ")"; }

GaussianBlur::GaussianBlur(std::vector<int64_t> kernel_size, std::vector<double> sigma)
    : kernel_size_(hw("GaussianBlur", std::move(kernel_size))), sigma_(std::move(sigma)) {
  for (int64_t k : kernel_size_) {
    TD_CHECK_ARG(k > 0 && k % 2 == 1, "[GaussianBlur] Kernel size value should be an odd and positive number.");
  }
  if (sigma_.size() == 1) {
    TD_CHECK_ARG(sigma_[0] > 0, "[GaussianBlur] If sigma is a single number, it must be positive.");
    sigma_ = {sigma_[0], sigma_[0]};
  }
  TD_CHECK_ARG(sigma_.size() == 2 && 0.0 < sigma_[0] && sigma_[0] <= sigma_[1],
               "[GaussianBlur] sigma values should be positive and of the form (min, max).");
}
Tensor GaussianBlur::operator()(const Tensor& image) const {
  const double sigma = uniform(sigma_[0], sigma_[1]);
  return F::gaussian_blur(image, kernel_size_, {sigma, sigma});
}
std::string GaussianBlur::repr() const {
  return "GaussianBlur(kernel_size=" + nn::detail::py_tuple(kernel_size_) + ", sigma=" + float_pair(sigma_) + ")";
}

RandomErasing::RandomErasing(double p, std::vector<double> scale, std::vector<double> ratio, std::vector<double> value,
                             bool random_value)
    : p_(p), scale_(std::move(scale)), ratio_(std::move(ratio)), value_(std::move(value)), random_(random_value) {
  TD_CHECK_ARG(scale_.size() == 2 && ratio_.size() == 2, "[RandomErasing] Scale and ratio should be of kind (min, max)");
  TD_CHECK_ARG(scale_[0] >= 0 && scale_[1] <= 1, "[RandomErasing] Scale should be between 0 and 1");
  TD_CHECK_ARG(p >= 0 && p <= 1, "[RandomErasing] Random erasing probability should be between 0 and 1");
}

Tensor RandomErasing::operator()(const Tensor& image) const {
  check_chw("RandomErasing", image);
  if (!(uniform01() < p_)) return image;
  const int64_t c = image.size(-3), ih = image.size(-2), iw = image.size(-1);
  TD_CHECK_ARG(random_ || value_.size() == 1 || static_cast<int64_t>(value_.size()) == c,
               "[RandomErasing] If value is a sequence, it should have either a single value or ", c,
               " (number of input channels)");
  const double area = static_cast<double>(ih * iw);
  const double log_lo = std::log(ratio_[0]), log_hi = std::log(ratio_[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * uniform(scale_[0], scale_[1]);
    const double aspect = std::exp(uniform(log_lo, log_hi));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(h < ih && w < iw)) continue;
    Tensor v = random_ ? random::randn({c, h, w}, {DType::kFloat32, image.device()})
                       : tensor(value_, {static_cast<int64_t>(value_.size()), 1, 1}, image.device());
    const int64_t i = uniform_int(ih - h + 1), j = uniform_int(iw - w + 1);
    return F::erase(image, i, j, h, w, v);
  }
  return image;
}

std::string RandomErasing::repr() const {
  std::string value;
  if (random_) {
    value = "random";
  } else if (value_.size() == 1) {
    value = value_[0] == std::floor(value_[0]) ? std::to_string(static_cast<int64_t>(value_[0])) : py_float(value_[0]);
  } else {
    value = float_pair(value_);
  }
  return "RandomErasing(p=" + py_float(p_) + ", scale=" + float_pair(scale_) + ", ratio=" + float_pair(ratio_) +
         ", value=" + value + ", inplace=False)";
}

}  // namespace td::vision::transforms
