// The whole-layer recurrent ops (core/ops/rnn_layer.cpp: _lstm_layer, _gru_layer) on every device: every
// output through float64 finite differences (first and second order), uniform, packed and projected, both
// directions; the backward kernels against the ops path; a packed run against each sequence run alone;
// nn.LSTM/nn.GRU running one op per layer; and the argument errors. PyTorch's values are the golden cases
// (tests/golden/ops.json) and the modules' (rnn_test.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/nn/rnn.h"
#include "core/profiler/profiler.h"
#include "core/random/generator.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::HasSubstr;
using testing::message_of;

class RnnLayerTest : public testing::DeviceTest {
 protected:
  /// A float64 leaf that requires grad, on the test's device.
  Tensor randn64(std::vector<int64_t> shape) const {
    return random::randn(std::move(shape), {.dtype = DType::kFloat64}).to(device_.str()).requires_grad_();
  }
};

// a and b of one shape, element by element within tol (relative past magnitude 1).
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i)
    EXPECT_NEAR(va[i], vb[i], tol * (1 + std::fabs(vb[i]))) << what << " " << i;
}

// The gradients of outs, weighted by grads, w.r.t. in through a layer op's backward kernels (no create_graph)
// and through its ops (create_graph): equal within 1e-12.
void expect_kernels_match_ops(const std::vector<Tensor>& outs, const std::vector<Tensor>& in,
                              const std::vector<Tensor>& grads) {
  const std::vector<Tensor> kernel = autograd::grad(outs, in, grads, /*retain_graph=*/true);
  const std::vector<Tensor> ops =
      autograd::grad(outs, in, grads, /*retain_graph=*/true, /*create_graph=*/true);
  for (size_t k = 0; k < in.size(); ++k) expect_close(kernel[k], ops[k], 1e-12, "input " + std::to_string(k));
}

// A layer op's output in float64 and in float16 (which the cell kernels leave to the ops), within float16's
// precision: the same steps on both paths.
void expect_float16_matches(const std::string& op, const std::vector<Tensor>& in,
                            const std::vector<Value>& rest) {
  std::vector<Value> wide(in.begin(), in.end()), narrow;
  for (const Tensor& t : in) narrow.emplace_back(t.to(DType::kFloat16));
  for (const Value& v : rest) {
    wide.push_back(v);
    narrow.push_back(v);
  }
  expect_close(call_op(op, narrow)[0].to(DType::kFloat64), call_op(op, wide)[0], 5e-3, op + " in float16");
}

// The whole-layer op through every output (the saved cells and activated gates too, whose gradients take
// the ops path), in both directions, first and second order.
TD_DEVICE_TEST(RnnLayerTest, LstmLayerPassesGradcheckOnEveryOutput) {
  manual_seed(9);
  for (bool reverse : {false, true}) {
    auto layer = [reverse](const std::vector<Tensor>& in) {
      const std::vector<Tensor> out = call_op("_lstm_layer", {in[0], in[1], in[2], in[3], Scalar(reverse)});
      return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten(), out[2].mul(0.25).flatten(),
                          out[3].mul(0.125).flatten(), out[4].mul(0.0625).flatten()});
    };
    expect_gradcheck(reverse ? "_lstm_layer, reverse" : "_lstm_layer", layer,
                     {randn64({3, 2, 8}), randn64({2, 2}), randn64({2, 2}), randn64({8, 2})});
  }
}

