// Recurrent and attention layers (core/nn/rnn.h, core/nn/attention.h) on every device: PyTorch 1.13's
// outputs, gradients and reprs for the same module and parameters (tests/golden/modules/recurrent.json,
// written by tests/golden/generate_recurrent.py), float64 finite-difference checks of first and second
// derivatives, parameter names, shapes and initial bounds, dropout, hooks, and the argument errors.
#include "core/nn/rnn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/autograd/autograd.h"
#include "core/error.h"
#include "core/nn/attention.h"
#include "core/nn/normalization.h"
#include "core/profiler/profiler.h"
#include "core/random/generator.h"
#include "tests/core/device_test.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using nlohmann::json;
using nn::TensorList;
using testing::error_of;
using ::testing::HasSubstr;
using testing::message_of;
namespace F = nn::functional;

const TensorOptions kF64{.dtype = DType::kFloat64};

// The tensord module a fixture case names, built from PyTorch's arguments, in float64.
std::shared_ptr<nn::Module> build(const json& c) {
  const std::string type = c.at("module");
  const json& args = c.at("args");
  const json& kw = c.at("kwargs");
  auto get = [&](const char* key, json fallback) { return kw.contains(key) ? kw.at(key) : fallback; };
  if (type == "RNN" || type == "LSTM" || type == "GRU") {
    nn::RNNOptions o;
    o.num_layers = get("num_layers", 1);
    o.nonlinearity = get("nonlinearity", "tanh").get<std::string>();
    o.bias = get("bias", true);
    o.batch_first = get("batch_first", false);
    o.dropout = get("dropout", 0.0);
    o.bidirectional = get("bidirectional", false);
    o.proj_size = get("proj_size", 0);
    o.options = kF64;
    if (type == "RNN") return std::make_shared<nn::RNN>(args[0], args[1], o);
    if (type == "LSTM") return std::make_shared<nn::LSTM>(args[0], args[1], o);
    return std::make_shared<nn::GRU>(args[0], args[1], o);
  }
  if (type == "RNNCell") {
    return std::make_shared<nn::RNNCell>(args[0], args[1], get("bias", true),
                                         get("nonlinearity", "tanh").get<std::string>(), kF64);
  }
  if (type == "LSTMCell") return std::make_shared<nn::LSTMCell>(args[0], args[1], get("bias", true), kF64);
  if (type == "GRUCell") return std::make_shared<nn::GRUCell>(args[0], args[1], get("bias", true), kF64);
  if (type == "MultiheadAttention") {
    return std::make_shared<nn::MultiheadAttention>(
        args[0], args[1],
        nn::MultiheadAttentionOptions{.dropout = get("dropout", 0.0),
                                      .bias = get("bias", true),
                                      .add_bias_kv = get("add_bias_kv", false),
                                      .add_zero_attn = get("add_zero_attn", false),
                                      .kdim = get("kdim", 0),
                                      .vdim = get("vdim", 0),
                                      .batch_first = get("batch_first", false),
                                      .options = kF64});
  }
  if (type.starts_with("TransformerEncoder") || type.starts_with("TransformerDecoder")) {
    nn::TransformerEncoderLayerOptions o{.dim_feedforward = get("dim_feedforward", 2048),
                                         .dropout = get("dropout", 0.1),
                                         .activation = get("activation", "relu").get<std::string>(),
                                         .layer_norm_eps = get("layer_norm_eps", 1e-5),
                                         .batch_first = get("batch_first", false),
                                         .norm_first = get("norm_first", false),
                                         .options = kF64};
    auto norm = [&]() -> std::shared_ptr<nn::Module> {
      if (!c.at("norm").get<bool>()) return nullptr;
      return std::make_shared<nn::LayerNorm>(std::vector<int64_t>{args[0]}, 1e-5, true, kF64);
    };
    if (type.starts_with("TransformerEncoder")) {
      auto layer = std::make_shared<nn::TransformerEncoderLayer>(args[0], args[1], o);
      if (type == "TransformerEncoderLayer") return layer;
      return std::make_shared<nn::TransformerEncoder>(layer, c.at("num_layers"), norm());
    }
    auto layer = std::make_shared<nn::TransformerDecoderLayer>(args[0], args[1], o);
    if (type == "TransformerDecoderLayer") return layer;
    return std::make_shared<nn::TransformerDecoder>(layer, c.at("num_layers"), norm());
  }
  if (type == "Transformer") {
    return std::make_shared<nn::Transformer>(nn::TransformerOptions{.d_model = get("d_model", 512),
                                                                    .nhead = get("nhead", 8),
                                                                    .num_encoder_layers = get("num_encoder_layers", 6),
                                                                    .num_decoder_layers = get("num_decoder_layers", 6),
                                                                    .dim_feedforward = get("dim_feedforward", 2048),
                                                                    .options = kF64});
  }
  throw Error(ErrorCode::kUnimplemented, "rnn_test: no builder for " + type);
}

