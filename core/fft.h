// torch.fft for C++: free functions with PyTorch's names, argument order and defaults, each a call of one
// registry op (core/ops/fft.cpp: fft_fft, fft_rfft2, ...). They are templates over the tensor type, so the
// same call runs in-process on a td::Tensor and on the server for a td::remote::Tensor.
//
//   td::Tensor spectrum = td::fft::rfft(signal);                 // torch.fft.rfft(signal)
//   auto image = td::fft::irfft2(spectrum2d, td::fft::Dims{28, 28}, {-2, -1}, "ortho");
//
// `norm` is PyTorch's: "backward" (the default: the inverse transforms scale by 1/n), "forward" (the
// forward ones do) or "ortho" (both by 1/sqrt(n)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "core/value.h"

namespace td::fft {

using Dims = std::vector<int64_t>;
using Norm = std::optional<std::string>;

namespace detail {
template <class T>
BasicValue<T> maybe(const std::optional<int64_t>& v) {
  if (!v) return None{};
  return Scalar(*v);
}
template <class T>
BasicValue<T> maybe(const std::optional<Dims>& v) {
  if (!v) return None{};
  return *v;
}
template <class T>
BasicValue<T> maybe(const Norm& v) {
  if (!v) return None{};
  return *v;
}
template <class T>
T one_d(std::string_view op, const T& x, std::optional<int64_t> n, int64_t dim, const Norm& norm) {
  return x.invoke_op(op, {x, maybe<T>(n), Scalar(dim), maybe<T>(norm)});
}
template <class T>
T n_d(std::string_view op, const T& x, const std::optional<Dims>& s, const std::optional<Dims>& dim,
      const Norm& norm) {
  return x.invoke_op(op, {x, maybe<T>(s), maybe<T>(dim), maybe<T>(norm)});
}
}  // namespace detail

// ---- 1-d: along dim, of n points when given (the input cut or zero-padded at the end) ----

/// The discrete Fourier transform (torch.fft.fft); a real input gives the whole (Hermitian) spectrum.
template <class T>
T fft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_fft", input, n, dim, norm);
}
/// The inverse transform (torch.fft.ifft).
template <class T>
T ifft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_ifft", input, n, dim, norm);
}
/// The transform of a real signal: its n / 2 + 1 non-negative frequencies (torch.fft.rfft).
template <class T>
T rfft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_rfft", input, n, dim, norm);
}
/// The inverse of rfft: a real signal of n points, 2 (size - 1) by default (torch.fft.irfft).
template <class T>
T irfft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_irfft", input, n, dim, norm);
}
/// The transform of a Hermitian-symmetric signal given by its first half: a real result (torch.fft.hfft).
template <class T>
T hfft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_hfft", input, n, dim, norm);
}
/// The inverse of hfft: the onesided inverse transform of a real signal (torch.fft.ihfft).
template <class T>
T ihfft(const T& input, std::optional<int64_t> n = std::nullopt, int64_t dim = -1, const Norm& norm = std::nullopt) {
  return detail::one_d("fft_ihfft", input, n, dim, norm);
}

// ---- 2-d (dim defaults to the last two) and n-d (to all, or the last len(s)): s the signal sizes ----

