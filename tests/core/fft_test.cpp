// torch.fft beyond the PyTorch fixtures (tests/golden/fft.json): float64 finite-difference checks of first
// and second derivatives (and forward mode) of every transform, a direct O(n^2) DFT as the reference for
// long, prime and threaded transforms, round trips, the plan cache (inputs of another alignment, threads
// transforming at once) and the errors, each naming the op and the argument.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/tensor.h"
#include "core/tensor_impl.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using c128 = std::complex<double>;
using Inputs = std::vector<Tensor>;
using testing::error_of;
using ::testing::HasSubstr;

class FftTest : public testing::DeviceTest {
 protected:
  /// Distinct complex128 values, both parts non-zero.
  Tensor zinput(std::vector<int64_t> shape, bool requires_grad = true) const {
    std::vector<c128> v(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < v.size(); ++i) {
      const double k = static_cast<double>(i);
      v[i] = {std::sin(1.3 * k + 0.2), std::cos(0.7 * k - 0.4)};
    }
    Tensor t = tensor(v, std::move(shape), device_);
    return requires_grad ? t.requires_grad_() : t;
  }
  Tensor xinput(std::vector<int64_t> shape, bool requires_grad = true) const {
    std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.9 * static_cast<double>(i) + 0.3);
    Tensor t = make64(v, std::move(shape));
    return requires_grad ? t.requires_grad_() : t;
  }
  /// The DFT of each row of a complex128 [rows, n] tensor by its definition, on the host.
  static std::vector<c128> direct_dft(const Tensor& x, bool forward) {
    auto v = x.to("cpu").to(DType::kComplex128).contiguous().to_vector<c128>();
    const int64_t n = x.size(-1), rows = x.numel() / n;
    std::vector<c128> out(v.size());
    const double sign = forward ? -1 : 1;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < n; ++k) {
        c128 sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double angle = sign * 2 * std::numbers::pi * static_cast<double>((j * k) % n) / static_cast<double>(n);
          sum += v[static_cast<size_t>(r * n + j)] * c128(std::cos(angle), std::sin(angle));
        }
        out[static_cast<size_t>(r * n + k)] = sum;
      }
    }
    return out;
  }
  static void expect_near(const Tensor& got, const std::vector<c128>& want, double tol) {
    auto g = got.to("cpu").to(DType::kComplex128).contiguous().to_vector<c128>();
    ASSERT_EQ(g.size(), want.size());
    int bad = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      if (std::abs(g[i] - want[i]) > tol * (1 + std::abs(want[i])) && bad++ < 3) {
        ADD_FAILURE() << "element " << i << ": " << g[i] << ", want " << want[i];
      }
    }
    EXPECT_EQ(bad, 0);
  }
};

// ---- gradients: float64 central differences, first and second order ----

TD_DEVICE_TEST(FftTest, ComplexTransformsPassGradcheck) {
  expect_gradcheck("fft", [](const Inputs& v) { return fft::fft(v[0]); }, {zinput({2, 5})});
  expect_gradcheck("ifft n=7 ortho", [](const Inputs& v) { return fft::ifft(v[0], 7, 0, "ortho"); }, {zinput({4, 2})});
  expect_gradcheck("fft2 forward", [](const Inputs& v) { return fft::fft2(v[0], std::nullopt, {0, 1}, "forward"); },
                   {zinput({3, 4})});
  expect_gradcheck("fftn s", [](const Inputs& v) { return fft::fftn(v[0], fft::Dims{2, 5}); }, {zinput({2, 3, 4})});
  expect_gradcheck("fft transposed", [](const Inputs& v) { return fft::fft(v[0].t()); }, {zinput({4, 3})});
}

