// torch.fft: the discrete Fourier transforms, their frequencies and shifts, with PyTorch's names (aten's:
// fft_fft, fft_rfft2, ...), arguments, normalizations and errors. As in PyTorch, three primitives do the
// transforms, each the backend's Backend::fft over the given dims (moved last and made contiguous) followed
// by the normalization: _fft_c2c (complex to complex), _fft_r2c (real to complex, the onesided half of the
// last dim, or the whole spectrum filled in by conjugate symmetry) and _fft_c2r (from that half to real).
// Their backward formulas are PyTorch's, written in the same primitives, so they differentiate again; the
// transforms are linear, so forward-mode AD runs them on the tangents. Everything else (fft, ifft, rfft,
// irfft, hfft, ihfft and their 2-d and n-d forms, stft and istft) is a composite of the three, as
// SpectralOps.cpp writes them.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>

#include "core/backend.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

using Shape = std::vector<int64_t>;

// aten's fft_norm_mode: what the primitives' `normalization` argument holds.
enum class Norm : int64_t { kNone = 0, kByRootN = 1, kByN = 2 };

// PyTorch's norm_from_string: "backward" (the default) scales the inverse transform by 1/n, "forward" the
// forward one, "ortho" both by 1/sqrt(n).
int64_t norm_from_string(std::string_view op, const Args& a, size_t slot, bool forward) {
  if (a.is_none(slot)) return static_cast<int64_t>(forward ? Norm::kNone : Norm::kByN);
  const std::string& norm = a.string_at(slot);
  if (norm == "backward") return static_cast<int64_t>(forward ? Norm::kNone : Norm::kByN);
  if (norm == "forward") return static_cast<int64_t>(forward ? Norm::kByN : Norm::kNone);
  if (norm == "ortho") return static_cast<int64_t>(Norm::kByRootN);
  throw Error(ErrorCode::kInvalidArgument, str("[", op, "] Invalid normalization mode: \"", norm, "\""));
}

DType complex_of(DType real) { return real == DType::kFloat64 ? DType::kComplex128 : DType::kComplex64; }
DType real_of(DType complex) { return complex == DType::kComplex128 ? DType::kFloat64 : DType::kFloat32; }

// PyTorch's promote_type_fft: integers and bool become the default float dtype; float16 and bfloat16 are
// refused (PyTorch runs float16 only on CUDA, for powers of two; tensord has no half transforms).
Tensor promote_fft(std::string_view op, const Tensor& x, bool require_complex) {
  DType t = x.dtype();
  if (!is_complex(t)) {
    if (!is_floating(t)) t = default_float_dtype();
    TD_CHECK_ARG(t == DType::kFloat32 || t == DType::kFloat64, "[", op, "] Unsupported dtype ",
                 scalar_type_name(t));
    if (require_complex) t = complex_of(t);
  }
  return t == x.dtype() ? x : x.to(t);
}

// The transform dims, wrapped and checked to be distinct.
Shape wrap_fft_dims(std::string_view op, std::span<const int64_t> dims, int64_t ndim) {
  Shape out;
  for (int64_t d : dims) {
    TD_CHECK_ARG(ndim > 0, "[", op, "] Dimension specified as ", d, " but tensor has no dimensions");
    out.push_back(wrap_dim(op, d, ndim));
  }
  Shape sorted = out;
  std::sort(sorted.begin(), sorted.end());
  TD_CHECK_ARG(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), "[", op,
               "] FFT dims must be unique");
  return out;
}

void check_points(std::string_view op, int64_t n) {
  TD_CHECK_ARG(n >= 1, "[", op, "] Invalid number of data points (", n, ") specified");
}

// x cut or zero-padded at the end of each dims[i] to sizes[i] (-1: left alone); differentiable.
Tensor resize_fft_input(Tensor x, std::span<const int64_t> dims, std::span<const int64_t> sizes) {
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = dims[i], n = sizes[i], have = x.size(d);
    if (n == -1 || n == have) continue;
    if (n < have) {
      x = x.narrow(d, 0, n);
    } else {
      Shape pad = x.shape();
      pad[static_cast<size_t>(d)] = n - have;
      x = Tensor::cat({x, zeros(pad, {x.dtype(), x.device()})}, d);
    }
  }
  return x;
}

