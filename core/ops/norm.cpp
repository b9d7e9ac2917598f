// Normalization ops of torch.nn.functional with aten's names and argument order (batch_norm and its primitive
// native_batch_norm, instance_norm, layer_norm, group_norm), torch.nn.functional's local_response_norm and
// normalize. All but native_batch_norm are written in other ops, so their gradients (and second gradients)
// are theirs; the checks and messages are PyTorch 1.13's.
//
// batch_norm sits on the hot path of convolutional training. As a composite (mean, centred squares, affine)
// its backward ran ~12 passes over the input and forward + backward took 1.9x PyTorch's time
// (BM_BatchNorm2d), so native_batch_norm is a primitive, fused by measurement as softmax is: the forward is
// one mean, one pass of centred squares and x * scale + shift with a per-channel scale (weight * invstd) and
// shift (bias - mean * scale) broadcast as [1, C, 1, ...] views, PyTorch's CPU formulation; it returns the
// batch's mean and invstd as aten does (save_mean, save_invstd), and its backward is aten's formula written
// in public ops, so it differentiates again. The composite stays as the reference (_batch_norm_composite,
// compared in norm_test). Where the backend has them (Backend::channel_sums / channel_affine: the CPU's and
// CUDA's), the forward's statistics and affine, and the backward when it is not itself recorded (no
// create_graph), run as fused per-channel passes with no temporaries of the input's size. The running
// statistics are updated in place, without recording, with the unbiased variance (sum of squares / (n - 1))
// and PyTorch's order of terms, momentum * stat + (1 - momentum) * running.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

std::vector<Tensor> one(Tensor t) {
  return {std::move(t)};
}

void check_floating(std::string_view op, const Tensor& x) {
  TD_CHECK_ARG(is_floating(x.dtype()), "[", op, "] \"", op, "\" not implemented for '",
               scalar_type_name(x.dtype()), "': normalization takes floating tensors");
}

// [1, C, 1, ...] for an input of `dim` dims: a per-channel vector seen along dim 1.
std::vector<int64_t> channel_shape(int64_t channels, int64_t dim) {
  std::vector<int64_t> shape(static_cast<size_t>(dim), 1);
  shape[1] = channels;
  return shape;
}

// Every dim but the channel dim 1.
std::vector<int64_t> all_but_channels(int64_t dim) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < dim; ++d) dims.push_back(d);
  return dims;
}

void check_channels(std::string_view op, const Tensor& t, const char* name, int64_t channels) {
  if (!t.defined()) return;
  TD_CHECK_ARG(t.numel() == channels, "[", op, "] ", name, " should contain ", channels, " elements not ",
               t.numel());
}

// The statistics of one normalization: the mean and the sum of centred squares over `dims` (kept as size-1
// dims), and how many elements each covers.
struct Moments {
  Tensor mean, sum_sq;
  int64_t count = 1;
};

Moments moments(const Tensor& x, const std::vector<int64_t>& dims) {
  Moments m;
  for (int64_t d : dims) m.count *= x.size(d);
  m.mean = x.mean(dims, true);
  Tensor centred = x.sub(m.mean);
  m.sum_sq = centred.mul(centred).sum(dims, true);
  return m;
}

// running = momentum * stat + (1 - momentum) * running, in place and unrecorded (PyTorch's CPU update order).
void update_running(const Tensor& running, const Tensor& stat, double momentum) {
  autograd::NoGradGuard no_grad;
  Tensor s = stat.detach().reshape({-1}).to(running.dtype());
  running.copy_(s.mul(momentum).add(running.mul(1 - momentum)));
}

// y = x * scale + shift with scale = weight * invstd and shift = bias - mean * scale, all per channel.
Tensor affine_transform(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                        const Tensor& bias, const std::vector<int64_t>& shape) {
  Tensor scale = weight.defined() ? invstd.mul(weight.reshape(shape)) : invstd;
  Tensor shift = mean.mul(scale).neg();
  if (bias.defined()) shift = shift.add(bias.reshape(shape));
  // x * scale + shift in two passes (addcmul, a composite, would make three).
  return x.mul(scale).add(shift);
}

// The primitive's fused passes (Backend::channel_sums / channel_affine), where the backend has them.
// Per-channel vectors go to the kernels as contiguous [C].
Tensor flat_channels(const Tensor& v) { return v.reshape({-1}).contiguous(); }

