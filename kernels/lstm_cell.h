// An LSTM cell's elementwise part (Backend::lstm_cell and lstm_cell_backward), PyTorch's
// _thnn_fused_lstm_cell: the same arithmetic on every backend (kernels/cpu/cpu_backend.cpp's loops,
// kernels/cuda/rnn.cu's kernels), each product and sum rounded in the element type (no fused multiply-add),
// the activations the unary ops' functors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "core/backend.h"
#include "kernels/coalesce.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

/// The tensors of one cell over a batch of B rows and H hidden units: gates [B, 4H] (i, f, g, o), cells and
/// hidden states [B, H], biases [4H]; null: absent.
template <class T>
struct LstmCellData {
  int64_t rows = 0, hidden = 0;
  // forward
  const T *input_gates = nullptr, *hidden_gates = nullptr, *input_bias = nullptr, *hidden_bias = nullptr;
  const T* cx = nullptr;
  T *hy = nullptr, *cy = nullptr, *workspace = nullptr;  // workspace: the activated gates [B, 4H]
  // backward (reads cx, cy and workspace too)
  const T *grad_hy = nullptr, *grad_cy = nullptr, *grad_workspace = nullptr;
  T *grad_gates = nullptr, *grad_cx = nullptr;
};

/// The pre-activation of gate q (0..3: i, f, g, o) at row `row`, unit j: input_gates + hidden_gates
/// (+ input_bias + hidden_bias), added in that order.
template <class T>
TD_HD T lstm_gate(const LstmCellData<T>& d, int64_t row, int q, int64_t j) {
  const int64_t at = row * 4 * d.hidden + q * d.hidden + j, b = q * d.hidden + j;
  T v = fn::add_rn(d.input_gates[at], d.hidden_gates[at]);
  if (d.input_bias) v = fn::add_rn(v, d.input_bias[b]);
  if (d.hidden_bias) v = fn::add_rn(v, d.hidden_bias[b]);
  return v;
}

/// cy = f cx + i g.
template <class T>
TD_HD T lstm_cell_state(T i, T f, T g, T cx) {
  return fn::add_rn(fn::mul_rn(f, cx), fn::mul_rn(i, g));
}

/// Forward at element e = row * H + j: i, f, o = sigmoid, g = tanh of the gates; cy = f cx + i g;
/// hy = o tanh(cy); the activated gates into the workspace. (The CPU runs the same steps a row at a time, its
/// activations through SLEEF's vector functions.)
template <class T>
TD_HD void lstm_cell_at(const LstmCellData<T>& d, int64_t e) {
  const int64_t H = d.hidden, row = e / H, j = e - row * H, base = row * 4 * H + j;
  T act[4];
  for (int q = 0; q < 4; ++q) {
    const T v = lstm_gate(d, row, q, j);
    act[q] = q == 2 ? fn::Tanh{}(v) : fn::Sigmoid{}(v);
    d.workspace[base + q * H] = act[q];
  }
  const T c = lstm_cell_state(act[0], act[1], act[2], d.cx[e]);
  d.cy[e] = c;
  d.hy[e] = fn::mul_rn(act[3], fn::Tanh{}(c));
}

/// Backward at element e, given tc = tanh(cy[e]), from grad_hy, grad_cy and grad_workspace (null: zero):
/// gc = grad_cy + grad_hy o (1 - tc^2); the activated gates' gradients are gc g, gc cx, gc i and grad_hy tc
/// (plus grad_workspace's), times the activations' derivatives i (1 - i), f (1 - f), 1 - g^2 and o (1 - o);
/// grad_cx = gc f.
template <class T>
TD_HD void lstm_cell_backward_at(const LstmCellData<T>& d, int64_t e, T tc) {
  const int64_t H = d.hidden, row = e / H, j = e - row * H, base = row * 4 * H + j;
  const T i = d.workspace[base], f = d.workspace[base + H], g = d.workspace[base + 2 * H],
          o = d.workspace[base + 3 * H];
  const T one(1);
  const T ghy = d.grad_hy ? d.grad_hy[e] : T(0);
  T gc = fn::mul_rn(fn::mul_rn(ghy, o), fn::sub_rn(one, fn::mul_rn(tc, tc)));
  if (d.grad_cy) gc = fn::add_rn(d.grad_cy[e], gc);
  T da[4] = {fn::mul_rn(gc, g), fn::mul_rn(gc, d.cx[e]), fn::mul_rn(gc, i), fn::mul_rn(ghy, tc)};
  if (d.grad_workspace) {
    for (int q = 0; q < 4; ++q) da[q] = fn::add_rn(da[q], d.grad_workspace[base + q * H]);
  }
  d.grad_gates[base] = fn::mul_rn(da[0], fn::mul_rn(i, fn::sub_rn(one, i)));
  d.grad_gates[base + H] = fn::mul_rn(da[1], fn::mul_rn(f, fn::sub_rn(one, f)));
  d.grad_gates[base + 2 * H] = fn::mul_rn(da[2], fn::sub_rn(one, fn::mul_rn(g, g)));
  d.grad_gates[base + 3 * H] = fn::mul_rn(da[3], fn::mul_rn(o, fn::sub_rn(one, o)));
  d.grad_cx[e] = fn::mul_rn(gc, f);
}

