// Whole recurrent layers as one op each, in the role PyTorch's _cudnn_rnn plays on CUDA: _lstm_layer and
// _gru_layer run one layer in one direction over every step. A step is one backend GEMM and one fused cell
// kernel (kernels/lstm_cell.h, kernels/gru_cell.h), with no op dispatch or autograd node per step; the
// backward is, per step, an add, the cell's backward kernel and one GEMM, then one GEMM for weight_hh's
// gradient over all steps. The steps are a uniform batch ([steps, batch, *]) or a packed sequence's (rows
// [rows, *] and batch_sizes, as nn::utils::rnn::PackedSequence holds them: step t runs the first
// batch_sizes[t] sequences, the others keep their state). create_graph, gradients reaching the saved state,
// and the 16-bit floats (which the cell kernels leave to ops) run the steps in public ops instead.
#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/ops/rnn_cells.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

using ops::optional_ref;

// The steps of one layer over its rows: step t holds rows [offset[t], offset[t] + size[t]), the first size[t]
// sequences; sizes do not increase and the first step holds the whole batch. Run from the last step when
// reverse.
struct Steps {
  std::vector<int64_t> size, offset;
  int64_t batch = 0, rows = 0;
  bool reverse = false, uniform = true;

  int64_t count() const { return static_cast<int64_t>(size.size()); }
  /// The time step run s-th.
  int64_t at(int64_t s) const { return reverse ? count() - 1 - s : s; }
  int64_t size_at(int64_t t) const { return size[static_cast<size_t>(t)]; }
  int64_t offset_at(int64_t t) const { return offset[static_cast<size_t>(t)]; }
};

Steps make_steps(std::vector<int64_t> sizes, bool reverse, bool uniform) {
  Steps st;
  st.reverse = reverse;
  st.uniform = uniform;
  st.batch = sizes.empty() ? 0 : sizes.front();
  for (int64_t n : sizes) {
    st.offset.push_back(st.rows);
    st.rows += n;
  }
  st.size = std::move(sizes);
  return st;
}

// A layer op's arguments (op: its name; n_gates: 4 for LSTM's, 3 for GRU's) and its steps: input_gates
// [steps, batch, n_gates * hidden], or [rows, n_gates * hidden] with batch_sizes (positive, not increasing,
// adding up to rows); the states [batch, hidden], except the first (h), which is [batch, proj] where
// weight_hr [proj, hidden] projects h (LSTM's proj_size); weight_hh [n_gates * hidden, proj or hidden];
// bias_hh (if defined) [n_gates * hidden]; all of input_gates' dtype and device.
Steps check_layer(std::string_view op, int64_t n_gates, const Tensor& gates,
                  std::initializer_list<std::pair<const Tensor*, const char*>> states, const Tensor& w_hh,
                  const Tensor& b_hh, bool reverse, const std::optional<std::vector<int64_t>>& batch_sizes,
                  const Tensor& w_hr = Tensor()) {
  TD_CHECK_ARG(is_floating(gates.dtype()), "[", op, "] expected floating input_gates, got ",
               dtype_name(gates.dtype()));
  Steps st;
  if (!batch_sizes) {
    TD_CHECK_ARG(gates.dim() == 3 && gates.size(0) > 0 && gates.size(2) > 0 && gates.size(2) % n_gates == 0,
                 "[", op, "] input_gates must be [steps, batch, ", n_gates,
                 " * hidden_size] with steps and hidden_size > 0, got ", shape_str(gates.sizes()));
    st = make_steps(std::vector<int64_t>(static_cast<size_t>(gates.size(0)), gates.size(1)), reverse, true);
  } else {
    TD_CHECK_ARG(gates.dim() == 2 && gates.size(1) > 0 && gates.size(1) % n_gates == 0, "[", op,
                 "] with batch_sizes, input_gates must be [rows, ", n_gates,
                 " * hidden_size] with hidden_size > 0, got ", shape_str(gates.sizes()));
    const std::vector<int64_t>& bs = *batch_sizes;
    TD_CHECK_ARG(!bs.empty(), "[", op, "] batch_sizes must not be empty");
    for (size_t t = 0; t < bs.size(); ++t) {
      TD_CHECK_ARG(bs[t] > 0 && (t == 0 || bs[t] <= bs[t - 1]), "[", op,
                   "] batch_sizes must be positive and not increasing, got ", shape_str(bs));
    }
    st = make_steps(bs, reverse, false);
    TD_CHECK_ARG(st.rows == gates.size(0), "[", op, "] batch_sizes ", shape_str(bs), " add up to ", st.rows,
                 " rows, input_gates has ", gates.size(0));
  }
  const int64_t hidden = gates.size(gates.dim() - 1) / n_gates;
  TD_CHECK_ARG(!w_hr.defined() || (w_hr.dim() == 2 && w_hr.size(0) > 0 && w_hr.size(1) == hidden), "[", op,
               "] weight_hr must be [proj_size, ", hidden, "] with proj_size > 0 for input_gates ",
               shape_str(gates.sizes()), ", got ", shape_str(w_hr.sizes()));
  const int64_t h_width = w_hr.defined() ? w_hr.size(0) : hidden;
  bool first = true;
  for (const auto& [t, name] : states) {
    const int64_t width = first ? h_width : hidden;
    first = false;
    TD_CHECK_ARG(t->dim() == 2 && t->size(0) == st.batch && t->size(1) == width, "[", op, "] ", name,
                 " must be [", st.batch, ", ", width, "] for input_gates ", shape_str(gates.sizes()),
                 ", got ", shape_str(t->sizes()));
  }
  TD_CHECK_ARG(w_hh.dim() == 2 && w_hh.size(0) == n_gates * hidden && w_hh.size(1) == h_width, "[", op,
               "] weight_hh must be [", n_gates * hidden, ", ", h_width, "] for input_gates ",
               shape_str(gates.sizes()), ", got ", shape_str(w_hh.sizes()));
  TD_CHECK_ARG(!b_hh.defined() || (b_hh.dim() == 1 && b_hh.size(0) == n_gates * hidden), "[", op,
               "] bias_hh must be [", n_gates * hidden, "] for input_gates ", shape_str(gates.sizes()),
               ", got ", shape_str(b_hh.sizes()));
  std::vector<const Tensor*> all;
  for (const auto& s : states) all.push_back(s.first);
  all.push_back(&w_hh);
  if (b_hh.defined()) all.push_back(&b_hh);
  if (w_hr.defined()) all.push_back(&w_hr);
  for (const Tensor* t : all) {
    TD_CHECK_ARG(t->dtype() == gates.dtype(), "[", op, "] expected every tensor to be ",
                 dtype_name(gates.dtype()), " as input_gates, got ", dtype_name(t->dtype()));
    TD_CHECK_ARG(t->device() == gates.device(), "[", op, "] expected every tensor on input_gates' device ",
                 gates.device().str(), ", got ", t->device().str());
  }
  return st;
}

