// Creation ops, reachable remotely by name: empty, zeros, ones, full, scalar_tensor, arange, linspace,
// logspace, eye, empty_like, zeros_like, ones_like, full_like; and requires_grad_.
//
// arange, linspace, logspace and eye compute their values on the host, with PyTorch's CPU formulas (so the
// rounding matches), and copy them to the device in one transfer: no kernels of their own.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
TensorOptions options_from(const Args& a, size_t dtype_slot, size_t device_slot, DType fallback) {
  TensorOptions o;
  o.dtype = a.optional_dtype(dtype_slot).value_or(fallback);
  o.device = a.is_none(device_slot) ? kCPU : Device::parse(a.string_at(device_slot));
  return o;
}

// The options of a *_like op: self's dtype and device unless given.
TensorOptions like_options(const Args& a, size_t dtype_slot, size_t device_slot) {
  const Tensor& x = a.tensor(0);
  TensorOptions o;
  o.dtype = a.optional_dtype(dtype_slot).value_or(x.dtype());
  o.device = a.is_none(device_slot) ? x.device() : Device::parse(a.string_at(device_slot));
  return o;
}

/// A tensor whose values `fill(T* data, int64_t n)` writes on the host as the C++ type of `options.dtype`,
/// copied to the device. Bool is refused unless allow_bool (PyTorch's range ops have no bool kernel).
template <class Fill>
Tensor host_tensor(std::string_view op, std::vector<int64_t> shape, TensorOptions options, bool allow_bool,
                   Fill fill) {
  auto make = [&](auto tag) {
    using T = decltype(tag);
    // Through empty(): its size checks (overflow, free memory) hold for the host buffer too, so a client
    // asking for an absurd range gets RESOURCE_EXHAUSTED instead of the OOM killer.
    Tensor host = empty(std::move(shape), {options.dtype, kCPU});
    fill(static_cast<T*>(host.data_ptr()), host.numel());
    return options.device.is_cpu() ? host : host.to(options.device.str());
  };
  switch (options.dtype) {
    case DType::kBool:
      TD_CHECK(allow_bool, ErrorCode::kUnimplemented, "[", op, "] not implemented for 'bool'");
      return make(bool{});
    case DType::kUInt8:
      return make(uint8_t{});
    case DType::kInt8:
      return make(int8_t{});
    case DType::kInt16:
      return make(int16_t{});
    case DType::kInt32:
      return make(int32_t{});
    case DType::kInt64:
      return make(int64_t{});
    case DType::kFloat16:
      return make(Half{});
    case DType::kBFloat16:
      return make(BFloat16{});
    case DType::kFloat32:
      return make(float{});
    case DType::kFloat64:
      return make(double{});
    default:
      throw Error(ErrorCode::kUnimplemented,
                  str("[", op, "] not implemented for '", dtype_name(options.dtype), "'"));
  }
}