class RnnTest : public testing::DeviceTest {
 protected:
  void expect_near(const Tensor& actual, const Tensor& expected, const std::string& what) {
    ASSERT_TRUE(actual.defined()) << what;
    ASSERT_EQ(actual.shape(), expected.shape()) << what;
    const double diff = actual.to("cpu").sub(expected).abs().max().item<double>();
    EXPECT_LT(diff, 1e-9) << what;
  }
  /// A float64 leaf that requires grad, on the test's device.
  Tensor randn64(std::vector<int64_t> shape) const {
    return random::randn(std::move(shape), {.dtype = DType::kFloat64}).to(device_.str()).requires_grad_();
  }
  static Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }
};

TD_DEVICE_TEST(RnnTest, MatchPyTorchGolden) {
  std::ifstream in(fixture_dir() + "/modules/recurrent.json");
  ASSERT_TRUE(in) << "run /usr/bin/python3 tests/golden/generate_recurrent.py";
  const json doc = json::parse(in);
  ASSERT_GE(doc.at("cases").size(), 30u);
  for (const json& c : doc.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    TensorList inputs;
    for (const json& x : c.at("inputs"))
      inputs.push_back(x.is_null() ? Tensor() : tensor_from_json(x, device_));
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!c.at("grad_inputs")[i].is_null()) inputs[i].requires_grad_();
    }
    TensorList out;
    std::shared_ptr<nn::Module> module;
    if (c.at("module") == "scaled_dot_product_attention") {
      out = {F::scaled_dot_product_attention(inputs[0], inputs[1], inputs[2], inputs[3], 0.0,
                                             c.at("kwargs").at("is_causal").get<bool>())};
    } else {
      module = build(c);
      module->to(device_);
      module->eval();
      EXPECT_EQ(module->repr(), c.at("repr").get<std::string>());
      nn::StateDict state;
      for (auto& [key, value] : c.at("state").items())
        state.emplace_back(key, tensor_from_json(value, device_));
      std::vector<std::string> names;
      for (const auto& [key, value] : module->state_dict()) names.push_back(key);
      EXPECT_EQ(names, c.at("state_order").get<std::vector<std::string>>());
      module->load_state_dict(state);
      if (auto* mha = dynamic_cast<nn::MultiheadAttention*>(module.get())) {
        const json& fk = c.at("forward_kwargs");
        const bool self = c.at("self_attention");
        const Tensor &q = inputs[0], &k = self ? q : inputs[1], &v = self ? q : inputs[2];
        auto [o, w] =
            (*mha)(q, k, v, inputs[3], fk.at("need_weights"), inputs[4], fk.at("average_attn_weights"));
        out = {o, w};
      } else {
        if (c.contains("lengths")) {
          // pack_padded_sequence -> the layer -> pad_packed_sequence, as the fixture's call.
          namespace U = nn::utils::rnn;
          const bool batch_first = c.at("kwargs").value("batch_first", false);
          const U::PackedSequence packed = U::pack_padded_sequence(
              inputs[0], c.at("lengths").get<std::vector<int64_t>>(), batch_first, c.at("enforce_sorted").get<bool>());
          auto& rnn = dynamic_cast<nn::RNNBase&>(*module);
          const nn::PackedRNNOutput r = rnn(packed, inputs[1], inputs.size() > 2 ? inputs[2] : Tensor());
          out = {U::pad_packed_sequence(r.output, batch_first).first, r.h_n};
          if (r.c_n.defined()) out.push_back(r.c_n);
        } else {
          out = module->call(inputs);
        }
      }
    }
    ASSERT_EQ(out.size(), c.at("outputs").size());
    Tensor loss;
    for (size_t i = 0; i < out.size(); ++i) {
      const json& expected = c.at("outputs")[i];
      if (expected.is_null()) {
        EXPECT_FALSE(out[i].defined()) << "output " << i;
        continue;
      }
      expect_near(out[i], tensor_from_json(expected, kCPU), name + " output " + std::to_string(i));
      Tensor term = out[i].mul(tensor_from_json(c.at("grad_outputs")[i], device_)).sum();
      loss = loss.defined() ? loss.add(term) : term;
    }
    loss.backward();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const json& g = c.at("grad_inputs")[i];
      if (!g.is_null())
        expect_near(inputs[i].grad(), tensor_from_json(g, kCPU), name + " grad input " + std::to_string(i));
    }
    for (auto& [key, value] : c.at("grad_params").items()) {
      expect_near(module->get_tensor(key).grad(), tensor_from_json(value, kCPU), name + " grad " + key);
    }
  }
}

