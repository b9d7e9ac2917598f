// Internal to the client library: the session plumbing that td::remote::nn and td::remote::optim build
// their commands with. Not installed; includes the protocol's generated types.
#pragma once

#include <functional>

#include "client/remote.h"
#include "tensord/v1/tensord.pb.h"

namespace td::remote::internal {

/// A fresh client-assigned id (tensor handles, module, optimizer and scheduler ids share the counter).
uint64_t new_handle(SessionState& s);
/// Queues a command (batched; sent at the next flush or sync point).
void push(SessionState& s, tensord::v1::Command cmd);
/// Sends a command that `fill` builds around a new request id and waits for its info reply (ModuleInfo,
/// OptimizerInfo); earlier errors surface here.
tensord::v1::ServerMessage request(SessionState& s,
                                   const std::function<void(tensord::v1::Command&, uint64_t request_id)>& fill);
/// Sends a command that `fill` builds around a new request id and waits for its `done`; errors surface here.
void request_done(SessionState& s, const std::function<void(tensord::v1::Command&, uint64_t request_id)>& fill);
/// Sends a profiler command that answers with traces (stop, traces) and waits for all of them.
std::vector<tensord::v1::ProfilerTrace> request_traces(
    SessionState& s, const std::function<void(tensord::v1::Command&, uint64_t request_id)>& fill);
/// The session state as a weak pointer (for objects that release their server side when destroyed).
std::weak_ptr<SessionState> weak_of(SessionState& s);
/// Registers a module hook callback on the client; returns its hook id (for RegisterModuleHookCommand).
uint64_t add_module_hook(SessionState& s, RemoteModuleHook fn);
/// A remote tensor owning `handle` (released when its last copy goes).
Tensor tensor_of(SessionState& s, uint64_t handle);
/// An op argument in the protocol's form.
void encode_value(const Value& v, tensord::v1::Value* out);

}  // namespace td::remote::internal
