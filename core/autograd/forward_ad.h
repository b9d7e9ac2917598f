// Forward-mode automatic differentiation (torch.autograd.forward_ad): a dual tensor carries a tangent at a
// dual level, and every op run while the level is open computes its outputs' tangents, the Jacobian-vector
// products, as it computes their values.
//
//   td::autograd::forward_ad::DualLevel level;
//   Tensor x = forward_ad::make_dual(primal, tangent);
//   Tensor y = f(x);
//   auto [value, jvp] = forward_ad::unpack_dual(y);   // jvp = J_f(primal) @ tangent
//
// As in PyTorch 1.13 one level is open at a time. The level belongs to the thread that opened it (PyTorch's
// is process-wide), or to a server session, whose commands install it on their pool thread (LevelScope), so
// sessions on a shared server never see each other's tangents. Tangents are computed
// with grad mode as it is, so a tangent that depends on tensors requiring grad has a graph of its own
// (forward-over-reverse and reverse-over-forward both work).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/tensor.h"

namespace td::autograd::forward_ad {

/// Opens this thread's dual level and returns its index (0). Fails if one is already open ("Nested forward
/// mode AD is not supported at the moment", as in PyTorch 1.13).
int64_t enter_dual_level();
/// Closes the level: every tangent made at it is dropped. `level` must be the open one (-1: whichever).
void exit_dual_level(int64_t level = -1);
/// Whether this thread has a dual level open.
bool is_active();

/// `with torch.autograd.forward_ad.dual_level():` as a scope.
class DualLevel {
 public:
  DualLevel() : level_(enter_dual_level()) {}
  /// Closes the level unless it was closed already (exit_dual_level by hand).
  ~DualLevel() {
    if (is_active()) exit_dual_level(level_);
  }
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
  int64_t level() const { return level_; }

 private:
  int64_t level_;
};

/// A view of `primal` carrying `tangent` at the open level (`level` -1: the open one). The tangent must have
/// primal's shape; it is converted to primal's dtype and device and laid out with primal's strides (copied
/// when its own differ). The view keeps primal's autograd history. Fails outside a level, for a primal that
/// is not floating or complex, or one that already has a tangent at this level.
Tensor make_dual(const Tensor& primal, const Tensor& tangent, int64_t level = -1);

/// torch.autograd.forward_ad.UnpackedDualTensor.
struct UnpackedDual {
  Tensor primal;   // a view of the dual tensor without its tangent
  Tensor tangent;  // undefined when the tensor has none at the level
};
/// The primal and tangent of a dual tensor (a tensor without a tangent unpacks to itself and none).
UnpackedDual unpack_dual(const Tensor& tensor, int64_t level = -1);

namespace detail {
/// The tangent of t at this thread's open level; undefined if none (or no level is open). A view without
/// one whose base has one gets (and keeps) the same view of the base's tangent.
Tensor tangent(const Tensor& t);
/// Sets t's tangent (laid out like t: same sizes and strides); an undefined tangent clears it.
void set_tangent(const Tensor& t, Tensor tangent);
/// The tangent t would share with its view base: t's own if it has one, else a zero tangent laid out over a
/// copy of t's storage (its base's, for a view, so writes through views reach the base's tangent). For
/// in-place ops, which write the new tangent into it.
Tensor tangent_slot(const Tensor& t);
/// How many threads have a dual level open: while none does, the op path and tensor destruction skip
/// forward mode with one relaxed load (no thread-local lookup).
extern std::atomic<int> levels_open;
void forget_slow(const TensorImpl* impl);
/// Drops the tangent of a TensorImpl that is being destroyed (called by ~TensorImpl).
inline void forget(const TensorImpl* impl) {
  if (levels_open.load(std::memory_order_relaxed) != 0) forget_slow(impl);
}
/// A dual level's state, opaque outside forward_ad.cpp.
struct LevelState;
/// Makes `slot` (a server session's level, or null) this thread's level for a scope, and stores the thread's
/// level back into `slot` at its end: a session's commands run on pool threads, and a command may open or
/// close the level.
class LevelScope {
 public:
  explicit LevelScope(LevelState*& slot);
  ~LevelScope();
  LevelScope(const LevelScope&) = delete;
  LevelScope& operator=(const LevelScope&) = delete;

 private:
  LevelState*& slot_;
  LevelState* prev_;
  bool prev_suspended_;
};
/// Hides the open level for a scope: tangent computations run their ops as plain ops.
class Suspend {
 public:
  Suspend();
  ~Suspend();
  Suspend(const Suspend&) = delete;
  Suspend& operator=(const Suspend&) = delete;

 private:
  bool prev_;
};
bool propagating_slow();
/// Whether ops should look for tangents: this thread has a level open and not suspended.
inline bool propagating() { return levels_open.load(std::memory_order_relaxed) != 0 && propagating_slow(); }
}  // namespace detail

}  // namespace td::autograd::forward_ad