// Rows [row0, row0 + rows) of a contiguous 2-d tensor as Backend refs: as 2-d, or as a batch of one for
// Backend::gemm; transposed() swaps the dims. The refs point into this object.
class Matrix {
 public:
  explicit Matrix(const Tensor& t, int64_t row0 = 0, int64_t rows = -1) : dtype_(t.dtype()) {
    const int64_t cols = t.size(1);
    if (rows < 0) rows = t.size(0) - row0;
    data_ = static_cast<char*>(strided_ref(t).data) + row0 * cols * static_cast<int64_t>(itemsize(dtype_));
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

// Step t's rows of a [rows, *] tensor (undefined stays undefined).
Tensor rows_of(const Tensor& t, const Steps& st, int64_t step) {
  return t.defined() ? t.narrow(0, st.offset_at(step), st.size_at(step)) : Tensor();
}

// The state the s-th step run starts from, as rows [0, its size) of a matrix: the initial state's at the
// first step run; the step run before's output (out: [rows, H]) where that step held every row of this one;
// else (a reverse packed step where sequences start) the step before's rows then the initial state's, copied
// into `stage` ([batch, H], made on first use).
Matrix previous(const Steps& st, int64_t s, const Tensor& out, const Tensor& init, Tensor& stage) {
  const int64_t bs = st.size_at(st.at(s));
  if (s == 0) return Matrix(init, 0, bs);
  const int64_t p = st.at(s - 1), pbs = st.size_at(p);
  if (pbs >= bs) return Matrix(out, st.offset_at(p), bs);
  const Device dev = out.device();
  Backend& be = backend(dev.type);
  if (!stage.defined()) stage = empty(init.shape(), {init.dtype(), dev});
  be.copy(Matrix(stage, 0, pbs).ref(), Matrix(out, st.offset_at(p), pbs).ref(), dev.index);
  be.copy(Matrix(stage, pbs, bs - pbs).ref(), Matrix(init, pbs, bs - pbs).ref(), dev.index);
  return Matrix(stage, 0, bs);
}

// The same states as one [rows, H] tensor in time order (for weight_hh's gradient), in ops.
Tensor previous_rows(const Steps& st, const Tensor& out, const Tensor& init) {
  const int64_t n = st.count(), b = st.batch;
  if (st.uniform) {  // the output shifted by one step, the initial state at the first step run
    if (n == 1) return init;
    const Tensor shifted = out.narrow(0, st.reverse ? b : 0, (n - 1) * b);
    return st.reverse ? Tensor::cat({shifted, init}, 0) : Tensor::cat({init, shifted}, 0);
  }
  std::vector<Tensor> pieces(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s) {
    const int64_t t = st.at(s), bs = st.size_at(t);
    Tensor& piece = pieces[static_cast<size_t>(t)];
    if (s == 0) {
      piece = init.narrow(0, 0, bs);
      continue;
    }
    const int64_t p = st.at(s - 1), pbs = std::min(st.size_at(p), bs);
    piece = out.narrow(0, st.offset_at(p), pbs);
    if (pbs < bs) piece = Tensor::cat({piece, init.narrow(0, pbs, bs - pbs)}, 0);
  }
  return Tensor::cat(pieces, 0);
}

// Each sequence's last state into final ([batch, H]) from out ([rows, H]): a step's rows that the next step
// run does not hold end there.
void final_states(const Steps& st, const Tensor& out, const Tensor& final) {
  const Device dev = out.device();
  Backend& be = backend(dev.type);
  for (int64_t s = 0; s < st.count(); ++s) {
    const int64_t t = st.at(s), bs = st.size_at(t);
    const int64_t next = s + 1 < st.count() ? st.size_at(st.at(s + 1)) : 0;
    if (next < bs) {
      be.copy(Matrix(final, next, bs - next).ref(), Matrix(out, st.offset_at(t) + next, bs - next).ref(),
              dev.index);
    }
  }
}

// The ops path's state over the whole batch: the step's rows [0, bs) replaced by `rows`, the rest kept.
Tensor update_state(const Tensor& state, const Tensor& rows) {
  const int64_t bs = rows.size(0), b = state.size(0);
  return bs == b ? rows : Tensor::cat({rows, state.narrow(0, bs, b - bs)}, 0);
}
// Rows [0, bs) of a whole-batch state (undefined stays undefined).
Tensor head(const Tensor& state, int64_t bs) {
  return !state.defined() || bs == state.size(0) ? state : state.narrow(0, 0, bs);
}
Tensor add_defined(const Tensor& a, const Tensor& b) {
  return !a.defined() ? b : !b.defined() ? a : a.add(b);
}
// A gradient's rows [0, bs) replaced by `rows` (an undefined gradient is zero).
Tensor update_grad(const Tensor& grad, const Tensor& rows, int64_t batch) {
  const int64_t bs = rows.size(0);
  if (bs == batch) return rows;
  const Tensor rest = grad.defined() ? grad.narrow(0, bs, batch - bs)
                                     : zeros({batch - bs, rows.size(1)}, {rows.dtype(), rows.device()});
  return Tensor::cat({rows, rest}, 0);
}

// The gradient reaching step t's output rows [0, bs) on the backend: the output's rows plus the carried
// rows of dh ([batch, H]), added into sum where the output has one.
Matrix incoming(const Steps& st, int64_t t, const Tensor& grad_out, const Tensor& dh, const Tensor& sum) {
  const int64_t bs = st.size_at(t);
  if (!grad_out.defined()) return Matrix(dh, 0, bs);
  const Device dev = dh.device();
  const Matrix out(sum, 0, bs);
  backend(dev.type).binary(BinaryOp::kAdd, out.ref(), Matrix(grad_out, st.offset_at(t), bs).ref(),
                           Matrix(dh, 0, bs).ref(), Scalar(1), dev.index);
  return out;
}

// A [batch, H] buffer holding g (contiguous), or zeros where g is undefined.
Tensor start_from(const Tensor& g, const Tensor& like) {
  return g.defined() ? g.contiguous().clone() : zeros(like.shape(), {like.dtype(), like.device()});
}

// The ops outputs of the layer ops: the outputs in the input's layout ([steps, batch, H] for a uniform
// batch).
Tensor in_layout(const Tensor& rows, const Steps& st) {
  return st.uniform ? rows.view({st.count(), st.batch, rows.size(1)}) : rows;
}
Tensor as_rows(const Tensor& t) {
  return t.defined() && t.dim() == 3 ? t.reshape({t.size(0) * t.size(1), t.size(2)}) : t;
}

// ---- _lstm_layer (with weight_hr, LSTM's proj_size: each step's h is o tanh(c) projected by W_hr^T, and
// the recurrence and the outputs carry the projected h) ----

// The saved tensors of one LSTM layer's forward (its outputs; contiguous [rows, *]): h_t (projected), c_t
// and the activated gates of every step, in time order.
struct LstmState {
  Tensor out, cells, ws;
};

// The unprojected h of every step, o tanh(c) from the saved state, in ops (weight_hr's gradient).
Tensor unprojected(const LstmState& s) {
  const int64_t hidden = s.cells.size(1);
  return s.ws.narrow(1, 3 * hidden, hidden).mul(s.cells.tanh());
}

// The steps on the backend's kernels: false, having done nothing the caller keeps, where its cell kernel does
// not take the dtype (the 16-bit floats).
bool lstm_forward_kernels(const Steps& st, const Tensor& gates, const Tensor& hx, const Tensor& cx,
                          const Tensor& w_hh, const Tensor& w_hr, const LstmState& s) {
  const Device dev = gates.device();
  Backend& be = backend(dev.type);
  const int64_t hidden = cx.size(1);
  const TensorOptions opts{gates.dtype(), dev};
  const Tensor hidden_gates = empty({st.batch, 4 * hidden}, opts);
  const Tensor unproj = w_hr.defined() ? empty({st.batch, hidden}, opts) : Tensor();
  const Matrix w_t = Matrix(w_hh).transposed();
  const std::optional<Matrix> w_hr_t =
      w_hr.defined() ? std::optional<Matrix>(Matrix(w_hr).transposed()) : std::nullopt;
  Tensor stage_h, stage_c;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t), off = st.offset_at(t);
    const Matrix h_prev = previous(st, k, s.out, hx, stage_h), c_prev = previous(st, k, s.cells, cx, stage_c);
    const Matrix hg(hidden_gates, 0, bs), out(s.out, off, bs);
    const Matrix hy = w_hr_t ? Matrix(unproj, 0, bs) : out;
    be.gemm(hg.batch(), h_prev.batch(), w_t.batch(), dev.index);
    if (!be.lstm_cell(hy.ref(), Matrix(s.cells, off, bs).ref(), Matrix(s.ws, off, bs).ref(),
                      Matrix(gates, off, bs).ref(), hg.ref(), StridedRef{}, StridedRef{}, c_prev.ref(),
                      dev.index)) {
      return false;
    }
    if (w_hr_t) be.gemm(out.batch(), hy.batch(), w_hr_t->batch(), dev.index);
  }
  return true;
}

