// cuDNN for the CUDA backend, loaded at run time (libcudnn.so.9, or TD_CUDNN_LIBRARY's file; the loader is
// kernels/cuda/cudnn_api.cpp). Where it is missing, disabled (td::backends::cudnn, core/cudnn.h) or does not
// take a case, each call returns false having done nothing and the caller runs our own kernels. A build
// without CUDA or without cuDNN's headers links kernels/cuda_stub/cudnn_absent.cpp, which loads nothing.
//
// Convolutions (kernels/cuda/cudnn_conv.cpp), behind Backend::library_conv and its two gradients: NC[D]HW
// tensors of float32, float64, float16 or bfloat16, 1-d to 3-d windows, groups, strides, padding and
// dilation; the im2col path is the fallback. x, y, gy and gx are contiguous; w (and gw) may be strided views
// (the kept taps of a weight): they are staged through packed copies. The bias and its gradient are the
// backend's own add and sum, after cuDNN's call. The algorithm for each case (shapes, dtype, window, groups,
// device, the pointers' alignment and the settings) is chosen once, by cuDNN's heuristics or, with benchmark
// set, by timing them (cudnnFind*), and cached. With td::backends::cudnn::graph_api() on, the graph API's
// execution plans (kernels/cuda/cudnn_conv_graph.cpp), chosen and cached the same way, come first.
//
// Training batch norm (kernels/cuda/cudnn_batch_norm.cpp), behind Backend::library_batch_norm and its
// backward: cudnnBatchNormalizationForwardTraining / Backward in spatial mode, as PyTorch's cudnn_batch_norm,
// for float32 and float64 with parameters of the input's dtype; the fused channel passes are the fallback.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/backend.h"

namespace td::kernels {

/// What loading cuDNN gave: its version (0 where it did not load) and, where it did not, why. Where it loaded
/// but turned out unusable here (cudnnCreate or a ranking reported a missing or mismatched sub-library; cuDNN
/// then stays off for the process), that error is the reason.
struct CudnnLibrary {
  int version = 0;
  std::string reason;
};
CudnnLibrary cudnn_library();

/// y = conv(x, w) + bias (bias's data null: none).
bool cudnn_conv_forward(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                        const ConvWindow& win, int64_t groups, int device);
/// gx = the gradient of conv(x, w) to x for gy.
bool cudnn_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                               const ConvWindow& win, int64_t groups, int device);
/// gw (and gb, unless its data is null) = the gradients of conv(x, w) + b to w and b for gy.
bool cudnn_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                const StridedRef& gy, const ConvWindow& win, int64_t groups, int device);

/// The output sizes ([N, Cout, spatial...]) cuDNN's descriptors give for a convolution of x by w over `win`
/// (its in/kernel/stride/padding/dilation; its out is not read): descriptors only, no device, so a test can
/// check the descriptors' set-up where there is no GPU. Empty where cuDNN is not loaded or refuses the case.
std::vector<int64_t> cudnn_output_sizes(DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                                        const ConvWindow& win, int64_t groups);

/// How many convolutions (forward, backward data, backward filter) cuDNN has run in this process, by either
/// path; the second count is those the graph API's plans ran (td::backends::cudnn::graph_api()).
int64_t cudnn_convolutions_run();
int64_t cudnn_graph_convolutions_run();
/// How many times the graph API ranked engines and made plans for a call (a call on a case with a cached
/// plan or a cached refusal makes none): the tests check that a refusal is remembered.
int64_t cudnn_graph_choices();
/// Why the graph API turned itself off for the process (a sub-library missing or mismatched); empty while it
/// can run.
std::string cudnn_graph_unusable_reason();

/// Whether the operation graph of one call (kind 0 forward, 1 backward data, 2 backward filter) of the
/// convolution of x by w giving y builds through the graph API: cuDNN checks the tensors, the window and the
/// node against each other, with no GPU (ranking engines and making plans need one), so a test can check
/// the graph's set-up wherever cuDNN is installed. False where cuDNN is not loaded or refuses the graph.
bool cudnn_graph_builds(int kind, DType dtype, std::span<const int64_t> x, std::span<const int64_t> w,
                        std::span<const int64_t> y, const ConvWindow& win, int64_t groups);

/// Backend::library_batch_norm and library_batch_norm_backward (BatchNormLibrary in core/backend.h).
bool cudnn_batch_norm(const BatchNormLibrary& p, int device);
bool cudnn_batch_norm_backward(const BatchNormLibrary& p, int device);
/// How many batch norms (forward or backward) cuDNN has run in this process.
int64_t cudnn_batch_norms_run();

/// How many cuDNN handles this process has made: one per thread and device, returned to a pool when the
/// thread ends, so threads that come and go reuse them.
int64_t cudnn_handles_made();

}  // namespace td::kernels
