// SGD as torch/optim/sgd.py's _single_tensor_sgd (PyTorch 1.13).
#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/tensor_impl.h"
#include "core/optim/common.h"
#include "core/optim/optimizers.h"

namespace td::optim {

using detail::check_option;

namespace {

// Checks the arguments (before the groups, as PyTorch does) and gives the defaults.
Options sgd_defaults(const SGDOptions& o) {
  check_option(!o.lr || *o.lr >= 0.0, "SGD", "Invalid learning rate: ", o.lr.value_or(0));
  check_option(o.momentum >= 0.0, "SGD", "Invalid momentum value: ", o.momentum);
  check_option(o.weight_decay >= 0.0, "SGD", "Invalid weight_decay value: ", o.weight_decay);
  check_option(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "SGD",
               "Nesterov momentum requires a momentum and zero dampening");
  Options d{{"momentum", o.momentum},
            {"dampening", o.dampening},
            {"weight_decay", o.weight_decay},
            {"nesterov", o.nesterov},
            {"maximize", o.maximize}};
  if (o.lr) d.emplace("lr", *o.lr);
  return d;
}

// One pass over memory instead of five ops (Backend::sgd_momentum_step), for a parameter past its first step,
// with the same arithmetic.
bool fused_momentum_step(const Tensor& p, const Tensor& grad, const Tensor& buf, const SgdStep& s) {
  if (!detail::one_pass_update_allowed(p, grad, {&buf})) return false;
  if (!backend(p.device().type).sgd_momentum_step(strided_ref(p), strided_ref(grad), strided_ref(buf), s,
                                                  p.device().index)) {
    return false;
  }
  // The version counters move as the ops' would: buf.mul_(...).add_(...), p.add_(...).
  p.impl().storage->version += 1;
  buf.impl().storage->version += 2;
  return true;
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer("SGD", std::move(groups), sgd_defaults(o),
                o.lr ? std::vector<std::string>{} : std::vector<std::string>{"lr"}) {}

Tensor SGD::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  autograd::NoGradGuard no_grad;
  for (ParamGroup& g : param_groups()) {
    const double lr = g.number("lr"), momentum = g.number("momentum"), dampening = g.number("dampening"),
                 weight_decay = g.number("weight_decay");
    const bool nesterov = g.flag("nesterov"), maximize = g.flag("maximize");
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      // PyTorch stores momentum_buffer = None without momentum, so the state dict has the key either way.
      Tensor& buf = state_get_or<Tensor>(state(p), "momentum_buffer");
      if (momentum != 0 && buf.defined() &&
          fused_momentum_step(p, grad, buf, {lr, momentum, dampening, weight_decay, nesterov, maximize})) {
        continue;
      }
      Tensor d_p = detail::signed_grad(grad, maximize);
      if (weight_decay != 0) d_p = d_p.add(p, weight_decay);
      if (momentum != 0) {
        if (!buf.defined()) {
          buf = d_p.clone();
        } else {
          buf.mul_(momentum).add_(d_p, 1 - dampening);
        }
        d_p = nesterov ? d_p.add(buf, momentum) : buf;
      }
      p.add_(d_p, -lr);
    }
  }
  count_step();
  return loss;
}

}  // namespace td::optim