// The steps in public ops (the fused cell op per step), for the dtypes the kernels leave to ops: the state
// and the final h and c.
std::tuple<LstmState, Tensor, Tensor> lstm_forward_ops(const Steps& st, const Tensor& gates, const Tensor& hx,
                                                       const Tensor& cx, const Tensor& w_hh,
                                                       const Tensor& w_hr) {
  const auto n = static_cast<size_t>(st.count());
  std::vector<Tensor> out(n), cells(n), ws(n);
  const Tensor w_t = w_hh.t(), w_hr_t = w_hr.defined() ? w_hr.t() : Tensor();
  Tensor h = hx, c = cx;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const std::vector<Tensor> r = call_op(
        "_thnn_fused_lstm_cell", {rows_of(gates, st, t), head(h, bs).mm(w_t), head(c, bs), None{}, None{}});
    const auto i = static_cast<size_t>(t);
    out[i] = w_hr_t.defined() ? r[0].mm(w_hr_t) : r[0];
    cells[i] = r[1];
    ws[i] = r[2];
    h = update_state(h, out[i]);
    c = update_state(c, r[1]);
  }
  return {LstmState{Tensor::cat(out, 0), Tensor::cat(cells, 0), Tensor::cat(ws, 0)}, h, c};
}

// The gradients of the gates, hx and cx on the backend's kernels, from the saved state and the gradients of
// output, hy and cy (undefined: zero); with weight_hr also grad_h, the gradient reaching every step's
// projected h (for weight_hr's). False where the cell kernel does not take the dtype.
bool lstm_backward_kernels(const Steps& st, const Tensor& hx, const Tensor& cx, const Tensor& w_hh,
                           const Tensor& w_hr, const LstmState& s, const Tensor& grad_out,
                           const Tensor& grad_hy, const Tensor& grad_cy, Tensor& grad_gates, Tensor& grad_hx,
                           Tensor& grad_cx, Tensor& grad_h) {
  const Device dev = hx.device();
  Backend& be = backend(dev.type);
  const int64_t hidden = cx.size(1);
  const TensorOptions opts{hx.dtype(), dev};
  grad_gates = empty({st.rows, 4 * hidden}, opts);
  if (w_hr.defined()) grad_h = empty({st.rows, hx.size(1)}, opts);
  if (st.batch == 0) {
    grad_hx = empty(hx.shape(), opts);
    grad_cx = empty(cx.shape(), opts);
    return true;
  }
  // dh: the gradient reaching each sequence's state (hy's to start with); dc the same for the cells, in two
  // buffers (the cell kernel reads one and writes the other) that agree on the rows a step leaves alone.
  const Tensor dh = start_from(grad_hy, hx), sum = grad_out.defined() ? empty(hx.shape(), opts) : Tensor();
  const Tensor grad_unproj = w_hr.defined() ? empty(cx.shape(), opts) : Tensor();
  Tensor dc[2] = {start_from(grad_cy, cx), Tensor()};
  // (Every step of a uniform batch writes every row.)
  dc[1] = st.uniform ? empty(cx.shape(), opts) : dc[0].clone();
  const Tensor go = grad_out.defined() ? grad_out.contiguous() : Tensor();
  const Matrix w(w_hh);
  Tensor stage_c;
  int cur = 0;
  int64_t last_bs = 0;
  for (int64_t k = st.count(); k-- > 0;) {
    const int64_t t = st.at(k), bs = st.size_at(t), off = st.offset_at(t);
    if (bs < last_bs) {  // rows the last step wrote that this one does not: the other buffer gets them too
      be.copy(Matrix(dc[1 - cur], bs, last_bs - bs).ref(), Matrix(dc[cur], bs, last_bs - bs).ref(),
              dev.index);
    }
    last_bs = bs;
    Matrix grad_hy_t = incoming(st, t, go, dh, sum);
    if (w_hr.defined()) {  // kept for weight_hr's gradient, then taken back through the projection
      const Matrix kept(grad_h, off, bs);
      be.copy(kept.ref(), grad_hy_t.ref(), dev.index);
      grad_hy_t = Matrix(grad_unproj, 0, bs);
      be.gemm(grad_hy_t.batch(), kept.batch(), Matrix(w_hr).batch(), dev.index);
    }
    const Matrix c_prev = previous(st, k, s.cells, cx, stage_c), gg(grad_gates, off, bs);
    if (!be.lstm_cell_backward(gg.ref(), Matrix(dc[1 - cur], 0, bs).ref(), grad_hy_t.ref(),
                               Matrix(dc[cur], 0, bs).ref(), StridedRef{}, c_prev.ref(),
                               Matrix(s.cells, off, bs).ref(), Matrix(s.ws, off, bs).ref(), dev.index)) {
      return false;
    }
    cur = 1 - cur;
    be.gemm(Matrix(dh, 0, bs).batch(), gg.batch(), w.batch(), dev.index);  // h_prev's gradient: gg W_hh
  }
  grad_hx = dh;
  grad_cx = dc[cur];
  return true;
}

