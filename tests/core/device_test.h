// One test body per device (STYLE.md): TD_DEVICE_TEST(Suite, Name) runs on "cpu" and "cuda:0",
// skipping CUDA when no device is present.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/autograd/gradcheck.h"
#include "core/backend.h"
#include "core/tensor.h"

namespace td::testing {

class DeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    device_ = Device::parse(GetParam());
    if (device_.is_cuda() && !backend(DeviceType::kCUDA).is_available()) GTEST_SKIP() << "no CUDA device";
  }
  /// A float tensor on the test's device.
  Tensor make(const std::vector<float>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_);
  }
  Tensor make64(const std::vector<double>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_);
  }
  /// An int64 tensor (indices) on the test's device.
  Tensor idx(const std::vector<int64_t>& v, std::vector<int64_t> shape) const {
    return tensor(v, std::move(shape), device_);
  }
  /// 0, 1, ..., n - 1 as float32 in `shape`.
  Tensor arange(int64_t n, std::vector<int64_t> shape) const {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
    return make(v, std::move(shape));
  }
  /// A float64 finite-difference check of fn's gradients at `inputs`, and of its second derivatives unless
  /// second_order is false; a failure names the case.
  void expect_gradcheck(const std::string& name, const autograd::GradcheckFn& fn, const std::vector<Tensor>& inputs,
                        bool second_order = true) {
    auto r = autograd::gradcheck(fn, inputs);
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
    if (!second_order) return;
    auto rr = autograd::gradgradcheck(fn, inputs);
    EXPECT_TRUE(rr.ok) << name << " (second order): " << rr.message;
  }
  Device device_;
};

inline std::string device_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "cpu" ? "cpu" : "cuda";
}

}  // namespace td::testing

#define TD_DEVICE_TEST(Suite, Name) TEST_P(Suite, Name)
#define TD_INSTANTIATE_DEVICES(Suite)                                                                   \
  INSTANTIATE_TEST_SUITE_P(Devices, Suite, ::testing::Values(std::string("cpu"), std::string("cuda:0")), \
                           ::td::testing::device_name)