#define TD_FFT_ND(name)                                                                                 \
  template <class T>                                                                                    \
  T name##2(const T& input, const std::optional<Dims>& s = std::nullopt, const Dims& dim = {-2, -1},    \
            const Norm& norm = std::nullopt) {                                                          \
    return detail::n_d("fft_" #name "2", input, s, dim, norm);                                          \
  }                                                                                                     \
  template <class T>                                                                                    \
  T name##n(const T& input, const std::optional<Dims>& s = std::nullopt,                                \
            const std::optional<Dims>& dim = std::nullopt, const Norm& norm = std::nullopt) {           \
    return detail::n_d("fft_" #name "n", input, s, dim, norm);                                          \
  }
/// fft2/fftn, ifft2/ifftn, rfft2/rfftn (onesided in the last of dim), irfft2/irfftn, hfft2/hfftn and
/// ihfft2/ihfftn (torch.fft's).
TD_FFT_ND(fft)
TD_FFT_ND(ifft)
TD_FFT_ND(rfft)
TD_FFT_ND(irfft)
TD_FFT_ND(hfft)
TD_FFT_ND(ihfft)
#undef TD_FFT_ND

// ---- helpers ----

/// input rolled so that frequency 0 is in the middle of each of dim (all by default) (torch.fft.fftshift).
template <class T>
T fftshift(const T& input, const std::optional<Dims>& dim = std::nullopt) {
  return input.invoke_op("fft_fftshift", {input, detail::maybe<T>(dim)});
}
/// The inverse of fftshift (torch.fft.ifftshift).
template <class T>
T ifftshift(const T& input, const std::optional<Dims>& dim = std::nullopt) {
  return input.invoke_op("fft_ifftshift", {input, detail::maybe<T>(dim)});
}

/// The sample frequencies of an n-point transform with sample spacing d: 0, 1, ..., -(n / 2), ..., -1,
/// divided by n d (torch.fft.fftfreq); the default float dtype unless options say otherwise. Remotely:
/// `session.op("fft_fftfreq", {n, d})`.
Tensor fftfreq(int64_t n, double d = 1.0, TensorOptions options = {});
/// The n / 2 + 1 non-negative ones, for rfft (torch.fft.rfftfreq).
Tensor rfftfreq(int64_t n, double d = 1.0, TensorOptions options = {});

}  // namespace td::fft

namespace td {

/// The short-time Fourier transform (torch.stft): DFTs of frames of n_fft points every hop_length (n_fft / 4 by
/// default), each multiplied by window (of win_length, zero-padded to n_fft; ones when undefined), as [freq,
/// frames] per signal. return_complex must be given for a real input (PyTorch 1.13's rule); false gives the
/// (real, imaginary) pairs in a last dim of 2.
template <class T>
T stft(const T& input, int64_t n_fft, std::optional<int64_t> hop_length = std::nullopt,
       std::optional<int64_t> win_length = std::nullopt, const T& window = T(), bool center = true,
       const std::string& pad_mode = "reflect", bool normalized = false, std::optional<bool> onesided = std::nullopt,
       std::optional<bool> return_complex = std::nullopt) {
  using V = BasicValue<T>;
  auto flag = [](std::optional<bool> b) { return b ? V(Scalar(*b)) : V(None{}); };
  return input.invoke_op(
      "stft", {input, Scalar(n_fft), fft::detail::maybe<T>(hop_length), fft::detail::maybe<T>(win_length),
               window.defined() ? V(window) : V(None{}), Scalar(center), pad_mode, Scalar(normalized),
               flag(onesided), flag(return_complex)});
}

/// The inverse short-time Fourier transform (torch.istft): the frames' inverse DFTs, windowed, overlap-added and
/// divided by the squared window's envelope (which must not vanish: the NOLA condition); length cuts or pads.
template <class T>
T istft(const T& input, int64_t n_fft, std::optional<int64_t> hop_length = std::nullopt,
        std::optional<int64_t> win_length = std::nullopt, const T& window = T(), bool center = true,
        bool normalized = false, std::optional<bool> onesided = std::nullopt,
        std::optional<int64_t> length = std::nullopt, bool return_complex = false) {
  using V = BasicValue<T>;
  return input.invoke_op(
      "istft",
      {input, Scalar(n_fft), fft::detail::maybe<T>(hop_length), fft::detail::maybe<T>(win_length),
       window.defined() ? V(window) : V(None{}), Scalar(center), Scalar(normalized),
       onesided ? V(Scalar(*onesided)) : V(None{}), fft::detail::maybe<T>(length), Scalar(return_complex)});
}

}  // namespace td
