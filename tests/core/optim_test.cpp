// td::optim and td::nn::utils against PyTorch 1.13 (tests/golden/optim/optim.json, written by
// tests/golden/generate_optim.py): every optimizer on a fixed float64 problem step by step, the schedulers'
// lr (and momentum) sequences, gradient clipping; then state_dict round trips, parameter groups, PyTorch's
// error messages, and a small regression trained to a low loss.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/nn/modules.h"
#include "core/nn/utils.h"
#include "core/optim/lr_scheduler.h"
#include "core/optim/optimizers.h"
#include "core/random/generator.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using nlohmann::json;
using testing::error_of;
using ::testing::HasSubstr;

constexpr double kTol = 1e-10;

const json& fixture() {
  static const json doc = [] {
    const char* dir = std::getenv("TD_GOLDEN_DIR");
    std::string path = std::string(dir && *dir ? dir : TD_GOLDEN_DIR) + "/optim/optim.json";
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return json::parse(in);
  }();
  return doc;
}

Tensor tensor_of(const json& j) {
  return tensor(j.at("values").get<std::vector<double>>(), j.at("shape").get<std::vector<int64_t>>());
}

std::vector<Tensor> initial_params() {
  std::vector<Tensor> out;
  for (const json& p : fixture()["initial_params"]) out.push_back(tensor_of(p).requires_grad_());
  return out;
}

// generate_optim.py's loss: sum_i (i+1)/2 * |p_i|^2 + sum(sin(3 p_i)), plus 0.1 * sum(p_0) * sum(p_1).
Tensor loss_of(const std::vector<Tensor>& params) {
  Tensor loss = scalar_tensor(0.0, DType::kFloat64);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    loss = loss.add(p.mul(p).sum().mul(0.5 * static_cast<double>(i + 1))).add(p.mul(3).sin().sum());
  }
  return loss.add(params[0].sum().mul(params[1].sum()).mul(0.1));
}

