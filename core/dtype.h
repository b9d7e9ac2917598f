// Element types, with PyTorch's names, sizes and promotion rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace td {

/// The twelve dtypes of PyTorch's core set, in PyTorch's ScalarType order.
enum class DType : uint8_t {
  kBool,
  kUInt8,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};
inline constexpr int kNumDTypes = 12;

/// Bytes per element.
size_t itemsize(DType t);
/// PyTorch's name without the "torch." prefix: "float32", "int64", "bool".
std::string_view dtype_name(DType t);
/// PyTorch's ScalarType name, as its error messages print it: "Float", "Long", "ComplexDouble".
std::string_view scalar_type_name(DType t);
/// Parses a name as dtype_name prints it (also "float", "double", "long", "half"); throws on anything else.
DType dtype_from_name(std::string_view name);

inline bool is_floating(DType t) {
  return t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat32 || t == DType::kFloat64;
}
/// float16 or bfloat16: stored in 16 bits, computed in float32 (PyTorch's reduced floating types).
inline bool is_reduced_float(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }
inline bool is_complex(DType t) { return t == DType::kComplex64 || t == DType::kComplex128; }
/// True for bool and the integer types (PyTorch's isIntegralType(t, includeBool=true)).
inline bool is_integral(DType t) { return !is_floating(t) && !is_complex(t); }

/// PyTorch's promote_types table: the smallest dtype both a and b convert to without losing their category.
DType promote_types(DType a, DType b);
/// torch.can_cast: whether PyTorch's casting rules allow a result of dtype `from` to be written to `to` (no
/// complex to real, no floating to integral, nothing but bool to bool).
bool can_cast(DType from, DType to);

/// The default floating dtype (torch.get_default_dtype()).
inline DType default_float_dtype() { return DType::kFloat32; }

}  // namespace td
