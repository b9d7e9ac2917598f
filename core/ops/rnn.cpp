// The recurrent cells' fused primitive: _thnn_fused_lstm_cell, PyTorch's (CUDA-only in 1.13, on every device
// here), one kernel for an LSTM cell's elementwise part where the ops took ten (core/nn/rnn.cpp's LSTMCell
// and the steps of the layers _lstm_layer does not take call it each step); and _lstm_layer, a whole layer.
// Its backward is one kernel too; with create_graph it is written in public ops from the inputs, so it
// differentiates again, and forward-mode AD transposes it. _thnn_fused_gru_cell and _gru_layer are the GRU's,
// the same way.
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
#include "core/tensor_impl.h"

namespace td {

namespace {

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

// ---- _lstm_layer: one LSTM layer in one direction over every step, as one op (the role PyTorch's
// _cudnn_rnn plays on CUDA): a step is one GEMM and one cell kernel on the backend, with no op dispatch or
// autograd node per step, and the backward is one cell kernel and one GEMM per step, then one GEMM for
// weight_hh's gradient over all steps where the per-step graph took one per step and a sum.

// A layer op's arguments (op: its name; gates: 4 for LSTM's, 3 for GRU's): input_gates [steps, batch,
// gates * hidden], the states [batch, hidden], weight_hh [gates * hidden, hidden], bias_hh (if defined)
// [gates * hidden], all of input_gates' dtype and device.
void check_layer(std::string_view op, int64_t n_gates, const Tensor& gates,
                 std::initializer_list<std::pair<const Tensor*, const char*>> states, const Tensor& w_hh,
                 const Tensor& b_hh) {
  TD_CHECK_ARG(is_floating(gates.dtype()), "[", op, "] expected floating input_gates, got ",
               dtype_name(gates.dtype()));
  TD_CHECK_ARG(gates.dim() == 3 && gates.size(0) > 0 && gates.size(2) > 0 && gates.size(2) % n_gates == 0,
               "[", op, "] input_gates must be [steps, batch, ", n_gates,
               " * hidden_size] with steps and hidden_size > 0, got ", shape_str(gates.sizes()));
  const int64_t batch = gates.size(1), hidden = gates.size(2) / n_gates;
  for (const auto& [t, name] : states) {
    TD_CHECK_ARG(t->dim() == 2 && t->size(0) == batch && t->size(1) == hidden, "[", op, "] ", name,
                 " must be [", batch, ", ", hidden, "] for input_gates ", shape_str(gates.sizes()), ", got ",
                 shape_str(t->sizes()));
  }
  TD_CHECK_ARG(w_hh.dim() == 2 && w_hh.size(0) == n_gates * hidden && w_hh.size(1) == hidden, "[", op,
               "] weight_hh must be [", n_gates * hidden, ", ", hidden, "] for input_gates ",
               shape_str(gates.sizes()), ", got ", shape_str(w_hh.sizes()));
  TD_CHECK_ARG(!b_hh.defined() || (b_hh.dim() == 1 && b_hh.size(0) == n_gates * hidden), "[", op,
               "] bias_hh must be [", n_gates * hidden, "] for input_gates ", shape_str(gates.sizes()),
               ", got ", shape_str(b_hh.sizes()));
  std::vector<const Tensor*> all;
  for (const auto& st : states) all.push_back(st.first);
  all.push_back(&w_hh);
  if (b_hh.defined()) all.push_back(&b_hh);
  for (const Tensor* t : all) {
    TD_CHECK_ARG(t->dtype() == gates.dtype(), "[", op, "] expected every tensor to be ",
                 dtype_name(gates.dtype()), " as input_gates, got ", dtype_name(t->dtype()));
    TD_CHECK_ARG(t->device() == gates.device(), "[", op, "] expected every tensor on input_gates' device ",
                 gates.device().str(), ", got ", t->device().str());
  }
}

// Which time step the layer runs s-th.
int64_t step_at(int64_t s, int64_t steps, bool reverse) {
  return reverse ? steps - 1 - s : s;
}

// A row-major matrix of contiguous memory as Backend refs: a contiguous 2-d tensor, or step t of a contiguous
// [steps, rows, cols] one; as 2-d, or as a batch of one for Backend::gemm. The refs point into this object.
class Matrix {
 public:
  explicit Matrix(const Tensor& t, int64_t step = 0) : dtype_(t.dtype()) {
    const int64_t rows = t.size(t.dim() - 2), cols = t.size(t.dim() - 1);
    data_ =
        static_cast<char*>(strided_ref(t).data) + step * rows * cols * static_cast<int64_t>(itemsize(dtype_));
    sizes_ = {1, rows, cols};
    strides_ = {rows * cols, cols, 1};
  }
  Matrix transposed() const {
    Matrix m = *this;
    std::swap(m.sizes_[1], m.sizes_[2]);
    std::swap(m.strides_[1], m.strides_[2]);
    return m;
  }
  StridedRef ref() const {
    return {data_, dtype_, std::span<const int64_t>(sizes_).subspan(1),
            std::span<const int64_t>(strides_).subspan(1)};
  }
  StridedRef batch() const { return {data_, dtype_, sizes_, strides_}; }