// One of the three transforms over dims of x (already checked): the dims moved last in their order, the
// batch made contiguous, the backend's unnormalized transform, the normalization, the dims moved back.
// last_dim_size: the real output's last transformed size, for kC2R.
Tensor run_transform(std::string_view op, FftKind kind, bool forward, const Tensor& x, const Shape& dims,
                     int64_t normalization, int64_t last_dim_size = 0) {
  const auto ndim = static_cast<size_t>(x.dim());
  for (int64_t d : dims) check_points(op, kind == FftKind::kC2R && d == dims.back() ? last_dim_size : x.size(d));
  Shape perm;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) perm.push_back(d);
  }
  perm.insert(perm.end(), dims.begin(), dims.end());
  Tensor in = x.permute(perm);
  // The backend may overwrite the input of kC2R: it gets a copy of its own.
  in = kind == FftKind::kC2R && in.is_contiguous() ? in.clone() : in.contiguous();
  Shape out_shape = in.shape();
  int64_t points = 1;  // the signal's size: the real side's
  for (size_t i = ndim - dims.size(); i < ndim; ++i) points *= out_shape[i];
  DType out_dtype = in.dtype();
  if (kind == FftKind::kR2C) {
    out_shape.back() = out_shape.back() / 2 + 1;
    out_dtype = complex_of(in.dtype());
  } else if (kind == FftKind::kC2R) {
    points = points / out_shape.back() * last_dim_size;
    out_shape.back() = last_dim_size;
    out_dtype = real_of(in.dtype());
  }
  Tensor out = empty(out_shape, {out_dtype, x.device()});
  if (out.numel() > 0 && !dims.empty()) {
    StridedRef out_ref{out.data_ptr(), out.dtype(), out.sizes(), out.strides()};
    StridedRef in_ref{in.data_ptr(), in.dtype(), in.sizes(), in.strides()};
    backend(x.device().type).fft(kind, forward, out_ref, in_ref, static_cast<int>(dims.size()), x.device().index);
  } else if (out.numel() > 0) {
    out.copy_(in);  // no dims: the identity
  }
  if (normalization != static_cast<int64_t>(Norm::kNone) && out.numel() > 0) {
    const double n = static_cast<double>(points);
    out.mul_(Scalar(normalization == static_cast<int64_t>(Norm::kByN) ? 1.0 / n : 1.0 / std::sqrt(n)));
  }
  Shape inverse(ndim);
  for (size_t i = 0; i < ndim; ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return out.permute(inverse);
}

// The whole spectrum of a real signal from its onesided half (last of dims halved): X[k] = conj(X[-k]), the
// indices negated modulo each dim's size.
Tensor fill_conjugate_symmetry(const Tensor& half, const Shape& dims, int64_t n) {
  const int64_t last = dims.back(), missing = n - half.size(last);
  if (missing == 0) return half;
  Tensor mirror = half.narrow(last, 1, missing).flip({last});
  for (size_t i = 0; i + 1 < dims.size(); ++i) mirror = mirror.flip({dims[i]}).roll({1}, {dims[i]});
  return Tensor::cat({half, mirror.conj()}, last);
}

Tensor fft_c2c(const Tensor& x, const Shape& dims, int64_t normalization, bool forward) {
  return call_op("_fft_c2c", {x, dims, normalization, forward})[0];
}
Tensor fft_r2c(const Tensor& x, const Shape& dims, int64_t normalization, bool onesided) {
  return call_op("_fft_r2c", {x, dims, normalization, onesided})[0];
}
Tensor fft_c2r(const Tensor& x, const Shape& dims, int64_t normalization, int64_t last_dim_size) {
  return call_op("_fft_c2r", {x, dims, normalization, last_dim_size})[0];
}

// ---- the 1-d transforms (fft, ifft, rfft, irfft, hfft, ihfft): (self, n, dim, norm) ----

struct OneDim {
  Tensor x;
  int64_t dim;
};

// x with dim wrapped and resized to n (when given), as PyTorch's fft_c2c/fft_r2c front ends.
OneDim one_dim(std::string_view op, Tensor x, const Args& a) {
  TD_CHECK_ARG(x.dim() > 0, "[", op, "] Dimension specified as ", a.int_at(2), " but tensor has no dimensions");
  const int64_t d = wrap_dim(op, a.int_at(2), x.dim());
  if (!a.is_none(1)) {
    check_points(op, a.int_at(1));
    x = resize_fft_input(x, Shape{d}, Shape{a.int_at(1)});
  } else {
    check_points(op, x.size(d));
  }
  return {x, d};
}

// PyTorch's fft_r2c front end: fft/ifft of a real input, rfft, ihfft.
Tensor r2c_1d(std::string_view op, const Args& a, bool forward, bool onesided) {
  const Tensor& self = a.tensor(0);
  TD_CHECK_ARG(!is_complex(self.dtype()), "[", op, "] ", op.substr(4), " expects a real input tensor, but got ",
               scalar_type_name(self.dtype()));
  auto [x, d] = one_dim(op, promote_fft(op, self, false), a);
  Tensor ret = fft_r2c(x, {d}, norm_from_string(op, a, 3, forward), onesided);
  return forward ? ret : ret.conj();
}

