// td::save / td::load (core/serialize.h): a safetensors file written by PyTorch-side code
// (tests/golden/generate_safetensors.py) reads back with its values, every dtype round-trips, a module's
// state_dict restores another module, and malformed files are refused with the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/nn/conv.h"
#include "core/nn/modules.h"
#include "core/serialize.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;

std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

TEST(SafetensorsTest, ReadsAFileWrittenBesidePyTorch) {
  const std::string path = fixture_dir() + "/modules/reference.safetensors";
  NamedTensors t = load(path);
  std::vector<std::string> names;
  for (const auto& [name, value] : t) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("weight", "bias", "counts", "mask", "pixels", "half", "scalar", "empty"));
  const auto meta = load_metadata(path);
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(t[0].second.shape(), (std::vector<int64_t>{4, 1, 3, 3}));
  EXPECT_DOUBLE_EQ(t[0].second.to(DType::kFloat64).sum().item<double>(), std::stod(meta.at("weight_sum")));
  EXPECT_FLOAT_EQ(t[1].second.select(0, 0).item<float>(), static_cast<float>(std::stod(meta.at("bias_0"))));
  EXPECT_EQ(t[2].second.dtype(), DType::kInt64);
  EXPECT_EQ(t[2].second.sum().item<int64_t>(), 3);  // -2 + -1 + 0 + 1 + 2 + 3
  EXPECT_EQ(t[3].second.dtype(), DType::kBool);
  EXPECT_EQ(t[3].second.sum().item<int64_t>(), 2);
  EXPECT_EQ(t[4].second.to(DType::kInt64).sum().item<int64_t>(), 390);
  EXPECT_EQ(t[5].second.dtype(), DType::kFloat16);
  EXPECT_FLOAT_EQ(t[5].second.to(DType::kFloat32).select(0, 2).item<float>(), 65504.0f);
  EXPECT_EQ(t[6].second.dim(), 0);
  EXPECT_DOUBLE_EQ(t[6].second.item<double>(), 3.25);
  EXPECT_EQ(t[7].second.shape(), (std::vector<int64_t>{0, 4}));
  // The conv's state_dict loads into a tensord Conv2d of the same shape.
  nn::Conv2d conv(1, 4, 3);
  conv.load_state_dict({t[0], t[1]});
  EXPECT_TRUE(conv.weight.equal(t[0].second).item<bool>());
}

TEST(SafetensorsTest, RoundTripsEveryDtypeAndAModule) {
  const std::string path = temp_path("td_roundtrip.safetensors");
  NamedTensors in;
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto dt = static_cast<DType>(i);
    in.emplace_back(std::string(dtype_name(dt)), tensor(std::vector<double>{1, 0, 3, 5, 0, 2}, {2, 3}).to(dt).t());
  }
  save(in, path, {{"note", "strided inputs are saved contiguous"}});
  NamedTensors out = load(path);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.dtype(), in[i].second.dtype());
    EXPECT_EQ(out[i].second.shape(), (std::vector<int64_t>{3, 2}));
    EXPECT_TRUE(out[i].second.equal(in[i].second).item<bool>()) << in[i].first;
  }
  EXPECT_EQ(load_metadata(path).at("note"), "strided inputs are saved contiguous");

  manual_seed(1);
  nn::Sequential a{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Linear>(4, 2)};
  nn::Sequential b{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Linear>(4, 2)};
  save(a.state_dict(), path);
  b.load_state_dict(load(path));
  for (size_t i = 0; i < a.parameters().size(); ++i) {
    EXPECT_TRUE(a.parameters()[i].equal(b.parameters()[i]).item<bool>());
  }
  std::remove(path.c_str());
}

// Found by the command fuzzer: an empty tensor shares its byte offset with the next tensor, and the reader
// sorted the two either way round.
TEST(SafetensorsTest, EmptyTensorsBetweenOthersRoundTrip) {
  const std::string path = temp_path("td_empty.safetensors");
  NamedTensors in;
  for (int i = 0; i < 6; ++i) {
    in.emplace_back("e" + std::to_string(i), zeros({0, 3}));
    in.emplace_back("t" + std::to_string(i), full({i + 1}, static_cast<double>(i)));
  }
  save(in, path);
  NamedTensors out = load(path);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.shape(), in[i].second.shape());
    EXPECT_TRUE(out[i].second.equal(in[i].second).item<bool>()) << in[i].first;
  }
  std::remove(path.c_str());
}

TEST(SafetensorsTest, RefusesMalformedFilesAndNames) {
  EXPECT_EQ(error_of([] { load("/nonexistent.safetensors"); }).code(), ErrorCode::kNotFound);
  const std::string path = temp_path("td_bad.safetensors");
  auto write = [&](const std::string& header, const std::string& data) {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out << header << data;
  };
  auto message = [&] { return std::string(error_of([&] { load(path); }).what()); };
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_EQ(load(path)[0].second.shape(), (std::vector<int64_t>{2}));
  write(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_THAT(message(), HasSubstr("tensor 'a' of shape [3] and dtype F32 needs 12 bytes, its range holds 8"));
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0'));
  EXPECT_THAT(message(), HasSubstr("starts at byte 4 of the data, expected 0"));
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(9, '\0'));
  EXPECT_THAT(message(), HasSubstr("the tensors cover 8 bytes of a data section of 9"));
  write(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_THAT(message(), HasSubstr("unsupported safetensors dtype 'Q7'"));
  write("not json", "");
  EXPECT_THAT(message(), HasSubstr("the header is not a JSON object"));
  {
    std::ofstream out(path, std::ios::binary);
    out << "\xff\xff\xff\xff\xff\xff\xff\x7f{}";
  }
  EXPECT_THAT(message(), HasSubstr("does not fit the file"));
  EXPECT_THAT(std::string(error_of([&] { save({{"x", zeros({1})}, {"x", zeros({1})}}, path); }).what()),
              HasSubstr("the name 'x' appears twice"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace td
