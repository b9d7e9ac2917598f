// Losses: float64 gradchecks of first and second order for every loss (values and gradients against PyTorch
// are in tests/golden/loss.json), a few values derived by hand, nll_loss's ignored targets, the error paths
// in PyTorch's words, and the loss layers (repr, reduction, weight buffers, arity).
#include "core/nn/loss.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/autograd/gradcheck.h"
#include "core/nn/functional.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
namespace F = nn::functional;

class LossTest : public testing::DeviceTest {};
TD_INSTANTIATE_DEVICES(LossTest);

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct Case {
  std::string name;
  Fn fn;
  std::vector<Tensor> inputs;
};

TD_DEVICE_TEST(LossTest, GradcheckEveryLoss) {
  // Values away from the joins of the piecewise losses (|x - t| = beta, margins).
  Tensor x = make64({-1.3, 0.4, 2.2, -0.35, 0.9, -2.1, 1.15, 0.05, -0.65, 1.7, 0.25, -0.85}, {3, 4})
                 .requires_grad_();
  Tensor t =
      make64({0.2, -0.9, 1.1, 0.6, -0.4, -1.2, 0.35, 1.5, 0.1, 0.3, -0.75, 0.4}, {3, 4}).requires_grad_();
  Tensor sgn = make64({1, -1, -1, 1, 1, 1, -1, 1, -1, -1, 1, -1}, {3, 4});
  Tensor cls = idx({2, 0, 3}, {3});
  Tensor cls_ignored = idx({2, -100, 3}, {3});
  Tensor w = make64({0.5, 1.5, 2.0, 0.8}, {4}).requires_grad_();
  Tensor probs =
      make64({0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25, 0.7, 0.1, 0.1, 0.1}, {3, 4}).requires_grad_();
  Tensor p =
      make64({0.1, 0.45, 0.8, 0.3, 0.65, 0.2, 0.95, 0.5, 0.35, 0.7, 0.15, 0.6}, {3, 4}).requires_grad_();
  Tensor var = make64({0.5, 1.2, 0.3, 2.0, 0.9, 0.4, 1.1, 0.7, 0.25, 1.6, 0.8, 0.6}, {3, 4}).requires_grad_();
  Tensor counts = make64({0, 1, 2, 3, 4, 0, 1, 5, 2, 2, 0, 1}, {3, 4});

  const std::vector<Case> cases = {
      {"mse_loss", [](const auto& in) { return F::mse_loss(in[0], in[1]); }, {x, t}},
      {"l1_loss_sum", [](const auto& in) { return F::l1_loss(in[0], in[1], "sum"); }, {x, t}},
      {"smooth_l1_loss", [](const auto& in) { return F::smooth_l1_loss(in[0], in[1], "mean", 0.7); }, {x, t}},
      {"huber_loss_none", [](const auto& in) { return F::huber_loss(in[0], in[1], "none", 0.7); }, {x, t}},
      {"nll_loss_weight_ignore",
       [&](const auto& in) { return F::nll_loss(in[0].log_softmax(1), cls_ignored, in[1]); },
       {x, w}},
      {"cross_entropy", [&](const auto& in) { return F::cross_entropy(in[0], cls); }, {x}},
      {"cross_entropy_smoothing_weight",
       [&](const auto& in) { return F::cross_entropy(in[0], cls_ignored, in[1], -100, "mean", 0.2); },
       {x, w}},
      {"cross_entropy_probabilities",
       [](const auto& in) { return F::cross_entropy(in[0], in[1], in[2], -100, "sum", 0.1); },
       {x, probs, w}},
      {"binary_cross_entropy",
       [](const auto& in) { return F::binary_cross_entropy(in[0], in[1], in[2]); },
       {p, probs, w}},
      {"bce_with_logits",
       [](const auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], in[2], "mean", in[3]); },
       {x, probs, w, w.mul(2).detach().requires_grad_()}},
      {"kl_div_batchmean",
       [](const auto& in) { return F::kl_div(in[0].log_softmax(1), in[1], "batchmean"); },
       {x, probs}},
      {"kl_div_log_target", [](const auto& in) { return F::kl_div(in[0], in[1], "sum", true); }, {x, t}},
      {"cosine_embedding_loss",
       [&](const auto& in) {
         return F::cosine_embedding_loss(in[0], in[1], idx({1, -1, 1}, {3}), -0.3);
       },
       {x, t}},
      {"margin_ranking_loss",
       [](const auto& in) { return F::margin_ranking_loss(in[0], in[1], in[2], 0.1, "sum"); },
       {x, t, sgn.clone().requires_grad_()}},
      {"triplet_margin_loss",
       [](const auto& in) { return F::triplet_margin_loss(in[0], in[1], in[2], 3.0, 2.0, 1e-6, true); },
       {x, t, p}},
      {"triplet_margin_loss_p3",
       [](const auto& in) { return F::triplet_margin_loss(in[0], in[1], in[2], 3.0, 3.0); },
       {x, t, p}},
      {"soft_margin_loss", [&](const auto& in) { return F::soft_margin_loss(in[0], sgn); }, {x}},
      {"hinge_embedding_loss",
       [&](const auto& in) { return F::hinge_embedding_loss(in[0], sgn, 0.5, "sum"); },
       {x}},
      {"poisson_nll_loss", [&](const auto& in) { return F::poisson_nll_loss(in[0], counts); }, {x}},
      {"poisson_nll_loss_full",
       [&](const auto& in) { return F::poisson_nll_loss(in[0], in[1], false, true, 1e-8, "sum"); },
       {p, counts.add(0.5).requires_grad_()}},
      {"gaussian_nll_loss",
       [](const auto& in) { return F::gaussian_nll_loss(in[0], in[1], in[2], true); },
       {x, t, var}},
  };
  for (const auto& [name, fn, inputs] : cases) expect_gradcheck(name, fn, inputs);
}

