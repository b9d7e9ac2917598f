// Random sampling ops: rand, randn, randint, randperm, normal, bernoulli, multinomial, poisson (registry ops,
// so reachable by name and remotely), and the in-place fills uniform_, normal_, exponential_ (registry
// in-place ops: core/ops/inplace.cpp writes the drawn values). Every op draws from random::current_generator(): the default generator,
// or the one a GeneratorGuard installs (the C++ Generator& overloads do that around the registry call).
//
// Element i (row-major) is drawn from its own words of the op's counter groups (core/random/philox.h), so the
// result depends only on the generator state, never on the thread count or the device. rand, randn, randint,
// bernoulli, normal and the fills draw on the tensor's device (Backend::random_fill: the CPU and CUDA kernels
// run the same arithmetic, kernels/random_fill.h); randperm, multinomial and poisson draw on the host and
// copy (their loops are sequential or data-dependent).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/random/generator.h"
#include "core/tensor_impl.h"

namespace td {

namespace {
using random::ElementDraws;
using random::Generator;
using random::GeneratorGuard;
using random::GeneratorState;
using random::PhiloxStream;

// Below this many elements a fill runs on one thread.
constexpr int64_t kParallelGrain = 16384;

// ---- validation ----

void check_size(std::string_view op, const std::vector<int64_t>& size) {
  for (int64_t s : size) {
    TD_CHECK_ARG(s >= 0, "[", op, "] Trying to create tensor with negative dimension ", s, ": ",
                 shape_str(size));
  }
}

// The sampling kernels here produce the real floating dtypes (float16 and bfloat16 draw as float32 and
// round).
void check_float(std::string_view op, DType dtype) {
  TD_CHECK_ARG(is_floating(dtype), "[", op, "] not implemented for '", dtype_name(dtype), "'");
}

// Integer results are computed as int64 and cast; these are the dtypes that cast has kernels for.
void check_real(std::string_view op, DType dtype) {
  TD_CHECK_ARG(!is_complex(dtype), "[", op, "] not implemented for '", dtype_name(dtype), "'");
}

TensorOptions options_from(const Args& a, size_t dtype_slot, size_t device_slot, DType fallback) {
  TensorOptions o;
  o.dtype = a.optional_dtype(dtype_slot).value_or(fallback);
  o.device = a.is_none(device_slot) ? kCPU : Device::parse(a.string_at(device_slot));
  return o;
}

// ---- drawing ----

// Reserves the counter groups of n elements from the current generator; returns where they start.
GeneratorState reserve(int64_t n) {
  return random::current_generator().reserve(random::groups_for(static_cast<uint64_t>(n)));
}
PhiloxStream stream_of(const GeneratorState& start) { return {start.seed, start.offset}; }

// A CPU tensor of `size` and T's dtype whose element i is fn(draws of element i, i), for the ops drawn on the
// host. fn must not throw (validate first) and, when `parallel`, must be safe to run on several threads.
template <class T, class Fn>
Tensor draw(std::vector<int64_t> size, Fn fn, bool parallel = true) {
  Tensor host = empty(std::move(size), {dtype_of<T>(), kCPU});
  const int64_t n = host.numel();
  const PhiloxStream stream = stream_of(reserve(n));
  T* out = host.data<T>();
#pragma omp parallel for schedule(static) if (parallel && n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    ElementDraws d(stream, static_cast<uint64_t>(i));
    out[i] = fn(d, i);
  }
  return host;
}

// A host result cast to dtype and moved to device (a copy of the same bytes, so devices agree).
Tensor finish(const Tensor& host, DType dtype, Device device) {
  Tensor t = ops::cast(host, dtype);
  if (device.is_cpu()) return t;
  return from_buffer(t.data_ptr(), t.shape(), dtype, device);
}

// A tensor of `size`, dtype and device whose element i is f's value for element i, drawn by the device's
// kernel from counter groups reserved from the current generator. probs: float64 Bernoulli probabilities of
// `size`, contiguous on `device`, or undefined.
Tensor device_draw(const std::vector<int64_t>& size, DType dtype, Device device, RandomFill f,
                   const Tensor& probs = {}) {
  Tensor out = empty(size, {dtype, device});
  const GeneratorState start = reserve(out.numel());
  f.seed = start.seed;
  f.offset = start.offset;
  if (out.numel() > 0) {
    const auto* p = probs.defined() ? static_cast<const double*>(probs.data_ptr()) : nullptr;
    backend(device.type).random_fill(f, strided_ref(out), p, device.index);
  }
  return out;
}

// The first value of v (float64, contiguous, any device) outside [lo, hi] (NaN included) and its flat index,
// if there is one. A device tensor is tested there first: only a failing one comes to the host.
std::optional<std::pair<double, size_t>> first_outside(const Tensor& v, double lo, double hi) {
  if (!v.device().is_cpu() && v.ge(Scalar(lo)).logical_and(v.le(Scalar(hi))).all().item<bool>()) return {};
  std::vector<double> h = v.to_vector<double>();
  for (size_t i = 0; i < h.size(); ++i) {
    if (!(h[i] >= lo && h[i] <= hi)) return std::pair{h[i], i};
  }
  return {};
}

using random::standard_exponential;

// Poisson(lambda) as PyTorch and NumPy sample it: multiplication of uniforms below 10, Hoermann's transformed
// rejection (PTRS, "The transformed rejection method for generating Poisson random variables", 1993) above.
// Works in double throughout so huge rates do not overflow an integer. Uses lgamma: not thread-safe in glibc.
double sample_poisson(double lambda, ElementDraws& d) {
  if (lambda == 0) return 0;
  if (std::isinf(lambda)) return lambda;
  if (lambda < 10) {
    const double enlam = std::exp(-lambda);
    double x = 0, prod = 1;
    while (true) {
      prod *= d.uniform64();
      if (prod <= enlam) return x;
      x += 1;
    }
  }
  const double slam = std::sqrt(lambda), loglam = std::log(lambda);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  while (true) {
    const double u = d.uniform64() - 0.5, v = d.uniform64();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
        -lambda + k * loglam - std::lgamma(k + 1)) {
      return k;
    }
  }
}