 private:
  void* data_;
  DType dtype_;
  std::array<int64_t, 3> sizes_{}, strides_{};
};

// The saved tensors of one layer's forward (its outputs; all contiguous).
struct LayerState {
  Tensor out, cells, ws;  // h_t, c_t and the activated gates of every step, in time order
};

// The steps on the backend's kernels: false, having done nothing the caller keeps, where its cell kernel does
// not take the dtype (the 16-bit floats).
bool layer_forward_kernels(const Tensor& gates, const Tensor& hx, const Tensor& cx, const Tensor& w_hh,
                           bool reverse, const LayerState& st) {
  const Device dev = gates.device();
  Backend& be = backend(dev.type);
  const int64_t steps = gates.size(0), batch = gates.size(1), hidden = hx.size(1);
  const Tensor hidden_gates = empty({batch, 4 * hidden}, {gates.dtype(), dev});
  const Matrix hg(hidden_gates), w_t = Matrix(w_hh).transposed();
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = step_at(s, steps, reverse), prev = step_at(s - 1, steps, reverse);
    const Matrix h_prev = s ? Matrix(st.out, prev) : Matrix(hx),
                 c_prev = s ? Matrix(st.cells, prev) : Matrix(cx);
    be.gemm(hg.batch(), h_prev.batch(), w_t.batch(), dev.index);
    if (!be.lstm_cell(Matrix(st.out, t).ref(), Matrix(st.cells, t).ref(), Matrix(st.ws, t).ref(),
                      Matrix(gates, t).ref(), hg.ref(), StridedRef{}, StridedRef{}, c_prev.ref(),
                      dev.index)) {
      return false;
    }
  }
  return true;
}

// The steps in public ops (the fused cell op per step), for the dtypes the kernels leave to ops.
LayerState layer_forward_ops(const Tensor& gates, const Tensor& hx, const Tensor& cx, const Tensor& w_hh,
                             bool reverse) {
  const int64_t steps = gates.size(0);
  std::vector<Tensor> out(static_cast<size_t>(steps)), cells(out.size()), ws(out.size());
  const Tensor w_t = w_hh.t();
  Tensor h = hx, c = cx;
  for (int64_t s = 0; s < steps; ++s) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    const std::vector<Tensor> r = call_op(
        "_thnn_fused_lstm_cell", {gates.select(0, static_cast<int64_t>(t)), h.mm(w_t), c, None{}, None{}});
    out[t] = h = r[0];
    cells[t] = c = r[1];
    ws[t] = r[2];
  }
  return {Tensor::stack(out, 0), Tensor::stack(cells, 0), Tensor::stack(ws, 0)};
}

