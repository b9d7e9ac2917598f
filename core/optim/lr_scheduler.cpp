// torch/optim/lr_scheduler.py (PyTorch 1.13): each get_lr() is PyTorch's, including its recursive forms.
#include "core/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/error.h"

namespace td::optim {

namespace {

constexpr double kPi = std::numbers::pi;

template <class T>
const T& value_of(const SchedulerState& s, const std::string& key) {
  auto it = s.values.find(key);
  TD_CHECK(it != s.values.end(), ErrorCode::kNotFound, "[lr_scheduler] state dict has no '", key, "'");
  const T* v = std::get_if<T>(&it->second);
  TD_CHECK(v, ErrorCode::kInvalidArgument, "[lr_scheduler] state dict entry '", key, "' has another type");
  return *v;
}

// _format_param: one value for every group, or exactly one per group.
std::vector<double> per_group(const Optimizer& opt, const std::string& name,
                              const std::vector<double>& values) {
  const size_t n = opt.param_groups().size();
  if (values.size() == 1) return std::vector<double>(n, values[0]);
  TD_CHECK_ARG(values.size() == n, "[lr_scheduler] expected ", n, " values for ", name, ", got ",
               values.size());
  return values;
}

}  // namespace

// ---- LRScheduler ----

LRScheduler::LRScheduler(Optimizer& optimizer, int64_t last_epoch)
    : optimizer_(&optimizer), last_epoch_(last_epoch) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    if (last_epoch == -1) {
      if (!groups[i].has("initial_lr")) groups[i].set("initial_lr", groups[i].number("lr"));
    } else {
      TD_CHECK(groups[i].has("initial_lr"), ErrorCode::kNotFound,
               "[lr_scheduler] KeyError: \"param 'initial_lr' is not specified in param_groups[", i,
               "] when resuming an optimizer\"");
    }
    base_lrs_.push_back(groups[i].number("initial_lr"));
  }
}

LRScheduler::LRScheduler(Optimizer& optimizer, Wrapper) : optimizer_(&optimizer) {}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply_lrs(get_lr());
}

void LRScheduler::step(double epoch) {
  ++step_count_;
  last_epoch_ = static_cast<int64_t>(epoch);
  std::optional<std::vector<double>> closed = closed_form_lr();
  apply_lrs(closed ? *closed : get_lr());
}

void LRScheduler::apply_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].set("lr", lrs[i]);
  last_lr_ = group_lrs();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> out;
  for (const ParamGroup& g : optimizer_->param_groups()) out.push_back(g.number("lr"));
  return out;
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState s;
  s.values["base_lrs"] = base_lrs_;
  s.values["last_epoch"] = last_epoch_;
  s.values["_step_count"] = step_count_;
  s.values["_last_lr"] = last_lr_;
  return s;
}

void LRScheduler::load_state_dict(const SchedulerState& s) {
  base_lrs_ = value_of<std::vector<double>>(s, "base_lrs");
  last_epoch_ = value_of<int64_t>(s, "last_epoch");
  step_count_ = value_of<int64_t>(s, "_step_count");
  last_lr_ = value_of<std::vector<double>>(s, "_last_lr");
}

// ---- LambdaLR, MultiplicativeLR ----

namespace {

std::vector<LambdaLR::Lambda> lambdas_for(const Optimizer& opt, std::vector<LambdaLR::Lambda> lambdas) {
  const size_t n = opt.param_groups().size();
  TD_CHECK_ARG(lambdas.size() == n, "[lr_scheduler] Expected ", n, " lr_lambdas, but got ", lambdas.size());
  return lambdas;
}

}  // namespace

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lr_lambda), last_epoch) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), lambdas_(lambdas_for(optimizer, std::move(lr_lambdas))) {
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < base_lrs_.size(); ++i) out.push_back(base_lrs_[i] * lambdas_[i](last_epoch_));
  return out;
}

MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch)
    : MultiplicativeLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lr_lambda),
                       last_epoch) {}

MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), lambdas_(lambdas_for(optimizer, std::move(lr_lambdas))) {
  initial_step();
}

std::vector<double> MultiplicativeLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ > 0) {
    for (size_t i = 0; i < out.size(); ++i) out[i] *= lambdas_[i](last_epoch_);
  }
  return out;
}

// ---- StepLR, MultiStepLR ----

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), step_size_(step_size), gamma_(gamma) {
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return out;
  for (double& lr : out) lr *= gamma_;
  return out;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> out;
  // Python's // floors.
  const auto k = static_cast<double>(last_epoch_ >= 0 ? last_epoch_ / step_size_
                                                      : -((-last_epoch_ + step_size_ - 1) / step_size_));
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, k));
  return out;
}

SchedulerState StepLR::state_dict() const {
  SchedulerState s = LRScheduler::state_dict();
  s.values["step_size"] = step_size_;
  s.values["gamma"] = gamma_;
  return s;
}

void StepLR::load_state_dict(const SchedulerState& s) {
  LRScheduler::load_state_dict(s);
  step_size_ = value_of<int64_t>(s, "step_size");
  gamma_ = value_of<double>(s, "gamma");
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma,
                         int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), gamma_(gamma) {
  for (int64_t m : milestones) ++milestones_[m];
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> out = group_lrs();
  auto it = milestones_.find(last_epoch_);
  if (it == milestones_.end()) return out;
  for (double& lr : out) lr *= std::pow(gamma_, static_cast<double>(it->second));
  return out;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  int64_t passed = 0;  // bisect_right over the sorted milestones, repeats included
  for (const auto& [m, count] : milestones_) {
    if (m <= last_epoch_) passed += count;
  }
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return out;
}

// ---- ConstantLR, LinearLR, ExponentialLR, PolynomialLR ----

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, int64_t total_iters, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), factor_(factor), total_iters_(total_iters) {
  TD_CHECK_ARG(factor <= 1.0 && factor >= 0,
               "[ConstantLR] Constant multiplicative factor expected to be between 0 and 1.");
  initial_step();
}

std::vector<double> ConstantLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : out) lr *= factor_;
  } else if (last_epoch_ == total_iters_) {
    for (double& lr : out) lr *= 1.0 / factor_;
  }
  return out;
}

std::optional<std::vector<double>> ConstantLR::closed_form_lr() const {
  std::vector<double> out;
  const double after = last_epoch_ >= total_iters_ ? 1.0 : 0.0;
  for (double base : base_lrs_) out.push_back(base * (factor_ + after * (1 - factor_)));
  return out;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters,
                   int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  TD_CHECK_ARG(start_factor <= 1.0 && start_factor >= 0,
               "[LinearLR] Starting multiplicative factor expected to be between 0 and 1.");
  TD_CHECK_ARG(end_factor <= 1.0 && end_factor >= 0,
               "[LinearLR] Ending multiplicative factor expected to be between 0 and 1.");
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : out) lr *= start_factor_;
    return out;
  }
  if (last_epoch_ > total_iters_) return out;
  const double f = 1. + (end_factor_ - start_factor_) /
                            (static_cast<double>(total_iters_) * start_factor_ +
                             static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_));
  for (double& lr : out) lr *= f;
  return out;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  std::vector<double> out;
  const auto done = static_cast<double>(std::min(total_iters_, last_epoch_));
  for (double base : base_lrs_) {
    out.push_back(base *
                  (start_factor_ + (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_)));
  }
  return out;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ == 0) return out;
  for (double& lr : out) lr *= gamma_;
  return out;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
  return out;
}

PolynomialLR::PolynomialLR(Optimizer& optimizer, int64_t total_iters, double power, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), total_iters_(total_iters), power_(power) {
  initial_step();
}

std::vector<double> PolynomialLR::get_lr() {
  std::vector<double> out = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ > total_iters_) return out;
  const auto e = static_cast<double>(last_epoch_), n = static_cast<double>(total_iters_);
  const double decay = std::pow((1.0 - e / n) / (1.0 - (e - 1) / n), power_);
  for (double& lr : out) lr *= decay;
  return out;
}

