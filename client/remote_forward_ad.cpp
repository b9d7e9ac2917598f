// td::remote::forward_ad: a session's dual level (the set_dual_level command) and the registry ops
// _make_dual and _unpack_dual, which the server runs on the session's level.
#include "client/remote.h"
#include "client/remote_internal.h"

namespace td::remote::forward_ad {

namespace {
void set_dual_level(Session& session, bool open) {
  tensord::v1::Command cmd;
  cmd.mutable_set_dual_level()->set_open(open);
  internal::push(session.state(), std::move(cmd));
}
}  // namespace

DualLevel::DualLevel(Session& session) : session_(session) { set_dual_level(session_, true); }
DualLevel::~DualLevel() { set_dual_level(session_, false); }

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  return primal.invoke_op("_make_dual", {primal, tangent});
}

UnpackedDual unpack_dual(const Tensor& tensor) {
  std::vector<Tensor> parts = tensor.invoke_op_n("_unpack_dual", {tensor}, 2);
  return {parts[0], parts[1]};
}

}  // namespace td::remote::forward_ad
