// L-BFGS as torch/optim/lbfgs.py (PyTorch 1.13, itself after minFunc), with its strong-Wolfe line search.
// The scalars PyTorch keeps in 0-dim tensors (ys, ro, H_diag, t, gtd) are doubles here: the same values for
// float64 parameters.
#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/optim/common.h"
#include "core/optim/optimizers.h"

namespace td::optim {

using detail::check_option;

namespace {

Options lbfgs_defaults(const LBFGSOptions& o) {
  check_option(o.line_search_fn.empty() || o.line_search_fn == "strong_wolfe", "LBFGS",
               "only 'strong_wolfe' is supported");
  return {{"lr", o.lr},
          {"max_iter", o.max_iter},
          {"max_eval", o.max_eval.value_or(o.max_iter * 5 / 4)},
          {"tolerance_grad", o.tolerance_grad},
          {"tolerance_change", o.tolerance_change},
          {"history_size", o.history_size},
          {"line_search_fn", o.line_search_fn}};
}

// The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to the bounds (by default the
// interval between the points); the middle of the bounds when the cubic has no minimum.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  const auto [xmin_bound, xmax_bound] = bounds ? *bounds : (x1 <= x2 ? std::pair{x1, x2} : std::pair{x2, x1});
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return std::min(std::max(min_pos, xmin_bound), xmax_bound);
  }
  return (xmin_bound + xmax_bound) / 2.;
}

struct LineSearchResult {
  double f;
  Tensor g;
  double t;
  int64_t func_evals;
};

using ObjFunc = std::function<std::pair<double, Tensor>(double t)>;

// _strong_wolfe: bracketing, then zoom by cubic interpolation. tolerance_change is the function's own default
// (1e-9): LBFGS.step does not pass its option, and neither do we.
LineSearchResult strong_wolfe(const ObjFunc& obj_func, double t, const Tensor& d, double f, const Tensor& g0,
                              double gtd, double c1 = 1e-4, double c2 = 0.9, double tolerance_change = 1e-9,
                              int64_t max_ls = 25) {
  const double d_norm = d.abs().max().item<double>();
  Tensor g = g0.clone();
  auto [f_new, g_new] = obj_func(t);
  int64_t ls_func_evals = 1;
  double gtd_new = g_new.dot(d).item<double>();

  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  Tensor g_prev = g;
  bool done = false;
  int64_t ls_iter = 0;
  std::vector<double> bracket, bracket_f, bracket_gtd;
  std::vector<Tensor> bracket_g;
  while (ls_iter < max_ls) {
    if (f_new > (f + c1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
      bracket = {t_prev, t};
      bracket_f = {f_prev, f_new};
      bracket_g = {g_prev, g_new.clone()};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket = {t};
      bracket_f = {f_new};
      bracket_g = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bracket = {t_prev, t};
      bracket_f = {f_prev, f_new};
      bracket_g = {g_prev, g_new.clone()};
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    const double min_step = t + 0.01 * (t - t_prev);
    const double max_step = t * 10;
    const double tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::pair{min_step, max_step});
    t_prev = tmp;
    f_prev = f_new;
    g_prev = g_new.clone();
    gtd_prev = gtd_new;
    std::tie(f_new, g_new) = obj_func(t);
    ls_func_evals += 1;
    gtd_new = g_new.dot(d).item<double>();
    ls_iter += 1;
  }
  if (ls_iter == max_ls) {
    bracket = {0, t};
    bracket_f = {f, f_new};
    bracket_g = {g, g_new};
  }

  // Zoom: shrink the bracket until a point meets the strong Wolfe conditions.
  bool insuf_progress = false;
  size_t low_pos = 0, high_pos = 0;
  if (bracket_f.size() > 1)
    std::tie(low_pos, high_pos) = bracket_f[0] <= bracket_f[1] ? std::pair{0, 1} : std::pair{1, 0};
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);
    const double hi = std::max(bracket[0], bracket[1]), lo = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (hi - lo);
    if (std::min(hi - t, t - lo) < eps) {
      if (insuf_progress || t >= hi || t <= lo) {
        t = std::abs(t - hi) < std::abs(t - lo) ? hi - eps : lo + eps;
        insuf_progress = false;
      } else {
        insuf_progress = true;
      }
    } else {
      insuf_progress = false;
    }
    std::tie(f_new, g_new) = obj_func(t);
    ls_func_evals += 1;
    gtd_new = g_new.dot(d).item<double>();
    ls_iter += 1;
    if (f_new > (f + c1 * t * gtd) || f_new >= bracket_f[low_pos]) {
      bracket[high_pos] = t;
      bracket_f[high_pos] = f_new;
      bracket_g[high_pos] = g_new.clone();
      bracket_gtd[high_pos] = gtd_new;
      std::tie(low_pos, high_pos) = bracket_f[0] <= bracket_f[1] ? std::pair{0, 1} : std::pair{1, 0};
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0) {
        bracket[high_pos] = bracket[low_pos];
        bracket_f[high_pos] = bracket_f[low_pos];
        bracket_g[high_pos] = bracket_g[low_pos];
        bracket_gtd[high_pos] = bracket_gtd[low_pos];
      }
      bracket[low_pos] = t;
      bracket_f[low_pos] = f_new;
      bracket_g[low_pos] = g_new.clone();
      bracket_gtd[low_pos] = gtd_new;
    }
  }
  return {bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals};
}