// The kernels' backward (no create_graph) against the ops' (create_graph) for the gradients nn.LSTM sends:
// the output's, hy's and cy's, each alone and all together; one step and several, both directions.
TD_DEVICE_TEST(RnnLayerTest, LstmLayerKernelsMatchTheOps) {
  manual_seed(10);
  for (int64_t steps : {1, 4}) {
    for (bool reverse : {false, true}) {
      const std::vector<Tensor> in = {randn64({steps, 3, 12}), randn64({3, 3}), randn64({3, 3}),
                                      randn64({12, 3})};
      const std::vector<Tensor> out = call_op("_lstm_layer", {in[0], in[1], in[2], in[3], Scalar(reverse)});
      const Tensor g_out = randn64({steps, 3, 3}).detach(), g_hy = randn64({3, 3}).detach();
      const Tensor g_cy = randn64({3, 3}).detach();
      for (int which = 0; which < 4; ++which) {
        SCOPED_TRACE("steps " + std::to_string(steps) + (reverse ? ", reverse" : "") + ", case " +
                     std::to_string(which));
        std::vector<Tensor> outs, grads;
        if (which == 0 || which == 3) outs.push_back(out[0]), grads.push_back(g_out);
        if (which == 1 || which == 3) outs.push_back(out[1]), grads.push_back(g_hy);
        if (which == 2 || which == 3) outs.push_back(out[2]), grads.push_back(g_cy);
        expect_kernels_match_ops(outs, in, grads);
      }
    }
  }
  // The dtypes the cell kernel leaves to ops run the same steps there.
  const std::vector<Tensor> in = {randn64({3, 2, 8}).detach(), randn64({2, 2}).detach(),
                                  randn64({2, 2}).detach(), randn64({8, 2}).detach()};
  expect_float16_matches("_lstm_layer", in, {Scalar(true)});
}

// nn.LSTM runs one _lstm_layer per layer and direction, no cell op, over a uniform batch or a packed
// sequence, with projections (proj_size) or without.
TD_DEVICE_TEST(RnnLayerTest, LstmLayersRunAsOneOpEach) {
  auto count = [&](const nn::RNNOptions& o) {
    auto lstm = std::make_shared<nn::LSTM>(4, 6, o);
    lstm->to(device_);
    const Tensor x = random::randn({5, 2, 4}).to(device_.str());
    profiler::profile prof;
    (*lstm)(x).output.sum().backward();
    prof.stop();
    const profiler::KeyAverages avg = prof.key_averages();
    auto n = [&](const std::string& name) {
      const auto* row = avg.find(name);
      return row ? row->count : 0;
    };
    return std::pair{n("aten::_lstm_layer"), n("aten::_thnn_fused_lstm_cell")};
  };
  EXPECT_EQ(count({.num_layers = 2, .bidirectional = true}), (std::pair<int64_t, int64_t>{4, 0}));
  EXPECT_EQ(count({.num_layers = 1, .proj_size = 3}), (std::pair<int64_t, int64_t>{1, 0}));
  // A packed sequence takes the layer op too.
  auto lstm = std::make_shared<nn::LSTM>(4, 6, nn::RNNOptions{.bidirectional = true});
  lstm->to(device_);
  const nn::utils::rnn::PackedSequence packed =
      nn::utils::rnn::pack_padded_sequence(random::randn({5, 3, 4}).to(device_.str()), {5, 3, 2});
  profiler::profile prof;
  (*lstm)(packed).output.data.sum().backward();
  prof.stop();
  const auto* row = prof.key_averages().find("aten::_lstm_layer");
  EXPECT_EQ(row ? row->count : 0, 2);
  EXPECT_EQ(prof.key_averages().find("aten::_thnn_fused_lstm_cell"), nullptr);
}

