// Small definitions behind error.h, dtype.h, device.h, scalar.h and backend.h.
#include <array>
#include <cstdio>

#include "core/backend.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/scalar.h"

namespace td {

std::string_view error_code_name(ErrorCode code) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK",           "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",      "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",         "UNAVAILABLE",
      "DATA_LOSS",    "UNAUTHENTICATED"};
  auto i = static_cast<size_t>(code);
  return i < kNames.size() ? kNames[i] : "UNKNOWN";
}

namespace {
struct DTypeInfo {
  std::string_view name;
  size_t size;
  std::string_view scalar_type;  // PyTorch's ScalarType name, as its messages print it
};
constexpr std::array<DTypeInfo, kNumDTypes> kDTypes = {{{"bool", 1, "Bool"},
                                                         {"uint8", 1, "Byte"},
                                                         {"int8", 1, "Char"},
                                                         {"int16", 2, "Short"},
                                                         {"int32", 4, "Int"},
                                                         {"int64", 8, "Long"},
                                                         {"float16", 2, "Half"},
                                                         {"bfloat16", 2, "BFloat16"},
                                                         {"float32", 4, "Float"},
                                                         {"float64", 8, "Double"},
                                                         {"complex64", 8, "ComplexFloat"},
                                                         {"complex128", 16, "ComplexDouble"}}};
}  // namespace

size_t itemsize(DType t) { return kDTypes[static_cast<size_t>(t)].size; }
std::string_view dtype_name(DType t) { return kDTypes[static_cast<size_t>(t)].name; }
std::string_view scalar_type_name(DType t) { return kDTypes[static_cast<size_t>(t)].scalar_type; }

DType dtype_from_name(std::string_view name) {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  for (int i = 0; i < kNumDTypes; ++i) {
    if (kDTypes[i].name == name) return static_cast<DType>(i);
  }
  static constexpr std::array<std::pair<std::string_view, DType>, 8> kAliases = {{{"float", DType::kFloat32},
                                                                                 {"double", DType::kFloat64},
                                                                                 {"half", DType::kFloat16},
                                                                                 {"long", DType::kInt64},
                                                                                 {"int", DType::kInt32},
                                                                                 {"short", DType::kInt16},
                                                                                 {"cfloat", DType::kComplex64},
                                                                                 {"cdouble", DType::kComplex128}}};
  for (auto [alias, t] : kAliases) {
    if (alias == name) return t;
  }
  throw Error(ErrorCode::kInvalidArgument, str("unknown dtype '", name, "'"));
}

namespace {
// Rank within a category; promotion picks the larger, with PyTorch's special cases handled first.
int int_rank(DType t) {
  switch (t) {
    case DType::kBool: return 0;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kInt32: return 3;
    default: return 4;
  }
}
}  // namespace

bool can_cast(DType from, DType to) {
  if (is_complex(from) && !is_complex(to)) return false;
  if (is_floating(from) && is_integral(to)) return false;
  if (from != DType::kBool && to == DType::kBool) return false;
  return true;
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_complex(a) || is_complex(b)) {
    bool wide = a == DType::kComplex128 || b == DType::kComplex128 || a == DType::kFloat64 || b == DType::kFloat64;
    return wide ? DType::kComplex128 : DType::kComplex64;
  }
  if (is_floating(a) && is_floating(b)) {
    bool half_mix = (a == DType::kFloat16 && b == DType::kBFloat16) || (a == DType::kBFloat16 && b == DType::kFloat16);
    if (half_mix) return DType::kFloat32;
    return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
  }
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  // Both integral (bool counts as the smallest integer).
  if (a == DType::kBool) return b;
  if (b == DType::kBool) return a;
  // uint8 with a signed type needs the next signed type up that holds 0..255.
  if (a == DType::kUInt8 || b == DType::kUInt8) {
    DType other = a == DType::kUInt8 ? b : a;
    return other == DType::kInt8 ? DType::kInt16 : other;
  }
  return int_rank(a) >= int_rank(b) ? a : b;
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device Device::parse(std::string_view s) {
  if (s == "cpu") return kCPU;
  if (s == "cuda") return Device{DeviceType::kCUDA, 0};
  if (s.starts_with("cuda:") && s.size() > 5) {
    int index = 0;
    for (char c : s.substr(5)) {
      TD_CHECK_ARG(c >= '0' && c <= '9', "invalid device string '", s, "'");
      index = index * 10 + (c - '0');
    }
    return Device{DeviceType::kCUDA, index};
  }
  throw Error(ErrorCode::kInvalidArgument,
              td::str("invalid device string '", s, "': expected \"cpu\", \"cuda\" or \"cuda:N\""));
}