// The gradients of the gates, hx and cx on the backend's kernels, from the saved state and the gradients of
// output, hy and cy (undefined: zero). False where the cell kernel does not take the dtype.
bool layer_backward_kernels(const Tensor& hx, const Tensor& cx, const Tensor& w_hh, bool reverse,
                            const LayerState& st, const Tensor& grad_out, const Tensor& grad_hy,
                            const Tensor& grad_cy, Tensor& grad_gates, Tensor& grad_hx, Tensor& grad_cx) {
  const Device dev = hx.device();
  Backend& be = backend(dev.type);
  const int64_t steps = st.out.size(0), batch = hx.size(0), hidden = hx.size(1);
  const TensorOptions opts{hx.dtype(), dev};
  if (batch == 0) {
    grad_gates = empty({steps, 0, 4 * hidden}, opts);
    grad_hx = empty({0, hidden}, opts);
    grad_cx = empty({0, hidden}, opts);
    return true;
  }
  grad_gates = empty({steps, batch, 4 * hidden}, opts);
  const Tensor dh = empty({batch, hidden}, opts),
               sum = grad_out.defined() ? empty({batch, hidden}, opts) : Tensor();
  Tensor dc[2] = {empty({batch, hidden}, opts), empty({batch, hidden}, opts)};
  const Tensor go = grad_out.defined() ? grad_out.contiguous() : Tensor();
  const Tensor ghy = grad_hy.defined() ? grad_hy.contiguous() : Tensor();
  const Tensor gcy = grad_cy.defined() ? grad_cy.contiguous() : Tensor();
  const Matrix w(w_hh), dh_m(dh);
  int cur = 0;
  for (int64_t s = steps; s-- > 0;) {
    const int64_t t = step_at(s, steps, reverse), prev = step_at(s - 1, steps, reverse);
    const bool last = s == steps - 1;
    // The gradient reaching h_t: the output's, plus the next step's (hy's at the last step).
    const Tensor& carried = last ? ghy : dh;
    std::optional<Matrix> grad_h;
    if (go.defined() && carried.defined()) {
      grad_h.emplace(sum);
      be.binary(BinaryOp::kAdd, grad_h->ref(), Matrix(go, t).ref(), Matrix(carried).ref(), Scalar(1),
                dev.index);
    } else if (go.defined()) {
      grad_h.emplace(go, t);
    } else if (carried.defined()) {
      grad_h.emplace(carried);
    }
    const std::optional<Matrix> grad_c =
        last ? (gcy.defined() ? std::optional<Matrix>(Matrix(gcy)) : std::nullopt)
             : std::optional<Matrix>(Matrix(dc[cur]));
    const Matrix c_prev = s ? Matrix(st.cells, prev) : Matrix(cx), gg(grad_gates, t);
    if (!be.lstm_cell_backward(gg.ref(), Matrix(dc[1 - cur]).ref(), grad_h ? grad_h->ref() : StridedRef{},
                               grad_c ? grad_c->ref() : StridedRef{}, StridedRef{}, c_prev.ref(),
                               Matrix(st.cells, t).ref(), Matrix(st.ws, t).ref(), dev.index)) {
      return false;
    }
    cur = 1 - cur;
    be.gemm(dh_m.batch(), gg.batch(), w.batch(), dev.index);  // h_prev's gradient: grad_gates W_hh
  }
  grad_hx = dh;
  grad_cx = dc[cur];
  return true;
}

// Every gradient from the inputs in public ops (differentiable: create_graph, and gradients reaching the
// saved cells or gates): the steps again, then their gradients in reverse. {gates, hx, cx, weight_hh}.
std::vector<Tensor> layer_backward_ops(const Tensor& gates, const Tensor& hx, const Tensor& cx,
                                       const Tensor& w_hh, bool reverse, const Tensor& grad_out,
                                       const Tensor& grad_hy, const Tensor& grad_cy, const Tensor& grad_cells,
                                       const Tensor& grad_ws) {
  const int64_t steps = gates.size(0);
  const auto n = static_cast<size_t>(steps);
  std::vector<std::vector<Tensor>> act(n);
  std::vector<Tensor> h_prev(n), c_prev(n), grad(n);
  const Tensor w_t = w_hh.t();
  Tensor h = hx, c = cx;
  for (int64_t s = 0; s < steps; ++s) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    h_prev[t] = h;
    c_prev[t] = c;
    act[t] = activated_gates(gates.select(0, static_cast<int64_t>(t)), h.mm(w_t), Tensor(), Tensor());
    c = act[t][1].mul(c).add(act[t][0].mul(act[t][2]));
    h = act[t][3].mul(c.tanh());
  }
  auto add = [](const Tensor& a, const Tensor& b) { return !a.defined() ? b : !b.defined() ? a : a.add(b); };
  auto at = [](const Tensor& g, size_t t) {
    return g.defined() ? g.select(0, static_cast<int64_t>(t)) : Tensor();
  };
  Tensor dh = grad_hy, dc = grad_cy;
  for (int64_t s = steps; s-- > 0;) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    auto [gg, gcx] = cell_backward_ops(act[t], c_prev[t], add(at(grad_out, t), dh),
                                       add(dc, at(grad_cells, t)), at(grad_ws, t));
    grad[t] = gg;
    dh = gg.mm(w_hh);
    dc = gcx;
  }
  const Tensor grad_gates = Tensor::stack(grad, 0);
  const int64_t batch = hx.size(0), hidden = hx.size(1);
  const Tensor grad_w = grad_gates.reshape({steps * batch, 4 * hidden})
                            .t()
                            .mm(Tensor::stack(h_prev, 0).reshape({steps * batch, hidden}));
  return {grad_gates, dh, dc, grad_w};
}

