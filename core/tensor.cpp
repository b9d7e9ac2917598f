// Tensor, TensorImpl and Storage; creation functions; item/to_vector; printing like PyTorch.
#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/memory_account.h"
#include "core/profiler/hooks.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
std::array<std::atomic<int64_t>, kNumDeviceTypes> g_allocated{};
}

void* Storage::take(size_t n) const {
  return pinned ? backend(DeviceType::kCUDA).allocate_pinned(n) : backend(device.type).allocate(n, device.index);
}

void Storage::give_back(void* p, size_t n) const {
  if (pinned) {
    backend(DeviceType::kCUDA).deallocate_pinned(p);
  } else {
    backend(device.type).deallocate(p, n, device.index);
  }
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device, bool pinned) {
  std::shared_ptr<Storage> s(new Storage());
  s->device = device;
  s->pinned = pinned;
  s->inference = autograd::InferenceMode::is_enabled();
  // Charged before the device memory is taken: over the limit, none is. nbytes and the account are set only
  // once the allocation stands, so the destructor of a failed one gives back nothing it did not take.
  const std::shared_ptr<MemoryAccount>& account = nbytes ? MemoryAccount::current() : nullptr;
  if (account) [[unlikely]] account->charge(static_cast<int64_t>(nbytes), device);
  try {
    // Zero-byte storage still gets a distinct non-null pointer from the backend only when asked for bytes.
    s->data = nbytes ? s->take(nbytes) : nullptr;
  } catch (...) {
    if (account) account->release(static_cast<int64_t>(nbytes), device.type);
    throw;
  }
  s->nbytes = nbytes;
  s->account = account;
  g_allocated[static_cast<size_t>(device.type)] += static_cast<int64_t>(nbytes);
  if (profiler::detail::g_memory.load(std::memory_order_relaxed)) [[unlikely]] {
    profiler::detail::record_memory(static_cast<int64_t>(nbytes), device);
  }
  return s;
}

void Storage::grow(size_t n) {
  if (n <= nbytes) return;
  Backend& b = backend(device.type);
  if (account) account->charge(static_cast<int64_t>(n - nbytes), device);
  void* fresh;
  try {
    fresh = take(n);
  } catch (...) {
    if (account) account->release(static_cast<int64_t>(n - nbytes), device.type);
    throw;
  }
  if (data) {
    // Through the host for simplicity: growing is rare (an `out=` tensor of the wrong size).
    std::vector<char> host(nbytes);
    b.copy_to_host(host.data(), data, nbytes, device.index);
    b.copy_from_host(fresh, host.data(), nbytes, device.index);
    give_back(data, nbytes);
  }
  g_allocated[static_cast<size_t>(device.type)] += static_cast<int64_t>(n - nbytes);
  if (profiler::detail::g_memory.load(std::memory_order_relaxed)) [[unlikely]] {
    profiler::detail::record_memory(static_cast<int64_t>(n - nbytes), device);
  }
  data = fresh;
  nbytes = n;
}

Storage::~Storage() {
  if (data) give_back(data, nbytes);
  if (account) account->release(static_cast<int64_t>(nbytes), device.type);
  g_allocated[static_cast<size_t>(device.type)] -= static_cast<int64_t>(nbytes);
  if (profiler::detail::g_memory.load(std::memory_order_relaxed)) [[unlikely]] {
    profiler::detail::record_memory(-static_cast<int64_t>(nbytes), device);
  }
}

int64_t memory_allocated(DeviceType type) { return g_allocated[static_cast<size_t>(type)].load(); }

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_, std::vector<int64_t> sizes_, std::vector<int64_t> strides_,
                       int64_t offset_, DType dtype_)
    : storage(std::move(storage_)), sizes(std::move(sizes_)), strides(std::move(strides_)), offset(offset_),
      dtype(dtype_) {}
TensorImpl::~TensorImpl() { autograd::forward_ad::detail::forget(this); }