// PyTorch's fft_c2r front end: irfft (forward false) and hfft (true); n defaults to 2 (size - 1).
Tensor c2r_1d(std::string_view op, const Args& a, bool forward) {
  Tensor x = promote_fft(op, a.tensor(0), true);
  TD_CHECK_ARG(x.dim() > 0, "[", op, "] Dimension specified as ", a.int_at(2), " but tensor has no dimensions");
  const int64_t d = wrap_dim(op, a.int_at(2), x.dim());
  const int64_t n = a.is_none(1) ? 2 * (x.size(d) - 1) : a.int_at(1);
  check_points(op, n);
  if (!a.is_none(1)) x = resize_fft_input(x, Shape{d}, Shape{n / 2 + 1});
  if (forward) x = x.conj();
  return fft_c2r(x, {d}, norm_from_string(op, a, 3, forward), n);
}

Tensor c2c_1d(std::string_view op, const Args& a, bool forward) {
  auto [x, d] = one_dim(op, a.tensor(0), a);
  return fft_c2c(x, {d}, norm_from_string(op, a, 3, forward), forward);
}

// ---- the n-d transforms: (self, s, dim, norm) ----

struct ShapeAndDims {
  Shape shape, dims;
};

// PyTorch's canonicalize_fft_shape_and_dim_args: dims default to the last len(s) dims (s given) or all;
// s entries of -1 are the input's sizes.
ShapeAndDims shape_and_dims(std::string_view op, const Tensor& x, const Args& a) {
  ShapeAndDims r;
  const auto s = a.optional_ints(1);
  const auto dim = a.optional_ints(2);
  if (dim) r.dims = wrap_fft_dims(op, *dim, x.dim());
  if (s) {
    TD_CHECK_ARG(!dim || dim->size() == s->size(), "[", op,
                 "] When given, dim and shape arguments must have the same length");
    TD_CHECK_ARG(static_cast<int64_t>(s->size()) <= x.dim(), "[", op, "] Got shape with ", s->size(),
                 " values but input tensor only has ", x.dim(), " dimensions.");
    if (!dim) {
      r.dims.resize(s->size());
      std::iota(r.dims.begin(), r.dims.end(), x.dim() - static_cast<int64_t>(s->size()));
    }
    for (size_t i = 0; i < s->size(); ++i) r.shape.push_back((*s)[i] == -1 ? x.size(r.dims[i]) : (*s)[i]);
  } else {
    if (!dim) {
      r.dims.resize(static_cast<size_t>(x.dim()));
      std::iota(r.dims.begin(), r.dims.end(), 0);
    }
    for (int64_t d : r.dims) r.shape.push_back(x.size(d));
  }
  for (int64_t n : r.shape) check_points(op, n);
  return r;
}

// For irfftn and hfftn: shape_and_dims with the last size the real output's (2 (size - 1) unless s gives
// it), returned, and the input's last size n / 2 + 1.
int64_t c2r_shape_and_dims(std::string_view op, const Tensor& x, const Args& a, ShapeAndDims& r) {
  r = shape_and_dims(op, x, a);
  TD_CHECK_ARG(!r.dims.empty(), "[", op, "] ", op.substr(4), " must transform at least one axis");
  const auto s = a.optional_ints(1);
  const int64_t n = !s || s->back() == -1 ? 2 * (x.size(r.dims.back()) - 1) : r.shape.back();
  check_points(op, n);
  r.shape.back() = n / 2 + 1;
  return n;
}

Tensor c2c_nd(std::string_view op, const Args& a, bool forward) {
  Tensor x = promote_fft(op, a.tensor(0), true);
  ShapeAndDims r = shape_and_dims(op, x, a);
  return fft_c2c(resize_fft_input(x, r.dims, r.shape), r.dims, norm_from_string(op, a, 3, forward), forward);
}

Tensor rfftn(std::string_view op, const Args& a) {
  const Tensor& self = a.tensor(0);
  TD_CHECK_ARG(!is_complex(self.dtype()), "[", op, "] ", op.substr(4), " expects a real-valued input tensor, but got ",
               scalar_type_name(self.dtype()));
  ShapeAndDims r = shape_and_dims(op, self, a);
  TD_CHECK_ARG(!r.dims.empty(), "[", op, "] ", op.substr(4), " must transform at least one axis");
  Tensor x = resize_fft_input(promote_fft(op, self, false), r.dims, r.shape);
  return fft_r2c(x, r.dims, norm_from_string(op, a, 3, true), true);
}

Tensor irfftn(std::string_view op, const Args& a) {
  ShapeAndDims r;
  const int64_t n = c2r_shape_and_dims(op, a.tensor(0), a, r);
  Tensor x = resize_fft_input(promote_fft(op, a.tensor(0), true), r.dims, r.shape);
  return fft_c2r(x, r.dims, norm_from_string(op, a, 3, false), n);
}

