// nn::Module: registration and traversal order, state_dict round trips and PyTorch's load errors, printing,
// train/eval, to(), and the module hooks with PyTorch 1.13's arguments and firing order (the expected orders
// and messages below are what PyTorch 1.13 prints for the same model).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/autograd.h"
#include "core/autograd/grad_mode.h"
#include "core/nn/init.h"
#include "core/nn/modules.h"
#include "core/random/generator.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;

// PyTorch's example shape: a Sequential of Linear+ReLU, a bias-free head, a persistent and a non-persistent
// buffer.
struct Net : nn::Module {
  Net() : Module("Net") {
    features = register_module("features", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                                               std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>()}));
    head = register_module("head", std::make_shared<nn::Linear>(3, 2, /*bias=*/false));
    register_buffer("steps", zeros({}));
    register_buffer("scratch", zeros({2}), /*persistent=*/false);
  }
  Tensor forward(const Tensor& x) override { return (*head)((*features)(x)); }
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> head;
};

// Anomaly mode names the module whose forward recorded the node that returned NaN (the stand-in for
// PyTorch's forward traceback): by its dotted name, or the outermost module's forward.
TEST(ModuleTest, AnomalyModeNamesTheModuleAroundTheForwardOp) {
  struct Divide : nn::Module {
    Divide() : Module("Divide") {}
    // (x / x) * 0 at x = 0: DivBackward0's gradient is 0 / 0.
    Tensor forward(const Tensor& x) override { return x.div(x).mul(0); }
  };
  struct Outer : nn::Module {
    Outer() : Module("Outer") {
      body = register_module("body", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                                         std::make_shared<nn::Identity>(), std::make_shared<Divide>()}));
    }
    Tensor forward(const Tensor& x) override { return (*body)(x); }
    std::shared_ptr<nn::Sequential> body;
  };
  Outer outer;
  Tensor x = zeros({2}).requires_grad_();
  autograd::DetectAnomalyGuard guard;
  Tensor y = outer(x).sum();
  EXPECT_TRUE(autograd::anomaly_module_stack().empty());
  try {
    y.backward();
    ADD_FAILURE() << "no anomaly";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("DivBackward0 was recorded by the forward op div with input shapes [2] and [2] in "
                                    "module body.1 (Divide)."));
  }
  // An op of the outermost module's own forward, and one outside any module.
  Divide root;
  try {
    root(zeros({3}).requires_grad_()).sum().backward();
    ADD_FAILURE() << "no anomaly";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("forward op div with input shapes [3] and [3] in Divide.forward."));
  }
  Tensor z = zeros({1}).requires_grad_();
  Tensor nan_outside = z.div(z).mul(0).sum();
  try {
    nan_outside.backward();
    ADD_FAILURE() << "no anomaly";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("forward op div with input shapes [1] and [1]."));
  }
}

std::vector<std::string> keys(const nn::StateDict& sd) {
  std::vector<std::string> out;
  for (const auto& [k, v] : sd) out.push_back(k);
  return out;
}