// ---- front ends ----

Tensor rand_impl(const std::vector<int64_t>& size, TensorOptions o) {
  check_size("rand", size);
  check_float("rand", o.dtype);
  return device_draw(size, o.dtype, o.device, {.kind = RandomKind::kUniform, .a = 0, .b = 1});
}

Tensor randn_impl(const std::vector<int64_t>& size, TensorOptions o) {
  check_size("randn", size);
  check_float("randn", o.dtype);
  return device_draw(size, o.dtype, o.device, {.kind = RandomKind::kNormal, .a = 0, .b = 1});
}

// The C type names PyTorch's bound checks print.
std::string_view c_type_name(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "bool";
    case DType::kUInt8:
      return "unsigned char";
    case DType::kInt8:
      return "signed char";
    case DType::kInt16:
      return "short int";
    case DType::kInt32:
      return "int";
    default:
      return "long int";
  }
}

// The range of values an integral dtype holds.
std::pair<int64_t, int64_t> integral_range(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return {0, 1};
    case DType::kUInt8:
      return {0, 255};
    case DType::kInt8:
      return {-128, 127};
    case DType::kInt16:
      return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case DType::kInt32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

Tensor randint_impl(int64_t low, int64_t high, const std::vector<int64_t>& size, TensorOptions o) {
  TD_CHECK_ARG(low < high, "[randint] random_ expects 'from' to be less than 'to', but got from=", low,
               " >= to=", high);
  check_size("randint", size);
  check_real("randint", o.dtype);
  if (is_integral(o.dtype)) {
    auto [lo, hi] = integral_range(o.dtype);
    TD_CHECK_ARG(low >= lo && low <= hi, "[randint] from is out of bounds for ", c_type_name(o.dtype));
    TD_CHECK_ARG(high - 1 >= lo && high - 1 <= hi, "[randint] to - 1 is out of bounds for ",
                 c_type_name(o.dtype));
  }
  // high - low fits uint64 for any int64 pair.
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  return device_draw(size, o.dtype, o.device, {.kind = RandomKind::kRandint, .low = low, .range = range});
}

Tensor randperm_impl(int64_t n, TensorOptions o) {
  TD_CHECK_ARG(n >= 0, "[randperm] n must be non-negative, got ", n);
  TD_CHECK_ARG(o.dtype != DType::kBool, "[randperm] not implemented for 'bool'");
  check_real("randperm", o.dtype);
  if (o.dtype == DType::kFloat32) {
    TD_CHECK_ARG(n <= (int64_t{1} << 24) + 1, "[randperm] n cannot be greater than 2^24+1 for Float type.");
  } else if (o.dtype == DType::kFloat64) {
    TD_CHECK_ARG(n <= (int64_t{1} << 53) + 1, "[randperm] n cannot be greater than 2^53+1 for Double type.");
  } else {
    TD_CHECK_ARG(n == 0 || n - 1 <= integral_range(o.dtype).second,
                 "[randperm] value cannot be converted to type ", dtype_name(o.dtype),
                 " without overflow: n - 1 = ", n - 1);
  }
  // Fisher-Yates from the top: step k swaps slot k with a uniform slot in [0, k], drawn from element k's
  // blocks.
  Tensor host = empty({n}, {DType::kInt64, kCPU});
  int64_t* p = host.data<int64_t>();
  std::iota(p, p + n, int64_t{0});
  const PhiloxStream stream = stream_of(reserve(n));
  for (int64_t k = n - 1; k > 0; --k) {
    ElementDraws d(stream, static_cast<uint64_t>(k));
    std::swap(p[k], p[d.below(static_cast<uint64_t>(k) + 1)]);
  }
  return finish(host, o.dtype, o.device);
}

Tensor normal_impl(const Tensor& mean, const Tensor& std_dev) {
  // A 0-dim CPU tensor (a number) may join a tensor on another device, as in PyTorch.
  auto is_cpu_number = [](const Tensor& t) { return t.dim() == 0 && t.device().is_cpu(); };
  const Device device = is_cpu_number(mean) ? std_dev.device() : mean.device();
  TD_CHECK_ARG(mean.device() == std_dev.device() || is_cpu_number(mean) || is_cpu_number(std_dev),
               "[normal] Expected all tensors to be on the same device, but found at least two devices, ",
               mean.device().str(), " and ", std_dev.device().str(), "!");
  check_float("normal", mean.dtype());
  check_real("normal", std_dev.dtype());
  auto shape = ops::broadcast_shapes("normal", mean.sizes(), std_dev.sizes());
  const Tensor s = std_dev.to(DType::kFloat64).to(device.str()).expand(shape).contiguous();
  TD_CHECK_ARG(!first_outside(s, 0.0, std::numeric_limits<double>::infinity()),
               "[normal] normal expects all elements of std >= 0.0");
  // mean + std z in float64, then rounded once to mean's dtype, on every device alike.
  const Tensor z = device_draw(shape, DType::kFloat64, device, {.kind = RandomKind::kNormal, .a = 0, .b = 1});
  return mean.to(DType::kFloat64).to(device.str()).add(s.mul(z)).to(mean.dtype());
}

Tensor bernoulli_impl(const Tensor& self, std::optional<double> p) {
  Tensor probs;
  if (p) {
    TD_CHECK_ARG(*p >= 0.0 && *p <= 1.0, "[bernoulli] bernoulli_ expects p to be in [0, 1], but got p=", *p);
    check_real("bernoulli", self.dtype());
  } else {
    check_float("bernoulli", self.dtype());
    probs = self.to(DType::kFloat64).contiguous();
    const auto bad = first_outside(probs, 0.0, 1.0);
    TD_CHECK_ARG(!bad, "[bernoulli] expects all probabilities to be in [0, 1], but found p=", bad->first,
                 " at flat index ", bad->second);
  }
  return device_draw(self.shape(), self.dtype(), self.device(),
                     {.kind = RandomKind::kBernoulli, .a = p.value_or(0.0)}, probs);
}

Tensor multinomial_impl(const Tensor& probs, int64_t num_samples, bool replacement) {
  // PyTorch's checks, in its order.
  TD_CHECK_ARG(probs.dim() == 1 || probs.dim() == 2, "[multinomial] prob_dist must be 1 or 2 dim");
  TD_CHECK_ARG(is_floating(probs.dtype()),
               "[multinomial] multinomial only supports floating-point dtypes for input, got: ",
               dtype_name(probs.dtype()));
  check_float("multinomial", probs.dtype());
  TD_CHECK_ARG(num_samples > 0, "[multinomial] cannot sample n_sample <= 0 samples");
  const int64_t cats = probs.size(-1), rows = probs.dim() == 2 ? probs.size(0) : 1;
  TD_CHECK_ARG(replacement || num_samples <= cats,
               "[multinomial] cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  TD_CHECK_ARG(cats <= (int64_t{1} << 24), "[multinomial] number of categories cannot exceed 2^24");
  std::vector<double> w = probs.to_vector<double>();
  TD_CHECK_ARG(std::all_of(w.begin(), w.end(), [](double v) { return std::isfinite(v) && v >= 0; }),
               "[multinomial] probability tensor contains either `inf`, `nan` or element < 0");
  // Row r's cumulative weights; the last is its total.
  std::vector<double> cdf(w.size());
  for (int64_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (int64_t c = 0; c < cats; ++c) cdf[r * cats + c] = acc += w[r * cats + c];
    TD_CHECK_ARG(acc > 0, "[multinomial] invalid multinomial distribution (sum of probabilities <= 0)");
  }
  std::vector<int64_t> shape =
      probs.dim() == 2 ? std::vector<int64_t>{rows, num_samples} : std::vector{num_samples};
  Tensor host;
  if (replacement) {
    // Output element (r, s) inverts row r's CDF at a uniform of its own: the first category whose cumulative
    // weight exceeds u * total, which never lands on a zero-weight category.
    host = draw<int64_t>(shape, [&](ElementDraws& d, int64_t i) {
      const int64_t r = i / num_samples;
      const double* row = cdf.data() + r * cats;
      const double x = d.uniform64() * row[cats - 1];
      int64_t c = std::upper_bound(row, row + cats, x) - row;
      if (c == cats) {  // u * total rounded up to total: take the last category with weight
        c = cats - 1;
        while (c > 0 && w[r * cats + c] == 0) --c;
      }
      return c;
    });
  } else {
    // Without replacement, as an exponential race (Efraimidis-Spirakis): category c of row r (element r*C +
    // c) draws E ~ Exp(1) and finishes at E / w; the first num_samples finishers, in order, are distributed
    // as successive draws without replacement. Zero weights never finish (PyTorch then takes them by index).
    Tensor keys = draw<double>({rows, cats}, [&](ElementDraws& d, int64_t i) {
      return w[i] > 0 ? standard_exponential(d) / w[i] : std::numeric_limits<double>::infinity();
    });
    const double* k = keys.data<double>();
    host = empty(shape, {DType::kInt64, kCPU});
    int64_t* out = host.data<int64_t>();
    std::vector<int64_t> order(cats);
    for (int64_t r = 0; r < rows; ++r) {
      const double* key = k + r * cats;
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + num_samples, order.end(),
                        [&](int64_t a, int64_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); });
      std::copy_n(order.begin(), num_samples, out + r * num_samples);
    }
  }
  return finish(host, DType::kInt64, probs.device());
}

