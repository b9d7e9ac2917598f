// SGD as torch/optim/sgd.py's _single_tensor_sgd (PyTorch 1.13), its parameters past their first momentum
// step updated together where the backend can (its foreach form: one launch for many parameters on CUDA).
#include <algorithm>
#include <array>
#include <unordered_set>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/optim/common.h"
#include "core/optim/optimizers.h"
#include "core/tensor_impl.h"

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

// The parameters of one device whose update can be one pass over memory instead of five ops
// (Backend::sgd_momentum_steps, with the same arithmetic): past their first step, with momentum.
struct OnePass {
  Device device;
  std::vector<SgdTensors> refs;
  std::vector<std::array<Tensor, 3>> tensors;  // param, grad, buf: alive while refs point into them
  std::vector<size_t> positions;               // in the group
};

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
    const SgdStep constants{lr, momentum, dampening, weight_decay, nesterov, maximize};
    std::vector<OnePass> one_pass;  // a batch per device, updated first
    std::vector<std::pair<size_t, Tensor>> by_ops;  // then these, in their order in the group
    // The memory of the parameters so far: one listed twice, or sharing memory with an earlier one, goes to
    // the ops after it, so the updates keep their order where they touch the same memory.
    std::unordered_set<const void*> seen;
    for (size_t k = 0; k < g.params.size(); ++k) {
      const Tensor& p = g.params[k];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      // PyTorch stores momentum_buffer = None without momentum, so the state dict has the key either way.
      Tensor& buf = state_get_or<Tensor>(state(p), "momentum_buffer");
      const std::array<Tensor, 3> tensors = {p, grad, buf};
      bool overlaps = false;
      for (const Tensor& t : tensors) {
        if (t.defined()) overlaps = !seen.insert(t.impl().storage.get()).second || overlaps;
      }
      if (overlaps || momentum == 0 || !buf.defined() || !detail::one_pass_update_allowed(p, grad, {&buf})) {
        by_ops.emplace_back(k, p);
        continue;
      }
      auto batch = std::find_if(one_pass.begin(), one_pass.end(),
                                [&](const OnePass& b) { return b.device == p.device(); });
      if (batch == one_pass.end()) batch = one_pass.insert(one_pass.end(), OnePass{p.device(), {}, {}, {}});
      batch->tensors.push_back(tensors);
      batch->positions.push_back(k);
    }
    for (OnePass& batch : one_pass) {
      for (const auto& [p, grad, buf] : batch.tensors) {
        batch.refs.push_back({strided_ref(p), strided_ref(grad), strided_ref(buf)});
      }
      backend(batch.device.type).sgd_momentum_steps(batch.refs, constants, batch.device.index);
      for (size_t i = 0; i < batch.refs.size(); ++i) {
        const auto& [p, grad, buf] = batch.tensors[i];
        if (!batch.refs[i].done) {
          by_ops.emplace_back(batch.positions[i], p);
          continue;
        }
        // The version counters move as the ops' would: buf.mul_(...).add_(...), p.add_(...).
        p.impl().storage->version += 1;
        buf.impl().storage->version += 2;
      }
    }
    std::sort(by_ops.begin(), by_ops.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [k, p] : by_ops) {
      Tensor& buf = state_get_or<Tensor>(state(p), "momentum_buffer");
      Tensor d_p = detail::signed_grad(p.grad(), maximize);
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