double max_abs(const Tensor& t) {
  return t.abs().max().item<double>();
}

}  // namespace

LBFGS::LBFGS(std::vector<ParamGroup> groups, LBFGSOptions o)
    : Optimizer("LBFGS", std::move(groups), lbfgs_defaults(o)) {
  check_option(param_groups().size() == 1, "LBFGS",
               "LBFGS doesn't support per-parameter options (parameter groups)");
  for (const Tensor& p : param_groups()[0].params) numel_ += p.numel();
}

Tensor LBFGS::gather_flat_grad() const {
  std::vector<Tensor> views;
  for (const Tensor& p : param_groups()[0].params) {
    Tensor grad = p.grad();
    views.push_back(grad.defined() ? grad.reshape({-1}) : zeros({p.numel()}, {p.dtype(), p.device()}));
  }
  Tensor flat = Tensor::cat(views, 0);
  // The closure zeroes the gradients in place: the flat copy must not share their memory.
  for (const Tensor& v : views) {
    if (flat.shares_storage(v)) return flat.clone();
  }
  return flat;
}

void LBFGS::add_grad(double step_size, const Tensor& update) {
  int64_t offset = 0;
  for (const Tensor& p : param_groups()[0].params) {
    const int64_t n = p.numel();
    p.add_(update.narrow(0, offset, n).view_as(p), step_size);
    offset += n;
  }
}

std::vector<Tensor> LBFGS::clone_params() const {
  std::vector<Tensor> out;
  for (const Tensor& p : param_groups()[0].params) out.push_back(p.clone());
  return out;
}

void LBFGS::set_params(const std::vector<Tensor>& values) {
  const std::vector<Tensor>& params = param_groups()[0].params;
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(values[i]);
}

std::pair<double, Tensor> LBFGS::directional_evaluate(const LossClosure& closure,
                                                      const std::vector<Tensor>& x, double t,
                                                      const Tensor& d) {
  add_grad(t, d);
  const double loss = evaluate(closure).item<double>();
  Tensor flat_grad = gather_flat_grad();
  set_params(x);
  return {loss, flat_grad};
}