// hfftn: the inverse c2c over all but the last dim, then the c2r of the conjugate over the last.
Tensor hfftn(std::string_view op, const Args& a) {
  ShapeAndDims r;
  const int64_t n = c2r_shape_and_dims(op, a.tensor(0), a, r);
  Tensor x = resize_fft_input(promote_fft(op, a.tensor(0), true), r.dims, r.shape);
  const int64_t norm = norm_from_string(op, a, 3, true);
  const Shape c2c_dims(r.dims.begin(), r.dims.end() - 1);
  if (!c2c_dims.empty()) x = fft_c2c(x, c2c_dims, norm, true);
  return fft_c2r(x.conj(), {r.dims.back()}, norm, n);
}

// ihfftn: the onesided r2c over the last dim, conjugated, then the inverse c2c over the others.
Tensor ihfftn(std::string_view op, const Args& a) {
  const Tensor& self = a.tensor(0);
  TD_CHECK_ARG(!is_complex(self.dtype()), "[", op, "] ", op.substr(4), " expects a real input tensor, but got ",
               scalar_type_name(self.dtype()));
  ShapeAndDims r = shape_and_dims(op, self, a);
  TD_CHECK_ARG(!r.dims.empty(), "[", op, "] ", op.substr(4), " must transform at least one axis");
  Tensor x = resize_fft_input(promote_fft(op, self, false), r.dims, r.shape);
  const int64_t norm = norm_from_string(op, a, 3, false);
  Tensor tmp = fft_r2c(x, {r.dims.back()}, norm, true).conj();
  const Shape c2c_dims(r.dims.begin(), r.dims.end() - 1);
  return c2c_dims.empty() ? tmp : fft_c2c(tmp, c2c_dims, norm, false);
}

// fftshift/ifftshift: a roll of each dim (all by default) by half its size, rounded down (fftshift) or up.
Tensor shift(const Args& a, bool inverse) {
  const Tensor& x = a.tensor(0);
  Shape dims;
  if (auto d = a.optional_ints(1)) {
    dims = *d;
  } else {
    for (int64_t i = 0; i < x.dim(); ++i) dims.push_back(i);
  }
  Shape shifts;
  for (int64_t d : dims) {
    const int64_t n = x.size(wrap_dim(inverse ? "fft_ifftshift" : "fft_fftshift", d, x.dim()));
    shifts.push_back(inverse ? (n + 1) / 2 : n / 2);
  }
  if (dims.empty()) return x.clone();
  return x.roll(shifts, dims);
}

// fftfreq/rfftfreq: the sample frequencies of an n-point transform with spacing d.
Tensor frequencies(std::string_view op, const Args& a, bool onesided) {
  const int64_t n = a.int_at(0);
  TD_CHECK_ARG(n >= 0, "[", op, "] n must be non-negative, got ", n);
  const double d = a.float_at(1);
  const DType dtype = a.optional_dtype(2).value_or(default_float_dtype());
  TD_CHECK_ARG(is_floating(dtype) || is_complex(dtype), "[", op, "] ", op.substr(4),
               " requires a floating point or complex dtype, but got ", scalar_type_name(dtype));
  const Value device = a.value(3);
  auto range = [&](int64_t from, int64_t to) {
    return call_op("arange", {Scalar(from), Scalar(to), Scalar(int64_t{1}), dtype, device})[0];
  };
  const double scale = 1.0 / (static_cast<double>(n) * d);
  if (onesided) return range(0, n / 2 + 1).mul(Scalar(scale));
  // 0, 1, ..., (n - 1) / 2, then -(n / 2), ..., -1
  return Tensor::cat({range(0, (n + 1) / 2), range(-(n / 2), 0)}, 0).mul(Scalar(scale));
}

void check_primitive(std::string_view op, const Tensor& x, bool want_complex) {
  if (want_complex) {
    TD_CHECK_ARG(x.dtype() == DType::kComplex64 || x.dtype() == DType::kComplex128, "[", op,
                 "] expects a complex64 or complex128 input, but got ", scalar_type_name(x.dtype()));
  } else {
    TD_CHECK_ARG(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64, "[", op,
                 "] expects a float32 or float64 input, but got ", scalar_type_name(x.dtype()));
  }
}

// The window of stft/istft, of n_fft points: the given one (ones by default) of win_length, zero-padded to
// n_fft on both sides, the left getting the smaller half.
Tensor centered_window(const Tensor& window, int64_t n_fft, int64_t win_length, DType dtype, Device device) {
  Tensor w = window.defined() ? window : ones({win_length}, {dtype, device});
  if (win_length == n_fft) return w;
  const int64_t left = (n_fft - win_length) / 2;
  return w.pad({left, n_fft - win_length - left});
}

