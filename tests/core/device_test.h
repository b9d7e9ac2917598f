// One test body per device (STYLE.md): TD_DEVICE_TEST(Suite, Name) runs on "cpu" and "cuda:0",
// skipping CUDA when no device is present.
#pragma once

#include <gtest/gtest.h>

#include <string>

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
