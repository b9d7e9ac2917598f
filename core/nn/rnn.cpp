// Recurrent layers and cells. The sequence layers project the whole input of a layer and direction with one
// GEMM ([T * N, I] x [I, G]) before the time loop, so a step costs one addmm (h W_hh^T added to that step's
// slice) and the gate arithmetic; autograd records the steps like any other ops. An LSTM layer over a
// uniform batch without projections is one op instead (_lstm_layer, core/ops/rnn.cpp), its steps run on
// the backend's kernels.
#include "core/nn/rnn.h"

#include <algorithm>

#include <cmath>
#include <tuple>

#include "core/error.h"
#include "core/nn/activation.h"
#include "core/nn/init.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace {

using Mode = RNNBase::Mode;

int64_t gates_of(Mode mode) {
  switch (mode) {
    case Mode::kLstm:
      return 4;
    case Mode::kGru:
      return 3;
    default:
      return 1;
  }
}

// One step of RNN (tanh or relu) from gx = x W_ih^T + b_ih + b_hh and w_hh_t = W_hh^T (LSTM's and GRU's
// layers are ops of their own, core/ops/rnn_layer.cpp; their cells' steps are below).
Tensor rnn_step(Mode mode, const Tensor& gx, const Tensor& h, const Tensor& w_hh_t) {
  Tensor pre = gx.addmm(h, w_hh_t);
  return mode == Mode::kRnnRelu ? pre.relu() : pre.tanh();
}

// i, f, g, o = chunks of gx + h W_hh^T; c' = f c + i g; h' = o tanh(c'): one GEMM and the fused cell
// (_thnn_fused_lstm_cell, core/ops/rnn.cpp), which adds gx in its kernel.
std::pair<Tensor, Tensor> lstm_step(const Tensor& gx, const Tensor& h, const Tensor& c,
                                    const Tensor& w_hh_t) {
  const std::vector<Tensor> out = call_op("_thnn_fused_lstm_cell", {gx, h.mm(w_hh_t), c, None{}, None{}});
  return {out[0], out[1]};
}

// r, z = sigmoid(gx_rz + gh_rz); n = tanh(gx_n + r gh_n); h' = (1 - z) n + z h, written n + z (h - n): one
// GEMM and the fused cell (_thnn_fused_gru_cell, core/ops/rnn.cpp), which adds b_hh inside, b_hn within r's
// product.
Tensor gru_step(const Tensor& gx, const Tensor& h, const Tensor& w_hh_t, const Tensor& b_hh) {
  return call_op("_thnn_fused_gru_cell",
                 {gx, h.mm(w_hh_t), h, None{}, b_hh.defined() ? Value(b_hh) : Value(None{})})[0];
}

// RNN's nonlinearity, checked before any parameter is made.
Mode rnn_mode(const std::string& nonlinearity) {
  TD_CHECK_ARG(nonlinearity == "tanh" || nonlinearity == "relu", "[RNN] Unknown nonlinearity '", nonlinearity,
               "'. Select from 'tanh' or 'relu'.");
  return nonlinearity == "relu" ? Mode::kRnnRelu : Mode::kRnnTanh;
}

std::string shape_tuple(const std::vector<int64_t>& v) {
  return detail::py_tuple(v);
}

}  // namespace

// ---- RNNBase ----

