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
  explicit StreamSink(grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream) : stream_(stream) {}
  bool send(const pb::ServerMessage& m) override { return stream_->Write(m); }

 private:
  grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream_;
};
}  // namespace

TensordService::TensordService(SessionManager* sessions, Metrics* metrics, SessionOptions session_defaults,
                               std::string version)
    : sessions_(sessions),
      metrics_(metrics),
      session_defaults_(std::move(session_defaults)),
      version_(std::move(version)) {}

template <class F>
grpc::Status TensordService::guarded(std::string_view method, F&& body) {
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status;
  try {
    body();
  } catch (const Error& e) {
    status = to_grpc_status(e);
  } catch (const std::exception& e) {
    status = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
  }
  metrics_->on_rpc(method, error_code_name(static_cast<ErrorCode>(status.error_code())),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return status;
}

grpc::Status TensordService::GetInfo(grpc::ServerContext*, const pb::GetInfoRequest*, pb::ServerInfo* info) {
  return guarded("GetInfo", [&] {
    info->set_version(version_);
    info->set_default_device(session_defaults_.device.str());
    info->add_devices("cpu");
    Backend& cuda = backend(DeviceType::kCUDA);
    for (int i = 0; i < cuda.device_count(); ++i) info->add_devices(str("cuda:", i, " (", cuda.device_name(i), ")"));
    info->set_sessions(static_cast<uint32_t>(sessions_->size()));
    info->set_ops_executed(metrics_->ops_executed());
    info->set_op_count(static_cast<uint32_t>(Registry::get().list().size()));
    info->set_uptime_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count());
  });
}

grpc::Status TensordService::ListOps(grpc::ServerContext*, const pb::ListOpsRequest*, pb::ListOpsResponse* out) {
  return guarded("ListOps", [&] {
    for (const OpDef* def : Registry::get().list()) {
      auto* op = out->add_ops();
      op->set_name(def->schema.name);
      op->set_signature(def->schema.text);
      op->set_doc(def->doc);
    }
  });
}

grpc::Status TensordService::ListModules(grpc::ServerContext*, const pb::ListModulesRequest*,
                                         pb::ListModulesResponse* out) {
  return guarded("ListModules", [&] {
    for (const std::string& sig : nn::module_signatures()) out->add_signatures(sig);
  });
}

grpc::Status TensordService::CreateSession(grpc::ServerContext*, const pb::CreateSessionRequest* req,
                                           pb::SessionInfo* info) {
  return guarded("CreateSession", [&] {
    SessionOptions options = session_defaults_;
    options.name = req->name();
    if (!req->device().empty()) options.device = Device::parse(req->device());
    if (options.device.is_cuda()) {
      Backend& cuda = backend(DeviceType::kCUDA);
      TD_CHECK(options.device.index < cuda.device_count(), ErrorCode::kInvalidArgument, "[CreateSession] device ",
               options.device.str(), " is not available (this server has ", cuda.device_count(), " CUDA devices)");
    }
    fill_info(*sessions_->create(std::move(options)), info);
  });
}

grpc::Status TensordService::ListSessions(grpc::ServerContext*, const pb::ListSessionsRequest*,
                                          pb::ListSessionsResponse* out) {
  return guarded("ListSessions", [&] {
    for (const auto& s : sessions_->list()) fill_info(*s, out->add_sessions());
  });
}

grpc::Status TensordService::CloseSession(grpc::ServerContext*, const pb::CloseSessionRequest* req,
                                          pb::CloseSessionResponse*) {
  return guarded("CloseSession", [&] { sessions_->close(req->id()); });
}

grpc::Status TensordService::Attach(grpc::ServerContext* ctx,
                                    grpc::ServerReaderWriter<pb::ServerMessage, pb::ClientMessage>* stream) {
  return guarded("Attach", [&] {
    pb::ClientMessage first;
    TD_CHECK(stream->Read(&first), ErrorCode::kCancelled, "[Attach] stream closed before the attach message");
    TD_CHECK_ARG(first.has_attach(), "[Attach] the first message must be `attach`");
    std::shared_ptr<Session> session = sessions_->get(first.attach().session_id());
    StreamSink sink(stream);
    session->attach(&sink);  // sends `attached` first
    pb::ClientMessage msg;
    while (stream->Read(&msg)) {
      if (msg.has_batch()) session->enqueue(msg.batch());
    }
    // Read ended: the client half-closed or went away. The session lives on for its grace period.
    session->detach();
    (void)ctx;
  });
}

}  // namespace td::server
