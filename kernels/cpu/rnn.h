// Backend::lstm_cell and lstm_cell_backward on the CPU (kernels/lstm_cell.h's arithmetic, a row at a time),
// and gru_cell and gru_cell_backward (kernels/gru_cell.h's).
#pragma once

#include "core/backend.h"

namespace td::kernels {

/// False, having done nothing, outside lstm_forward_covered / lstm_backward_covered (kernels/lstm_cell.h).
bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
               const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
               const StridedRef& hidden_bias, const StridedRef& cx);
bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                        const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                        const StridedRef& cy, const StridedRef& workspace);
/// False, having done nothing, outside gru_forward_covered / gru_backward_covered (kernels/gru_cell.h).
bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
              const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
              const StridedRef& hx);
bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                       const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace);

}  // namespace td::kernels
