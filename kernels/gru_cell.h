// A GRU cell's elementwise part (Backend::gru_cell and gru_cell_backward), PyTorch's _thnn_fused_gru_cell:
// the same arithmetic on every backend (kernels/cuda/rnn.cu's kernels; kernels/cpu/rnn.cpp's rows, which do
// the same sums and products with the activations a row at a time through SLEEF, as the CPU's unary ops),
// each product and sum rounded in the element type (no fused multiply-add), the activations the unary ops'
// functors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "core/backend.h"
#include "kernels/coalesce.h"
#include "kernels/elementwise_ops.h"

namespace td::kernels {

/// The tensors of one cell over a batch of B rows and H hidden units: gates [B, 3H] (r, z, n), hidden states
/// [B, H], biases [3H] (null: absent), and the workspace [B, 5H]: r, z, n, hx and the n gate's hidden part
/// (with its bias), as PyTorch's.
template <class T>
struct GruCellData {
  int64_t rows = 0, hidden = 0;
  // forward
  const T *input_gates = nullptr, *hidden_gates = nullptr, *input_bias = nullptr, *hidden_bias = nullptr;
  const T* hx = nullptr;
  T *hy = nullptr, *workspace = nullptr;
  // backward (reads the workspace)
  const T* grad_hy = nullptr;
  T *grad_input_gates = nullptr, *grad_hidden_gates = nullptr, *grad_hx = nullptr;
};

/// gates[row, q * H + j] (+ bias[q * H + j]).
template <class T>
TD_HD T gru_part(const T* gates, const T* bias, int64_t H, int64_t row, int q, int64_t j) {
  const T v = gates[row * 3 * H + q * H + j];
  return bias ? fn::add_rn(v, bias[q * H + j]) : v;
}

/// Forward at element e = row * H + j: r = sigmoid(i_r + h_r), z = sigmoid(i_z + h_z),
/// n = tanh(i_n + r h_n), hy = n + z (hx - n); the workspace keeps r, z, n, hx and h_n.
template <class T>
TD_HD void gru_cell_at(const GruCellData<T>& d, int64_t e) {
  const int64_t H = d.hidden, row = e / H, j = e - row * H, base = row * 5 * H + j;
  const T r = fn::Sigmoid{}(fn::add_rn(gru_part(d.input_gates, d.input_bias, H, row, 0, j),
                                       gru_part(d.hidden_gates, d.hidden_bias, H, row, 0, j)));
  const T z = fn::Sigmoid{}(fn::add_rn(gru_part(d.input_gates, d.input_bias, H, row, 1, j),
                                       gru_part(d.hidden_gates, d.hidden_bias, H, row, 1, j)));
  const T hn = gru_part(d.hidden_gates, d.hidden_bias, H, row, 2, j);
  const T n = fn::Tanh{}(fn::add_rn(gru_part(d.input_gates, d.input_bias, H, row, 2, j), fn::mul_rn(r, hn)));
  const T hx = d.hx[e];
  d.hy[e] = fn::add_rn(n, fn::mul_rn(z, fn::sub_rn(hx, n)));
  d.workspace[base] = r;
  d.workspace[base + H] = z;
  d.workspace[base + 2 * H] = n;
  d.workspace[base + 3 * H] = hx;
  d.workspace[base + 4 * H] = hn;
}

/// Backward at element e from grad_hy: with gn = grad_hy (1 - z) (1 - n^2), the gates' gradients are
/// r: gn h_n r (1 - r), z: grad_hy (hx - n) z (1 - z), n: gn (the input's) and gn r (the hidden's);
/// grad_hx = grad_hy z.
template <class T>
TD_HD void gru_cell_backward_at(const GruCellData<T>& d, int64_t e) {
  const int64_t H = d.hidden, row = e / H, j = e - row * H, ws = row * 5 * H + j, g = row * 3 * H + j;
  const T r = d.workspace[ws], z = d.workspace[ws + H], n = d.workspace[ws + 2 * H],
          hx = d.workspace[ws + 3 * H], hn = d.workspace[ws + 4 * H];
  const T one(1), ghy = d.grad_hy[e];
  const T gn = fn::mul_rn(fn::mul_rn(ghy, fn::sub_rn(one, z)), fn::sub_rn(one, fn::mul_rn(n, n)));
  const T gz = fn::mul_rn(fn::mul_rn(ghy, fn::sub_rn(hx, n)), fn::mul_rn(z, fn::sub_rn(one, z)));
  const T gr = fn::mul_rn(fn::mul_rn(gn, hn), fn::mul_rn(r, fn::sub_rn(one, r)));
  d.grad_input_gates[g] = gr;
  d.grad_input_gates[g + H] = gz;
  d.grad_input_gates[g + 2 * H] = gn;
  d.grad_hidden_gates[g] = gr;
  d.grad_hidden_gates[g + H] = gz;
  d.grad_hidden_gates[g + 2 * H] = fn::mul_rn(gn, r);
  d.grad_hx[e] = fn::mul_rn(ghy, z);
}

/// Whether the kernels take Backend::gru_cell's case: float or double, every present tensor of the gates'
/// dtype and contiguous, gates [B, 3H], hx and hy [B, H], biases [3H], workspace [B, 5H].
inline bool gru_forward_covered(const StridedRef& hy, const StridedRef& workspace,
                                const StridedRef& input_gates, const StridedRef& hidden_gates,
                                const StridedRef& input_bias, const StridedRef& hidden_bias,
                                const StridedRef& hx) {
  const DType dtype = input_gates.dtype;
  if ((dtype != DType::kFloat32 && dtype != DType::kFloat64) || input_gates.sizes.size() != 2 ||
      input_gates.sizes[1] % 3 != 0 || !hy.data || !workspace.data || !hx.data || !hidden_gates.data) {
    return false;
  }
  const int64_t rows = input_gates.sizes[0], hidden = input_gates.sizes[1] / 3;
  auto fits = [&](const StridedRef& r, std::initializer_list<int64_t> shape) {
    return !r.data ||
           (r.dtype == dtype && std::equal(r.sizes.begin(), r.sizes.end(), shape.begin(), shape.end()) &&
            is_contiguous(r));
  };
  return fits(input_gates, {rows, 3 * hidden}) && fits(hidden_gates, {rows, 3 * hidden}) &&
         fits(hx, {rows, hidden}) && fits(hy, {rows, hidden}) && fits(workspace, {rows, 5 * hidden}) &&
         fits(input_bias, {3 * hidden}) && fits(hidden_bias, {3 * hidden});
}

/// Whether the kernels take Backend::gru_cell_backward's case (as the forward's, grad_hy present).
inline bool gru_backward_covered(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                                 const StridedRef& grad_hx, const StridedRef& grad_hy,
                                 const StridedRef& workspace) {
  return grad_hy.data && gru_forward_covered(grad_hx, workspace, grad_input_gates, grad_hidden_gates,
                                             StridedRef{}, StridedRef{}, grad_hy);
}

/// Backend::gru_cell's tensors, typed (covered first).
template <class T>
GruCellData<T> gru_forward_data(const StridedRef& hy, const StridedRef& workspace,
                                const StridedRef& input_gates, const StridedRef& hidden_gates,
                                const StridedRef& input_bias, const StridedRef& hidden_bias,
                                const StridedRef& hx) {
  GruCellData<T> d;
  d.rows = input_gates.sizes[0];
  d.hidden = input_gates.sizes[1] / 3;
  d.input_gates = static_cast<const T*>(input_gates.data);
  d.hidden_gates = static_cast<const T*>(hidden_gates.data);
  d.input_bias = static_cast<const T*>(input_bias.data);
  d.hidden_bias = static_cast<const T*>(hidden_bias.data);
  d.hx = static_cast<const T*>(hx.data);
  d.hy = static_cast<T*>(hy.data);
  d.workspace = static_cast<T*>(workspace.data);
  return d;
}

/// Backend::gru_cell_backward's tensors, typed (covered first).
template <class T>
GruCellData<T> gru_backward_data(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                                 const StridedRef& grad_hx, const StridedRef& grad_hy,
                                 const StridedRef& workspace) {
  GruCellData<T> d;
  d.rows = grad_input_gates.sizes[0];
  d.hidden = grad_input_gates.sizes[1] / 3;
  d.grad_input_gates = static_cast<T*>(grad_input_gates.data);
  d.grad_hidden_gates = static_cast<T*>(grad_hidden_gates.data);
  d.grad_hx = static_cast<T*>(grad_hx.data);
  d.grad_hy = static_cast<const T*>(grad_hy.data);
  d.workspace = static_cast<T*>(workspace.data);  // read only here
  return d;
}

}  // namespace td::kernels