// Every gradient from the inputs in public ops (differentiable: create_graph, and gradients reaching the
// saved cells or gates): the steps again, then their gradients in reverse. {gates, hx, cx, weight_hh,
// weight_hr (undefined without)}.
std::vector<Tensor> lstm_backward_ops(const Steps& st, const Tensor& gates, const Tensor& hx,
                                      const Tensor& cx, const Tensor& w_hh, const Tensor& w_hr,
                                      const Tensor& grad_out, const Tensor& grad_hy, const Tensor& grad_cy,
                                      const Tensor& grad_cells, const Tensor& grad_ws) {
  const auto n = static_cast<size_t>(st.count());
  std::vector<std::vector<Tensor>> act(n);
  std::vector<Tensor> h_prev(n), c_prev(n), unproj(n), grad(n), grad_h(n);
  const Tensor w_t = w_hh.t();
  Tensor h = hx, c = cx;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const auto i = static_cast<size_t>(t);
    h_prev[i] = head(h, bs);
    c_prev[i] = head(c, bs);
    act[i] = ops::activated_gates(rows_of(gates, st, t), h_prev[i].mm(w_t), Tensor(), Tensor());
    const Tensor c_new = act[i][1].mul(c_prev[i]).add(act[i][0].mul(act[i][2]));
    unproj[i] = act[i][3].mul(c_new.tanh());
    h = update_state(h, w_hr.defined() ? unproj[i].mm(w_hr.t()) : unproj[i]);
    c = update_state(c, c_new);
  }
  Tensor dh = grad_hy, dc = grad_cy;
  for (int64_t k = st.count(); k-- > 0;) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const auto i = static_cast<size_t>(t);
    Tensor g = add_defined(rows_of(grad_out, st, t), head(dh, bs));
    if (w_hr.defined()) {
      grad_h[i] = g.defined() ? g : zeros({bs, hx.size(1)}, {hx.dtype(), hx.device()});
      g = grad_h[i].mm(w_hr);
    }
    auto [gg, gcx] = ops::cell_backward_ops(
        act[i], c_prev[i], g, add_defined(head(dc, bs), rows_of(grad_cells, st, t)), rows_of(grad_ws, st, t));
    grad[i] = gg;
    dh = update_grad(dh, gg.mm(w_hh), st.batch);
    dc = update_grad(dc, gcx, st.batch);
  }
  const Tensor grad_gates = Tensor::cat(grad, 0);
  const Tensor grad_w_hr = w_hr.defined() ? Tensor::cat(grad_h, 0).t().mm(Tensor::cat(unproj, 0)) : Tensor();
  return {grad_gates, dh, dc, grad_gates.t().mm(Tensor::cat(h_prev, 0)), grad_w_hr};
}

