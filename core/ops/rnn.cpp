// The recurrent cells' fused primitives: _thnn_fused_lstm_cell, PyTorch's (CUDA-only in 1.13, on every
// device here), one kernel for an LSTM cell's elementwise part where the ops took ten (core/nn/rnn.cpp's
// LSTMCell and the steps the layer ops do not take call it each step). Its backward is one kernel too; with
// create_graph it is written in public ops from the inputs, so it differentiates again, and forward-mode AD
// transposes it. _thnn_fused_gru_cell is the GRU's, the same way. The whole-layer ops are in rnn_layer.cpp.
#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <tuple>
#include <utility>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/ops/rnn_cells.h"
#include "core/tensor_impl.h"

namespace td {

namespace ops {

StridedRef optional_ref(const Tensor& t) {
  return t.defined() ? strided_ref(t) : StridedRef{};
}

// The activated gates i, f, g, o of input_gates + hidden_gates (+ the biases), in public ops.
std::vector<Tensor> activated_gates(const Tensor& input_gates, const Tensor& hidden_gates,
                                    const Tensor& input_bias, const Tensor& hidden_bias) {
  Tensor gates = input_gates.add(hidden_gates);
  if (input_bias.defined()) gates = gates.add(input_bias);
  if (hidden_bias.defined()) gates = gates.add(hidden_bias);
  std::vector<Tensor> q = gates.chunk(4, 1);
  return {q[0].sigmoid(), q[1].sigmoid(), q[2].tanh(), q[3].sigmoid()};
}

// One cell's gradients in public ops (differentiable), from its activated gates act = {i, f, g, o} and cx:
// {the gates' gradient, cx's}. grad_hy, grad_cy and grad_ws (the activated gates') may be undefined (zero).
// With tc = tanh(cy), gc = grad_cy + grad_hy o (1 - tc^2).
std::pair<Tensor, Tensor> cell_backward_ops(const std::vector<Tensor>& act, const Tensor& cx,
                                            const Tensor& grad_hy, const Tensor& grad_cy,
                                            const Tensor& grad_ws) {
  const Tensor &i = act[0], &f = act[1], &g = act[2], &o = act[3];
  const Tensor tc = f.mul(cx).add(i.mul(g)).tanh();
  const Tensor ghy = grad_hy.defined() ? grad_hy : zeros(cx.shape(), {cx.dtype(), cx.device()});
  Tensor gc = ghy.mul(o).mul(tc.mul(tc).neg().add(1));
  if (grad_cy.defined()) gc = grad_cy.add(gc);
  std::vector<Tensor> ga = {gc.mul(g), gc.mul(cx), gc.mul(i), ghy.mul(tc)};
  if (grad_ws.defined()) {
    const std::vector<Tensor> gw = grad_ws.chunk(4, 1);
    for (size_t q = 0; q < 4; ++q) ga[q] = ga[q].add(gw[q]);
  }
  Tensor grad_gates = Tensor::cat({ga[0].mul(i.mul(i.neg().add(1))), ga[1].mul(f.mul(f.neg().add(1))),
                                   ga[2].mul(g.mul(g).neg().add(1)), ga[3].mul(o.mul(o.neg().add(1)))},
                                  1);
  return {grad_gates, gc.mul(f)};
}

// The GRU cell in public ops: r, z, n, hx and the n gate's hidden part (with its bias), then hy.
std::vector<Tensor> gru_cell_ops(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx,
                                 const Tensor& input_bias, const Tensor& hidden_bias) {
  std::vector<Tensor> i = (input_bias.defined() ? input_gates.add(input_bias) : input_gates).chunk(3, 1);
  std::vector<Tensor> h = (hidden_bias.defined() ? hidden_gates.add(hidden_bias) : hidden_gates).chunk(3, 1);
  const Tensor r = i[0].add(h[0]).sigmoid(), z = i[1].add(h[1]).sigmoid();
  const Tensor n = i[2].add(r.mul(h[2])).tanh();
  return {r, z, n, hx, h[2], n.add(z.mul(hx.sub(n)))};
}

// One GRU cell's gradients in public ops (differentiable) from v = gru_cell_ops(...) and hx: {both gate
// inputs', hx's}. grad_hy and grad_ws (the workspace's, added where it has one) may be undefined (zero).
std::tuple<Tensor, Tensor, Tensor> gru_cell_backward_ops(const std::vector<Tensor>& v, const Tensor& hx,
                                                         const Tensor& grad_hy, const Tensor& grad_ws) {
  const Tensor &r = v[0], &z = v[1], &n = v[2], &hn = v[4];
  const std::vector<Tensor> gw = grad_ws.defined() ? grad_ws.chunk(5, 1) : std::vector<Tensor>(5);
  auto plus = [](const Tensor& x, const Tensor& extra) { return extra.defined() ? x.add(extra) : x; };
  const Tensor ghy = grad_hy.defined() ? grad_hy : zeros(hx.shape(), {hx.dtype(), hx.device()});
  const Tensor gn = plus(ghy.mul(z.neg().add(1)), gw[2]).mul(n.mul(n).neg().add(1));
  const Tensor gz = plus(ghy.mul(hx.sub(n)), gw[1]).mul(z.mul(z.neg().add(1)));
  const Tensor gr = plus(gn.mul(hn), gw[0]).mul(r.mul(r.neg().add(1)));
  return {Tensor::cat({gr, gz, gn}, 1), Tensor::cat({gr, gz, plus(gn.mul(r), gw[4])}, 1),
          plus(ghy.mul(z), gw[3])};
}

}  // namespace ops

namespace {

using ops::activated_gates;
using ops::cell_backward_ops;
using ops::gru_cell_backward_ops;
using ops::gru_cell_ops;
using ops::optional_ref;

// A fused cell's arguments (op: its name; gates: 4 for LSTM's, 3 for GRU's; the state, cx or hx, [B, H]).
void check_fused_cell(std::string_view op, int64_t gates, std::string_view state_name,
                      const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& state,
                      const Tensor& input_bias, const Tensor& hidden_bias) {
  TD_CHECK_ARG(is_floating(input_gates.dtype()), "[", op, "] expected floating input_gates, got ",
               dtype_name(input_gates.dtype()));
  TD_CHECK_ARG(input_gates.dim() == 2 && input_gates.size(1) % gates == 0, "[", op,
               "] input_gates must be [batch, ", gates, " * hidden_size], got ",
               shape_str(input_gates.sizes()));
  const int64_t rows = input_gates.size(0), hidden = input_gates.size(1) / gates;
  TD_CHECK_ARG(hidden_gates.shape() == input_gates.shape(), "[", op, "] hidden_gates ",
               shape_str(hidden_gates.sizes()), " must have input_gates' shape ",
               shape_str(input_gates.sizes()));
  TD_CHECK_ARG(state.dim() == 2 && state.size(0) == rows && state.size(1) == hidden, "[", op, "] ",
               state_name, " must be [", rows, ", ", hidden, "] for input_gates ",
               shape_str(input_gates.sizes()), ", got ", shape_str(state.sizes()));
  for (const auto& [bias, name] :
       {std::pair{&input_bias, "input_bias"}, std::pair{&hidden_bias, "hidden_bias"}}) {
    TD_CHECK_ARG(!bias->defined() || (bias->dim() == 1 && bias->size(0) == gates * hidden), "[", op, "] ",
                 name, " must be [", gates * hidden, "] for input_gates ", shape_str(input_gates.sizes()),
                 ", got ", shape_str(bias->sizes()));
  }
  for (const Tensor* t : {&hidden_gates, &state, &input_bias, &hidden_bias}) {
    TD_CHECK_ARG(!t->defined() || t->dtype() == input_gates.dtype(), "[", op,
                 "] expected every tensor to be ", dtype_name(input_gates.dtype()), " as input_gates, got ",
                 dtype_name(t->dtype()));
    TD_CHECK_ARG(!t->defined() || t->device() == input_gates.device(), "[", op,
                 "] expected every tensor on input_gates' device ", input_gates.device().str(), ", got ",
                 t->device().str());
  }
}

// Backward: the gates' gradient (both gate inputs'), cx's, and the biases' (the gates' summed over rows).
std::vector<Tensor> fused_lstm_cell_backward(GradContext& c) {
  const Args& a = c.args();
  const std::vector<int> input_of = ops::tensor_input_positions(a, 5);  // None arguments are not inputs
  const auto inputs =
      static_cast<int>(std::count_if(input_of.begin(), input_of.end(), [](int i) { return i >= 0; }));
  const Tensor input_gates = c.input(0), hidden_gates = c.input(1), cx = c.input(2);
  const Tensor input_bias = input_of[3] >= 0 ? c.input(static_cast<size_t>(input_of[3])) : Tensor();
  const Tensor hidden_bias = input_of[4] >= 0 ? c.input(static_cast<size_t>(input_of[4])) : Tensor();
  // Outputs no gradient reached have undefined ones (keeps_undefined_grads): the workspace's always, cy's at
  // the last step. The kernels read those as zeros; the composite makes them.
  const Tensor &grad_hy = c.grad(0), &grad_cy = c.grad(1), &grad_ws = c.grad(2);
  auto packed_or_none = [](const Tensor& g) { return g.defined() ? g.contiguous() : Tensor(); };
  Tensor grad_gates, grad_cx;
  if (!autograd::GradMode::is_enabled()) {
    const TensorOptions opts{cx.dtype(), cx.device()};
    grad_gates = empty(input_gates.shape(), opts);
    grad_cx = empty(cx.shape(), opts);
    const Tensor ghy = packed_or_none(grad_hy), gcy = packed_or_none(grad_cy), gws = packed_or_none(grad_ws);
    const Tensor cxc = cx.contiguous(), cy = c.output(1), ws = c.output(2);
    if (!backend(cx.device().type)
             .lstm_cell_backward(strided_ref(grad_gates), strided_ref(grad_cx), optional_ref(ghy),
                                 optional_ref(gcy), optional_ref(gws), strided_ref(cxc), strided_ref(cy),
                                 strided_ref(ws), cx.device().index)) {
      grad_gates = Tensor();
    }
  }
  if (!grad_gates.defined()) {
    std::tie(grad_gates, grad_cx) = cell_backward_ops(
        activated_gates(input_gates, hidden_gates, input_bias, hidden_bias), cx, grad_hy, grad_cy, grad_ws);
  }
  std::vector<Tensor> grads(static_cast<size_t>(inputs));
  if (c.needs_grad(0)) grads[0] = grad_gates;
  if (c.needs_grad(1)) grads[1] = grad_gates;
  if (c.needs_grad(2)) grads[2] = grad_cx;
  for (int slot : {3, 4}) {
    const int k = input_of[static_cast<size_t>(slot)];
    if (k >= 0 && c.needs_grad(static_cast<size_t>(k))) grads[static_cast<size_t>(k)] = grad_gates.sum({0});
  }
  return grads;
}

// ---- _thnn_fused_gru_cell: a GRU cell's elementwise part, PyTorch's op (CUDA-only in 1.13, on every device
// here): one kernel each way where the ops took about ten.

// Backward: both gate inputs', hx's and the biases' gradients.
std::vector<Tensor> fused_gru_cell_backward(GradContext& c) {
  const Args& a = c.args();
  const std::vector<int> input_of = ops::tensor_input_positions(a, 5);
  const auto inputs =
      static_cast<int>(std::count_if(input_of.begin(), input_of.end(), [](int i) { return i >= 0; }));
  const Tensor input_gates = c.input(0), hidden_gates = c.input(1), hx = c.input(2);
  const Tensor input_bias = input_of[3] >= 0 ? c.input(static_cast<size_t>(input_of[3])) : Tensor();
  const Tensor hidden_bias = input_of[4] >= 0 ? c.input(static_cast<size_t>(input_of[4])) : Tensor();
  const Tensor &grad_hy = c.grad(0), &grad_ws = c.grad(1);  // undefined where none flowed
  Tensor grad_input, grad_hidden, grad_hx;
  if (!autograd::GradMode::is_enabled() && grad_hy.defined() && !grad_ws.defined()) {
    const TensorOptions opts{hx.dtype(), hx.device()};
    grad_input = empty(input_gates.shape(), opts);
    grad_hidden = empty(input_gates.shape(), opts);
    grad_hx = empty(hx.shape(), opts);
    const Tensor ghy = grad_hy.contiguous(), ws = c.output(1);
    if (!backend(hx.device().type)
             .gru_cell_backward(strided_ref(grad_input), strided_ref(grad_hidden), strided_ref(grad_hx),
                                strided_ref(ghy), strided_ref(ws), hx.device().index)) {
      grad_input = Tensor();
    }
  }
  if (!grad_input.defined()) {
    std::tie(grad_input, grad_hidden, grad_hx) = gru_cell_backward_ops(
        gru_cell_ops(input_gates, hidden_gates, hx, input_bias, hidden_bias), hx, grad_hy, grad_ws);
  }
  std::vector<Tensor> grads(static_cast<size_t>(inputs));
  if (c.needs_grad(0)) grads[0] = grad_input;
  if (c.needs_grad(1)) grads[1] = grad_hidden;
  if (c.needs_grad(2)) grads[2] = grad_hx;
  const Tensor* of_bias[] = {&grad_input, &grad_hidden};
  for (int slot : {3, 4}) {
    const int k = input_of[static_cast<size_t>(slot)];
    if (k >= 0 && c.needs_grad(static_cast<size_t>(k)))
      grads[static_cast<size_t>(k)] = of_bias[slot - 3]->sum({0});
  }
  return grads;
}

}  // namespace

void register_rnn_ops(Registry& r) {
  r.def(
       "_thnn_fused_lstm_cell(Tensor input_gates, Tensor hidden_gates, Tensor cx, Tensor? input_bias=None, "
       "Tensor? hidden_bias=None) -> (Tensor, Tensor, Tensor)")
      .doc(
          "an LSTM cell's elementwise part: gates = input_gates + hidden_gates (+ biases), [batch, 4 hidden] "
          "in "
          "the order i, f, g, o; cy = sigmoid(f) cx + sigmoid(i) tanh(g), hy = sigmoid(o) tanh(cy); returns "
          "hy, "
          "cy and the activated gates (the backward's workspace)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(fused_lstm_cell_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &input_gates = a.tensor(0), &hidden_gates = a.tensor(1), &cx = a.tensor(2);
        const Tensor input_bias = a.optional_tensor(3), hidden_bias = a.optional_tensor(4);
        check_fused_cell("_thnn_fused_lstm_cell", 4, "cx", input_gates, hidden_gates, cx, input_bias,
                         hidden_bias);
        const TensorOptions opts{cx.dtype(), cx.device()};
        Tensor hy = empty(cx.shape(), opts), cy = empty(cx.shape(), opts),
               ws = empty(input_gates.shape(), opts);
        const Tensor ig = input_gates.contiguous(), hg = hidden_gates.contiguous(), cxc = cx.contiguous();
        const Tensor ib = input_bias.defined() ? input_bias.contiguous() : Tensor();
        const Tensor hb = hidden_bias.defined() ? hidden_bias.contiguous() : Tensor();
        if (backend(cx.device().type)
                .lstm_cell(strided_ref(hy), strided_ref(cy), strided_ref(ws), strided_ref(ig),
                           strided_ref(hg), optional_ref(ib), optional_ref(hb), strided_ref(cxc),
                           cx.device().index)) {
          return {hy, cy, ws};
        }
        // Other dtypes (the 16-bit floats) in ops, the same arithmetic.
        const std::vector<Tensor> act = activated_gates(input_gates, hidden_gates, input_bias, hidden_bias);
        cy = act[1].mul(cx).add(act[0].mul(act[2]));
        hy = act[3].mul(cy.tanh());
        return {hy, cy, Tensor::cat(act, 1)};
      });