Tensor poisson_impl(const Tensor& rates) {
  check_float("poisson", rates.dtype());
  std::vector<double> lam = rates.to_vector<double>();
  for (double v : lam) {
    TD_CHECK_ARG(v >= 0, "[poisson] invalid Poisson rate, expected rate to be non-negative, but got ", v);
  }
  Tensor host = draw<double>(
      rates.shape(), [&](ElementDraws& d, int64_t i) { return sample_poisson(lam[i], d); },
      /*parallel=*/false);
  return finish(host, rates.dtype(), rates.device());
}

// ---- in-place fills: each returns its values in self's shape, dtype and device; apply_inplace writes them ----

// The largest finite value of a floating dtype, and PyTorch's names for its C++ type.
double float_max(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return 65504.0;
    case DType::kBFloat16: return float(BFloat16::from_bits(0x7f7f));
    case DType::kFloat32: return std::numeric_limits<float>::max();
    default: return std::numeric_limits<double>::max();
  }
}
std::string_view float_c_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return "c10::Half";
    case DType::kBFloat16: return "c10::BFloat16";
    case DType::kFloat32: return "float";
    default: return "double";
  }
}
std::string_view float_limits_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return "Half";
    case DType::kBFloat16: return "BFloat16";
    case DType::kFloat32: return "Float";
    default: return "Double";
  }
}

