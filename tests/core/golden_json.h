// Reading the PyTorch golden fixtures (tests/golden/*.json, written by tests/golden/generate*.py): where they
// live, and their numbers and tensors as td values.
#pragma once

#include <complex>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace td {

// The build's source tree by default; $TD_GOLDEN_DIR when the binary runs elsewhere (a GPU machine).
inline std::string fixture_dir() {
  const char* dir = std::getenv("TD_GOLDEN_DIR");
  return dir && *dir ? dir : TD_GOLDEN_DIR;
}

// A fixture number: JSON has no inf or NaN, so generate.py writes them as "inf", "-inf" and "nan".
inline double number_from_json(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (!v.is_string()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw Error(ErrorCode::kInvalidArgument, str("golden fixture value '", s, "'"));
}

template <class T>
inline std::vector<T> floats_from_json(const nlohmann::json& values) {
  std::vector<T> out;
  for (const nlohmann::json& x : values) out.push_back(static_cast<T>(number_from_json(x)));
  return out;
}

inline Tensor tensor_from_json(const nlohmann::json& j, Device device) {
  DType dtype = dtype_from_name(j.at("dtype").get<std::string>());
  auto shape = j.at("shape").get<std::vector<int64_t>>();
  const nlohmann::json& values = j.at("values");
  switch (dtype) {
    case DType::kBool: {
      std::vector<bool> v;
      for (const nlohmann::json& x : values) v.push_back(x.get<bool>());
      return tensor_bool(v, shape, device);
    }
    case DType::kInt64:
      return tensor(values.get<std::vector<int64_t>>(), shape, device);
    // Narrower integers (images are uint8) travel as numbers and cast exactly.
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
      return tensor(values.get<std::vector<int64_t>>(), shape, device).to(dtype);
    // float16 and bfloat16 values are written as the float32 numbers they are: exact through float.
    case DType::kFloat16: {
      std::vector<Half> v;
      for (float x : floats_from_json<float>(values)) v.push_back(Half(x));
      return tensor(v, shape, device);
    }
    case DType::kBFloat16: {
      std::vector<BFloat16> v;
      for (float x : floats_from_json<float>(values)) v.push_back(BFloat16(x));
      return tensor(v, shape, device);
    }
    case DType::kFloat32:
      return tensor(floats_from_json<float>(values), shape, device);
    case DType::kFloat64:
      return tensor(floats_from_json<double>(values), shape, device);
    // Complex values are [re, im] pairs (generate_complex.py).
    case DType::kComplex64:
    case DType::kComplex128: {
      std::vector<std::complex<double>> v;
      for (const nlohmann::json& x : values) v.emplace_back(number_from_json(x.at(0)), number_from_json(x.at(1)));
      return tensor(v, shape, device).to(dtype);
    }
    default:
      throw Error(ErrorCode::kUnimplemented, str("golden fixture dtype ", dtype_name(dtype)));
  }
}

}  // namespace td
