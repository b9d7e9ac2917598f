// Host-side entry points of the CUDA kernels (elementwise.cu), called by the CUDA backend.
#pragma once

#include <cstdint>
#include <span>

#include "core/backend.h"

namespace td::kernels::cuda {

/// Most dims a strided CUDA kernel handles after coalescing.
inline constexpr int kMaxDims = 8;

/// Sizes and element strides of up to four operands, passed to kernels by value.
struct Indexer {
  int nd = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[4][kMaxDims] = {};
  bool contiguous = false;  // every operand has contiguous strides: index directly
  bool small = false;       // fewer than 2^31 elements: offsets_of divides in 32 bits
};

/// A reduction: each output (contiguous) folds a block of the input given by the reduced dims.
struct ReduceIndexer {
  int kept_nd = 0, red_nd = 0;
  int64_t kept_sizes[kMaxDims] = {}, kept_strides[kMaxDims] = {};
  int64_t red_sizes[kMaxDims] = {}, red_strides[kMaxDims] = {};
  int64_t red_numel = 1;
};

void binary(BinaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* a, const void* b,
            const Scalar& alpha);
void unary(UnaryOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* in);
void compare(CompareOp op, DType dtype, int64_t n, const Indexer& ix, void* out, const void* a, const void* b);
void where(DType dtype, int64_t n, const Indexer& ix, void* out, const void* cond, const void* a, const void* b);
/// Backend::threshold_backward for float and double: out = grad where y > threshold, else 0.
void threshold_backward(DType dtype, int64_t n, const Indexer& ix, void* out, const void* grad, const void* y,
                        double threshold);
/// out[o0] = in[o1 + index[o2] * dim_stride] over the Indexer's three operands (out, in with dim's stride
/// zeroed, index).
void gather(DType dtype, int64_t n, const Indexer& ix, void* out, const void* in, const int64_t* index,
            int64_t dim_stride);
/// out[o0 + index[o1] * dim_stride] (mode)= src[o2] over (out with dim's stride zeroed, index, src); the
/// combining modes are atomic.
void scatter(ScatterMode mode, DType dtype, int64_t n, const Indexer& ix, void* out, const int64_t* index,
             const void* src, int64_t dim_stride);
void copy(DType dst_dtype, DType src_dtype, int64_t n, const Indexer& ix, void* dst, const void* src);
void fill(DType dtype, int64_t n, const Indexer& ix, void* dst, const Scalar& value);
/// Folds each output's block of `in`; large blocks are split over slices and folded again (scratch memory on
/// `device`).
void reduce(ReduceOp op, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* out, const void* in, int device);
/// Max/min of each row of `in` (kept dims x last dim n) with its first index: a thread per row under 256
/// elements, else blocks over slices of the rows, folded again when a row has several (scratch on `device`).
void arg_reduce(bool is_max, DType dtype, int64_t n_out, const ReduceIndexer& ix, void* values, int64_t* indices,
                const void* in, int device);
/// Running sum/product along each row (a thread per row under 256 elements, else a block per row, and CUB's
/// device-wide scan for one long packed row, scratch on `device`); `out_ix` describes the output rows the
/// same way.
void scan(ReduceOp op, DType dtype, int64_t rows, const ReduceIndexer& in_ix, const ReduceIndexer& out_ix, void* out,
          const void* in, int device);

/// softmax (or log_softmax) along the middle dim of contiguous [outer, n, inner] data (softmax.cu): one warp
/// or block per row when inner == 1, else one thread per (outer, inner) column.
void softmax(bool is_log, DType dtype, int64_t outer, int64_t n, int64_t inner, void* out, const void* in);

/// Backend::random_fill (random.cu): out holds n contiguous elements of dtype; probs is null or n float64
/// Bernoulli probabilities on the device.
void random_fill(const RandomFill& fill, DType dtype, int64_t n, void* out, const double* probs);

/// Backend::channel_sums and channel_affine (batch_norm.cu): false, having done nothing, outside the cases
/// kernels/channel_passes.h names.
bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                  const StridedRef& center, int device);
bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                    const StridedRef& b, const StridedRef& d);
/// Backend::batch_norm_channels (batch_norm.cu): one thread per channel.
bool batch_norm_channels(const BatchNormChannels& p);
/// Backend::lstm_cell and lstm_cell_backward (rnn.cu): false, having done nothing, outside lstm_cell_covered.
/// Backend::gru_cell and gru_cell_backward (rnn.cu): false, having done nothing, outside gru_forward_covered
/// / gru_backward_covered.
bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
              const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
              const StridedRef& hx);
bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                       const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace);
bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace, const StridedRef& input_gates,
               const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
               const StridedRef& cx);
bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                        const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                                  const StridedRef& cy,
                        const StridedRef& workspace);

/// Backend::sgd_momentum_step and adam_step (optimizer.cu): false, having done nothing, unless every tensor
/// is contiguous float or double of param's shape.
bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step);
/// Backend::sgd_momentum_steps (optimizer.cu): the float and double parameters it takes, up to 96 a launch.
void sgd_momentum_steps(std::span<SgdTensors> params, const SgdStep& step);
/// Backend::adam_steps (optimizer.cu): the float and double parameters it takes, up to 64 a launch.
void adam_steps(std::span<AdamTensors> params, const AdamStep& step);
bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step);

/// Backend::im2col and Backend::col2im (conv.cu), for the floating dtypes.
void im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w);
void col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w);
/// Pooling (pool.cu) over contiguous planes, as Backend::max_pool, max_pool_backward, avg_pool and
/// avg_pool_backward describe; `indices` may be null when the caller needs none.
void max_pool(DType dtype, const PoolGeometry& g, void* out, int64_t* indices, const void* in);
void max_pool_backward(DType dtype, int64_t planes, int64_t n_in, int64_t n_out, void* grad_in, const void* grad_out,
                       const int64_t* indices);
void avg_pool(DType dtype, const PoolGeometry& g, void* out, const void* in);
void avg_pool_backward(DType dtype, const PoolGeometry& g, void* grad_in, const void* grad_out);

/// Scratch device memory for a kernel's partial results, from the device's caching allocator; returned to it
/// when the Workspace goes. The block belongs to the thread's current stream, where the kernels that use it
/// run, so its next user on that stream is ordered after them.
struct Workspace {
  Workspace(size_t bytes, int device);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data;
  size_t bytes;
  int device;
};

/// Batched integer matrix product (cuBLAS has none), with gemm's operand conventions; other dtypes are a
/// named UNIMPLEMENTED error.
void integer_gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b);
/// Stable sort of each of `rows` rows of n elements, keeping the first k (sort.cu): in, values and indices are
/// given as kept dims x the sorted dim; temporaries come from `backend`'s allocator on `device`.
void sort(bool descending, DType dtype, int64_t rows, int64_t n, int64_t k, const ReduceIndexer& in_ix,
          const ReduceIndexer& values_ix, const ReduceIndexer& indices_ix, void* values, int64_t* indices,
          const void* in, Backend& backend, int device);

/// Backend::fft through cuFFT (fft.cpp): cached plans, work areas from the caching allocator of `device`.
void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim, int device);

/// Throws INTERNAL with the CUDA error string when a runtime call fails.
void check(int cuda_error, const char* what);

}  // namespace td::kernels::cuda