  r.def(
       "_thnn_fused_gru_cell(Tensor input_gates, Tensor hidden_gates, Tensor hx, Tensor? input_bias=None, "
       "Tensor? hidden_bias=None) -> (Tensor, Tensor)")
      .doc(
          "a GRU cell's elementwise part: [batch, 3 hidden] gates in the order r, z, n (+ biases); r and z "
          "the "
          "sigmoids of the sums, n = tanh(i_n + r h_n), hy = n + z (hx - n); returns hy and the workspace "
          "(r, z, n, hx, h_n) for the backward")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(fused_gru_cell_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &input_gates = a.tensor(0), &hidden_gates = a.tensor(1), &hx = a.tensor(2);
        const Tensor input_bias = a.optional_tensor(3), hidden_bias = a.optional_tensor(4);
        check_fused_cell("_thnn_fused_gru_cell", 3, "hx", input_gates, hidden_gates, hx, input_bias,
                         hidden_bias);
        const TensorOptions opts{hx.dtype(), hx.device()};
        Tensor hy = empty(hx.shape(), opts), ws = empty({hx.size(0), 5 * hx.size(1)}, opts);
        const Tensor ig = input_gates.contiguous(), hg = hidden_gates.contiguous(), hxc = hx.contiguous();
        const Tensor ib = input_bias.defined() ? input_bias.contiguous() : Tensor();
        const Tensor hb = hidden_bias.defined() ? hidden_bias.contiguous() : Tensor();
        if (backend(hx.device().type)
                .gru_cell(strided_ref(hy), strided_ref(ws), strided_ref(ig), strided_ref(hg),
                          optional_ref(ib), optional_ref(hb), strided_ref(hxc), hx.device().index)) {
          return {hy, ws};
        }
        // Other dtypes (the 16-bit floats) in ops, the same arithmetic.
        std::vector<Tensor> v = gru_cell_ops(input_gates, hidden_gates, hx, input_bias, hidden_bias);
        Tensor out = v.back();
        v.pop_back();
        return {out, Tensor::cat(v, 1)};
      });
}

}  // namespace td