std::optional<std::vector<double>> PolynomialLR::closed_form_lr() const {
  std::vector<double> out;
  const auto done = static_cast<double>(std::min(total_iters_, last_epoch_));
  for (double base : base_lrs_)
    out.push_back(base * std::pow(1.0 - done / static_cast<double>(total_iters_), power_));
  return out;
}

// ---- cosine schedules ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch), t_max_(T_max), eta_min_(eta_min) {
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> out = group_lrs();
  const auto e = static_cast<double>(last_epoch_), T = static_cast<double>(t_max_);
  if (last_epoch_ == 0) return out;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = eta_min_ + (base_lrs_[i] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
    }
    return out;
  }
  // Python's %: the sign of the divisor.
  const int64_t period = 2 * t_max_;
  int64_t r = (last_epoch_ - 1 - t_max_) % period;
  if (r < 0) r += period;
  if (r == 0) {
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = out[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
    return out;
  }
  for (double& lr : out) {
    lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  }
  return out;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> out;
  for (double base : base_lrs_) {
    out.push_back(eta_min_ +
                  (base - eta_min_) *
                      (1 + std::cos(kPi * static_cast<double>(last_epoch_) / static_cast<double>(t_max_))) /
                      2);
  }
  return out;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult,
                                                         double eta_min, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      t_0_(T_0),
      t_i_(T_0),
      t_mult_(T_mult),
      eta_min_(eta_min),
      t_cur_(static_cast<double>(last_epoch)) {
  TD_CHECK_ARG(T_0 > 0, "[CosineAnnealingWarmRestarts] Expected positive integer T_0, but got ", T_0);
  TD_CHECK_ARG(T_mult >= 1, "[CosineAnnealingWarmRestarts] Expected integer T_mult >= 1, but got ", T_mult);
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> out;
  for (double base : base_lrs_) {
    out.push_back(eta_min_ +
                  (base - eta_min_) * (1 + std::cos(kPi * t_cur_ / static_cast<double>(t_i_))) / 2);
  }
  return out;
}

void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) {
    step(0.0);
    return;
  }
  ++step_count_;
  last_epoch_ += 1;
  t_cur_ += 1;
  if (t_cur_ >= static_cast<double>(t_i_)) {
    t_cur_ -= static_cast<double>(t_i_);
    t_i_ *= t_mult_;
  }
  apply_lrs(get_lr());
}

void CosineAnnealingWarmRestarts::step(double epoch) {
  TD_CHECK_ARG(epoch >= 0, "[CosineAnnealingWarmRestarts] Expected non-negative epoch, but got ", epoch);
  ++step_count_;
  const auto t0 = static_cast<double>(t_0_);
  if (epoch >= t0) {
    if (t_mult_ == 1) {
      t_cur_ = std::fmod(epoch, t0);
    } else {
      const auto m = static_cast<double>(t_mult_);
      const auto n = static_cast<int64_t>(std::log(epoch / t0 * (m - 1) + 1) / std::log(m));
      t_cur_ = epoch - t0 * (std::pow(m, static_cast<double>(n)) - 1) / (m - 1);
      t_i_ = t_0_ * static_cast<int64_t>(std::pow(m, static_cast<double>(n)));
    }
  } else {
    t_i_ = t_0_;
    t_cur_ = epoch;
  }
  last_epoch_ = static_cast<int64_t>(std::floor(epoch));
  apply_lrs(get_lr());
}

SchedulerState CosineAnnealingWarmRestarts::state_dict() const {
  SchedulerState s = LRScheduler::state_dict();
  s.values["T_0"] = t_0_;
  s.values["T_i"] = t_i_;
  s.values["T_mult"] = t_mult_;
  s.values["eta_min"] = eta_min_;
  s.values["T_cur"] = t_cur_;
  return s;
}