RNNBase::RNNBase(std::string type, Mode mode, int64_t input_size_, int64_t hidden_size_, RNNOptions opts)
    : Module(std::move(type)),
      input_size(input_size_),
      hidden_size(hidden_size_),
      options(std::move(opts)),
      mode_(mode) {
  const std::string& name = type_name();
  TD_CHECK_ARG(
      options.dropout >= 0 && options.dropout <= 1, "[", name,
      "] dropout should be a number in range [0, 1] representing the probability of an element being "
      "zeroed");
  TD_CHECK_ARG(hidden_size > 0, "[", name, "] hidden_size must be greater than zero, got ", hidden_size);
  TD_CHECK_ARG(input_size >= 0, "[", name, "] input_size must be non-negative, got ", input_size);
  TD_CHECK_ARG(options.num_layers > 0, "[", name, "] num_layers must be greater than zero, got ",
               options.num_layers);
  TD_CHECK(options.num_layers <= kMaxStackedLayers, ErrorCode::kResourceExhausted, "[", name, "] num_layers=",
           options.num_layers, " is more than the ", kMaxStackedLayers, " layers a stacked module may have");
  TD_CHECK_ARG(options.proj_size >= 0, "[", name,
               "] proj_size should be a positive integer or zero to disable projections");
  TD_CHECK_ARG(options.proj_size == 0 || mode == Mode::kLstm, "[", name,
               "] proj_size argument is only supported for LSTM, not RNN or GRU");
  TD_CHECK_ARG(options.proj_size < hidden_size, "[", name, "] proj_size has to be smaller than hidden_size");
  gate_size_ = gates_of(mode) * hidden_size;
  TensorOptions t = options.options;
  t.requires_grad = false;
  const int64_t dirs = options.bidirectional ? 2 : 1;
  const int64_t real_hidden = options.proj_size > 0 ? options.proj_size : hidden_size;
  for (int64_t layer = 0; layer < options.num_layers; ++layer) {
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t layer_input = layer == 0 ? input_size : real_hidden * dirs;
      const std::string suffix = std::to_string(layer) + (d == 1 ? "_reverse" : "");
      register_parameter("weight_ih_l" + suffix, empty({gate_size_, layer_input}, t));
      register_parameter("weight_hh_l" + suffix, empty({gate_size_, real_hidden}, t));
      if (options.bias) {
        register_parameter("bias_ih_l" + suffix, empty({gate_size_}, t));
        register_parameter("bias_hh_l" + suffix, empty({gate_size_}, t));
      }
      if (options.proj_size > 0)
        register_parameter("weight_hr_l" + suffix, empty({options.proj_size, hidden_size}, t));
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  const double stdv = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& w : parameters()) init::uniform_(w, -stdv, stdv);
}

std::vector<Tensor> RNNBase::layer_weights(int64_t layer, int64_t direction) const {
  TD_CHECK(layer >= 0 && layer < options.num_layers && direction >= 0 &&
               direction < (options.bidirectional ? 2 : 1),
           ErrorCode::kOutOfRange, "[", type_name(), "] no layer ", layer, " direction ", direction);
  const std::string suffix = std::to_string(layer) + (direction == 1 ? "_reverse" : "");
  auto& self = const_cast<RNNBase&>(*this);  // get_tensor only looks the handle up
  std::vector<Tensor> w{self.get_tensor("weight_ih_l" + suffix), self.get_tensor("weight_hh_l" + suffix)};
  if (options.bias) {
    w.push_back(self.get_tensor("bias_ih_l" + suffix));
    w.push_back(self.get_tensor("bias_hh_l" + suffix));
  }
  if (options.proj_size > 0) w.push_back(self.get_tensor("weight_hr_l" + suffix));
  return w;
}

std::string RNNBase::extra_repr() const {
  std::string s = str(input_size, ", ", hidden_size);
  if (options.proj_size != 0) s += str(", proj_size=", options.proj_size);
  if (options.num_layers != 1) s += str(", num_layers=", options.num_layers);
  if (!options.bias) s += ", bias=False";
  if (options.batch_first) s += ", batch_first=True";
  if (options.dropout != 0) s += ", dropout=" + detail::py_float(options.dropout);
  if (options.bidirectional) s += ", bidirectional=True";
  return s;
}

TensorList RNNBase::forward_list(const TensorList& inputs) {
  const bool lstm = mode_ == Mode::kLstm;
  const size_t most = lstm ? 3 : 2;
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= most, "[", type_name(), "] forward() takes 1 to ", most,
               " inputs (input, h0", lstm ? ", c0" : "", ") but ", inputs.size(), " were given");
  const Tensor h0 = inputs.size() > 1 ? inputs[1] : Tensor();
  const Tensor c0 = inputs.size() > 2 ? inputs[2] : Tensor();
  RNNOutput r = run(inputs[0], h0, c0);
  if (lstm) return {r.output, r.h_n, r.c_n};
  return {r.output, r.h_n};
}

