// Training batch norm through cuDNN (kernels/cudnn.h): one cudnnBatchNormalizationForwardTraining for the
// output, the batch's saved statistics and the running statistics' update, and one
// cudnnBatchNormalizationBackward for all three gradients, in spatial mode, as PyTorch's cudnn_batch_norm.
// Our fused channel passes take five launches forward and three backward for the same work; on small
// feature maps (resnet18 on 32x32 images) each launch's host time is what the step waits on.
//
// x is seen as [N, C, rest, 1] (spatial mode normalises each channel over every other dim; 2-d and 3-d
// inputs get unit dims), 5-d as it is. Where cuDNN refuses a case (status categories 2xxx/3xxx), the call
// returns false having written nothing, and the caller takes its own kernels.
#include <algorithm>
#include <array>
#include <atomic>
#include <climits>

#include "core/error.h"
#include "kernels/cuda/cudnn_api.h"
#include "kernels/cudnn.h"

namespace td::kernels {

namespace {

using namespace cudnn;  // NOLINT: the shared loader (kernels/cuda/cudnn_api.h)

std::atomic<int64_t> runs{0};

// The channel vectors that are present: [C], packed, of x's dtype.
bool channel_vectors(const StridedRef& x, std::initializer_list<const StridedRef*> vs) {
  for (const StridedRef* v : vs) {
    if (!v->data) continue;
    if (v->dtype != x.dtype || v->sizes.size() != 1 || v->sizes[0] != x.sizes[1] || !packed(*v)) return false;
  }
  return true;
}

// x's and the channels' descriptors; false where cuDNN's spatial mode cannot describe x.
struct Described {
  TensorDesc x, channels;
};
bool describe(const StridedRef& x, Described& d) {
  const auto type = type_of(x.dtype);
  if (!type || (*type != CUDNN_DATA_FLOAT && *type != CUDNN_DATA_DOUBLE)) return false;
  if (x.sizes.size() < 2 || x.sizes.size() > 5 || !packed(x)) return false;
  std::array<int, 5> dims{1, 1, 1, 1, 1};
  const int nd = x.sizes.size() == 5 ? 5 : 4;
  int64_t numel = 1;
  for (size_t i = 0; i < x.sizes.size(); ++i) {
    if (x.sizes[i] <= 0 || x.sizes[i] > INT_MAX) return false;
    dims[i] = static_cast<int>(x.sizes[i]);
    numel *= x.sizes[i];
  }
  if (numel > INT_MAX) return false;  // cuDNN's legacy API indexes in 32 bits
  if (set_tensor(d.x, *type, dims, nd) != CUDNN_STATUS_SUCCESS) return false;
  if (api().cudnnCreateTensorDescriptor(&d.channels.d) != CUDNN_STATUS_SUCCESS) return false;
  return api().cudnnDeriveBNTensorDescriptor(d.channels.d, d.x.d, CUDNN_BATCHNORM_SPATIAL) ==
         CUDNN_STATUS_SUCCESS;
}

// One call's outcome: true where cuDNN ran it, false where it refused the case; throws where it failed.
bool outcome(cudnnStatus_t s, const char* call, const StridedRef& x) {
  if (s == CUDNN_STATUS_SUCCESS) {
    runs.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (unusable(s)) {
    mark_broken(std::string(call) + " failed: " + status_text(s));
    return false;
  }
  if (refused(s)) return false;
  TD_CHECK(false, ErrorCode::kInternal, "[batch_norm] ", call, " failed: ", status_text(s), " (input ",
           shape_str(x.sizes), ")");
  return false;
}

struct Scalars {
  double one_d = 1, zero_d = 0;
  float one_f = 1, zero_f = 0;
  const void* one(const StridedRef& x) const {
    return x.dtype == DType::kFloat64 ? &one_d : static_cast<const void*>(&one_f);
  }
  const void* zero(const StridedRef& x) const {
    return x.dtype == DType::kFloat64 ? &zero_d : static_cast<const void*>(&zero_f);
  }
};

}  // namespace

bool cudnn_batch_norm(const BatchNormLibrary& p, int device) {
  if (!usable() || !p.weight.data || !p.bias.data || !packed(p.y) || p.y.dtype != p.x.dtype) return false;
  if (!channel_vectors(p.x,
                       {&p.weight, &p.bias, &p.running_mean, &p.running_var, &p.save_mean, &p.save_invstd})) {
    return false;
  }
  if (!p.running_mean.data != !p.running_var.data) return false;  // cuDNN updates both or neither
  Described d;
  if (!describe(p.x, d)) return false;
  cudnnHandle_t h = handle_for(device);
  if (!h) return false;
  const Scalars k;
  const cudnnStatus_t s = api().cudnnBatchNormalizationForwardTraining(
      h, CUDNN_BATCHNORM_SPATIAL, k.one(p.x), k.zero(p.x), d.x.d, p.x.data, d.x.d, p.y.data, d.channels.d,
      p.weight.data, p.bias.data, p.momentum, p.running_mean.data, p.running_var.data, p.eps,
      p.save_mean.data, p.save_invstd.data);
  return outcome(s, "cudnnBatchNormalizationForwardTraining", p.x);
}

bool cudnn_batch_norm_backward(const BatchNormLibrary& p, int device) {
  if (!usable() || !p.weight.data || !p.save_mean.data || !p.save_invstd.data || !p.grad_weight.data ||
      !p.grad_bias.data) {
    return false;
  }
  for (const StridedRef* t : {&p.g, &p.gx}) {
    if (!packed(*t) || t->dtype != p.x.dtype || !std::ranges::equal(t->sizes, p.x.sizes)) return false;
  }
  if (!channel_vectors(p.x, {&p.weight, &p.save_mean, &p.save_invstd, &p.grad_weight, &p.grad_bias}))
    return false;
  Described d;
  if (!describe(p.x, d)) return false;
  cudnnHandle_t h = handle_for(device);
  if (!h) return false;
  const Scalars k;
  const cudnnStatus_t s = api().cudnnBatchNormalizationBackward(
      h, CUDNN_BATCHNORM_SPATIAL, k.one(p.x), k.zero(p.x), k.one(p.x), k.zero(p.x), d.x.d, p.x.data, d.x.d,
      p.g.data, d.x.d, p.gx.data, d.channels.d, p.weight.data, p.grad_weight.data, p.grad_bias.data, p.eps,
      p.save_mean.data, p.save_invstd.data);
  return outcome(s, "cudnnBatchNormalizationBackward", p.x);
}

int64_t cudnn_batch_norms_run() {
  return runs.load(std::memory_order_relaxed);
}

}  // namespace td::kernels
