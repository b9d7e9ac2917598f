// Backend::lstm_cell, lstm_cell_backward, gru_cell and gru_cell_backward on CUDA: one thread per (row, hidden
// unit), the arithmetic of kernels/lstm_cell.h and kernels/gru_cell.h, which the CPU runs too.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/dispatch.h"
#include "kernels/gru_cell.h"
#include "kernels/lstm_cell.h"

namespace td::kernels::cuda {

namespace {

template <class T>
__global__ void lstm_cell_kernel(LstmCellData<T> d, int64_t n) {
  TD_GRID_STRIDE_LOOP(e, n) {
    lstm_cell_at(d, e);
  }
}

template <class T>
__global__ void lstm_cell_backward_kernel(LstmCellData<T> d, int64_t n) {
  TD_GRID_STRIDE_LOOP(e, n) {
    lstm_cell_backward_at(d, e, fn::Tanh{}(d.cy[e]));
  }
}

template <class T>
__global__ void gru_cell_kernel(GruCellData<T> d, int64_t n, bool backward) {
  TD_GRID_STRIDE_LOOP(e, n) {
    if (backward) {
      gru_cell_backward_at(d, e);
    } else {
      gru_cell_at(d, e);
    }
  }
}

template <class T>
void launch_gru(const GruCellData<T>& d, bool backward) {
  const int64_t n = d.rows * d.hidden;
  if (n > 0) gru_cell_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(d, n, backward);
  check(cudaGetLastError(), "gru_cell kernel launch");
}

}  // namespace

bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
              const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
              const StridedRef& hx) {
  if (!gru_forward_covered(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx))
    return false;
  float_or_double(input_gates.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_gru(gru_forward_data<T>(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx),
               false);
  });
  return true;
}

bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                       const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace) {
  if (!gru_backward_covered(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace)) return false;
  float_or_double(grad_input_gates.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_gru(gru_backward_data<T>(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace), true);
  });
  return true;
}

bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
               const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
               const StridedRef& hidden_bias, const StridedRef& cx) {
  if (!lstm_forward_covered(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx))
    return false;
  float_or_double(input_gates.dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto d =
        lstm_forward_data<T>(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx);
    const int64_t n = d.rows * d.hidden;
    if (n > 0) lstm_cell_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(d, n);
  });
  check(cudaGetLastError(), "lstm_cell kernel launch");
  return true;
}

bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                        const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                        const StridedRef& cy, const StridedRef& workspace) {
  if (!lstm_backward_covered(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace))
    return false;
  float_or_double(grad_gates.dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto d =
        lstm_backward_data<T>(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace);
    const int64_t n = d.rows * d.hidden;
    if (n > 0) lstm_cell_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(d, n);
  });
  check(cudaGetLastError(), "lstm_cell_backward kernel launch");
  return true;
}

}  // namespace td::kernels::cuda
