// The small interface every device backend implements (kernels/cpu, kernels/cuda, or the no-CUDA stub).
// Front ends (core/ops/*) validate, promote, broadcast and allocate; backends only compute, and may assume
// their arguments are valid. An entry a backend lacks throws "[op] has no <Device> implementation".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/device.h"
#include "core/dtype.h"
#include "core/ops/unary_list.h"
#include "core/scalar.h"

namespace td {

/// A strided view of raw memory on the backend's device; strides count elements.
struct StridedRef {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::span<const int64_t> sizes;
  std::span<const int64_t> strides;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
  }
};

/// Elementwise binary operations with two inputs of the output's dtype.
enum class BinaryOp : uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMaximum,
  kMinimum,
  kPow,
  kFmod,
  kRemainder,    // Python's %: the sign of the divisor
  kFloorDivide,  // rounds toward -inf
  kAtan2,
  kBitwiseAnd,
  kBitwiseOr,
  kBitwiseXor,
};
/// The op name a BinaryOp reports in errors.
std::string_view binary_op_name(BinaryOp op);

/// Elementwise ops with a bool result: out[i] = a[i] (op) b[i], a and b of one dtype.
enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kLogicalAnd, kLogicalOr, kLogicalXor };
std::string_view compare_op_name(CompareOp op);

/// Reductions over dims (reduce) and along one dim (scan).
enum class ReduceOp : uint8_t { kSum, kProd, kMax, kMin };
std::string_view reduce_op_name(ReduceOp op);

/// How scatter writes src into out: kAssign overwrites (scatter); the others combine with what is there
/// (scatter_add, and scatter_reduce's sum/prod/amax/amin). Max/min propagate NaN.
enum class ScatterMode : uint8_t { kAssign, kAdd, kMul, kMax, kMin };
/// The op name a ScatterMode reports in errors ("scatter", "scatter_add", "scatter_reduce").
std::string_view scatter_mode_name(ScatterMode mode);

enum class UnaryOp : uint8_t {
#define TD_UNARY_ENUM(Name, name) k##Name,
  TD_FLOAT_UNARY_OPS(TD_UNARY_ENUM) TD_ANY_UNARY_OPS(TD_UNARY_ENUM) TD_PREDICATE_UNARY_OPS(TD_UNARY_ENUM)
#undef TD_UNARY_ENUM
};
/// The op's PyTorch name ("exp", "logical_not").
std::string_view unary_op_name(UnaryOp op);

/// How a BLAS sees one matrix of a strided [rows, cols] view: transposed or not, and its leading dimension.
struct MatrixLayout {
  bool valid = false;
  bool transposed = false;  // column-major in memory
  int64_t ld = 1;
};

/// The BLAS layout of a rows x cols matrix with strides (rs, cs); invalid if neither dim has unit stride
/// with a leading dimension BLAS accepts (the front end then makes the matrix contiguous).
inline MatrixLayout gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= c1)) return {true, false, rows == 1 ? c1 : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= r1)) return {true, true, cols == 1 ? r1 : cs};
  return {};
}

/// The sliding window of a convolution over its trailing spatial dims (1 to 3): per dim, the input size
/// `in`, kernel, stride, padding (both sides), dilation, and the number of window positions `out`
/// (floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, at least 1).
struct ConvWindow {
  static constexpr int kMaxDims = 3;
  int dims = 0;
  int64_t in[kMaxDims] = {}, kernel[kMaxDims] = {}, out[kMaxDims] = {};
  int64_t stride[kMaxDims] = {}, padding[kMaxDims] = {}, dilation[kMaxDims] = {};
  int64_t in_numel() const { return prod(in); }
  int64_t kernel_numel() const { return prod(kernel); }
  int64_t out_numel() const { return prod(out); }

 private:
  int64_t prod(const int64_t* v) const {
    int64_t n = 1;
    for (int d = 0; d < dims; ++d) n *= v[d];
    return n;
  }
};

/// The hyper-parameters of one torch.optim.SGD update (Backend::sgd_momentum_step).
struct SgdStep {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
};

/// One parameter of Backend::sgd_momentum_steps: its tensors, and whether the backend has updated it.
struct SgdTensors {
  StridedRef param, grad, buf;
  bool done = false;
};

