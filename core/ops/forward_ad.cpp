// Forward-mode AD through the op registry: how each primitive op passes tangents on (OpDef::forward_ad).
//
// - kLinear: the op is linear in its floating tensor inputs (views, add and sub, sums, cat and split,
//   copies and casts, gathers and scatters of values), so the outputs' tangents are the op itself run on the
//   inputs' tangents, zeros standing in for inputs without one and for numbers.
// - kFormula: an explicit Jacobian-vector product (mul, div, mm, bmm, convolution), where the
//   generic rule would cost several times the op.
// - kSelfAdjoint: the elementwise unary ops, whose Jacobian is diagonal: for real values J t is the backward
//   formula run with t as the output gradient (complex values take the transpose below).
// - kFromBackward, every other differentiable op: the transpose of its backward formula. A backward formula
//   maps output gradients u to input gradients g(u) = J^T u, is linear in u and is written in public ops, so
//   with u a leaf that requires grad, J t = d/du sum_k <g_k(u), t_k>: one run of the formula and one backward
//   through it. It is exact wherever the backward formula is differentiable (double backward's requirement)
//   and gives every op with a backward formula a forward mode. For complex values the backward formula is
//   the adjoint of J for the real inner product <a, b> = Re sum(conj(a) b) (PyTorch's convention), so the
//   same holds with that product, for the ops whose complex formulas are checked (OpDef::complex_autograd).
//
// Tangent computations run with the level suspended (their ops are plain ops) and with grad mode as it is:
// when an input or a tangent requires grad, the tangent has a graph of its own.
#include <algorithm>
#include <optional>

#include "core/autograd/autograd.h"
#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/ops/unary_list.h"
#include "core/tensor_impl.h"

namespace td {

namespace fwd = autograd::forward_ad;

/// What a forward-mode formula reads: the primal inputs (tensor input i counts each element of a `Tensor[]`,
/// as GradContext does), their tangents and the outputs.
class JvpContext {
 public:
  JvpContext(const Args& args, const std::vector<Tensor>& inputs, const std::vector<Tensor>& tangents,
             const std::vector<Tensor>& outputs)
      : args_(args), inputs_(inputs), tangents_(tangents), outputs_(outputs) {}
  const Args& args() const { return args_; }
  /// Tensor input i; a None argument is not a tensor input, so a trailing optional one is out of range.
  const Tensor& input(size_t i) const { return i < inputs_.size() ? inputs_[i] : none_; }
  /// Undefined when input i has no tangent (a zero tangent) or is out of range.
  const Tensor& tangent(size_t i) const { return i < tangents_.size() ? tangents_[i] : none_; }
  const Tensor& output(size_t i = 0) const { return outputs_[i]; }

 private:
  const Args& args_;
  const std::vector<Tensor>& inputs_;
  const std::vector<Tensor>& tangents_;
  const std::vector<Tensor>& outputs_;
  const Tensor none_;
};

namespace {

// An alias of out with out's history (grad_fn and slot) but its own TensorImpl.
Tensor alias_of(const Tensor& out) {
  if (!out.defined()) return out;
  Tensor alias = out.detach();
  if (const autograd::AutogradMeta* m = autograd::meta_if(out); m && m->grad_fn) {
    autograd::set_history(alias, m->grad_fn, m->output_nr);
  }
  return alias;
}

bool differentiable(const Tensor& t) { return t.defined() && (is_floating(t.dtype()) || is_complex(t.dtype())); }

// The tensor inputs of a call in GradContext's order (a `Tensor[]` contributes each element).
std::vector<Tensor> flat_inputs(const Args& args) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (auto* t = std::get_if<Tensor>(&args.value(i))) out.push_back(*t);
    if (auto* list = std::get_if<std::vector<Tensor>>(&args.value(i))) out.insert(out.end(), list->begin(), list->end());
  }
  return out;
}

Tensor zeros_of(const Tensor& t) { return zeros(t.shape(), {t.dtype(), t.device()}); }

// The sum of the defined terms, undefined if none is.
Tensor add_terms(std::initializer_list<Tensor> terms) {
  Tensor total;
  for (const Tensor& t : terms) {
    if (t.defined()) total = total.defined() ? total.add(t) : t;
  }
  return total;
}

