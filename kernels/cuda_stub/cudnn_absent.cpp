// kernels/cudnn.h in a build without CUDA or without cuDNN's headers: nothing is loaded, and every
// convolution and batch norm takes our own kernels.
#include "kernels/cudnn.h"

namespace td::kernels {

CudnnLibrary cudnn_library() {
#ifdef TD_CUDA_BUILD
  return {0, "this build found no cudnn.h"};
#else
  return {0, "tensord was built without CUDA support"};
#endif
}
bool cudnn_conv_forward(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                        const ConvWindow&, int64_t, int) {
  return false;
}
bool cudnn_conv_backward_input(const StridedRef&, const StridedRef&, const StridedRef&, const ConvWindow&,
                               int64_t, int) {
  return false;
}
bool cudnn_conv_backward_weight(const StridedRef&, const StridedRef&, const StridedRef&, const StridedRef&,
                                const ConvWindow&, int64_t, int) {
  return false;
}
std::vector<int64_t> cudnn_output_sizes(DType, std::span<const int64_t>, std::span<const int64_t>,
                                        const ConvWindow&, int64_t) {
  return {};
}
int64_t cudnn_convolutions_run() {
  return 0;
}
int64_t cudnn_graph_convolutions_run() {
  return 0;
}
int64_t cudnn_graph_choices() {
  return 0;
}
std::string cudnn_graph_unusable_reason() {
  return {};
}
bool cudnn_graph_builds(int, DType, std::span<const int64_t>, std::span<const int64_t>,
                        std::span<const int64_t>, const ConvWindow&, int64_t) {
  return false;
}
bool cudnn_batch_norm(const BatchNormLibrary&, int) {
  return false;
}
bool cudnn_batch_norm_backward(const BatchNormLibrary&, int) {
  return false;
}
int64_t cudnn_batch_norms_run() {
  return 0;
}
int64_t cudnn_handles_made() {
  return 0;
}

}  // namespace td::kernels
