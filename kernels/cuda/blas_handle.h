// The CUDA backend's cuBLAS handles (kernels/cuda/blas.cpp), for the other files that call cuBLAS.
#pragma once

#include <cublas_v2.h>

#include "kernels/cuda_handles.h"

namespace td::kernels::cuda {

/// The calling thread's cuBLAS handle on `device` (made on first use), set to the thread's current stream.
cublasHandle_t blas_handle(int device);

}  // namespace td::kernels::cuda
