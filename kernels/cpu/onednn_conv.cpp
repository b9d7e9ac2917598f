// oneDNN convolutions. Each call looks its case up in a cache of primitives (building one costs far more
// than running a small convolution), lets oneDNN pick its preferred (blocked) layouts, and reorders the
// plain tensors in and out of them around the primitive, as PyTorch's ideep path does. Cases oneDNN cannot
// build are remembered as such, so the caller's im2col path takes them without retrying.
#include "kernels/cpu/onednn_conv.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/cpu/loops.h"

namespace td::kernels {

namespace {

using dnnl::memory;
using Dims = memory::dims;

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

enum class Kind { kForward, kBackwardInput, kBackwardWeight };

// What identifies a primitive: the kind, shapes and window.
using Key = std::tuple<int, int, bool, std::array<int64_t, 4>, std::array<int64_t, 18>>;

Key key_of(Kind kind, const ConvWindow& w, int64_t n, int64_t c, int64_t cout, int64_t groups, bool bias) {
  std::array<int64_t, 18> geometry{};
  for (int d = 0; d < w.dims; ++d) {
    geometry[static_cast<size_t>(6 * d + 0)] = w.in[d];
    geometry[static_cast<size_t>(6 * d + 1)] = w.kernel[d];
    geometry[static_cast<size_t>(6 * d + 2)] = w.out[d];
    geometry[static_cast<size_t>(6 * d + 3)] = w.stride[d];
    geometry[static_cast<size_t>(6 * d + 4)] = w.padding[d];
    geometry[static_cast<size_t>(6 * d + 5)] = w.dilation[d];
  }
  return {static_cast<int>(kind), w.dims, bias, {n, c, cout, groups}, geometry};
}

memory::format_tag plain_data_tag(int dims) {
  return dims == 1 ? memory::format_tag::ncw : dims == 2 ? memory::format_tag::nchw : memory::format_tag::ncdhw;
}
memory::format_tag plain_weight_tag(int dims, bool grouped) {
  if (grouped) return dims == 1 ? memory::format_tag::goiw : dims == 2 ? memory::format_tag::goihw : memory::format_tag::goidhw;
  return dims == 1 ? memory::format_tag::oiw : dims == 2 ? memory::format_tag::oihw : memory::format_tag::oidhw;
}

// The plain (user) and "any" (primitive's choice) descriptors of one convolution.
struct Descs {
  memory::desc src, weights, bias, dst;          // plain
  memory::desc any_src, any_weights, any_dst;     // format_tag::any
  Dims strides, dilates, padding;
};

Descs descs_of(const ConvWindow& w, int64_t n, int64_t c, int64_t cout, int64_t groups, bool bias) {
  const auto f32 = memory::data_type::f32;
  Dims src = {n, c}, dst = {n, cout}, wei;
  if (groups > 1) {
    wei = {groups, cout / groups, c / groups};
  } else {
    wei = {cout, c};
  }
  Descs d;
  for (int i = 0; i < w.dims; ++i) {
    src.push_back(w.in[i]);
    dst.push_back(w.out[i]);
    wei.push_back(w.kernel[i]);
    d.strides.push_back(w.stride[i]);
    d.dilates.push_back(w.dilation[i] - 1);  // oneDNN counts the gaps
    d.padding.push_back(w.padding[i]);
  }
  d.src = memory::desc(src, f32, plain_data_tag(w.dims));
  d.dst = memory::desc(dst, f32, plain_data_tag(w.dims));
  d.weights = memory::desc(wei, f32, plain_weight_tag(w.dims, groups > 1));
  d.bias = bias ? memory::desc({cout}, f32, memory::format_tag::x) : memory::desc();
  d.any_src = memory::desc(src, f32, memory::format_tag::any);
  d.any_dst = memory::desc(dst, f32, memory::format_tag::any);
  d.any_weights = memory::desc(wei, f32, memory::format_tag::any);
  return d;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d, bool bias) {
  auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                    dnnl::algorithm::convolution_direct, d.any_src, d.any_weights,
                                                    d.bias, d.any_dst, d.strides, d.dilates, d.padding, d.padding)
                   : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                    dnnl::algorithm::convolution_direct, d.any_src, d.any_weights,
                                                    d.any_dst, d.strides, d.dilates, d.padding, d.padding);
  return {desc, engine()};
}

// One cached case: the primitive and the layouts it wants for each argument.
struct Entry {
  Descs d;
  dnnl::primitive prim;
  memory::desc a, b, out, extra;  // the primitive's layouts of its inputs (a, b), output and bias gradient
};