// The cells' gradients w.r.t. input, states and every parameter, first and second order: the parameters are
// swapped for the checked inputs, which the cells read from their members.
TD_DEVICE_TEST(RnnTest, CellsPassGradcheck) {
  manual_seed(3);
  const Tensor x = randn64({2, 3}), h = randn64({2, 4}), c = randn64({2, 4});
  {
    nn::RNNCell cell(3, 4, true, "tanh", kF64);
    cell.to(device_);
    expect_gradcheck(
        "RNNCell",
        [&](const std::vector<Tensor>& in) {
          cell.weight_ih = in[2], cell.weight_hh = in[3], cell.bias_ih = in[4], cell.bias_hh = in[5];
          return cell.forward_list({in[0], in[1]})[0];
        },
        {x, h, leaf(cell.weight_ih), leaf(cell.weight_hh), leaf(cell.bias_ih), leaf(cell.bias_hh)});
  }
  {
    nn::LSTMCell cell(3, 4, true, kF64);
    cell.to(device_);
    expect_gradcheck(
        "LSTMCell",
        [&](const std::vector<Tensor>& in) {
          cell.weight_ih = in[3], cell.weight_hh = in[4], cell.bias_ih = in[5], cell.bias_hh = in[6];
          TensorList hc = cell.forward_list({in[0], in[1], in[2]});
          return Tensor::cat({hc[0], hc[1].mul(0.5)}, 1);
        },
        {x, h, c, leaf(cell.weight_ih), leaf(cell.weight_hh), leaf(cell.bias_ih), leaf(cell.bias_hh)});
  }
  {
    nn::GRUCell cell(3, 4, true, kF64);
    cell.to(device_);
    expect_gradcheck(
        "GRUCell",
        [&](const std::vector<Tensor>& in) {
          cell.weight_ih = in[2], cell.weight_hh = in[3], cell.bias_ih = in[4], cell.bias_hh = in[5];
          return cell.forward_list({in[0], in[1]})[0];
        },
        {x, h, leaf(cell.weight_ih), leaf(cell.weight_hh), leaf(cell.bias_ih), leaf(cell.bias_hh)});
  }
}

// The fused LSTM cell through all three outputs (the activated gates too, whose gradient its kernel adds), with
// and without biases; the kernel path (float64) against the ops path (float16, which the kernels leave to ops)
// on the same values.
TD_DEVICE_TEST(RnnTest, FusedLstmCellPassesGradcheckOnEveryOutput) {
  manual_seed(6);
  auto cell = [](const std::vector<Tensor>& in) {
    std::vector<Value> args = {in[0], in[1], in[2], None{}, None{}};
    for (size_t k = 3; k < in.size(); ++k) args[k] = in[k];
    const std::vector<Tensor> out = call_op("_thnn_fused_lstm_cell", args);
    return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten(), out[2].mul(0.25).flatten()});
  };
  expect_gradcheck("_thnn_fused_lstm_cell", cell, {randn64({3, 8}), randn64({3, 8}), randn64({3, 2})});
  expect_gradcheck("_thnn_fused_lstm_cell with biases", cell,
                   {randn64({2, 12}), randn64({2, 12}), randn64({2, 3}), randn64({12}), randn64({12})});
  const Tensor ig = randn64({4, 16}).detach(), hg = randn64({4, 16}).detach(), cx = randn64({4, 4}).detach();
  const Tensor fast = cell({ig, hg, cx});
  const Tensor slow = cell({ig.to(DType::kFloat16), hg.to(DType::kFloat16), cx.to(DType::kFloat16)});
  const auto a = fast.to_vector<double>(), b = slow.to_vector<double>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 5e-3) << i;
}

// Through one output only (hy, or cy), the others' gradients are undefined, not zero-filled: the kernel (no
// create_graph) and the composite (create_graph) must both read them as zeros, and gradcheck must pass.
TD_DEVICE_TEST(RnnTest, FusedLstmCellThroughOneOutput) {
  manual_seed(8);
  for (int which : {0, 1}) {
    auto cell = [which](const std::vector<Tensor>& in) {
      return call_op("_thnn_fused_lstm_cell", {in[0], in[1], in[2], None{}, None{}})[static_cast<size_t>(which)];
    };
    const std::vector<Tensor> in = {randn64({3, 8}), randn64({3, 8}), randn64({3, 2})};
    expect_gradcheck(which ? "_thnn_fused_lstm_cell's cy" : "_thnn_fused_lstm_cell's hy", cell, in);
    const Tensor g = randn64({3, 2}).detach();
    const std::vector<Tensor> kernel = autograd::grad({cell(in)}, in, {g});
    const std::vector<Tensor> ops = autograd::grad({cell(in)}, in, {g}, /*retain_graph=*/true, /*create_graph=*/true);
    for (size_t k = 0; k < in.size(); ++k) {
      const auto a = kernel[k].to_vector<double>(), b = ops[k].to_vector<double>();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << "input " << k << ", element " << i;
    }
  }
}