TD_DEVICE_TEST(FftTest, RealToComplexTransformsPassGradcheck) {
  for (int64_t n : {6, 7}) {
    const std::string tag = " n=" + std::to_string(n);
    expect_gradcheck("rfft" + tag, [](const Inputs& v) { return fft::rfft(v[0]); }, {xinput({2, n})});
    expect_gradcheck("fft of real" + tag, [](const Inputs& v) { return fft::fft(v[0]); }, {xinput({2, n})});
    expect_gradcheck("ihfft" + tag, [](const Inputs& v) { return fft::ihfft(v[0], std::nullopt, -1, "ortho"); },
                     {xinput({2, n})});
  }
  expect_gradcheck("rfft2", [](const Inputs& v) { return fft::rfft2(v[0]); }, {xinput({3, 5})});
  expect_gradcheck("rfftn dims", [](const Inputs& v) { return fft::rfftn(v[0], std::nullopt, fft::Dims{2, 0}); },
                   {xinput({4, 2, 3})});
  expect_gradcheck("ihfftn", [](const Inputs& v) { return fft::ihfftn(v[0]); }, {xinput({3, 4})});
  expect_gradcheck("fftn of real", [](const Inputs& v) { return fft::fftn(v[0]); }, {xinput({3, 4})});
}

TD_DEVICE_TEST(FftTest, ComplexToRealTransformsPassGradcheck) {
  // c2r reads only the real part of the zero (and, for even n, the Nyquist) frequency: its derivative
  // along their imaginary parts is 0, which the central differences see too.
  for (int64_t n : {6, 7}) {
    const std::string tag = " n=" + std::to_string(n);
    expect_gradcheck("irfft" + tag, [n](const Inputs& v) { return fft::irfft(v[0], n); }, {zinput({2, n / 2 + 1})});
    expect_gradcheck("hfft" + tag, [n](const Inputs& v) { return fft::hfft(v[0], n, -1, "forward"); },
                     {zinput({2, n / 2 + 1})});
  }
  expect_gradcheck("irfft pads", [](const Inputs& v) { return fft::irfft(v[0], 10); }, {zinput({2, 3})});
  expect_gradcheck("hfftn", [](const Inputs& v) { return fft::hfftn(v[0], fft::Dims{3, 4}); }, {zinput({3, 3})});
}

// ---- values against the definition ----

TD_DEVICE_TEST(FftTest, LongAndPrimeLengthsMatchTheDefinition) {
  // 1009 is prime (FFTW and cuFFT take other algorithms than for powers of two), 4096 is one, and
  // 32 x 4096 is past the size from which the CPU plans use threads.
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{2, 1009}, {3, 4096}, {32, 4096}}) {
    Tensor x = zinput({rows, n}, false);
    expect_near(fft::fft(x), direct_dft(x, true), 1e-9);
    Tensor back = fft::ifft(fft::fft(x));
    expect_near(back, x.to("cpu").to_vector<c128>(), 1e-12);
  }
}

TD_DEVICE_TEST(FftTest, SinglePrecisionMatchesTheDefinition) {
  Tensor x = zinput({4, 360}, false).to(DType::kComplex64);
  Tensor y = fft::fft(x);
  EXPECT_EQ(y.dtype(), DType::kComplex64);
  expect_near(y, direct_dft(x, true), 2e-5);
  Tensor r = xinput({3, 250}, false).to(DType::kFloat32);
  Tensor half = fft::rfft(r);
  EXPECT_EQ(half.dtype(), DType::kComplex64);
  EXPECT_EQ(half.shape(), (std::vector<int64_t>{3, 126}));
  // The first 126 frequencies of each row of the whole spectrum.
  auto full = direct_dft(r.to(DType::kComplex64), true);
  std::vector<c128> want;
  for (size_t row = 0; row < 3; ++row)
    want.insert(want.end(), full.begin() + 250 * row, full.begin() + 250 * row + 126);
  expect_near(half, want, 2e-5);
}