::testing::AssertionResult close_to(const std::vector<double>& actual, const json& expected,
                                    double tol = kTol) {
  auto want = expected.get<std::vector<double>>();
  if (actual.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << actual.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const double scale = std::max(1.0, std::abs(want[i]));
    if (!(std::abs(actual[i] - want[i]) <= tol * scale)) {
      return ::testing::AssertionFailure() << "element " << i << ": " << actual[i] << " vs " << want[i]
                                           << " (diff " << actual[i] - want[i] << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

std::pair<double, double> pair_of(const json& j) {
  return {j.at(0).get<double>(), j.at(1).get<double>()};
}

template <class O>
void set_common(O& o, const json& kw) {
  if (kw.contains("lr")) o.lr = kw["lr"].get<double>();
  if (kw.contains("weight_decay")) o.weight_decay = kw["weight_decay"].get<double>();
  if constexpr (requires { o.eps; }) {
    if (kw.contains("eps")) o.eps = kw["eps"].get<double>();
  }
  if constexpr (requires { o.betas; }) {
    if (kw.contains("betas")) o.betas = pair_of(kw["betas"]);
  }
  if constexpr (requires { o.maximize; }) {
    if (kw.contains("maximize")) o.maximize = kw["maximize"].get<bool>();
  }
  if constexpr (requires { o.amsgrad; }) {
    if (kw.contains("amsgrad")) o.amsgrad = kw["amsgrad"].get<bool>();
  }
  if constexpr (requires { o.momentum; }) {
    if (kw.contains("momentum")) o.momentum = kw["momentum"].get<double>();
  }
}

// A group's options from the fixture's JSON (numbers, flags and pairs).
optim::Options options_of(const json& kw) {
  optim::Options out;
  for (const auto& [k, v] : kw.items()) {
    if (v.is_boolean()) {
      out[k] = v.get<bool>();
    } else if (v.is_array()) {
      out[k] = pair_of(v);
    } else if (v.is_string()) {
      out[k] = v.get<std::string>();
    } else {
      out[k] = v.get<double>();
    }
  }
  return out;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const json& kw,
                                                 std::vector<optim::ParamGroup> groups) {
  using namespace optim;
  if (name == "SGD") {
    SGDOptions o;
    set_common(o, kw);
    if (kw.contains("dampening")) o.dampening = kw["dampening"].get<double>();
    if (kw.contains("nesterov")) o.nesterov = kw["nesterov"].get<bool>();
    return std::make_unique<SGD>(std::move(groups), o);
  }
  if (name == "Adam") {
    AdamOptions o;
    set_common(o, kw);
    return std::make_unique<Adam>(std::move(groups), o);
  }
  if (name == "AdamW") {
    AdamWOptions o;
    set_common(o, kw);
    return std::make_unique<AdamW>(std::move(groups), o);
  }
  if (name == "RMSprop") {
    RMSpropOptions o;
    set_common(o, kw);
    if (kw.contains("alpha")) o.alpha = kw["alpha"].get<double>();
    if (kw.contains("centered")) o.centered = kw["centered"].get<bool>();
    return std::make_unique<RMSprop>(std::move(groups), o);
  }
  if (name == "Adagrad") {
    AdagradOptions o;
    set_common(o, kw);
    if (kw.contains("lr_decay")) o.lr_decay = kw["lr_decay"].get<double>();
    if (kw.contains("initial_accumulator_value"))
      o.initial_accumulator_value = kw["initial_accumulator_value"].get<double>();
    return std::make_unique<Adagrad>(std::move(groups), o);
  }
  if (name == "Adadelta") {
    AdadeltaOptions o;
    set_common(o, kw);
    if (kw.contains("rho")) o.rho = kw["rho"].get<double>();
    return std::make_unique<Adadelta>(std::move(groups), o);
  }
  if (name == "Adamax") {
    AdamaxOptions o;
    set_common(o, kw);
    return std::make_unique<Adamax>(std::move(groups), o);
  }
  if (name == "NAdam") {
    NAdamOptions o;
    set_common(o, kw);
    if (kw.contains("momentum_decay")) o.momentum_decay = kw["momentum_decay"].get<double>();
    return std::make_unique<NAdam>(std::move(groups), o);
  }
  if (name == "RAdam") {
    RAdamOptions o;
    set_common(o, kw);
    return std::make_unique<RAdam>(std::move(groups), o);
  }
  if (name == "LBFGS") {
    LBFGSOptions o;
    if (kw.contains("lr")) o.lr = kw["lr"].get<double>();
    if (kw.contains("max_iter")) o.max_iter = kw["max_iter"].get<int64_t>();
    if (kw.contains("history_size")) o.history_size = kw["history_size"].get<int64_t>();
    if (kw.contains("tolerance_change")) o.tolerance_change = kw["tolerance_change"].get<double>();
    if (kw.contains("line_search_fn")) o.line_search_fn = kw["line_search_fn"].get<std::string>();
    return std::make_unique<LBFGS>(std::move(groups), o);
  }
  ADD_FAILURE() << "no optimizer " << name;
  return nullptr;
}

std::vector<optim::ParamGroup> groups_for(const json& c, const std::vector<Tensor>& params) {
  if (!c.contains("groups")) return optim::single_group(params);
  std::vector<optim::ParamGroup> groups;
  for (const json& g : c["groups"]) {
    optim::ParamGroup group;
    for (const json& i : g["params"]) group.params.push_back(params[i.get<size_t>()]);
    group.options = options_of(g["options"]);
    groups.push_back(std::move(group));
  }
  return groups;
}

optim::LossClosure closure_for(optim::Optimizer& opt, const std::vector<Tensor>& params) {
  return [&opt, params] {
    opt.zero_grad();
    Tensor loss = loss_of(params);
    loss.backward();
    return loss;
  };
}

std::string case_name(const json& c) {
  return c["optimizer"].get<std::string>() + " " + c["kwargs"].dump();
}

TEST(OptimGolden, OptimizersMatchPyTorch) {
  const json& cases = fixture()["optimizers"];
  ASSERT_GE(cases.size(), 30u);
  for (const json& c : cases) {
    SCOPED_TRACE(case_name(c) + (c.contains("groups") ? " groups " + c["groups"].dump() : ""));
    std::vector<Tensor> params = initial_params();
    auto opt = make_optimizer(c["optimizer"].get<std::string>(), c["kwargs"], groups_for(c, params));
    ASSERT_TRUE(opt);
    auto closure = closure_for(*opt, params);
    for (int64_t s = 0; s < c["steps"].get<int64_t>(); ++s) {
      Tensor loss = opt->step(closure);
      EXPECT_TRUE(close_to({loss.item<double>()}, json::array({c["losses"][s]}))) << "loss of step " << s;
      for (size_t i = 0; i < params.size(); ++i) {
        ASSERT_TRUE(close_to(params[i].to_vector<double>(), c["params"][s][i]))
            << "step " << s << " param " << i;
      }
    }
  }
}

// ---- schedulers ----

double lambda_value(const std::string& name, int64_t e) {
  if (name == "pow095") return std::pow(0.95, static_cast<double>(e));
  if (name == "halve_every_3") return std::pow(0.5, static_cast<double>(e / 3));
  if (name == "alternate") return e % 2 ? 0.9 : 1.0;
  ADD_FAILURE() << "no lambda " << name;
  return 1;
}

std::vector<double> doubles(const json& v) {
  return v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
}

std::shared_ptr<optim::LRScheduler> make_scheduler(const json& spec, optim::Optimizer& opt) {
  using namespace optim;
  const std::string type = spec["type"].get<std::string>();
  const json kw = spec.value("kwargs", json::object());
  if (type == "StepLR")
    return std::make_shared<StepLR>(opt, kw["step_size"].get<int64_t>(), kw.value("gamma", 0.1));
  if (type == "MultiStepLR") {
    return std::make_shared<MultiStepLR>(opt, kw["milestones"].get<std::vector<int64_t>>(),
                                         kw.value("gamma", 0.1));
  }
  if (type == "ExponentialLR") return std::make_shared<ExponentialLR>(opt, kw["gamma"].get<double>());
  if (type == "CosineAnnealingLR") {
    return std::make_shared<CosineAnnealingLR>(opt, kw["T_max"].get<int64_t>(), kw.value("eta_min", 0.0));
  }
  if (type == "CosineAnnealingWarmRestarts") {
    return std::make_shared<CosineAnnealingWarmRestarts>(
        opt, kw["T_0"].get<int64_t>(), kw.value("T_mult", int64_t{1}), kw.value("eta_min", 0.0));
  }
  if (type == "OneCycleLR") {
    OneCycleLROptions o;
    o.max_lr = doubles(kw["max_lr"]);
    if (kw.contains("total_steps")) o.total_steps = kw["total_steps"].get<int64_t>();
    if (kw.contains("epochs")) o.epochs = kw["epochs"].get<int64_t>();
    if (kw.contains("steps_per_epoch")) o.steps_per_epoch = kw["steps_per_epoch"].get<int64_t>();
    o.pct_start = kw.value("pct_start", o.pct_start);
    o.anneal_strategy = kw.value("anneal_strategy", o.anneal_strategy);
    o.cycle_momentum = kw.value("cycle_momentum", o.cycle_momentum);
    if (kw.contains("base_momentum")) o.base_momentum = doubles(kw["base_momentum"]);
    if (kw.contains("max_momentum")) o.max_momentum = doubles(kw["max_momentum"]);
    o.div_factor = kw.value("div_factor", o.div_factor);
    o.final_div_factor = kw.value("final_div_factor", o.final_div_factor);
    o.three_phase = kw.value("three_phase", o.three_phase);
    return std::make_shared<OneCycleLR>(opt, o);
  }
  if (type == "LinearLR") {
    return std::make_shared<LinearLR>(opt, kw.value("start_factor", 1.0 / 3), kw.value("end_factor", 1.0),
                                      kw.value("total_iters", int64_t{5}));
  }
  if (type == "ConstantLR") {
    return std::make_shared<ConstantLR>(opt, kw.value("factor", 1.0 / 3),
                                        kw.value("total_iters", int64_t{5}));
  }
  if (type == "LambdaLR" || type == "MultiplicativeLR") {
    const std::string name = kw["lr_lambda"].get<std::string>();
    auto fn = [name](int64_t e) { return lambda_value(name, e); };
    if (type == "LambdaLR") return std::make_shared<LambdaLR>(opt, fn);
    return std::make_shared<MultiplicativeLR>(opt, fn);
  }
  if (type == "SequentialLR" || type == "ChainedScheduler") {
    std::vector<std::shared_ptr<LRScheduler>> children;
    for (const json& s : spec["children"]) children.push_back(make_scheduler(s, opt));
    if (type == "ChainedScheduler") return std::make_shared<ChainedScheduler>(children);
    return std::make_shared<SequentialLR>(opt, children, kw["milestones"].get<std::vector<int64_t>>());
  }
  ADD_FAILURE() << "no scheduler " << type;
  return nullptr;
}

std::unique_ptr<optim::Optimizer> scheduler_optimizer(const json& spec) {
  std::vector<optim::ParamGroup> groups;
  for (const json& lr : spec["group_lrs"]) {
    groups.push_back({{zeros({2}, {DType::kFloat64}).requires_grad_()}, {{"lr", lr.get<double>()}}});
  }
  return make_optimizer(spec["type"].get<std::string>(), spec.value("kwargs", json::object()),
                        std::move(groups));
}

std::vector<double> lrs_of(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(g.number("lr"));
  return out;
}

std::vector<double> momenta_of(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) {
    out.push_back(g.has("betas") ? g.pair("betas").first : g.has("momentum") ? g.number("momentum") : 0.0);
  }
  return out;
}

TEST(OptimGolden, SchedulersMatchPyTorch) {
  const json& cases = fixture()["schedulers"];
  ASSERT_GE(cases.size(), 20u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["scheduler"].dump());
    auto opt = scheduler_optimizer(c["optimizer"]);
    const json& spec = c["scheduler"];
    std::shared_ptr<optim::LRScheduler> sched;
    std::unique_ptr<optim::ReduceLROnPlateau> plateau;
    if (spec["type"] == "ReduceLROnPlateau") {
      const json& kw = spec["kwargs"];
      optim::ReduceLROnPlateauOptions o;
      o.mode = kw.value("mode", o.mode);
      o.factor = kw.value("factor", o.factor);
      o.patience = kw.value("patience", o.patience);
      o.threshold = kw.value("threshold", o.threshold);
      o.threshold_mode = kw.value("threshold_mode", o.threshold_mode);
      o.cooldown = kw.value("cooldown", o.cooldown);
      if (kw.contains("min_lr")) o.min_lr = doubles(kw["min_lr"]);
      plateau = std::make_unique<optim::ReduceLROnPlateau>(*opt, o);
    } else {
      sched = make_scheduler(spec, *opt);
      ASSERT_TRUE(sched);
    }
    ASSERT_TRUE(close_to(lrs_of(*opt), c["lrs"][0])) << "after construction";
    ASSERT_TRUE(close_to(momenta_of(*opt), c["momenta"][0])) << "after construction";
    if (sched && c.contains("last_lrs")) {
      EXPECT_TRUE(close_to(sched->get_last_lr(), c["last_lrs"][0]));
    }
    for (int64_t s = 0; s < c["steps"].get<int64_t>(); ++s) {
      opt->step();
      if (plateau) {
        plateau->step(c["metrics"][s].get<double>());
      } else {
        sched->step();
      }
      ASSERT_TRUE(close_to(lrs_of(*opt), c["lrs"][s + 1])) << "step " << s + 1;
      ASSERT_TRUE(close_to(momenta_of(*opt), c["momenta"][s + 1])) << "step " << s + 1;
      if (sched && c.contains("last_lrs")) {
        ASSERT_TRUE(close_to(sched->get_last_lr(), c["last_lrs"][s + 1])) << "get_last_lr at step " << s + 1;
      }
    }
  }
}

TEST(OptimGolden, ClipGradMatchesPyTorch) {
  const json& clip = fixture()["clip"];
  for (const json& c : clip["cases"]) {
    SCOPED_TRACE(c.dump().substr(0, 80));
    std::vector<Tensor> params;
    for (const json& g : clip["grads"]) {
      Tensor grad = tensor_of(g);
      Tensor p = zeros(grad.shape(), {DType::kFloat64}).requires_grad_();
      p.set_grad(grad.clone());
      params.push_back(p);
    }
    if (c["kind"] == "norm") {
      const double norm_type =
          c["norm_type"].is_string() ? std::numeric_limits<double>::infinity() : c["norm_type"].get<double>();
      Tensor total = nn::utils::clip_grad_norm_(params, c["max_norm"].get<double>(), norm_type);
      EXPECT_TRUE(close_to({total.item<double>()}, json::array({c["total_norm"]})));
    } else {
      nn::utils::clip_grad_value_(params, c["clip_value"].get<double>());
    }
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(close_to(params[i].grad().to_vector<double>(), c["clipped"][i]));
  }
}

// ---- behaviour ----

std::vector<Tensor> clones(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

// Optimizing 3 steps, saving, loading into a fresh optimizer over copies of the parameters, and going on
// gives exactly what going on with the first optimizer gives.
void expect_round_trip(const std::string& name, const json& kw) {
  SCOPED_TRACE(name + " " + kw.dump());
  std::vector<Tensor> a = initial_params();
  auto opt_a = make_optimizer(name, kw, optim::single_group(a));
  auto closure_a = closure_for(*opt_a, a);
  for (int i = 0; i < 3; ++i) opt_a->step(closure_a);

  std::vector<Tensor> b = clones(a);
  auto opt_b = make_optimizer(name, kw, optim::single_group(b));
  opt_b->load_state_dict(opt_a->state_dict());
  auto closure_b = closure_for(*opt_b, b);
  for (int i = 0; i < 3; ++i) {
    opt_a->step(closure_a);
    opt_b->step(closure_b);
  }
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].to_vector<double>(), b[i].to_vector<double>()) << "param " << i;
}