// The fused GRU cell through both outputs (the workspace's gradient takes the ops path), with and without
// biases; the kernel (float64) against the ops (float16, which the kernels leave to ops); and through hy
// alone, the kernel (no create_graph) against the ops (create_graph).
TD_DEVICE_TEST(RnnTest, FusedGruCellPassesGradcheck) {
  manual_seed(12);
  auto cell = [](const std::vector<Tensor>& in) {
    std::vector<Value> args = {in[0], in[1], in[2], None{}, None{}};
    for (size_t k = 3; k < in.size(); ++k) args[k] = in[k];
    const std::vector<Tensor> out = call_op("_thnn_fused_gru_cell", args);
    return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten()});
  };
  expect_gradcheck("_thnn_fused_gru_cell", cell, {randn64({3, 6}), randn64({3, 6}), randn64({3, 2})});
  expect_gradcheck("_thnn_fused_gru_cell with biases", cell,
                   {randn64({2, 9}), randn64({2, 9}), randn64({2, 3}), randn64({9}), randn64({9})});
  const Tensor ig = randn64({4, 12}).detach(), hg = randn64({4, 12}).detach(), hx = randn64({4, 4}).detach();
  const Tensor fast = cell({ig, hg, hx});
  const Tensor slow = cell({ig.to(DType::kFloat16), hg.to(DType::kFloat16), hx.to(DType::kFloat16)});
  const auto a = fast.to_vector<double>(), b = slow.to_vector<double>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 5e-3) << i;
  auto hy = [](const std::vector<Tensor>& in) {
    return call_op("_thnn_fused_gru_cell", {in[0], in[1], in[2], in[3], in[4]})[0];
  };
  const std::vector<Tensor> in = {randn64({3, 6}), randn64({3, 6}), randn64({3, 2}), randn64({6}),
                                  randn64({6})};
  expect_gradcheck("_thnn_fused_gru_cell's hy", hy, in);
  const Tensor g = randn64({3, 2}).detach();
  const std::vector<Tensor> kernel = autograd::grad({hy(in)}, in, {g});
  const std::vector<Tensor> ops =
      autograd::grad({hy(in)}, in, {g}, /*retain_graph=*/true, /*create_graph=*/true);
  for (size_t k = 0; k < in.size(); ++k) {
    const auto x = kernel[k].to_vector<double>(), y = ops[k].to_vector<double>();
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(x[i], y[i], 1e-12) << "input " << k << ", element " << i;
  }
}

TEST(RnnErrorTest, FusedGruCellNamesTheArgumentAndTheShapes) {
  EXPECT_THAT(message_of([] {
                call_op("_thnn_fused_gru_cell", {zeros({3, 6}), zeros({3, 6}), zeros({3, 3})});
              }),
              HasSubstr("[_thnn_fused_gru_cell] hx must be [3, 2] for input_gates [3, 6], got [3, 3]"));
  EXPECT_THAT(message_of([] {
                call_op("_thnn_fused_gru_cell", {zeros({3, 8}), zeros({3, 8}), zeros({3, 2})});
              }),
              HasSubstr("[_thnn_fused_gru_cell] input_gates must be [batch, 3 * hidden_size], got [3, 8]"));
  EXPECT_THAT(
      message_of([] {
        call_op("_thnn_fused_gru_cell", {zeros({3, 6}), zeros({3, 6}), zeros({3, 2}), None{}, zeros({4})});
      }),
      HasSubstr("[_thnn_fused_gru_cell] hidden_bias must be [6] for input_gates [3, 6], got [4]"));
}

TEST(RnnErrorTest, FusedLstmCellNamesTheArgumentAndTheShapes) {
  EXPECT_THAT(message_of([] { call_op("_thnn_fused_lstm_cell", {zeros({3, 8}), zeros({3, 8}), zeros({3, 3})}); }),
              HasSubstr("[_thnn_fused_lstm_cell] cx must be [3, 2] for input_gates [3, 8], got [3, 3]"));
  EXPECT_THAT(message_of([] { call_op("_thnn_fused_lstm_cell", {zeros({3, 6}), zeros({3, 6}), zeros({3, 2})}); }),
              HasSubstr("[_thnn_fused_lstm_cell] input_gates must be [batch, 4 * hidden_size], got [3, 6]"));
  EXPECT_THAT(message_of([] {
                call_op("_thnn_fused_lstm_cell", {zeros({3, 8}), zeros({3, 8}), zeros({3, 2}), zeros({4})});
              }),
              HasSubstr("[_thnn_fused_lstm_cell] input_bias must be [8] for input_gates [3, 8], got [4]"));
}

// The sequence layers and attention w.r.t. their inputs and initial states (parameters: the golden cases).
TD_DEVICE_TEST(RnnTest, LayersPassGradcheck) {
  manual_seed(4);
  auto lstm = std::make_shared<nn::LSTM>(
      2, 3, nn::RNNOptions{.num_layers = 2, .bidirectional = true, .options = kF64});
  lstm->to(device_);
  expect_gradcheck("LSTM",
                   [&](const std::vector<Tensor>& in) {
                     nn::RNNOutput r = (*lstm)(in[0], in[1], in[2]);
                     return Tensor::cat({r.output.flatten(), r.h_n.flatten(), r.c_n.flatten()});
                   },
                   {randn64({3, 2, 2}), randn64({4, 2, 3}), randn64({4, 2, 3})});
  auto gru = std::make_shared<nn::GRU>(2, 3, nn::RNNOptions{.batch_first = true, .options = kF64});
  gru->to(device_);
  expect_gradcheck("GRU",
                   [&](const std::vector<Tensor>& in) {
                     nn::RNNOutput r = (*gru)(in[0], in[1]);
                     return Tensor::cat({r.output.flatten(), r.h_n.flatten()});
                   },
                   {randn64({2, 3, 2}), randn64({1, 2, 3})});
  const Tensor mask = randn64({3, 4}).detach();
  expect_gradcheck("scaled_dot_product_attention",
                   [&](const std::vector<Tensor>& in) {
                     return F::scaled_dot_product_attention(in[0], in[1], in[2], mask);
                   },
                   {randn64({2, 3, 5}), randn64({2, 4, 5}), randn64({2, 4, 2})});
  auto mha = std::make_shared<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.options = kF64});
  mha->to(device_);
  expect_gradcheck("MultiheadAttention",
                   [&](const std::vector<Tensor>& in) {
                     auto [out, weights] = (*mha)(in[0], in[1], in[1]);
                     return Tensor::cat({out.flatten(), weights.flatten()});
                   },
                   {randn64({3, 2, 4}), randn64({5, 2, 4})});
}