/// One parameter of Backend::adam_steps: its tensors (max_exp_avg_sq's data null without amsgrad), and
/// whether the backend has updated it.
struct AdamTensors {
  StridedRef param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq;
  bool done = false;
};

/// The hyper-parameters of one torch.optim.Adam or AdamW update (Backend::adam_step); step_size and
/// bias_correction2_sqrt are the step's lr / (1 - beta1^step) and sqrt(1 - beta2^step).
struct AdamStep {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0, step_size = 0, bias_correction2_sqrt = 1;
  bool decoupled = false, amsgrad = false, maximize = false;
};

/// Batch norm's per-channel arithmetic between its passes over the input (Backend::batch_norm_channels):
/// [C] vectors of the input's dtype (any stride; null data: absent), each channel computed in double and
/// rounded once per output (kernels/channel_passes.h's batch_norm_channel, shared by the backends).
///  - Forward (grad false): mean and var are `mean` and sum_sq / count in training, running_mean and
///    running_var otherwise; invstd = 1 / sqrt(var + eps), scale = invstd * weight (invstd without weight),
///    shift = bias - mean * scale (without bias: -mean * scale). Training also updates, in place,
///    running_mean = momentum * mean + (1 - momentum) * running_mean and running_var the same way with the
///    unbiased sum_sq / (count - 1), where present.
///  - Backward (grad true; training's gradient), from sum_g = sum(g) and sum_gc = sum(g * (x - mean)) over
///    each channel and the saved mean and invstd: with k = invstd * weight (invstd without weight) and
///    sum_gxhat = sum_gc * invstd, c1 = -k * sum_gxhat / count - grad_invstd * invstd^2 / count and
///    c0 = -k * sum_g / count + grad_mean / count (grad_mean, grad_invstd: what reached the saved mean and
///    invstd; absent: 0); outputs k, cx = c1 * invstd and shift = c0 - cx * mean, so that
///    gx = k * g + cx * x + shift, and grad_weight = sum_gxhat, grad_bias = sum_g where present.
struct BatchNormChannels {
  bool grad = false, training = true;
  int64_t channels = 0;
  double count = 1, eps = 0, momentum = 0;
  StridedRef mean, sum_sq, weight, bias, running_mean, running_var;  // forward inputs (running: updated)
  StridedRef invstd, scale, shift;                                    // forward outputs
  StridedRef sum_g, sum_gc, grad_mean, grad_invstd;                   // backward inputs (+ mean, invstd, weight)
  StridedRef k, cx, grad_weight, grad_bias;                           // backward outputs (+ shift)
};

/// A training batch normalization in a vendor library (Backend::library_batch_norm and its backward). x, y, g
/// and gx are contiguous [N, C, ...] of at most 5 dims; weight, bias, the running and the saved statistics
/// are contiguous [C] of x's dtype. Forward: y; save_mean and save_invstd (1 / sqrt(biased var + eps)) of the
/// batch; running_mean and running_var (null data: none) moved momentum of the way to the batch's mean and
/// unbiased variance. Backward: gx, grad_weight and grad_bias for g, from x, weight and the saved statistics.
struct BatchNormLibrary {
  StridedRef x, y, weight, bias, running_mean, running_var, save_mean, save_invstd;  // forward
  StridedRef g, gx, grad_weight, grad_bias;  // backward (+ x, weight, save_mean, save_invstd)
  double eps = 0, momentum = 0;
};

/// One spatial dim of a pooling: `in` positions pooled into `out`. Output o reads positions
/// o * stride - pad + k * dilation for k < kernel that lie inside [0, in) (a regular window), or, when the
/// geometry is adaptive, [floor(o * in / out), ceil((o + 1) * in / out)).
struct PoolDim {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, pad = 0, dilation = 1;
};

/// Pooling of contiguous planes [planes, D, H, W] into [planes, OD, OH, OW] (2-d and 1-d poolings have
/// leading dims of size 1). Average pooling divides by divisor_override when nonzero, else by the window's
/// size clipped at the padded input (count_include_pad) or at the input.
struct PoolGeometry {
  int64_t planes = 0;
  PoolDim dims[3];  // D, H, W
  bool adaptive = false;
  bool count_include_pad = true;
  int64_t divisor_override = 0;
  int64_t in_numel() const { return dims[0].in * dims[1].in * dims[2].in; }
  int64_t out_numel() const { return dims[0].out * dims[1].out * dims[2].out; }
};