// PyTorch's arange: the size is ceil((end - start) / step), computed in int64 for int64 and in double
// otherwise; element i is start + i * step, computed in int64 for integer dtypes and in double for floating
// ones.
Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions options) {
  double ds = start.to_double(), de = end.to_double(), dstep = step.to_double();
  TD_CHECK_ARG(std::isfinite(ds) && std::isfinite(de), "[arange] unsupported range: ", ds, " -> ", de);
  bool integral = is_integral(options.dtype);
  if (integral) {  // c10's checked conversion: a bound or step past int64 is refused, not wrapped
    for (double v : {ds, de, dstep}) {
      TD_CHECK_ARG(std::isfinite(v) && v >= -9.2233720368547758e18 && v < 9.2233720368547758e18,
                   "[arange] value cannot be converted to type int64_t without overflow: ", v);
    }
  }
  // Integer dtypes truncate the bounds and step first (arange(0.5, 5, 2, dtype=int64) starts at 0).
  int64_t is = start.to_int(), ie = end.to_int(), istep = step.to_int();
  bool positive = integral ? istep > 0 : dstep > 0, negative = integral ? istep < 0 : dstep < 0;
  TD_CHECK_ARG(positive || negative, "[arange] step must be nonzero");
  bool ordered = integral ? (positive ? ie >= is : ie <= is) : (positive ? de >= ds : de <= ds);
  TD_CHECK_ARG(ordered, "[arange] upper bound and larger bound inconsistent with step sign");
  // In 128 bits: the span of two int64 bounds does not fit in 64.
  double size_d = options.dtype == DType::kInt64
                      ? static_cast<double>((static_cast<__int128>(ie) - is + istep - (positive ? 1 : -1)) / istep)
                      : std::ceil((de - ds) / dstep);
  TD_CHECK_ARG(size_d >= 0 && size_d <= static_cast<double>(std::numeric_limits<int64_t>::max()),
               "[arange] invalid size, possible overflow?");
  auto n = static_cast<int64_t>(size_d);
  return host_tensor("arange", {n}, options, /*allow_bool=*/false, [&](auto* data, int64_t count) {
    using T = std::remove_pointer_t<decltype(data)>;
    for (int64_t i = 0; i < count; ++i) {
      data[i] =
          integral ? static_cast<T>(is + istep * i) : static_cast<T>(ds + dstep * static_cast<double>(i));
    }
  });
}

// PyTorch's linspace: step = (end - start) / (steps - 1) in the dtype (double for integers); the first half
// counts up from start, the second half down from end, so both ends are exact.
Tensor linspace(Scalar start, Scalar end, int64_t steps, TensorOptions options) {
  TD_CHECK_ARG(steps >= 0, "[linspace] number of steps must be non-negative");
  return host_tensor("linspace", {steps}, options, /*allow_bool=*/false, [&](auto* data, int64_t n) {
    using T = std::remove_pointer_t<decltype(data)>;
    using StepT = std::conditional_t<std::is_integral_v<T>, double, T>;
    T s = start.to<T>(), e = end.to<T>();
    if (n == 1) data[0] = s;
    if (n <= 1) return;
    StepT step = (static_cast<StepT>(e) - static_cast<StepT>(s)) / static_cast<StepT>(n - 1);
    int64_t halfway = n / 2;
    for (int64_t i = 0; i < n; ++i) {
      data[i] = i < halfway ? static_cast<T>(s + step * static_cast<StepT>(i))
                            : static_cast<T>(e - step * static_cast<StepT>(n - i - 1));
    }
  });
}

// PyTorch's logspace: base ** (the linspace exponents, in double).
Tensor logspace(Scalar start, Scalar end, int64_t steps, double base, TensorOptions options) {
  TD_CHECK_ARG(steps >= 0, "[logspace] number of steps must be non-negative");
  return host_tensor("logspace", {steps}, options, /*allow_bool=*/false, [&](auto* data, int64_t n) {
    using T = std::remove_pointer_t<decltype(data)>;
    // Integer dtypes raise a float base, as PyTorch's integer kernel does.
    double b = std::is_integral_v<T> ? static_cast<double>(static_cast<float>(base)) : base;
    if (n == 1) data[0] = static_cast<T>(std::pow(base, start.to_double()));
    if (n <= 1) return;
    T s = start.to<T>(), e = end.to<T>();
    double step = static_cast<double>(e - s) / static_cast<double>(n - 1);
    int64_t halfway = n / 2;
    for (int64_t i = 0; i < n; ++i) {
      double exponent = i < halfway ? static_cast<double>(s) + step * static_cast<double>(i)
                                    : static_cast<double>(e) - step * static_cast<double>(n - i - 1);
      data[i] = static_cast<T>(std::pow(b, exponent));
    }
  });
}

bool all_integral(std::initializer_list<Scalar> values) {
  for (const Scalar& v : values) {
    if (!v.is_integral()) return false;
  }
  return true;
}
}  // namespace

