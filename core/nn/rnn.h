// Recurrent layers (torch.nn.RNN, LSTM, GRU and their cells) with PyTorch 1.13's parameter names, shapes,
// order, default initialisation, reprs and checks. Every step is written in public ops (addmm, sigmoid, tanh,
// narrow), so autograd and double backward come from the ops' own formulas. Packed sequences are not
// supported: inputs are padded [T, N, H] (or [N, T, H] with batch_first) or unbatched [T, H].
//
//   auto lstm = std::make_shared<td::nn::LSTM>(10, 20, td::nn::RNNOptions{.num_layers = 2});
//   auto [output, h_n, c_n] = (*lstm)(x);          // x [T, N, 10] -> output [T, N, 20], h_n/c_n [2, N, 20]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/nn/module.h"

namespace td::nn {

/// Settings of RNN, LSTM and GRU, with PyTorch's defaults.
struct RNNOptions {
  int64_t num_layers = 1;
  /// "tanh" or "relu" (RNN only).
  std::string nonlinearity = "tanh";
  bool bias = true;
  /// Input and output as [N, T, H] instead of [T, N, H] (the hidden states stay [L * D, N, H]).
  bool batch_first = false;
  /// Dropout on the outputs of every layer but the last, in training mode only.
  double dropout = 0;
  bool bidirectional = false;
  /// LSTM only: projects h to this size with weight_hr (0: no projection).
  int64_t proj_size = 0;
  TensorOptions options = {};
};

/// What the sequence layers return: the last layer's output at every step, and every layer's final hidden
/// state (and, for LSTM, cell state; undefined otherwise).
struct RNNOutput {
  Tensor output, h_n, c_n;
};

namespace utils::rnn {
/// torch.nn.utils.rnn.PackedSequence: a batch of sequences of different lengths, longest first, as the rows of
/// every sequence's step 0, then step 1, ...: batch_sizes[t] (int64, on the CPU) sequences are still going at
/// step t. sorted_indices says which input sequence each packed one is (undefined when they came sorted),
/// unsorted_indices the way back.
struct PackedSequence {
  Tensor data, batch_sizes, sorted_indices, unsorted_indices;
};

/// Packs input [T, B, *] ([B, T, *] with batch_first) whose sequence b has lengths[b] steps. With
/// enforce_sorted the lengths must not increase; otherwise the sequences are sorted (stably, longest first).
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<int64_t>& lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
/// The inverse: the padded batch [T, B, *] (T = total_length if given) with padding_value after each sequence,
/// in the input's order, and the lengths (int64).
std::pair<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first = false,
                                              double padding_value = 0.0,
                                              std::optional<int64_t> total_length = std::nullopt);
/// Sequences [L_i, *] stacked into [max L, B, *] ([B, max L, *] with batch_first), padded with padding_value.
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false, double padding_value = 0.0);
/// pack_padded_sequence(pad_sequence(sequences), their lengths, enforce_sorted).
PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted = true);
}  // namespace utils::rnn

/// What an RNN, LSTM or GRU returns for a packed input: the packed output, and the final states in the input
/// sequences' order.
struct PackedRNNOutput {
  utils::rnn::PackedSequence output;
  Tensor h_n, c_n;
};

/// The common part of RNN, LSTM and GRU (torch.nn.RNNBase): parameters per layer and direction named
/// weight_ih_l{k}[_reverse], weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (and weight_hr_l{k} with proj_size),
/// all drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
class RNNBase : public Module {
 public:
  enum class Mode { kRnnTanh, kRnnRelu, kLstm, kGru };
  /// forward_list({input, h0[, c0]}) -> {output, h_n[, c_n]}; h0/c0 may be undefined (zeros), as None.
  TensorList forward_list(const TensorList& inputs) override;
  std::string extra_repr() const override;
  /// Re-draws every parameter as the constructor does.
  void reset_parameters();
  /// The parameters of layer `layer`, direction `direction` (1: reverse), in PyTorch's order.
  std::vector<Tensor> layer_weights(int64_t layer, int64_t direction) const;
  /// Module.__call__ with a PackedSequence: each sequence runs for its own length, h_n/c_n hold each one's
  /// state after its last step, and h0/c0 ([layers * dirs, B, *], in the input's order) may be undefined.
  /// (The module's forward hooks, which see tensors, do not run for packed input.)
  PackedRNNOutput operator()(const utils::rnn::PackedSequence& input, const Tensor& h0 = {}, const Tensor& c0 = {});

