// How many library handles the CUDA backend has made in this process (kernels/cuda/handle_pool.h): one per
// thread and device, returned to a pool when the thread ends, so threads that come and go reuse them. A build
// without CUDA reports 0. (cuDNN's count is cudnn_handles_made(), kernels/cudnn.h.)
#pragma once

#include <cstdint>

namespace td::kernels::cuda {

int64_t blas_handles_made();

}  // namespace td::kernels::cuda