RNNOutput RNNBase::run(const Tensor& input, const Tensor& h0_in, const Tensor& c0_in) {
  const std::string& name = type_name();
  const bool lstm = mode_ == Mode::kLstm;
  TD_CHECK_ARG(input.defined(), "[", name, "] input is undefined");
  TD_CHECK_ARG(input.dim() == 2 || input.dim() == 3, "[", name,
               "] Expected input to be 2-D (unbatched) or 3-D but received ", input.dim(), "-D tensor");
  const bool batched = input.dim() == 3;
  const int64_t batch_dim = options.batch_first ? 0 : 1;
  Tensor h0 = h0_in, c0 = c0_in;
  if (lstm) {
    TD_CHECK_ARG(h0.defined() == c0.defined(), "[", name, "] give both h0 and c0, or neither");
    if (h0.defined()) {
      TD_CHECK_ARG(h0.dim() == input.dim() && c0.dim() == input.dim(), "[", name, "] For ",
                   batched ? "batched 3-D" : "unbatched 2-D", " input, hx and cx should also be ",
                   batched ? "3-D" : "2-D", " but got (", h0.dim(), "-D, ", c0.dim(), "-D) tensors");
    }
  } else if (h0.defined()) {
    TD_CHECK_ARG(h0.dim() == input.dim(), "[", name, "] For ", batched ? "batched 3-D" : "unbatched 2-D",
                 " input, hx should also be ", batched ? "3-D" : "2-D", " but got ", h0.dim(), "-D tensor");
  }
  Tensor x = batched ? input : input.unsqueeze(batch_dim);
  if (!batched && h0.defined()) h0 = h0.unsqueeze(1);
  if (!batched && c0.defined()) c0 = c0.unsqueeze(1);
  TD_CHECK_ARG(x.size(-1) == input_size, "[", name, "] input.size(-1) must be equal to input_size. Expected ",
               input_size, ", got ", x.size(-1));
  if (options.batch_first) x = x.transpose(0, 1);
  const int64_t steps = x.size(0), batch = x.size(1);
  TD_CHECK_ARG(steps > 0, "[", name, "] the input has no time steps (shape ", shape_str(input.sizes()), ")");
  const int64_t dirs = options.bidirectional ? 2 : 1, layers = options.num_layers;
  const int64_t out_size = options.proj_size > 0 ? options.proj_size : hidden_size;
  const std::vector<int64_t> h_shape{layers * dirs, batch, out_size},
      c_shape{layers * dirs, batch, hidden_size};
  const TensorOptions zeros_like_input{.dtype = x.dtype(), .device = x.device()};
  if (h0.defined()) {
    TD_CHECK_ARG(h0.shape() == h_shape, "[", name, "] Expected hidden", lstm ? "[0]" : "", " size ",
                 shape_tuple(h_shape), ", got ", shape_str(h0.sizes()));
  } else {
    h0 = zeros(h_shape, zeros_like_input);
  }
  if (lstm) {
    if (c0.defined()) {
      TD_CHECK_ARG(c0.shape() == c_shape, "[", name, "] Expected hidden[1] size ", shape_tuple(c_shape),
                   ", got ", shape_str(c0.sizes()));
    } else {
      c0 = zeros(c_shape, zeros_like_input);
    }
  }

  const StepsOutput out = run_steps(x.reshape({steps * batch, x.size(2)}), std::vector<int64_t>(static_cast<size_t>(steps), batch),
                                    h0, c0);
  RNNOutput r;
  r.output = out.data.view({steps, batch, out.data.size(1)});
  if (options.batch_first) r.output = r.output.transpose(0, 1);
  r.h_n = out.h_n;
  r.c_n = out.c_n;
  if (!batched) {
    r.output = r.output.squeeze(batch_dim);
    r.h_n = r.h_n.squeeze(1);
    if (lstm) r.c_n = r.c_n.squeeze(1);
  }
  return r;
}