std::string Scalar::str() const {
  if (kind_ == Kind::kBool) return i_ ? "True" : "False";
  if (kind_ == Kind::kInt) return std::to_string(i_);
  char buf[64];
  if (kind_ == Kind::kComplex) {
    std::snprintf(buf, sizeof buf, "(%g%+gj)", d_, im_);  // Python's repr of a complex number
  } else {
    std::snprintf(buf, sizeof buf, "%g", d_);
  }
  return buf;
}

std::string_view binary_op_name(BinaryOp op) {
  static constexpr std::array<std::string_view, 14> kNames = {
      "add",  "sub",       "mul",          "div",   "maximum",     "minimum",    "pow",
      "fmod", "remainder", "floor_divide", "atan2", "bitwise_and", "bitwise_or", "bitwise_xor"};
  return kNames[static_cast<size_t>(op)];
}

std::string_view compare_op_name(CompareOp op) {
  static constexpr std::array<std::string_view, 9> kNames = {"eq", "ne", "lt", "le", "gt", "ge",
                                                             "logical_and", "logical_or", "logical_xor"};
  return kNames[static_cast<size_t>(op)];
}

std::string_view reduce_op_name(ReduceOp op) {
  static constexpr std::array<std::string_view, 4> kNames = {"sum", "prod", "max", "min"};
  return kNames[static_cast<size_t>(op)];
}

std::string_view scatter_mode_name(ScatterMode mode) {
  return mode == ScatterMode::kAssign ? "scatter"
         : mode == ScatterMode::kAdd  ? "scatter_add"
                                      : "scatter_reduce";
}

std::string_view unary_op_name(UnaryOp op) {
  static constexpr std::string_view kNames[] = {
#define TD_UNARY_NAME(Name, name) #name,
      TD_FLOAT_UNARY_OPS(TD_UNARY_NAME) TD_ANY_UNARY_OPS(TD_UNARY_NAME) TD_PREDICATE_UNARY_OPS(TD_UNARY_NAME)
#undef TD_UNARY_NAME
  };
  return kNames[static_cast<size_t>(op)];
}

