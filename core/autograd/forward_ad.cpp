// Dual levels and tangent storage for forward-mode AD. The ops' tangent rules live in core/ops/forward_ad.cpp.
//
// Tangents sit in a per-thread table keyed by the tensor's impl, not in the impl: a tensor made on a level
// that is gone, or on another thread, simply has none, and closing the level frees them all at once. A dying
// TensorImpl drops its entry (`forget`, from its destructor), so a long computation inside one level holds
// the tangents of live tensors only. An entry also keeps a weak reference to its impl: one whose tensor died
// on another thread (and whose address a new tensor may reuse) is recognised as stale, and stale entries are
// swept when the table doubles.
//
// Destroying a tangent can destroy TensorImpls, whose destructors call `forget` on this table: every removal
// moves the tangent out of the table first and lets it die after the table operation is over.
#include "core/autograd/forward_ad.h"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/tensor_impl.h"

namespace td::autograd::forward_ad {

namespace detail {
struct Entry {
  std::weak_ptr<TensorImpl> owner;
  Tensor tangent;
};

struct LevelState {
  std::unordered_map<const TensorImpl*, Entry> tangents;
  size_t sweep_at = 1024;
};
}  // namespace detail

namespace {
using detail::Entry;
using detail::LevelState;

// This thread's open level, on the heap: the pointer is trivially destructible, so a TensorImpl that dies in
// another thread_local's destructor at thread exit still reads a valid (null) pointer.
thread_local LevelState* open_level = nullptr;
thread_local bool suspended = false;

void check_level(std::string_view api, int64_t level) {
  TD_CHECK(open_level != nullptr, ErrorCode::kFailedPrecondition, "[", api,
           "] Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() "
           "first.");
  TD_CHECK_ARG(level == -1 || level == 0, "[", api, "] level ", level, " is not the open dual level (0)");
}

void sweep() {
  std::vector<Tensor> doomed;  // dies after the loop (see the file comment)
  for (auto it = open_level->tangents.begin(); it != open_level->tangents.end();) {
    if (!it->second.owner.expired()) {
      ++it;
      continue;
    }
    doomed.push_back(std::move(it->second.tangent));
    it = open_level->tangents.erase(it);
  }
  open_level->sweep_at = std::max<size_t>(1024, 2 * open_level->tangents.size());
}

// Removes an entry; its tangent is returned, to die at the end of the caller's expression, after the table
// operation (see the file comment).
Tensor take(std::unordered_map<const TensorImpl*, Entry>::iterator it) {
  Tensor tangent = std::move(it->second.tangent);
  open_level->tangents.erase(it);
  return tangent;
}

// Whether a tangent can stand for t as it is: the same sizes, strides and offset over a block of the same
// size, so any view of t's storage (as_strided included) is the same view of the tangent's.
bool same_layout(const Tensor& a, const Tensor& b) {
  return std::ranges::equal(a.sizes(), b.sizes()) && std::ranges::equal(a.strides(), b.strides()) &&
         a.storage_offset() == b.storage_offset() &&
         a.impl().storage->nbytes / itemsize(a.dtype()) == b.impl().storage->nbytes / itemsize(b.dtype());
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
  TD_CHECK(open_level == nullptr, ErrorCode::kFailedPrecondition,
           "[enter_dual_level] Nested forward mode AD is not supported at the moment");
  open_level = new LevelState();
  suspended = false;
  detail::levels_open.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void exit_dual_level(int64_t level) {
  TD_CHECK(open_level != nullptr, ErrorCode::kFailedPrecondition, "[exit_dual_level] no dual level is open");
  TD_CHECK_ARG(level == -1 || level == 0, "[exit_dual_level] level ", level, " is not the open dual level (0)");
  // The tangents die after the level is gone, so the TensorImpls they free find no table (file comment).
  std::unique_ptr<LevelState> closed(open_level);
  open_level = nullptr;
  detail::levels_open.fetch_sub(1, std::memory_order_relaxed);
}

bool is_active() { return open_level != nullptr; }

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
  // A tangent that requires grad is kept as a copy in its graph, so in-place updates of the dual tensor
  // (which update its tangent in place) never write into the caller's leaf.
  if (t.requires_grad() && t.is_same(tangent)) t = t.clone();
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

std::atomic<int> levels_open{0};

bool propagating_slow() { return open_level != nullptr && !suspended; }

LevelScope::LevelScope(LevelState*& slot) : slot_(slot), prev_(open_level), prev_suspended_(suspended) {
  open_level = slot;
  suspended = false;
}
LevelScope::~LevelScope() {
  slot_ = open_level;
  open_level = prev_;
  suspended = prev_suspended_;
}

Suspend::Suspend() : prev_(suspended) { suspended = true; }
Suspend::~Suspend() { suspended = prev_; }

Tensor tangent(const Tensor& t) {
  if (open_level == nullptr || !t.defined()) return Tensor();
  auto it = open_level->tangents.find(&t.impl());
  if (it != open_level->tangents.end() && it->second.owner.lock() != t.impl_ptr()) {
    take(it);  // a dead tensor's entry at a reused address
    it = open_level->tangents.end();
  }
  if (it != open_level->tangents.end()) return it->second.tangent;
  // A view of a base that has a tangent (given to it after the view was made) has that tangent's view.
  std::shared_ptr<TensorImpl> base = t.impl().view_base.lock();
  if (!base) return Tensor();
  Tensor base_tangent = tangent(Tensor(base));
  if (!base_tangent.defined()) return Tensor();
  Tensor view = make_view(base_tangent, t.shape(), {t.strides().begin(), t.strides().end()}, t.storage_offset());
  set_tangent(t, view);
  return view;
}

void set_tangent(const Tensor& t, Tensor tangent) {
  TD_CHECK(open_level != nullptr, ErrorCode::kInternal, "set_tangent without an open dual level");
  if (!tangent.defined()) {
    if (auto it = open_level->tangents.find(&t.impl()); it != open_level->tangents.end()) take(it);
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
  if (open_level->tangents.size() >= open_level->sweep_at) sweep();
  Tensor replaced;  // dies after the table operation (see the file comment)
  if (auto it = open_level->tangents.find(&t.impl()); it != open_level->tangents.end()) {
    replaced = std::move(it->second.tangent);
    it->second = Entry{t.impl_ptr(), std::move(tangent)};
  } else {
    open_level->tangents.emplace(&t.impl(), Entry{t.impl_ptr(), std::move(tangent)});
  }
}

void forget_slow(const TensorImpl* impl) {
  if (open_level == nullptr || open_level->tangents.empty()) return;
  if (auto it = open_level->tangents.find(impl); it != open_level->tangents.end()) take(it);
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