RNNBase::StepsOutput RNNBase::run_steps(const Tensor& data, const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                                        const Tensor& c0) {
  const bool lstm = mode_ == Mode::kLstm;
  const int64_t steps = static_cast<int64_t>(batch_sizes.size()), batch = batch_sizes.front();
  const bool uniform = batch_sizes.back() == batch;
  const int64_t dirs = options.bidirectional ? 2 : 1, layers = options.num_layers;
  const std::vector<Tensor> h0s = h0.unbind(0), c0s = lstm ? c0.unbind(0) : std::vector<Tensor>();
  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = data;  // [rows, features]: time step t's batch_sizes[t] rows follow step t - 1's
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<Tensor> direction_outputs;
    for (int64_t d = 0; d < dirs; ++d) {
      const std::vector<Tensor> w = layer_weights(layer, d);
      const Tensor &w_ih = w[0], &w_hh = w[1];
      const Tensor b_ih = options.bias ? w[2] : Tensor(), b_hh = options.bias ? w[3] : Tensor();
      // One GEMM for every step's input projection; RNN and LSTM fold b_hh in here too.
      Tensor gx;
      if (b_ih.defined()) {
        gx = (mode_ == Mode::kGru ? b_ih : b_ih.add(b_hh)).addmm(layer_input, w_ih.t());
      } else {
        gx = layer_input.mm(w_ih.t());
      }
      const auto state = static_cast<size_t>(layer * dirs + d);
      if (lstm || mode_ == Mode::kGru) {
        // The whole layer as one op (core/ops/rnn_layer.cpp): no op or autograd node per step. A uniform
        // batch goes as [steps, batch, *], a packed sequence as its rows and batch_sizes.
        const Tensor gates = uniform ? gx.view({steps, batch, gate_size_}) : gx;
        const Value sizes = uniform ? Value(None{}) : Value(batch_sizes);
        const std::vector<Tensor> r =
            lstm ? call_op("_lstm_layer", {gates, h0s[state], c0s[state], w_hh, Scalar(d == 1), sizes,
                                           options.proj_size > 0 ? Value(w.back()) : Value(None{})})
                 : call_op("_gru_layer",
                           {gates, h0s[state], w_hh, b_hh.defined() ? Value(b_hh) : Value(None{}),
                            Scalar(d == 1), sizes});
        direction_outputs.push_back(uniform ? r[0].view({steps * batch, r[0].size(2)}) : r[0]);
        h_n.push_back(r[1]);
        if (lstm) c_n.push_back(r[2]);
        continue;
      }
      // RNN's steps, in ops: one node whose backward joins the steps' gradients (unbind when every step holds
      // the whole batch, split_with_sizes over a packed sequence's steps), then per step an addmm and the
      // nonlinearity.
      const std::vector<Tensor> gx_steps =
          uniform ? gx.view({steps, batch, gate_size_}).unbind(0) : gx.split_with_sizes(batch_sizes, 0);
      const Tensor w_hh_t = w_hh.t();
      Tensor h = h0s[state];
      std::vector<Tensor> outputs(static_cast<size_t>(steps));
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = d == 1 ? steps - 1 - s : s;
        // A packed sequence's step t runs its first bs rows (the sequences still going, longest first); the
        // others keep their state: finished ones their last, not yet started ones (reverse) their first.
        const int64_t bs = batch_sizes[static_cast<size_t>(t)];
        const Tensor h_out =
            rnn_step(mode_, gx_steps[static_cast<size_t>(t)], bs == batch ? h : h.narrow(0, 0, bs), w_hh_t);
        outputs[static_cast<size_t>(t)] = h_out;
        h = bs == batch ? h_out : Tensor::cat({h_out, h.narrow(0, bs, batch - bs)}, 0);
      }
      direction_outputs.push_back(Tensor::cat(std::move(outputs), 0));
      h_n.push_back(h);
    }
    layer_input = dirs == 1 ? direction_outputs[0] : Tensor::cat(std::move(direction_outputs), 1);
    if (layer + 1 < layers && options.dropout > 0 && is_training()) {
      layer_input = functional::dropout(layer_input, options.dropout, true);
    }
  }
  StepsOutput out;
  out.data = layer_input;
  out.h_n = Tensor::stack(std::move(h_n), 0);
  if (lstm) out.c_n = Tensor::stack(std::move(c_n), 0);
  return out;
}