// moments() over every dim but the channels, in two fused passes (the sum, then the centred squares) with
// no temporaries; nullopt where the backend has no such kernel.
std::optional<Moments> channel_moments(const Tensor& x) {
  const int64_t channels = x.size(1);
  Tensor sum = empty({channels}, {x.dtype(), x.device()});
  Backend& b = backend(x.device().type);
  if (!b.channel_sums(strided_ref(sum), {}, strided_ref(x), {}, {}, x.device().index)) return std::nullopt;
  Moments m;
  m.count = x.numel() / std::max<int64_t>(channels, 1);
  m.mean = sum.div(static_cast<double>(m.count));
  m.sum_sq = empty({channels}, {x.dtype(), x.device()});
  b.channel_sums({}, strided_ref(m.sum_sq), strided_ref(x), {}, strided_ref(m.mean), x.device().index);
  const std::vector<int64_t> shape = channel_shape(channels, x.dim());
  m.mean = m.mean.reshape(shape);
  m.sum_sq = m.sum_sq.reshape(shape);
  return m;
}

// affine_transform in one fused pass where the backend has it.
Tensor channel_affine_transform(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                                const Tensor& bias, const std::vector<int64_t>& shape) {
  Tensor scale = weight.defined() ? invstd.mul(weight.reshape(shape)) : invstd;
  Tensor shift = mean.mul(scale).neg();
  if (bias.defined()) shift = shift.add(bias.reshape(shape));
  const Tensor s = flat_channels(scale), t = flat_channels(shift);
  if (s.dtype() == x.dtype() && t.dtype() == x.dtype()) {
    Tensor out = empty(x.shape(), {x.dtype(), x.device()});
    if (backend(x.device().type)
            .channel_affine(strided_ref(out), {}, strided_ref(x), {}, strided_ref(s), strided_ref(t),
                            x.device().index)) {
      return out;
    }
  }
  return x.mul(scale).add(shift);
}

void check_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                      const Tensor& running_var, bool training) {
  const std::string_view op = "batch_norm";
  check_floating(op, x);
  TD_CHECK(x.dim() >= 2, ErrorCode::kOutOfRange, "[", op,
           "] Dimension out of range (expected to be in range of [", -std::max<int64_t>(x.dim(), 1), ", ",
           std::max<int64_t>(x.dim(), 1) - 1, "], but got 1)");
  const int64_t channels = x.size(1);
  std::vector<Tensor> on_device = {x};
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var}) {
    if (t->defined()) on_device.push_back(*t);
  }
  ops::check_same_device(op, on_device);
  check_channels(op, running_mean, "running_mean", channels);
  check_channels(op, running_var, "running_var", channels);
  check_channels(op, weight, "weight", channels);
  check_channels(op, bias, "bias", channels);
  if (!training) {
    TD_CHECK_ARG(running_mean.defined(), "[", op, "] running_mean must be defined in evaluation mode");
    TD_CHECK_ARG(running_var.defined(), "[", op, "] running_var must be defined in evaluation mode");
  } else {
    TD_CHECK_ARG(x.numel() / std::max<int64_t>(channels, 1) > 1, "[", op,
                 "] Expected more than 1 value per channel when training, got input size ",
                 shape_str(x.sizes()));
  }
}

// batch_norm written in ops: the reference for native_batch_norm (norm_test compares them).
Tensor batch_norm_composite(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& running_mean, const Tensor& running_var, bool training,
                            double momentum, double eps) {
  check_batch_norm(x, weight, bias, running_mean, running_var, training);
  const std::vector<int64_t> shape = channel_shape(x.size(1), x.dim());
  if (!training) {
    Tensor invstd = running_var.reshape(shape).add(eps).rsqrt();
    return affine_transform(x, running_mean.reshape(shape), invstd, weight, bias, shape);
  }
  Moments m = moments(x, all_but_channels(x.dim()));
  Tensor invstd = m.sum_sq.div(static_cast<double>(m.count)).add(eps).rsqrt();
  if (running_mean.defined()) update_running(running_mean, m.mean, momentum);
  if (running_var.defined()) {
    update_running(running_var, m.sum_sq.detach().div(static_cast<double>(m.count - 1)), momentum);
  }
  return affine_transform(x, m.mean, invstd, weight, bias, shape);
}

StridedRef optional_ref(const Tensor& t) { return t.defined() ? strided_ref(t) : StridedRef{}; }