std::vector<Tensor> lstm_layer_backward(GradContext& c) {
  const Tensor gates_in = c.input(0), hx = c.input(1), cx = c.input(2), w_hh = c.input(3);
  const Tensor w_hr = c.args().is_none(6) ? Tensor() : c.input(4);  // weight_hr, the fifth input where given
  const Steps st = check_layer("_lstm_layer", 4, gates_in, {{&hx, "hx"}, {&cx, "cx"}}, w_hh, Tensor(),
                               c.args().bool_at(4), c.args().optional_ints(5), w_hr);
  const Tensor gates = as_rows(gates_in);
  const Tensor grad_out = as_rows(c.grad(0)), &grad_hy = c.grad(1), &grad_cy = c.grad(2);
  const Tensor grad_cells = as_rows(c.grad(3)), grad_ws = as_rows(c.grad(4));
  std::vector<Tensor> grads(5);  // gates, hx, cx, weight_hh, weight_hr
  bool done = false;
  if (!autograd::GradMode::is_enabled() && !grad_cells.defined() && !grad_ws.defined()) {
    const LstmState s{as_rows(c.output(0)), as_rows(c.output(3)), as_rows(c.output(4))};
    const Tensor hxc = hx.contiguous(), cxc = cx.contiguous(),
                 w_hrc = w_hr.defined() ? w_hr.contiguous() : Tensor();
    Tensor grad_h;
    done = lstm_backward_kernels(st, hxc, cxc, w_hh.contiguous(), w_hrc, s, grad_out, grad_hy, grad_cy,
                                 grads[0], grads[1], grads[2], grad_h);
    if (done && c.needs_grad(3)) grads[3] = grads[0].t().mm(previous_rows(st, s.out, hxc));
    if (done && w_hr.defined()) grads[4] = grad_h.t().mm(unprojected(s));
  }
  if (!done)
    grads = lstm_backward_ops(st, gates, hx, cx, w_hh, w_hr, grad_out, grad_hy, grad_cy, grad_cells, grad_ws);
  grads[0] = grads[0].view(gates_in.shape());
  grads.resize(w_hr.defined() ? 5 : 4);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!c.needs_grad(i)) grads[i] = Tensor();
  }
  return grads;
}