PackedRNNOutput RNNBase::operator()(const utils::rnn::PackedSequence& input, const Tensor& h0_in,
                                    const Tensor& c0_in) {
  const std::string& name = type_name();
  const bool lstm = mode_ == Mode::kLstm;
  TD_CHECK_ARG(input.data.defined() && input.data.dim() == 2, "[", name, "] a PackedSequence's data must be 2-D "
               "[rows, input_size]");
  TD_CHECK_ARG(input.data.size(1) == input_size, "[", name, "] input.size(-1) must be equal to input_size. Expected ",
               input_size, ", got ", input.data.size(1));
  const std::vector<int64_t> batch_sizes = input.batch_sizes.to("cpu").to(DType::kInt64).to_vector<int64_t>();
  TD_CHECK_ARG(!batch_sizes.empty() && batch_sizes.front() > 0, "[", name, "] the PackedSequence has no steps");
  int64_t rows = 0;
  for (size_t t = 0; t < batch_sizes.size(); ++t) {
    TD_CHECK_ARG(batch_sizes[t] > 0 && (t == 0 || batch_sizes[t] <= batch_sizes[t - 1]), "[", name,
                 "] batch_sizes must be positive and non-increasing");
    rows += batch_sizes[t];
  }
  TD_CHECK_ARG(rows == input.data.size(0), "[", name, "] batch_sizes add up to ", rows, " rows, data has ",
               input.data.size(0));
  const int64_t batch = batch_sizes.front();
  const int64_t dirs = options.bidirectional ? 2 : 1;
  const int64_t out_size = options.proj_size > 0 ? options.proj_size : hidden_size;
  const std::vector<int64_t> h_shape{options.num_layers * dirs, batch, out_size},
      c_shape{options.num_layers * dirs, batch, hidden_size};
  const TensorOptions like{.dtype = input.data.dtype(), .device = input.data.device()};
  // The states come in the input sequences' order; the packed ones are sorted (permute_hidden).
  auto sorted = [&](const Tensor& t) {
    return input.sorted_indices.defined() ? t.index_select(1, input.sorted_indices.to(t.device().str())) : t;
  };
  Tensor h0 = h0_in, c0 = c0_in;
  if (lstm) TD_CHECK_ARG(h0.defined() == c0.defined(), "[", name, "] give both h0 and c0, or neither");
  if (h0.defined()) {
    TD_CHECK_ARG(h0.shape() == h_shape, "[", name, "] Expected hidden", lstm ? "[0]" : "", " size ",
                 shape_tuple(h_shape), ", got ", shape_str(h0.sizes()));
    h0 = sorted(h0);
  } else {
    h0 = zeros(h_shape, like);
  }
  if (lstm) {
    if (c0.defined()) {
      TD_CHECK_ARG(c0.shape() == c_shape, "[", name, "] Expected hidden[1] size ", shape_tuple(c_shape), ", got ",
                   shape_str(c0.sizes()));
      c0 = sorted(c0);
    } else {
      c0 = zeros(c_shape, like);
    }
  }
  const StepsOutput out = run_steps(input.data, batch_sizes, h0, c0);
  auto unsorted = [&](const Tensor& t) {
    return input.unsorted_indices.defined() ? t.index_select(1, input.unsorted_indices.to(t.device().str())) : t;
  };
  PackedRNNOutput r;
  r.output = {out.data, input.batch_sizes, input.sorted_indices, input.unsorted_indices};
  r.h_n = unsorted(out.h_n);
  if (lstm) r.c_n = unsorted(out.c_n);
  return r;
}

namespace utils::rnn {

PackedSequence pack_padded_sequence(const Tensor& input_in, const std::vector<int64_t>& lengths, bool batch_first,
                                    bool enforce_sorted) {
  TD_CHECK_ARG(input_in.defined() && input_in.dim() >= 2, "[pack_padded_sequence] input must be at least 2-D "
               "[T, B, *]");
  Tensor input = batch_first ? input_in.transpose(0, 1) : input_in;
  const int64_t steps = input.size(0), batch = input.size(1);
  TD_CHECK_ARG(static_cast<int64_t>(lengths.size()) == batch, "[pack_padded_sequence] Expected `len(lengths)` to be "
               "equal to batch_size, but got ", lengths.size(), " (batch_size=", batch, ")");
  PackedSequence p;
  std::vector<int64_t> order(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) order[static_cast<size_t>(b)] = b;
  if (enforce_sorted) {
    for (size_t b = 1; b < lengths.size(); ++b) {
      TD_CHECK_ARG(lengths[b] <= lengths[b - 1], "[pack_padded_sequence] `lengths` array must be sorted in "
                   "decreasing order when `enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                   "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do not need ONNX "
                   "exportability.");
    }
  } else {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return lengths[static_cast<size_t>(a)] > lengths[static_cast<size_t>(b)];
    });
    std::vector<int64_t> inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i) inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
    p.sorted_indices = tensor(order, {batch}, input.device());
    p.unsorted_indices = tensor(inverse, {batch}, input.device());
    input = input.index_select(1, p.sorted_indices);
  }
  for (int64_t l : lengths) {
    TD_CHECK_ARG(l > 0, "[pack_padded_sequence] Length of all samples has to be greater than 0, but found an "
                 "element in 'lengths' that is <= 0");
  }
  const int64_t longest = lengths[static_cast<size_t>(order.front())];
  TD_CHECK_ARG(longest <= steps, "[pack_padded_sequence] the longest length ", longest, " is more than the input's ",
               steps, " steps");
  std::vector<int64_t> batch_sizes;
  std::vector<Tensor> rows;
  for (int64_t t = 0; t < longest; ++t) {
    int64_t bs = 0;
    while (bs < batch && lengths[static_cast<size_t>(order[static_cast<size_t>(bs)])] > t) ++bs;
    batch_sizes.push_back(bs);
    rows.push_back(input.select(0, t).narrow(0, 0, bs));
  }
  p.data = Tensor::cat(std::move(rows), 0);
  p.batch_sizes = tensor(batch_sizes, {longest}, kCPU);
  return p;
}