TEST(OptimTest, StateDictRoundTripContinuesExactly) {
  expect_round_trip("SGD", {{"lr", 0.1}, {"momentum", 0.9}});
  expect_round_trip("Adam", {{"lr", 0.05}, {"amsgrad", true}});
  expect_round_trip("RMSprop", {{"centered", true}, {"momentum", 0.5}});
  expect_round_trip("Adagrad", {{"lr_decay", 0.1}});
  expect_round_trip("NAdam", json::object());
  expect_round_trip("LBFGS", {{"max_iter", 4}, {"line_search_fn", "strong_wolfe"}});
}

TEST(OptimTest, StateDictLayoutAndDeepCopy) {
  std::vector<Tensor> params = initial_params();
  optim::Adam opt({{{params[0], params[1]}, {}}, {{params[2]}, {{"lr", 0.5}}}}, {.lr = 0.01});
  optim::LossClosure closure = closure_for(opt, params);
  opt.step(closure);
  optim::OptimizerStateDict sd = opt.state_dict();
  ASSERT_EQ(sd.param_groups.size(), 2u);
  EXPECT_EQ(sd.param_groups[0].params, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(sd.param_groups[1].params, (std::vector<int64_t>{2}));
  EXPECT_EQ(std::get<double>(sd.param_groups[1].options.at("lr")), 0.5);
  EXPECT_EQ(std::get<double>(sd.param_groups[0].options.at("lr")), 0.01);
  ASSERT_EQ(sd.state.size(), 3u);
  EXPECT_EQ(std::get<double>(sd.state.at(2).at("step")), 1.0);

  // Loading copies: stepping the loaded optimizer leaves the saved tensors alone.
  std::vector<Tensor> other = clones(params);
  optim::Adam loaded({{{other[0], other[1]}, {}}, {{other[2]}, {}}}, {.lr = 0.3});
  loaded.load_state_dict(sd);
  EXPECT_EQ(loaded.param_groups()[1].number("lr"), 0.5);
  const std::vector<double> before = std::get<Tensor>(sd.state.at(0).at("exp_avg")).to_vector<double>();
  loaded.step(closure_for(loaded, other));
  EXPECT_EQ(std::get<Tensor>(sd.state.at(0).at("exp_avg")).to_vector<double>(), before);
}

TEST(OptimTest, StateDictErrors) {
  std::vector<Tensor> params = initial_params();
  optim::SGD opt(params, {.lr = 0.1});
  optim::SGD two({{{params[0]}, {}}, {{params[1], params[2]}, {}}}, {.lr = 0.1});
  Error e = error_of([&] { opt.load_state_dict(two.state_dict()); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("loaded state dict has a different number of parameter groups"));
  optim::SGD fewer(std::vector<Tensor>{params[0], params[1]}, {.lr = 0.1});
  e = error_of([&] { opt.load_state_dict(fewer.state_dict()); });
  EXPECT_THAT(
      e.what(),
      HasSubstr(
          "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"));
}

TEST(OptimTest, GroupsTakeDefaultsAndOverrides) {
  std::vector<Tensor> params = initial_params();
  optim::SGD opt({{{params[0]}, {{"lr", 0.5}}}, {{params[1]}, {}}}, {.lr = 0.1, .momentum = 0.9});
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_EQ(opt.param_groups()[0].number("lr"), 0.5);
  EXPECT_EQ(opt.param_groups()[1].number("lr"), 0.1);
  EXPECT_EQ(opt.param_groups()[0].number("momentum"), 0.9);
  opt.add_param_group({{params[2]}, {{"momentum", 0.0}}});
  EXPECT_EQ(opt.param_groups()[2].number("lr"), 0.1);
  EXPECT_EQ(opt.param_groups()[2].number("momentum"), 0.0);

  // One plain SGD step: each group moves by its own lr.
  for (Tensor& p : params) p.set_grad(ones(p.shape(), {DType::kFloat64}));
  const double p0 = params[0].to_vector<double>()[0], p1 = params[1].to_vector<double>()[0];
  opt.step();
  EXPECT_DOUBLE_EQ(params[0].to_vector<double>()[0], p0 - 0.5);
  EXPECT_DOUBLE_EQ(params[1].to_vector<double>()[0], p1 - 0.1);
}

TEST(OptimTest, ZeroGradKeepsZerosByDefault) {
  std::vector<Tensor> params = initial_params();
  optim::SGD opt(params, {.lr = 0.1});
  loss_of(params).backward();
  opt.zero_grad();
  ASSERT_TRUE(params[0].grad().defined());
  EXPECT_EQ(params[0].grad().abs().sum().item<double>(), 0.0);
  opt.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(params[0].grad().defined());
  // A parameter without a gradient is skipped by step().
  const std::vector<double> before = params[0].to_vector<double>();
  opt.step();
  EXPECT_EQ(params[0].to_vector<double>(), before);
}

TEST(OptimTest, ConstructorErrorsUsePyTorchMessages) {
  std::vector<Tensor> params = initial_params();
  auto message = [](auto&& fn) {
    Error e = error_of(fn);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return std::string(e.what());
  };
  EXPECT_EQ(message([&] { optim::SGD(params, {.lr = -1}); }), "[SGD] Invalid learning rate: -1");
  EXPECT_THAT(message([&] { optim::SGD(params, {.lr = 0.1, .momentum = -0.5}); }),
              HasSubstr("Invalid momentum value: -0.5"));
  EXPECT_THAT(message([&] { optim::SGD(params, {.lr = 0.1, .nesterov = true}); }),
              HasSubstr("Nesterov momentum requires a momentum and zero dampening"));
  EXPECT_THAT(message([&] { optim::SGD(params, {}); }),
              HasSubstr("parameter group didn't specify a value of required optimization parameter lr"));
  EXPECT_THAT(message([&] {
                optim::Adam(params, {.betas = {1.0, 0.999}});
              }),
              HasSubstr("Invalid beta parameter at index 0: 1"));
  EXPECT_THAT(message([&] { optim::Adam(params, {.eps = -1e-8}); }),
              HasSubstr("Invalid epsilon value: -1e-08"));
  EXPECT_THAT(message([&] { optim::AdamW(params, {.weight_decay = -1}); }),
              HasSubstr("Invalid weight_decay value: -1"));
  EXPECT_THAT(message([&] { optim::RMSprop(params, {.alpha = -1}); }), HasSubstr("Invalid alpha value: -1"));
  EXPECT_THAT(message([&] { optim::Adagrad(params, {.lr_decay = -1}); }),
              HasSubstr("Invalid lr_decay value: -1"));
  EXPECT_THAT(message([&] { optim::Adadelta(params, {.rho = 1.5}); }), HasSubstr("Invalid rho value: 1.5"));
  EXPECT_THAT(message([&] { optim::NAdam(params, {.momentum_decay = -1}); }),
              HasSubstr("Invalid momentum_decay value: -1"));
  EXPECT_THAT(message([&] { optim::Adam(std::vector<Tensor>{}); }),
              HasSubstr("optimizer got an empty parameter list"));
  EXPECT_THAT(message([&] { optim::Adam(std::vector<Tensor>{params[0].mul(2)}); }),
              HasSubstr("can't optimize a non-leaf Tensor"));
  EXPECT_THAT(message([&] {
                optim::Adam({{{params[0]}, {}}, {{params[1], params[0]}, {}}});
              }),
              HasSubstr("some parameters appear in more than one parameter group"));
  EXPECT_THAT(message([&] {
                optim::LBFGS({{{params[0]}, {}}, {{params[1]}, {}}});
              }),
              HasSubstr("LBFGS doesn't support per-parameter options (parameter groups)"));
  EXPECT_THAT(message([&] { optim::LBFGS(params, {.line_search_fn = "backtracking"}); }),
              HasSubstr("only 'strong_wolfe' is supported"));
}

TEST(OptimTest, SchedulerErrors) {
  std::vector<Tensor> params = initial_params();
  optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
  optim::OneCycleLR one(opt, {.max_lr = {1.0}, .total_steps = 3});
  for (int i = 0; i < 3; ++i) one.step();
  EXPECT_THAT(error_of([&] { one.step(); }).what(),
              HasSubstr("Tried to step 5 times. The specified number of total steps is 3"));
  EXPECT_THAT(error_of([&] { optim::OneCycleLR(opt, {.max_lr = {1.0}}); }).what(),
              HasSubstr("You must define either total_steps OR (epochs AND steps_per_epoch)"));
  EXPECT_THAT(error_of([&] {
                optim::OneCycleLR(opt, {.max_lr = {1.0, 2.0}, .total_steps = 3});
              }).what(),
              HasSubstr("expected 1 values for max_lr, got 2"));
  EXPECT_THAT(error_of([&] { optim::ConstantLR(opt, 2.0); }).what(),
              HasSubstr("Constant multiplicative factor expected to be between 0 and 1."));
  EXPECT_THAT(error_of([&] { optim::ReduceLROnPlateau(opt, {.mode = "up"}); }).what(),
              HasSubstr("mode up is unknown!"));
  EXPECT_THAT(error_of([&] { optim::ReduceLROnPlateau(opt, {.factor = 1.0}); }).what(),
              HasSubstr("Factor should be < 1.0."));
  optim::SGD fresh(params, {.lr = 0.1});
  Error e = error_of([&] { optim::StepLR(fresh, 2, 0.1, /*last_epoch=*/3); });
  EXPECT_THAT(e.what(),
              HasSubstr("param 'initial_lr' is not specified in param_groups[0] when resuming an optimizer"));
  auto a = std::make_shared<optim::ExponentialLR>(opt, 0.9);
  auto b = std::make_shared<optim::ExponentialLR>(fresh, 0.9);
  EXPECT_THAT(error_of([&] {
                optim::SequentialLR(opt, {a, b}, {2});
              }).what(),
              HasSubstr("got schedulers at index 1 to be different than the optimizer passed in"));
  EXPECT_THAT(
      error_of([&] { optim::SequentialLR(opt, {a}, {2}); }).what(),
      HasSubstr("expects number of schedulers provided to be one more than the number of milestone points"));
}

TEST(OptimTest, SchedulerStateDictRoundTrip) {
  auto run = [](optim::SchedulerState* save, const optim::SchedulerState* load) {
    std::vector<Tensor> params = initial_params();
    optim::SGD opt(params, {.lr = 0.1});
    optim::CosineAnnealingWarmRestarts sched(opt, 3, 2, 0.01);
    if (load) {
      sched.load_state_dict(*load);
      opt.param_groups()[0].set("lr", sched.get_last_lr()[0]);
    } else {
      for (int i = 0; i < 7; ++i) sched.step();
    }
    if (save) *save = sched.state_dict();
    std::vector<double> lrs;
    for (int i = 0; i < 9; ++i) {
      sched.step();
      lrs.push_back(sched.get_last_lr()[0]);
    }
    return lrs;
  };
  optim::SchedulerState saved;
  std::vector<double> straight = run(&saved, nullptr);
  EXPECT_EQ(std::get<int64_t>(saved.values.at("last_epoch")), 7);
  EXPECT_EQ(run(nullptr, &saved), straight);
}

TEST(OptimTest, ClipGradNormErrorsOnNonFinite) {
  Tensor p = zeros({3}, {DType::kFloat64}).requires_grad_();
  p.set_grad(tensor(std::vector<double>{1.0, std::numeric_limits<double>::infinity(), 0.0}, {3}));
  Error e = error_of([&] { nn::utils::clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true); });
  EXPECT_THAT(e.what(),
              HasSubstr("The total norm of order 2.0 for gradients from `parameters` is non-finite"));
  EXPECT_EQ(nn::utils::clip_grad_norm_({zeros({2}).requires_grad_()}, 1.0).item<double>(), 0.0);
}

TEST(OptimTest, ParametersToVectorAndBack) {
  std::vector<Tensor> params = initial_params();
  Tensor v = nn::utils::parameters_to_vector(params);
  ASSERT_EQ(v.numel(), 6 + 3 + 4);
  EXPECT_EQ(v.narrow(0, 6, 3).to_vector<double>(), params[1].to_vector<double>());
  Tensor doubled = v.mul(2);
  nn::utils::vector_to_parameters(doubled, params);
  EXPECT_EQ(nn::utils::parameters_to_vector(params).to_vector<double>(), doubled.to_vector<double>());
  EXPECT_TRUE(params[0].requires_grad());
}

// The one-pass optimizer kernels run on each device; the reference is the op-by-op update on the CPU, so a
// CUDA kernel must give the CPU's values bit for bit (kernels/optimizer_ops.h: no fused multiply-add).
class OptimDeviceTest : public testing::DeviceTest {
 protected:
  // The many-parameter tests' parameters: CPU references and their copies as leaves on the device.
  struct ManyParameters {
    std::vector<Tensor> refs, params;
    std::vector<size_t> order;  // the optimizer's list: each parameter once, then one of them again
    std::vector<Tensor> listed() const {
      std::vector<Tensor> l;
      for (size_t i : order) l.push_back(params[i]);
      return l;
    }
  };
  // Parameters of the given sizes, then `more` small ones, every fourth float64 and the others float32, then
  // a strided one (which the one-pass kernels leave to the ops); parameter `twice` is listed twice.
  ManyParameters many_parameters(random::Generator& gen, std::vector<int64_t> sizes, int64_t more,
                                 size_t twice) const {
    for (int64_t i = 0; i < more; ++i) sizes.push_back(1 + (i * 37) % 300);
    ManyParameters m;
    for (size_t i = 0; i < sizes.size(); ++i) {
      m.refs.push_back(random::randn({sizes[i]}, gen).to(i % 4 == 1 ? DType::kFloat64 : DType::kFloat32));
      m.params.push_back(m.refs.back().to(device_.str(), false, /*copy=*/true).requires_grad_(true));
    }
    m.refs.push_back(random::randn({20, 30}, gen).t());
    m.params.push_back(m.refs.back()
                           .to(device_.str(), false, /*copy=*/true)
                           .t()
                           .contiguous()
                           .t()
                           .detach()
                           .requires_grad_(true));
    EXPECT_FALSE(m.params.back().is_contiguous());
    for (size_t i = 0; i < m.params.size(); ++i) m.order.push_back(i);
    m.order.push_back(twice);
    return m;
  }
};

// SGD with momentum past its first step runs as one pass over memory (Backend::sgd_momentum_step). It must
// give, bit for bit, what the ops of PyTorch's _single_tensor_sgd give one at a time, in float and double, for
// every option that changes the arithmetic, and move the version counters as those ops would.
TD_DEVICE_TEST(OptimDeviceTest, SGDMomentumStepIsTheOpByOpArithmeticBitForBit) {
  const std::vector<optim::SGDOptions> variants = {
      {.lr = 0.1, .momentum = 0.9},
      {.lr = 0.03, .momentum = 0.7, .dampening = 0.3, .weight_decay = 0.01},
      {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true},
      {.lr = 0.01, .momentum = 0.5, .maximize = true},
      {.lr = 0.02, .momentum = 0.8, .weight_decay = 0.2, .nesterov = true, .maximize = true},
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const optim::SGDOptions& o : variants) {
      random::Generator gen(11);
      // Large enough for the kernel's threads; odd, so a tail remains.
      Tensor ref = random::randn({70001}, gen).to(dtype), buf;
      Tensor p = ref.to(device_.str(), false, /*copy=*/true).requires_grad_(true);
      optim::SGD opt({p}, o);
      for (int step = 0; step < 4; ++step) {
        Tensor g = random::randn({70001}, gen).to(dtype);
        p.set_grad(g.to(device_.str()));
        const uint32_t version = p.version();
        opt.step();
        EXPECT_EQ(p.version(), version + 1);
        autograd::NoGradGuard no_grad;
        Tensor d = o.maximize ? g.neg() : g;
        if (o.weight_decay != 0) d = d.add(ref, o.weight_decay);
        if (!buf.defined()) {
          buf = d.clone();
        } else {
          buf.mul_(o.momentum).add_(d, 1 - o.dampening);
        }
        d = o.nesterov ? d.add(buf, o.momentum) : buf;
        ref.add_(d, -*o.lr);
        // Widening to double is exact: equal vectors are equal bits (randn draws no NaN).
        ASSERT_EQ(p.detach().to_vector<double>(), ref.to_vector<double>()) << scalar_type_name(dtype) << " step "
                                                                           << step;
      }
    }
  }
}