std::mutex cache_mutex;
std::map<Key, std::shared_ptr<Entry>> cache;  // null: oneDNN has no primitive for the case

std::shared_ptr<Entry> build(Kind kind, const ConvWindow& w, int64_t n, int64_t c, int64_t cout, int64_t groups,
                             bool bias) {
  auto e = std::make_shared<Entry>();
  e->d = descs_of(w, n, c, cout, groups, bias);
  const Descs& d = e->d;
  auto fwd = forward_pd(d, kind == Kind::kForward ? bias : false);
  switch (kind) {
    case Kind::kForward:
      e->prim = dnnl::convolution_forward(fwd);
      e->a = fwd.src_desc();
      e->b = fwd.weights_desc();
      e->out = fwd.dst_desc();
      break;
    case Kind::kBackwardInput: {
      dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_weights,
                                                 d.any_dst, d.strides, d.dilates, d.padding, d.padding);
      dnnl::convolution_backward_data::primitive_desc pd(desc, engine(), fwd);
      e->prim = dnnl::convolution_backward_data(pd);
      e->a = pd.diff_dst_desc();
      e->b = pd.weights_desc();
      e->out = pd.diff_src_desc();
      break;
    }
    case Kind::kBackwardWeight: {
      auto desc = bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, d.any_src,
                                                                  d.any_weights, d.bias, d.any_dst, d.strides,
                                                                  d.dilates, d.padding, d.padding)
                       : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, d.any_src,
                                                                  d.any_weights, d.any_dst, d.strides, d.dilates,
                                                                  d.padding, d.padding);
      dnnl::convolution_backward_weights::primitive_desc pd(desc, engine(), fwd);
      e->prim = dnnl::convolution_backward_weights(pd);
      e->a = pd.src_desc();
      e->b = pd.diff_dst_desc();
      e->out = pd.diff_weights_desc();
      if (bias) e->extra = pd.diff_bias_desc();
      break;
    }
  }
  return e;
}

std::shared_ptr<Entry> lookup(Kind kind, const ConvWindow& w, int64_t n, int64_t c, int64_t cout, int64_t groups,
                              bool bias) {
  const Key key = key_of(kind, w, n, c, cout, groups, bias);
  std::lock_guard lock(cache_mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::shared_ptr<Entry> e;
  try {
    e = build(kind, w, n, c, cout, groups, bias);
  } catch (const dnnl::error&) {
    e = nullptr;  // unsupported here: the caller's im2col path takes the case
  }
  cache.emplace(key, e);
  return e;
}

// The user's buffer as the primitive wants it: itself when the layouts agree, else a reordered copy.
memory input(const memory::desc& want, const memory::desc& plain, void* data) {
  memory user(plain, engine(), data);
  if (want == plain) return user;
  memory m(want, engine());
  dnnl::reorder(user, m).execute(stream(), user, m);
  return m;
}

// Where the primitive writes an output the user wants in `plain` at `data`; finish() copies it there.
struct Output {
  memory user, prim;
  Output(const memory::desc& want, const memory::desc& plain, void* data)
      : user(plain, engine(), data), prim(want == plain ? user : memory(want, engine())) {}
  void finish() {
    if (prim.get() != user.get()) dnnl::reorder(prim, user).execute(stream(), prim, user);
  }
};

// A weight (or weight gradient) may be a strided view, such as the taps convolution keeps of a larger kernel
// (core/ops/conv.cpp's dead_taps): oneDNN's reorders read and write any strides. It must not overlap itself:
// with its dims ordered by stride, each stride spans the dims inside it.
bool usable_weight(const StridedRef& w) {
  if (w.dtype != DType::kFloat32) return false;
  if (is_contiguous(w)) return true;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of the dims longer than 1
  for (size_t i = 0; i < w.sizes.size(); ++i) {
    if (w.sizes[i] > 1) dims.emplace_back(w.strides[i], w.sizes[i]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t span = 1;
  for (const auto& [stride, size] : dims) {
    if (stride < span) return false;
    span = stride * size;
  }
  return true;
}

// The plain descriptor of a weight as it lies in memory: the case's dense one, or one with its strides.
memory::desc weight_desc(const Entry& e, const StridedRef& w, int64_t groups) {
  if (is_contiguous(w)) return e.d.weights;
  Dims strides;
  if (groups > 1) strides.push_back(w.strides[0] * (w.sizes[0] / groups));  // [G, O / G, I, k...]
  strides.insert(strides.end(), w.strides.begin(), w.strides.end());
  return memory::desc(e.d.weights.dims(), memory::data_type::f32, strides);
}

bool usable(std::initializer_list<const StridedRef*> refs) {
  for (const StridedRef* r : refs) {
    if (r->dtype != DType::kFloat32) return false;
    if (!is_contiguous(*r)) return false;  // the callers pass contiguous tensors
  }
  return true;
}

}  // namespace

bool onednn_conv_forward(const StridedRef& y, const StridedRef& x, const StridedRef& w, const StridedRef& bias,
                         const ConvWindow& win, int64_t groups) {
  const bool has_bias = bias.data != nullptr;
  if (!usable({&y, &x}) || !usable_weight(w) || (has_bias && !usable({&bias}))) return false;
  auto e = lookup(Kind::kForward, win, x.sizes[0], x.sizes[1], y.sizes[1], groups, has_bias);
  if (!e) return false;
  memory src = input(e->a, e->d.src, x.data), wei = input(e->b, weight_desc(*e, w, groups), w.data);
  Output dst(e->out, e->d.dst, y.data);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst.prim}};
  if (has_bias) args.emplace(DNNL_ARG_BIAS, memory(e->d.bias, engine(), bias.data));
  e->prim.execute(stream(), args);
  dst.finish();
  stream().wait();
  return true;
}