// native_batch_norm's training forward in one vendor library call (cuDNN on CUDA: the output, the saved
// statistics and the running statistics' update), into out; nullopt, having changed nothing, where the
// backend has no library kernel for the case.
std::optional<std::vector<Tensor>> library_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                                      const Tensor& running_mean, const Tensor& running_var,
                                                      bool training, double momentum, double eps, const Tensor& out) {
  if (!training || !weight.defined() || !bias.defined() || !x.is_contiguous()) return std::nullopt;
  const TensorOptions opts{x.dtype(), x.device()};
  Tensor mean = empty({x.size(1)}, opts), invstd = empty({x.size(1)}, opts);
  BatchNormLibrary p;
  p.x = strided_ref(x);
  p.y = strided_ref(out);
  p.weight = strided_ref(weight);
  p.bias = strided_ref(bias);
  p.running_mean = optional_ref(running_mean);
  p.running_var = optional_ref(running_var);
  p.save_mean = strided_ref(mean);
  p.save_invstd = strided_ref(invstd);
  p.momentum = momentum;
  p.eps = eps;
  if (!backend(x.device().type).library_batch_norm(p, x.device().index)) return std::nullopt;
  for (const Tensor* t : {&running_mean, &running_var}) {
    if (t->defined()) ++t->impl().storage->version;
  }
  return std::vector<Tensor>{out, mean, invstd};
}

// native_batch_norm's forward in the backend's fused kernels: in training the two channel sums, then the
// per-channel arithmetic (Backend::batch_norm_channels: invstd, the affine's scale and shift, the running
// statistics' update), then one affine pass into out; five launches where the ops took some twenty-five.
// nullopt, having changed nothing, where the backend has no such kernels for the case.
std::optional<std::vector<Tensor>> fused_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                                    const Tensor& running_mean, const Tensor& running_var,
                                                    bool training, double momentum, double eps, Tensor out) {
  const int64_t channels = x.size(1);
  const TensorOptions opts{x.dtype(), x.device()};
  Backend& be = backend(x.device().type);
  const int dev = x.device().index;
  BatchNormChannels p;
  p.training = training;
  p.channels = channels;
  p.count = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1));
  p.eps = eps;
  p.momentum = momentum;
  Tensor mean, sum_sq;
  if (training) {
    Tensor sum = empty({channels}, opts);
    if (!be.channel_sums(strided_ref(sum), {}, strided_ref(x), {}, {}, dev)) return std::nullopt;
    mean = sum.div(p.count);
    sum_sq = empty({channels}, opts);
    if (!be.channel_sums({}, strided_ref(sum_sq), strided_ref(x), {}, strided_ref(mean), dev)) return std::nullopt;
    p.mean = strided_ref(mean);
    p.sum_sq = strided_ref(sum_sq);
  }
  p.weight = optional_ref(weight);
  p.bias = optional_ref(bias);
  p.running_mean = optional_ref(running_mean);
  p.running_var = optional_ref(running_var);
  Tensor invstd = empty({channels}, opts), scale = empty({channels}, opts), shift = empty({channels}, opts);
  p.invstd = strided_ref(invstd);
  p.scale = strided_ref(scale);
  p.shift = strided_ref(shift);
  if (!be.batch_norm_channels(p, dev)) return std::nullopt;
  // The running statistics are updated now (their versions move as copy_'s would): from here on the output
  // is computed whatever happens.
  if (training) {
    for (const Tensor* t : {&running_mean, &running_var}) {
      if (t->defined()) ++t->impl().storage->version;
    }
  }
  if (!be.channel_affine(strided_ref(out), {}, strided_ref(x), {}, strided_ref(scale), strided_ref(shift), dev)) {
    const std::vector<int64_t> shape = channel_shape(channels, x.dim());
    out = x.mul(scale.reshape(shape)).add(shift.reshape(shape));
  }
  if (!training) return std::vector<Tensor>{out, empty({0}, opts), empty({0}, opts)};
  return std::vector<Tensor>{out, mean, invstd};
}