std::pair<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first, double padding_value,
                                              std::optional<int64_t> total_length) {
  const std::vector<int64_t> batch_sizes = sequence.batch_sizes.to("cpu").to(DType::kInt64).to_vector<int64_t>();
  TD_CHECK_ARG(!batch_sizes.empty(), "[pad_packed_sequence] the PackedSequence has no steps");
  const int64_t steps = static_cast<int64_t>(batch_sizes.size()), batch = batch_sizes.front();
  if (total_length) {
    TD_CHECK_ARG(*total_length >= steps, "[pad_packed_sequence] Expected total_length to be at least the length of "
                 "the longest sequence in input, but got total_length=", *total_length, " and max sequence length "
                 "being ", steps);
  }
  const Tensor& data = sequence.data;
  std::vector<int64_t> row_shape = data.shape();
  std::vector<Tensor> padded_steps;
  const std::vector<Tensor> pieces = data.split_with_sizes(batch_sizes, 0);
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t bs = batch_sizes[static_cast<size_t>(t)];
    Tensor step = pieces[static_cast<size_t>(t)];
    if (bs < batch) {
      row_shape[0] = batch - bs;
      step = Tensor::cat({step, full(row_shape, padding_value, {data.dtype(), data.device()})}, 0);
    }
    padded_steps.push_back(step);
  }
  for (int64_t t = steps; total_length && t < *total_length; ++t) {
    row_shape[0] = batch;
    padded_steps.push_back(full(row_shape, padding_value, {data.dtype(), data.device()}));
  }
  Tensor out = Tensor::stack(std::move(padded_steps), 0);
  std::vector<int64_t> lengths(static_cast<size_t>(batch), 0);
  for (int64_t bs : batch_sizes) {
    for (int64_t b = 0; b < bs; ++b) ++lengths[static_cast<size_t>(b)];
  }
  Tensor length_tensor = tensor(lengths, {batch}, kCPU);
  if (sequence.unsorted_indices.defined()) {
    out = out.index_select(1, sequence.unsorted_indices.to(out.device().str()));
    length_tensor = length_tensor.index_select(0, sequence.unsorted_indices.to("cpu"));
  }
  if (batch_first) out = out.transpose(0, 1);
  return {out, length_tensor};
}

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first, double padding_value) {
  TD_CHECK_ARG(!sequences.empty(), "[pad_sequence] received an empty list of sequences");
  int64_t longest = 0;
  for (const Tensor& s : sequences) {
    TD_CHECK_ARG(s.defined() && s.dim() >= 1, "[pad_sequence] every sequence needs at least one dim");
    longest = std::max(longest, s.size(0));
  }
  std::vector<Tensor> padded;
  for (const Tensor& s : sequences) {
    Tensor p = s;
    if (s.size(0) < longest) {
      std::vector<int64_t> shape = s.shape();
      shape[0] = longest - s.size(0);
      p = Tensor::cat({s, full(shape, padding_value, {s.dtype(), s.device()})}, 0);
    }
    padded.push_back(p);
  }
  return Tensor::stack(std::move(padded), batch_first ? 0 : 1);
}

PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted) {
  std::vector<int64_t> lengths;
  for (const Tensor& s : sequences) lengths.push_back(s.defined() && s.dim() >= 1 ? s.size(0) : 0);
  return pack_padded_sequence(pad_sequence(sequences), lengths, false, enforce_sorted);
}

}  // namespace utils::rnn

RNN::RNN(int64_t input_size_, int64_t hidden_size_, RNNOptions opts)
    : RNNBase("RNN", rnn_mode(opts.nonlinearity), input_size_, hidden_size_, opts) {}

RNNOutput RNN::operator()(const Tensor& input, const Tensor& h0) {
  TensorList out = call({input, h0});
  return {out[0], out[1], {}};
}

LSTM::LSTM(int64_t input_size_, int64_t hidden_size_, RNNOptions opts)
    : RNNBase("LSTM", Mode::kLstm, input_size_, hidden_size_, std::move(opts)) {}

RNNOutput LSTM::operator()(const Tensor& input, const Tensor& h0, const Tensor& c0) {
  TensorList out = call({input, h0, c0});
  return {out[0], out[1], out[2]};
}

GRU::GRU(int64_t input_size_, int64_t hidden_size_, RNNOptions opts)
    : RNNBase("GRU", Mode::kGru, input_size_, hidden_size_, std::move(opts)) {}

RNNOutput GRU::operator()(const Tensor& input, const Tensor& h0) {
  TensorList out = call({input, h0});
  return {out[0], out[1], {}};
}

// ---- cells ----

RNNCellBase::RNNCellBase(std::string type, int64_t input_size_, int64_t hidden_size_, bool bias_,
                         int64_t gates, TensorOptions options)
    : Module(std::move(type)), input_size(input_size_), hidden_size(hidden_size_), bias(bias_) {
  TD_CHECK_ARG(hidden_size > 0, "[", type_name(), "] hidden_size must be greater than zero, got ",
               hidden_size);
  TD_CHECK_ARG(input_size >= 0, "[", type_name(), "] input_size must be non-negative, got ", input_size);
  options.requires_grad = false;
  weight_ih = register_parameter("weight_ih", empty({gates * hidden_size, input_size}, options));
  weight_hh = register_parameter("weight_hh", empty({gates * hidden_size, hidden_size}, options));
  bias_ih = register_parameter("bias_ih", bias ? empty({gates * hidden_size}, options) : Tensor());
  bias_hh = register_parameter("bias_hh", bias ? empty({gates * hidden_size}, options) : Tensor());
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  const double stdv = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& w : parameters()) init::uniform_(w, -stdv, stdv);
}

std::string RNNCellBase::extra_repr() const {
  return str(input_size, ", ", hidden_size, bias ? "" : ", bias=False");
}

std::pair<std::vector<Tensor>, bool> RNNCellBase::batched(const Tensor& input,
                                                          std::vector<Tensor> states) const {
  const std::string& name = type_name();
  TD_CHECK_ARG(input.defined(), "[", name, "] input is undefined");
  TD_CHECK_ARG(input.dim() == 1 || input.dim() == 2, "[", name,
               "] Expected input to be 1-D or 2-D but received ", input.dim(), "-D tensor");
  const bool is_batched = input.dim() == 2;
  const Tensor x = is_batched ? input : input.unsqueeze(0);
  TD_CHECK_ARG(x.size(1) == input_size, "[", name, "] input has inconsistent input_size: got ", x.size(1),
               ", expected ", input_size);
  std::vector<Tensor> out{x};
  for (size_t i = 0; i < states.size(); ++i) {
    Tensor h = states[i];
    if (!h.defined()) {
      out.push_back(zeros({x.size(0), hidden_size}, {.dtype = x.dtype(), .device = x.device()}));
      continue;
    }
    TD_CHECK_ARG(h.dim() == input.dim(), "[", name, "] hidden", i, " should be ", input.dim(), "-D for a ",
                 input.dim(), "-D input, got a ", h.dim(), "-D tensor");
    if (!is_batched) h = h.unsqueeze(0);
    TD_CHECK_ARG(h.size(0) == x.size(0), "[", name, "] Input batch size ", x.size(0), " doesn't match hidden",
                 i, " batch size ", h.size(0));
    TD_CHECK_ARG(h.size(1) == hidden_size, "[", name, "] hidden", i, " has inconsistent hidden_size: got ",
                 h.size(1), ", expected ", hidden_size);
    out.push_back(h);
  }
  return {out, is_batched};
}