// ---- _gru_layer (bias_hh stays apart from the input gates: the n gate multiplies its hidden part, with
// b_hn, by r) ----

// The saved tensors of one GRU layer's forward (its outputs; contiguous [rows, *]): h_t and the cell's
// workspace (r, z, n, h_prev and the n gate's hidden part) of every step, in time order.
struct GruState {
  Tensor out, ws;
};

bool gru_forward_kernels(const Steps& st, const Tensor& gates, const Tensor& hx, const Tensor& w_hh,
                         const Tensor& b_hh, const GruState& s) {
  const Device dev = gates.device();
  Backend& be = backend(dev.type);
  const int64_t hidden = hx.size(1);
  const Tensor hidden_gates = empty({st.batch, 3 * hidden}, {gates.dtype(), dev});
  const Matrix w_t = Matrix(w_hh).transposed();
  Tensor stage;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t), off = st.offset_at(t);
    const Matrix h_prev = previous(st, k, s.out, hx, stage), hg(hidden_gates, 0, bs);
    be.gemm(hg.batch(), h_prev.batch(), w_t.batch(), dev.index);
    if (!be.gru_cell(Matrix(s.out, off, bs).ref(), Matrix(s.ws, off, bs).ref(), Matrix(gates, off, bs).ref(),
                     hg.ref(), StridedRef{}, optional_ref(b_hh), h_prev.ref(), dev.index)) {
      return false;
    }
  }
  return true;
}

std::pair<GruState, Tensor> gru_forward_ops(const Steps& st, const Tensor& gates, const Tensor& hx,
                                            const Tensor& w_hh, const Tensor& b_hh) {
  const auto n = static_cast<size_t>(st.count());
  std::vector<Tensor> out(n), ws(n);
  const Tensor w_t = w_hh.t();
  Tensor h = hx;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const Tensor h_in = head(h, bs);
    const std::vector<Tensor> r = call_op(
        "_thnn_fused_gru_cell",
        {rows_of(gates, st, t), h_in.mm(w_t), h_in, None{}, b_hh.defined() ? Value(b_hh) : Value(None{})});
    out[static_cast<size_t>(t)] = r[0];
    ws[static_cast<size_t>(t)] = r[1];
    h = update_state(h, r[0]);
  }
  return {GruState{Tensor::cat(out, 0), Tensor::cat(ws, 0)}, h};
}