TEST(RnnLayerErrorTest, LstmLayerNamesTheArgumentAndTheShapes) {
  auto projected = [](const Tensor& hx, const Tensor& w_hh, const Tensor& w_hr) {
    return message_of([&] {
      call_op("_lstm_layer", {zeros({2, 3, 8}), hx, zeros({3, 2}), w_hh, Scalar(false), None{}, w_hr});
    });
  };
  EXPECT_THAT(projected(zeros({3, 1}), zeros({8, 1}), zeros({1, 3})),
              HasSubstr("[_lstm_layer] weight_hr must be [proj_size, 2] with proj_size > 0 for input_gates "
                        "[2, 3, 8], got [1, 3]"));
  EXPECT_THAT(projected(zeros({3, 2}), zeros({8, 1}), zeros({1, 2})),
              HasSubstr("[_lstm_layer] hx must be [3, 1] for input_gates [2, 3, 8], got [3, 2]"));
  EXPECT_THAT(projected(zeros({3, 1}), zeros({8, 2}), zeros({1, 2})),
              HasSubstr("[_lstm_layer] weight_hh must be [8, 1] for input_gates [2, 3, 8], got [8, 2]"));
  EXPECT_THAT(message_of([] {
                call_op("_lstm_layer", {zeros({2, 3, 8}), zeros({3, 2}), zeros({3, 3}), zeros({8, 2})});
              }),
              HasSubstr("[_lstm_layer] cx must be [3, 2] for input_gates [2, 3, 8], got [3, 3]"));
  EXPECT_THAT(message_of([] {
                call_op("_lstm_layer", {zeros({2, 3, 8}), zeros({3, 2}), zeros({3, 2}), zeros({2, 8})});
              }),
              HasSubstr("[_lstm_layer] weight_hh must be [8, 2] for input_gates [2, 3, 8], got [2, 8]"));
  EXPECT_THAT(message_of([] {
                call_op("_lstm_layer", {zeros({0, 3, 8}), zeros({3, 2}), zeros({3, 2}), zeros({8, 2})});
              }),
              HasSubstr("[_lstm_layer] input_gates must be [steps, batch, 4 * hidden_size] with steps and "
                        "hidden_size > 0, got [0, 3, 8]"));
}

// _gru_layer's arguments: {gates, hx, weight_hh, bias_hh or None, reverse}.
std::vector<Value> gru_layer_args(const std::vector<Tensor>& in, bool reverse) {
  return {in[0], in[1], in[2], in.size() > 3 ? Value(in[3]) : Value(None{}), Scalar(reverse)};
}

// The GRU layer op through every output (the saved workspace too, whose gradient takes the ops path), in
// both directions, with and without bias_hh, first and second order.
TD_DEVICE_TEST(RnnLayerTest, GruLayerPassesGradcheckOnEveryOutput) {
  manual_seed(12);
  for (bool reverse : {false, true}) {
    for (bool bias : {true, false}) {
      auto layer = [reverse](const std::vector<Tensor>& in) {
        const std::vector<Tensor> out = call_op("_gru_layer", gru_layer_args(in, reverse));
        return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten(), out[2].mul(0.25).flatten()});
      };
      std::vector<Tensor> in = {randn64({3, 2, 6}), randn64({2, 2}), randn64({6, 2})};
      if (bias) in.push_back(randn64({6}));
      expect_gradcheck(std::string("_gru_layer") + (reverse ? ", reverse" : "") + (bias ? ", bias" : ""),
                       layer, in);
    }
  }
}

// The kernels' backward (no create_graph) against the ops' (create_graph) for the gradients nn.GRU sends:
// the output's and hy's, each alone and both; one step and several, both directions.
TD_DEVICE_TEST(RnnLayerTest, GruLayerKernelsMatchTheOps) {
  manual_seed(13);
  for (int64_t steps : {1, 4}) {
    for (bool reverse : {false, true}) {
      const std::vector<Tensor> in = {randn64({steps, 3, 9}), randn64({3, 3}), randn64({9, 3}), randn64({9})};
      const std::vector<Tensor> out = call_op("_gru_layer", gru_layer_args(in, reverse));
      const Tensor g_out = randn64({steps, 3, 3}).detach(), g_hy = randn64({3, 3}).detach();
      for (int which = 0; which < 3; ++which) {
        SCOPED_TRACE("steps " + std::to_string(steps) + (reverse ? ", reverse" : "") + ", case " +
                     std::to_string(which));
        std::vector<Tensor> outs, grads;
        if (which != 1) outs.push_back(out[0]), grads.push_back(g_out);
        if (which != 0) outs.push_back(out[1]), grads.push_back(g_hy);
        expect_kernels_match_ops(outs, in, grads);
      }
    }
  }
  // The dtypes the cell kernel leaves to ops run the same steps there.
  const std::vector<Tensor> in = {randn64({3, 2, 6}).detach(), randn64({2, 2}).detach(),
                                  randn64({6, 2}).detach(), randn64({6}).detach()};
  expect_float16_matches("_gru_layer", in, {Scalar(true)});
}