// A linear op on its inputs' tangents: the arguments it is linear in become their tangents (zeros of their
// own dtype where they have none, so type promotion is unchanged); everything else passes through.
std::vector<Tensor> linear_tangents(const OpDef& def, const Args& args) {
  auto tangent_of = [](const Tensor& t) -> Tensor {
    if (!t.defined()) return t;
    if (t.impl().wrapped_number) {  // a number: zero of its kind
      if (is_complex(t.dtype())) return wrapped_scalar(Scalar(std::complex<double>(0)));
      if (is_floating(t.dtype())) return wrapped_scalar(Scalar(0.0));
      return wrapped_scalar(t.dtype() == DType::kBool ? Scalar(false) : Scalar(int64_t{0}));
    }
    Tensor tangent = fwd::detail::tangent(t);
    return tangent.defined() ? tangent : zeros_of(t);
  };
  std::vector<Value> values;
  for (size_t i = 0; i < args.size(); ++i) values.push_back(args.value(i));
  for (int pos : def.linear_args) {
    Value& v = values[static_cast<size_t>(pos)];
    if (auto* t = std::get_if<Tensor>(&v)) {
      v = tangent_of(*t);
    } else if (auto* list = std::get_if<std::vector<Tensor>>(&v)) {
      std::vector<Tensor> tangents;
      for (const Tensor& t : *list) tangents.push_back(tangent_of(t));
      v = std::move(tangents);
    }
  }
  return call_op(def.schema.name, std::move(values));
}

[[noreturn]] void unsupported(const OpDef& def, std::string_view why) {
  throw Error(ErrorCode::kUnimplemented, str("[", def.schema.name, "] forward-mode AD: ", why));
}

// Runs def's backward formula for the output gradients `grads` on the call's inputs (detached unless `graph`),
// with the inputs that have a tangent marked as needing their gradient.
std::vector<Tensor> run_formula(const OpDef& def, const Args& args, const std::vector<Tensor>& tangents,
                                const std::vector<Tensor>& outputs, const std::vector<Tensor>& grads, bool graph) {
  SavedCall saved{args, {}, {}, {}, {}, false, {}};
  for (size_t i = 0; i < args.size(); ++i) {
    Value& v = saved.args.mutable_value(i);
    auto keep = [&](Tensor& t, int list_index) {
      saved.tensor_slots.push_back(i);
      saved.list_index.push_back(list_index);
      saved.versions.push_back(t.defined() ? t.version() : 0);
      saved.input_meta.push_back(t.defined() ? autograd::TensorMeta::of(t) : autograd::TensorMeta{});
      saved.output_names.emplace_back();
      if (!graph && t.defined()) t = t.detach();
    };
    if (auto* t = std::get_if<Tensor>(&v)) keep(*t, -1);
    if (auto* list = std::get_if<std::vector<Tensor>>(&v)) {
      for (size_t j = 0; j < list->size(); ++j) keep((*list)[j], static_cast<int>(j));
    }
  }
  std::vector<Tensor> outs;
  for (const Tensor& out : outputs) outs.push_back(graph ? out : out.detach());
  std::vector<bool> needs;
  for (const Tensor& t : tangents) needs.push_back(t.defined());
  GradContext ctx(def, saved, grads, outs, needs);
  return def.backward(ctx);
}

// Whether a tangent computed from these inputs and tangents needs a graph of its own.
bool needs_graph(const std::vector<Tensor>& inputs, const std::vector<Tensor>& tangents) {
  bool graph = false;
  for (size_t k = 0; k < inputs.size(); ++k) {
    graph = graph || (inputs[k].defined() && inputs[k].requires_grad()) ||
            (tangents[k].defined() && tangents[k].requires_grad());
  }
  return graph && autograd::GradMode::is_enabled();
}

bool any_complex(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  auto complex = [](const Tensor& t) { return t.defined() && is_complex(t.dtype()); };
  return std::any_of(inputs.begin(), inputs.end(), complex) || std::any_of(outputs.begin(), outputs.end(), complex);
}