Tensor LBFGS::step(const LossClosure& closure) {
  TD_CHECK_ARG(closure != nullptr, "[LBFGS] step() missing 1 required positional argument: 'closure'");
  count_step();
  autograd::NoGradGuard no_grad;
  const ParamGroup& group = param_groups()[0];
  const double lr = group.number("lr"), tolerance_grad = group.number("tolerance_grad"),
               tolerance_change = group.number("tolerance_change");
  const int64_t max_iter = group.integer("max_iter"), max_eval = group.integer("max_eval"),
                history_size = group.integer("history_size");
  const std::string line_search_fn = group.name("line_search_fn");
  TD_CHECK_ARG(line_search_fn.empty() || line_search_fn == "strong_wolfe",
               "[LBFGS] only 'strong_wolfe' is supported");

  ParamState& st = state(group.params[0]);
  int64_t& func_evals = state_get_or<int64_t>(st, "func_evals");
  int64_t& state_n_iter = state_get_or<int64_t>(st, "n_iter");

  Tensor orig_loss = evaluate(closure);
  double loss = orig_loss.item<double>();
  int64_t current_evals = 1;
  func_evals += 1;

  Tensor flat_grad = gather_flat_grad();
  bool opt_cond = max_abs(flat_grad) <= tolerance_grad;
  if (opt_cond) return orig_loss;

  // The previous step's direction, step length and history, when there was one.
  Tensor d = state_get_or<Tensor>(st, "d");
  double t = state_get_or<double>(st, "t");
  std::vector<Tensor> old_dirs = state_get_or<std::vector<Tensor>>(st, "old_dirs");
  std::vector<Tensor> old_stps = state_get_or<std::vector<Tensor>>(st, "old_stps");
  std::vector<double> ro = state_get_or<std::vector<double>>(st, "ro");
  double h_diag = st.count("H_diag") ? state_get<double>(st, "H_diag") : 1.0;
  Tensor prev_flat_grad = state_get_or<Tensor>(st, "prev_flat_grad");
  double prev_loss = state_get_or<double>(st, "prev_loss");

  int64_t n_iter = 0;
  while (n_iter < max_iter) {
    n_iter += 1;
    state_n_iter += 1;

    // The direction: steepest descent first, then the two-loop recursion over the curvature pairs.
    if (state_n_iter == 1) {
      d = flat_grad.neg();
      old_dirs.clear();
      old_stps.clear();
      ro.clear();
      h_diag = 1;
    } else {
      Tensor y = flat_grad.sub(prev_flat_grad);
      Tensor s = d.mul(t);
      const double ys = y.dot(s).item<double>();
      if (ys > 1e-10) {
        if (static_cast<int64_t>(old_dirs.size()) == history_size) {
          old_dirs.erase(old_dirs.begin());
          old_stps.erase(old_stps.begin());
          ro.erase(ro.begin());
        }
        old_dirs.push_back(y);
        old_stps.push_back(s);
        ro.push_back(1. / ys);
        h_diag = ys / y.dot(y).item<double>();
      }
      const size_t num_old = old_dirs.size();
      std::vector<double>& al = state_get_or<std::vector<double>>(st, "al");
      al.resize(static_cast<size_t>(history_size));
      Tensor q = flat_grad.neg();
      for (size_t i = num_old; i-- > 0;) {
        al[i] = old_stps[i].dot(q).item<double>() * ro[i];
        q.add_(old_dirs[i], -al[i]);
      }
      Tensor r = q.mul(h_diag);
      d = r;
      for (size_t i = 0; i < num_old; ++i) {
        const double be_i = old_dirs[i].dot(r).item<double>() * ro[i];
        r.add_(old_stps[i], al[i] - be_i);
      }
    }

    if (!prev_flat_grad.defined()) {
      prev_flat_grad = flat_grad.clone();
    } else {
      prev_flat_grad.copy_(flat_grad);
    }
    prev_loss = loss;

    // The step length: the first step is scaled by the gradient's size.
    t = state_n_iter == 1 ? std::min(1., 1. / flat_grad.abs().sum().item<double>()) * lr : lr;

    const double gtd = flat_grad.dot(d).item<double>();
    if (gtd > -tolerance_change) break;

    int64_t ls_func_evals = 0;
    if (!line_search_fn.empty()) {
      const std::vector<Tensor> x_init = clone_params();
      auto obj_func = [&](double step) { return directional_evaluate(closure, x_init, step, d); };
      LineSearchResult ls = strong_wolfe(obj_func, t, d, loss, flat_grad, gtd);
      loss = ls.f;
      flat_grad = ls.g;
      t = ls.t;
      ls_func_evals = ls.func_evals;
      add_grad(t, d);
      opt_cond = max_abs(flat_grad) <= tolerance_grad;
    } else {
      add_grad(t, d);
      if (n_iter != max_iter) {
        loss = evaluate(closure).item<double>();
        flat_grad = gather_flat_grad();
        opt_cond = max_abs(flat_grad) <= tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    func_evals += ls_func_evals;

    if (n_iter == max_iter) break;
    if (current_evals >= max_eval) break;
    if (opt_cond) break;
    if (max_abs(d.mul(t)) <= tolerance_change) break;
    if (std::abs(loss - prev_loss) < tolerance_change) break;
  }

  st["d"] = d;
  st["t"] = t;
  st["old_dirs"] = std::move(old_dirs);
  st["old_stps"] = std::move(old_stps);
  st["ro"] = std::move(ro);
  st["H_diag"] = h_diag;
  st["prev_flat_grad"] = prev_flat_grad;
  st["prev_loss"] = prev_loss;
  return orig_loss;
}

}  // namespace td::optim
