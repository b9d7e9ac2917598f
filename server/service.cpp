#include "server/service.h"

#include "core/backend.h"
#include "core/nn/factory.h"
#include "core/ops/registry.h"

namespace td::server {

grpc::Status to_grpc_status(const Error& e) {
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(e.code())), e.what());
}

namespace {
void fill_info(const Session& s, pb::SessionInfo* info) {
  info->set_id(s.id());
  info->set_user(s.options().user);
  info->set_name(s.options().name);
  info->set_device(s.options().device.str());
  info->set_attached(s.attached());
  info->set_handles(s.handle_count());
  info->set_bytes(s.bytes_held());
  info->set_ops_executed(s.ops_executed());
  info->set_age_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - s.created()).count());
}

// The gRPC stream as a session's event sink. Sync streams allow one writer at a time; Session serialises.
class StreamSink final : public EventSink {
 public:
  StreamSink(grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream, grpc::ServerContext* ctx)
      : stream_(stream), ctx_(ctx) {}
  bool send(const pb::ServerMessage& m) override { return stream_->Write(m); }
  void cancel() override { ctx_->TryCancel(); }

 private:
  grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream_;
  grpc::ServerContext* ctx_;
};
}  // namespace

void apply_quota(UserUsage& usage, const Quota& quota) {
  usage.memory->set_limit(quota.device_bytes);
  usage.handle_quota = quota.handles;
  usage.ops_in_flight_quota = quota.ops_in_flight;
}

TensordService::TensordService(SessionManager* sessions, Metrics* metrics, const Authenticator* auth,
                               EventBus* events, SessionOptions session_defaults, std::string version)
    : sessions_(sessions),
      metrics_(metrics),
      auth_(auth),
      events_(events),
      session_defaults_(std::move(session_defaults)),
      version_(std::move(version)) {}

template <class F>
grpc::Status TensordService::guarded(const grpc::ServerContext* ctx, std::string_view method, F&& body) {
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status;
  try {
    std::optional<std::string_view> authorization;
    const auto& metadata = ctx->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      authorization = std::string_view(it->second.data(), it->second.size());
    }
    const Authenticator::Caller caller = auth_->authenticate(authorization);
    if constexpr (std::is_invocable_v<F, const User&, const std::string&>) {
      body(*caller.user, caller.token_hash);
    } else {
      body(*caller.user);
    }
  } catch (const Error& e) {
    status = to_grpc_status(e);
  } catch (const std::exception& e) {
    status = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
  }
  metrics_->on_rpc(method, error_code_name(static_cast<ErrorCode>(status.error_code())),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return status;
}

grpc::Status TensordService::GetInfo(grpc::ServerContext* ctx, const pb::GetInfoRequest*, pb::ServerInfo* info) {
  return guarded(ctx, "GetInfo", [&](const User& user) {
    info->set_version(version_);
    info->set_default_device(session_defaults_.device.str());
    info->add_devices("cpu");
    Backend& cuda = backend(DeviceType::kCUDA);
    for (int i = 0; i < cuda.device_count(); ++i) info->add_devices(str("cuda:", i, " (", cuda.device_name(i), ")"));
    uint32_t visible = 0;  // a user counts their own sessions only
    for (const auto& s : sessions_->list()) visible += user.admin || s->options().user == user.name;
    info->set_sessions(visible);
    info->set_ops_executed(metrics_->ops_executed());
    info->set_op_count(static_cast<uint32_t>(Registry::get().list().size()));
    info->set_uptime_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count());
  });
}

grpc::Status TensordService::ListOps(grpc::ServerContext* ctx, const pb::ListOpsRequest*, pb::ListOpsResponse* out) {
  return guarded(ctx, "ListOps", [&](const User&) {
    for (const OpDef* def : Registry::get().list()) {
      auto* op = out->add_ops();
      op->set_name(def->schema.name);
      op->set_signature(def->schema.text);
      op->set_doc(def->doc);
    }
  });
}

grpc::Status TensordService::ListModules(grpc::ServerContext* ctx, const pb::ListModulesRequest*,
                                         pb::ListModulesResponse* out) {
  return guarded(ctx, "ListModules", [&](const User&) {
    for (const std::string& sig : nn::module_signatures()) out->add_signatures(sig);
  });
}