std::pair<Tensor, Tensor> RNNCellBase::projections(const Tensor& x, const Tensor& h) const {
  if (!bias) return {x.mm(weight_ih.t()), h.mm(weight_hh.t())};
  return {bias_ih.addmm(x, weight_ih.t()), bias_hh.addmm(h, weight_hh.t())};
}

RNNCell::RNNCell(int64_t input_size_, int64_t hidden_size_, bool bias_, std::string nonlinearity_,
                 TensorOptions options)
    : RNNCellBase("RNNCell", input_size_, hidden_size_, bias_, 1, options),
      nonlinearity(std::move(nonlinearity_)) {
  TD_CHECK_ARG(nonlinearity == "tanh" || nonlinearity == "relu",
               "[RNNCell] Unknown nonlinearity: ", nonlinearity, ". Select from 'tanh' or 'relu'.");
}

TensorList RNNCell::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 2,
               "[RNNCell] forward() takes 1 or 2 inputs (input, hx) but ", inputs.size(), " were given");
  auto [v, is_batched] = batched(inputs[0], {inputs.size() > 1 ? inputs[1] : Tensor()});
  auto [gi, gh] = projections(v[0], v[1]);
  Tensor pre = gi.add(gh);
  Tensor h = nonlinearity == "relu" ? pre.relu() : pre.tanh();
  return {is_batched ? h : h.squeeze(0)};
}

Tensor RNNCell::operator()(const Tensor& input, const Tensor& hx) {
  return call({input, hx})[0];
}

std::string RNNCell::extra_repr() const {
  std::string s = RNNCellBase::extra_repr();
  return nonlinearity != "tanh" ? s + ", nonlinearity=" + nonlinearity : s;
}

LSTMCell::LSTMCell(int64_t input_size_, int64_t hidden_size_, bool bias_, TensorOptions options)
    : RNNCellBase("LSTMCell", input_size_, hidden_size_, bias_, 4, options) {}

TensorList LSTMCell::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 3,
               "[LSTMCell] forward() takes 1 to 3 inputs (input, h, c) but ", inputs.size(), " were given");
  const Tensor h = inputs.size() > 1 ? inputs[1] : Tensor(), c = inputs.size() > 2 ? inputs[2] : Tensor();
  TD_CHECK_ARG(h.defined() == c.defined(), "[LSTMCell] give both h and c, or neither");
  auto [v, is_batched] = batched(inputs[0], {h, c});
  // The cell adds both biases in the step (bias_ih + x W_ih^T + bias_hh + h W_hh^T), as PyTorch's cell does.
  const Tensor gx = bias ? bias_ih.addmm(v[0], weight_ih.t()).add(bias_hh) : v[0].mm(weight_ih.t());
  auto [h1, c1] = lstm_step(gx, v[1], v[2], weight_hh.t());
  if (!is_batched) return {h1.squeeze(0), c1.squeeze(0)};
  return {h1, c1};
}

std::pair<Tensor, Tensor> LSTMCell::operator()(const Tensor& input, const Tensor& h, const Tensor& c) {
  TensorList out = call({input, h, c});
  return {out[0], out[1]};
}

GRUCell::GRUCell(int64_t input_size_, int64_t hidden_size_, bool bias_, TensorOptions options)
    : RNNCellBase("GRUCell", input_size_, hidden_size_, bias_, 3, options) {}

TensorList GRUCell::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 2,
               "[GRUCell] forward() takes 1 or 2 inputs (input, hx) but ", inputs.size(), " were given");
  auto [v, is_batched] = batched(inputs[0], {inputs.size() > 1 ? inputs[1] : Tensor()});
  const Tensor gx = bias ? bias_ih.addmm(v[0], weight_ih.t()) : v[0].mm(weight_ih.t());
  Tensor h = gru_step(gx, v[1], weight_hh.t(), bias_hh);
  return {is_batched ? h : h.squeeze(0)};
}

Tensor GRUCell::operator()(const Tensor& input, const Tensor& hx) {
  return call({input, hx})[0];
}

}  // namespace td::nn