std::vector<int64_t> contiguous_strides(std::span<const int64_t> sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(sizes[i], 1);
  }
  return strides;
}

int64_t shape_numel(std::span<const int64_t> sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

int64_t wrap_dim(std::string_view op, int64_t dim, int64_t ndim) {
  int64_t lo = ndim ? -ndim : -1, hi = ndim ? ndim - 1 : 0;  // a 0-dim tensor accepts dim 0 and -1
  TD_CHECK(dim >= lo && dim <= hi, ErrorCode::kOutOfRange, "[", op,
           "] Dimension out of range (expected to be in range of [", lo, ", ", hi, "], but got ", dim, ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Tensor make_view(const Tensor& t, std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t offset) {
  auto view = std::make_shared<TensorImpl>(t.impl().storage, std::move(sizes), std::move(strides), offset, t.dtype());
  std::shared_ptr<TensorImpl> base = t.impl().view_base.lock();
  view->view_base = base ? base : t.impl_ptr();
  return Tensor(std::move(view));
}

Tensor wrapped_scalar(const Scalar& value) {
  // A Python number is a double or a complex double (complex128), as in aten's wrapped numbers.
  DType dtype = value.is_bool()       ? DType::kBool
                : value.is_integral() ? DType::kInt64
                : value.is_complex()  ? DType::kComplex128
                                      : DType::kFloat64;
  Tensor t = full({}, value, {dtype, kCPU});
  t.impl().wrapped_number = true;
  return t;
}

StridedRef strided_ref(const Tensor& t) {
  const TensorImpl& i = t.impl();
  return StridedRef{t.data_ptr(), i.dtype, i.sizes, i.strides};
}

// ---- Tensor accessors ----

std::span<const int64_t> Tensor::sizes() const { return impl_->sizes; }
std::vector<int64_t> Tensor::shape() const { return impl_->sizes; }
std::span<const int64_t> Tensor::strides() const { return impl_->strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(impl_->sizes.size()); }
// A 0-d tensor has no dimension to ask about (wrap_dim lets dim 0 through for reductions over it).
int64_t Tensor::size(int64_t d) const {
  TD_CHECK(dim() > 0, ErrorCode::kInvalidArgument, "[size] dimension specified as ", d, " but tensor has no dimensions");
  return impl_->sizes[wrap_dim("size", d, dim())];
}
int64_t Tensor::stride(int64_t d) const {
  TD_CHECK(dim() > 0, ErrorCode::kInvalidArgument, "[stride] dimension specified as ", d,
           " but tensor has no dimensions");
  return impl_->strides[wrap_dim("stride", d, dim())];
}
int64_t Tensor::numel() const { return shape_numel(impl_->sizes); }
int64_t Tensor::storage_offset() const { return impl_->offset; }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device; }
uint32_t Tensor::version() const { return impl_->storage->version.load(); }
bool Tensor::is_inference() const { return impl_->storage->inference; }
bool Tensor::shares_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::data_ptr() const {
  auto* base = static_cast<char*>(impl_->storage->data);
  return base ? base + impl_->offset * static_cast<int64_t>(itemsize(impl_->dtype)) : nullptr;
}

bool Tensor::is_pinned() const { return impl_->storage && impl_->storage->pinned; }

Tensor Tensor::pin_memory() const {
  TD_CHECK_ARG(device().is_cpu(), "[pin_memory] cannot pin a ", device().str(),
               " tensor: only dense CPU tensors can be pinned");
  if (is_pinned()) return *this;
  Tensor out = empty(shape(), {dtype(), kCPU, false, /*pin_memory=*/true});
  return out.copy_(*this);  // recorded, so a gradient flows back through it as through PyTorch's
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->sizes.size(); i-- > 0;) {
    if (impl_->sizes[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->sizes[i];
  }
  return true;
}

template <class T>
T* Tensor::data() const {
  TD_CHECK_ARG(dtype() == dtype_of<T>(), "[data] expected a tensor of dtype ", dtype_name(dtype_of<T>()),
               " but got ", dtype_name(dtype()));
  return static_cast<T*>(data_ptr());
}
template bool* Tensor::data<bool>() const;
template uint8_t* Tensor::data<uint8_t>() const;
template int8_t* Tensor::data<int8_t>() const;
template int16_t* Tensor::data<int16_t>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;
template Half* Tensor::data<Half>() const;
template BFloat16* Tensor::data<BFloat16>() const;
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::complex<float>* Tensor::data<std::complex<float>>() const;
template std::complex<double>* Tensor::data<std::complex<double>>() const;

Tensor Tensor::invoke_op(std::string_view op, std::vector<Value> args) const {
  std::vector<Tensor> outs = call_op(op, std::move(args));
  TD_CHECK(outs.size() == 1, ErrorCode::kInternal, "[", op, "] returns ", outs.size(), " tensors, not one");
  return std::move(outs[0]);
}

std::vector<Tensor> Tensor::invoke_op_n(std::string_view op, std::vector<Value> args, size_t n) const {
  std::vector<Tensor> outs = call_op(op, std::move(args));
  TD_CHECK(outs.size() == n, ErrorCode::kInternal, "[", op, "] returns ", outs.size(), " tensors, not ", n);
  return outs;
}

// ---- creation ----

Tensor empty(std::vector<int64_t> shape, TensorOptions options) {
  TD_CHECK_ARG(!options.pin_memory || options.device.is_cpu(), "[empty] only dense CPU tensors can be pinned, not ",
               options.device.str(), " ones");
  int64_t bytes = static_cast<int64_t>(itemsize(options.dtype));
  for (int64_t s : shape) {
    TD_CHECK_ARG(s >= 0, "[empty] negative dimension ", s, " in shape ", shape_str(shape));
    TD_CHECK(!__builtin_mul_overflow(bytes, s, &bytes), ErrorCode::kResourceExhausted, "[empty] a ",
             dtype_name(options.dtype), " tensor of shape ", shape_str(shape), " does not fit in memory");
  }
  TD_CHECK(options.device.is_cpu() || backend(options.device.type).is_available(), ErrorCode::kFailedPrecondition,
           "[empty] device ", options.device.str(), " is not available");
  auto strides = contiguous_strides(shape);
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * itemsize(options.dtype);
  auto storage = Storage::allocate(nbytes, options.device, options.pin_memory);
  Tensor t(std::make_shared<TensorImpl>(std::move(storage), std::move(shape), std::move(strides), 0, options.dtype));
  if (options.requires_grad) t.requires_grad_();
  return t;
}

Tensor full(std::vector<int64_t> shape, Scalar value, TensorOptions options) {
  bool requires_grad = std::exchange(options.requires_grad, false);
  Tensor t = empty(std::move(shape), options);
  if (t.numel()) backend(t.device().type).fill(strided_ref(t), value, t.device().index);
  if (requires_grad) t.requires_grad_();
  return t;
}
Tensor zeros(std::vector<int64_t> shape, TensorOptions options) { return full(std::move(shape), 0, options); }
Tensor ones(std::vector<int64_t> shape, TensorOptions options) { return full(std::move(shape), 1, options); }

Tensor from_buffer(const void* data, std::vector<int64_t> shape, DType dtype, Device device) {
  Tensor t = empty(std::move(shape), {dtype, device});
  if (t.nbytes()) backend(device.type).copy_from_host(t.data_ptr(), data, t.nbytes(), device.index);
  return t;
}

Tensor tensor_bool(const std::vector<bool>& values, std::vector<int64_t> shape, Device device) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  TD_CHECK_ARG(static_cast<int64_t>(bytes.size()) == shape_numel(shape), "[tensor] ", bytes.size(),
               " values do not fill shape ", shape_str(shape));
  return from_buffer(bytes.data(), std::move(shape), DType::kBool, device);
}

Tensor scalar_tensor(Scalar value, std::optional<DType> dtype, Device device) {
  return full({}, value, {dtype.value_or(value.natural_dtype()), device});
}

// ---- reading values ----

namespace {
// A contiguous host copy of t in dtype `as` (copy + cast on the host).
Tensor host_contiguous(const Tensor& t, DType as) {
  Tensor src = t;
  if (!t.device().is_cpu()) {
    Tensor c = t.contiguous();
    Tensor host = empty(c.shape(), {c.dtype(), kCPU});
    if (host.nbytes()) backend(c.device().type).copy_to_host(host.data_ptr(), c.data_ptr(), c.nbytes(), c.device().index);
    src = host;
  }
  if (src.dtype() == as && src.is_contiguous()) return src;
  Tensor out = empty(src.shape(), {as, kCPU});
  if (out.numel()) backend(DeviceType::kCPU).copy(strided_ref(out), strided_ref(src), 0);
  return out;
}
}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  TD_CHECK_ARG(defined(), "[to_vector] called on an undefined tensor");
  Tensor h = host_contiguous(*this, dtype_of<T>());
  const T* p = static_cast<const T*>(h.data_ptr());
  return std::vector<T>(p, p + h.numel());
}
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<Half> Tensor::to_vector<Half>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::complex<float>> Tensor::to_vector<std::complex<float>>() const;
template std::vector<std::complex<double>> Tensor::to_vector<std::complex<double>>() const;

Scalar Tensor::item() const {
  TD_CHECK_ARG(defined(), "[item] called on an undefined tensor");
  TD_CHECK_ARG(numel() == 1, "[item] a Tensor with ", numel(), " elements cannot be converted to Scalar");
  if (dtype() == DType::kBool) return Scalar(host_contiguous(*this, DType::kUInt8).data<uint8_t>()[0] != 0);
  if (is_integral(dtype())) return Scalar(host_contiguous(*this, DType::kInt64).data<int64_t>()[0]);
  if (is_complex(dtype())) return Scalar(host_contiguous(*this, DType::kComplex128).data<std::complex<double>>()[0]);
  return Scalar(host_contiguous(*this, DType::kFloat64).data<double>()[0]);
}

template <class T>
T Tensor::item() const {
  return item().to<T>();
}
template Half Tensor::item<Half>() const;
template BFloat16 Tensor::item<BFloat16>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;
template std::complex<float> Tensor::item<std::complex<float>>() const;
template std::complex<double> Tensor::item<std::complex<double>>() const;

// ---- printing ----

namespace {
struct Formatter {
  DType dtype = DType::kFloat32;
  bool int_mode = false;  // floats that are all whole numbers print as "1."
  bool sci = false;
  int width = 1;

  std::string format(double v) const {
    char buf[64];
    if (dtype == DType::kBool) return v != 0 ? "True" : "False";
    if (is_integral(dtype)) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::isnan(v)) {
      return "nan";
    } else if (std::isinf(v)) {
      return v > 0 ? "inf" : "-inf";
    } else if (sci) {
      std::snprintf(buf, sizeof buf, "%.4e", v);
    } else if (int_mode) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
  }
  std::string padded(double v) const {
    std::string s = format(v);
    return std::string(static_cast<size_t>(std::max<int>(0, width - static_cast<int>(s.size()))), ' ') + s;
  }
};

constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

// PyTorch's _Formatter: whole-number floats print as "1.", a wide range or tiny values in scientific form,
// and columns are as wide as the widest finite non-zero value (inf, nan and 0 never widen them).
Formatter make_formatter(DType dtype, const std::vector<double>& vals) {
  Formatter f{dtype};
  if (is_floating(dtype)) {
    double max_abs = 0, min_abs = INFINITY;
    bool all_int = true;
    for (double v : vals) {
      if (!std::isfinite(v)) continue;
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
      if (v != std::round(v)) all_int = false;
    }
    f.int_mode = all_int && max_abs < 1e8;
    f.sci = !f.int_mode && (max_abs >= 1e8 || (min_abs < 1e-4) || (min_abs != INFINITY && max_abs / min_abs > 1000));
  }
  for (double v : vals) {
    if (is_floating(dtype) && (!std::isfinite(v) || v == 0)) continue;
    f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));
  }
  return f;
}