// J t as the transpose of the backward formula (see the file comment).
std::vector<Tensor> tangents_from_backward(const OpDef& def, const Args& args, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& tangents, const std::vector<Tensor>& outputs) {
  if (!def.backward) unsupported(def, "the op has no derivative formula");
  if (any_complex(inputs, outputs) && !def.complex_autograd) {
    unsupported(def, "complex values are not supported by this op yet");
  }
  const bool graph = needs_graph(inputs, tangents);
  autograd::GradModeGuard grad_on(true);
  std::vector<Tensor> us;
  for (const Tensor& out : outputs) {
    us.push_back(differentiable(out) ? ones(out.shape(), {out.dtype(), out.device()}).requires_grad_() : zeros_of(out));
  }
  std::vector<Tensor> grads = run_formula(def, args, tangents, outputs, us, graph);

  Tensor total;
  for (size_t k = 0; k < inputs.size() && k < grads.size(); ++k) {
    if (!tangents[k].defined() || !grads[k].defined()) continue;
    Tensor g = grads[k];
    if (!g.requires_grad()) {
      // A formula linear in u that does not depend on it is zero; anything else was computed off the tape.
      TD_CHECK(!g.ne(0).any().item<bool>(), ErrorCode::kUnimplemented, "[", def.schema.name,
               "] forward-mode AD: the op's backward formula is not differentiable, so its tangent cannot be "
               "derived from it");
      continue;
    }
    const Tensor& t = tangents[k];
    if (g.dtype() != t.dtype()) g = ops::cast(g, t.dtype());
    // <g, t> = Re sum(conj(g) t): the real inner product the backward formula is the adjoint for.
    Tensor term = ops::conj_if_complex(g).mul(t).sum();
    total = add_terms({total, is_complex(term.dtype()) ? term.real() : term});
  }
  std::vector<Tensor> result(outputs.size());
  std::vector<Tensor> wrt;
  std::vector<size_t> slot;
  for (size_t j = 0; j < outputs.size(); ++j) {
    if (!differentiable(outputs[j])) continue;
    wrt.push_back(us[j]);
    slot.push_back(j);
  }
  if (total.defined() && total.requires_grad() && !wrt.empty()) {
    std::vector<Tensor> jt = autograd::grad({total}, wrt, {}, graph, graph, /*allow_unused=*/true);
    for (size_t n = 0; n < slot.size(); ++n) result[slot[n]] = jt[n];
  }
  for (size_t j : slot) {
    if (!result[j].defined()) result[j] = zeros_of(outputs[j]);  // no input with a tangent reaches it
  }
  return result;
}

}  // namespace

bool any_tangent(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (auto* t = std::get_if<Tensor>(&args.value(i)); t && fwd::detail::tangent(*t).defined()) return true;
    if (auto* list = std::get_if<std::vector<Tensor>>(&args.value(i))) {
      for (const Tensor& t : *list) {
        if (fwd::detail::tangent(t).defined()) return true;
      }
    }
  }
  return false;
}