// weight_hh's gradient from the hidden gates' gradients of every step [steps, batch, gates * hidden]: the sum
// over steps of grad[t]^T h_prev(t), h_prev being hx at the first step run and the output of the step before
// it otherwise; two GEMMs (the first step's, then every other step's at once).
Tensor weight_hh_grad(const Tensor& grad, const Tensor& hx, const Tensor& out, bool reverse) {
  const int64_t steps = grad.size(0), batch = grad.size(1);
  Tensor w = grad.select(0, reverse ? steps - 1 : 0).t().mm(hx);
  if (steps == 1) return w;
  const Tensor g = grad.narrow(0, reverse ? 0 : 1, steps - 1).reshape({(steps - 1) * batch, grad.size(2)});
  const Tensor h = out.narrow(0, reverse ? 1 : 0, steps - 1).reshape({(steps - 1) * batch, hx.size(1)});
  return w.addmm(g.t(), h);
}

std::vector<Tensor> lstm_layer_backward(GradContext& c) {
  const Tensor gates = c.input(0), hx = c.input(1), cx = c.input(2), w_hh = c.input(3);
  const bool reverse = c.args().bool_at(4);
  const Tensor &grad_out = c.grad(0), &grad_hy = c.grad(1), &grad_cy = c.grad(2);
  const Tensor &grad_cells = c.grad(3), &grad_ws = c.grad(4);
  std::vector<Tensor> grads(4);
  if (!autograd::GradMode::is_enabled() && !grad_cells.defined() && !grad_ws.defined()) {
    const LayerState st{c.output(0), c.output(3), c.output(4)};
    const Tensor hxc = hx.contiguous(), cxc = cx.contiguous(), w = w_hh.contiguous();
    if (layer_backward_kernels(hxc, cxc, w, reverse, st, grad_out, grad_hy, grad_cy, grads[0], grads[1],
                               grads[2])) {
      if (c.needs_grad(3)) grads[3] = weight_hh_grad(grads[0], hxc, st.out, reverse);
      for (size_t i = 0; i < grads.size(); ++i) {
        if (!c.needs_grad(i)) grads[i] = Tensor();
      }
      return grads;
    }
  }
  grads = layer_backward_ops(gates, hx, cx, w_hh, reverse, grad_out, grad_hy, grad_cy, grad_cells, grad_ws);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!c.needs_grad(i)) grads[i] = Tensor();
  }
  return grads;
}

// ---- _gru_layer: one GRU layer in one direction over every step, as one op, as _lstm_layer: a step is one
// GEMM and the fused GRU cell on the backend; the backward one cell kernel, one GEMM and an add per step,
// then one GEMM for weight_hh's gradient. bias_hh stays apart from the input gates: the n gate multiplies
// its hidden part (with b_hn) by r.

// The saved tensors of one GRU layer's forward (its outputs; contiguous): h_t and the cell's workspace (r, z,
// n, h_prev and the n gate's hidden part) of every step, in time order.
struct GruLayerState {
  Tensor out, ws;
};