TEST(ModuleTest, NamesOrderAndPrinting) {
  auto net = std::make_shared<Net>();
  EXPECT_THAT(keys(net->state_dict()), ElementsAre("steps", "features.0.weight", "features.0.bias", "head.weight"));
  std::vector<std::string> names;
  for (auto& [name, m] : net->named_modules()) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("", "features", "features.0", "features.1", "head"));
  EXPECT_EQ(net->parameters().size(), 3u);
  EXPECT_EQ(net->buffers().size(), 2u);
  EXPECT_EQ(net->repr(),
            "Net(\n"
            "  (features): Sequential(\n"
            "    (0): Linear(in_features=4, out_features=3, bias=True)\n"
            "    (1): ReLU()\n"
            "  )\n"
            "  (head): Linear(in_features=3, out_features=2, bias=False)\n"
            ")");
  EXPECT_EQ(nn::Flatten().repr(), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(nn::Unflatten(1, {2, 3}).repr(), "Unflatten(dim=1, unflattened_size=(2, 3))");
  EXPECT_EQ(nn::Softmax(1).repr(), "Softmax(dim=1)");
  EXPECT_EQ(&(*net->features)[-1], net->features->at(1).get());
  EXPECT_EQ(&net->get_submodule("features.0"), net->features->at(0).get());
  EXPECT_TRUE(net->get_tensor("features.0.bias").is_same(net->named_parameters()[1].second));
  EXPECT_EQ(error_of([&] { (void)(*net->features)[2]; }).code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(error_of([&] { net->register_buffer("head", zeros({1})); }).what(),
              HasSubstr("attribute 'head' already exists"));
}

TEST(ModuleTest, LoadStateDictCopiesValuesAndReportsLikePyTorch) {
  auto a = std::make_shared<Net>(), b = std::make_shared<Net>();
  Tensor held = b->head->weight;  // a handle kept by the user sees the loaded values
  b->load_state_dict(a->state_dict());
  EXPECT_EQ(held.to_vector<float>(), a->head->weight.to_vector<float>());
  EXPECT_TRUE(held.requires_grad());

  nn::StateDict sd = a->state_dict();
  sd.erase(sd.begin() + 3);  // head.weight
  sd.emplace_back("extra", zeros({1}));
  sd[2].second = zeros({5});  // features.0.bias
  Error e = error_of([&] { b->load_state_dict(sd); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(std::string(e.what()),
            "[load_state_dict] Error(s) in loading state_dict for Net:\n"
            "\tMissing key(s) in state_dict: \"head.weight\". \n"
            "\tUnexpected key(s) in state_dict: \"extra\". \n"
            "\tsize mismatch for features.0.bias: copying a param with shape torch.Size([5]) from checkpoint, the "
            "shape in current model is torch.Size([3]).");
  sd[2].second = a->features->at(0)->named_parameters()[1].second;
  nn::IncompatibleKeys k = b->load_state_dict(sd, /*strict=*/false);
  EXPECT_THAT(k.missing_keys, ElementsAre("head.weight"));
  EXPECT_THAT(k.unexpected_keys, ElementsAre("extra"));
}

TEST(ModuleTest, TrainEvalZeroGradAndTo) {
  auto net = std::make_shared<Net>();
  net->eval();
  for (nn::Module* m : net->modules()) EXPECT_FALSE(m->is_training());
  net->train();
  EXPECT_TRUE(net->features->at(1)->is_training());
  (*net)(ones({5, 4})).sum().backward();
  EXPECT_TRUE(net->head->weight.grad().defined());
  net->zero_grad(/*set_to_none=*/false);
  EXPECT_THAT(net->head->weight.grad().to_vector<float>(), ::testing::Each(0.0f));
  net->zero_grad();
  EXPECT_FALSE(net->head->weight.grad().defined());
  Tensor w = net->head->weight;
  net->to(DType::kFloat64);
  EXPECT_EQ(w.dtype(), DType::kFloat64);  // the same handle, converted in place
  EXPECT_TRUE(w.requires_grad() && w.is_leaf());
  EXPECT_EQ(net->get_tensor("steps").dtype(), DType::kFloat64);
  EXPECT_EQ((*net)(ones({2, 4}, {DType::kFloat64})).dtype(), DType::kFloat64);
}

TEST(ModuleTest, LinearMatchesItsFormulaAndDefaultInit) {
  manual_seed(0);
  nn::Linear fc(100, 50);
  // kaiming_uniform_(a=sqrt(5)) draws from U(-1/sqrt(100), 1/sqrt(100)) = U(-0.1, 0.1).
  std::vector<float> w = fc.weight.to_vector<float>();
  EXPECT_LE(*std::max_element(w.begin(), w.end()), 0.1f);
  EXPECT_GE(*std::min_element(w.begin(), w.end()), -0.1f);
  EXPECT_GT(*std::max_element(w.begin(), w.end()), 0.09f);
  Tensor x = ones({3, 100});
  Tensor expect = x.matmul(fc.weight.t()).add(fc.bias);
  EXPECT_TRUE(fc(x).allclose(expect).item<bool>());
  EXPECT_TRUE(fc(ones({2, 3, 100})).select(0, 1).allclose(expect).item<bool>());
  EXPECT_THAT(error_of([&] { (void)fc(ones({3, 7})); }).what(), HasSubstr("[Linear] mat1 and mat2 shapes cannot"));
  EXPECT_NEAR(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3), 1e-12);
  EXPECT_NEAR(nn::init::calculate_gain("tanh"), 5.0 / 3, 1e-12);
}

TEST(ModuleHooksTest, ForwardHooksReplaceInputsAndOutputsInPyTorchsOrder) {
  auto net = std::make_shared<Net>();
  std::vector<std::string> log;
  std::vector<HookHandle> handles;
  for (auto& [name, m] : net->named_modules()) {
    std::string n = name;
    handles.push_back(m->register_forward_pre_hook([&log, n](nn::Module&, nn::TensorList&) { log.push_back("pre " + n); }));
    handles.push_back(m->register_forward_hook(
        [&log, n](nn::Module&, const nn::TensorList&, nn::TensorList&) { log.push_back("fwd " + n); }));
  }
  HookHandle global = nn::register_module_forward_hook(
      [&log](nn::Module& m, const nn::TensorList&, nn::TensorList&) { log.push_back("global " + m.type_name()); });
  (*net)(ones({1, 4}));
  EXPECT_THAT(log, ElementsAre("pre ", "pre features", "pre features.0", "global Linear", "fwd features.0",
                               "pre features.1", "global ReLU", "fwd features.1", "global Sequential", "fwd features",
                               "pre head", "global Linear", "fwd head", "global Net", "fwd "));
  global.remove();
  for (auto& h : handles) h.remove();
  log.clear();
  (*net)(ones({1, 4}));
  EXPECT_TRUE(log.empty());

  // A pre-hook that doubles the input, a forward hook that replaces the output.
  nn::Linear fc(2, 1, false);
  nn::init::ones_(fc.weight);
  fc.register_forward_pre_hook([](nn::Module&, nn::TensorList& in) { in[0] = in[0].mul(2); });
  EXPECT_EQ(fc(ones({1, 2})).item<float>(), 4.0f);
  HookHandle h = fc.register_forward_hook([](nn::Module&, const nn::TensorList& in, nn::TensorList& out) {
    out = {in[0].sum().reshape({1, 1}).neg()};
  });
  EXPECT_EQ(fc(ones({1, 2})).item<float>(), -4.0f);
  h.remove();
  EXPECT_EQ(fc(ones({1, 2})).item<float>(), 4.0f);
}

TEST(ModuleHooksTest, FullBackwardHooksSeeGradInputAndGradOutput) {
  auto net = std::make_shared<Net>();
  std::vector<std::string> log;
  for (auto& [name, m] : net->named_modules()) {
    std::string n = name;
    m->register_full_backward_hook([&log, n](nn::Module&, nn::TensorList& gi, const nn::TensorList& go) {
      std::string s = "bwd " + n + " in";
      for (const Tensor& g : gi) s += g.defined() ? " " + shape_str(g.shape()) : " None";
      s += " out";
      for (const Tensor& g : go) s += g.defined() ? " " + shape_str(g.shape()) : " None";
      log.push_back(s);
    });
  }
  (*net)(ones({5, 4})).sum().backward();
  // PyTorch 1.13 on the same model and input (x does not require grad).
  EXPECT_THAT(log, ElementsAre("bwd  in None out [5, 2]", "bwd head in [5, 3] out [5, 2]",
                               "bwd features in None out [5, 3]", "bwd features.1 in [5, 3] out [5, 3]",
                               "bwd features.0 in None out [5, 3]"));

  // grad_input and grad_output are the gradients w.r.t. the module's input and output; a replaced grad_input
  // is what flows on.
  nn::Linear fc(3, 2);
  Tensor x = tensor(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  Tensor seen_in, seen_out;
  HookHandle h = fc.register_full_backward_hook([&](nn::Module&, nn::TensorList& gi, const nn::TensorList& go) {
    seen_in = gi[0];
    seen_out = go[0];
  });
  Tensor y = fc(x);
  Tensor g = tensor(std::vector<float>{1, -1, 2, 0.5}, {2, 2});
  y.backward(g);
  EXPECT_TRUE(seen_out.allclose(g).item<bool>());
  EXPECT_TRUE(seen_in.allclose(g.matmul(fc.weight)).item<bool>());
  EXPECT_TRUE(x.grad().allclose(seen_in).item<bool>());
  h.remove();
  fc.register_full_backward_hook([](nn::Module&, nn::TensorList& gi, const nn::TensorList&) { gi[0] = gi[0].mul(0); });
  x.set_grad(Tensor());
  fc(x).backward(g);
  EXPECT_THAT(x.grad().to_vector<float>(), ::testing::Each(0.0f));
}

TEST(ModuleHooksTest, BackwardPreHookReplacesGradOutputAndBadHooksAreErrors) {
  nn::Linear fc(3, 1, false);
  nn::init::ones_(fc.weight);
  fc.register_full_backward_pre_hook([](nn::Module&, nn::TensorList& go) { go[0] = go[0].mul(10); });
  fc(ones({1, 3})).sum().backward();
  EXPECT_THAT(fc.weight.grad().to_vector<float>(), ElementsAre(10, 10, 10));

  // With no input requiring grad, a hook may not return grad_input (PyTorch's message).
  nn::Linear bad(3, 1);
  bad.register_full_backward_hook([](nn::Module&, nn::TensorList& gi, const nn::TensorList&) { gi[0] = ones({1, 3}); });
  Error e = error_of([&] { bad(ones({1, 3})).sum().backward(); });
  EXPECT_THAT(e.what(), HasSubstr("Backward hook for Modules where no input requires gradient should always return "
                                  "None or None for all gradients."));
  nn::Linear wrong(3, 1);
  wrong.register_full_backward_hook([](nn::Module&, nn::TensorList& gi, const nn::TensorList&) { gi.push_back(Tensor()); });
  e = error_of([&] { wrong(ones({1, 3}).requires_grad_()).sum().backward(); });
  EXPECT_THAT(e.what(), HasSubstr("Backward hook returned an invalid number of grad_input, got 2, but expected 1"));
  // Under no_grad nothing is routed through hook nodes, and no hook runs.
  autograd::NoGradGuard no_grad;
  EXPECT_EQ(wrong(ones({1, 3})).grad_fn_name(), "");
}

// The users' notes (seed-notes.txt): a hook inside forward reads the gradient of a non-leaf output, and the
// exploding/vanishing gradient alarm check_grad(name, grad, 1e3, 1e-7) uses grad.abs().max().item().
TEST(ModuleHooksTest, SeedNotesGradientAlarmInsideForward) {
  struct Model : nn::Module {
    Model() : Module("Model") {
      features = register_module("features", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                                                 std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>()}));
      classifier = register_module("classifier", std::make_shared<nn::Linear>(8, 2));
    }
    Tensor forward(const Tensor& in) override {
      Tensor x = (*features)[0](in);
      x.register_hook([this](const Tensor& g) {
        check_grad("Layer1", g);
        return Tensor();
      });
      x = (*features)[1](x);
      return (*classifier)(x);
    }
    void check_grad(const std::string& name, const Tensor& grad, double explode = 1e3, double vanish = 1e-7) {
      const double maxv = grad.abs().max().item<double>();
      if (maxv > explode) alarms.push_back("[Exploding Gradient] " + name);
      if (maxv < vanish) alarms.push_back("[Vanishing Gradient] " + name);
      means.push_back(grad.mean().item<double>());
    }
    std::shared_ptr<nn::Sequential> features;
    std::shared_ptr<nn::Linear> classifier;
    std::vector<std::string> alarms;
    std::vector<double> means;
  };
  manual_seed(0);
  auto model = std::make_shared<Model>();
  Tensor x = ones({2, 4});
  (*model)(x).sum().backward();
  ASSERT_EQ(model->means.size(), 1u);
  EXPECT_TRUE(model->alarms.empty());
  // A huge loss scale explodes the gradient; a tiny one makes it vanish.
  (*model)(x).sum().mul(1e6).backward();
  (*model)(x).sum().mul(1e-12).backward();
  EXPECT_THAT(model->alarms, ElementsAre("[Exploding Gradient] Layer1", "[Vanishing Gradient] Layer1"));
}

}  // namespace
}  // namespace td