void propagate_tangents(const OpDef& def, const Args& args, const std::vector<Tensor>& outputs) {
  bool any_output = false;
  for (const Tensor& out : outputs) any_output = any_output || differentiable(out);
  if (!any_output) return;
  std::vector<Tensor> inputs = flat_inputs(args), tangents;
  for (const Tensor& t : inputs) tangents.push_back(fwd::detail::tangent(t));
  // What the rules read of the outputs: aliases with the outputs' history but impls of their own, so a tangent
  // whose graph saves an output does not keep that output's TensorImpl (and so its own table entry) alive.
  std::vector<Tensor> outs;
  for (const Tensor& out : outputs) outs.push_back(alias_of(out));
  std::vector<Tensor> result;
  {
    fwd::detail::Suspend suspend;
    switch (def.forward_ad) {
      case ForwardAd::kLinear: result = linear_tangents(def, args); break;
      case ForwardAd::kFormula:
        result = def.jvp(JvpContext(args, inputs, tangents, outs));
        // A formula may cover some of an op's modes and leave the others to the backward (scatter_reduce).
        if (result.empty()) result = tangents_from_backward(def, args, inputs, tangents, outs);
        break;
      case ForwardAd::kFromBackward: result = tangents_from_backward(def, args, inputs, tangents, outs); break;
      case ForwardAd::kSelfAdjoint:
        // An elementwise op of one real tensor has a diagonal Jacobian: J t is the backward formula run on t.
        if (any_complex(inputs, outs)) {
          result = tangents_from_backward(def, args, inputs, tangents, outs);
        } else {
          result = run_formula(def, args, tangents, outs, {tangents[0]}, needs_graph(inputs, tangents));
        }
        break;
    }
  }
  for (size_t j = 0; j < outputs.size() && j < result.size(); ++j) {
    if (!differentiable(outputs[j])) continue;
    Tensor t = result[j].defined() ? result[j] : zeros_of(outputs[j]);
    // Only a view op's tangent may alias an input's tangent: a formula that handed one back (a bias tangent
    // reshaped) gets a copy, so an in-place update of the output cannot write into the input's.
    if (def.forward_ad != ForwardAd::kLinear &&
        std::any_of(tangents.begin(), tangents.end(), [&](const Tensor& in) { return t.shares_storage(in); })) {
      fwd::detail::Suspend suspend;
      t = t.clone();
    }
    TD_CHECK(t.shape() == outputs[j].shape(), ErrorCode::kInternal, "[", def.schema.name,
             "] forward-mode AD gave a tangent of shape ", shape_str(t.sizes()), " for output ", j, " of shape ",
             shape_str(outputs[j].sizes()));
    if (t.dtype() != outputs[j].dtype()) {
      fwd::detail::Suspend suspend;
      t = ops::cast(t, outputs[j].dtype());
    }
    fwd::detail::set_tangent(outputs[j], t);
  }
}

void write_tangent(const Tensor& dst, const Tensor& value) {
  Tensor tangent = fwd::detail::tangent(value);
  if (!tangent.defined() && !fwd::detail::tangent(dst).defined()) return;
  Tensor slot = fwd::detail::tangent_slot(dst);
  fwd::detail::Suspend suspend;
  if (tangent.defined()) {
    slot.copy_(tangent);
  } else {
    slot.zero_();
  }
}

