// CPU discrete Fourier transforms (kernels/cpu/fft.cpp), called by the CPU backend; see Backend::fft.
#pragma once

#include "core/backend.h"

namespace td::kernels {

void cpu_fft(FftKind kind, bool forward, const StridedRef& out, const StridedRef& in, int signal_ndim);

}  // namespace td::kernels