TD_DEVICE_TEST(RnnTest, DropoutBetweenLayersOnlyWhileTraining) {
  manual_seed(5);
  auto rnn = std::make_shared<nn::LSTM>(4, 8, nn::RNNOptions{.num_layers = 3, .dropout = 0.5});
  rnn->to(device_);
  const Tensor x = random::randn({5, 2, 4}).to(device_.str());
  rnn->eval();
  const Tensor a = (*rnn)(x).output, b = (*rnn)(x).output;
  EXPECT_TRUE(a.equal(b).item<bool>());
  rnn->train();
  const Tensor c = (*rnn)(x).output, d = (*rnn)(x).output;
  EXPECT_FALSE(c.equal(a).item<bool>());
  EXPECT_FALSE(c.equal(d).item<bool>());
  // The last layer's output is not dropped: a single layer ignores dropout.
  auto single = std::make_shared<nn::GRU>(4, 8, nn::RNNOptions{.dropout = 0.5});
  single->to(device_);
  EXPECT_TRUE((*single)(x).output.equal((*single)(x).output).item<bool>());
}

TD_DEVICE_TEST(RnnTest, ShapesOfEveryLayout) {
  auto lstm = std::make_shared<nn::LSTM>(
      10, 20, nn::RNNOptions{.num_layers = 2, .batch_first = true, .bidirectional = true, .proj_size = 5});
  lstm->to(device_);
  nn::RNNOutput r = (*lstm)(zeros({3, 7, 10}).to(device_.str()));
  EXPECT_EQ(r.output.shape(), (std::vector<int64_t>{3, 7, 10}));
  EXPECT_EQ(r.h_n.shape(), (std::vector<int64_t>{4, 3, 5}));
  EXPECT_EQ(r.c_n.shape(), (std::vector<int64_t>{4, 3, 20}));
  r = (*lstm)(zeros({7, 10}).to(device_.str()));
  EXPECT_EQ(r.output.shape(), (std::vector<int64_t>{7, 10}));
  EXPECT_EQ(r.h_n.shape(), (std::vector<int64_t>{4, 5}));
  auto enc = std::make_shared<nn::TransformerEncoder>(
      std::make_shared<nn::TransformerEncoderLayer>(
          16, 4, nn::TransformerEncoderLayerOptions{.dim_feedforward = 32}),
      2);
  enc->to(device_);
  EXPECT_EQ((*enc)(zeros({6, 2, 16}).to(device_.str())).shape(), (std::vector<int64_t>{6, 2, 16}));
  EXPECT_EQ((*enc)(zeros({6, 16}).to(device_.str())).shape(), (std::vector<int64_t>{6, 16}));
}

TEST(RnnParamsTest, NamesShapesAndInitialBoundsArePyTorchs) {
  manual_seed(0);
  nn::LSTM lstm(10, 20, {.num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [name, p] : lstm.named_parameters()) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre(
                         "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                         "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                         "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
                         "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"));
  EXPECT_EQ(lstm.get_tensor("weight_ih_l0").shape(), (std::vector<int64_t>{80, 10}));
  EXPECT_EQ(lstm.get_tensor("weight_ih_l1").shape(), (std::vector<int64_t>{80, 40}));
  EXPECT_EQ(lstm.get_tensor("weight_hh_l1_reverse").shape(), (std::vector<int64_t>{80, 20}));
  const double bound = 1 / std::sqrt(20.0);
  for (const Tensor& p : lstm.parameters()) {
    EXPECT_LE(p.abs().max().item<double>(), bound);
    EXPECT_TRUE(p.requires_grad());
  }
  nn::LSTM proj(4, 6, {.bias = false, .proj_size = 2});
  names.clear();
  for (const auto& [name, p] : proj.named_parameters())
    names.push_back(name + str(p.shape()[0], "x", p.shape()[1]));
  EXPECT_THAT(names, ::testing::ElementsAre("weight_ih_l024x4", "weight_hh_l024x2", "weight_hr_l02x6"));
  nn::GRUCell cell(3, 5, false);
  EXPECT_EQ(cell.parameters().size(), 2u);
  EXPECT_EQ(cell.weight_hh.shape(), (std::vector<int64_t>{15, 5}));

  nn::MultiheadAttention mha(8, 2);
  names.clear();
  for (const auto& [name, p] : mha.named_parameters()) names.push_back(name);
  EXPECT_THAT(names,
              ::testing::ElementsAre("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"));
  EXPECT_EQ(mha.in_proj_bias.abs().max().item<double>(), 0.0);
  EXPECT_EQ(mha.out_proj->bias.abs().max().item<double>(), 0.0);
  // xavier_uniform_ on [24, 8]: bound sqrt(6 / (8 + 24)).
  EXPECT_LE(mha.in_proj_weight.abs().max().item<double>(), std::sqrt(6.0 / 32));
  nn::MultiheadAttention separate(8, 2, {.bias = false, .kdim = 3, .vdim = 5});
  names.clear();
  for (const auto& [name, p] : separate.named_parameters()) names.push_back(name);
  EXPECT_THAT(names,
              ::testing::ElementsAre("q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"));
}