namespace {

// Tangent k of the context, or undefined: the terms of a product rule skip inputs without one.
Tensor jvp_mul(const JvpContext& c) {
  const Tensor &a = c.input(0), &b = c.input(1);
  return add_terms({c.tangent(0).defined() ? c.tangent(0).mul(b) : Tensor(),
                    c.tangent(1).defined() ? a.mul(c.tangent(1)) : Tensor()});
}

// d(a / b) = ta / b - tb * (a / b) / b
Tensor jvp_div(const JvpContext& c) {
  const Tensor& b = c.input(1);
  return add_terms({c.tangent(0).defined() ? c.tangent(0).div(b) : Tensor(),
                    c.tangent(1).defined() ? c.tangent(1).mul(c.output()).div(b).neg() : Tensor()});
}

// A bilinear op (mm, bmm): op(ta, b) + op(a, tb).
JvpFn bilinear(std::string name) {
  return [name](const JvpContext& c) -> std::vector<Tensor> {
    const Tensor &a = c.input(0), &b = c.input(1);
    return {add_terms({c.tangent(0).defined() ? call_op(name, {c.tangent(0), b})[0] : Tensor(),
                       c.tangent(1).defined() ? call_op(name, {a, c.tangent(1)})[0] : Tensor()})};
  };
}

// convolution(input, weight, bias, ...): conv(t_input, weight) + conv(input, t_weight) + t_bias per channel.
// linalg_eigh, PyTorch's linalg_eig_jvp for Hermitian matrices: with T = V^H dA V, dL = Re diag(T) and
// dV = V (T / E), E_ij = L_j - L_i off the diagonal and T's diagonal dropped (the eigenvectors' phases stay).
std::vector<Tensor> jvp_eigh(const JvpContext& c) {
  const Tensor &values = c.output(0), &vectors = c.output(1);
  const bool complex = is_complex(vectors.dtype());
  Tensor vh = complex ? vectors.transpose(-2, -1).conj() : vectors.transpose(-2, -1);
  Tensor t = vh.matmul(c.tangent(0)).matmul(vectors);
  Tensor dl = t.diagonal(0, -2, -1);
  if (complex) dl = dl.real();
  const int64_t n = values.size(-1);
  Tensor eye = call_op("eye", {Scalar(n), None{}, values.dtype(), values.device().str()})[0];
  Tensor e = values.unsqueeze(-2).sub(values.unsqueeze(-1)).add(eye);
  Tensor off = eye.neg().add(Scalar(1.0));
  return {dl.contiguous(), vectors.matmul(t.div(e.to(t.dtype())).mul(off.to(t.dtype())))};
}

// linalg_svd, PyTorch's linalg_svd_jvp: with dP = U^H dA V, dS = Re diag(dP); the off-diagonal part X of dP
// gives dU = U (sym(X S) / E + i Im diag(dP) / 2S) (+ (I - U U^H) dA V S^-1 when m > n) and
// dVh = (-sym(S X) / E + i Im diag(dP) / 2S) Vh (+ S^-1 U^H dA (I - V V^H) when m < n), E_ij = S_j^2 - S_i^2.
std::vector<Tensor> jvp_svd(const JvpContext& c) {
  const Tensor& da = c.tangent(0);
  Tensor u = c.output(0), s = c.output(1), vh = c.output(2);
  const bool full = c.args().bool_at(1), complex = is_complex(u.dtype());
  const int64_t m = da.size(-2), n = da.size(-1), k = s.size(-1);
  if (full) {
    u = u.narrow(-1, 0, k);
    vh = vh.narrow(-2, 0, k);
  }
  const DType t = u.dtype();
  auto mh = [complex](const Tensor& x) { return complex ? x.transpose(-2, -1).conj() : x.transpose(-2, -1); };
  auto diag_embed = [](const Tensor& d) {
    std::vector<int64_t> shape = d.shape();
    shape.push_back(d.size(-1));
    return zeros(shape, {d.dtype(), d.device()}).diagonal_scatter(d, 0, -2, -1);
  };
  Tensor v = mh(vh);
  Tensor dp = mh(u).matmul(da).matmul(v);
  Tensor ds = dp.diagonal(0, -2, -1);
  if (complex) ds = ds.real();
  dp = dp.sub(diag_embed(ds.to(t)));
  Tensor eye = call_op("eye", {Scalar(k), None{}, s.dtype(), s.device().str()})[0];
  Tensor s2 = s.mul(s);
  Tensor e = s2.unsqueeze(-2).sub(s2.unsqueeze(-1)).add(eye).to(t);
  Tensor st = s.to(t);
  auto sym = [&](const Tensor& x) { return x.add(mh(x)); };
  Tensor du_inner = sym(dp.mul(st.unsqueeze(-2))).div(e);
  Tensor dvh_inner = sym(dp.mul(st.neg().unsqueeze(-1))).div(e);
  if (complex) {
    Tensor half_phase = diag_embed(dp.diagonal(0, -2, -1).div(st.mul(Scalar(2.0))));
    du_inner = du_inner.add(half_phase);
    dvh_inner = dvh_inner.add(half_phase);
  }
  Tensor du = u.matmul(du_inner), dvh = dvh_inner.matmul(vh);
  if (m > n) {
    Tensor davs = da.matmul(v.div(st.unsqueeze(-2)));
    du = du.add(davs).sub(u.matmul(mh(u).matmul(davs)));
    if (full) {
      std::vector<int64_t> shape = du.shape();
      shape.back() = m - n;
      du = Tensor::cat({du, zeros(shape, {t, du.device()})}, -1);
    }
  }
  if (m < n) {
    Tensor suda = mh(u).div(st.unsqueeze(-1)).matmul(da);
    dvh = dvh.add(suda).sub(suda.matmul(v).matmul(vh));
    if (full) {
      std::vector<int64_t> shape = dvh.shape();
      shape[shape.size() - 2] = n - m;
      dvh = Tensor::cat({dvh, zeros(shape, {t, dvh.device()})}, -2);
    }
  }
  return {du, ds.contiguous(), dvh};
}

// linalg_eig, PyTorch's linalg_eig_jvp: with dP = V^-1 dA V, dL = diag(dP) and dV = V (dP / E off the diagonal)
// less V Re(diag(V^H that)), E_ij = L_j - L_i (the columns keep unit norm).
std::vector<Tensor> jvp_eig(const JvpContext& c) {
  const Tensor &values = c.output(0), &vectors = c.output(1);
  const DType t = vectors.dtype();
  Tensor da = c.tangent(0).to(t);
  Tensor dp = call_op("linalg_solve", {vectors, da.matmul(vectors), Scalar(true)})[0];
  const int64_t n = values.size(-1);
  const DType real = t == DType::kComplex64 ? DType::kFloat32 : DType::kFloat64;
  Tensor eye = call_op("eye", {Scalar(n), None{}, real, values.device().str()})[0].to(t);
  Tensor e = values.unsqueeze(-2).sub(values.unsqueeze(-1)).add(eye);
  Tensor dv = vectors.matmul(dp.div(e).mul(eye.neg().add(Scalar(1.0))));
  Tensor vhdv = vectors.transpose(-2, -1).conj().matmul(dv).diagonal(0, -2, -1).real().to(t);
  return {dp.diagonal(0, -2, -1).contiguous(), dv.sub(vectors.mul(vhdv.unsqueeze(-2)))};
}

std::vector<Tensor> jvp_convolution(const JvpContext& c) {
  const Args& a = c.args();
  auto conv = [&](const Tensor& x, const Tensor& w) {
    std::vector<Value> values{x, w, None{}};
    for (size_t i = 3; i < a.size(); ++i) values.push_back(a.value(i));
    return call_op("convolution", std::move(values))[0];
  };
  Tensor bias_term;
  if (c.tangent(2).defined()) {
    std::vector<int64_t> shape(static_cast<size_t>(c.output().dim()), 1);
    shape[1] = c.tangent(2).numel();
    bias_term = c.tangent(2).reshape(shape);
  }
  Tensor t = add_terms({c.tangent(0).defined() ? conv(c.tangent(0), c.input(1)) : Tensor(),
                        c.tangent(1).defined() ? conv(c.input(0), c.tangent(1)) : Tensor(), bias_term});
  if (t.defined() && t.shape() != c.output().shape()) t = t.expand(c.output().shape()).contiguous();
  return {t};
}

// scatter_reduce with amax or amin: each output's tangent is the mean of the tangents of the values that
// reach its extreme (src elements, and self where include_self), or self's where nothing was scattered. The
// backward formula shares a gradient with self at a tie even when include_self is false (as PyTorch 1.13's
// does), so its transpose would halve such a tangent. Other reductions use the backward formula.
std::vector<Tensor> jvp_scatter_reduce(const JvpContext& c) {
  const Args& a = c.args();
  const std::string& reduce = a.string_at(4);
  if (reduce != "amax" && reduce != "amin") return {};
  const Tensor &self = c.input(0), &index = c.input(1), &src = c.input(2), &out = c.output();
  const int64_t dim = a.int_at(1);
  const DType dtype = out.dtype();
  // src may be larger than index: only its leading index-shaped block is scattered.
  auto used = [&index](Tensor t) {
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (t.size(d) != index.size(d)) t = t.narrow(d, 0, index.size(d));
    }
    return t;
  };
  Tensor t_self = c.tangent(0).defined() ? c.tangent(0) : zeros_of(self);
  Tensor t_src = used(c.tangent(2).defined() ? c.tangent(2) : zeros_of(src));
  Tensor src_is = ops::cast(used(src).eq(out.gather(dim, index)), dtype);
  Tensor self_is = a.bool_at(5) ? ops::cast(self.eq(out), dtype) : zeros_of(out);
  Tensor count = self_is.scatter_add(dim, index, src_is);
  Tensor total = self_is.mul(t_self).scatter_add(dim, index, src_is.mul(t_src));
  return {total.div(count.where(count.gt(0), 1.0)).where(count.gt(0), t_self)};
}

}  // namespace