// Values derived by hand.
TD_DEVICE_TEST(LossTest, HandDerivedValues) {
  // mse: d = [1, 2, 2], d^2 = [1, 4, 4]: mean 3, sum 9; d mean / dx = 2 d / 3.
  Tensor x = make64({1, 2, 3}, {3}).requires_grad_();
  Tensor t = make64({0, 0, 1}, {3});
  Tensor mse = F::mse_loss(x, t);
  EXPECT_DOUBLE_EQ(mse.item<double>(), 3.0);
  EXPECT_DOUBLE_EQ(F::mse_loss(x, t, "sum").item<double>(), 9.0);
  mse.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0 / 3, 4.0 / 3, 4.0 / 3}));

  // nll with weights [2, 1]: elements w[t] * -logp = [1 * 2, 2 * 3] = [2, 6]; the mean divides by w[1] + w[0]
  // = 3.
  Tensor logp = make64({-1, -2, -3, -0.5}, {2, 2});
  Tensor w = make64({2, 1}, {2});
  Tensor cls = idx({1, 0}, {2});
  EXPECT_DOUBLE_EQ(F::nll_loss(logp, cls, w).item<double>(), 8.0 / 3);
  EXPECT_EQ(F::nll_loss(logp, cls, w, -100, "none").to_vector<double>(), (std::vector<double>{2, 6}));

  // Logits [0, ln 3]: p = [1/4, 3/4]. Target 0 with smoothing 0.2: 0.8 * ln 4 + 0.2 / 2 * (ln 4 + ln 4/3).
  Tensor logits = make64({0, std::log(3.0)}, {1, 2});
  const double want = 0.8 * std::log(4.0) + 0.1 * (std::log(4.0) + std::log(4.0 / 3));
  EXPECT_NEAR(F::cross_entropy(logits, idx({0}, {1}), {}, -100, "mean", 0.2).item<double>(), want, 1e-15);
  // The same as probability targets [0.9, 0.1] (smoothing spreads 0.2 over the 2 classes).
  EXPECT_NEAR(F::cross_entropy(logits, make64({0.9, 0.1}, {1, 2})).item<double>(), want, 1e-15);

  // bce: -log(0.5) = ln 2; a certain wrong answer costs 100 (PyTorch's clamp of the log at -100).
  EXPECT_DOUBLE_EQ(F::binary_cross_entropy(make64({0.5}, {1}), make64({1}, {1})).item<double>(),
                   std::log(2.0));
  Tensor sure = make64({0.0, 1.0}, {2}).requires_grad_();
  Tensor bce = F::binary_cross_entropy(sure, make64({1, 0}, {2}), {}, "none");
  EXPECT_EQ(bce.to_vector<double>(), (std::vector<double>{100, 100}));
  bce.sum().backward();
  EXPECT_TRUE(sure.grad().isfinite().all().item<bool>()) << sure.grad().str();

  // Logits far out stay finite: log(1 + exp(800)) = 800.
  Tensor far = make64({-800, 800}, {2}).requires_grad_();
  Tensor bcel = F::binary_cross_entropy_with_logits(far, make64({1, 0}, {2}), {}, "none");
  EXPECT_EQ(bcel.to_vector<double>(), (std::vector<double>{800, 800}));
  bcel.sum().backward();
  EXPECT_EQ(far.grad().to_vector<double>(), (std::vector<double>{-1, 1}));  // sigmoid(x) - t
}