// The sum over frames f of frames[..., f, :] placed at f * hop along a signal of `length` (>= n_fft + hop
// (frames - 1)): the overlap-add of istft, as unfold's backward. The window is cut into ceil(n_fft / hop) chunks of
// hop; chunk j of every frame lands on one contiguous run, so each chunk is one padded add.
Tensor overlap_add(const Tensor& frames, int64_t hop, int64_t length) {
  const int64_t n_frames = frames.size(-2), n_fft = frames.size(-1);
  const int64_t chunks = (n_fft + hop - 1) / hop;
  Tensor padded = frames.pad({0, chunks * hop - n_fft});  // [..., frames, chunks * hop]
  const int64_t total = (n_frames + chunks - 1) * hop;
  Shape split = padded.shape();
  split.back() = chunks;
  split.push_back(hop);
  Tensor parts = padded.reshape(split);  // [..., frames, chunks, hop]
  Tensor sum;
  for (int64_t j = 0; j < chunks; ++j) {
    Shape run = frames.shape();
    run.pop_back();
    run.back() = n_frames * hop;
    Tensor piece = parts.select(-2, j).reshape(run).pad({j * hop, total - j * hop - n_frames * hop});
    sum = sum.defined() ? sum.add(piece) : piece;
  }
  return sum.narrow(-1, 0, length);
}

Tensor stft(const Args& a) {
  Tensor x = a.tensor(0);
  const int64_t n_fft = a.int_at(1);
  const int64_t hop = a.is_none(2) ? n_fft / 4 : a.int_at(2);
  const int64_t win_length = a.is_none(3) ? n_fft : a.int_at(3);
  const Tensor window = a.optional_tensor(4);
  const bool center = a.bool_at(5), normalized = a.bool_at(7);
  const bool complex_in = is_complex(x.dtype()) || (window.defined() && is_complex(window.dtype()));
  TD_CHECK_ARG(!a.is_none(9) || complex_in, "[stft] stft requires the return_complex parameter be given for real "
               "inputs, and will further require that return_complex=True in a future PyTorch release.");
  const bool return_complex = a.is_none(9) ? complex_in : a.bool_at(9);
  TD_CHECK_ARG(x.dim() == 1 || x.dim() == 2, "[stft] expected a 1D or 2D tensor, but got ", x.dim(), "D");
  const bool batched = x.dim() == 2;
  if (!batched) x = x.unsqueeze(0);
  if (!is_floating(x.dtype()) && !is_complex(x.dtype())) x = x.to(default_float_dtype());
  if (center) {
    const int64_t pad = n_fft / 2;
    x = x.unsqueeze(1).pad({pad, pad}, a.string_at(6)).squeeze(1);
  }
  const int64_t len = x.size(1);
  TD_CHECK_ARG(n_fft > 0 && n_fft <= len, "[stft] expected 0 < n_fft < ", len, ", but got n_fft=", n_fft);
  TD_CHECK_ARG(hop > 0, "[stft] expected hop_length > 0, but got hop_length=", hop);
  TD_CHECK_ARG(win_length > 0 && win_length <= n_fft, "[stft] expected 0 < win_length <= n_fft, but got win_length=",
               win_length);
  if (window.defined()) {
    TD_CHECK_ARG(window.dim() == 1 && window.size(0) == win_length, "[stft] expected a 1D window tensor of size equal "
                 "to win_length=", win_length, ", but got window with size ", shape_str(window.shape()));
  }
  Tensor frames = x.unfold(1, n_fft, hop);  // [batch, frames, n_fft]
  if (window.defined() || win_length < n_fft) {
    frames = frames.mul(centered_window(window, n_fft, win_length, x.dtype(), x.device()));
  }
  const bool complex_fft = is_complex(frames.dtype());
  const bool onesided = a.is_none(8) ? !complex_fft : a.bool_at(8);
  const int64_t norm = static_cast<int64_t>(normalized ? Norm::kByRootN : Norm::kNone);
  Tensor out;
  if (complex_fft) {
    TD_CHECK_ARG(!onesided, "[stft] Cannot have onesided output if window or input is complex");
    out = fft_c2c(frames, {2}, norm, true);
  } else {
    out = fft_r2c(promote_fft("stft", frames, false), {2}, norm, onesided);
  }
  out = out.transpose(1, 2);
  if (!batched) out = out.squeeze(0);
  return return_complex ? out : out.view_as_real();
}