/// Whether the kernels take the case: float or double, every present tensor of the gates' dtype and
/// contiguous, gates [B, 4H] (more_gates present; optional_gates where present), cells [B, H], biases [4H].
inline bool lstm_cell_covered(const StridedRef& gates, std::initializer_list<const StridedRef*> more_gates,
                              std::initializer_list<const StridedRef*> cells,
                              std::initializer_list<const StridedRef*> biases,
                              std::initializer_list<const StridedRef*> optional_gates = {}) {
  const DType dtype = gates.dtype;
  if ((dtype != DType::kFloat32 && dtype != DType::kFloat64) || gates.sizes.size() != 2 ||
      gates.sizes[1] % 4 != 0) {
    return false;
  }
  const int64_t rows = gates.sizes[0], hidden = gates.sizes[1] / 4;
  auto fits = [&](const StridedRef* r, std::initializer_list<int64_t> shape) {
    return !r->data ||
           (r->dtype == dtype && std::equal(r->sizes.begin(), r->sizes.end(), shape.begin(), shape.end()) &&
            is_contiguous(*r));
  };
  if (!fits(&gates, {rows, 4 * hidden})) return false;
  for (const StridedRef* r : more_gates) {
    if (!r->data || !fits(r, {rows, 4 * hidden})) return false;
  }
  for (const StridedRef* r : cells) {
    if (!fits(r, {rows, hidden})) return false;
  }
  for (const StridedRef* r : biases) {
    if (!fits(r, {4 * hidden})) return false;
  }
  for (const StridedRef* r : optional_gates) {
    if (!fits(r, {rows, 4 * hidden})) return false;
  }
  return true;
}

/// Whether the kernels take Backend::lstm_cell's and lstm_cell_backward's cases (the same on every backend).
inline bool lstm_forward_covered(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
                                 const StridedRef& input_gates, const StridedRef& hidden_gates,
                                 const StridedRef& input_bias, const StridedRef& hidden_bias,
                                 const StridedRef& cx) {
  return hy.data && cy.data && cx.data &&
         lstm_cell_covered(input_gates, {&hidden_gates, &workspace}, {&hy, &cy, &cx},
                           {&input_bias, &hidden_bias});
}
inline bool lstm_backward_covered(const StridedRef& grad_gates, const StridedRef& grad_cx,
                                  const StridedRef& grad_hy, const StridedRef& grad_cy,
                                  const StridedRef& grad_workspace, const StridedRef& cx,
                                  const StridedRef& cy, const StridedRef& workspace) {
  return grad_cx.data && cx.data && cy.data &&
         lstm_cell_covered(grad_gates, {&workspace}, {&grad_cx, &grad_hy, &grad_cy, &cx, &cy}, {},
                           {&grad_workspace});
}

/// Backend::lstm_cell's tensors, typed (covered first).
template <class T>
LstmCellData<T> lstm_forward_data(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
                                  const StridedRef& input_gates, const StridedRef& hidden_gates,
                                  const StridedRef& input_bias, const StridedRef& hidden_bias,
                                  const StridedRef& cx) {
  LstmCellData<T> d;
  d.rows = input_gates.sizes[0];
  d.hidden = input_gates.sizes[1] / 4;
  d.input_gates = static_cast<const T*>(input_gates.data);
  d.hidden_gates = static_cast<const T*>(hidden_gates.data);
  d.input_bias = static_cast<const T*>(input_bias.data);
  d.hidden_bias = static_cast<const T*>(hidden_bias.data);
  d.cx = static_cast<const T*>(cx.data);
  d.hy = static_cast<T*>(hy.data);
  d.cy = static_cast<T*>(cy.data);
  d.workspace = static_cast<T*>(workspace.data);
  return d;
}

/// Backend::lstm_cell_backward's tensors, typed (covered first).
template <class T>
LstmCellData<T> lstm_backward_data(const StridedRef& grad_gates, const StridedRef& grad_cx,
                                   const StridedRef& grad_hy, const StridedRef& grad_cy,
                                   const StridedRef& grad_workspace, const StridedRef& cx,
                                   const StridedRef& cy, const StridedRef& workspace) {
  LstmCellData<T> d;
  d.rows = grad_gates.sizes[0];
  d.hidden = grad_gates.sizes[1] / 4;
  d.grad_gates = static_cast<T*>(grad_gates.data);
  d.grad_cx = static_cast<T*>(grad_cx.data);
  d.grad_hy = static_cast<const T*>(grad_hy.data);
  d.grad_cy = static_cast<const T*>(grad_cy.data);
  d.grad_workspace = static_cast<const T*>(grad_workspace.data);
  d.cx = static_cast<const T*>(cx.data);
  d.cy = static_cast<T*>(cy.data);  // read only here
  d.workspace = static_cast<T*>(workspace.data);
  return d;
}

}  // namespace td::kernels