// Many parameters in one step (Backend::sgd_momentum_steps; on CUDA one launch for up to 96 of a dtype):
// sizes around the kernel's chunks of 4096, more parameters than one launch takes, float and double mixed,
// an empty one, a strided one (the ops take it) and one listed twice (updated twice, in its order, the second
// time by the ops): each must be, bit for bit, the op-by-op update run parameter by parameter in list order.
TD_DEVICE_TEST(OptimDeviceTest, SGDStepsManyParametersTogetherBitForBit) {
  const optim::SGDOptions o{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
  random::Generator gen(5);
  ManyParameters m = many_parameters(gen, {1, 4095, 4096, 4097, 70001, 0, 33}, 100, 2);
  std::vector<Tensor>&refs = m.refs, &params = m.params;
  const std::vector<size_t>& order = m.order;
  optim::SGD opt(m.listed(), o);
  std::vector<Tensor> bufs(params.size());
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      grads.push_back(random::randn(refs[i].shape(), gen).to(refs[i].dtype()));
      params[i].set_grad(grads[i].to(device_.str()));
    }
    opt.step();
    autograd::NoGradGuard no_grad;
    for (size_t i : order) {
      Tensor d = grads[i].add(refs[i], o.weight_decay);
      if (!bufs[i].defined()) {
        bufs[i] = d.clone();
      } else {
        bufs[i].mul_(o.momentum).add_(d, 1 - o.dampening);
      }
      d = d.add(bufs[i], o.momentum);
      refs[i].add_(d, -*o.lr);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      ASSERT_EQ(params[i].detach().to_vector<double>(), refs[i].to_vector<double>())
          << "parameter " << i << ", step " << step;
    }
  }
}