// nn.GRU runs one _gru_layer per layer and direction, no cell op, over a uniform batch and a packed sequence.
TD_DEVICE_TEST(RnnLayerTest, GruLayersRunAsOneOpEach) {
  auto gru = std::make_shared<nn::GRU>(4, 6, nn::RNNOptions{.num_layers = 2, .bidirectional = true});
  gru->to(device_);
  auto count = [&](auto&& run) {
    profiler::profile prof;
    run();
    prof.stop();
    const profiler::KeyAverages avg = prof.key_averages();
    auto n = [&](const std::string& name) {
      const auto* row = avg.find(name);
      return row ? row->count : 0;
    };
    return std::pair{n("aten::_gru_layer"), n("aten::_thnn_fused_gru_cell")};
  };
  const Tensor x = random::randn({5, 2, 4}).to(device_.str());
  EXPECT_EQ(count([&] { (*gru)(x).output.sum().backward(); }), (std::pair<int64_t, int64_t>{4, 0}));
  const nn::utils::rnn::PackedSequence packed = nn::utils::rnn::pack_padded_sequence(x, {5, 3});
  EXPECT_EQ(count([&] { (*gru)(packed).output.data.sum().backward(); }), (std::pair<int64_t, int64_t>{4, 0}));
}

// A packed sequence's layer op against each sequence run alone through the uniform op (a batch of one over
// its own steps): outputs, final states and every gradient, both ops, both directions, on the kernels (no
// create_graph) and the ops (create_graph). Batch sizes 3, 2, 2, 1: sequences of 4, 3 and 1 steps, so a
// reverse run has sequences starting midway.
TD_DEVICE_TEST(RnnLayerTest, PackedLayersMatchEachSequenceAlone) {
  manual_seed(14);
  const std::vector<int64_t> sizes = {3, 2, 2, 1}, offsets = {0, 3, 5, 7}, lengths = {4, 3, 1};
  for (bool lstm : {true, false}) {
    const int64_t g = lstm ? 4 : 3, h = 2;
    for (bool reverse : {false, true}) {
      for (bool create_graph : {false, true}) {
        SCOPED_TRACE(std::string(lstm ? "_lstm_layer" : "_gru_layer") + (reverse ? ", reverse" : "") +
                     (create_graph ? ", create_graph" : ""));
        const std::vector<Tensor> in = lstm ? std::vector<Tensor>{randn64({8, g * h}), randn64({3, h}),
                                                                  randn64({3, h}), randn64({g * h, h})}
                                            : std::vector<Tensor>{randn64({8, g * h}), randn64({3, h}),
                                                                  randn64({g * h, h}), randn64({g * h})};
        auto run = [&](const std::vector<Tensor>& x, const Value& batch_sizes) {
          return lstm ? call_op("_lstm_layer", {x[0], x[1], x[2], x[3], Scalar(reverse), batch_sizes})
                      : call_op("_gru_layer", {x[0], x[1], x[2], x[3], Scalar(reverse), batch_sizes});
        };
        const std::vector<Tensor> out = run(in, Value(sizes));
        ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{8, h}));
        const Tensor g_out = randn64({8, h}).detach(), g_hy = randn64({3, h}).detach();
        Tensor loss = out[0].mul(g_out).sum().add(out[1].mul(g_hy).sum());
        if (lstm) loss = loss.add(out[2].mul(0.5).sum());
        const std::vector<Tensor> grads = autograd::grad({loss}, in, {}, false, create_graph);
        for (int64_t b = 0; b < 3; ++b) {
          SCOPED_TRACE("sequence " + std::to_string(b));
          const int64_t len = lengths[static_cast<size_t>(b)];
          std::vector<Tensor> rows;
          for (int64_t t = 0; t < len; ++t) rows.push_back(in[0].narrow(0, offsets[t] + b, 1));
          std::vector<Tensor> one = in;
          one[0] = Tensor::stack(rows, 0);  // [len, 1, g h]
          one[1] = in[1].narrow(0, b, 1);
          if (lstm) one[2] = in[2].narrow(0, b, 1);
          const std::vector<Tensor> alone = run(one, Value(None{}));
          std::vector<Tensor> got_rows, g_rows;
          for (int64_t t = 0; t < len; ++t) {
            got_rows.push_back(out[0].narrow(0, offsets[t] + b, 1));
            g_rows.push_back(g_out.narrow(0, offsets[t] + b, 1));
          }
          expect_close(Tensor::stack(got_rows, 0), alone[0], 1e-12, "outputs");
          expect_close(out[1].narrow(0, b, 1), alone[1], 1e-12, "hy");
          if (lstm) expect_close(out[2].narrow(0, b, 1), alone[2], 1e-12, "cy");
          Tensor one_loss =
              alone[0].mul(Tensor::stack(g_rows, 0)).sum().add(alone[1].mul(g_hy.narrow(0, b, 1)).sum());
          if (lstm) one_loss = one_loss.add(alone[2].mul(0.5).sum());
          const std::vector<Tensor> one_grads = autograd::grad({one_loss}, one);
          for (int64_t t = 0; t < len; ++t) {
            expect_close(grads[0].narrow(0, offsets[t] + b, 1), one_grads[0].select(0, t), 1e-12,
                         "input_gates' gradient");
          }
          expect_close(grads[1].narrow(0, b, 1), one_grads[1], 1e-12, "hx's gradient");
          if (lstm) expect_close(grads[2].narrow(0, b, 1), one_grads[2], 1e-12, "cx's gradient");
        }
        // The weights' gradients are the sums of the sequences' (checked through gradcheck below).
      }
    }
  }
}

