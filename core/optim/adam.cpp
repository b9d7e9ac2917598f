// The Adam family as torch/optim's single-tensor loops (PyTorch 1.13): Adam, AdamW, Adamax, NAdam, RAdam;
// Adam's and AdamW's parameters updated together where the backend can (their foreach form: one launch for
// many parameters on CUDA). The step count is kept as a double in the state (PyTorch keeps a float32 tensor;
// the counts are exact in both).
#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/optim/common.h"
#include "core/optim/optimizers.h"
#include "core/tensor_impl.h"

namespace td::optim {

using detail::check_betas;
using detail::check_option;
using detail::zeros_like;

namespace {

void check_lr_eps(std::string_view name, double lr, double eps) {
  check_option(0.0 <= lr, name, "Invalid learning rate: ", lr);
  check_option(0.0 <= eps, name, "Invalid epsilon value: ", eps);
}

template <class O>
Options adam_defaults(std::string_view name, const O& o) {
  check_lr_eps(name, o.lr, o.eps);
  check_betas(name, o.betas);
  check_option(0.0 <= o.weight_decay, name, "Invalid weight_decay value: ", o.weight_decay);
  return {{"lr", o.lr},           {"betas", o.betas},      {"eps", o.eps}, {"weight_decay", o.weight_decay},
          {"amsgrad", o.amsgrad}, {"maximize", o.maximize}};
}

// The parameters of one device and one step count whose update can be one pass over memory
// (Backend::adam_steps, with the ops' arithmetic).
struct OnePass {
  Device device;
  double step;
  std::vector<AdamTensors> refs;
  // param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (undefined without amsgrad): alive while refs point
  // into them.
  std::vector<std::array<Tensor, 5>> tensors;
  std::vector<size_t> positions;  // in the group
};

// Adam and AdamW share everything but where the weight decay goes.
void adam_update(Optimizer& opt, bool decoupled) {
  for (ParamGroup& g : opt.param_groups()) {
    const auto [beta1, beta2] = g.pair("betas");
    const double lr = g.number("lr"), eps = g.number("eps"), weight_decay = g.number("weight_decay");
    const bool amsgrad = g.flag("amsgrad"), maximize = g.flag("maximize");
    auto constants = [&](double step) {
      const double step_size = lr / (1 - std::pow(beta1, step));
      const double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, step));
      return AdamStep{lr,        beta1,   beta2,   eps, weight_decay, step_size, bias_correction2_sqrt,
                      decoupled, amsgrad, maximize};
    };
    std::vector<OnePass> one_pass;                  // a batch per device and step count, updated first
    // Then these (with their position in the group and step count), in their order.
    std::vector<std::tuple<size_t, Tensor, double>> by_ops;
    // As SGD's: a parameter listed twice, or sharing memory with an earlier one, goes to the ops after it.
    std::unordered_set<const void*> seen;
    for (size_t k = 0; k < g.params.size(); ++k) {
      const Tensor& p = g.params[k];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = opt.state(p);
      if (st.empty()) {
        st.emplace("step", 0.0);
        st.emplace("exp_avg", zeros_like(p));
        st.emplace("exp_avg_sq", zeros_like(p));
        if (amsgrad) st.emplace("max_exp_avg_sq", zeros_like(p));
      }
      const double step = (state_get<double>(st, "step") += 1);
      const Tensor& exp_avg = state_get<Tensor>(st, "exp_avg");
      const Tensor& exp_avg_sq = state_get<Tensor>(st, "exp_avg_sq");
      const Tensor max_sq = amsgrad ? state_get<Tensor>(st, "max_exp_avg_sq") : Tensor();
      const std::array<Tensor, 5> tensors = {p, grad, exp_avg, exp_avg_sq, max_sq};
      bool overlaps = false;
      for (const Tensor& t : tensors) {
        if (t.defined()) overlaps = !seen.insert(t.impl().storage.get()).second || overlaps;
      }
      const bool allowed = amsgrad
                               ? detail::one_pass_update_allowed(p, grad, {&exp_avg, &exp_avg_sq, &max_sq})
                               : detail::one_pass_update_allowed(p, grad, {&exp_avg, &exp_avg_sq});
      if (overlaps || !allowed) {
        by_ops.emplace_back(k, p, step);
        continue;
      }
      auto batch = std::find_if(one_pass.begin(), one_pass.end(),
                                [&](const OnePass& b) { return b.device == p.device() && b.step == step; });
      if (batch == one_pass.end())
        batch = one_pass.insert(one_pass.end(), OnePass{p.device(), step, {}, {}, {}});
      batch->tensors.push_back(tensors);
      batch->positions.push_back(k);
    }
    for (OnePass& batch : one_pass) {
      for (const auto& t : batch.tensors) {
        batch.refs.push_back({strided_ref(t[0]), strided_ref(t[1]), strided_ref(t[2]), strided_ref(t[3]),
                              t[4].defined() ? strided_ref(t[4]) : StridedRef{}});
      }
      backend(batch.device.type).adam_steps(batch.refs, constants(batch.step), batch.device.index);
      for (size_t i = 0; i < batch.refs.size(); ++i) {
        const std::array<Tensor, 5>& t = batch.tensors[i];
        if (!batch.refs[i].done) {
          by_ops.emplace_back(batch.positions[i], t[0], batch.step);
          continue;
        }
        // The version counters move as the ops' would.
        t[0].impl().storage->version += decoupled ? 2 : 1;
        t[2].impl().storage->version += 2;
        t[3].impl().storage->version += 2;
        if (t[4].defined()) t[4].impl().storage->version += 1;
      }
    }
    std::sort(by_ops.begin(), by_ops.end(),
              [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    for (const auto& [k, p, step] : by_ops) {
      ParamState& st = opt.state(p);
      Tensor& exp_avg = state_get<Tensor>(st, "exp_avg");
      Tensor& exp_avg_sq = state_get<Tensor>(st, "exp_avg_sq");
      const AdamStep c = constants(step);
      Tensor grad = detail::signed_grad(p.grad(), maximize);
      if (decoupled) {
        p.mul_(1 - lr * weight_decay);
      } else if (weight_decay != 0) {
        grad = grad.add(p, weight_decay);
      }
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      Tensor denom;
      if (amsgrad) {
        Tensor& max_sq = state_get<Tensor>(st, "max_exp_avg_sq");
        max_sq.copy_(max_sq.maximum(exp_avg_sq));
        denom = max_sq.sqrt().div(c.bias_correction2_sqrt).add_(eps);
      } else {
        denom = exp_avg_sq.sqrt().div(c.bias_correction2_sqrt).add_(eps);
      }
      p.addcdiv_(exp_avg, denom, -c.step_size);
    }
  }
}

// The state every Adam-like algorithm starts from.
ParamState& moments_state(Optimizer& opt, const Tensor& p, const char* second) {
  ParamState& st = opt.state(p);
  if (st.empty()) {
    st.emplace("step", 0.0);
    st.emplace("exp_avg", zeros_like(p));
    st.emplace(second, zeros_like(p));
  }
  return st;
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o)
    : Optimizer("Adam", std::move(groups), adam_defaults("Adam", o)) {}

Tensor Adam::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  adam_update(*this, /*decoupled=*/false);
  count_step();
  return loss;
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions o)
    : Optimizer("AdamW", std::move(groups), adam_defaults("AdamW", o)) {}

Tensor AdamW::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  adam_update(*this, /*decoupled=*/true);
  count_step();
  return loss;
}