bool gru_forward_kernels(const Tensor& gates, const Tensor& hx, const Tensor& w_hh, const Tensor& b_hh,
                         bool reverse, const GruLayerState& st) {
  const Device dev = gates.device();
  Backend& be = backend(dev.type);
  const int64_t steps = gates.size(0), batch = gates.size(1), hidden = hx.size(1);
  const Tensor hidden_gates = empty({batch, 3 * hidden}, {gates.dtype(), dev});
  const Matrix hg(hidden_gates), w_t = Matrix(w_hh).transposed();
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = step_at(s, steps, reverse), prev = step_at(s - 1, steps, reverse);
    const Matrix h_prev = s ? Matrix(st.out, prev) : Matrix(hx);
    be.gemm(hg.batch(), h_prev.batch(), w_t.batch(), dev.index);
    if (!be.gru_cell(Matrix(st.out, t).ref(), Matrix(st.ws, t).ref(), Matrix(gates, t).ref(), hg.ref(),
                     StridedRef{}, optional_ref(b_hh), h_prev.ref(), dev.index)) {
      return false;
    }
  }
  return true;
}

// The steps in public ops (the fused cell op per step), for the dtypes the kernels leave to ops.
GruLayerState gru_forward_ops(const Tensor& gates, const Tensor& hx, const Tensor& w_hh, const Tensor& b_hh,
                              bool reverse) {
  const int64_t steps = gates.size(0);
  std::vector<Tensor> out(static_cast<size_t>(steps)), ws(out.size());
  const Tensor w_t = w_hh.t();
  Tensor h = hx;
  for (int64_t s = 0; s < steps; ++s) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    const std::vector<Tensor> r =
        call_op("_thnn_fused_gru_cell", {gates.select(0, static_cast<int64_t>(t)), h.mm(w_t), h, None{},
                                         b_hh.defined() ? Value(b_hh) : Value(None{})});
    out[t] = h = r[0];
    ws[t] = r[1];
  }
  return {Tensor::stack(out, 0), Tensor::stack(ws, 0)};
}

// The gradients of the input gates, of the hidden gates (every step's, for weight_hh's and bias_hh's) and of
// hx on the backend's kernels, from the saved state and the gradients of output and hy (one of them defined).
// False where the cell kernel does not take the dtype.
bool gru_backward_kernels(const Tensor& hx, const Tensor& w_hh, bool reverse, const GruLayerState& st,
                          const Tensor& grad_out, const Tensor& grad_hy, Tensor& grad_gates,
                          Tensor& grad_hidden, Tensor& grad_hx) {
  const Device dev = hx.device();
  Backend& be = backend(dev.type);
  const int64_t steps = st.out.size(0), batch = hx.size(0), hidden = hx.size(1);
  const TensorOptions opts{hx.dtype(), dev};
  grad_gates = empty({steps, batch, 3 * hidden}, opts);
  grad_hidden = empty({steps, batch, 3 * hidden}, opts);
  if (batch == 0) {
    grad_hx = empty({0, hidden}, opts);
    return true;
  }
  const Tensor dh = empty({batch, hidden}, opts), direct = empty({batch, hidden}, opts),
               sum = grad_out.defined() ? empty({batch, hidden}, opts) : Tensor();
  const Tensor go = grad_out.defined() ? grad_out.contiguous() : Tensor();
  const Tensor ghy = grad_hy.defined() ? grad_hy.contiguous() : Tensor();
  const Matrix w(w_hh), dh_m(dh), direct_m(direct);
  for (int64_t s = steps; s-- > 0;) {
    const int64_t t = step_at(s, steps, reverse);
    // The gradient reaching h_t: the output's, plus the next step's (hy's at the last step).
    const Tensor& carried = s == steps - 1 ? ghy : dh;
    std::optional<Matrix> grad_h;
    if (go.defined() && carried.defined()) {
      grad_h.emplace(sum);
      be.binary(BinaryOp::kAdd, grad_h->ref(), Matrix(go, t).ref(), Matrix(carried).ref(), Scalar(1),
                dev.index);
    } else {
      grad_h.emplace(go.defined() ? Matrix(go, t) : Matrix(carried));
    }
    const Matrix gh(grad_hidden, t);
    if (!be.gru_cell_backward(Matrix(grad_gates, t).ref(), gh.ref(), direct_m.ref(), grad_h->ref(),
                              Matrix(st.ws, t).ref(), dev.index)) {
      return false;
    }
    // h_prev's gradient: the cell's direct part plus grad_hidden W_hh.
    be.gemm(dh_m.batch(), gh.batch(), w.batch(), dev.index);
    be.binary(BinaryOp::kAdd, dh_m.ref(), dh_m.ref(), direct_m.ref(), Scalar(1), dev.index);
  }
  grad_hx = dh;
  return true;
}

