// What the cuDNN sources (kernels/cuda/cudnn_conv*.cpp, cudnn_batch_norm.cpp) share: cuDNN loaded with dlopen
// (so the binaries run where it is absent) and its entry points, whether it can run here, the thread's
// handle, status categories and owning descriptors. Only the cuDNN sources include this header (it needs
// cudnn.h).
#pragma once

#include <cudnn.h>

#include <array>
#include <optional>
#include <string>

#include "core/backend.h"
#include "core/dtype.h"

// cuDNN 9 marks its convolution and batch-norm API deprecated in favour of the graph API, and the graph's
// handle attributes in favour of device properties; PyTorch 1.13's cuDNN path is the former, and every
// cuDNN 9 keeps both.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace td::kernels::cudnn {

// clang-format off
#define TD_CUDNN_FUNCTIONS(X)                                                                                   \
  X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnSetStream)                                    \
  X(cudnnCreateTensorDescriptor) X(cudnnSetTensorNdDescriptor) X(cudnnDestroyTensorDescriptor)                  \
  X(cudnnCreateFilterDescriptor) X(cudnnSetFilterNdDescriptor) X(cudnnDestroyFilterDescriptor)                  \
  X(cudnnCreateConvolutionDescriptor) X(cudnnSetConvolutionNdDescriptor) X(cudnnSetConvolutionGroupCount)       \
  X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor) X(cudnnGetConvolutionNdForwardOutputDim)  \
  X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnFindConvolutionForwardAlgorithmEx)                           \
  X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnConvolutionForward)                                         \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7) X(cudnnFindConvolutionBackwardDataAlgorithmEx)                 \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize) X(cudnnConvolutionBackwardData)                               \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) X(cudnnFindConvolutionBackwardFilterAlgorithmEx)             \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize) X(cudnnConvolutionBackwardFilter)                           \
  X(cudnnDeriveBNTensorDescriptor) X(cudnnBatchNormalizationForwardTraining) X(cudnnBatchNormalizationBackward) \
  X(cudnnBackendCreateDescriptor) X(cudnnBackendDestroyDescriptor) X(cudnnBackendSetAttribute)                  \
  X(cudnnBackendGetAttribute) X(cudnnBackendFinalize) X(cudnnBackendExecute)
// clang-format on

/// The entry points, resolved from the loaded library by name.
struct Api {
#define TD_CUDNN_POINTER(name) decltype(&::name) name = nullptr;
  TD_CUDNN_FUNCTIONS(TD_CUDNN_POINTER)
#undef TD_CUDNN_POINTER
};

/// The loaded library's entry points (all null where it did not load: check usable() first).
const Api& api();
/// The loaded version (major * 10000 + minor * 100 + patch), 0 where cuDNN did not load.
int loaded_version();
/// Whether cuDNN runs here now: loaded, enabled (td::backends::cudnn) and not found unusable.
bool usable();
/// Turns cuDNN off for the process with the reason cudnn_library() then reports.
void mark_broken(const std::string& why);

std::string status_text(cudnnStatus_t s);
/// cuDNN 9 reports a category (its thousands) and a cause. Bad parameters and "not supported" refuse a call
/// on its case (the caller takes its own kernels); the 1000s say cuDNN itself cannot run here (a sub-library
/// missing or mismatched): it is then off for the process.
inline bool refused(cudnnStatus_t s) {
  const int category = static_cast<int>(s) / 1000;
  return category == 2 || category == 3;
}
inline bool unusable(cudnnStatus_t s) {
  return static_cast<int>(s) / 1000 == 1;
}

/// The calling thread's handle on `device`, set to its current stream; null where cuDNN cannot make one now
/// (the call then takes our kernels; a later one tries again, unless cuDNN is unusable here).
cudnnHandle_t handle_for(int device);

/// Whether t is packed (row-major contiguous; dims of size 1 may have any stride), as cuDNN's descriptors
/// here describe every tensor.
bool packed(const StridedRef& t);

/// cuDNN's data type for a floating dtype it takes.
std::optional<cudnnDataType_t> type_of(DType t);

/// Owning descriptor handles.
template <class T, auto Destroy>
struct Handle {
  T d = nullptr;
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (d) (api().*Destroy)(d);
  }
};
using TensorDesc = Handle<cudnnTensorDescriptor_t, &Api::cudnnDestroyTensorDescriptor>;
using FilterDesc = Handle<cudnnFilterDescriptor_t, &Api::cudnnDestroyFilterDescriptor>;
using ConvDesc = Handle<cudnnConvolutionDescriptor_t, &Api::cudnnDestroyConvolutionDescriptor>;

std::array<int, 5> packed_strides(const std::array<int, 5>& dims, int nd);
/// Creates t as a packed tensor of nd dims.
cudnnStatus_t set_tensor(TensorDesc& t, cudnnDataType_t type, const std::array<int, 5>& dims, int nd);

}  // namespace td::kernels::cudnn