TEST(RnnReprTest, MatchesPyTorch) {
  EXPECT_EQ(nn::LSTM(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true}).repr(),
            "LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)");
  EXPECT_EQ(nn::GRU(3, 4, {.num_layers = 2, .dropout = 0.5}).repr(), "GRU(3, 4, num_layers=2, dropout=0.5)");
  EXPECT_EQ(nn::RNN(3, 4, {.nonlinearity = "relu", .bias = false}).repr(), "RNN(3, 4, bias=False)");
  EXPECT_EQ(nn::LSTM(3, 4, {.proj_size = 2}).repr(), "LSTM(3, 4, proj_size=2)");
  EXPECT_EQ(nn::RNNCell(3, 4, false, "relu").repr(), "RNNCell(3, 4, bias=False, nonlinearity=relu)");
  EXPECT_EQ(nn::LSTMCell(3, 4).repr(), "LSTMCell(3, 4)");
  EXPECT_EQ(nn::GRUCell(3, 4, false).repr(), "GRUCell(3, 4, bias=False)");
  EXPECT_EQ(nn::TransformerEncoderLayer(512, 8).repr(),
            "TransformerEncoderLayer(\n"
            "  (self_attn): MultiheadAttention(\n"
            "    (out_proj): NonDynamicallyQuantizableLinear(in_features=512, out_features=512, bias=True)\n"
            "  )\n"
            "  (linear1): Linear(in_features=512, out_features=2048, bias=True)\n"
            "  (dropout): Dropout(p=0.1, inplace=False)\n"
            "  (linear2): Linear(in_features=2048, out_features=512, bias=True)\n"
            "  (norm1): LayerNorm((512,), eps=1e-05, elementwise_affine=True)\n"
            "  (norm2): LayerNorm((512,), eps=1e-05, elementwise_affine=True)\n"
            "  (dropout1): Dropout(p=0.1, inplace=False)\n"
            "  (dropout2): Dropout(p=0.1, inplace=False)\n"
            ")");
}

// Found by the command fuzzer: num_layers=2**40 used to build layers until memory ran out.
TEST(RnnErrorTest, AbsurdLayerCountsAreRefusedBeforeAnyLayerIsBuilt) {
  EXPECT_THAT(message_of([] { nn::GRU(2, 1, nn::RNNOptions{.num_layers = int64_t{1} << 40}); }),
              HasSubstr("[GRU] num_layers=1099511627776 is more than the 65536 layers a stacked module may have"));
}

