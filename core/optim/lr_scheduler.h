// torch.optim.lr_scheduler (PyTorch 1.13): schedulers that rewrite each parameter group's "lr" (and, for
// OneCycleLR, "momentum" or beta1) as step() is called, with PyTorch's chainable (recursive) formulas, so a
// value that other code changed in between carries on as it does in PyTorch. PyTorch's warnings (step order,
// get_lr outside step) and `verbose` printing are left out.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/optim/optimizer.h"

namespace td::optim {

/// One value of a scheduler's state dict.
using SchedulerValue =
    std::variant<double, int64_t, bool, std::string, std::vector<double>, std::vector<int64_t>>;

/// scheduler.state_dict(): the scheduler's attributes by PyTorch's names ("last_epoch", "base_lrs",
/// "_last_lr", "T_cur", ...), and the children's state dicts for SequentialLR and ChainedScheduler.
struct SchedulerState {
  std::map<std::string, SchedulerValue> values;
  std::vector<SchedulerState> schedulers;
};

/// Base of the epoch-indexed schedulers (torch.optim.lr_scheduler._LRScheduler).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and writes the new lr into every group.
  virtual void step();
  /// Jumps to `epoch` (deprecated in PyTorch): the closed form where the scheduler has one, else get_lr().
  virtual void step(double epoch);
  /// The lrs the last step() set, one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// The epoch count (-1 before the first step; construction makes it 0).
  int64_t last_epoch() const { return last_epoch_; }
  /// The lrs the schedule starts from (each group's initial_lr).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }
  virtual SchedulerState state_dict() const;
  virtual void load_state_dict(const SchedulerState& state);

 protected:
  /// Records initial_lr in each group (or, when resuming with last_epoch != -1, requires it) and base_lrs.
  /// Subclass constructors end with initial_step(), which PyTorch's base constructor calls.
  LRScheduler(Optimizer& optimizer, int64_t last_epoch);
  /// For ChainedScheduler and SequentialLR, which keep no lrs of their own.
  struct Wrapper {};
  LRScheduler(Optimizer& optimizer, Wrapper);
  /// _initial_step(): the step that sets epoch 0's lrs.
  void initial_step();
  /// The new lrs, from the groups' current ones (the chainable form).
  virtual std::vector<double> get_lr() = 0;
  /// The lrs at last_epoch computed from base_lrs, where the schedule has a closed form.
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  /// Writes lrs into the groups and records them as the last lrs.
  void apply_lrs(const std::vector<double>& lrs);
  /// Each group's current lr.
  std::vector<double> group_lrs() const;

  Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> last_lr_;

  friend class SequentialLR;
};

/// lr = base_lr * lr_lambda(epoch) (LambdaLR); one function for all groups or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t epoch)>;
  LambdaLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch = -1);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

/// lr *= lr_lambda(epoch) each epoch after the first (MultiplicativeLR).
class MultiplicativeLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t epoch)>;
  MultiplicativeLR(Optimizer& optimizer, Lambda lr_lambda, int64_t last_epoch = -1);
  MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

/// lr *= gamma every step_size epochs (StepLR).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1, int64_t last_epoch = -1);
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr *= gamma at each milestone (counted as often as it is listed) (MultiStepLR).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1,
              int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  std::map<int64_t, int64_t> milestones_;  // milestone -> how many times it was given (PyTorch's Counter)
  double gamma_;
};

/// lr = base_lr * factor until total_iters, then base_lr (ConstantLR).
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3, int64_t total_iters = 5, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double factor_;
  int64_t total_iters_;
};

/// lr goes linearly from base_lr * start_factor to base_lr * end_factor over total_iters epochs (LinearLR).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

/// lr *= gamma every epoch (ExponentialLR).
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  double gamma_;
};

/// lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power (PolynomialLR).
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(Optimizer& optimizer, int64_t total_iters = 5, double power = 1.0, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t total_iters_;
  double power_;
};

/// Cosine annealing from base_lr to eta_min over T_max epochs, and back up past T_max, in PyTorch's recursive
/// form (CosineAnnealingLR).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

/// Cosine annealing restarted every T_i epochs, T_i growing by T_mult (SGDR, CosineAnnealingWarmRestarts).
/// step(epoch) accepts fractional epochs.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult = 1, double eta_min = 0,
                              int64_t last_epoch = -1);
  void step() override;
  void step(double epoch) override;
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t t_0_, t_i_, t_mult_;
  double eta_min_, t_cur_;
};

/// OneCycleLR's arguments. max_lr, base_momentum and max_momentum hold one value for every group or one per
/// group. Give total_steps, or epochs and steps_per_epoch.
struct OneCycleLROptions {
  std::vector<double> max_lr;
  std::optional<int64_t> total_steps = std::nullopt;
  std::optional<int64_t> epochs = std::nullopt;
  std::optional<int64_t> steps_per_epoch = std::nullopt;
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";
  bool cycle_momentum = true;
  std::vector<double> base_momentum = {0.85};
  std::vector<double> max_momentum = {0.95};
  double div_factor = 25.;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

/// The 1cycle policy: lr up from max_lr / div_factor to max_lr, then down to initial_lr / final_div_factor
/// (optionally in three phases), momentum (or Adam's beta1) cycling the other way (OneCycleLR).
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options, int64_t last_epoch = -1);

 protected:
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    const char *start_lr, *end_lr, *start_momentum, *end_momentum;
  };
  double anneal(double start, double end, double pct) const;
  int64_t total_steps_;
  std::vector<Phase> phases_;
  bool cos_;
  bool cycle_momentum_;
  bool use_beta1_ = false;
};

/// Runs one scheduler after another, switching at the milestones (SequentialLR).
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones, int64_t last_epoch = -1);
  using LRScheduler::step;
  void step() override;
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

/// Steps every scheduler each epoch, so their (chainable) factors multiply (ChainedScheduler).
class ChainedScheduler : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  using LRScheduler::step;
  void step() override;
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

/// ReduceLROnPlateau's arguments; min_lr holds one value for every group or one per group.
struct ReduceLROnPlateauOptions {
  std::string mode = "min";
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0};
  double eps = 1e-8;
};

/// Multiplies lr by factor when a metric has stopped improving for `patience` epochs (ReduceLROnPlateau).
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  /// Records this epoch's metric and reduces the lrs if it is time.
  void step(double metrics);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  /// The best metric so far (inf or -inf before any).
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  SchedulerState state_dict() const;
  void load_state_dict(const SchedulerState& state);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();
  Optimizer* optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace td::optim