// native_batch_norm's backward: aten's formula in public ops. With xhat = (x - mean) invstd, k = weight
// invstd and n values per channel, training gives gx = k (g - mean(g) - xhat mean(g xhat)), plus the
// gradients that reached save_mean (1/n each) and save_invstd (-invstd^2 xhat / n each); all per-channel
// terms are gathered into gx = k g + c1 x + c0: two passes over the input after sum(g) and sum(g x).
std::vector<Tensor> native_batch_norm_backward(GradContext& c) {
  const Args& a = c.args();
  const std::vector<int> input_of = ops::tensor_input_positions(a, 5);  // None arguments are not inputs
  const auto inputs = static_cast<int>(std::count_if(input_of.begin(), input_of.end(), [](int i) { return i >= 0; }));
  const Tensor x = c.input(0);
  const Tensor weight = input_of[1] >= 0 ? c.input(static_cast<size_t>(input_of[1])) : Tensor();
  const bool training = a.bool_at(5);
  const double eps = a.float_at(7);
  const int64_t channels = x.size(1);
  const std::vector<int64_t> shape = channel_shape(channels, x.dim()), dims = all_but_channels(x.dim());
  const auto n = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1));
  // Undefined gradients stay undefined (keeps_undefined_grads): the saved statistics' usually are.
  const Tensor g = c.grad(0).defined() ? c.grad(0) : zeros(x.shape(), {x.dtype(), x.device()});
  const bool grad_stats = c.grad(1).defined() || c.grad(2).defined();
  Tensor mean, invstd;
  if (training) {
    mean = c.output(1).reshape(shape);
    invstd = c.output(2).reshape(shape);
  } else {
    mean = c.input(static_cast<size_t>(input_of[3])).reshape(shape);
    invstd = c.input(static_cast<size_t>(input_of[4])).reshape(shape).add(eps).rsqrt();
  }
  const bool need_w = input_of[1] >= 0 && c.needs_grad(static_cast<size_t>(input_of[1]));
  const bool need_b = input_of[2] >= 0 && c.needs_grad(static_cast<size_t>(input_of[2]));
  // Without create_graph the per-channel sums and the input's gradient take the backend's fused passes
  // (no temporaries of the input's size); with it, public ops, so the result differentiates again.
  const bool fused = !autograd::GradMode::is_enabled();
  Backend& be = backend(x.device().type);
  // The training backward in one vendor library call (cuDNN on CUDA), where only the output has a gradient.
  // Its output buffers go to the fused passes below where the backend has no such call (the CPU's).
  Tensor gx, gw, gb;
  if (fused && training && weight.defined() && !grad_stats && x.is_contiguous() && g.is_contiguous()) {
    const TensorOptions opts{x.dtype(), x.device()};
    const Tensor save_mean = c.output(1), save_invstd = c.output(2);
    gx = empty(x.shape(), opts);
    gw = empty({channels}, opts);
    gb = empty({channels}, opts);
    BatchNormLibrary p;
    p.x = strided_ref(x);
    p.g = strided_ref(g);
    p.gx = strided_ref(gx);
    p.weight = strided_ref(weight);
    p.save_mean = strided_ref(save_mean);
    p.save_invstd = strided_ref(save_invstd);
    p.grad_weight = strided_ref(gw);
    p.grad_bias = strided_ref(gb);
    p.eps = eps;
    if (be.library_batch_norm_backward(p, x.device().index)) {
      std::vector<Tensor> grads(static_cast<size_t>(inputs));
      if (c.needs_grad(0)) grads[0] = std::move(gx);
      if (need_w) grads[static_cast<size_t>(input_of[1])] = std::move(gw);
      if (need_b) grads[static_cast<size_t>(input_of[2])] = std::move(gb);
      return grads;
    }
  }
  Tensor sum_g, sum_g_xhat;
  if (fused) {
    const TensorOptions opts{x.dtype(), x.device()};
    Tensor s1 = empty({channels}, opts), s2 = empty({channels}, opts);
    const Tensor m = training ? c.output(1) : flat_channels(mean);  // training saved it as [C]
    if (be.channel_sums(strided_ref(s1), strided_ref(s2), strided_ref(g), strided_ref(x), strided_ref(m),
                        x.device().index)) {
      if (training) {
        // The per-channel arithmetic in one kernel (Backend::batch_norm_channels), then one affine pass.
        BatchNormChannels p;
        p.grad = true;
        p.channels = channels;
        p.count = n;
        p.sum_g = strided_ref(s1);
        p.sum_gc = strided_ref(s2);
        const Tensor fi = c.output(2);
        p.mean = strided_ref(m);
        p.invstd = strided_ref(fi);
        p.weight = optional_ref(weight);
        p.grad_mean = optional_ref(c.grad(1));
        p.grad_invstd = optional_ref(c.grad(2));
        Tensor k = empty({channels}, opts), cx = empty({channels}, opts), shift = empty({channels}, opts);
        if (need_w && !gw.defined()) gw = empty({channels}, opts);
        if (need_b && !gb.defined()) gb = empty({channels}, opts);
        p.k = strided_ref(k);
        p.cx = strided_ref(cx);
        p.shift = strided_ref(shift);
        p.grad_weight = optional_ref(gw);
        p.grad_bias = optional_ref(gb);
        if (be.batch_norm_channels(p, x.device().index)) {
          std::vector<Tensor> grads(static_cast<size_t>(inputs));
          if (c.needs_grad(0)) {
            Tensor out = gx.defined() ? gx : empty(x.shape(), opts);
            if (!be.channel_affine(strided_ref(out), strided_ref(g), strided_ref(x), strided_ref(k), strided_ref(cx),
                                   strided_ref(shift), x.device().index)) {
              out = g.mul(k.reshape(shape)).add(x.mul(cx.reshape(shape))).add(shift.reshape(shape));
            }
            grads[0] = std::move(out);
          }
          if (need_w) grads[static_cast<size_t>(input_of[1])] = gw;
          if (need_b) grads[static_cast<size_t>(input_of[2])] = gb;
          return grads;
        }
      }
      sum_g = s1.reshape(shape);
      sum_g_xhat = s2.reshape(shape).mul(invstd);  // sum(g (x - mean)) invstd
    }
  }
  if (!sum_g.defined()) sum_g = g.sum(dims, true);
  // sum(g xhat) = invstd (sum(g x) - mean sum(g)): the weight's gradient, and training's xhat coefficient.
  // In eval mode the output depends on the running statistics too (aten leaves them without a gradient;
  // tensord gives it, as the composite would).
  const bool need_rm = !training && input_of[3] >= 0 && c.needs_grad(static_cast<size_t>(input_of[3]));
  const bool need_rv = !training && input_of[4] >= 0 && c.needs_grad(static_cast<size_t>(input_of[4]));
  if (!sum_g_xhat.defined() && (training || need_w || need_rv)) {
    sum_g_xhat = g.mul(x).sum(dims, true).sub(mean.mul(sum_g)).mul(invstd);
  }
  std::vector<Tensor> grads(static_cast<size_t>(inputs));
  if (c.needs_grad(0)) {
    Tensor k = weight.defined() ? invstd.mul(weight.reshape(shape)) : invstd;
    if (!training) {
      grads[0] = g.mul(k);
    } else {
      Tensor c1 = k.mul(sum_g_xhat).div(-n);  // the coefficient of xhat
      Tensor c0 = k.mul(sum_g).div(-n);
      if (c.grad(1).defined()) c0 = c0.add(c.grad(1).reshape(shape).div(n));
      if (c.grad(2).defined()) c1 = c1.sub(c.grad(2).reshape(shape).mul(invstd).mul(invstd).div(n));
      // c1 xhat + c0 = (c1 invstd) x + (c0 - c1 invstd mean)
      Tensor cx = c1.mul(invstd);
      Tensor shift = c0.sub(cx.mul(mean));
      if (fused) {
        Tensor out = empty(x.shape(), {x.dtype(), x.device()});
        const Tensor fk = flat_channels(k), fx = flat_channels(cx), fc = flat_channels(shift);
        if (be.channel_affine(strided_ref(out), strided_ref(g), strided_ref(x), strided_ref(fk), strided_ref(fx),
                              strided_ref(fc), x.device().index)) {
          grads[0] = std::move(out);
        }
      }
      if (!grads[0].defined()) grads[0] = g.mul(k).add(x.mul(cx)).add(shift);
    }
  }
  if (need_w) grads[static_cast<size_t>(input_of[1])] = sum_g_xhat.reshape({channels});
  if (need_rm || need_rv) {
    Tensor k = weight.defined() ? invstd.mul(weight.reshape(shape)) : invstd;
    // d/d running_mean = -k per element; d/d running_var = -(x - mean) k invstd^2 / 2.
    if (need_rm) grads[static_cast<size_t>(input_of[3])] = sum_g.mul(k).neg().reshape({channels});
    if (need_rv) {
      grads[static_cast<size_t>(input_of[4])] = sum_g_xhat.mul(k).mul(invstd).mul(-0.5).reshape({channels});
    }
  }
  if (need_b) grads[static_cast<size_t>(input_of[2])] = sum_g.reshape({channels});
  return grads;
}

}  // namespace