// Element i (row-major) as PyTorch prints it: the padded value, or for complex numbers the padded real
// part, then the imaginary part with its sign and no padding, then "j" ("1.+2.j", "0.-1.j").
struct ElementPrinter {
  Formatter f, imag_f;
  std::vector<double> vals, imag;
  bool complex = false;
  std::string operator()(int64_t i, bool pad) const {
    std::string re = pad ? f.padded(vals[i]) : f.format(vals[i]);
    if (!complex) return re;
    std::string im = imag_f.format(imag[i]) + "j";
    return re + (im[0] == '-' || im[0] == '+' ? im : "+" + im);
  }
};

void print_dim(std::string& out, const ElementPrinter& p, std::span<const int64_t> sizes,
               std::span<const int64_t> strides, int64_t base, size_t d, int indent, bool summarize) {
  if (d == sizes.size()) {
    out += p(base, true);
    return;
  }
  out += "[";
  int64_t n = sizes[d];
  bool cut = summarize && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      // PyTorch's summary marker: " ..." in a row, "..." on its own line between rows.
      out += d + 1 == sizes.size() ? " ..., " : "...,\n" + std::string(indent + d + 1, ' ');
      i = n - kEdgeItems;
    }
    print_dim(out, p, sizes, strides, base + i * strides[d], d + 1, indent, summarize);
    if (i + 1 < n) {
      if (d + 1 == sizes.size()) {
        out += ", ";
      } else {
        out += "," + std::string(sizes.size() - d - 1, '\n') + std::string(indent + d + 1, ' ');
      }
    }
  }
  out += "]";
}
}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  ElementPrinter p;
  if (is_complex(dtype())) {
    // As PyTorch: one formatter for the real parts and one for the imaginary parts.
    const DType part = dtype() == DType::kComplex64 ? DType::kFloat32 : DType::kFloat64;
    for (const std::complex<double>& z : to_vector<std::complex<double>>()) {
      p.vals.push_back(z.real());
      p.imag.push_back(z.imag());
    }
    p.complex = true;
    p.f = make_formatter(part, p.vals);
    p.imag_f = make_formatter(part, p.imag);
  } else {
    p.vals = to_vector<double>();
    p.f = make_formatter(dtype(), p.vals);
  }

  std::string out = "tensor(";
  auto strides = contiguous_strides(impl_->sizes);
  if (dim() == 0) {
    out += p(0, false);
  } else if (numel() == 0) {
    out += "[]";
    if (dim() > 1) {
      std::string s = shape_str(impl_->sizes);
      out += ", size=(" + s.substr(1, s.size() - 2) + ")";
    }
  } else {
    print_dim(out, p, impl_->sizes, strides, 0, 0, 7, numel() > kSummarizeThreshold);
  }
  if (!device().is_cpu()) out += ", device='" + device().str() + "'";
  // complex64 is the default complex dtype (it follows the default float32), so it is not named either.
  if (dtype() != DType::kFloat32 && dtype() != DType::kInt64 && dtype() != DType::kBool &&
      dtype() != DType::kComplex64) {
    out += ", dtype=torch." + std::string(dtype_name(dtype()));
  }
  if (!is_leaf()) {
    out += ", grad_fn=<" + grad_fn_name() + ">";
  } else if (requires_grad()) {
    out += ", requires_grad=True";
  }
  return out + ")";
}

}  // namespace td