Tensor uniform_impl(const Tensor& self, double from, double to) {
  check_float("uniform_", self.dtype());
  const double max = float_max(self.dtype());
  TD_CHECK_ARG(from >= -max && from <= max, "[uniform_] from is out of bounds for ",
               float_c_name(self.dtype()));
  TD_CHECK_ARG(to >= -max && to <= max, "[uniform_] to is out of bounds for ", float_c_name(self.dtype()));
  TD_CHECK_ARG(from <= to, "[uniform_] uniform_ expects to return a [from, to) range, but found from=", from,
               " > to=", to);
  TD_CHECK_ARG(to - from <= max, "[uniform_] uniform_ expects to-from <= std::numeric_limits<",
               float_limits_name(self.dtype()), ">::max(), but found to=", to,
               " and from=", from, " which result in to-from to exceed the limit");
  return device_draw(self.shape(), self.dtype(), self.device(), {.kind = RandomKind::kUniform, .a = from, .b = to});
}

Tensor normal_fill_impl(const Tensor& self, double mean, double std_dev) {
  check_float("normal_", self.dtype());
  TD_CHECK_ARG(std_dev >= 0.0, "[normal_] normal expects std >= 0.0, but found std ", std_dev);
  return device_draw(self.shape(), self.dtype(), self.device(),
                     {.kind = RandomKind::kNormal, .a = mean, .b = std_dev});
}

