// tensorctl: the operator's CLI for a tensord server.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace pb = ::tensord::v1;

namespace {
int usage() {
  std::cerr << "usage: tensorctl [--server HOST:PORT] [--token TOKEN] [--tls-ca PEM] [--tls-server-name NAME] COMMAND\n"
               "commands:\n"
               "  info                server version, devices, sessions, ops executed\n"
               "  sessions            open sessions: id, user, name, device, attached, handles, bytes, ops, age\n"
               "                      (yours; every user's for an admin)\n"
               "  close SESSION_ID    close a session and free its memory (kill: the same, for an admin's use\n"
               "  kill SESSION_ID     on another user's session)\n"
               "  users               quotas and usage (yours; every user's for an admin)\n"
               "  ops                 every op with its signature\n"
               "  modules             every nn module a session can create, with its signature\n"
               "  events [SESSION_ID] [--count N]\n"
               "                      error and hook events as they happen, one line each (your sessions';\n"
               "                      every session's for an admin), until Ctrl-C or N events\n"
               "The server defaults to $TENSORD_SERVER or 127.0.0.1:7447, the token to $TENSORD_TOKEN.\n"
               "--tls-ca turns TLS on, trusting that CA's certificates.\n";
  return 2;
}

int fail(const grpc::Status& s) {
  std::cerr << "tensorctl: " << s.error_message() << " (code " << s.error_code() << ")\n";
  return 1;
}

std::string human_bytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

const char* mode_name(pb::HookMode m) { return m == pb::HOOK_MODE_OBSERVE ? "observe" : "blocking"; }

// One watched event as a line: local time, user, session, kind, details.
std::string event_line(const pb::WatchedEvent& w) {
  std::ostringstream out;
  const auto ns = w.time_unix_nanos();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char clock[32];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03lld", static_cast<long long>(ns / 1000000 % 1000));
  if (w.dropped()) out << "(" << w.dropped() << " events dropped: this watcher fell behind)\n";
  out << clock << millis << "  " << w.user() << "  " << w.session_id().substr(0, 8) << "  ";
  const pb::ServerMessage& m = w.event();
  switch (m.kind_case()) {
    case pb::ServerMessage::kError:
      out << "error        seq=" << m.error().seq() << " "
          << td::error_code_name(static_cast<td::ErrorCode>(m.error().code())) << ": " << m.error().message();
      break;
    case pb::ServerMessage::kHook:
      out << "hook         hook=" << m.hook().hook_id() << " event=" << m.hook().event_id() << " "
          << mode_name(m.hook().mode());
      break;
    case pb::ServerMessage::kModuleHook: {
      static const char* kinds[] = {"forward_pre", "forward", "full_backward", "full_backward_pre"};
      const int k = m.module_hook().kind();
      out << "module_hook  hook=" << m.module_hook().hook_id() << " event=" << m.module_hook().event_id() << " "
          << (k >= 0 && k < 4 ? kinds[k] : "?") << " " << mode_name(m.module_hook().mode());
      break;
    }
    case pb::ServerMessage::kGradStats: {
      const auto& g = m.grad_stats();
      out << "grad_stats   hook=" << g.hook_id() << " shape=[";
      for (int d = 0; d < g.shape_size(); ++d) out << (d ? ", " : "") << g.shape(d);
      out << "] norm=" << g.norm() << " abs_max=" << g.abs_max() << " mean=" << g.mean() << " nan=" << g.nan_count()
          << " inf=" << g.inf_count();
      break;
    }
    default: out << "event"; break;
  }
  return out.str();
}
}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("TENSORD_SERVER");
  std::string server = env ? env : "127.0.0.1:7447";
  const char* token_env = std::getenv("TENSORD_TOKEN");
  std::string token = token_env ? token_env : "", tls_ca, tls_name;
  int i = 1;
  while (i + 1 < argc && std::string(argv[i]).starts_with("--")) {
    const std::string flag = argv[i];
    if (flag == "--server") {
      server = argv[i + 1];
    } else if (flag == "--token") {
      token = argv[i + 1];
    } else if (flag == "--tls-ca") {
      std::ifstream in(argv[i + 1]);
      if (!in) {
        std::cerr << "tensorctl: cannot read " << argv[i + 1] << "\n";
        return 2;
      }
      tls_ca.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else if (flag == "--tls-server-name") {
      tls_name = argv[i + 1];
    } else {
      return usage();
    }
    i += 2;
  }
  if (i >= argc) return usage();
  std::string cmd = argv[i];
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (!tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = tls_ca;
    credentials = grpc::SslCredentials(tls);
    if (!tls_name.empty()) args.SetSslTargetNameOverride(tls_name);
  }
  auto stub = pb::Tensord::NewStub(grpc::CreateCustomChannel(server, credentials, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);

  if (cmd == "info") {
    pb::ServerInfo info;
    grpc::Status s = stub->GetInfo(&ctx, pb::GetInfoRequest(), &info);
    if (!s.ok()) return fail(s);
    std::cout << "server:         " << server << "\n"
              << "version:        " << info.version() << "\n"
              << "default device: " << info.default_device() << "\n"
              << "devices:        ";
    for (int d = 0; d < info.devices_size(); ++d) std::cout << (d ? ", " : "") << info.devices(d);
    std::cout << "\nsessions:       " << info.sessions() << "\n"
              << "ops executed:   " << info.ops_executed() << "\n"
              << "ops available:  " << info.op_count() << "\n"
              << "uptime:         " << info.uptime_seconds() << " s\n";
    return 0;
  }
  if (cmd == "sessions") {
    pb::ListSessionsResponse resp;
    grpc::Status s = stub->ListSessions(&ctx, pb::ListSessionsRequest(), &resp);
    if (!s.ok()) return fail(s);
    std::printf("%-32s  %-12s  %-16s  %-7s  %-8s  %8s  %10s  %8s  %7s\n", "ID", "USER", "NAME", "DEVICE", "ATTACHED",
                "HANDLES", "BYTES", "OPS", "AGE");
    for (const auto& x : resp.sessions()) {
      std::printf("%-32s  %-12s  %-16s  %-7s  %-8s  %8llu  %10s  %8llu  %6llds\n", x.id().c_str(), x.user().c_str(),
                  x.name().c_str(), x.device().c_str(), x.attached() ? "yes" : "no",
                  static_cast<unsigned long long>(x.handles()),
                  human_bytes(x.bytes()).c_str(), static_cast<unsigned long long>(x.ops_executed()),
                  static_cast<long long>(x.age_seconds()));
    }
    return 0;
  }
  if (cmd == "users") {
    pb::ListUsersResponse resp;
    grpc::Status s = stub->ListUsers(&ctx, pb::ListUsersRequest(), &resp);
    if (!s.ok()) return fail(s);
    auto limit = [](int64_t used, int64_t quota, bool bytes) {
      std::string u = bytes ? human_bytes(used) : std::to_string(used);
      return u + " / " + (quota ? (bytes ? human_bytes(quota) : std::to_string(quota)) : std::string("-"));
    };
    std::printf("%-12s  %-5s  %-12s  %-22s  %-22s  %-18s\n", "USER", "ADMIN", "SESSIONS", "DEVICE BYTES", "HANDLES",
                "QUEUED COMMANDS");
    for (const auto& u : resp.users()) {
      std::printf("%-12s  %-5s  %-12s  %-22s  %-22s  %-18s\n", u.name().c_str(), u.admin() ? "yes" : "no",
                  limit(u.sessions(), u.quota().sessions(), false).c_str(),
                  limit(u.device_bytes(), u.quota().device_bytes(), true).c_str(),
                  limit(u.handles(), u.quota().handles(), false).c_str(),
                  limit(u.queued_commands(), u.quota().ops_in_flight(), false).c_str());
    }
    return 0;
  }
  if (cmd == "close" || cmd == "kill") {
    if (i + 1 >= argc) return usage();
    pb::CloseSessionRequest req;
    req.set_id(argv[i + 1]);
    pb::CloseSessionResponse resp;
    grpc::Status s = stub->CloseSession(&ctx, req, &resp);
    if (!s.ok()) return fail(s);
    std::cout << "closed " << argv[i + 1] << "\n";
    return 0;
  }
  if (cmd == "ops") {
    pb::ListOpsResponse resp;
    grpc::Status s = stub->ListOps(&ctx, pb::ListOpsRequest(), &resp);
    if (!s.ok()) return fail(s);
    for (const auto& op : resp.ops()) std::cout << op.signature() << "\n";
    return 0;
  }
  if (cmd == "events") {
    pb::WatchEventsRequest req;
    long long count = -1;
    for (int a = i + 1; a < argc; ++a) {
      const std::string arg = argv[a];
      if (arg == "--count" && a + 1 < argc) {
        count = std::atoll(argv[++a]);
      } else if (!arg.starts_with("--") && req.session_id().empty()) {
        req.set_session_id(arg);
      } else {
        return usage();
      }
    }
    grpc::ClientContext watch;  // no deadline: it runs until stopped
    if (!token.empty()) watch.AddMetadata("authorization", "Bearer " + token);
    auto reader = stub->WatchEvents(&watch, req);
    reader->WaitForInitialMetadata();  // the server has the watch in place (or the call failed)
    std::cerr << "tensorctl: watching " << (req.session_id().empty() ? "events" : "session " + req.session_id())
              << std::endl;
    pb::WatchedEvent ev;
    while (count != 0 && reader->Read(&ev)) {
      std::cout << event_line(ev) << std::endl;
      if (count > 0) --count;
    }
    if (count == 0) {
      watch.TryCancel();
      return 0;
    }
    grpc::Status s = reader->Finish();
    return s.ok() ? 0 : fail(s);
  }
  if (cmd == "modules") {
    pb::ListModulesResponse resp;
    grpc::Status s = stub->ListModules(&ctx, pb::ListModulesRequest(), &resp);
    if (!s.ok()) return fail(s);
    for (const auto& sig : resp.signatures()) std::cout << sig << "\n";
    return 0;
  }
  return usage();
}