Tensor istft(const Args& a) {
  Tensor x = a.tensor(0);
  const int64_t n_fft = a.int_at(1);
  const int64_t hop = a.is_none(2) ? n_fft / 4 : a.int_at(2);
  const int64_t win_length = a.is_none(3) ? n_fft : a.int_at(3);
  const Tensor window = a.optional_tensor(4);
  const bool center = a.bool_at(5), normalized = a.bool_at(6), return_complex = a.bool_at(9);
  TD_CHECK_ARG(is_complex(x.dtype()), "[istft] istft requires a complex-valued input tensor, but got ",
               scalar_type_name(x.dtype()));
  TD_CHECK_ARG(x.numel() > 0, "[istft] istft input tensor cannot be empty");
  TD_CHECK_ARG(x.dim() == 2 || x.dim() == 3, "[istft] expected a tensor with 2 or 3 dimensions of complex, but got ",
               x.dim());
  const int64_t n_frames = x.size(-1), fft_size = x.size(-2);
  const int64_t expected_len = n_fft + hop * (n_frames - 1);
  const bool onesided = a.is_none(7) ? fft_size != n_fft : a.bool_at(7);
  if (onesided) {
    TD_CHECK_ARG(n_fft / 2 + 1 == fft_size, "[istft] expected the frequency dimension (3rd to the last) of the input "
                 "tensor to match n_fft / 2 + 1 when onesided=True, but got ", fft_size);
  } else {
    TD_CHECK_ARG(n_fft == fft_size, "[istft] expected the frequency dimension (3rd to the last) of the input tensor "
                 "to match n_fft when onesided=False, but got ", fft_size);
  }
  TD_CHECK_ARG(0 < hop && hop <= win_length, "[istft] expected 0 < hop_length <= win_length");
  TD_CHECK_ARG(0 < win_length && win_length <= n_fft, "[istft] expected 0 < win_length <= n_fft");
  if (window.defined()) {
    TD_CHECK_ARG(window.dim() == 1 && window.size(0) == win_length, "[istft] Invalid window shape. window has to be 1D "
                 "and length of `win_length`");
  }
  const DType real = real_of(x.dtype());
  Tensor w = centered_window(window, n_fft, win_length, real, x.device());
  const bool batched = x.dim() == 3;
  if (!batched) x = x.unsqueeze(0);
  x = x.transpose(1, 2);  // [batch, frames, freq]
  const int64_t norm = static_cast<int64_t>(normalized ? Norm::kByRootN : Norm::kByN);
  Tensor frames;
  if (return_complex) {
    TD_CHECK_ARG(!onesided, "[istft] Cannot have onesided output if window or input is complex");
    frames = fft_c2c(x, {2}, norm, false);
  } else {
    TD_CHECK_ARG(!window.defined() || !is_complex(window.dtype()), "[istft] Complex windows are incompatible with "
                 "return_complex=False");
    if (!onesided) x = x.narrow(-1, 0, n_fft / 2 + 1);
    frames = fft_c2r(x, {2}, norm, n_fft);
  }
  Tensor y = overlap_add(frames.mul(w), hop, expected_len);            // [batch, expected_len]
  Tensor envelope = overlap_add(w.mul(w).expand({1, n_frames, n_fft}), hop, expected_len);
  const int64_t start = center ? n_fft / 2 : 0;
  int64_t end = a.is_none(8) ? (center ? expected_len - n_fft / 2 : expected_len) : start + a.int_at(8);
  const int64_t kept = std::min(end, expected_len) - start;
  TD_CHECK_ARG(kept >= 0, "[istft] the signal is shorter than the trimmed padding");
  y = y.narrow(1, start, kept);
  envelope = envelope.narrow(1, start, kept);
  TD_CHECK_ARG(kept == 0 || envelope.abs().min().item<double>() >= 1e-11, "[istft] window overlap add min: ",
               envelope.abs().min().item<double>(), " (the window and hop_length do not satisfy the NOLA condition)");
  y = y.div(envelope.to(y.dtype()));
  if (end > expected_len) y = y.pad({0, end - expected_len});
  return batched ? y : y.squeeze(0);
}

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

}  // namespace