grpc::Status TensordService::CreateSession(grpc::ServerContext* ctx, const pb::CreateSessionRequest* req,
                                           pb::SessionInfo* info) {
  return guarded(ctx, "CreateSession", [&](const User& user) {
    TD_CHECK(!stopping_, ErrorCode::kUnavailable, "[CreateSession] the server is shutting down");
    SessionOptions options = session_defaults_;
    options.name = req->name();
    options.user = user.name;
    if (!req->device().empty()) options.device = Device::parse(req->device());
    if (options.device.is_cuda()) {
      Backend& cuda = backend(DeviceType::kCUDA);
      TD_CHECK(options.device.index < cuda.device_count(), ErrorCode::kInvalidArgument, "[CreateSession] device ",
               options.device.str(), " is not available (this server has ", cuda.device_count(), " CUDA devices)");
    }
    options.usage = sessions_->usage_of(user.name);
    apply_quota(*options.usage, user.quota);
    fill_info(*sessions_->create(std::move(options), user.quota.sessions), info);
  });
}

grpc::Status TensordService::ListSessions(grpc::ServerContext* ctx, const pb::ListSessionsRequest*,
                                          pb::ListSessionsResponse* out) {
  return guarded(ctx, "ListSessions", [&](const User& user) {
    for (const auto& s : sessions_->list()) {
      if (user.admin || s->options().user == user.name) fill_info(*s, out->add_sessions());
    }
  });
}

grpc::Status TensordService::CloseSession(grpc::ServerContext* ctx, const pb::CloseSessionRequest* req,
                                          pb::CloseSessionResponse*) {
  return guarded(ctx, "CloseSession", [&](const User& user) {
    sessions_->get_for(req->id(), user.name, user.admin);  // NOT_FOUND for another user's session
    sessions_->close(req->id());
  });
}

grpc::Status TensordService::ListUsers(grpc::ServerContext* ctx, const pb::ListUsersRequest*,
                                       pb::ListUsersResponse* out) {
  return guarded(ctx, "ListUsers", [&](const User& user) {
    std::vector<std::shared_ptr<const User>> shown;
    if (user.admin) {
      shown = auth_->users();
    } else {
      shown.push_back(auth_->user(user.name));
    }
    const auto sessions = sessions_->list();
    for (const auto& u : shown) {
      if (!u) continue;
      auto* info = out->add_users();
      info->set_name(u->name);
      info->set_admin(u->admin);
      info->mutable_quota()->set_device_bytes(u->quota.device_bytes);
      info->mutable_quota()->set_handles(u->quota.handles);
      info->mutable_quota()->set_sessions(u->quota.sessions);
      info->mutable_quota()->set_ops_in_flight(u->quota.ops_in_flight);
      int64_t open = 0;
      for (const auto& s : sessions) open += s->options().user == u->name;
      info->set_sessions(open);
      const auto usage = sessions_->usage_of(u->name);
      info->set_handles(usage->handles.load());
      info->set_device_bytes(usage->memory->total());
      info->set_queued_commands(usage->queued.load());
    }
  });
}

grpc::Status TensordService::Attach(grpc::ServerContext* ctx,
                                    grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream) {
  return guarded(ctx, "Attach", [&](const User& user, const std::string& token_hash) {
    TD_CHECK(!stopping_, ErrorCode::kUnavailable, "[Attach] the server is shutting down");
    pb::ClientMessage first;
    TD_CHECK(stream->Read(&first), ErrorCode::kCancelled, "[Attach] stream closed before the attach message");
    TD_CHECK_ARG(first.has_attach(), "[Attach] the first message must be `attach`");
    // Only the owner attaches, admins included: closing is all an admin may do to another's session.
    std::shared_ptr<Session> session = sessions_->get_for(first.attach().session_id(), user.name, false);
    StreamSink sink(stream, ctx);
    session->attach(&sink, token_hash, first.attach().last_event());  // `attached` first, then any replay
    // Each message is parsed into its own arena, where its commands stay until they have run.
    for (;;) {
      auto message = std::make_shared<Arrived>();
      if (!stream->Read(message->msg)) break;
      if (message->msg->has_batch()) session->enqueue(std::move(message));
    }
    // Read ended: the client half-closed or went away. The session lives on for its grace period.
    session->detach(&sink);
  });
}

grpc::Status TensordService::WatchEvents(grpc::ServerContext* ctx, const pb::WatchEventsRequest* req,
                                         grpc::ServerWriter<pb::WatchedEvent>* writer) {
  return guarded(ctx, "WatchEvents", [&](const User& user) {
    TD_CHECK(!stopping_, ErrorCode::kUnavailable, "[WatchEvents] the server is shutting down");
    if (!req->session_id().empty()) sessions_->get_for(req->session_id(), user.name, user.admin);  // NOT_FOUND
    auto watcher = events_->watch({req->session_id(), user.name, user.admin});
    writer->SendInitialMetadata();  // tells the caller the watch is in place (docs/protocol.md)
    // Short waits, so a cancelled call is noticed; the bus closes at shutdown.
    while (!ctx->IsCancelled() && !watcher->closed()) {
      if (auto ev = watcher->next(std::chrono::milliseconds(200))) {
        if (!writer->Write(*ev)) break;
      }
    }
  });
}

}  // namespace td::server