// The gradients of the input gates, of the hidden gates (every step's, for weight_hh's and bias_hh's) and of
// hx on the backend's kernels, from the saved state and the gradients of output and hy (undefined: zero).
// False where the cell kernel does not take the dtype.
bool gru_backward_kernels(const Steps& st, const Tensor& hx, const Tensor& w_hh, const GruState& s,
                          const Tensor& grad_out, const Tensor& grad_hy, Tensor& grad_gates,
                          Tensor& grad_hidden, Tensor& grad_hx) {
  const Device dev = hx.device();
  Backend& be = backend(dev.type);
  const int64_t hidden = hx.size(1);
  const TensorOptions opts{hx.dtype(), dev};
  grad_gates = empty({st.rows, 3 * hidden}, opts);
  grad_hidden = empty({st.rows, 3 * hidden}, opts);
  if (st.batch == 0) {
    grad_hx = empty({0, hidden}, opts);
    return true;
  }
  const Tensor dh = start_from(grad_hy, hx), direct = empty(hx.shape(), opts),
               sum = grad_out.defined() ? empty(hx.shape(), opts) : Tensor();
  const Tensor go = grad_out.defined() ? grad_out.contiguous() : Tensor();
  const Matrix w(w_hh);
  for (int64_t k = st.count(); k-- > 0;) {
    const int64_t t = st.at(k), bs = st.size_at(t), off = st.offset_at(t);
    const Matrix grad_h = incoming(st, t, go, dh, sum), gh(grad_hidden, off, bs), d(direct, 0, bs),
                 dh_m(dh, 0, bs);
    if (!be.gru_cell_backward(Matrix(grad_gates, off, bs).ref(), gh.ref(), d.ref(), grad_h.ref(),
                              Matrix(s.ws, off, bs).ref(), dev.index)) {
      return false;
    }
    // h_prev's gradient: the cell's direct part plus grad_hidden W_hh.
    be.gemm(dh_m.batch(), gh.batch(), w.batch(), dev.index);
    be.binary(BinaryOp::kAdd, dh_m.ref(), dh_m.ref(), d.ref(), Scalar(1), dev.index);
  }
  grad_hx = dh;
  return true;
}

// Every gradient from the inputs in public ops (differentiable: create_graph, and gradients reaching the
// saved workspace): the steps again, then their gradients in reverse. {gates, hx, weight_hh, bias_hh}.
std::vector<Tensor> gru_backward_ops(const Steps& st, const Tensor& gates, const Tensor& hx,
                                     const Tensor& w_hh, const Tensor& b_hh, const Tensor& grad_out,
                                     const Tensor& grad_hy, const Tensor& grad_ws) {
  const auto n = static_cast<size_t>(st.count());
  std::vector<std::vector<Tensor>> cell(n);
  std::vector<Tensor> h_prev(n), grad_in(n), grad_h(n);
  const Tensor w_t = w_hh.t();
  Tensor h = hx;
  for (int64_t k = 0; k < st.count(); ++k) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const auto i = static_cast<size_t>(t);
    h_prev[i] = head(h, bs);
    cell[i] = ops::gru_cell_ops(rows_of(gates, st, t), h_prev[i].mm(w_t), h_prev[i], Tensor(), b_hh);
    h = update_state(h, cell[i][5]);
  }
  Tensor dh = grad_hy;
  for (int64_t k = st.count(); k-- > 0;) {
    const int64_t t = st.at(k), bs = st.size_at(t);
    const auto i = static_cast<size_t>(t);
    Tensor direct;
    std::tie(grad_in[i], grad_h[i], direct) = ops::gru_cell_backward_ops(
        cell[i], h_prev[i], add_defined(rows_of(grad_out, st, t), head(dh, bs)), rows_of(grad_ws, st, t));
    dh = update_grad(dh, direct.add(grad_h[i].mm(w_hh)), st.batch);
  }
  const Tensor grad_hidden = Tensor::cat(grad_h, 0);
  return {Tensor::cat(grad_in, 0), dh, grad_hidden.t().mm(Tensor::cat(h_prev, 0)),
          b_hh.defined() ? grad_hidden.sum({0}) : Tensor()};
}

std::vector<Tensor> gru_layer_backward(GradContext& c) {
  const std::vector<int> input_of = ops::tensor_input_positions(c.args(), 4);  // bias_hh may be None
  const Tensor b_hh = input_of[3] >= 0 ? c.input(static_cast<size_t>(input_of[3])) : Tensor();
  const Tensor gates_in = c.input(0), hx = c.input(1), w_hh = c.input(2);
  const Steps st = check_layer("_gru_layer", 3, gates_in, {{&hx, "hx"}}, w_hh, b_hh, c.args().bool_at(4),
                               c.args().optional_ints(5));
  const Tensor gates = as_rows(gates_in);
  const Tensor grad_out = as_rows(c.grad(0)), &grad_hy = c.grad(1), grad_ws = as_rows(c.grad(2));
  std::vector<Tensor> g(4);  // gates, hx, weight_hh, bias_hh
  bool done = false;
  if (!autograd::GradMode::is_enabled() && !grad_ws.defined()) {
    const GruState s{as_rows(c.output(0)), as_rows(c.output(2))};
    const Tensor hxc = hx.contiguous();
    Tensor grad_hidden;
    done = gru_backward_kernels(st, hxc, w_hh.contiguous(), s, grad_out, grad_hy, g[0], grad_hidden, g[1]);
    if (done && c.needs_grad(2)) g[2] = grad_hidden.t().mm(previous_rows(st, s.out, hxc));
    if (done && b_hh.defined()) g[3] = grad_hidden.sum({0});
  }
  if (!done) g = gru_backward_ops(st, gates, hx, w_hh, b_hh, grad_out, grad_hy, grad_ws);
  g[0] = g[0].view(gates_in.shape());
  std::vector<Tensor> grads(b_hh.defined() ? 4 : 3);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (c.needs_grad(i)) grads[i] = g[i];
  }
  return grads;
}

}  // namespace