TD_DEVICE_TEST(FftTest, RealRoundTripsRecoverTheSignal) {
  for (int64_t n : {16, 15}) {
    Tensor x = xinput({3, n}, false);
    Tensor back = fft::irfft(fft::rfft(x), n);
    EXPECT_TRUE(back.allclose(x, 0, 1e-12).item<bool>()) << n;
    Tensor back2 = fft::hfft(fft::ihfft(x), n);
    EXPECT_TRUE(back2.allclose(x, 0, 1e-12).item<bool>()) << n;
    Tensor image = xinput({4, n}, false);
    EXPECT_TRUE(fft::irfft2(fft::rfft2(image), fft::Dims{4, n}).allclose(image, 0, 1e-12).item<bool>()) << n;
  }
}

TD_DEVICE_TEST(FftTest, ParsevalHoldsUnderOrthoNormalization) {
  Tensor x = zinput({5, 64}, false);
  Tensor y = fft::fft(x, std::nullopt, -1, "ortho");
  EXPECT_NEAR(y.abs().pow(2).sum().item<double>(), x.abs().pow(2).sum().item<double>(), 1e-10);
}

TD_DEVICE_TEST(FftTest, InputsOfAnyAlignmentAndLayout) {
  // A plan is cached per alignment of the arrays: views starting 1, 2 and 3 elements into one buffer
  // (8, 16 and 24 bytes for complex64) each get a plan of their own, and all agree with the definition.
  Tensor base = zinput({1, 4 * 64 + 3}, false).to(DType::kComplex64);
  for (int64_t offset : {0, 1, 2, 3}) {
    Tensor x = base.narrow(1, offset, 4 * 64).reshape({4, 64});
    expect_near(fft::fft(x), direct_dft(x, true), 2e-5);
  }
  // Expanded (stride 0) and transposed inputs.
  Tensor row = zinput({1, 32}, false);
  Tensor expanded = row.expand({3, 32});
  expect_near(fft::fft(expanded), direct_dft(expanded.contiguous(), true), 1e-10);
  Tensor t = zinput({32, 3}, false).t();
  expect_near(fft::fft(t), direct_dft(t.contiguous(), true), 1e-10);
}

TD_DEVICE_TEST(FftTest, FourDimsAndMisalignedRealInputs) {
  // Transforms over more signal dims than one library plan takes (cuFFT's three) equal the one-dimensional
  // transforms composed; irfftn of an input that is not Hermitian is the inverse C2C over the other dims
  // followed by one-dimensional C2R lines, on every device.
  Tensor z = zinput({2, 3, 4, 5}, false), x = xinput({2, 3, 4, 6}, false);
  Tensor z1 = fft::fft(fft::fft(fft::fft(fft::fft(z, std::nullopt, 0), std::nullopt, 1), std::nullopt, 2),
                       std::nullopt, 3);
  expect_near(fft::fftn(z), z1.to("cpu").to_vector<c128>(), 1e-10);
  Tensor r1 = fft::fft(fft::fft(fft::fft(fft::rfft(x, std::nullopt, 3), std::nullopt, 0), std::nullopt, 1),
                       std::nullopt, 2);
  expect_near(fft::rfftn(x), r1.to("cpu").to_vector<c128>(), 1e-10);
  Tensor i1 = fft::irfft(fft::ifft(fft::ifft(fft::ifft(z, std::nullopt, 0), std::nullopt, 1), std::nullopt, 2), 8, 3);
  Tensor in = fft::irfftn(z, std::vector<int64_t>{2, 3, 4, 8});
  expect_near(in, i1.to("cpu").to(DType::kComplex128).to_vector<c128>(), 1e-10);
  // A float32 view starting one element (4 bytes) into its buffer: not aligned as a complex64.
  Tensor base = xinput({1, 3 * 5 + 1}, false).to(DType::kFloat32);
  Tensor odd = base.narrow(1, 1, 3 * 5).reshape({3, 5});
  std::vector<c128> full = direct_dft(odd.to(DType::kComplex128), true), want;
  for (size_t i = 0; i < full.size(); ++i) {
    if (i % 5 < 3) want.push_back(full[i]);
  }
  expect_near(fft::rfft(odd), want, 2e-5);
}