// Adam and AdamW run as one pass over memory (Backend::adam_step): bit for bit the ops of their single-tensor
// update, in float and double, for every option that changes the arithmetic.
TD_DEVICE_TEST(OptimDeviceTest, AdamStepIsTheOpByOpArithmeticBitForBit) {
  struct Variant {
    bool decoupled;
    optim::AdamOptions o;  // AdamW takes the same fields
  };
  const std::vector<Variant> variants = {
      {false, {.lr = 0.01}},
      {false, {.lr = 0.003, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.05}},
      {false, {.lr = 0.01, .weight_decay = 0.01, .amsgrad = true, .maximize = true}},
      {true, {.lr = 0.01, .weight_decay = 0.1}},
      {true, {.lr = 0.02, .betas = {0.5, 0.9}, .weight_decay = 0.0, .amsgrad = true}},
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Variant& v : variants) {
      const optim::AdamOptions& o = v.o;
      random::Generator gen(5);
      Tensor ref = random::randn({70001}, gen).to(dtype);
      Tensor p = ref.to(device_.str(), false, /*copy=*/true).requires_grad_(true);
      Tensor m = zeros({70001}, {dtype}), q = zeros({70001}, {dtype}), mx = zeros({70001}, {dtype});
      std::unique_ptr<optim::Optimizer> opt;
      if (v.decoupled) {
        opt = std::make_unique<optim::AdamW>(std::vector<Tensor>{p},
                                             optim::AdamWOptions{.lr = o.lr, .betas = o.betas, .eps = o.eps,
                                                                 .weight_decay = o.weight_decay,
                                                                 .amsgrad = o.amsgrad, .maximize = o.maximize});
      } else {
        opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, o);
      }
      for (int step = 1; step <= 4; ++step) {
        Tensor g = random::randn({70001}, gen).to(dtype);
        p.set_grad(g.to(device_.str()));
        opt->step();
        autograd::NoGradGuard no_grad;
        const auto [b1, b2] = o.betas;
        Tensor d = o.maximize ? g.neg() : g;
        if (v.decoupled) {
          ref.mul_(1 - o.lr * o.weight_decay);
        } else if (o.weight_decay != 0) {
          d = d.add(ref, o.weight_decay);
        }
        m.mul_(b1).add_(d, 1 - b1);
        q.mul_(b2).addcmul_(d, d, 1 - b2);
        const double step_size = o.lr / (1 - std::pow(b1, step)), bc2 = std::sqrt(1 - std::pow(b2, step));
        Tensor second = q;
        if (o.amsgrad) {
          mx.copy_(mx.maximum(q));
          second = mx;
        }
        ref.addcdiv_(m, second.sqrt().div(bc2).add_(o.eps), -step_size);
        ASSERT_EQ(p.detach().to_vector<double>(), ref.to_vector<double>())
            << scalar_type_name(dtype) << (v.decoupled ? " AdamW" : " Adam") << " step " << step;
      }
    }
  }
}