TD_DEVICE_TEST(LossTest, IgnoredTargetsAddNothing) {
  // An ignored row may hold -inf (a log-probability of 0): it neither reaches the loss nor makes NaN
  // gradients.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor logp = make64({-0.5, -1.5, -inf, -inf, -0.25, -2.0}, {3, 2}).requires_grad_();
  Tensor cls = idx({0, -100, 1}, {3});
  Tensor loss = F::nll_loss(logp, cls);
  EXPECT_DOUBLE_EQ(loss.item<double>(), (0.5 + 2.0) / 2);
  loss.backward();
  EXPECT_EQ(logp.grad().to_vector<double>(), (std::vector<double>{-0.5, 0, 0, 0, 0, -0.5}));
  // All ignored: the mean is 0 / 0 = NaN, the sum 0, as in PyTorch.
  Tensor none = idx({-100, -100, -100}, {3});
  EXPECT_TRUE(std::isnan(F::nll_loss(logp.detach(), none).item<double>()));
  EXPECT_EQ(F::nll_loss(logp.detach(), none, {}, -100, "sum").item<double>(), 0.0);
  // A custom ignore_index inside the class range.
  EXPECT_DOUBLE_EQ(F::nll_loss(logp.detach(), idx({0, 1, 1}, {3}), {}, 1).item<double>(), 0.5);
}