// Every gradient from the inputs in public ops (differentiable: create_graph, and gradients reaching the
// saved workspace): the steps again, then their gradients in reverse. {gates, hx, weight_hh, bias_hh}.
std::vector<Tensor> gru_backward_ops(const Tensor& gates, const Tensor& hx, const Tensor& w_hh,
                                     const Tensor& b_hh, bool reverse, const Tensor& grad_out,
                                     const Tensor& grad_hy, const Tensor& grad_ws) {
  const int64_t steps = gates.size(0);
  const auto n = static_cast<size_t>(steps);
  std::vector<std::vector<Tensor>> cell(n);
  std::vector<Tensor> h_prev(n), grad_in(n), grad_h(n);
  const Tensor w_t = w_hh.t();
  Tensor h = hx;
  for (int64_t s = 0; s < steps; ++s) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    h_prev[t] = h;
    cell[t] = gru_cell_ops(gates.select(0, static_cast<int64_t>(t)), h.mm(w_t), h, Tensor(), b_hh);
    h = cell[t][5];
  }
  auto add = [](const Tensor& a, const Tensor& b) { return !a.defined() ? b : !b.defined() ? a : a.add(b); };
  auto at = [](const Tensor& g, size_t t) {
    return g.defined() ? g.select(0, static_cast<int64_t>(t)) : Tensor();
  };
  Tensor dh = grad_hy;
  for (int64_t s = steps; s-- > 0;) {
    const auto t = static_cast<size_t>(step_at(s, steps, reverse));
    Tensor direct;
    std::tie(grad_in[t], grad_h[t], direct) =
        gru_cell_backward_ops(cell[t], h_prev[t], add(at(grad_out, t), dh), at(grad_ws, t));
    dh = direct.add(grad_h[t].mm(w_hh));
  }
  const Tensor grad_hidden = Tensor::stack(grad_h, 0);
  const int64_t batch = hx.size(0), hidden = hx.size(1);
  const Tensor grad_w = grad_hidden.reshape({steps * batch, 3 * hidden})
                            .t()
                            .mm(Tensor::stack(h_prev, 0).reshape({steps * batch, hidden}));
  return {Tensor::stack(grad_in, 0), dh, grad_w, b_hh.defined() ? grad_hidden.sum({0, 1}) : Tensor()};
}