namespace {

Options adamax_defaults(const AdamaxOptions& o) {
  check_lr_eps("Adamax", o.lr, o.eps);
  check_betas("Adamax", o.betas);
  check_option(0.0 <= o.weight_decay, "Adamax", "Invalid weight_decay value: ", o.weight_decay);
  return {{"lr", o.lr},
          {"betas", o.betas},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"maximize", o.maximize}};
}

}  // namespace

Adamax::Adamax(std::vector<ParamGroup> groups, AdamaxOptions o)
    : Optimizer("Adamax", std::move(groups), adamax_defaults(o)) {}

Tensor Adamax::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const auto [beta1, beta2] = g.pair("betas");
    const double lr = g.number("lr"), eps = g.number("eps"), weight_decay = g.number("weight_decay");
    const bool maximize = g.flag("maximize");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      grad = detail::signed_grad(grad, maximize);
      ParamState& st = moments_state(*this, p, "exp_inf");
      const double step = (state_get<double>(st, "step") += 1);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      Tensor& exp_avg = state_get<Tensor>(st, "exp_avg");
      Tensor& exp_inf = state_get<Tensor>(st, "exp_inf");
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      // PyTorch takes amax over cat([exp_inf * beta2, |grad| + eps]): the elementwise maximum of the two.
      exp_inf.mul_(beta2);
      exp_inf.copy_(exp_inf.maximum(grad.abs().add_(eps)));
      const double clr = lr / (1 - std::pow(beta1, step));
      p.addcdiv_(exp_avg, exp_inf, -clr);
    }
  }
  count_step();
  return loss;
}