  int64_t input_size, hidden_size;
  RNNOptions options;

 protected:
  RNNBase(std::string type_name, Mode mode, int64_t input_size, int64_t hidden_size, RNNOptions options);
  RNNOutput run(const Tensor& input, const Tensor& h0, const Tensor& c0);

 private:
  struct StepsOutput {
    Tensor data, h_n, c_n;
  };
  /// The layers over rows `data` [N, features] whose time step t holds batch_sizes[t] rows (non-increasing;
  /// the first is the batch), after step t - 1's; h0 and c0 are [layers * dirs, batch, *]. The last layer's
  /// rows in the same order, and the final states.
  StepsOutput run_steps(const Tensor& data, const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                        const Tensor& c0);

  Mode mode_;
  int64_t gate_size_ = 0;
};

/// Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu (nn.RNN).
class RNN : public RNNBase {
 public:
  using RNNBase::operator();  // the packed form
  RNN(int64_t input_size, int64_t hidden_size, RNNOptions options = {});
  /// Module.__call__(input, h0): output and h_n.
  RNNOutput operator()(const Tensor& input, const Tensor& h0 = {});
};

/// Long short-term memory with gates i, f, g, o in that order in the weight rows (nn.LSTM).
class LSTM : public RNNBase {
 public:
  using RNNBase::operator();  // the packed form
  LSTM(int64_t input_size, int64_t hidden_size, RNNOptions options = {});
  /// Module.__call__(input, (h0, c0)): give both initial states or neither.
  RNNOutput operator()(const Tensor& input, const Tensor& h0 = {}, const Tensor& c0 = {});
};

/// Gated recurrent unit with gates r, z, n in that order (nn.GRU).
class GRU : public RNNBase {
 public:
  using RNNBase::operator();  // the packed form
  GRU(int64_t input_size, int64_t hidden_size, RNNOptions options = {});
  /// Module.__call__(input, h0): output and h_n.
  RNNOutput operator()(const Tensor& input, const Tensor& h0 = {});
};

/// The common part of the cells (torch.nn.RNNCellBase): weight_ih [G, input_size], weight_hh [G,
/// hidden_size], bias_ih, bias_hh [G], drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
class RNNCellBase : public Module {
 public:
  std::string extra_repr() const override;
  void reset_parameters();

  int64_t input_size, hidden_size;
  bool bias;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(std::string type_name, int64_t input_size, int64_t hidden_size, bool bias, int64_t gates,
              TensorOptions options);
  /// Checks input [N, input_size] or [input_size] and a hidden state of the matching shape; returns them
  /// batched (zeros for an undefined state) and whether the input was batched.
  std::pair<std::vector<Tensor>, bool> batched(const Tensor& input, std::vector<Tensor> states) const;
  /// (x W_ih^T + b_ih, h W_hh^T + b_hh).
  std::pair<Tensor, Tensor> projections(const Tensor& x, const Tensor& h) const;
};

/// One step of the Elman RNN (nn.RNNCell); nonlinearity "tanh" or "relu".
class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true, std::string nonlinearity = "tanh",
          TensorOptions options = {});
  /// forward_list({input, hx}) -> {h'}; hx may be undefined (zeros).
  TensorList forward_list(const TensorList& inputs) override;
  Tensor operator()(const Tensor& input, const Tensor& hx = {});
  std::string extra_repr() const override;
  std::string nonlinearity;
};

/// One LSTM step (nn.LSTMCell).
class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true, TensorOptions options = {});
  /// forward_list({input, h, c}) -> {h', c'}; give both states or neither.
  TensorList forward_list(const TensorList& inputs) override;
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h = {}, const Tensor& c = {});
};

/// One GRU step (nn.GRUCell).
class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true, TensorOptions options = {});
  /// forward_list({input, hx}) -> {h'}; hx may be undefined (zeros).
  TensorList forward_list(const TensorList& inputs) override;
  Tensor operator()(const Tensor& input, const Tensor& hx = {});
};

}  // namespace td::nn