// The packed layer ops through every output and input, first and second order, both directions.
TD_DEVICE_TEST(RnnLayerTest, PackedLayersPassGradcheck) {
  manual_seed(15);
  const std::vector<int64_t> sizes = {3, 2, 2, 1};
  for (bool reverse : {false, true}) {
    expect_gradcheck(
        reverse ? "packed _lstm_layer, reverse" : "packed _lstm_layer",
        [&](const std::vector<Tensor>& in) {
          const std::vector<Tensor> out =
              call_op("_lstm_layer", {in[0], in[1], in[2], in[3], Scalar(reverse), sizes});
          return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten(), out[2].mul(0.25).flatten()});
        },
        {randn64({8, 8}), randn64({3, 2}), randn64({3, 2}), randn64({8, 2})});
    expect_gradcheck(reverse ? "packed _gru_layer, reverse" : "packed _gru_layer",
                     [&](const std::vector<Tensor>& in) {
                       const std::vector<Tensor> out =
                           call_op("_gru_layer", {in[0], in[1], in[2], in[3], Scalar(reverse), sizes});
                       return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten()});
                     },
                     {randn64({8, 6}), randn64({3, 2}), randn64({6, 2}), randn64({6})});
  }
}

// _lstm_layer with weight_hr (LSTM's proj_size: h is o tanh(c) projected to 2 of the 3 hidden units) through
// every output and input, uniform and packed, both directions, first and second order; and its backward
// kernels against its ops.
TD_DEVICE_TEST(RnnLayerTest, ProjectedLstmLayerPassesGradcheck) {
  manual_seed(16);
  for (bool packed : {false, true}) {
    for (bool reverse : {false, true}) {
      const Value sizes = packed ? Value(std::vector<int64_t>{3, 2, 2, 1}) : Value(None{});
      auto layer = [&](const std::vector<Tensor>& in) {
        return call_op("_lstm_layer", {in[0], in[1], in[2], in[3], Scalar(reverse), sizes, in[4]});
      };
      const std::vector<Tensor> in = {packed ? randn64({8, 12}) : randn64({3, 2, 12}),
                                      randn64({packed ? 3 : 2, 2}), randn64({packed ? 3 : 2, 3}),
                                      randn64({12, 2}), randn64({2, 3})};
      expect_gradcheck(
          std::string("_lstm_layer with weight_hr") + (packed ? ", packed" : "") +
              (reverse ? ", reverse" : ""),
          [&](const std::vector<Tensor>& x) {
            const std::vector<Tensor> out = layer(x);
            return Tensor::cat({out[0].flatten(), out[1].mul(0.5).flatten(), out[2].mul(0.25).flatten()});
          },
          in);
      const std::vector<Tensor> out = layer(in);
      expect_kernels_match_ops({out[0], out[1], out[2]}, in,
                               {randn64(out[0].shape()).detach(), randn64(out[1].shape()).detach(),
                                randn64(out[2].shape()).detach()});
    }
  }
}