void CosineAnnealingWarmRestarts::load_state_dict(const SchedulerState& s) {
  LRScheduler::load_state_dict(s);
  t_0_ = value_of<int64_t>(s, "T_0");
  t_i_ = value_of<int64_t>(s, "T_i");
  t_mult_ = value_of<int64_t>(s, "T_mult");
  eta_min_ = value_of<double>(s, "eta_min");
  t_cur_ = value_of<double>(s, "T_cur");
}

// ---- OneCycleLR ----

namespace {

int64_t one_cycle_total_steps(const OneCycleLROptions& o) {
  TD_CHECK_ARG(o.total_steps || o.epochs || o.steps_per_epoch,
               "[OneCycleLR] You must define either total_steps OR (epochs AND steps_per_epoch)");
  if (o.total_steps) {
    TD_CHECK_ARG(*o.total_steps > 0, "[OneCycleLR] Expected positive integer total_steps, but got ",
                 *o.total_steps);
    return *o.total_steps;
  }
  TD_CHECK_ARG(o.epochs && *o.epochs > 0, "[OneCycleLR] Expected positive integer epochs, but got ",
               o.epochs ? std::to_string(*o.epochs) : "None");
  TD_CHECK_ARG(o.steps_per_epoch && *o.steps_per_epoch > 0,
               "[OneCycleLR] Expected positive integer steps_per_epoch, but got ",
               o.steps_per_epoch ? std::to_string(*o.steps_per_epoch) : "None");
  return *o.epochs * *o.steps_per_epoch;
}

// What OneCycleLR's constructor does before the base class's: initial_lr, max_lr, min_lr and the momenta are
// written into the groups, so base_lrs are max_lr / div_factor.
Optimizer& prepare_one_cycle(Optimizer& opt, const OneCycleLROptions& o, int64_t last_epoch) {
  one_cycle_total_steps(o);
  TD_CHECK_ARG(o.pct_start >= 0 && o.pct_start <= 1,
               "[OneCycleLR] Expected float between 0 and 1 pct_start, but got ", o.pct_start);
  TD_CHECK_ARG(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
               "[OneCycleLR] anneal_strategy must by one of 'cos' or 'linear', instead got ",
               o.anneal_strategy);
  auto& groups = opt.param_groups();
  const std::vector<double> max_lrs = per_group(opt, "max_lr", o.max_lr);
  if (last_epoch == -1) {
    for (size_t i = 0; i < groups.size(); ++i) {
      groups[i].set("initial_lr", max_lrs[i] / o.div_factor);
      groups[i].set("max_lr", max_lrs[i]);
      groups[i].set("min_lr", groups[i].number("initial_lr") / o.final_div_factor);
    }
  }
  if (o.cycle_momentum) {
    const bool has_betas = opt.defaults().count("betas") > 0;
    TD_CHECK_ARG(opt.defaults().count("momentum") || has_betas,
                 "[OneCycleLR] optimizer must support momentum with `cycle_momentum` option enabled");
    const std::vector<double> max_m = per_group(opt, "max_momentum", o.max_momentum);
    const std::vector<double> base_m = per_group(opt, "base_momentum", o.base_momentum);
    if (last_epoch == -1) {
      for (size_t i = 0; i < groups.size(); ++i) {
        if (has_betas) {
          groups[i].set("betas", std::pair{max_m[i], groups[i].pair("betas").second});
        } else {
          groups[i].set("momentum", max_m[i]);
        }
        groups[i].set("max_momentum", max_m[i]);
        groups[i].set("base_momentum", base_m[i]);
      }
    }
  }
  return opt;
}

}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleLROptions o, int64_t last_epoch)
    : LRScheduler(prepare_one_cycle(optimizer, o, last_epoch), last_epoch),
      total_steps_(one_cycle_total_steps(o)),
      cos_(o.anneal_strategy == "cos"),
      cycle_momentum_(o.cycle_momentum) {
  const auto total = static_cast<double>(total_steps_);
  if (o.three_phase) {
    phases_ = {{o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {2 * o.pct_start * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  use_beta1_ = cycle_momentum_ && optimizer.defaults().count("betas") > 0;
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (cos_) return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch_;
  TD_CHECK_ARG(step_num <= total_steps_, "[OneCycleLR] Tried to step ", step_num + 1,
               " times. The specified number of total steps is ", total_steps_);
  std::vector<double> lrs;
  for (ParamGroup& g : optimizer_->param_groups()) {
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (static_cast<double>(step_num) <= phase.end_step || i + 1 == phases_.size()) {
        const double pct = (static_cast<double>(step_num) - start_step) / (phase.end_step - start_step);
        lr = anneal(g.number(phase.start_lr), g.number(phase.end_lr), pct);
        if (cycle_momentum_)
          momentum = anneal(g.number(phase.start_momentum), g.number(phase.end_momentum), pct);
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) {
      if (use_beta1_) {
        g.set("betas", std::pair{momentum, g.pair("betas").second});
      } else {
        g.set("momentum", momentum);
      }
    }
  }
  return lrs;
}

// ---- SequentialLR, ChainedScheduler ----

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones, int64_t last_epoch)
    : LRScheduler(optimizer, Wrapper{}),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    TD_CHECK_ARG(
        &schedulers_[i]->optimizer() == &optimizer,
        "[SequentialLR] Sequential Schedulers expects all schedulers to belong to the same optimizer, but "
        "got schedulers at index ",
        i, " to be different than the optimizer passed in.");
  }
  TD_CHECK_ARG(
      milestones_.size() + 1 == schedulers_.size(),
      "[SequentialLR] Sequential Schedulers expects number of schedulers provided to be one more than the "
      "number of milestone points, but got number of schedulers ",
      schedulers_.size(), " and the number of milestones to be equal to ", milestones_.size());
  last_epoch_ = last_epoch + 1;
  // Undo what the children's constructors did, then start the first one again.
  for (ParamGroup& g : optimizer.param_groups()) g.set("lr", g.number("initial_lr"));
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto idx = static_cast<size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                       milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    s.step(0.0);
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

SchedulerState SequentialLR::state_dict() const {
  SchedulerState s;
  s.values["last_epoch"] = last_epoch_;
  s.values["_milestones"] = milestones_;
  s.values["_last_lr"] = last_lr_;
  for (const auto& c : schedulers_) s.schedulers.push_back(c->state_dict());
  return s;
}

void SequentialLR::load_state_dict(const SchedulerState& s) {
  last_epoch_ = value_of<int64_t>(s, "last_epoch");
  milestones_ = value_of<std::vector<int64_t>>(s, "_milestones");
  last_lr_ = value_of<std::vector<double>>(s, "_last_lr");
  TD_CHECK_ARG(s.schedulers.size() == schedulers_.size(), "[SequentialLR] state dict has ",
               s.schedulers.size(), " schedulers, this scheduler ", schedulers_.size());
  for (size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(s.schedulers[i]);
}

namespace {

Optimizer& first_optimizer(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  TD_CHECK_ARG(!schedulers.empty(), "[ChainedScheduler] needs at least one scheduler");
  return schedulers[0]->optimizer();
}

}  // namespace

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(first_optimizer(schedulers), Wrapper{}), schedulers_(std::move(schedulers)) {
  for (size_t i = 1; i < schedulers_.size(); ++i) {
    TD_CHECK_ARG(
        &schedulers_[i]->optimizer() == optimizer_,
        "[ChainedScheduler] ChainedScheduler expects all schedulers to belong to the same optimizer, but "
        "got schedulers at index 0 and ",
        i, " to be different");
  }
  last_lr_ = group_lrs();
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
  last_lr_ = group_lrs();
}

SchedulerState ChainedScheduler::state_dict() const {
  SchedulerState s;
  s.values["_last_lr"] = last_lr_;
  for (const auto& c : schedulers_) s.schedulers.push_back(c->state_dict());
  return s;
}

void ChainedScheduler::load_state_dict(const SchedulerState& s) {
  last_lr_ = value_of<std::vector<double>>(s, "_last_lr");
  TD_CHECK_ARG(s.schedulers.size() == schedulers_.size(), "[ChainedScheduler] state dict has ",
               s.schedulers.size(), " schedulers, this scheduler ", schedulers_.size());
  for (size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(s.schedulers[i]);
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions o)
    : optimizer_(&optimizer), options_(std::move(o)) {
  TD_CHECK_ARG(options_.factor < 1.0, "[ReduceLROnPlateau] Factor should be < 1.0.");
  const size_t n = optimizer.param_groups().size();
  if (options_.min_lr.size() == 1) {
    min_lrs_.assign(n, options_.min_lr[0]);
  } else {
    TD_CHECK_ARG(options_.min_lr.size() == n, "[ReduceLROnPlateau] expected ", n, " min_lrs, got ",
                 options_.min_lr.size());
    min_lrs_ = options_.min_lr;
  }
  TD_CHECK_ARG(options_.mode == "min" || options_.mode == "max", "[ReduceLROnPlateau] mode ", options_.mode,
               " is unknown!");
  TD_CHECK_ARG(options_.threshold_mode == "rel" || options_.threshold_mode == "abs",
               "[ReduceLROnPlateau] threshold mode ", options_.threshold_mode, " is unknown!");
  best_ = options_.mode == "min" ? std::numeric_limits<double>::infinity()
                                 : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const double th = options_.threshold;
  if (options_.mode == "min") return options_.threshold_mode == "rel" ? a < best * (1. - th) : a < best - th;
  return options_.threshold_mode == "rel" ? a > best * (th + 1.) : a > best + th;
}

void ReduceLROnPlateau::step(double current) {
  last_epoch_ += 1;
  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    reduce_lr();
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const ParamGroup& g : optimizer_->param_groups()) last_lr_.push_back(g.number("lr"));
}

void ReduceLROnPlateau::reduce_lr() {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double old_lr = groups[i].number("lr");
    const double new_lr = std::max(old_lr * options_.factor, min_lrs_[i]);
    if (old_lr - new_lr > options_.eps) groups[i].set("lr", new_lr);
  }
}

SchedulerState ReduceLROnPlateau::state_dict() const {
  SchedulerState s;
  s.values["factor"] = options_.factor;
  s.values["min_lrs"] = min_lrs_;
  s.values["patience"] = options_.patience;
  s.values["cooldown"] = options_.cooldown;
  s.values["cooldown_counter"] = cooldown_counter_;
  s.values["mode"] = options_.mode;
  s.values["threshold"] = options_.threshold;
  s.values["threshold_mode"] = options_.threshold_mode;
  s.values["best"] = best_;
  s.values["num_bad_epochs"] = num_bad_epochs_;
  s.values["eps"] = options_.eps;
  s.values["last_epoch"] = last_epoch_;
  s.values["_last_lr"] = last_lr_;
  return s;
}

void ReduceLROnPlateau::load_state_dict(const SchedulerState& s) {
  options_.factor = value_of<double>(s, "factor");
  min_lrs_ = value_of<std::vector<double>>(s, "min_lrs");
  options_.patience = value_of<int64_t>(s, "patience");
  options_.cooldown = value_of<int64_t>(s, "cooldown");
  cooldown_counter_ = value_of<int64_t>(s, "cooldown_counter");
  options_.mode = value_of<std::string>(s, "mode");
  options_.threshold = value_of<double>(s, "threshold");
  options_.threshold_mode = value_of<std::string>(s, "threshold_mode");
  best_ = value_of<double>(s, "best");
  num_bad_epochs_ = value_of<int64_t>(s, "num_bad_epochs");
  options_.eps = value_of<double>(s, "eps");
  last_epoch_ = value_of<int64_t>(s, "last_epoch");
  last_lr_ = value_of<std::vector<double>>(s, "_last_lr");
}

}  // namespace td::optim