/// One counter of a caching allocator, as torch.cuda.memory_stats reports it: its current value, the highest
/// it reached, and the sums of its increases and decreases.
struct MemoryStat {
  int64_t current = 0;
  int64_t peak = 0;
  int64_t allocated = 0;
  int64_t freed = 0;
  void increase(int64_t n) {
    current += n;
    allocated += n;
    if (current > peak) peak = current;
  }
  void decrease(int64_t n) {
    current -= n;
    freed += n;
  }
};

/// The pools of PyTorch's StatType: every block, blocks of the small pool (requests up to 1 MiB), of the large.
enum MemoryPoolIndex : size_t { kAllPools = 0, kSmallPool = 1, kLargePool = 2 };
using MemoryStatArray = std::array<MemoryStat, 3>;

/// A device's memory as its caching allocator sees it (the counters of torch.cuda.memory_stats).
struct MemoryStats {
  // The main counters, as the allocator's per-pool ones below give them (kept for short reads).
  int64_t allocated = 0;       // allocated_bytes[kAllPools].current: bytes in live blocks (rounded up to 512)
  int64_t reserved = 0;        // reserved_bytes[kAllPools].current: live blocks and the idle cache
  int64_t peak_allocated = 0;  // allocated_bytes[kAllPools].peak
  int64_t peak_reserved = 0;   // reserved_bytes[kAllPools].peak
  int64_t alloc_requests = 0;
  int64_t cache_hits = 0;      // requests served from the cache, without a device allocation
  int64_t segments = 0;        // segment[kAllPools].current: device allocations held
  int64_t alloc_retries = 0;   // device allocations retried after releasing the idle cache
  int64_t ooms = 0;            // requests refused for lack of memory
  // PyTorch's per-pool counters, by MemoryPoolIndex. allocated_bytes/allocation: blocks handed out and not
  // freed; active_bytes/active: those plus freed blocks still waiting for other streams' events;
  // reserved_bytes/segment: device allocations; inactive_split_bytes/inactive_split: idle blocks cut from a
  // segment that is partly in use (they cannot be released). Peaks of the flat fields and these restart
  // together (reset_peak_memory_stats).
  MemoryStatArray allocated_bytes{}, active_bytes{}, reserved_bytes{}, inactive_split_bytes{};
  MemoryStatArray allocation{}, active{}, segment{}, inactive_split{};
};

class DeviceRuntime;  // core/device_runtime.h

/// The discrete Fourier transforms of Backend::fft: complex to complex, real to complex (keeping the
/// non-negative frequencies of the last transformed dim, n / 2 + 1 of them), and complex to real (from them).
enum class FftKind : uint8_t { kC2C, kR2C, kC2R };

/// What Backend::random_fill draws for each element (core/random/philox.h gives the layout and transforms).
enum class RandomKind : uint8_t {
  kUniform,      // in [a, b): 24 random bits (one word) below float64, 53 (two words) for float64
  kNormal,       // a + b z, z standard normal by Box-Muller in float64 (four words)
  kExponential,  // Exp(rate a) in float64, inf for rate 0 (two words)
  kBernoulli,    // 1 if a float64 uniform (two words) is below p (probs[i], or a), else 0
  kRandint,      // low + a uniform integer in [0, range) (two words, more on a rare rejection)
};

/// One op's random fill: the kind, its parameters and the generator state the op reserved (its offset is
/// the first of the op's counter groups).
struct RandomFill {
  RandomKind kind = RandomKind::kUniform;
  uint64_t seed = 0, offset = 0;
  double a = 0, b = 1;
  int64_t low = 0;
  uint64_t range = 1;
};