// Adam's parameters together (Backend::adam_steps; on CUDA one launch for up to 64 of a dtype and step
// count): more than one launch takes, float and double, an empty one, a strided one (the ops), one listed
// twice (two steps a call, the second by the ops), and one that gets its first gradient a step late (its own
// step count): bit for bit the op-by-op update of each in list order.
TD_DEVICE_TEST(OptimDeviceTest, AdamStepsManyParametersTogetherBitForBit) {
  const optim::AdamOptions o{.lr = 0.01, .weight_decay = 0.02, .amsgrad = true};
  random::Generator gen(6);
  ManyParameters mp = many_parameters(gen, {1, 4095, 4096, 4097, 20001, 0}, 70, 3);
  std::vector<Tensor>&refs = mp.refs, &params = mp.params;
  const std::vector<size_t>& order = mp.order;
  const size_t late = 7;  // no gradient at the first step
  optim::Adam opt(mp.listed(), o);
  const size_t n = params.size();
  std::vector<Tensor> m(n), q(n), mx(n);
  std::vector<int> steps(n, 0);
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> grads(n);
    for (size_t i = 0; i < n; ++i) {
      if (i == late && step == 0) {
        params[i].set_grad(Tensor());
        continue;
      }
      grads[i] = random::randn(refs[i].shape(), gen).to(refs[i].dtype());
      params[i].set_grad(grads[i].to(device_.str()));
    }
    opt.step();
    autograd::NoGradGuard no_grad;
    for (size_t i : order) {
      if (!grads[i].defined()) continue;
      if (!m[i].defined()) {
        const TensorOptions like{refs[i].dtype()};
        m[i] = zeros(refs[i].shape(), like), q[i] = zeros(refs[i].shape(), like),
        mx[i] = zeros(refs[i].shape(), like);
      }
      const int k = ++steps[i];
      const auto [b1, b2] = o.betas;
      Tensor d = grads[i].add(refs[i], o.weight_decay);
      m[i].mul_(b1).add_(d, 1 - b1);
      q[i].mul_(b2).addcmul_(d, d, 1 - b2);
      const double step_size = o.lr / (1 - std::pow(b1, k)), bc2 = std::sqrt(1 - std::pow(b2, k));
      mx[i].copy_(mx[i].maximum(q[i]));
      refs[i].addcdiv_(m[i], mx[i].sqrt().div(bc2).add_(o.eps), -step_size);
    }
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(params[i].detach().to_vector<double>(), refs[i].to_vector<double>())
          << "parameter " << i << ", step " << step;
    }
  }
}

TD_INSTANTIATE_DEVICES(OptimDeviceTest);

// y = x W^T + b with a known W and b, fitted from 64 samples by SGD with momentum.
TEST(OptimTest, SGDTrainsALinearRegression) {
  random::Generator gen(7);
  Tensor x = random::randn({64, 3}, gen);
  Tensor w_true = tensor(std::vector<float>{1.5f, -2.0f, 0.5f}, {1, 3});
  Tensor y = x.matmul(w_true.t()).add(0.25);
  auto model = std::make_shared<nn::Linear>(3, 1);
  optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::StepLR sched(opt, 100, 0.5);
  double loss = 0;
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    Tensor diff = (*model)(x).sub(y);
    Tensor l = diff.mul(diff).mean();
    l.backward();
    opt.step();
    sched.step();
    loss = l.item<double>();
  }
  EXPECT_LT(loss, 1e-6);
  EXPECT_NEAR(model->bias.item<double>(), 0.25, 1e-3);
}

}  // namespace
}  // namespace td