namespace {

Options nadam_defaults(const NAdamOptions& o) {
  check_lr_eps("NAdam", o.lr, o.eps);
  check_betas("NAdam", o.betas);
  check_option(0.0 <= o.weight_decay, "NAdam", "Invalid weight_decay value: ", o.weight_decay);
  check_option(0.0 <= o.momentum_decay, "NAdam", "Invalid momentum_decay value: ", o.momentum_decay);
  return {{"lr", o.lr},
          {"betas", o.betas},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"momentum_decay", o.momentum_decay}};
}

ParamState& nadam_state(Optimizer& opt, const Tensor& p) {
  ParamState& st = opt.state(p);
  if (st.empty()) {
    st.emplace("step", 0.0);
    st.emplace("mu_product", 1.0);
    st.emplace("exp_avg", zeros_like(p));
    st.emplace("exp_avg_sq", zeros_like(p));
  }
  return st;
}

}  // namespace

NAdam::NAdam(std::vector<ParamGroup> groups, NAdamOptions o)
    : Optimizer("NAdam", std::move(groups), nadam_defaults(o)) {}

Tensor NAdam::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const auto [beta1, beta2] = g.pair("betas");
    const double lr = g.number("lr"), eps = g.number("eps"), weight_decay = g.number("weight_decay"),
                 momentum_decay = g.number("momentum_decay");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = nadam_state(*this, p);
      const double step = (state_get<double>(st, "step") += 1);
      const double bias_correction2 = 1 - std::pow(beta2, step);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      const double mu = beta1 * (1. - 0.5 * std::pow(0.96, step * momentum_decay));
      const double mu_next = beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * momentum_decay));
      // PyTorch keeps mu_product in a float32 tensor and multiplies it there by the numbers (cast to float).
      double& mu_product = state_get<double>(st, "mu_product");
      const float mp = static_cast<float>(mu_product) * static_cast<float>(mu);
      mu_product = mp;
      const float mu_product_next = mp * static_cast<float>(mu) * static_cast<float>(mu_next);
      Tensor& exp_avg = state_get<Tensor>(st, "exp_avg");
      Tensor& exp_avg_sq = state_get<Tensor>(st, "exp_avg_sq");
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      Tensor denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps);
      p.addcdiv_(grad, denom, -lr * (1. - mu) / (1. - mu_product));
      p.addcdiv_(exp_avg, denom, -lr * mu_next / (1. - static_cast<double>(mu_product_next)));
    }
  }
  count_step();
  return loss;
}

namespace {

Options radam_defaults(const RAdamOptions& o) {
  check_lr_eps("RAdam", o.lr, o.eps);
  check_betas("RAdam", o.betas);
  check_option(0.0 <= o.weight_decay, "RAdam", "Invalid weight_decay value: ", o.weight_decay);
  return {{"lr", o.lr}, {"betas", o.betas}, {"eps", o.eps}, {"weight_decay", o.weight_decay}};
}

}  // namespace

RAdam::RAdam(std::vector<ParamGroup> groups, RAdamOptions o)
    : Optimizer("RAdam", std::move(groups), radam_defaults(o)) {}

Tensor RAdam::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const auto [beta1, beta2] = g.pair("betas");
    const double lr = g.number("lr"), eps = g.number("eps"), weight_decay = g.number("weight_decay");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = moments_state(*this, p, "exp_avg_sq");
      const double step = (state_get<double>(st, "step") += 1);
      const double bias_correction1 = 1 - std::pow(beta1, step);
      const double bias_correction2 = 1 - std::pow(beta2, step);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      Tensor& exp_avg = state_get<Tensor>(st, "exp_avg");
      Tensor& exp_avg_sq = state_get<Tensor>(st, "exp_avg_sq");
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      Tensor bias_corrected_exp_avg = exp_avg.div(bias_correction1);
      const double rho_inf = 2 / (1 - beta2) - 1;
      const double rho_t = rho_inf - 2 * step * std::pow(beta2, step) / bias_correction2;
      if (rho_t > 5.) {
        const double rect =
            std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        // Python's number / tensor is tensor.reciprocal() * number.
        Tensor adaptive_lr = exp_avg_sq.sqrt().add_(eps).reciprocal().mul(std::sqrt(bias_correction2));
        p.add_(bias_corrected_exp_avg.mul(lr).mul(adaptive_lr).mul(rect), -1.0);
      } else {
        p.add_(bias_corrected_exp_avg.mul(lr), -1.0);
      }
    }
  }
  count_step();
  return loss;
}

}  // namespace td::optim