Tensor exponential_impl(const Tensor& self, double lambd) {
  check_float("exponential_", self.dtype());
  TD_CHECK_ARG(lambd >= 0.0, "[exponential_] exponential_ expects lambda >= 0.0, but found lambda=", lambd);
  return device_draw(self.shape(), self.dtype(), self.device(), {.kind = RandomKind::kExponential, .a = lambd});
}

Tensor run(std::string_view op, std::vector<Value> args) {
  return call_op(op, std::move(args))[0];
}

Tensor with_grad_flag(Tensor t, const TensorOptions& o) {
  if (o.requires_grad) t.requires_grad_();
  return t;
}
}  // namespace

void register_random_ops(Registry& r) {
  r.def("uniform_(Tensor self, float from=0, float to=1) -> Tensor")
      .doc("fills self with uniform samples in [from, to)")
      .inplace([](const Args& a) { return uniform_impl(a.tensor(0), a.float_at(1), a.float_at(2)); })
      .no_grad();  // no golden values (another generator than PyTorch's); zero gradients, as in PyTorch
  r.def("normal_(Tensor self, float mean=0, float std=1) -> Tensor")
      .doc("fills self with normal samples")
      .inplace([](const Args& a) { return normal_fill_impl(a.tensor(0), a.float_at(1), a.float_at(2)); })
      .no_grad();  // no golden values (another generator than PyTorch's); zero gradients, as in PyTorch
  r.def("exponential_(Tensor self, float lambd=1) -> Tensor")
      .doc("fills self with exponential samples of rate lambd")
      .inplace([](const Args& a) { return exponential_impl(a.tensor(0), a.float_at(1)); })
      .no_grad();  // no golden values (another generator than PyTorch's); zero gradients, as in PyTorch
  r.def("rand(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("uniform samples in [0, 1) from the default generator")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {rand_impl(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("randn(int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("standard normal samples from the default generator")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {randn_impl(a.ints(0), options_from(a, 1, 2, default_float_dtype()))};
      });
  r.def("randint(int low, int high, int[] size, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("uniform integers in [low, high), int64 by default")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {randint_impl(a.int_at(0), a.int_at(1), a.ints(2), options_from(a, 3, 4, DType::kInt64))};
      });
  r.def("randperm(int n, *, ScalarType? dtype=None, Device? device=None) -> Tensor")
      .doc("a random permutation of 0..n-1, int64 by default")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {randperm_impl(a.int_at(0), options_from(a, 1, 2, DType::kInt64))};
      });
  // Every sampler is outside autograd: outputs never require grad. PyTorch instead gives normal, bernoulli
  // (without p) and poisson a node with zero gradients (derivatives.yaml), so its outputs require grad when
  // an input does; ours do not, and a backward through them fails as through any constant. (Recording zero
  // gradients would also need golden fixtures, which random values cannot have.)
  //
  // PyTorch's normal.Tensor_Tensor; the float forms are C++ overloads that wrap the number as a 0-dim tensor.
  r.def("normal(Tensor mean, Tensor std) -> Tensor")
      .doc("normal samples with elementwise mean and std (broadcast); the dtype is mean's")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> { return {normal_impl(a.tensor(0), a.tensor(1))}; });
  // PyTorch's bernoulli and bernoulli.p as one op.
  r.def("bernoulli(Tensor self, float? p=None) -> Tensor")
      .doc("1 with probability self (or p, if given) per element, else 0, in self's dtype")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {bernoulli_impl(a.tensor(0), a.is_none(1) ? std::nullopt : std::optional(a.float_at(1)))};
      });
  r.def("multinomial(Tensor self, int num_samples, bool replacement=False) -> Tensor")
      .doc("category indices drawn by the weights in each row of a 1-d or 2-d tensor")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {multinomial_impl(a.tensor(0), a.int_at(1), a.bool_at(2))};
      });
  r.def("poisson(Tensor self) -> Tensor")
      .doc("Poisson samples with rates self, in self's dtype")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> { return {poisson_impl(a.tensor(0))}; });
}