std::vector<Tensor> gru_layer_backward(GradContext& c) {
  const std::vector<int> input_of = ops::tensor_input_positions(c.args(), 4);  // bias_hh may be None
  const Tensor gates = c.input(0), hx = c.input(1), w_hh = c.input(2);
  const Tensor b_hh = input_of[3] >= 0 ? c.input(static_cast<size_t>(input_of[3])) : Tensor();
  const bool reverse = c.args().bool_at(4);
  const Tensor &grad_out = c.grad(0), &grad_hy = c.grad(1), &grad_ws = c.grad(2);
  std::vector<Tensor> g(4);  // gates, hx, weight_hh, bias_hh
  Tensor grad_hidden;
  if (!autograd::GradMode::is_enabled() && !grad_ws.defined() && (grad_out.defined() || grad_hy.defined())) {
    const GruLayerState st{c.output(0), c.output(2)};
    const Tensor hxc = hx.contiguous();
    if (gru_backward_kernels(hxc, w_hh.contiguous(), reverse, st, grad_out, grad_hy, g[0], grad_hidden,
                             g[1])) {
      if (c.needs_grad(2)) g[2] = weight_hh_grad(grad_hidden, hxc, st.out, reverse);
      if (b_hh.defined()) g[3] = grad_hidden.sum({0, 1});
    } else {
      g[0] = Tensor();
    }
  }
  if (!g[0].defined()) g = gru_backward_ops(gates, hx, w_hh, b_hh, reverse, grad_out, grad_hy, grad_ws);
  std::vector<Tensor> grads(b_hh.defined() ? 4 : 3);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (c.needs_grad(i)) grads[i] = g[i];
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
  r.def(
       "_lstm_layer(Tensor input_gates, Tensor hx, Tensor cx, Tensor weight_hh, bool reverse=False) -> "
       "(Tensor, "
       "Tensor, Tensor, Tensor, Tensor)")
      .doc(
          "one LSTM layer in one direction over every step: input_gates [steps, batch, 4 hidden] (x W_ih^T "
          "+ biases), each step's gates input_gates[t] + h W_hh^T through the fused cell, from the last "
          "step when reverse; returns the outputs [steps, batch, hidden], hy, cy, and the cells and "
          "activated gates of every step (the backward's)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(lstm_layer_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& gates_in = a.tensor(0);
        check_layer("_lstm_layer", 4, gates_in, {{&a.tensor(1), "hx"}, {&a.tensor(2), "cx"}}, a.tensor(3),
                    Tensor());
        const bool reverse = a.bool_at(4);
        const Tensor gates = gates_in.contiguous(), hx = a.tensor(1).contiguous(),
                     cx = a.tensor(2).contiguous();
        const Tensor w_hh = a.tensor(3).contiguous();
        const int64_t steps = gates.size(0), batch = gates.size(1), hidden = hx.size(1);
        const TensorOptions opts{gates.dtype(), gates.device()};
        LayerState st{empty({steps, batch, hidden}, opts), empty({steps, batch, hidden}, opts),
                      empty({steps, batch, 4 * hidden}, opts)};
        if (batch > 0 && !layer_forward_kernels(gates, hx, cx, w_hh, reverse, st)) {
          st = layer_forward_ops(gates, hx, cx, w_hh, reverse);
        }
        const int64_t last = step_at(steps - 1, steps, reverse);
        return {st.out, st.out.select(0, last).clone(), st.cells.select(0, last).clone(), st.cells, st.ws};
      });

  r.def(
       "_gru_layer(Tensor input_gates, Tensor hx, Tensor weight_hh, Tensor? bias_hh=None, bool "
       "reverse=False) "
       "-> (Tensor, Tensor, Tensor)")
      .doc(
          "one GRU layer in one direction over every step: input_gates [steps, batch, 3 hidden] (x W_ih^T + "
          "b_ih), each step through the fused GRU cell with hidden gates h W_hh^T and bias_hh, from the last "
          "step when reverse; returns the outputs [steps, batch, hidden], hy, and every step's cell "
          "workspace "
          "(r, z, n, h_prev, h_n; the backward's)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(gru_layer_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& gates_in = a.tensor(0);
        const Tensor b_in = a.optional_tensor(3);
        check_layer("_gru_layer", 3, gates_in, {{&a.tensor(1), "hx"}}, a.tensor(2), b_in);
        const bool reverse = a.bool_at(4);
        const Tensor gates = gates_in.contiguous(), hx = a.tensor(1).contiguous(),
                     w_hh = a.tensor(2).contiguous();
        const Tensor b_hh = b_in.defined() ? b_in.contiguous() : Tensor();
        const int64_t steps = gates.size(0), batch = gates.size(1), hidden = hx.size(1);
        const TensorOptions opts{gates.dtype(), gates.device()};
        GruLayerState st{empty({steps, batch, hidden}, opts), empty({steps, batch, 5 * hidden}, opts)};
        if (batch > 0 && !gru_forward_kernels(gates, hx, w_hh, b_hh, reverse, st)) {
          st = gru_forward_ops(gates, hx, w_hh, b_hh, reverse);
        }
        return {st.out, st.out.select(0, step_at(steps - 1, steps, reverse)).clone(), st.ws};
      });
}

}  // namespace td