void register_rnn_layer_ops(Registry& r) {
  r.def(
       "_lstm_layer(Tensor input_gates, Tensor hx, Tensor cx, Tensor weight_hh, bool reverse=False, "
       "int[]? batch_sizes=None, Tensor? weight_hr=None) -> (Tensor, Tensor, Tensor, Tensor, Tensor)")
      .doc(
          "one LSTM layer in one direction over every step: input_gates [steps, batch, 4 hidden] (x W_ih^T "
          "+ biases), or a packed sequence's [rows, 4 hidden] with its batch_sizes; each step's gates "
          "input_gates[t] + h W_hh^T through the fused cell, h projected by weight_hr^T where given "
          "(proj_size), from the last step when reverse; returns the outputs (in input_gates' layout), hy, "
          "cy, and the cells and activated gates of every step (the backward's)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(lstm_layer_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor w_hr_in = a.optional_tensor(6);
        const Steps st =
            check_layer("_lstm_layer", 4, a.tensor(0), {{&a.tensor(1), "hx"}, {&a.tensor(2), "cx"}},
                        a.tensor(3), Tensor(), a.bool_at(4), a.optional_ints(5), w_hr_in);
        const Tensor gates = as_rows(a.tensor(0).contiguous()), hx = a.tensor(1).contiguous(),
                     cx = a.tensor(2).contiguous(), w_hh = a.tensor(3).contiguous();
        const Tensor w_hr = w_hr_in.defined() ? w_hr_in.contiguous() : Tensor();
        const int64_t hidden = cx.size(1);
        const TensorOptions opts{gates.dtype(), gates.device()};
        LstmState s{empty({st.rows, hx.size(1)}, opts), empty({st.rows, hidden}, opts),
                    empty({st.rows, 4 * hidden}, opts)};
        Tensor hy = empty(hx.shape(), opts), cy = empty(cx.shape(), opts);
        if (st.batch > 0 && lstm_forward_kernels(st, gates, hx, cx, w_hh, w_hr, s)) {
          final_states(st, s.out, hy);
          final_states(st, s.cells, cy);
        } else if (st.batch > 0) {
          std::tie(s, hy, cy) = lstm_forward_ops(st, gates, hx, cx, w_hh, w_hr);
        }
        return {in_layout(s.out, st), hy, cy, in_layout(s.cells, st), in_layout(s.ws, st)};
      });

  r.def(
       "_gru_layer(Tensor input_gates, Tensor hx, Tensor weight_hh, Tensor? bias_hh=None, bool "
       "reverse=False, "
       "int[]? batch_sizes=None) -> (Tensor, Tensor, Tensor)")
      .doc(
          "one GRU layer in one direction over every step: input_gates [steps, batch, 3 hidden] (x W_ih^T + "
          "b_ih), or a packed sequence's [rows, 3 hidden] with its batch_sizes; each step through the fused "
          "GRU cell with hidden gates h W_hh^T and bias_hh, from the last step when reverse; returns the "
          "outputs (in input_gates' layout), hy, and every step's cell workspace (r, z, n, h_prev, h_n; the "
          "backward's)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(gru_layer_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor b_in = a.optional_tensor(3);
        const Steps st = check_layer("_gru_layer", 3, a.tensor(0), {{&a.tensor(1), "hx"}}, a.tensor(2), b_in,
                                     a.bool_at(4), a.optional_ints(5));
        const Tensor gates = as_rows(a.tensor(0).contiguous()), hx = a.tensor(1).contiguous(),
                     w_hh = a.tensor(2).contiguous();
        const Tensor b_hh = b_in.defined() ? b_in.contiguous() : Tensor();
        const int64_t hidden = hx.size(1);
        const TensorOptions opts{gates.dtype(), gates.device()};
        GruState s{empty({st.rows, hidden}, opts), empty({st.rows, 5 * hidden}, opts)};
        Tensor hy = empty(hx.shape(), opts);
        if (st.batch > 0 && gru_forward_kernels(st, gates, hx, w_hh, b_hh, s)) {
          final_states(st, s.out, hy);
        } else if (st.batch > 0) {
          std::tie(s, hy) = gru_forward_ops(st, gates, hx, w_hh, b_hh);
        }
        return {in_layout(s.out, st), hy, in_layout(s.ws, st)};
      });
}

}  // namespace td