void Backend::missing(std::string_view op) const {
  throw Error(ErrorCode::kUnimplemented, str("[", op, "] has no ", name(), " implementation"));
}
void* Backend::allocate_pinned(size_t) {
  throw Error(ErrorCode::kFailedPrecondition,
              "[pin_memory] pinned memory needs a CUDA device, and none is available");
}
void Backend::copy(const StridedRef&, const StridedRef&, int) { missing("copy"); }
void Backend::fft(FftKind kind, bool, const StridedRef&, const StridedRef&, int, int) {
  missing(kind == FftKind::kC2C ? "_fft_c2c" : kind == FftKind::kR2C ? "_fft_r2c" : "_fft_c2r");
}
void Backend::fill(const StridedRef&, const Scalar&, int) { missing("fill"); }
void Backend::random_fill(const RandomFill&, const StridedRef&, const double*, int) { missing("random_fill"); }
void Backend::binary(BinaryOp op, const StridedRef&, const StridedRef&, const StridedRef&, const Scalar&, int) {
  missing(binary_op_name(op));
}
void Backend::unary(UnaryOp op, const StridedRef&, const StridedRef&, int) { missing(unary_op_name(op)); }
void Backend::compare(CompareOp op, const StridedRef&, const StridedRef&, const StridedRef&, int) {
  missing(compare_op_name(op));
}
void Backend::where(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&, int) {
  missing("where");
}
void Backend::reduce(ReduceOp op, const StridedRef&, const StridedRef&, int, int) { missing(reduce_op_name(op)); }
void Backend::arg_reduce(bool is_max, const StridedRef&, const StridedRef&, const StridedRef&, int) {
  missing(is_max ? "argmax" : "argmin");
}
void Backend::scan(ReduceOp op, const StridedRef&, const StridedRef&, int) {
  missing(op == ReduceOp::kSum ? "cumsum" : "cumprod");
}
void Backend::gather(const StridedRef&, const StridedRef&, const StridedRef&, int, int) { missing("gather"); }
void Backend::scatter(ScatterMode mode, const StridedRef&, const StridedRef&, const StridedRef&, int, int) {
  missing(scatter_mode_name(mode));
}
void Backend::sort(bool, const StridedRef&, const StridedRef&, const StridedRef&, int) { missing("sort"); }
void Backend::softmax(bool is_log, const StridedRef&, const StridedRef&, int) {
  missing(is_log ? "log_softmax" : "softmax");
}
void Backend::gemm(const StridedRef&, const StridedRef&, const StridedRef&, int) { missing("matmul"); }
void Backend::im2col(const StridedRef&, const StridedRef&, const ConvWindow&, int) { missing("im2col"); }
void Backend::col2im(const StridedRef&, const StridedRef&, const ConvWindow&, int) { missing("col2im"); }
// No library convolutions unless a backend has them: callers fall back to im2col + GEMM.
bool Backend::threshold_backward(const StridedRef&, const StridedRef&, const StridedRef&, double, int) {
  return false;
}
bool Backend::channel_sums(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                           const StridedRef&, int) {
  return false;
}
bool Backend::batch_norm_channels(const BatchNormChannels&, int) { return false; }
bool Backend::lstm_cell(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                        const StridedRef&, const StridedRef&, const StridedRef&, int) {
  return false;
}
bool Backend::lstm_cell_backward(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                                 const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&, int) {
  return false;
}
bool Backend::gru_cell(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                       const StridedRef&, const StridedRef&, const StridedRef&, int) {
  return false;
}
bool Backend::gru_cell_backward(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                                const StridedRef&, int) {
  return false;
}
bool Backend::channel_affine(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                             const StridedRef&, const StridedRef&, int) {
  return false;
}
bool Backend::library_conv(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                           const ConvWindow&, int64_t, int) {
  return false;
}
bool Backend::library_conv_backward_input(const StridedRef&, const StridedRef&, const StridedRef&, const ConvWindow&,
                                          int64_t, int) {
  return false;
}
bool Backend::library_conv_backward_weight(const StridedRef&, const StridedRef&, const StridedRef&,
                                           const StridedRef&, const ConvWindow&, int64_t, int) {
  return false;
}
bool Backend::library_batch_norm(const BatchNormLibrary&, int) {
  return false;
}
bool Backend::library_batch_norm_backward(const BatchNormLibrary&, int) {
  return false;
}
bool Backend::library_conv_backward(const StridedRef& gx, const StridedRef& gw, const StridedRef& gb,
                                    const StridedRef& x, const StridedRef& gy, const StridedRef& w,
                                    const ConvWindow& win, int64_t groups, int index) {
  if (gx.data && !library_conv_backward_input(gx, gy, w, win, groups, index)) return false;
  return !gw.data || library_conv_backward_weight(gw, gb, x, gy, win, groups, index);
}
bool Backend::sgd_momentum_step(const StridedRef&, const StridedRef&, const StridedRef&, const SgdStep&, int) {
  return false;
}
void Backend::sgd_momentum_steps(std::span<SgdTensors> params, const SgdStep& step, int index) {
  for (SgdTensors& t : params) t.done = t.done || sgd_momentum_step(t.param, t.grad, t.buf, step, index);
}
bool Backend::adam_step(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                        const AdamStep&, int) {
  return false;
}
void Backend::adam_steps(std::span<AdamTensors> params, const AdamStep& step, int index) {
  for (AdamTensors& t : params) {
    t.done = t.done || adam_step(t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, step, index);
  }
}
void Backend::max_pool(const StridedRef&, const StridedRef&, const StridedRef&, const PoolGeometry&, int) {
  missing("max_pool");
}
void Backend::max_pool_backward(const StridedRef&, const StridedRef&, const StridedRef&, int) {
  missing("max_pool_backward");
}
void Backend::avg_pool(const StridedRef&, const StridedRef&, const PoolGeometry&, int) { missing("avg_pool"); }
void Backend::avg_pool_backward(const StridedRef&, const StridedRef&, const PoolGeometry&, int) {
  missing("avg_pool_backward");
}

Backend& backend(DeviceType type) {
  return type == DeviceType::kCPU ? kernels::cpu_backend() : kernels::cuda_backend();
}

}  // namespace td