TEST(RnnErrorTest, ArgumentsAreCheckedWithPyTorchWords) {
  auto lstm = std::make_shared<nn::LSTM>(10, 20, nn::RNNOptions{.num_layers = 2});
  EXPECT_THAT(message_of([&] {
                (*lstm)(zeros({5, 3, 7}));
              }),
              HasSubstr("[LSTM] input.size(-1) must be equal to input_size. Expected 10, got 7"));
  EXPECT_THAT(message_of([&] {
                (*lstm)(zeros({5, 3, 10}), zeros({1, 3, 20}), zeros({2, 3, 20}));
              }),
              HasSubstr("[LSTM] Expected hidden[0] size (2, 3, 20), got [1, 3, 20]"));
  EXPECT_THAT(message_of([&] {
                (*lstm)(zeros({5, 3, 10}), zeros({2, 3, 20}), zeros({2, 4, 20}));
              }),
              HasSubstr("[LSTM] Expected hidden[1] size (2, 3, 20), got [2, 4, 20]"));
  EXPECT_THAT(message_of([&] {
                (*lstm)(zeros({5, 3, 10}), zeros({2, 3, 20}));
              }),
              HasSubstr("[LSTM] give both h0 and c0, or neither"));
  EXPECT_THAT(
      message_of([&] {
        (*lstm)(zeros({5, 3, 10}), zeros({3, 20}), zeros({3, 20}));
      }),
      HasSubstr("[LSTM] For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) tensors"));
  EXPECT_THAT(message_of([&] {
                (*lstm)(zeros({2, 5, 3, 10}));
              }),
              HasSubstr("[LSTM] Expected input to be 2-D (unbatched) or 3-D but received 4-D tensor"));
  auto gru = std::make_shared<nn::GRU>(4, 6);
  EXPECT_THAT(message_of([&] {
                (*gru)(zeros({5, 4}), zeros({1, 2, 6}));
              }),
              HasSubstr("[GRU] For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"));
  EXPECT_THAT(message_of([&] {
                (*gru)(zeros({5, 2, 4}), zeros({1, 3, 6}));
              }),
              HasSubstr("[GRU] Expected hidden size (1, 2, 6), got [1, 3, 6]"));
  EXPECT_THAT(message_of([] { nn::RNN(3, 4, {.nonlinearity = "sigmoid"}); }),
              HasSubstr("[RNN] Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."));
  EXPECT_THAT(
      message_of([] { nn::LSTM(3, 4, {.dropout = 1.5}); }),
      HasSubstr("[LSTM] dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"));
  EXPECT_THAT(message_of([] { nn::GRU(3, 4, {.proj_size = 2}); }),
              HasSubstr("[GRU] proj_size argument is only supported for LSTM, not RNN or GRU"));
  EXPECT_THAT(message_of([] { nn::LSTM(3, 4, {.proj_size = 4}); }),
              HasSubstr("[LSTM] proj_size has to be smaller than hidden_size"));
  EXPECT_THAT(message_of([] { nn::LSTM(3, 0); }),
              HasSubstr("[LSTM] hidden_size must be greater than zero, got 0"));
  EXPECT_THAT(message_of([] { nn::RNNCell(3, 4, true, "gelu"); }),
              HasSubstr("[RNNCell] Unknown nonlinearity: gelu"));

  auto cell = std::make_shared<nn::LSTMCell>(3, 4);
  EXPECT_THAT(message_of([&] {
                (*cell)(zeros({2, 2, 3}));
              }),
              HasSubstr("[LSTMCell] Expected input to be 1-D or 2-D but received 3-D tensor"));
  EXPECT_THAT(message_of([&] {
                (*cell)(zeros({2, 5}));
              }),
              HasSubstr("[LSTMCell] input has inconsistent input_size: got 5, expected 3"));
  EXPECT_THAT(message_of([&] {
                (*cell)(zeros({2, 3}), zeros({3, 4}), zeros({3, 4}));
              }),
              HasSubstr("[LSTMCell] Input batch size 2 doesn't match hidden0 batch size 3"));
  EXPECT_THAT(message_of([&] {
                (*cell)(zeros({2, 3}), zeros({2, 4}), zeros({2, 5}));
              }),
              HasSubstr("[LSTMCell] hidden1 has inconsistent hidden_size: got 5, expected 4"));

  EXPECT_THAT(message_of([] { nn::MultiheadAttention(10, 3); }),
              HasSubstr("[MultiheadAttention] embed_dim must be divisible by num_heads"));
  auto mha = std::make_shared<nn::MultiheadAttention>(8, 2);
  const Tensor q = zeros({4, 2, 8}), kv = zeros({6, 2, 8});
  EXPECT_THAT(
      message_of([&] {
        (*mha)(q, kv, kv, {}, true, zeros({4, 5}));
      }),
      HasSubstr("[MultiheadAttention] The shape of the 2D attn_mask is [4, 5], but should be (4, 6)."));
  EXPECT_THAT(message_of([&] {
                (*mha)(q, kv, kv, {}, true, zeros({2, 4, 6}));
              }),
              HasSubstr("The shape of the 3D attn_mask is [2, 4, 6], but should be (4, 4, 6)."));
  EXPECT_THAT(message_of([&] {
                (*mha)(q, kv, kv, zeros({2, 5}, {.dtype = DType::kBool}));
              }),
              HasSubstr("[MultiheadAttention] expecting key_padding_mask shape of (2, 6), but got [2, 5]"));
  EXPECT_THAT(message_of([&] {
                (*mha)(zeros({4, 2, 6}), kv, kv);
              }),
              HasSubstr("[MultiheadAttention] was expecting embedding dimension of 8, but got 6"));
  EXPECT_THAT(message_of([&] {
                (*mha)(q, kv, kv, {}, true, zeros({4, 6}, {.dtype = DType::kInt64}));
              }),
              HasSubstr("Only float and bool types are supported for attn_mask, not int64"));
  EXPECT_THAT(message_of([] { nn::TransformerEncoderLayer(8, 2, {.activation = "tanh"}); }),
              HasSubstr("[TransformerEncoderLayer] activation should be relu/gelu, not tanh"));
  EXPECT_THAT(
      message_of([&] {
        F::scaled_dot_product_attention(q, q, q, zeros({2, 4, 4}, {.dtype = DType::kBool}), 0.0, true);
      }),
      HasSubstr("[scaled_dot_product_attention] is_causal=True excludes an explicit attn_mask"));
  EXPECT_THAT(message_of([&] { F::scaled_dot_product_attention(q, kv.narrow(2, 0, 5), kv); }),
              HasSubstr("[scaled_dot_product_attention] query and key must have the same last dim"));
}

