// Backend::lstm_cell, lstm_cell_backward, gru_cell and gru_cell_backward on the CPU.
#include "kernels/cpu/rnn.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/loops.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/dispatch.h"
#include "kernels/gru_cell.h"
#include "kernels/lstm_cell.h"

namespace td::kernels {

namespace {

// The LSTM cell (kernels/lstm_cell.h) a row at a time, rows split over the threads: the gates' activations
// and tanh(cy) through SLEEF's vector functions where the CPU has AVX (as the unary ops' are), the rest the
// shared per-element arithmetic. backward: lstm_cell_backward_at with tanh(cy) computed the same way.
// p[0 .. n) = sigmoid or tanh of itself: SLEEF's vector form where the CPU has AVX (as the unary ops'),
// the functors otherwise.
template <class T>
void activate(bool vec, UnaryOp op, T* p, int64_t n) {
  if (vec && vector_unary(op, p, p, n)) return;
  for (int64_t k = 0; k < n; ++k) p[k] = op == UnaryOp::kTanh ? fn::Tanh{}(p[k]) : fn::Sigmoid{}(p[k]);
}

template <class T>
void lstm_rows(const LstmCellData<T>& d, bool backward) {
  const int64_t H = d.hidden;
  const bool vec = vector_math_available();
  auto activate = [vec](UnaryOp op, T* p, int64_t n) { kernels::activate(vec, op, p, n); };
#pragma omp parallel if (d.rows * 4 * H >= kParallelGrain)
  {
    std::vector<T> tc(static_cast<size_t>(H));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < d.rows; ++r) {
      const T* cy = d.cy + r * H;
      if (backward) {
        std::copy(cy, cy + H, tc.begin());
        activate(UnaryOp::kTanh, tc.data(), H);
        for (int64_t j = 0; j < H; ++j) lstm_cell_backward_at(d, r * H + j, tc[static_cast<size_t>(j)]);
        continue;
      }
      T* ws = d.workspace + r * 4 * H;
      for (int q = 0; q < 4; ++q) {
        for (int64_t j = 0; j < H; ++j) ws[q * H + j] = lstm_gate(d, r, q, j);
      }
      activate(UnaryOp::kSigmoid, ws, 2 * H);  // i and f
      activate(UnaryOp::kTanh, ws + 2 * H, H);
      activate(UnaryOp::kSigmoid, ws + 3 * H, H);
      T* c = d.cy + r * H;
      for (int64_t j = 0; j < H; ++j)
        c[j] = lstm_cell_state(ws[j], ws[H + j], ws[2 * H + j], d.cx[r * H + j]);
      std::copy(c, c + H, tc.begin());
      activate(UnaryOp::kTanh, tc.data(), H);
      for (int64_t j = 0; j < H; ++j) d.hy[r * H + j] = fn::mul_rn(ws[3 * H + j], tc[static_cast<size_t>(j)]);
    }
  }
}

// The GRU cell's forward (kernels/gru_cell.h's gru_cell_at, the same sums and products) a row at a time, rows
// split over the threads: the r and z sums, then their sigmoids; the n gate's sum, then its tanh, each
// through activate() over the row's workspace; then hy.
template <class T>
void gru_rows(const GruCellData<T>& d) {
  const int64_t H = d.hidden;
  const bool vec = vector_math_available();
#pragma omp parallel for schedule(static) if (d.rows * 3 * H >= kParallelGrain)
  for (int64_t r = 0; r < d.rows; ++r) {
    T* ws = d.workspace + r * 5 * H;
    for (int q = 0; q < 2; ++q) {
      for (int64_t j = 0; j < H; ++j) {
        ws[q * H + j] = fn::add_rn(gru_part(d.input_gates, d.input_bias, H, r, q, j),
                                   gru_part(d.hidden_gates, d.hidden_bias, H, r, q, j));
      }
    }
    activate(vec, UnaryOp::kSigmoid, ws, 2 * H);  // r and z
    for (int64_t j = 0; j < H; ++j) {
      const T hn = gru_part(d.hidden_gates, d.hidden_bias, H, r, 2, j);
      ws[4 * H + j] = hn;
      ws[2 * H + j] = fn::add_rn(gru_part(d.input_gates, d.input_bias, H, r, 2, j), fn::mul_rn(ws[j], hn));
    }
    activate(vec, UnaryOp::kTanh, ws + 2 * H, H);
    for (int64_t j = 0; j < H; ++j) {
      const T hx = d.hx[r * H + j], n = ws[2 * H + j], z = ws[H + j];
      ws[3 * H + j] = hx;
      d.hy[r * H + j] = fn::add_rn(n, fn::mul_rn(z, fn::sub_rn(hx, n)));
    }
  }
}

// The GRU cell's backward element by element (no transcendental functions), rows split over the threads.
template <class T>
void gru_backward_elements(const GruCellData<T>& d) {
  const int64_t n = d.rows * d.hidden;
#pragma omp parallel for schedule(static) if (n * 3 >= kParallelGrain)
  for (int64_t e = 0; e < n; ++e) gru_cell_backward_at(d, e);
}

}  // namespace

bool gru_cell(const StridedRef& hy, const StridedRef& workspace, const StridedRef& input_gates,
              const StridedRef& hidden_gates, const StridedRef& input_bias, const StridedRef& hidden_bias,
              const StridedRef& hx) {
  if (!gru_forward_covered(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx))
    return false;
  float_or_double(input_gates.dtype, [&]<class T>(T) {
    gru_rows(gru_forward_data<T>(hy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, hx));
  });
  return true;
}

bool gru_cell_backward(const StridedRef& grad_input_gates, const StridedRef& grad_hidden_gates,
                       const StridedRef& grad_hx, const StridedRef& grad_hy, const StridedRef& workspace) {
  if (!gru_backward_covered(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace)) return false;
  float_or_double(grad_input_gates.dtype, [&]<class T>(T) {
    gru_backward_elements(
        gru_backward_data<T>(grad_input_gates, grad_hidden_gates, grad_hx, grad_hy, workspace));
  });
  return true;
}

bool lstm_cell(const StridedRef& hy, const StridedRef& cy, const StridedRef& workspace,
               const StridedRef& input_gates, const StridedRef& hidden_gates, const StridedRef& input_bias,
               const StridedRef& hidden_bias, const StridedRef& cx) {
  if (!lstm_forward_covered(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx))
    return false;
  float_or_double(input_gates.dtype, [&]<class T>(T) {
    lstm_rows(lstm_forward_data<T>(hy, cy, workspace, input_gates, hidden_gates, input_bias, hidden_bias, cx),
              false);
  });
  return true;
}

bool lstm_cell_backward(const StridedRef& grad_gates, const StridedRef& grad_cx, const StridedRef& grad_hy,
                        const StridedRef& grad_cy, const StridedRef& grad_workspace, const StridedRef& cx,
                        const StridedRef& cy, const StridedRef& workspace) {
  if (!lstm_backward_covered(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace))
    return false;
  float_or_double(grad_gates.dtype, [&]<class T>(T) {
    lstm_rows(lstm_backward_data<T>(grad_gates, grad_cx, grad_hy, grad_cy, grad_workspace, cx, cy, workspace),
              true);
  });
  return true;
}

}  // namespace td::kernels