namespace random {

Tensor rand(std::vector<int64_t> size, TensorOptions options) {
  return with_grad_flag(run("rand", {std::move(size), options.dtype, options.device.str()}), options);
}
Tensor rand(std::vector<int64_t> size, Generator& gen, TensorOptions options) {
  GeneratorGuard guard(gen);
  return rand(std::move(size), options);
}

Tensor randn(std::vector<int64_t> size, TensorOptions options) {
  return with_grad_flag(run("randn", {std::move(size), options.dtype, options.device.str()}), options);
}
Tensor randn(std::vector<int64_t> size, Generator& gen, TensorOptions options) {
  GeneratorGuard guard(gen);
  return randn(std::move(size), options);
}

Tensor randint(int64_t low, int64_t high, std::vector<int64_t> size, TensorOptions options) {
  return with_grad_flag(
      run("randint", {Scalar(low), Scalar(high), std::move(size), options.dtype, options.device.str()}),
      options);
}
Tensor randint(int64_t low, int64_t high, std::vector<int64_t> size, Generator& gen, TensorOptions options) {
  GeneratorGuard guard(gen);
  return randint(low, high, std::move(size), options);
}

Tensor randperm(int64_t n, TensorOptions options) {
  return with_grad_flag(run("randperm", {Scalar(n), options.dtype, options.device.str()}), options);
}
Tensor randperm(int64_t n, Generator& gen, TensorOptions options) {
  GeneratorGuard guard(gen);
  return randperm(n, options);
}

Tensor normal(const Tensor& mean, const Tensor& std_dev) {
  return run("normal", {mean, std_dev});
}
Tensor normal(const Tensor& mean, const Tensor& std_dev, Generator& gen) {
  GeneratorGuard guard(gen);
  return normal(mean, std_dev);
}
Tensor normal(const Tensor& mean, double std_dev) {
  TD_CHECK_ARG(std_dev >= 0.0, "[normal] normal expects std >= 0.0, but found std ", std_dev);
  TD_CHECK_ARG(mean.defined(), "[normal] argument 'mean' must be Tensor, not an undefined tensor");
  return normal(mean, scalar_tensor(std_dev, mean.dtype(), mean.device()));
}
Tensor normal(double mean, const Tensor& std_dev) {
  TD_CHECK_ARG(std_dev.defined(), "[normal] argument 'std' must be Tensor, not an undefined tensor");
  DType dtype = is_floating(std_dev.dtype()) ? std_dev.dtype() : default_float_dtype();
  return normal(scalar_tensor(mean, dtype, std_dev.device()), std_dev);
}
Tensor normal(double mean, double std_dev, std::vector<int64_t> size, TensorOptions options) {
  return normal(mean, std_dev, std::move(size), current_generator(), options);
}
Tensor normal(double mean, double std_dev, std::vector<int64_t> size, Generator& gen, TensorOptions options) {
  TD_CHECK_ARG(std_dev >= 0.0, "[normal] normal expects std >= 0.0, but found std ", std_dev);
  check_size("normal", size);
  check_float("normal", options.dtype);
  Tensor t = empty(std::move(size), {options.dtype, options.device});
  {
    autograd::NoGradGuard no_grad;
    normal_(t, mean, std_dev, gen);
  }
  return with_grad_flag(t, options);
}

Tensor bernoulli(const Tensor& p) {
  return run("bernoulli", {p, None{}});
}
Tensor bernoulli(const Tensor& p, Generator& gen) {
  GeneratorGuard guard(gen);
  return bernoulli(p);
}
Tensor bernoulli(const Tensor& self, double p) {
  return run("bernoulli", {self, Scalar(p)});
}
Tensor bernoulli(const Tensor& self, double p, Generator& gen) {
  GeneratorGuard guard(gen);
  return bernoulli(self, p);
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement) {
  return run("multinomial", {probs, Scalar(num_samples), Scalar(replacement)});
}
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator& gen) {
  GeneratorGuard guard(gen);
  return multinomial(probs, num_samples, replacement);
}

Tensor poisson(const Tensor& rates) {
  return run("poisson", {rates});
}
Tensor poisson(const Tensor& rates, Generator& gen) {
  GeneratorGuard guard(gen);
  return poisson(rates);
}

Tensor uniform_(const Tensor& self, double from, double to) { return run("uniform_", {self, from, to}); }
Tensor uniform_(const Tensor& self, double from, double to, Generator& gen) {
  GeneratorGuard guard(gen);
  return uniform_(self, from, to);
}
Tensor normal_(const Tensor& self, double mean, double std_dev) { return run("normal_", {self, mean, std_dev}); }
Tensor normal_(const Tensor& self, double mean, double std_dev, Generator& gen) {
  GeneratorGuard guard(gen);
  return normal_(self, mean, std_dev);
}
Tensor exponential_(const Tensor& self, double lambd) { return run("exponential_", {self, lambd}); }
Tensor exponential_(const Tensor& self, double lambd, Generator& gen) {
  GeneratorGuard guard(gen);
  return exponential_(self, lambd);
}

}  // namespace random

}  // namespace td
