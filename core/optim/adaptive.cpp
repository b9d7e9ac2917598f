// RMSprop, Adagrad and Adadelta as torch/optim's single-tensor loops (PyTorch 1.13).
#include "core/autograd/grad_mode.h"
#include "core/optim/common.h"
#include "core/optim/optimizers.h"

namespace td::optim {

using detail::check_option;
using detail::zeros_like;

namespace {

Options rmsprop_defaults(const RMSpropOptions& o) {
  check_option(0.0 <= o.lr, "RMSprop", "Invalid learning rate: ", o.lr);
  check_option(0.0 <= o.eps, "RMSprop", "Invalid epsilon value: ", o.eps);
  check_option(0.0 <= o.momentum, "RMSprop", "Invalid momentum value: ", o.momentum);
  check_option(0.0 <= o.weight_decay, "RMSprop", "Invalid weight_decay value: ", o.weight_decay);
  check_option(0.0 <= o.alpha, "RMSprop", "Invalid alpha value: ", o.alpha);
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"alpha", o.alpha},
          {"eps", o.eps},
          {"centered", o.centered},
          {"weight_decay", o.weight_decay},
          {"maximize", o.maximize}};
}

}  // namespace

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions o)
    : Optimizer("RMSprop", std::move(groups), rmsprop_defaults(o)) {}

Tensor RMSprop::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const double lr = g.number("lr"), alpha = g.number("alpha"), eps = g.number("eps"),
                 weight_decay = g.number("weight_decay"), momentum = g.number("momentum");
    const bool centered = g.flag("centered"), maximize = g.flag("maximize");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = state(p);
      if (st.empty()) {
        st.emplace("step", int64_t{0});
        st.emplace("square_avg", zeros_like(p));
        if (momentum > 0) st.emplace("momentum_buffer", zeros_like(p));
        if (centered) st.emplace("grad_avg", zeros_like(p));
      }
      state_get<int64_t>(st, "step") += 1;
      grad = detail::signed_grad(grad, maximize);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      Tensor& square_avg = state_get<Tensor>(st, "square_avg");
      square_avg.mul_(alpha).addcmul_(grad, grad, 1 - alpha);
      Tensor avg;
      if (centered) {
        Tensor& grad_avg = state_get<Tensor>(st, "grad_avg");
        grad_avg.mul_(alpha).add_(grad, 1 - alpha);
        avg = square_avg.addcmul(grad_avg, grad_avg, -1).sqrt_();
      } else {
        avg = square_avg.sqrt();
      }
      avg.add_(eps);
      if (momentum > 0) {
        Tensor& buf = state_get<Tensor>(st, "momentum_buffer");
        buf.mul_(momentum).addcdiv_(grad, avg);
        p.add_(buf, -lr);
      } else {
        p.addcdiv_(grad, avg, -lr);
      }
    }
  }
  count_step();
  return loss;
}

namespace {

Options adagrad_defaults(const AdagradOptions& o) {
  check_option(0.0 <= o.lr, "Adagrad", "Invalid learning rate: ", o.lr);
  check_option(0.0 <= o.lr_decay, "Adagrad", "Invalid lr_decay value: ", o.lr_decay);
  check_option(0.0 <= o.weight_decay, "Adagrad", "Invalid weight_decay value: ", o.weight_decay);
  check_option(0.0 <= o.initial_accumulator_value, "Adagrad",
               "Invalid initial_accumulator_value value: ", o.initial_accumulator_value);
  check_option(0.0 <= o.eps, "Adagrad", "Invalid epsilon value: ", o.eps);
  return {{"lr", o.lr},
          {"lr_decay", o.lr_decay},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"initial_accumulator_value", o.initial_accumulator_value},
          {"maximize", o.maximize}};
}

}  // namespace

Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions o)
    : Optimizer("Adagrad", std::move(groups), adagrad_defaults(o)) {
  // PyTorch fills the accumulator with the *constructor's* value for every group.
  for (ParamGroup& g : param_groups()) {
    for (const Tensor& p : g.params) {
      ParamState& st = state(p);
      st["step"] = 0.0;
      st["sum"] = full(p.shape(), o.initial_accumulator_value, {p.dtype(), p.device()});
    }
  }
}

Tensor Adagrad::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const double lr = g.number("lr"), lr_decay = g.number("lr_decay"), eps = g.number("eps"),
                 weight_decay = g.number("weight_decay");
    const bool maximize = g.flag("maximize");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = state(p);
      const double step = (state_get<double>(st, "step") += 1);
      grad = detail::signed_grad(grad, maximize);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      const double clr = lr / (1 + (step - 1) * lr_decay);
      Tensor& sum = state_get<Tensor>(st, "sum");
      sum.addcmul_(grad, grad, 1);
      Tensor std = sum.sqrt().add_(eps);
      p.addcdiv_(grad, std, -clr);
    }
  }
  count_step();
  return loss;
}

namespace {

Options adadelta_defaults(const AdadeltaOptions& o) {
  check_option(0.0 <= o.lr, "Adadelta", "Invalid learning rate: ", o.lr);
  check_option(0.0 <= o.rho && o.rho <= 1.0, "Adadelta", "Invalid rho value: ", o.rho);
  check_option(0.0 <= o.eps, "Adadelta", "Invalid epsilon value: ", o.eps);
  check_option(0.0 <= o.weight_decay, "Adadelta", "Invalid weight_decay value: ", o.weight_decay);
  return {{"lr", o.lr},
          {"rho", o.rho},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"maximize", o.maximize}};
}

}  // namespace

Adadelta::Adadelta(std::vector<ParamGroup> groups, AdadeltaOptions o)
    : Optimizer("Adadelta", std::move(groups), adadelta_defaults(o)) {}

Tensor Adadelta::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const double lr = g.number("lr"), rho = g.number("rho"), eps = g.number("eps"),
                 weight_decay = g.number("weight_decay");
    const bool maximize = g.flag("maximize");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = state(p);
      if (st.empty()) {
        st.emplace("step", int64_t{0});
        st.emplace("square_avg", zeros_like(p));
        st.emplace("acc_delta", zeros_like(p));
      }
      state_get<int64_t>(st, "step") += 1;
      grad = detail::signed_grad(grad, maximize);
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      Tensor& square_avg = state_get<Tensor>(st, "square_avg");
      Tensor& acc_delta = state_get<Tensor>(st, "acc_delta");
      square_avg.mul_(rho).addcmul_(grad, grad, 1 - rho);
      Tensor std = square_avg.add(eps).sqrt_();
      Tensor delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad);
      acc_delta.mul_(rho).addcmul_(delta, delta, 1 - rho);
      p.add_(delta, -lr);
    }
  }
  count_step();
  return loss;
}

}  // namespace td::optim