void register_creation_ops(Registry& r) {
  r.def("empty(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("an uninitialised tensor")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {empty(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("zeros(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor of zeros")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {zeros(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("ones(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor of ones")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {ones(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("full(int[] size, Scalar fill_value, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a tensor filled with one value; the dtype follows the value unless given")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Scalar v = a.scalar(1);
        return {full(a.ints(0), v, options_from(a, 2, 3, v.natural_dtype()))};
      });
  r.def("scalar_tensor(Scalar s, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a 0-dim tensor holding one number")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Scalar v = a.scalar(0);
        return {full({}, v, options_from(a, 1, 2, v.is_bool() ? DType::kBool : default_float_dtype()))};
      });
  // One op for PyTorch's arange(end), arange(start, end) and arange(start, end, step): with end None, start
  // is the end, as in Python's range.
  r.def(
       "arange(Scalar start, Scalar? end=None, Scalar step=1, *, ScalarType? dtype=None, Device? "
       "device=None) -> Tensor")
      .doc(
          "start, start + step, ... up to end (excluded); int64 when all are integers, else the default "
          "float")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Scalar start = a.is_none(1) ? Scalar(int64_t{0}) : a.scalar(0),
               end = a.is_none(1) ? a.scalar(0) : a.scalar(1);
        Scalar step = a.scalar(2);
        DType fallback = all_integral({start, end, step}) ? DType::kInt64 : default_float_dtype();
        return {arange(start, end, step, options_from(a, 3, 4, fallback))};
      });
  r.def(
       "linspace(Scalar start, Scalar end, int steps, *, ScalarType? dtype=None, Device? device=None) -> "
       "Tensor")
      .doc("steps values evenly spaced from start to end, both included")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {
            linspace(a.scalar(0), a.scalar(1), a.int_at(2), options_from(a, 3, 4, default_float_dtype()))};
      });
  r.def(
       "logspace(Scalar start, Scalar end, int steps, float base=10.0, *, ScalarType? dtype=None, "
       "Device? device=None) -> Tensor")
      .doc("base ** linspace(start, end, steps)")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {logspace(a.scalar(0), a.scalar(1), a.int_at(2), a.float_at(3),
                         options_from(a, 4, 5, default_float_dtype()))};
      });
  // One op for PyTorch's eye(n) and eye(n, m).
  r.def("eye(int n, int? m=None, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("an n x m matrix (m = n by default) with ones on the diagonal")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        int64_t n = a.int_at(0), m = a.is_none(1) ? n : a.int_at(1);
        TD_CHECK_ARG(n >= 0, "[eye] n must be greater or equal to 0, got ", n);
        TD_CHECK_ARG(m >= 0, "[eye] m must be greater or equal to 0, got ", m);
        return {host_tensor("eye", {n, m}, options_from(a, 2, 3, default_float_dtype()), /*allow_bool=*/true,
                            [&](auto* data, int64_t count) {
                              using T = std::remove_pointer_t<decltype(data)>;
                              for (int64_t i = 0; i < count; ++i) data[i] = static_cast<T>(i / m == i % m);
                            })};
      });

  // The *_like ops give contiguous tensors (PyTorch keeps a dense self's strides; the values are the same).
  r.def("empty_like(Tensor self, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("an uninitialised tensor of self's shape, dtype and device")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {empty(a.tensor(0).shape(), like_options(a, 1, 2))};
      });
  r.def("zeros_like(Tensor self, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("zeros of self's shape, dtype and device")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {zeros(a.tensor(0).shape(), like_options(a, 1, 2))};
      });
  r.def("ones_like(Tensor self, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("ones of self's shape, dtype and device")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {ones(a.tensor(0).shape(), like_options(a, 1, 2))};
      });
  r.def("full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("fill_value in self's shape, dtype (the value converts to it) and device")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {full(a.tensor(0).shape(), a.scalar(1), like_options(a, 2, 3))};
      });
  r.def("requires_grad_(Tensor self, bool requires_grad=True) -> Tensor")
      .doc("marks a leaf as needing gradients; returns self")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        Tensor x = a.tensor(0);
        x.requires_grad_(a.bool_at(1));
        return {x};
      });
}

}  // namespace td