void register_fft_ops(Registry& r) {
  // ---- the primitives ----
  r.def("_fft_c2c(Tensor self, int[] dim, int normalization, bool forward) -> Tensor")
      .doc("the complex-to-complex DFT over dim (normalization 0: none, 1: 1/sqrt(n), 2: 1/n)")
      .complex_autograd()
      .saves_inputs({})
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_primitive("_fft_c2c", x, true);
        return one(run_transform("_fft_c2c", FftKind::kC2C, a.bool_at(3), x,
                                 wrap_fft_dims("_fft_c2c", a.ints(1), x.dim()), a.int_at(2)));
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // The adjoint of a DFT is the opposite direction's, with the same scale.
        return {fft_c2c(c.grad(), c.args().ints(1), c.args().int_at(2), !c.args().bool_at(3))};
      });

  r.def("_fft_r2c(Tensor self, int[] dim, int normalization, bool onesided) -> Tensor")
      .doc("the DFT of a real tensor over dim: the last dim's n / 2 + 1 non-negative frequencies (onesided) or all")
      .complex_autograd()
      .saves_inputs({})
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_primitive("_fft_r2c", x, false);
        const Shape dims = wrap_fft_dims("_fft_r2c", a.ints(1), x.dim());
        TD_CHECK_ARG(!dims.empty(), "[_fft_r2c] must transform at least one axis");
        Tensor half = run_transform("_fft_r2c", FftKind::kR2C, true, x, dims, a.int_at(2));
        return one(a.bool_at(3) ? half : fill_conjugate_symmetry(half, dims, x.size(dims.back())));
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's fft_r2c_backward: the missing frequencies' gradient is zero, then the inverse c2c's real
        // part.
        const Shape dims =
            wrap_fft_dims("_fft_r2c", c.args().ints(1), static_cast<int64_t>(c.input_meta(0).sizes.size()));
        Tensor g = c.grad();
        const int64_t last = dims.back(), n = c.input_meta(0).sizes[static_cast<size_t>(last)];
        if (c.args().bool_at(3) && g.size(last) < n) {
          Shape pad = g.shape();
          pad[static_cast<size_t>(last)] = n - g.size(last);
          g = Tensor::cat({g, zeros(pad, {g.dtype(), g.device()})}, last);
        }
        return {fft_c2c(g, dims, c.args().int_at(2), false).real()};
      });

  r.def("_fft_c2r(Tensor self, int[] dim, int normalization, int last_dim_size) -> Tensor")
      .doc("the real inverse DFT over dim of a onesided spectrum; the last dim's output size is last_dim_size")
      .complex_autograd()
      .saves_inputs({})
      .forward([](const Args& a) {
        Tensor x = a.tensor(0);
        check_primitive("_fft_c2r", x, true);
        const Shape dims = wrap_fft_dims("_fft_c2r", a.ints(1), x.dim());
        TD_CHECK_ARG(!dims.empty(), "[_fft_c2r] must transform at least one axis");
        const int64_t n = a.int_at(3), last = dims.back();
        check_points("_fft_c2r", n);
        TD_CHECK_ARG(x.size(last) >= n / 2 + 1, "[_fft_c2r] last_dim_size ", n, " needs ", n / 2 + 1,
                     " values in dim ", last, ", but self of shape ", shape_str(x.shape()), " has ", x.size(last));
        x = x.narrow(last, 0, n / 2 + 1);
        return one(run_transform("_fft_c2r", FftKind::kC2R, false, x, dims, a.int_at(2), n));
      })
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // PyTorch's fft_c2r_backward: the onesided r2c of the gradient, with the frequencies that stand for
        // two (their mirror images were dropped) counted twice.
        const Shape dims =
            wrap_fft_dims("_fft_c2r", c.args().ints(1), static_cast<int64_t>(c.input_meta(0).sizes.size()));
        const int64_t last = dims.back();
        Tensor gi = fft_r2c(c.grad(), dims, c.args().int_at(2), true);
        const int64_t twice = c.grad().size(last) - gi.size(last);
        if (twice > 0) {
          gi = Tensor::cat({gi.narrow(last, 0, 1), gi.narrow(last, 1, twice).mul(Scalar(2.0)),
                            gi.narrow(last, 1 + twice, gi.size(last) - 1 - twice)},
                           last);
        }
        const int64_t have = c.input_meta(0).sizes[static_cast<size_t>(last)];
        if (have > gi.size(last)) {  // values past n / 2 + 1 were not read
          Shape pad = gi.shape();
          pad[static_cast<size_t>(last)] = have - gi.size(last);
          gi = Tensor::cat({gi, zeros(pad, {gi.dtype(), gi.device()})}, last);
        }
        return {gi};
      });

  // ---- torch.fft ----
  const std::string one_d = "(Tensor self, int? n=None, int dim=-1, str? norm=None) -> Tensor";
  r.def("fft_fft" + one_d)
      .doc("the 1-d DFT along dim (torch.fft.fft), of n points when given (cut or zero-padded)")
      .composite()
      .forward([](const Args& a) {
        return one(is_complex(a.tensor(0).dtype()) ? c2c_1d("fft_fft", a, true) : r2c_1d("fft_fft", a, true, false));
      });
  r.def("fft_ifft" + one_d)
      .doc("the 1-d inverse DFT along dim (torch.fft.ifft)")
      .composite()
      .forward([](const Args& a) {
        return one(is_complex(a.tensor(0).dtype()) ? c2c_1d("fft_ifft", a, false)
                                                    : r2c_1d("fft_ifft", a, false, false));
      });
  r.def("fft_rfft" + one_d)
      .doc("the 1-d DFT of a real signal: its n / 2 + 1 non-negative frequencies (torch.fft.rfft)")
      .composite()
      .forward([](const Args& a) { return one(r2c_1d("fft_rfft", a, true, true)); });
  r.def("fft_irfft" + one_d)
      .doc("the inverse of rfft: a real signal of n points (2 (size - 1) by default) (torch.fft.irfft)")
      .composite()
      .forward([](const Args& a) { return one(c2r_1d("fft_irfft", a, false)); });
  r.def("fft_hfft" + one_d)
      .doc("the DFT of a Hermitian-symmetric signal given by its first half: a real result (torch.fft.hfft)")
      .composite()
      .forward([](const Args& a) { return one(c2r_1d("fft_hfft", a, true)); });
  r.def("fft_ihfft" + one_d)
      .doc("the inverse of hfft: the onesided inverse DFT of a real signal (torch.fft.ihfft)")
      .composite()
      .forward([](const Args& a) { return one(r2c_1d("fft_ihfft", a, false, true)); });

  struct NdForm {
    const char* name;
    Tensor (*fn)(std::string_view, const Args&);
    const char* doc;
  };
  const NdForm nd_forms[] = {
      {"fft", [](std::string_view op, const Args& a) { return c2c_nd(op, a, true); }, "DFT"},
      {"ifft", [](std::string_view op, const Args& a) { return c2c_nd(op, a, false); }, "inverse DFT"},
      {"rfft", rfftn, "DFT of a real signal, onesided in the last dim"},
      {"irfft", irfftn, "inverse of rfft, a real signal"},
      {"hfft", hfftn, "DFT of a Hermitian-symmetric signal given by its half in the last dim"},
      {"ihfft", ihfftn, "inverse of hfft"},
  };
  for (const NdForm& f : nd_forms) {
    for (bool two : {true, false}) {
      const std::string name = std::string("fft_") + f.name + (two ? "2" : "n");
      const std::string dim = two ? "int[1] dim=[-2,-1]" : "int[1]? dim=None";
      r.def(name + "(Tensor self, int[1]? s=None, " + dim + ", str? norm=None) -> Tensor")
          .doc(std::string("the ") + (two ? "2-d" : "n-d") + " " + f.doc + " over dim (torch.fft." + f.name +
               (two ? "2" : "n") + ")")
          .composite()
          .forward([fn = f.fn, name](const Args& a) { return one(fn(name, a)); });
    }
  }

  r.def(
       "stft(Tensor self, int n_fft, int? hop_length=None, int? win_length=None, Tensor? window=None, bool "
       "center=True, str pad_mode=\"reflect\", bool normalized=False, bool? onesided=None, bool? "
       "return_complex=None) "
       "-> Tensor")
      .doc(
          "the short-time Fourier transform (torch.stft): the DFTs of windowed frames of n_fft points every "
          "hop_length "
          "(n_fft / 4), [freq, frames] per signal; center pads n_fft / 2 on both sides with pad_mode")
      .composite()
      .forward([](const Args& a) { return one(stft(a)); });
  r.def("istft(Tensor self, int n_fft, int? hop_length=None, int? win_length=None, Tensor? window=None, bool "
        "center=True, bool normalized=False, bool? onesided=None, int? length=None, bool return_complex=False) -> "
        "Tensor")
      .doc("the inverse short-time Fourier transform (torch.istft): inverse DFTs of the frames, windowed, "
           "overlap-added and divided by the window's squared envelope")
      .composite()
      .forward([](const Args& a) { return one(istft(a)); });

  r.def("fft_fftfreq(int n, float d=1.0, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("the sample frequencies of an n-point DFT with sample spacing d (torch.fft.fftfreq)")
      .no_grad()
      .forward([](const Args& a) { return one(frequencies("fft_fftfreq", a, false)); });
  r.def("fft_rfftfreq(int n, float d=1.0, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("the n / 2 + 1 non-negative sample frequencies of an n-point rfft (torch.fft.rfftfreq)")
      .no_grad()
      .forward([](const Args& a) { return one(frequencies("fft_rfftfreq", a, true)); });
  r.def("fft_fftshift(Tensor self, int[1]? dim=None) -> Tensor")
      .doc("self rolled so that frequency 0 is in the middle of each dim (all by default) (torch.fft.fftshift)")
      .composite()
      .forward([](const Args& a) { return one(shift(a, false)); });
  r.def("fft_ifftshift(Tensor self, int[1]? dim=None) -> Tensor")
      .doc("the inverse of fftshift (torch.fft.ifftshift)")
      .composite()
      .forward([](const Args& a) { return one(shift(a, true)); });
}

Tensor fft::fftfreq(int64_t n, double d, TensorOptions options) {
  Tensor t = call_op("fft_fftfreq", {Scalar(n), Scalar(d), options.dtype, options.device.str()})[0];
  return options.requires_grad ? t.requires_grad_() : t;
}

Tensor fft::rfftfreq(int64_t n, double d, TensorOptions options) {
  Tensor t = call_op("fft_rfftfreq", {Scalar(n), Scalar(d), options.dtype, options.device.str()})[0];
  return options.requires_grad ? t.requires_grad_() : t;
}

}  // namespace td