void register_forward_ad(Registry& r) {
  // aten's forward-mode plumbing, by name, so remote clients reach it through the op path.
  r.def("_make_dual(Tensor primal, Tensor tangent, int level=0) -> Tensor")
      .doc("a view of primal carrying tangent at the open dual level (torch.autograd.forward_ad.make_dual)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {fwd::make_dual(a.tensor(0), a.tensor(1), a.int_at(2))};
      });
  r.def("_unpack_dual(Tensor dual, int level=0) -> (Tensor primal, Tensor tangent)")
      .doc("the primal (a view without tangent) and the tangent, undefined when there is none "
           "(torch.autograd.forward_ad.unpack_dual)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        auto [primal, tangent] = fwd::unpack_dual(a.tensor(0), a.int_at(1));
        return {primal, tangent};
      });

  auto edit = [&r](std::string_view name) -> OpDef& {
    const OpDef* def = r.find_if(name);
    TD_CHECK(def && def->autograd == AutogradKind::kPrimitive, ErrorCode::kInternal, "forward-mode AD rule for '",
             name, "', which is not a primitive op");
    return const_cast<OpDef&>(*def);  // the registry is still being built: nothing has read it yet
  };
  // Linear ops, with the positions of the arguments they are linear in.
  const std::vector<std::pair<const char*, std::vector<int>>> linear = {
      {"add", {0, 1}}, {"sub", {0, 1}}, {"view", {0}}, {"transpose", {0}}, {"permute", {0}}, {"expand", {0}},
      {"unsqueeze", {0}}, {"squeeze", {0}}, {"clone", {0}}, {"_to_copy", {0}}, {"slice", {0}}, {"select", {0}},
      {"narrow", {0}}, {"diagonal", {0}}, {"as_strided", {0}}, {"unfold", {0}}, {"sum", {0}}, {"cat", {0}},
      {"flip", {0}}, {"split", {0}}, {"split_with_sizes", {0}}, {"chunk", {0}}, {"unbind", {0}}, {"gather", {0}},
      {"where", {1, 2}}, {"real", {0}}, {"imag", {0}}, {"view_as_real", {0}}, {"view_as_complex", {0}},
      {"complex", {0, 1}}, {"select_scatter", {0, 1}}, {"diagonal_scatter", {0, 1}}, {"as_strided_scatter", {0, 1}},
      {"scatter", {0, 3}}, {"scatter_add", {0, 3}},
      {"_fft_c2c", {0}}, {"_fft_r2c", {0}}, {"_fft_c2r", {0}},
  };
  for (const auto& [name, positions] : linear) {
    OpDef& def = edit(name);
    def.forward_ad = ForwardAd::kLinear;
    def.linear_args = positions;
  }
  auto formula = [&](std::string_view name, JvpFn fn) {
    OpDef& def = edit(name);
    def.forward_ad = ForwardAd::kFormula;
    def.jvp = std::move(fn);
  };
  formula("mul", [](const JvpContext& c) -> std::vector<Tensor> { return {jvp_mul(c)}; });
  formula("div", [](const JvpContext& c) -> std::vector<Tensor> { return {jvp_div(c)}; });
  formula("mm", bilinear("mm"));
  formula("bmm", bilinear("bmm"));
  formula("convolution", jvp_convolution);
  formula("scatter_reduce", jvp_scatter_reduce);
  formula("linalg_eigh", jvp_eigh);
  formula("linalg_svd", jvp_svd);
  formula("linalg_eig", jvp_eig);
  // The elementwise unary ops with a derivative.
  for (const char* name : {
#define TD_UNARY_NAME(Name, name) #name,
           TD_FLOAT_UNARY_OPS(TD_UNARY_NAME) TD_ANY_UNARY_OPS(TD_UNARY_NAME)
#undef TD_UNARY_NAME
       }) {
    const OpDef* def = r.find_if(name);
    if (def && def->autograd == AutogradKind::kPrimitive && def->backward) edit(name).forward_ad = ForwardAd::kSelfAdjoint;
  }
}

}  // namespace td
