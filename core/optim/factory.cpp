// The optimizer and scheduler tables. Keyword arguments are read by name into each algorithm's options
// struct; a name the struct does not have is refused, as Python refuses an unexpected keyword.
#include "core/optim/factory.h"

#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "core/optim/optimizers.h"

namespace td::optim {

namespace {

// Keyword arguments being read: each read marks its name used; finish() refuses the unused ones.
class KwargReader {
 public:
  KwargReader(std::string owner, const Kwargs& kwargs) : owner_(std::move(owner)) {
    for (const auto& [k, v] : kwargs) {
      TD_CHECK_ARG(values_.emplace(k, v).second, "[", owner_, "] got multiple values for argument '", k, "'");
    }
  }
  void number(const char* key, double& out) {
    if (const Value* v = take(key)) out = scalar(key, *v, false).to_double();
  }
  void number(const char* key, std::optional<double>& out) {
    if (const Value* v = take(key)) out = scalar(key, *v, false).to_double();
  }
  void integer(const char* key, int64_t& out) {
    if (const Value* v = take(key)) out = scalar(key, *v, true).to_int();
  }
  void integer(const char* key, std::optional<int64_t>& out) {
    if (const Value* v = take(key); v && !std::holds_alternative<None>(*v)) out = scalar(key, *v, true).to_int();
  }
  void flag(const char* key, bool& out) {
    if (const Value* v = take(key)) {
      const Scalar s = scalar(key, *v, false);
      TD_CHECK_ARG(s.is_bool(), "[", owner_, "] argument '", key, "' must be bool");
      out = s.to_int() != 0;
    }
  }
  void text(const char* key, std::string& out) {
    if (const Value* v = take(key)) {
      if (std::holds_alternative<None>(*v)) {
        out.clear();
        return;
      }
      const auto* s = std::get_if<std::string>(v);
      TD_CHECK_ARG(s, "[", owner_, "] argument '", key, "' must be str");
      out = *s;
    }
  }
  void pair(const char* key, std::pair<double, double>& out) {
    if (const Value* v = take(key)) {
      const auto* t = std::get_if<Tensor>(v);
      TD_CHECK_ARG(t && t->numel() == 2, "[", owner_, "] argument '", key, "' must be a pair of floats (a float ",
                   "tensor of 2 values)");
      Tensor c = t->to(DType::kFloat64).to("cpu").contiguous();
      out = {c.data<double>()[0], c.data<double>()[1]};
    }
  }
  void ints(const char* key, std::vector<int64_t>& out) {
    if (const Value* v = take(key)) {
      if (const auto* l = std::get_if<std::vector<int64_t>>(v)) {
        out = *l;
      } else {
        out = {scalar(key, *v, true).to_int()};
      }
    }
  }
  void floats(const char* key, std::vector<double>& out) {
    if (const Value* v = take(key)) {
      if (const auto* t = std::get_if<Tensor>(v)) {
        Tensor c = t->to(DType::kFloat64).to("cpu").contiguous();
        out.assign(c.data<double>(), c.data<double>() + c.numel());
      } else {
        out = {scalar(key, *v, false).to_double()};
      }
    }
  }
  void finish() const {
    for (const auto& [k, v] : values_) {
      TD_CHECK_ARG(used_.count(k), "[", owner_, "] __init__() got an unexpected keyword argument '", k, "'");
    }
  }
  bool has(const char* key) const { return values_.count(key) > 0; }

