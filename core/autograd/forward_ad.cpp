// Dual levels and tangent storage for forward-mode AD. The ops' tangent rules live in core/ops/forward_ad.cpp.
//
// Tangents sit in a per-thread table keyed by the tensor's impl, not in the impl: a tensor made on a level
// that is gone, or on another thread, simply has none, and closing the level frees them all at once. Each
// entry keeps a weak reference to its impl, so an entry whose tensor died (and whose address a new tensor
// may reuse) is recognised as stale; stale entries are swept when the table doubles.
#include "core/autograd/forward_ad.h"

#include <algorithm>
#include <unordered_map>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/tensor_impl.h"

namespace td::autograd::forward_ad {

namespace {
struct Entry {
  std::weak_ptr<TensorImpl> owner;
  Tensor tangent;
};

struct LevelState {
  bool open = false;
  bool suspended = false;
  std::unordered_map<const TensorImpl*, Entry> tangents;
  size_t sweep_at = 1024;
};

thread_local LevelState state;

void check_level(std::string_view api, int64_t level) {
  TD_CHECK(state.open, ErrorCode::kFailedPrecondition, "[", api,
           "] Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() "
           "first.");
  TD_CHECK_ARG(level == -1 || level == 0, "[", api, "] level ", level, " is not the open dual level (0)");
}

void sweep() {
  for (auto it = state.tangents.begin(); it != state.tangents.end();) {
    it = it->second.owner.expired() ? state.tangents.erase(it) : std::next(it);
  }
  state.sweep_at = std::max<size_t>(1024, 2 * state.tangents.size());
}

bool same_layout(const Tensor& a, const Tensor& b) {
  return std::ranges::equal(a.sizes(), b.sizes()) && std::ranges::equal(a.strides(), b.strides()) &&
         a.storage_offset() == b.storage_offset();
}

// A zero tensor laid out exactly like t (sizes, strides and offset over a block as large as t's storage).
Tensor zeros_mirroring(const Tensor& t) {
  auto storage = Storage::allocate(t.impl().storage->nbytes, t.device());
  Tensor flat(std::make_shared<TensorImpl>(storage, std::vector<int64_t>{static_cast<int64_t>(
                                                        t.impl().storage->nbytes / itemsize(t.dtype()))},
                                           std::vector<int64_t>{1}, 0, t.dtype()));
  {
    NoGradGuard no_grad;
    flat.zero_();
  }
  return make_view(flat, t.shape(), {t.strides().begin(), t.strides().end()}, t.storage_offset());
}
}  // namespace

int64_t enter_dual_level() {
  TD_CHECK(!state.open, ErrorCode::kFailedPrecondition,
           "[enter_dual_level] Nested forward mode AD is not supported at the moment");
  state.open = true;
  state.suspended = false;
  return 0;
}

void exit_dual_level(int64_t level) {
  TD_CHECK(state.open, ErrorCode::kFailedPrecondition, "[exit_dual_level] no dual level is open");
  TD_CHECK_ARG(level == -1 || level == 0, "[exit_dual_level] level ", level, " is not the open dual level (0)");
  state.tangents.clear();
  state.sweep_at = 1024;
  state.open = false;
}

bool is_active() { return state.open; }

Tensor make_dual(const Tensor& primal, const Tensor& tangent, int64_t level) {
  check_level("make_dual", level);
  TD_CHECK_ARG(primal.defined() && tangent.defined(), "[make_dual] primal and tangent must be defined tensors");
  TD_CHECK_ARG(is_floating(primal.dtype()) || is_complex(primal.dtype()),
               "[make_dual] Expected primal to be floating point or complex, but got: ", dtype_name(primal.dtype()));
  TD_CHECK_ARG(is_floating(tangent.dtype()) || is_complex(tangent.dtype()),
               "[make_dual] Expected tangent to be floating point or complex, but got: ",
               dtype_name(tangent.dtype()));
  TD_CHECK_ARG(primal.shape() == tangent.shape(), "[make_dual] Trying to set a forward gradient that has a "
               "different size than that of the original Tensor, this is not supported. Tensor is of size ",
               shape_str(primal.sizes()), " while the given forward gradient is of size ", shape_str(tangent.sizes()),
               ".");
  TD_CHECK_ARG(!detail::tangent(primal).defined(), "[make_dual] Making a dual Tensor based on a Tensor that already "
               "has a forward gradient at the same level 0 is not supported.");
  Tensor dual = primal.view(primal.shape());
  Tensor t = tangent;
  if (t.device() != primal.device()) t = t.to(primal.device().str());
  if (t.dtype() != primal.dtype()) t = t.to(primal.dtype());
  detail::set_tangent(dual, t);
  return dual;
}

UnpackedDual unpack_dual(const Tensor& tensor, int64_t level) {
  TD_CHECK_ARG(level == -1 || level == 0, "[unpack_dual] level ", level, " is not a dual level (0)");
  Tensor tangent = detail::tangent(tensor);
  if (!tangent.defined()) return {tensor, Tensor()};
  detail::Suspend suspend;  // the primal view must not take the tangent along
  return {tensor.view(tensor.shape()), tangent};
}

namespace detail {

bool propagating() { return state.open && !state.suspended; }

Suspend::Suspend() : prev_(state.suspended) { state.suspended = true; }
Suspend::~Suspend() { state.suspended = prev_; }

Tensor tangent(const Tensor& t) {
  if (!state.open || !t.defined()) return Tensor();
  auto it = state.tangents.find(&t.impl());
  if (it == state.tangents.end()) return Tensor();
  if (it->second.owner.lock() != t.impl_ptr()) {  // a dead tensor's entry at a reused address
    state.tangents.erase(it);
    return Tensor();
  }
  return it->second.tangent;
}

void set_tangent(const Tensor& t, Tensor tangent) {
  TD_CHECK(state.open, ErrorCode::kInternal, "set_tangent without an open dual level");
  if (!tangent.defined()) {
    state.tangents.erase(&t.impl());
    return;
  }
  TD_CHECK(tangent.shape() == t.shape(), ErrorCode::kInternal, "tangent of shape ", shape_str(tangent.sizes()),
           " for a tensor of shape ", shape_str(t.sizes()));
  if (!same_layout(tangent, t)) {
    // Laid out like t, so that a view of t and the same view of its tangent cover the same elements.
    Tensor mirrored = zeros_mirroring(t);
    Suspend suspend;
    mirrored.copy_(tangent);
    tangent = mirrored;
  }
  if (state.tangents.size() >= state.sweep_at) sweep();
  state.tangents.insert_or_assign(&t.impl(), Entry{t.impl_ptr(), std::move(tangent)});
}

Tensor tangent_slot(const Tensor& t) {
  if (Tensor existing = tangent(t); existing.defined()) return existing;
  Tensor slot;
  if (std::shared_ptr<TensorImpl> base = t.impl().view_base.lock()) {
    Tensor base_slot = tangent_slot(Tensor(base));
    slot = make_view(base_slot, t.shape(), {t.strides().begin(), t.strides().end()}, t.storage_offset());
  } else {
    slot = zeros_mirroring(t);
  }
  set_tangent(t, slot);
  return slot;
}

}  // namespace detail

}  // namespace td::autograd::forward_ad
