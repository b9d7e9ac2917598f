// Image transforms in tensor ops: every step is a registry op, so the transforms run on any device.
#include "vision/transforms.h"

#include <cmath>

#include "core/error.h"
#include "core/nn/repr.h"
#include "core/random/generator.h"

namespace td::vision::transforms {

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

double uniform01() { return random::rand({1}, {DType::kFloat64}).data<double>()[0]; }
int64_t uniform_int(int64_t high) { return random::randint(0, high, {1}).data<int64_t>()[0]; }
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

}  // namespace td::vision::transforms
