// The fused recurrent cells' arithmetic in public ops (core/ops/rnn.cpp), which the cell ops' create_graph
// paths and the layer ops' (core/ops/rnn_layer.cpp) share. Differentiable: written in public ops from the
// inputs. Internal to core/ops.
#pragma once

#include <tuple>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"

namespace td::ops {

/// t's ref, or an empty ref (null data) for an undefined t: a backend's "absent" tensor.
StridedRef optional_ref(const Tensor& t);

/// The activated gates i, f, g, o of input_gates + hidden_gates (+ the biases, where defined).
std::vector<Tensor> activated_gates(const Tensor& input_gates, const Tensor& hidden_gates,
                                    const Tensor& input_bias, const Tensor& hidden_bias);
/// One LSTM cell's gradients from its activated gates act = {i, f, g, o} and cx: {the gates' gradient, cx's}.
/// grad_hy, grad_cy and grad_ws (the activated gates') may be undefined (zero).
std::pair<Tensor, Tensor> cell_backward_ops(const std::vector<Tensor>& act, const Tensor& cx,
                                            const Tensor& grad_hy, const Tensor& grad_cy,
                                            const Tensor& grad_ws);

/// The GRU cell: {r, z, n, hx, the n gate's hidden part (with its bias), hy}.
std::vector<Tensor> gru_cell_ops(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx,
                                 const Tensor& input_bias, const Tensor& hidden_bias);
/// One GRU cell's gradients from v = gru_cell_ops(...) and hx: {both gate inputs', hx's}. grad_hy and grad_ws
/// (the workspace's) may be undefined (zero).
std::tuple<Tensor, Tensor, Tensor> gru_cell_backward_ops(const std::vector<Tensor>& v, const Tensor& hx,
                                                         const Tensor& grad_hy, const Tensor& grad_ws);

}  // namespace td::ops