TD_DEVICE_TEST(LossTest, BadArgumentsNameTheOpInPyTorchsWords) {
  Tensor x = make({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor cls = idx({0, 2}, {2});
  auto msg = [](auto&& fn) { return std::string(error_of(fn).what()); };
  EXPECT_THAT(msg([&] {
                (void)F::nll_loss(x, make({0, 1}, {2}));
              }),
              HasSubstr("[nll_loss] expected scalar type Long but found Float"));
  Error oob = error_of([&] { (void)F::cross_entropy(x, idx({0, 12}, {2})); });
  EXPECT_EQ(oob.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(oob.what(), HasSubstr("[cross_entropy_loss] Target 12 is out of bounds."));
  EXPECT_THAT(msg([&] {
                (void)F::nll_loss(x, idx({-3, 0}, {2}));
              }),
              HasSubstr("Target -3 is out of bounds."));
  EXPECT_THAT(msg([&] {
                (void)F::nll_loss(x, idx({0, 1, 2}, {3}));
              }),
              HasSubstr("[nll_loss] Expected input batch_size (2) to match target batch_size (3)."));
  EXPECT_THAT(msg([&] {
                (void)F::nll_loss(x.view({2, 3, 1}), idx({0, 1, 2, 0}, {2, 2}));
              }),
              HasSubstr("[nll_loss] Expected target size [2, 1], got [2, 2]"));
  EXPECT_THAT(
      msg([&] {
        (void)F::nll_loss(x, cls, make({1, 1}, {2}));
      }),
      HasSubstr("[nll_loss] weight tensor should be defined either for all 3 classes or no classes but got "
                "weight tensor of shape: [2]"));
  EXPECT_THAT(msg([&] { (void)F::nll_loss(x.sum(), idx({0}, {})); }),
              HasSubstr("[nll_loss] Expected 1 or more dimensions (got 0)"));
  EXPECT_THAT(msg([&] { (void)F::mse_loss(x, x, "avg"); }),
              HasSubstr("[mse_loss] avg is not a valid value for reduction"));
  EXPECT_THAT(msg([&] { (void)F::cross_entropy(x, cls, {}, -100, "batchmean"); }),
              HasSubstr("[cross_entropy_loss] batchmean is not a valid value for reduction"));
  EXPECT_THAT(msg([&] {
                (void)F::mse_loss(x, make({1, 2}, {2}));
              }),
              HasSubstr("[mse_loss] The size of tensor a (3) must match the size of tensor b (2)"));
  EXPECT_THAT(
      msg([&] {
        (void)F::cross_entropy(x, idx({0, 1, 2, 0, 1, 2}, {2, 3}));
      }),
      HasSubstr("[cross_entropy_loss] Expected floating point type for target with class probabilities, got "
                "Long"));
  EXPECT_THAT(msg([&] { (void)F::cross_entropy(x, cls, {}, -100, "mean", 1.5); }),
              HasSubstr("[cross_entropy_loss] label_smoothing must be between 0.0 and 1.0. Got: 1.5"));
  EXPECT_THAT(msg([&] { (void)F::cross_entropy(x, x.softmax(1), {}, 1); }),
              HasSubstr("ignore_index is not supported for floating point target"));
  EXPECT_THAT(msg([&] { (void)F::binary_cross_entropy(x, x.div(10)); }),
              HasSubstr("[binary_cross_entropy] all elements of input should be between 0 and 1"));
  EXPECT_THAT(
      msg([&] { (void)F::binary_cross_entropy(x.div(10), x.div(10).view({6})); }),
      HasSubstr(
          "[binary_cross_entropy] Using a target size ([6]) that is different to the input size ([2, 3])"));
  EXPECT_THAT(
      msg([&] {
        (void)F::binary_cross_entropy_with_logits(x, x.view({3, 2}));
      }),
      HasSubstr(
          "[binary_cross_entropy_with_logits] Target size ([3, 2]) must be the same as input size ([2, 3])"));
  EXPECT_THAT(msg([&] { (void)F::smooth_l1_loss(x, x, "mean", -1); }),
              HasSubstr("[smooth_l1_loss] smooth_l1_loss does not support negative values for beta."));
  EXPECT_THAT(msg([&] { (void)F::huber_loss(x, x, "mean", 0); }),
              HasSubstr("[huber_loss] huber_loss does not support non-positive values for delta."));
  EXPECT_THAT(
      msg([&] {
        (void)F::cosine_embedding_loss(x, x, idx({1, -1}, {2, 1}));
      }),
      HasSubstr("[cosine_embedding_loss] 0D or 1D target tensor expected, multi-target not supported"));
  EXPECT_THAT(
      msg([&] {
        (void)F::cosine_embedding_loss(x.view({6}), x.view({6}), idx({1, -1}, {2}));
      }),
      HasSubstr("1D target tensor expects 2D input tensors, but found inputs with sizes [6] and [6]."));
  EXPECT_THAT(
      msg([&] { (void)F::triplet_margin_loss(x, x, x.view({6})); }),
      HasSubstr("[triplet_margin_loss] All inputs should have same dimension but got 2D, 2D and 1D inputs."));
  EXPECT_THAT(
      msg([&] { (void)F::margin_ranking_loss(x, x, x.view({6})); }),
      HasSubstr("[margin_ranking_loss] margin_ranking_loss : All input tensors should have same dimension"));
  EXPECT_THAT(msg([&] {
                (void)F::gaussian_nll_loss(x, x, make({1, 1, 1}, {3}));
              }),
              HasSubstr("[gaussian_nll_loss] var is of incorrect size"));
  EXPECT_THAT(msg([&] { (void)F::gaussian_nll_loss(x, x, x.neg()); }),
              HasSubstr("[gaussian_nll_loss] var has negative entry/entries"));
  EXPECT_THAT(msg([&] {
                (void)F::l1_loss(idx({1, 2}, {2}), idx({1, 2}, {2}));
              }),
              HasSubstr("[l1_loss] \"l1_loss\" not implemented for 'int64'"));
}

TD_DEVICE_TEST(LossTest, CtcLoss) {
  // One frame, target [1], p = [0.3, 0.7]: the only alignment is "1", so the loss is -log 0.7. Two frames:
  // the alignments of "1" are 11, 01 and 10, with probability 0.49 + 0.21 + 0.21 = 0.91.
  Tensor lp = make64({std::log(0.3), std::log(0.7), std::log(0.3), std::log(0.7)}, {2, 1, 2});
  Tensor one_label = idx({1}, {1, 1});
  EXPECT_NEAR(
      F::ctc_loss(lp, one_label, std::vector<int64_t>{1}, std::vector<int64_t>{1}, 0, "sum").item<double>(),
      -std::log(0.7), 1e-12);
  EXPECT_NEAR(
      F::ctc_loss(lp, one_label, std::vector<int64_t>{2}, std::vector<int64_t>{1}, 0, "sum").item<double>(),
      -std::log(0.91), 1e-12);
  // "11" needs a blank between the labels: 3 frames at least. Two give an infinite loss, or 0 with
  // zero_infinity.
  Tensor twice = idx({1, 1}, {1, 2});
  EXPECT_TRUE(
      std::isinf(F::ctc_loss(lp, twice, std::vector<int64_t>{2}, std::vector<int64_t>{2}).item<double>()));
  EXPECT_EQ(F::ctc_loss(lp, twice, std::vector<int64_t>{2}, std::vector<int64_t>{2}, 0, "mean", true)
                .item<double>(),
            0.0);

  // Gradients through log_softmax, first and second order, with uneven lengths, a repeated label and an empty
  // target in the batch.
  Tensor logits = make64({0.3,  -1.2, 0.8, 0.1,  -0.5, 1.1,  0.4, -0.9, 0.2,  1.3,  -0.3, 0.6,
                          -1.0, 0.5,  0.9, -0.2, 0.7,  -0.6, 1.2, 0.0,  -0.8, 0.35, 0.15, -0.45},
                         {4, 2, 3})
                      .requires_grad_();
  Tensor targets = idx({2, 2, 1, 0}, {2, 2});
  expect_gradcheck("ctc_loss",
                   [&](const std::vector<Tensor>& in) {
                     return F::ctc_loss(in[0].log_softmax(2), targets, std::vector<int64_t>{4, 3},
                                        std::vector<int64_t>{2, 1});
                   },
                   {logits});
  expect_gradcheck("ctc_loss_empty_target",
                   [&](const std::vector<Tensor>& in) {
                     return F::ctc_loss(in[0].log_softmax(2), targets, std::vector<int64_t>{4, 2},
                                        std::vector<int64_t>{1, 0}, 0, "none");
                   },
                   {logits});

  auto msg = [](auto&& fn) { return std::string(error_of(fn).what()); };
  const std::vector<int64_t> four_three{4, 3}, two_one{2, 1};
  EXPECT_THAT(msg([&] {
                (void)F::ctc_loss(logits, targets, std::vector<int64_t>{5, 3}, two_one);
              }),
              HasSubstr("[ctc_loss] Expected input_lengths to have value at most 4, but got value 5"));
  EXPECT_THAT(msg([&] {
                (void)F::ctc_loss(logits, targets, four_three, std::vector<int64_t>{3, 1});
              }),
              HasSubstr("[ctc_loss] Expected tensor to have size at least 3 at dimension 1, but got size 2"));
  EXPECT_THAT(msg([&] { (void)F::ctc_loss(logits, targets, four_three, two_one, 3); }),
              HasSubstr("[ctc_loss] blank must be in label range"));
  EXPECT_THAT(msg([&] { (void)F::ctc_loss(logits, targets, std::vector<int64_t>{4}, two_one); }),
              HasSubstr("[ctc_loss] input_lengths must be of size batch_size"));
  EXPECT_THAT(msg([&] {
                (void)F::ctc_loss(logits, idx({1, 2}, {2}), four_three, two_one);
              }),
              HasSubstr("[ctc_loss] Expected tensor to have size 3 at dimension 0, but got size 2"));
  Error label = error_of([&] { (void)F::ctc_loss(logits, idx({5, 1, 1}, {3}), four_three, two_one); });
  EXPECT_EQ(label.code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(label.what(), HasSubstr("[ctc_loss] target 5 is out of bounds for 3 classes"));

  // The layer takes the lengths as tensors.
  nn::CTCLoss ctc(0, "sum");
  EXPECT_EQ(ctc.repr(), "CTCLoss()");
  EXPECT_NEAR(ctc(lp, one_label, idx({2}, {1}), idx({1}, {1})).item<double>(), -std::log(0.91), 1e-12);
}

TEST(LossLayers, ReprReductionAndBuffers) {
  nn::CrossEntropyLoss ce(tensor(std::vector<float>{1, 2, 3}, {3}), -1, "sum", 0.1);
  EXPECT_EQ(ce.repr(), "CrossEntropyLoss()");  // PyTorch's loss layers print no settings
  EXPECT_EQ(ce.reduction, "sum");
  ASSERT_EQ(ce.named_buffers().size(), 1u);
  EXPECT_EQ(ce.named_buffers()[0].first, "weight");
  EXPECT_EQ(ce.state_dict().size(), 1u);
  ce.to(DType::kFloat64);
  EXPECT_EQ(ce.weight.dtype(), DType::kFloat64);  // the handle follows the buffer
  EXPECT_EQ(nn::MSELoss().reduction, "mean");
  EXPECT_EQ(nn::MSELoss().state_dict().size(), 0u);
  EXPECT_EQ(nn::TripletMarginLoss().repr(), "TripletMarginLoss()");
  nn::BCEWithLogitsLoss bcel({}, "mean", tensor(std::vector<float>{2}, {1}));
  ASSERT_EQ(bcel.state_dict().size(), 1u);
  EXPECT_EQ(bcel.state_dict()[0].first, "pos_weight");

  // A layer gives its functional form's value, and a Sequential can hold one as a child.
  Tensor logits = tensor(std::vector<double>{0.2, -1.0, 0.5, 1.5, 0.3, -0.2}, {2, 3});
  Tensor cls = tensor(std::vector<int64_t>{2, 0}, {2});
  EXPECT_DOUBLE_EQ(ce(logits, cls).item<double>(),
                   F::cross_entropy(logits, cls, ce.weight, -1, "sum", 0.1).item<double>());
  EXPECT_DOUBLE_EQ(nn::NLLLoss()(logits.log_softmax(1), cls).item<double>(),
                   F::cross_entropy(logits, cls).item<double>());
  nn::MSELoss none("none");
  EXPECT_EQ(none(logits, logits.mul(2)).shape(), (std::vector<int64_t>{2, 3}));
  nn::TripletMarginLoss triplet(0.5);
  EXPECT_EQ(triplet(logits, logits, logits.neg()).dim(), 0);
  EXPECT_THAT(
      error_of([&] { (void)triplet(logits, logits); }).what(),
      HasSubstr(
          "[TripletMarginLoss] forward() takes 3 tensors (anchor, positive, negative) but 2 were given"));
  EXPECT_THAT(error_of([&] { (void)nn::L1Loss("avg")(logits, logits); }).what(),
              HasSubstr("avg is not a valid value for reduction"));
}

}  // namespace
}  // namespace td