TEST(RnnLayerErrorTest, PackedLayersNameTheBatchSizes) {
  auto gru = [](const Tensor& gates, std::vector<int64_t> sizes) {
    return message_of([&] {
      call_op("_gru_layer", {gates, zeros({3, 2}), zeros({6, 2}), None{}, Scalar(false), sizes});
    });
  };
  EXPECT_THAT(gru(zeros({6, 6}), {2, 3, 1}),
              HasSubstr("[_gru_layer] batch_sizes must be positive and not increasing, got [2, 3, 1]"));
  EXPECT_THAT(gru(zeros({6, 6}), {3, 0}),
              HasSubstr("[_gru_layer] batch_sizes must be positive and not increasing, got [3, 0]"));
  EXPECT_THAT(gru(zeros({5, 6}), {3, 3}),
              HasSubstr("[_gru_layer] batch_sizes [3, 3] add up to 6 rows, input_gates has 5"));
  EXPECT_THAT(
      gru(zeros({2, 3, 6}), {3, 3}),
      HasSubstr(
          "[_gru_layer] with batch_sizes, input_gates must be [rows, 3 * hidden_size] with hidden_size > 0, "
          "got [2, 3, 6]"));
  EXPECT_THAT(gru(zeros({0, 6}), {}), HasSubstr("[_gru_layer] batch_sizes must not be empty"));
  EXPECT_THAT(gru(zeros({6, 6}), {2, 2, 2}),
              HasSubstr("[_gru_layer] hx must be [2, 2] for input_gates [6, 6], got [3, 2]"));
}

TEST(RnnLayerErrorTest, GruLayerNamesTheArgumentAndTheShapes) {
  EXPECT_THAT(message_of([] {
                call_op("_gru_layer", {zeros({2, 3, 6}), zeros({3, 3}), zeros({6, 2})});
              }),
              HasSubstr("[_gru_layer] hx must be [3, 2] for input_gates [2, 3, 6], got [3, 3]"));
  EXPECT_THAT(message_of([] {
                call_op("_gru_layer", {zeros({2, 3, 6}), zeros({3, 2}), zeros({8, 2})});
              }),
              HasSubstr("[_gru_layer] weight_hh must be [6, 2] for input_gates [2, 3, 6], got [8, 2]"));
  EXPECT_THAT(message_of([] {
                call_op("_gru_layer", {zeros({2, 3, 6}), zeros({3, 2}), zeros({6, 2}), zeros({4})});
              }),
              HasSubstr("[_gru_layer] bias_hh must be [6] for input_gates [2, 3, 6], got [4]"));
  EXPECT_THAT(message_of([] {
                call_op("_gru_layer", {zeros({2, 3, 8}), zeros({3, 2}), zeros({6, 2})});
              }),
              HasSubstr("[_gru_layer] input_gates must be [steps, batch, 3 * hidden_size] with steps and "
                        "hidden_size > 0, got [2, 3, 8]"));
  EXPECT_THAT(message_of([] {
                call_op("_gru_layer", {zeros({2, 3, 6}), zeros({3, 2}, {DType::kFloat64}), zeros({6, 2})});
              }),
              HasSubstr("[_gru_layer] expected every tensor to be float32 as input_gates, got float64"));
}

TD_INSTANTIATE_DEVICES(RnnLayerTest);

}  // namespace
}  // namespace td