 private:
  const Value* take(const char* key) {
    auto it = values_.find(key);
    if (it == values_.end()) return nullptr;
    used_.insert(key);
    return &it->second;
  }
  Scalar scalar(const char* key, const Value& v, bool integral) const {
    const auto* s = std::get_if<Scalar>(&v);
    TD_CHECK_ARG(s && !s->is_complex() && (!integral || (s->is_integral() && !s->is_bool())), "[", owner_,
                 "] argument '", key, "' must be ", integral ? "int" : "a number");
    return *s;
  }
  std::string owner_;
  std::map<std::string, Value> values_;
  std::set<std::string> used_;
};

// A group's overrides as the optimizer's option dict.
Options group_options(const std::string& owner, const Kwargs& kwargs) {
  Options out;
  for (const auto& [key, v] : kwargs) {
    if (const auto* s = std::get_if<Scalar>(&v)) {
      if (s->is_bool()) {
        out[key] = s->to_int() != 0;
      } else if (s->is_integral()) {
        out[key] = static_cast<double>(s->to_int());
      } else {
        out[key] = s->to_double();
      }
    } else if (const auto* t = std::get_if<Tensor>(&v); t && t->numel() == 2) {
      Tensor c = t->to(DType::kFloat64).to("cpu").contiguous();
      out[key] = std::pair<double, double>{c.data<double>()[0], c.data<double>()[1]};
    } else if (const auto* str_value = std::get_if<std::string>(&v)) {
      out[key] = *str_value;
    } else {
      throw Error(ErrorCode::kInvalidArgument, str("[", owner, "] group option '", key, "' must be a number, a ",
                                                  "bool, a string or a pair of floats"));
    }
  }
  return out;
}

template <class Opt, class Options>
std::unique_ptr<Optimizer> build(std::vector<ParamGroup> groups, const Options& o) {
  return std::make_unique<Opt>(std::move(groups), o);
}

}  // namespace

std::unique_ptr<Optimizer> create_optimizer(std::string_view name_view, std::vector<GroupSpec> specs,
                                            const Kwargs& defaults) {
  const std::string name(name_view);
  std::vector<ParamGroup> groups;
  for (GroupSpec& g : specs) groups.push_back(ParamGroup{std::move(g.params), group_options(name, g.options)});
  KwargReader r(name, defaults);
  std::unique_ptr<Optimizer> out;
  if (name == "SGD") {
    SGDOptions o;
    r.number("lr", o.lr);
    r.number("momentum", o.momentum);
    r.number("dampening", o.dampening);
    r.number("weight_decay", o.weight_decay);
    r.flag("nesterov", o.nesterov);
    r.flag("maximize", o.maximize);
    r.finish();
    return build<SGD>(std::move(groups), o);
  }
  if (name == "Adam" || name == "AdamW") {
    AdamOptions o;
    AdamWOptions w;
    auto read = [&](auto& opts) {
      r.number("lr", opts.lr);
      r.pair("betas", opts.betas);
      r.number("eps", opts.eps);
      r.number("weight_decay", opts.weight_decay);
      r.flag("amsgrad", opts.amsgrad);
      r.flag("maximize", opts.maximize);
      r.finish();
    };
    if (name == "Adam") {
      read(o);
      return build<Adam>(std::move(groups), o);
    }
    read(w);
    return build<AdamW>(std::move(groups), w);
  }
  if (name == "Adamax") {
    AdamaxOptions o;
    r.number("lr", o.lr);
    r.pair("betas", o.betas);
    r.number("eps", o.eps);
    r.number("weight_decay", o.weight_decay);
    r.flag("maximize", o.maximize);
    r.finish();
    return build<Adamax>(std::move(groups), o);
  }
  if (name == "NAdam") {
    NAdamOptions o;
    r.number("lr", o.lr);
    r.pair("betas", o.betas);
    r.number("eps", o.eps);
    r.number("weight_decay", o.weight_decay);
    r.number("momentum_decay", o.momentum_decay);
    r.finish();
    return build<NAdam>(std::move(groups), o);
  }
  if (name == "RAdam") {
    RAdamOptions o;
    r.number("lr", o.lr);
    r.pair("betas", o.betas);
    r.number("eps", o.eps);
    r.number("weight_decay", o.weight_decay);
    r.finish();
    return build<RAdam>(std::move(groups), o);
  }
  if (name == "RMSprop") {
    RMSpropOptions o;
    r.number("lr", o.lr);
    r.number("alpha", o.alpha);
    r.number("eps", o.eps);
    r.number("weight_decay", o.weight_decay);
    r.number("momentum", o.momentum);
    r.flag("centered", o.centered);
    r.flag("maximize", o.maximize);
    r.finish();
    return build<RMSprop>(std::move(groups), o);
  }
  if (name == "Adagrad") {
    AdagradOptions o;
    r.number("lr", o.lr);
    r.number("lr_decay", o.lr_decay);
    r.number("weight_decay", o.weight_decay);
    r.number("initial_accumulator_value", o.initial_accumulator_value);
    r.number("eps", o.eps);
    r.flag("maximize", o.maximize);
    r.finish();
    return build<Adagrad>(std::move(groups), o);
  }
  if (name == "Adadelta") {
    AdadeltaOptions o;
    r.number("lr", o.lr);
    r.number("rho", o.rho);
    r.number("eps", o.eps);
    r.number("weight_decay", o.weight_decay);
    r.flag("maximize", o.maximize);
    r.finish();
    return build<Adadelta>(std::move(groups), o);
  }
  TD_CHECK(name != "LBFGS", ErrorCode::kUnimplemented,
           "[create_optimizer] LBFGS re-evaluates the loss through a closure, which a command cannot carry");
  throw Error(ErrorCode::kNotFound, str("[create_optimizer] no optimizer named '", name, "'"));
}

std::unique_ptr<LRScheduler> create_scheduler(std::string_view name_view, Optimizer& opt, const Kwargs& kwargs) {
  const std::string name(name_view);
  KwargReader r(name, kwargs);
  int64_t last_epoch = -1;
  r.integer("last_epoch", last_epoch);
  auto required = [&](const char* key) {
    TD_CHECK_ARG(r.has(key), "[", name, "] __init__() missing required argument: '", key, "'");
  };
  if (name == "StepLR") {
    required("step_size");
    int64_t step_size = 0;
    double gamma = 0.1;
    r.integer("step_size", step_size);
    r.number("gamma", gamma);
    r.finish();
    return std::make_unique<StepLR>(opt, step_size, gamma, last_epoch);
  }
  if (name == "MultiStepLR") {
    required("milestones");
    std::vector<int64_t> milestones;
    double gamma = 0.1;
    r.ints("milestones", milestones);
    r.number("gamma", gamma);
    r.finish();
    return std::make_unique<MultiStepLR>(opt, milestones, gamma, last_epoch);
  }
  if (name == "ConstantLR") {
    double factor = 1.0 / 3;
    int64_t total_iters = 5;
    r.number("factor", factor);
    r.integer("total_iters", total_iters);
    r.finish();
    return std::make_unique<ConstantLR>(opt, factor, total_iters, last_epoch);
  }
  if (name == "LinearLR") {
    double start = 1.0 / 3, end = 1.0;
    int64_t total_iters = 5;
    r.number("start_factor", start);
    r.number("end_factor", end);
    r.integer("total_iters", total_iters);
    r.finish();
    return std::make_unique<LinearLR>(opt, start, end, total_iters, last_epoch);
  }
  if (name == "ExponentialLR") {
    required("gamma");
    double gamma = 0;
    r.number("gamma", gamma);
    r.finish();
    return std::make_unique<ExponentialLR>(opt, gamma, last_epoch);
  }
  if (name == "PolynomialLR") {
    int64_t total_iters = 5;
    double power = 1.0;
    r.integer("total_iters", total_iters);
    r.number("power", power);
    r.finish();
    return std::make_unique<PolynomialLR>(opt, total_iters, power, last_epoch);
  }
  if (name == "CosineAnnealingLR") {
    required("T_max");
    int64_t t_max = 0;
    double eta_min = 0;
    r.integer("T_max", t_max);
    r.number("eta_min", eta_min);
    r.finish();
    return std::make_unique<CosineAnnealingLR>(opt, t_max, eta_min, last_epoch);
  }
  if (name == "CosineAnnealingWarmRestarts") {
    required("T_0");
    int64_t t0 = 0, t_mult = 1;
    double eta_min = 0;
    r.integer("T_0", t0);
    r.integer("T_mult", t_mult);
    r.number("eta_min", eta_min);
    r.finish();
    return std::make_unique<CosineAnnealingWarmRestarts>(opt, t0, t_mult, eta_min, last_epoch);
  }
  if (name == "OneCycleLR") {
    required("max_lr");
    OneCycleLROptions o;
    r.floats("max_lr", o.max_lr);
    r.integer("total_steps", o.total_steps);
    r.integer("epochs", o.epochs);
    r.integer("steps_per_epoch", o.steps_per_epoch);
    r.number("pct_start", o.pct_start);
    r.text("anneal_strategy", o.anneal_strategy);
    r.flag("cycle_momentum", o.cycle_momentum);
    r.floats("base_momentum", o.base_momentum);
    r.floats("max_momentum", o.max_momentum);
    r.number("div_factor", o.div_factor);
    r.number("final_div_factor", o.final_div_factor);
    r.flag("three_phase", o.three_phase);
    r.finish();
    return std::make_unique<OneCycleLR>(opt, o, last_epoch);
  }
  throw Error(ErrorCode::kNotFound, str("[create_scheduler] no lr scheduler named '", name, "'"));
}

}  // namespace td::optim
