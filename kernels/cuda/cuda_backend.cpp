// The CUDA backend: device discovery, memory, host<->device copies, and the launches of the elementwise,
// reduction, cuBLAS and cuFFT kernels. Memory comes from a caching allocator per device over cudaMalloc; every
// kernel and copy is queued on the calling thread's current stream (kernels/cuda/runtime.cpp).
#include <cuda_runtime.h>

#include <array>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "kernels/caching_allocator.h"
#include "kernels/coalesce.h"
#include "kernels/cudnn.h"
#include "core/device_runtime.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

namespace cuda {
void gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b, int index);
DeviceRuntime& runtime();
}

namespace {

template <size_t N>
cuda::Indexer make_indexer(std::span<const int64_t> sizes, const std::array<std::span<const int64_t>, N>& strides) {
  Coalesced<N> c = coalesce<N>(sizes, strides);
  TD_CHECK(c.sizes.size() <= static_cast<size_t>(cuda::kMaxDims), ErrorCode::kUnimplemented,
           "[cuda] strided kernels handle at most ", cuda::kMaxDims, " non-mergeable dims, got ", c.sizes.size());
  cuda::Indexer ix;
  ix.nd = static_cast<int>(c.sizes.size());
  ix.contiguous = c.sizes.size() == 1;
  int64_t numel = 1;
  for (size_t d = 0; d < c.sizes.size(); ++d) {
    ix.sizes[d] = c.sizes[d];
    numel = c.sizes[d] == 0 || numel == 0 ? 0 : (numel > INT64_MAX / c.sizes[d] ? INT64_MAX : numel * c.sizes[d]);
    for (size_t k = 0; k < N; ++k) {
      ix.strides[k][d] = c.strides[k][d];
      if (d == 0 && c.strides[k][d] != 1) ix.contiguous = false;
    }
  }
  ix.small = numel < (int64_t{1} << 31);
  return ix;
}

// Leading (kept) and trailing (reduced) dims of a reduction's input, each coalesced where it can be (the
// reduced dims keep their layout when a kernel walks them as one row).
cuda::ReduceIndexer split_dims(const StridedRef& in, int reduced, bool coalesce_reduced = true) {
  size_t kept = in.sizes.size() - static_cast<size_t>(reduced);
  cuda::ReduceIndexer ix;
  auto fill = [](std::span<const int64_t> sizes, std::span<const int64_t> strides, bool merge, int& nd, int64_t* s,
                 int64_t* st) {
    std::vector<int64_t> sz(sizes.begin(), sizes.end()), sd(strides.begin(), strides.end());
    if (merge) {
      Coalesced<1> c = coalesce<1>(sizes, {strides});
      sz.assign(c.sizes.begin(), c.sizes.end());
      sd.assign(c.strides[0].begin(), c.strides[0].end());
    }
    TD_CHECK(sz.size() <= static_cast<size_t>(cuda::kMaxDims), ErrorCode::kUnimplemented,
             "[reduce] CUDA reductions handle at most ", cuda::kMaxDims, " non-mergeable dims");
    nd = static_cast<int>(sz.size());
    for (int d = 0; d < nd; ++d) {
      s[d] = sz[d];
      st[d] = sd[d];
    }
  };
  fill(in.sizes.first(kept), in.strides.first(kept), true, ix.kept_nd, ix.kept_sizes, ix.kept_strides);
  fill(in.sizes.subspan(kept), in.strides.subspan(kept), coalesce_reduced, ix.red_nd, ix.red_sizes, ix.red_strides);
  for (int d = 0; d < ix.red_nd; ++d) ix.red_numel *= ix.red_sizes[d];
  return ix;
}

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "CUDA"; }

  bool is_available() const override { return device_count() > 0; }

  int device_count() const override { return cuda::device_count(); }

  std::string device_name(int index) const override {
    cudaDeviceProp prop{};
    cuda::check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
    return prop.name;
  }

  void* allocate(size_t nbytes, int index) override {
    use(index);
    return allocator(index).allocate(nbytes, reinterpret_cast<uintptr_t>(cuda::stream()));
  }
  void deallocate(void* ptr, size_t, int index) override { allocator(index).deallocate(ptr); }
  MemoryStats memory_stats(int index) const override { return allocator(index).stats(); }
  void empty_cache(int index) override {
    use(index);
    allocator(index).empty_cache();
  }
  void reset_peak_memory_stats(int index) override { allocator(index).reset_peak_stats(); }
  void set_memory_limit(size_t bytes, int index) override { allocator(index).set_limit(bytes); }
  DeviceRuntime* runtime() override { return is_available() ? &cuda::runtime() : nullptr; }
  std::pair<size_t, size_t> memory_info(int index) const override {
    use(index);
    size_t free_b = 0, total_b = 0;
    cuda::check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    return {free_b, total_b};
  }
  void* allocate_pinned(size_t nbytes) override {
    TD_CHECK(is_available(), ErrorCode::kFailedPrecondition,
             "[pin_memory] pinned memory needs a CUDA device, and none is available");
    return cuda::host_allocator().allocate(nbytes, cuda::kHostStream);
  }
  void deallocate_pinned(void* ptr) override { cuda::host_allocator().deallocate(ptr); }
  bool copy_async(void* dst, const void* src, size_t n, bool to_host, void* pinned_block, int index) override {
    use(index);
    cuda::check(cudaMemcpyAsync(dst, src, n, to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, cuda::stream()),
                "cudaMemcpyAsync");
    // The pinned block must outlive the copy: its free waits for an event on this stream.
    cuda::host_allocator().record_stream(pinned_block, cuda::pinned_use_key());
    return true;
  }
  // Blocking copies, as Tensor.copy_ without non_blocking: queued on the current stream, then waited for.
  void copy_to_host(void* dst, const void* src, size_t n, int index) override {
    use(index);
    cuda::check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, cuda::stream()), "cudaMemcpy device to host");
    cuda::check(cudaStreamSynchronize(cuda::stream()), "cudaStreamSynchronize");
  }
  void copy_from_host(void* dst, const void* src, size_t n, int index) override {
    use(index);
    cuda::check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, cuda::stream()), "cudaMemcpy host to device");
    cuda::check(cudaStreamSynchronize(cuda::stream()), "cudaStreamSynchronize");
  }
  void synchronize(int index) override {
    use(index);
    cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  void copy(const StridedRef& dst, const StridedRef& src, int index) override {
    use(index);
    cuda::copy(dst.dtype, src.dtype, dst.numel(), make_indexer<2>(dst.sizes, {dst.strides, src.strides}), dst.data,
               src.data);
  }
  void fill(const StridedRef& dst, const Scalar& value, int index) override {
    use(index);
    cuda::fill(dst.dtype, dst.numel(), make_indexer<1>(dst.sizes, {dst.strides}), dst.data, value);
  }
  void binary(BinaryOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b, const Scalar& alpha,
              int index) override {
    use(index);
    cuda::binary(op, out.dtype, out.numel(), make_indexer<3>(out.sizes, {out.strides, a.strides, b.strides}),
                 out.data, a.data, b.data, alpha);
  }
  void unary(UnaryOp op, const StridedRef& out, const StridedRef& in, int index) override {
    use(index);
    cuda::unary(op, in.dtype, out.numel(), make_indexer<2>(out.sizes, {out.strides, in.strides}), out.data, in.data);
  }
  void compare(CompareOp op, const StridedRef& out, const StridedRef& a, const StridedRef& b, int index) override {
    use(index);
    cuda::compare(op, a.dtype, out.numel(), make_indexer<3>(out.sizes, {out.strides, a.strides, b.strides}),
                  out.data, a.data, b.data);
  }
  void where(const StridedRef& out, const StridedRef& cond, const StridedRef& a, const StridedRef& b,
             int index) override {
    use(index);
    cuda::where(out.dtype, out.numel(),
                make_indexer<4>(out.sizes, {out.strides, cond.strides, a.strides, b.strides}), out.data, cond.data,
                a.data, b.data);
  }
  bool threshold_backward(const StridedRef& out, const StridedRef& grad, const StridedRef& y, double threshold,
                          int index) override {
    if (!threshold_backward_covered(out, grad, y)) return false;
    use(index);
    cuda::threshold_backward(out.dtype, out.numel(),
                             make_indexer<3>(out.sizes, {out.strides, grad.strides, y.strides}), out.data,
                             grad.data, y.data, threshold);
    return true;
  }
  void reduce(ReduceOp op, const StridedRef& out, const StridedRef& in, int reduced, int index) override {
    use(index);
    cuda::reduce(op, in.dtype, out.numel(), split_dims(in, reduced), out.data, in.data, index);
  }
  void arg_reduce(bool is_max, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
                  int index) override {
    use(index);
    cuda::arg_reduce(is_max, in.dtype, values.numel(), split_dims(in, 1, /*coalesce_reduced=*/false), values.data,
                     static_cast<int64_t*>(indices.data), in.data, index);
  }
  void scan(ReduceOp op, const StridedRef& out, const StridedRef& in, int index) override {
    use(index);
    cuda::ReduceIndexer in_ix = split_dims(in, 1, false), out_ix = split_dims(out, 1, false);
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < in.sizes.size(); ++d) rows *= in.sizes[d];
    cuda::scan(op, in.dtype, rows, in_ix, out_ix, out.data, in.data, index);
  }
  void gather(const StridedRef& out, const StridedRef& in, const StridedRef& index, int dim, int device) override {
    use(device);
    std::vector<int64_t> in_strides(in.strides.begin(), in.strides.end());
    in_strides[static_cast<size_t>(dim)] = 0;
    cuda::gather(out.dtype, out.numel(), make_indexer<3>(out.sizes, {out.strides, in_strides, index.strides}), out.data,
                 in.data, static_cast<const int64_t*>(index.data), in.strides[static_cast<size_t>(dim)]);
  }
  void scatter(ScatterMode mode, const StridedRef& out, const StridedRef& index, const StridedRef& src, int dim,
               int device) override {
    use(device);
    std::vector<int64_t> out_strides(out.strides.begin(), out.strides.end());
    out_strides[static_cast<size_t>(dim)] = 0;
    cuda::scatter(mode, out.dtype, index.numel(),
                  make_indexer<3>(index.sizes, {out_strides, index.strides, src.strides}), out.data,
                  static_cast<const int64_t*>(index.data), src.data, out.strides[static_cast<size_t>(dim)]);
  }
  void sort(bool descending, const StridedRef& values, const StridedRef& indices, const StridedRef& in,
            int index) override {
    use(index);
    const int64_t n = in.sizes.back();
    cuda::sort(descending, in.dtype, in.numel() / n, n, values.sizes.back(), split_dims(in, 1, false),
               split_dims(values, 1, false), split_dims(indices, 1, false), values.data,
               static_cast<int64_t*>(indices.data), in.data, *this, index);
  }
  bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step,
                         int index) override {
    use(index);
    return cuda::sgd_momentum_step(param, grad, buf, step);
  }
  void sgd_momentum_steps(std::span<SgdTensors> params, const SgdStep& step, int index) override {
    use(index);
    cuda::sgd_momentum_steps(params, step);
  }
  bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg,
                 const StridedRef& exp_avg_sq, const StridedRef& max_exp_avg_sq, const AdamStep& step,
                 int index) override {
    use(index);
    return cuda::adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step);
  }
  void adam_steps(std::span<AdamTensors> params, const AdamStep& step, int index) override {
    use(index);
    cuda::adam_steps(params, step);
  }
  void random_fill(const RandomFill& fill, const StridedRef& out, const double* probs, int index) override {
    use(index);
    cuda::random_fill(fill, out.dtype, out.numel(), out.data, probs);
  }
  bool channel_sums(const StridedRef& sum1, const StridedRef& sum2, const StridedRef& a, const StridedRef& b,
                    const StridedRef& center, int index) override {
    use(index);
    return cuda::channel_sums(sum1, sum2, a, b, center, index);
  }
  bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
                 const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
                 const StridedRef& hidden_bias, const StridedRef& cx, int index) override {
    use(index);
    return cuda::lstm_cell(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx);
  }
  bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                          const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                                  const StridedRef& cy,
                          const StridedRef& workspace, int index) override {
    use(index);
    return cuda::lstm_cell_backward(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace);
  }
  bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
                const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
                const StridedRef& hx, int index) override {
    use(index);
    return cuda::gru_cell(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx);
  }
  bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                         const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace,
                         int index) override {
    use(index);
    return cuda::gru_cell_backward(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace);
  }
  bool batch_norm_channels(const BatchNormChannels& p, int index) override {
    use(index);
    return cuda::batch_norm_channels(p);
  }
  bool channel_affine(const StridedRef& out, const StridedRef& g, const StridedRef& x, const StridedRef& a,
                      const StridedRef& b, const StridedRef& d, int index) override {
    use(index);
    return cuda::channel_affine(out, g, x, a, b, d);
  }
  void softmax(bool is_log, const StridedRef& out, const StridedRef& in, int index) override {
    use(index);
    cuda::softmax(is_log, in.dtype, in.sizes[0], in.sizes[1], in.sizes[2], out.data, in.data);
  }
  void gemm(const StridedRef& out, const StridedRef& a, const StridedRef& b, int index) override {
    use(index);
    cuda::gemm(out, a, b, index);
  }
  void fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim,
           int index) override {
    use(index);
    cuda::fft(kind, forward, out, in, signal_ndim, index);
  }
  void im2col(const StridedRef& col, const StridedRef& in, const ConvWindow& w, int index) override {
    use(index);
    cuda::im2col(col, in, w);
  }
  void col2im(const StridedRef& out, const StridedRef& col, const ConvWindow& w, int index) override {
    use(index);
    cuda::col2im(out, col, w);
  }
  // Convolutions through cuDNN where it is loaded and takes the case (kernels/cudnn.h).
  bool library_conv(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                    const ConvWindow& win, int64_t groups, int index) override {
    use(index);
    return cudnn_conv_forward(y, x, w, bias, win, groups, index);
  }
  bool library_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                                   const ConvWindow& win, int64_t groups, int index) override {
    use(index);
    return cudnn_conv_backward_input(gx, gy, w, win, groups, index);
  }
  bool library_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                    const StridedRef& gy, const ConvWindow& win, int64_t groups, int index) override {
    use(index);
    return cudnn_conv_backward_weight(gw, gb, x, gy, win, groups, index);
  }
  // Training batch norm through cuDNN where it is loaded and takes the case (kernels/cudnn.h).
  bool library_batch_norm(const BatchNormLibrary& p, int index) override {
    use(index);
    return cudnn_batch_norm(p, index);
  }
  bool library_batch_norm_backward(const BatchNormLibrary& p, int index) override {
    use(index);
    return cudnn_batch_norm_backward(p, index);
  }
  void max_pool(const StridedRef& out, const StridedRef& indices, const StridedRef& in, const PoolGeometry& g,
                int index) override {
    use(index);
    cuda::max_pool(in.dtype, g, out.data, static_cast<int64_t*>(indices.data), in.data);
  }
  void max_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const StridedRef& indices,
                         int index) override {
    use(index);
    cuda::max_pool_backward(grad_in.dtype, grad_in.sizes[0], grad_in.sizes[1], grad_out.sizes[1], grad_in.data,
                            grad_out.data, static_cast<const int64_t*>(indices.data));
  }
  void avg_pool(const StridedRef& out, const StridedRef& in, const PoolGeometry& g, int index) override {
    use(index);
    cuda::avg_pool(in.dtype, g, out.data, in.data);
  }
  void avg_pool_backward(const StridedRef& grad_in, const StridedRef& grad_out, const PoolGeometry& g,
                         int index) override {
    use(index);
    cuda::avg_pool_backward(grad_in.dtype, g, grad_in.data, grad_out.data);
  }

 private:
  static CachingAllocator& allocator(int index) { return cuda::allocator(index); }
  static void use(int index) { cuda::use_device(index); }
};

}  // namespace

Backend& cuda_backend() {
  static CudaBackend backend;
  return backend;
}

namespace cuda {
Workspace::Workspace(size_t n, int index) : data(cuda_backend().allocate(n, index)), bytes(n), device(index) {}
Workspace::~Workspace() { cuda_backend().deallocate(data, bytes, device); }
}  // namespace cuda

}  // namespace td::kernels