namespace {

// The backward primitives, given diff_dst already in the layout each wants.
void run_backward_input(Entry& e, const memory& diff_dst, const StridedRef& gx, const StridedRef& w, int64_t groups) {
  memory wei = input(e.b, weight_desc(e, w, groups), w.data);
  Output diff_src(e.out, e.d.src, gx.data);
  e.prim.execute(stream(), {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diff_src.prim}});
  diff_src.finish();
}

void run_backward_weight(Entry& e, const memory& diff_dst, const StridedRef& gw, const StridedRef& gb,
                         const StridedRef& x, int64_t groups) {
  memory src = input(e.a, e.d.src, x.data);
  Output diff_wei(e.out, weight_desc(e, gw, groups), gw.data);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                                          {DNNL_ARG_DIFF_WEIGHTS, diff_wei.prim}};
  std::optional<Output> diff_bias;
  if (gb.data) {
    diff_bias.emplace(e.extra, e.d.bias, gb.data);
    args.emplace(DNNL_ARG_DIFF_BIAS, diff_bias->prim);
  }
  e.prim.execute(stream(), args);
  diff_wei.finish();
  if (diff_bias) diff_bias->finish();
}

}  // namespace

bool onednn_conv_backward_input(const StridedRef& gx, const StridedRef& gy, const StridedRef& w,
                                const ConvWindow& win, int64_t groups) {
  return onednn_conv_backward(gx, StridedRef{}, StridedRef{}, StridedRef{}, gy, w, win, groups);
}

bool onednn_conv_backward_weight(const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                                 const StridedRef& gy, const ConvWindow& win, int64_t groups) {
  return onednn_conv_backward(StridedRef{}, gw, gb, x, gy, StridedRef{}, win, groups);
}

bool onednn_conv_backward(const StridedRef& gx, const StridedRef& gw, const StridedRef& gb, const StridedRef& x,
                          const StridedRef& gy, const StridedRef& w, const ConvWindow& win, int64_t groups) {
  const bool want_x = gx.data != nullptr, want_w = gw.data != nullptr, has_bias = gb.data != nullptr;
  if (!usable({&gy}) || (want_x && (!usable({&gx}) || !usable_weight(w))) ||
      (want_w && (!usable({&x}) || !usable_weight(gw))) ||
      (has_bias && (!want_w || !usable({&gb})))) {  // the bias's gradient comes with the weight's
    return false;
  }
  const int64_t n = gy.sizes[0], cout = gy.sizes[1], c = want_x ? gx.sizes[1] : x.sizes[1];
  std::shared_ptr<Entry> ex, ew;
  if (want_x && !(ex = lookup(Kind::kBackwardInput, win, n, c, cout, groups, false))) return false;
  if (want_w && !(ew = lookup(Kind::kBackwardWeight, win, n, c, cout, groups, has_bias))) return false;
  // Both primitives usually want gy in the same blocked layout: reorder it once.
  std::optional<memory> dx, dw;
  if (ex) dx = input(ex->a, ex->d.dst, gy.data);
  if (ew) dw = dx && ew->b == ex->a ? *dx : input(ew->b, ew->d.dst, gy.data);
  if (ex) run_backward_input(*ex, *dx, gx, w, groups);
  if (ew) run_backward_weight(*ew, *dw, gw, gb, x, groups);
  stream().wait();
  return true;
}

}  // namespace td::kernels