void register_norm_ops(Registry& r) {
  r.def(
       "native_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? "
       "running_var, "
       "bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)")
      .doc(
          "batch_norm's primitive: the output, and in training the batch's mean and 1 / sqrt(var + eps) per "
          "channel (empty in eval mode, as aten's CPU kernel)")
      .saves_outputs()
      .keeps_undefined_grads()
      .backward(native_batch_norm_backward)
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        const Tensor weight = a.optional_tensor(1), bias = a.optional_tensor(2);
        const Tensor running_mean = a.optional_tensor(3), running_var = a.optional_tensor(4);
        const bool training = a.bool_at(5);
        const double momentum = a.float_at(6), eps = a.float_at(7);
        check_batch_norm(x, weight, bias, running_mean, running_var, training);
        const int64_t channels = x.size(1);
        const std::vector<int64_t> shape = channel_shape(channels, x.dim());
        const Tensor y = empty(x.shape(), {x.dtype(), x.device()});
        if (auto out = library_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, y)) {
          return *out;
        }
        if (auto out = fused_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, y)) {
          return *out;
        }
        if (!training) {
          Tensor invstd = running_var.reshape(shape).add(eps).rsqrt();
          return {channel_affine_transform(x, running_mean.reshape(shape), invstd, weight, bias, shape),
                  empty({0}, {x.dtype(), x.device()}), empty({0}, {x.dtype(), x.device()})};
        }
        std::optional<Moments> fused = channel_moments(x);
        Moments m = fused ? *fused : moments(x, all_but_channels(x.dim()));
        Tensor invstd = m.sum_sq.div(static_cast<double>(m.count)).add(eps).rsqrt();
        if (running_mean.defined()) update_running(running_mean, m.mean, momentum);
        if (running_var.defined()) {
          update_running(running_var, m.sum_sq.div(static_cast<double>(m.count - 1)), momentum);
        }
        return {channel_affine_transform(x, m.mean, invstd, weight, bias, shape), m.mean.reshape({channels}),
                invstd.reshape({channels})};
      });
  r.def(
       "batch_norm(Tensor input, Tensor? weight=None, Tensor? bias=None, Tensor? running_mean=None, "
       "Tensor? running_var=None, bool training=False, float momentum=0.1, float eps=1e-05) -> Tensor")
      .doc(
          "normalizes each channel (dim 1) of [N, C, *] by the batch's or the running statistics, then "
          "weight * x + bias; training updates the running statistics in place")
      .composite()
      .forward([](const Args& a) {
        auto opt = [&](size_t i) { return a.is_none(i) ? Value(None{}) : Value(a.tensor(i)); };
        return one(
            call_op("native_batch_norm", {a.tensor(0), opt(1), opt(2), opt(3), opt(4), Scalar(a.bool_at(5)),
                                          Scalar(a.float_at(6)), Scalar(a.float_at(7))})[0]);
      });
  r.def(
       "_batch_norm_composite(Tensor input, Tensor? weight=None, Tensor? bias=None, Tensor? "
       "running_mean=None, "
       "Tensor? running_var=None, bool training=False, float momentum=0.1, float eps=1e-05) -> Tensor")
      .doc("batch_norm written in public ops: the reference native_batch_norm is tested against")
      .composite()
      .forward([](const Args& a) {
        return one(batch_norm_composite(a.tensor(0), a.optional_tensor(1), a.optional_tensor(2),
                                        a.optional_tensor(3), a.optional_tensor(4), a.bool_at(5),
                                        a.float_at(6), a.float_at(7)));
      });

  r.def(
       "instance_norm(Tensor input, Tensor? weight=None, Tensor? bias=None, Tensor? running_mean=None, "
       "Tensor? running_var=None, bool use_input_stats=True, float momentum=0.1, float eps=1e-05) -> Tensor")
      .doc(
          "normalizes each (sample, channel) plane of [N, C, *] by its own mean and variance (or the running "
          "ones)")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "instance_norm";
        const Tensor& x = a.tensor(0);
        const Tensor weight = a.optional_tensor(1), bias = a.optional_tensor(2);
        const Tensor running_mean = a.optional_tensor(3), running_var = a.optional_tensor(4);
        const double momentum = a.float_at(6), eps = a.float_at(7);
        check_floating(op, x);
        TD_CHECK(x.dim() >= 2, ErrorCode::kOutOfRange, "[", op,
                 "] Dimension out of range (expected to be in range "
                 "of [",
                 -std::max<int64_t>(x.dim(), 1), ", ", std::max<int64_t>(x.dim(), 1) - 1, "], but got 1)");
        const int64_t channels = x.size(1);
        check_channels(op, running_mean, "running_mean", channels);
        check_channels(op, running_var, "running_var", channels);
        check_channels(op, weight, "weight", channels);
        check_channels(op, bias, "bias", channels);
        const std::vector<int64_t> shape = channel_shape(channels, x.dim());
        if (!a.bool_at(5)) {
          TD_CHECK_ARG(running_mean.defined() && running_var.defined(), "[", op,
                       "] Expected running_mean and "
                       "running_var to be defined when use_input_stats is false");
          Tensor invstd = running_var.reshape(shape).add(eps).rsqrt();
          return one(affine_transform(x, running_mean.reshape(shape), invstd, weight, bias, shape));
        }
        std::vector<int64_t> spatial;
        for (int64_t d = 2; d < x.dim(); ++d) spatial.push_back(d);
        int64_t plane = 1;
        for (int64_t d : spatial) plane *= x.size(d);
        TD_CHECK_ARG(plane > 1, "[", op,
                     "] Expected more than 1 spatial element when training, got input size ",
                     shape_str(x.sizes()));
        Moments m = moments(x, spatial);
        Tensor invstd = m.sum_sq.div(static_cast<double>(m.count)).add(eps).rsqrt();
        // aten repeats the running statistics per sample, updates those as batch_norm does and stores their
        // mean over the batch.
        const int64_t n = x.size(0);
        auto update = [&](const Tensor& running, const Tensor& stat) {
          autograd::NoGradGuard no_grad;
          Tensor s = stat.detach().reshape({n, channels}).to(running.dtype());
          running.copy_(s.mul(momentum).add(running.mul(1 - momentum)).mean({0}));
        };
        if (running_mean.defined()) update(running_mean, m.mean);
        if (running_var.defined())
          update(running_var, m.sum_sq.detach().div(static_cast<double>(m.count - 1)));
        Tensor y = x.sub(m.mean).mul(invstd);
        if (weight.defined()) y = y.mul(weight.reshape(shape));
        return one(bias.defined() ? y.add(bias.reshape(shape)) : y);
      });

  r.def(
       "layer_norm(Tensor input, int[] normalized_shape, Tensor? weight=None, Tensor? bias=None, "
       "float eps=1e-05) -> Tensor")
      .doc(
          "normalizes over the trailing normalized_shape dims by their mean and variance, then "
          "weight * x + bias elementwise")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "layer_norm";
        const Tensor& x = a.tensor(0);
        const std::vector<int64_t>& normalized = a.ints(1);
        const Tensor weight = a.optional_tensor(2), bias = a.optional_tensor(3);
        check_floating(op, x);
        TD_CHECK_ARG(!normalized.empty(), "[", op,
                     "] Expected normalized_shape to be at least 1-dimensional, i.e., "
                     "containing at least one element, but got normalized_shape = ",
                     shape_str(normalized));
        TD_CHECK_ARG(!weight.defined() || weight.shape() == normalized, "[", op,
                     "] Expected weight to be of same "
                     "shape as normalized_shape, but got weight of shape ",
                     shape_str(weight.sizes()), " and normalized_shape = ", shape_str(normalized));
        TD_CHECK_ARG(!bias.defined() || bias.shape() == normalized, "[", op,
                     "] Expected bias to be of same shape "
                     "as normalized_shape, but got bias of shape ",
                     shape_str(bias.sizes()), " and normalized_shape = ", shape_str(normalized));
        const auto k = static_cast<int64_t>(normalized.size());
        bool fits = x.dim() >= k;
        for (int64_t i = 0; fits && i < k; ++i)
          fits = x.size(x.dim() - k + i) == normalized[static_cast<size_t>(i)];
        if (!fits) {
          std::string expected = "[*";
          for (int64_t s : normalized) expected += ", " + std::to_string(s);
          TD_CHECK_ARG(false, "[", op, "] Given normalized_shape=", shape_str(normalized),
                       ", expected input with shape ", expected, "], but got input of size",
                       shape_str(x.sizes()));
        }
        std::vector<int64_t> dims(static_cast<size_t>(k));
        std::iota(dims.begin(), dims.end(), x.dim() - k);
        Moments m = moments(x, dims);
        Tensor y = x.sub(m.mean).mul(m.sum_sq.div(static_cast<double>(m.count)).add(a.float_at(4)).rsqrt());
        if (weight.defined()) return one(bias.defined() ? y.mul(weight).add(bias) : y.mul(weight));
        return one(bias.defined() ? y.add(bias) : y);
      });

  r.def(
       "group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, float eps=1e-05) -> "
       "Tensor")
      .doc(
          "normalizes each group of num_groups channel groups of [N, C, *] per sample, then per-channel "
          "weight * x + bias")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "group_norm";
        const Tensor& x = a.tensor(0);
        const int64_t groups = a.int_at(1);
        const Tensor weight = a.optional_tensor(2), bias = a.optional_tensor(3);
        check_floating(op, x);
        TD_CHECK(x.dim() >= 2, ErrorCode::kOutOfRange, "[", op,
                 "] Dimension out of range (expected to be in range "
                 "of [",
                 -std::max<int64_t>(x.dim(), 1), ", ", std::max<int64_t>(x.dim(), 1) - 1, "], but got 1)");
        const int64_t channels = x.size(1);
        TD_CHECK_ARG(groups > 0 && channels % groups == 0, "[", op,
                     "] Expected number of channels in input to be "
                     "divisible by num_groups, but got input of shape ",
                     shape_str(x.sizes()), " and num_groups=", groups);
        for (const auto& [t, name] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}}) {
          TD_CHECK_ARG(!t.defined() || (t.dim() == 1 && t.numel() == channels), "[", op, "] Expected ", name,
                       " to be a vector of size equal to the number of channels in input, but got ", name,
                       " of shape ", shape_str(t.sizes()), " and input of shape ", shape_str(x.sizes()));
        }
        const int64_t n = x.size(0);
        Tensor grouped = x.reshape({n, groups, -1});
        Moments m = moments(grouped, {2});
        Tensor y =
            grouped.sub(m.mean).mul(m.sum_sq.div(static_cast<double>(m.count)).add(a.float_at(4)).rsqrt());
        y = y.reshape(x.shape());
        const std::vector<int64_t> shape = channel_shape(channels, x.dim());
        if (weight.defined())
          y = bias.defined() ? y.mul(weight.reshape(shape)).add(bias.reshape(shape))
                             : y.mul(weight.reshape(shape));
        else if (bias.defined())
          y = y.add(bias.reshape(shape));
        return one(y);
      });

  r.def(
       "local_response_norm(Tensor input, int size, float alpha=0.0001, float beta=0.75, float k=1.0) -> "
       "Tensor")
      .doc(
          "x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta (torch.nn.functional's "
          "composite)")
      .composite()
      .forward([](const Args& a) {
        const std::string_view op = "local_response_norm";
        const Tensor& x = a.tensor(0);
        const int64_t size = a.int_at(1);
        check_floating(op, x);
        TD_CHECK_ARG(x.dim() >= 3, "[", op, "] Expected 3D or higher dimensionality input (got ", x.dim(),
                     " dimensions)");
        TD_CHECK_ARG(size > 0, "[", op, "] size must be positive, got ", size);
        if (x.numel() == 0) return one(x);
        // The channel window is an average pooling of the squares over a zero-padded channel dim.
        Tensor div = x.mul(x).unsqueeze(1);
        const std::vector<int64_t> sizes = x.shape();
        if (x.dim() == 3) {
          div = call_op("pad", {div, std::vector<int64_t>{0, 0, size / 2, (size - 1) / 2}})[0];
          div = call_op("avg_pool2d", {div, std::vector<int64_t>{size, 1}, std::vector<int64_t>{1, 1}})[0]
                    .squeeze(1);
        } else {
          div = div.reshape({sizes[0], 1, sizes[1], sizes[2], -1});
          div = call_op("pad", {div, std::vector<int64_t>{0, 0, 0, 0, size / 2, (size - 1) / 2}})[0];
          div =
              call_op("avg_pool3d", {div, std::vector<int64_t>{size, 1, 1}, std::vector<int64_t>{1, 1, 1}})[0]
                  .squeeze(1)
                  .reshape(sizes);
        }
        return one(x.div(div.mul(a.float_at(2)).add(a.float_at(4)).pow(a.float_at(3))));
      });

  r.def("normalize(Tensor input, float p=2.0, int dim=1, float eps=1e-12) -> Tensor")
      .doc("input / max(||input||_p along dim, eps) (torch.nn.functional.normalize)")
      .composite()
      .forward([](const Args& a) {
        const Tensor& x = a.tensor(0);
        check_floating("normalize", x);
        const int64_t dim = wrap_dim("normalize", a.int_at(2), x.dim());
        Tensor denom = x.norm(a.float_at(1), std::vector<int64_t>{dim}, true).clamp_min(a.float_at(3));
        return one(x.div(denom.expand_as(x)));
      });
}

}  // namespace td
