// The gRPC service: thin methods that authenticate the caller, unpack requests, call the session layer, map
// errors to statuses and count RPCs. The only server layer that includes gRPC.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "server/auth.h"
#include "server/event_bus.h"
#include "server/metrics.h"
#include "server/sessions.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace td::server {

/// td::Error -> grpc::Status; the codes are numbered alike (DESIGN.md invariant 10).
grpc::Status to_grpc_status(const Error& e);

/// Sets a user's quotas on their running totals (at each session they open, and on a tokens reload).
void apply_quota(UserUsage& usage, const Quota& quota);

class TensordService final : public pb::Tensord::Service {
 public:
  /// `session_defaults` holds what every new session starts with: the default device, the hook timeout, the
  /// memory limit.
  TensordService(SessionManager* sessions, Metrics* metrics, const Authenticator* auth, EventBus* events,
                 SessionOptions session_defaults, std::string version);

  grpc::Status GetInfo(grpc::ServerContext*, const pb::GetInfoRequest*, pb::ServerInfo*) override;
  grpc::Status ListOps(grpc::ServerContext*, const pb::ListOpsRequest*, pb::ListOpsResponse*) override;
  grpc::Status ListModules(grpc::ServerContext*, const pb::ListModulesRequest*, pb::ListModulesResponse*) override;
  grpc::Status CreateSession(grpc::ServerContext*, const pb::CreateSessionRequest*, pb::SessionInfo*) override;
  grpc::Status ListSessions(grpc::ServerContext*, const pb::ListSessionsRequest*, pb::ListSessionsResponse*) override;
  grpc::Status CloseSession(grpc::ServerContext*, const pb::CloseSessionRequest*, pb::CloseSessionResponse*) override;
  grpc::Status ListUsers(grpc::ServerContext*, const pb::ListUsersRequest*, pb::ListUsersResponse*) override;
  grpc::Status Attach(grpc::ServerContext*, grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>*) override;
  grpc::Status WatchEvents(grpc::ServerContext*, const pb::WatchEventsRequest*, grpc::ServerWriter<pb::WatchedEvent>*) override;

  /// From now on new sessions and attaches are refused with UNAVAILABLE (the server is shutting down).
  void stop_accepting() { stopping_ = true; }

 private:
  /// Authenticates the caller, runs body(user), maps td::Error (and anything else) to a status, and counts
  /// the RPC.
  template <class F>
  grpc::Status guarded(const grpc::ServerContext* ctx, std::string_view method, F&& body);

  SessionManager* sessions_;
  Metrics* metrics_;
  const Authenticator* auth_;
  EventBus* events_;
  SessionOptions session_defaults_;
  std::string version_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> stopping_{false};
};

}  // namespace td::server