TD_DEVICE_TEST(FftTest, ThreadsTransformAtOnce) {
  // Plans are made under one lock and shared: four threads, each with sizes of its own and sizes shared
  // with the others, get the single-threaded results.
  std::vector<Tensor> inputs, expected;
  for (int64_t n : {60, 64, 100, 128, 243, 60}) {
    inputs.push_back(zinput({8, n}, false));
    expected.push_back(fft::fft(inputs.back()));
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const size_t i = static_cast<size_t>(t + round) % inputs.size();
        if (!fft::fft(inputs[i]).equal(expected[i]).item<bool>()) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

TD_DEVICE_TEST(FftTest, EmptyBatchesGiveEmptyResults) {
  Tensor x = zinput({0, 8}, false);
  EXPECT_EQ(fft::fft(x).shape(), (std::vector<int64_t>{0, 8}));
  EXPECT_EQ(fft::rfft(xinput({0, 8}, false)).shape(), (std::vector<int64_t>{0, 5}));
}

TD_DEVICE_TEST(FftTest, FrequenciesAndShifts) {
  TensorOptions o{DType::kFloat64, device_};
  EXPECT_EQ(fft::fftfreq(5, 1.0, o).to_vector<double>(), (std::vector<double>{0, 0.2, 0.4, -0.4, -0.2}));
  EXPECT_EQ(fft::rfftfreq(6, 0.5, o).to_vector<double>(), (std::vector<double>{0, 1.0 / 3, 2.0 / 3, 1}));
  EXPECT_EQ(fft::fftfreq(4).dtype(), DType::kFloat32);
  Tensor x = tensor(std::vector<int64_t>{0, 1, 2, 3, 4}, {5}, device_);
  EXPECT_EQ(fft::fftshift(x).to_vector<int64_t>(), (std::vector<int64_t>{3, 4, 0, 1, 2}));
  EXPECT_EQ(fft::ifftshift(fft::fftshift(x)).to_vector<int64_t>(), x.to_vector<int64_t>());
}

TD_DEVICE_TEST(FftTest, StftRoundTripsAndChecksTheWindow) {
  // A Hann window at a quarter hop overlaps enough (NOLA): istft(stft(x)) gives x back, the default and the
  // given lengths.
  std::vector<double> hann(32);
  for (size_t i = 0; i < hann.size(); ++i)
    hann[i] = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(i) / 32);
  Tensor w = make64(hann, {32});
  Tensor x = xinput({2, 200}, false);
  Tensor spec = stft(x, 32, 8, std::nullopt, w, true, "reflect", false, std::nullopt, true);
  EXPECT_EQ(spec.shape(), (std::vector<int64_t>{2, 17, 26}));
  Tensor back = istft(spec, 32, 8, std::nullopt, w, true, false, std::nullopt, 200);
  EXPECT_TRUE(back.allclose(x, 0, 1e-12).item<bool>());
  expect_gradcheck("stft", [&w](const Inputs& v) {
    return stft(v[0], 8, 2, std::nullopt, w.narrow(0, 0, 8), true, "reflect", false, std::nullopt, true);
  }, {xinput({20})});
  // A window that is 1 on 2 of every 4 samples' hop leaves gaps: the envelope vanishes (NOLA fails).
  Tensor gappy = make64({1, 1, 0, 0, 0, 0, 0, 0}, {8});
  EXPECT_THAT(error_of([&] {
                istft(stft(x, 8, 4, std::nullopt, gappy, false, "reflect", false, std::nullopt, true), 8, 4,
                      std::nullopt, gappy, false);
              }).what(),
              HasSubstr("[istft] window overlap add min: 0"));
  EXPECT_THAT(error_of([&] { istft(spec, 32, 40, std::nullopt, w); }).what(),
              HasSubstr("[istft] expected 0 < hop_length <= win_length"));
  EXPECT_THAT(error_of([&] { stft(x, 32); }).what(),
              HasSubstr("[stft] stft requires the return_complex parameter be given for real inputs"));
  EXPECT_THAT(
      error_of([&] {
        stft(x, 32, 8, std::nullopt, make64({1, 2}, {2}), true, "reflect", false, std::nullopt, true);
      }).what(),
      HasSubstr(
          "[stft] expected a 1D window tensor of size equal to win_length=32, but got window with size [2]"));
}

// ---- errors ----

TD_DEVICE_TEST(FftTest, BadArgumentsAreNamed) {
  Tensor z = zinput({2, 4}, false), x = xinput({2, 4}, false);
  EXPECT_THAT(error_of([&] { fft::fft(z, 0); }).what(),
              HasSubstr("[fft_fft] Invalid number of data points (0) specified"));
  EXPECT_THAT(error_of([&] { fft::fft(z, std::nullopt, -1, "sideways"); }).what(),
              HasSubstr("[fft_fft] Invalid normalization mode: \"sideways\""));
  EXPECT_THAT(error_of([&] { fft::rfft(z); }).what(), HasSubstr("[fft_rfft] rfft expects a real input tensor, but got "
                                                         "ComplexDouble"));
  EXPECT_THAT(error_of([&] { fft::rfft2(z); }).what(),
              HasSubstr("[fft_rfft2] rfft2 expects a real-valued input tensor"));
  EXPECT_THAT(error_of([&] { fft::fft(z, std::nullopt, 2); }).what(), HasSubstr("[fft_fft]"));
  EXPECT_THAT(error_of([&] { fft::fftn(z, fft::Dims{2}, fft::Dims{0, 1}); }).what(),
              HasSubstr("[fft_fftn] When given, dim and shape arguments must have the same length"));
  EXPECT_THAT(error_of([&] { fft::fftn(z, std::nullopt, fft::Dims{1, -1}); }).what(),
              HasSubstr("[fft_fftn] FFT dims must be unique"));
  EXPECT_THAT(error_of([&] { fft::fftn(z, fft::Dims{2, 2, 2}); }).what(),
              HasSubstr("[fft_fftn] Got shape with 3 values but input tensor only has 2 dimensions."));
  EXPECT_THAT(error_of([&] { fft::rfftn(x, std::nullopt, fft::Dims{}); }).what(),
              HasSubstr("[fft_rfftn] rfftn must transform at least one axis"));
  EXPECT_THAT(error_of([&] { fft::irfft(zinput({1}, false)); }).what(),
              HasSubstr("[fft_irfft] Invalid number of data points (0) specified"));
  EXPECT_THAT(error_of([&] { fft::fft(x.to(DType::kFloat16)); }).what(), HasSubstr("[fft_fft] Unsupported dtype Half"));
  EXPECT_THAT(error_of([&] { fft::fft(zinput({}, false)); }).what(),
              HasSubstr("[fft_fft] Dimension specified as -1 but tensor has no dimensions"));
  EXPECT_THAT(error_of([&] { fft::fftfreq(4, 1.0, {DType::kInt64, device_}); }).what(),
              HasSubstr("[fft_fftfreq] fftfreq requires a floating point or complex dtype, but got Long"));
  EXPECT_THAT(error_of([&] { call_op("_fft_c2c", {x, fft::Dims{1}, Scalar(0), Scalar(true)}); }).what(),
              HasSubstr("[_fft_c2c] expects a complex64 or complex128 input, but got Double"));
  // An empty transform dim (the fuzzer's find: it divided by zero in the kernel).
  EXPECT_THAT(error_of([&] {
                call_op("_fft_r2c", {xinput({2, 0}, false), fft::Dims{1}, Scalar(0), Scalar(true)});
              }).what(),
              HasSubstr("[_fft_r2c] Invalid number of data points (0) specified"));
  EXPECT_THAT(error_of([&] { call_op("_fft_c2r", {z, fft::Dims{1}, Scalar(0), Scalar(int64_t{9})}); }).what(),
              HasSubstr("[_fft_c2r] last_dim_size 9 needs 5 values in dim 1, but self of shape [2, 4] has 4"));
}

TD_INSTANTIATE_DEVICES(FftTest);

}  // namespace
}  // namespace td