TEST(RnnModuleTest, HooksSeeEveryInputAndOutput) {
  auto lstm = std::make_shared<nn::LSTM>(3, 4);
  size_t seen_inputs = 0, seen_outputs = 0, grads = 0;
  lstm->register_forward_hook([&](nn::Module&, const TensorList& in, TensorList& out) {
    seen_inputs = in.size();
    seen_outputs = out.size();
  });
  lstm->register_full_backward_hook(
      [&](nn::Module&, TensorList& grad_input, const TensorList&) { grads = grad_input.size(); });
  Tensor x = random::randn({5, 2, 3}).requires_grad_();
  nn::RNNOutput r = (*lstm)(x);
  r.output.sum().add(r.c_n.sum()).backward();
  EXPECT_EQ(seen_inputs, 3u);
  EXPECT_EQ(seen_outputs, 3u);
  EXPECT_EQ(grads, 3u);
  EXPECT_TRUE(x.grad().defined());
}

TEST(RnnModuleTest, TransformerEncoderClonesTheLayer) {
  manual_seed(1);
  auto layer = std::make_shared<nn::TransformerEncoderLayer>(
      8, 2, nn::TransformerEncoderLayerOptions{.dim_feedforward = 16});
  nn::TransformerEncoder enc(layer, 2, std::make_shared<nn::LayerNorm>(std::vector<int64_t>{8}));
  auto& l0 = dynamic_cast<nn::TransformerEncoderLayer&>((*enc.layers)[0]);
  auto& l1 = dynamic_cast<nn::TransformerEncoderLayer&>((*enc.layers)[1]);
  EXPECT_TRUE(l0.linear1->weight.equal(layer->linear1->weight).item<bool>());
  EXPECT_TRUE(l1.self_attn->in_proj_weight.equal(layer->self_attn->in_proj_weight).item<bool>());
  EXPECT_FALSE(l0.linear1->weight.is_same(l1.linear1->weight));
  EXPECT_EQ(enc.state_dict().size(), 2 * 12 + 2u);
  EXPECT_EQ(enc.state_dict().back().first, "norm.bias");
}

// torch.nn.utils.rnn's helpers: padding, packing (sorted or not) and back, lengths in the input's order,
// total_length, and PyTorch's errors.
TD_DEVICE_TEST(RnnTest, PackAndPadSequencesRoundTrip) {
  namespace U = nn::utils::rnn;
  const Tensor a = tensor(std::vector<double>{1, 2, 3}, {3, 1}, device_), b = tensor(std::vector<double>{4}, {1, 1}, device_),
               c = tensor(std::vector<double>{5, 6}, {2, 1}, device_);
  const Tensor padded = U::pad_sequence({a, b, c}, /*batch_first=*/true, -1.0);
  EXPECT_THAT(padded.shape(), ::testing::ElementsAre(3, 3, 1));
  EXPECT_THAT(padded.reshape({-1}).to_vector<double>(), ::testing::ElementsAre(1, 2, 3, 4, -1, -1, 5, 6, -1));
  const U::PackedSequence p = U::pack_sequence({a, b, c}, /*enforce_sorted=*/false);
  EXPECT_THAT(p.batch_sizes.to_vector<int64_t>(), ::testing::ElementsAre(3, 2, 1));
  EXPECT_THAT(p.data.reshape({-1}).to_vector<double>(), ::testing::ElementsAre(1, 5, 4, 2, 6, 3));  // a, c, b per step
  EXPECT_THAT(p.sorted_indices.to_vector<int64_t>(), ::testing::ElementsAre(0, 2, 1));
  auto [back, lengths] = U::pad_packed_sequence(p, /*batch_first=*/true, 0.0, /*total_length=*/4);
  EXPECT_THAT(back.shape(), ::testing::ElementsAre(3, 4, 1));
  EXPECT_THAT(lengths.to_vector<int64_t>(), ::testing::ElementsAre(3, 1, 2));
  EXPECT_THAT(back.reshape({-1}).to_vector<double>(), ::testing::ElementsAre(1, 2, 3, 0, 4, 0, 0, 0, 5, 6, 0, 0));
  EXPECT_THAT(testing::error_of([&] { (void)U::pack_sequence({b, a}); }).what(),
              HasSubstr("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True"));
  EXPECT_THAT(testing::error_of([&] { (void)U::pad_packed_sequence(p, false, 0.0, 2); }).what(),
              HasSubstr("Expected total_length to be at least the length of the longest sequence in input, but got "
                        "total_length=2 and max sequence length being 3"));
  // A packed GRU gives each sequence the state after its own last step: the same as running it alone.
  manual_seed(5);
  nn::GRU gru(1, 2, nn::RNNOptions{.options = {.dtype = DType::kFloat64}});
  gru.to(device_);
  const nn::PackedRNNOutput r = gru(p);
  for (const auto& [seq, row] : {std::pair{a, 0}, std::pair{b, 1}, std::pair{c, 2}}) {
    const Tensor alone = gru(seq.unsqueeze(1)).h_n;  // [1, 1, 2]
    EXPECT_LT(alone.sub(r.h_n.narrow(1, row, 1)).abs().max().item<double>(), 1e-12) << row;
  }
}

TD_INSTANTIATE_DEVICES(RnnTest);

}  // namespace
}  // namespace td