/// One device type's kernels. Every method but the memory ones has a default that throws UNIMPLEMENTED.
class Backend {
 public:
  virtual ~Backend() = default;
  /// "CPU" or "CUDA", as used in "has no CUDA implementation".
  virtual std::string_view name() const = 0;
  /// Whether a device of this type can be used at all (CUDA: driver present and a device found).
  virtual bool is_available() const { return true; }
  virtual int device_count() const { return 1; }
  /// The device's marketing name, e.g. "NVIDIA H100 80GB HBM3".
  virtual std::string device_name(int index) const { return std::string(name()); }

  /// Allocates nbytes on device `index`; throws RESOURCE_EXHAUSTED with the sizes when it cannot.
  virtual void* allocate(size_t nbytes, int index) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, int index) = 0;
  /// Copies nbytes between this device and host memory (both contiguous).
  virtual void copy_to_host(void* host_dst, const void* src, size_t nbytes, int index) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t nbytes, int index) = 0;
  /// Page-locked host memory (Tensor.pin_memory), which the device can copy to and from without the host
  /// waiting; throws FAILED_PRECONDITION where the backend has none (the CPU, no GPU).
  virtual void* allocate_pinned(size_t nbytes);
  virtual void deallocate_pinned(void* ptr) {}
  /// Queues a copy of nbytes between host memory inside the pinned block `pinned_block` (from
  /// allocate_pinned) and device `index` on the current stream, and returns without waiting for it
  /// (non_blocking=True); the pinned block is not handed out again before the copy has run. False, having
  /// done nothing, where the backend cannot (the caller then copies and waits).
  virtual bool copy_async(void* dst, const void* src, size_t nbytes, bool to_host, void* pinned_block, int index) {
    return false;
  }
  /// Waits until every kernel queued on the device is done.
  virtual void synchronize(int index) {}
  /// The allocator's counters for device `index` (zeros for a backend without a caching allocator).
  virtual MemoryStats memory_stats(int index) const { return {}; }
  /// Releases the allocator's idle cache on device `index` to the device.
  virtual void empty_cache(int index) {}
  virtual void reset_peak_memory_stats(int index) {}
  /// Caps the bytes the allocator may reserve on device `index` (0: no cap).
  virtual void set_memory_limit(size_t bytes, int index) {}
  /// {free, total} bytes of device `index`.
  virtual std::pair<size_t, size_t> memory_info(int index) const { return {0, 0}; }
  /// The device type's current device, streams and events; nullptr where it has none (the CPU, a build
  /// without CUDA, a machine without a GPU).
  virtual DeviceRuntime* runtime() { return nullptr; }

  /// dst[i] = cast(src[i]) over dst's shape; src is already broadcast to that shape (stride 0 where expanded).
  virtual void copy(const StridedRef& dst, const StridedRef& src, int index);
  /// dst[i] = value.
  virtual void fill(const StridedRef& dst, const Scalar& value, int index);
  /// out = a (op) b, all three of one dtype and one shape (inputs broadcast by strides); for kAdd/kSub the
  /// second operand is scaled by alpha first (PyTorch's add(a, b, alpha=...)).
  virtual void binary(BinaryOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b,
                      const Scalar& alpha, int index);
  /// out = op(in); out and in share a dtype except for predicates, whose out is bool.
  virtual void unary(UnaryOp op, const StridedRef& out, const StridedRef& in, int index);
  /// out (bool) = a (op) b, a and b of one dtype, broadcast by strides.
  virtual void compare(CompareOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b, int index);
  /// out = cond ? a : b, cond bool, out/a/b of one dtype, all broadcast by strides.
  virtual void where(const StridedRef& out, const StridedRef& cond, const StridedRef& a, const StridedRef& b,
                     int index);
  /// out[k...] = op over the last `reduced` dims of in[k..., r...]; out has in's leading dims and in's dtype.
  /// Max/min propagate NaN. The front end rejects empty max/min.
  virtual void reduce(ReduceOp op, const StridedRef& out, const StridedRef& in, int reduced, int index);
  /// values[k...], indices[k...] = the max (is_max) or min of in[k..., :] over its last dim and the first
  /// index holding it; a NaN counts as the extreme, as in PyTorch. indices are int64.
  virtual void arg_reduce(bool is_max, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
                          int index);
  /// out = running sum or product (op) of in along its last dim; out and in share shape and dtype.
  virtual void scan(ReduceOp op, const StridedRef& out, const StridedRef& in, int index);
  /// out[p] = in[p with dim replaced by index[p]], over out's shape; index is int64 with out's shape (possibly
  /// broadcast by strides) and every value already checked to lie in [0, in.sizes[dim]).
  virtual void gather(const StridedRef& out, const StridedRef& in, const StridedRef& index, int dim, int device);
  /// out[q] = src[p] (kAssign) or out[q] = out[q] (mode) src[p], with q = p with dim replaced by index[p], for
  /// every p of index's shape; index values are checked. kAssign with duplicate indices leaves one of the
  /// written values; the combining modes fold every one in (in an unspecified order on CUDA).
  virtual void scatter(ScatterMode mode, const StridedRef& out, const StridedRef& index, const StridedRef& src,
                       int dim, int device);
  /// Sorts every row of `in` along its last dim, stably: values gets the row's first k elements in order and
  /// indices (int64) their positions in the row, where k <= n is the last size of values and indices (their
  /// other sizes are in's); any strides. NaN counts as the largest value (last ascending, first descending),
  /// -0.0 equals 0.0, as in PyTorch.
  virtual void sort(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
                    int index);
  /// out = softmax (or log_softmax when is_log) of in along the middle dim of [outer, n, inner] views, both
  /// contiguous and of one floating dtype (float16 and bfloat16 compute in float); n > 0. Rows holding NaN
  /// give NaN, as in PyTorch.
  virtual void softmax(bool is_log, const StridedRef& out, const StridedRef& in, int index);
  /// Batched matrix product: out[b] = a[b] @ b[b] for 3-d views [B, M, K] x [B, K, N] -> [B, M, N]. out is
  /// contiguous; each matrix of a and b has a unit stride in one of its two dims.
  virtual void gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b, int index);
  /// Unfolds the windows of `in` ([B, C, spatial...], any strides) into col, contiguous [C, K, B, L] (K the
  /// kernel positions, L the window positions, both row-major over the spatial dims):
  /// col[c, k, b, l] = in[b, c, l * stride + k * dilation - padding], 0 where that falls in the padding.
  virtual void im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w, int index);
  /// The adjoint of im2col: out ([B, C, spatial...], contiguous) = the sum, at each element, of the col
  /// entries im2col would have read from it (0 where none).
  virtual void col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w, int index);
  // A vendor library's convolutions (oneDNN on the CPU), for float32 contiguous tensors: x [N, C, in...],
  // w [Cout, C / groups, kernel...], y [N, Cout, out...] over the window w (padding on both sides). The weight
  // and its gradient may also be strided views that do not overlap themselves, where the library takes them.
  // Each returns false, having done nothing, where the backend has no library kernel for the case; the
  // caller then takes im2col + GEMM, which stays the reference.
  /// y = conv(x, w) + bias (bias has null data when absent).
  virtual bool library_conv(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                            const ConvWindow& win, int64_t groups, int index);
  /// gx = the gradient of conv(x, w) w.r.t. x for the output gradient gy (a transposed convolution).
  virtual bool library_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                                           const ConvWindow& win, int64_t groups, int index);
  /// gw (and gb, unless its data is null) = the gradients of conv(x, w) + b w.r.t. w and b for gy.
  virtual bool library_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                            const StridedRef& gy, const ConvWindow& win, int64_t groups, int index);
  /// A training batch norm's forward and backward in a vendor library (cuDNN on CUDA; BatchNormLibrary says
  /// what each reads and writes). False, having done nothing, where the backend has no library kernel for
  /// the case; the caller then takes its fused channel passes.
  virtual bool library_batch_norm(const BatchNormLibrary& p, int index);
  virtual bool library_batch_norm_backward(const BatchNormLibrary& p, int index);
  /// The gradients of conv(x, w) + b for gy in one call: gx (unless its data is null) as
  /// library_conv_backward_input, gw and gb (unless their data is null) as library_conv_backward_weight. A
  /// library can share work between the two (oneDNN: one reorder of gy). The default runs the two calls.
  virtual bool library_conv_backward(const StridedRef& gx, const StridedRef& gw, const StridedRef& gb,
                                     const StridedRef& x, const StridedRef& gy, const StridedRef& w,
                                     const ConvWindow& win, int64_t groups, int index);
  /// One torch.optim.SGD update with momentum of one parameter, past its first step (PyTorch 1.13's
  /// _single_tensor_sgd in one pass, with the same operations in the same order, each product and sum
  /// rounded in the element type: no fused multiply-add): d = grad (negated when maximize), plus
  /// weight_decay * param when weight_decay is not 0; buf = buf * momentum + (1 - dampening) * d;
  /// d = nesterov ? d + momentum * buf : buf; param = param + (-lr) * d. param, grad and buf contiguous, of
  /// one shape and dtype. False, having done nothing, where the backend has no such kernel for the case; the
  /// caller then runs those ops one at a time.
  virtual bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf,
                                 const SgdStep& step, int index);
  /// sgd_momentum_step on many parameters with one set of hyper-parameters (torch.optim's foreach update):
  /// the backend updates the ones it takes, in as few launches as it can, and marks them done; the caller
  /// runs the ops for the others. By default, sgd_momentum_step on each in turn.
  virtual void sgd_momentum_steps(std::span<SgdTensors> params, const SgdStep& step, int index);
  /// One torch.optim.Adam (or, decoupled, AdamW) update of one parameter in one pass, with the operations of
  /// core/optim/adam.cpp's op-by-op update in their order, each rounded in the element type (no fused
  /// multiply-add): AdamW scales param by 1 - lr * weight_decay; Adam adds weight_decay * param to the
  /// gradient (negated when maximize); exp_avg = exp_avg * beta1 + (1 - beta1) * d; exp_avg_sq =
  /// exp_avg_sq * beta2 + (d * (1 - beta2)) * d; with amsgrad max_exp_avg_sq = maximum(itself, exp_avg_sq);
  /// param += (exp_avg * -step_size) / (sqrt(exp_avg_sq or max_exp_avg_sq) / bias_correction2_sqrt + eps).
  /// Every tensor contiguous, of one shape and dtype (max_exp_avg_sq null without amsgrad). False, having
  /// done nothing, where the backend has no such kernel for the case.
  virtual bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg,
                         const StridedRef& exp_avg_sq, const StridedRef& max_exp_avg_sq, const AdamStep& step,
                         int index);
  /// adam_step on many parameters with one set of hyper-parameters (one step count): as sgd_momentum_steps.
  virtual void adam_steps(std::span<AdamTensors> params, const AdamStep& step, int index);
  /// out = grad where y > threshold, else 0 (ReLU's and threshold's backward in one pass); out, grad and y of
  /// one shape and dtype. False, having done nothing, where the backend has no such kernel for the dtype.
  virtual bool threshold_backward(const StridedRef& out, const StridedRef& grad, const StridedRef& y, double threshold,
                                  int index);
  /// Batch norm's per-channel passes over contiguous [N, C, ...] float or double tensors. channel_sums:
  /// sum1[c] = the sum of a over channel c, sum2[c] = the sum of a * (b - center[c]), or of (a - center[c])^2
  /// when b has null data (either output may have null data: not computed), accumulated in double.
  /// channel_affine: out = a[c] * g + b[c] * x + d[c] (g with null data: b[c] * x + d[c]), rounded in the
  /// element type in that order. Each returns false, having done nothing, where the backend has no such
  /// kernel or the case is not covered; the caller then composes the same arithmetic from ops.
  virtual bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                            const StridedRef& center, int index);
  virtual bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                              const StridedRef& b, const StridedRef& d, int index);
  /// One LSTM cell's elementwise part (PyTorch's _thnn_fused_lstm_cell; kernels/lstm_cell.h): from
  /// input_gates and hidden_gates [B, 4H] (gates i, f, g, o), biases [4H] (null data: none) and cx [B, H],
  /// hy and cy [B, H] and workspace [B, 4H] (the activated gates, for the backward). lstm_cell_backward:
  /// grad_gates [B, 4H] (both gate inputs' gradient) and grad_cx [B, H] from grad_hy, grad_cy and
  /// grad_workspace (null data: zero), cx, cy and workspace. Contiguous float or double tensors of one dtype; each returns false, having
  /// done nothing, otherwise.
  virtual bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
                         const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
                         const StridedRef& hidden_bias, const StridedRef& cx, int index);
  virtual bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                                  const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                                  const StridedRef& cy,
                                  const StridedRef& workspace, int index);
  /// One GRU cell's elementwise part (PyTorch's _thnn_fused_gru_cell; kernels/gru_cell.h): from input_gates
  /// and hidden_gates [B, 3H] (gates r, z, n), biases [3H] (null data: none) and hx [B, H], hy [B, H] and
  /// workspace [B, 5H] (r, z, n, hx and the n gate's hidden part, for the backward). gru_cell_backward: both
  /// gate inputs' gradients and hx's from grad_hy and the workspace. Contiguous float or double tensors of
  /// one dtype; each returns false, having done nothing, otherwise.
  virtual bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
                        const StridedRef& hidden_gates, const StridedRef& input_bias,
                        const StridedRef& hidden_bias, const StridedRef& hx, int index);
  virtual bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                                 const StridedRef& grad_hx, const StridedRef& grad_hy,
                                 const StridedRef& workspace, int index);
  /// Batch norm's per-channel arithmetic (BatchNormChannels), one small kernel instead of a dozen ops on
  /// [C] vectors. False, having done nothing, where the backend has no such kernel for the dtype (float and
  /// double are covered, kernels/channel_passes.h).
  virtual bool batch_norm_channels(const BatchNormChannels& p, int index);
  /// Unnormalized discrete Fourier transforms of the last `signal_ndim` dims of in into out, for every index
  /// of their leading (batch) dims, which in and out share: the exponent's sign is -1 when forward (always
  /// for kR2C) and +1 otherwise (always for kC2R). in and out are contiguous; the signal sizes are out's
  /// (in's for kR2C), whose last is n while the complex side of kR2C and kC2R holds n / 2 + 1 there.
  /// complex64 goes with float32, complex128 with float64. kC2R may overwrite in (FFTW and cuFFT do).
  virtual void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim,
                   int index);
  /// out[i] = fill's value for element i (row-major) of the op, converted to out's dtype (any real dtype) as a
  /// cast converts a float64 (an int64 for kRandint). out is contiguous; probs is null or, for kBernoulli,
  /// contiguous float64 probabilities of out's shape, each in [0, 1].
  virtual void random_fill(const RandomFill& fill, const StridedRef& out, const double* probs, int index);
  /// Max pooling: out[p, o] = the max of plane p's window o, indices[p, o] its offset in the plane
  /// (d * H * W + h * W + w); a NaN counts as the max (the last one in the window), and a window of -inf
  /// gives its first position, as PyTorch. out/indices/in are contiguous [planes, spatial...]; indices may
  /// have null data when the caller needs no indices. Floating dtypes.
  virtual void max_pool(const StridedRef& out, const StridedRef& indices, const StridedRef& in,
                        const PoolGeometry& g, int index);
  /// grad_in[p, :] = 0, then grad_in[p, indices[p, o]] += grad_out[p, o]: contiguous [planes, n] views, the
  /// indices within [0, grad_in's n).
  virtual void max_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const StridedRef& indices,
                                 int index);
  /// Average pooling over the same layouts (integer dtypes divide with truncation, as PyTorch's CPU kernel).
  virtual void avg_pool(const StridedRef& out, const StridedRef& in, const PoolGeometry& g, int index);
  /// The gradient of avg_pool: grad_in[p, i] = sum over the windows o holding i of grad_out[p, o] / divisor(o).
  virtual void avg_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const PoolGeometry& g,
                                 int index);

 protected:
  /// Throws UNIMPLEMENTED naming op and this backend: "[sum] has no CUDA implementation".
  [[noreturn]] void missing(std::string_view op) const;
};

/// The backend for a device type. The CUDA one exists in every build: without CUDA it is a stub whose
/// is_available() is false and whose kernels all throw.
Backend& backend(DeviceType type);

}  // namespace td

namespace td::kernels {
/// Defined by kernels/cpu.
Backend& cpu_backend();
/// Defined by kernels/cuda, or by kernels/cuda_stub in a build without CUDA.
Backend& cuda_backend();
}  // namespace td::kernels
