// tensord: parses flags into Options and runs the server until SIGINT/SIGTERM.
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "core/error.h"
#include "server/auth.h"
#include "server/server.h"

namespace {
int signal_pipe[2] = {-1, -1};

// Async-signal-safe: only write(2).
void on_signal(int sig) {
  const unsigned char byte = static_cast<unsigned char>(sig);
  const int saved = errno;
  (void)!write(signal_pipe[1], &byte, 1);
  errno = saved;
}

void usage() {
  std::cout
      << "usage: tensord [--listen ADDR] [--metrics-port PORT | --metrics-listen ADDR] [--device DEV]\n"
         "               [--threads N] [--session-grace SECONDS] [--hook-timeout SECONDS] [--port-file "
         "PATH]\n"
         "               [--metrics-session-labels] [--session-memory-limit BYTES]\n"
         "               [--tokens FILE] [--tls-cert PEM --tls-key PEM] [--allow-plaintext]\n"
         "               [--shutdown-grace SECONDS] [--data-dir DIR] [--checkpoint-sessions] [--restore]\n"
         "       tensord --new-token | --hash-token\n"
         "  --listen          gRPC address (default 127.0.0.1:7447; port 0 picks a free one)\n"
         "  --metrics-port    Prometheus /metrics port on 127.0.0.1 (default 9464; 0 picks; -1 disables)\n"
         "  --device          default device of new sessions (default: cuda:0 if present, else cpu)\n"
         "  --hook-timeout    seconds a blocking hook may wait for the client (default 60)\n"
         "  --port-file       write \"<grpc port> <metrics port>\" here once listening\n"
         "  --metrics-session-labels  also export per-session series (label session=ID; unbounded)\n"
         "  --session-memory-limit    most tensor bytes one session may hold per device type, e.g. 8G, 512M\n"
         "                            (suffixes K, M, G, T are powers of 1024; default 0: no limit)\n"
         "  --tokens          users, hashed tokens and quotas (docs/security.md); needed off loopback;\n"
         "                    SIGHUP re-reads it\n"
         "  --tls-cert, --tls-key  serve gRPC over TLS with this certificate (chain) and key\n"
         "  --allow-plaintext  serve a non-loopback address without TLS\n"
         "  --shutdown-grace  seconds SIGTERM waits for received commands to run (default 30)\n"
         "  --data-dir        where checkpoints go, a folder per user (default: none, no checkpoints)\n"
         "  --checkpoint-sessions  at SIGTERM, save every session to DIR/.sessions (needs --data-dir)\n"
         "  --restore         at start, bring back the sessions saved there; clients re-attach by themselves\n"
         "  --new-token       print a new random token and the hash the tokens file stores\n"
         "  --hash-token      read a token on stdin, print its hash for the tokens file\n";
}
}  // namespace

int main(int argc, char** argv) {
  // No fastbins: every storage of 1 KiB or more is a "large" malloc, which first consolidates the fastbins
  // that the small protobuf and handle frees of each command fill, so a stream of small ops spent ~7% of the
  // server's time there (bench_remote (a): ~20% more ops/s without them, docs/performance.md).
  mallopt(M_MXFAST, 0);
  td::server::Options options;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    try {
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) {
          std::cerr << "tensord: " << a << " needs a value\n";
          std::exit(2);
        }
        return argv[++i];
      };
      if (a == "--listen") {
        options.listen = value();
      } else if (a == "--metrics-port") {
        int p = std::stoi(value());
        options.metrics_listen = p < 0 ? "" : "127.0.0.1:" + std::to_string(p);
      } else if (a == "--metrics-listen") {
        options.metrics_listen = value();
      } else if (a == "--device") {
        options.device = value();
      } else if (a == "--threads") {
        options.threads = std::stoul(value());
      } else if (a == "--session-grace") {
        options.session_grace = std::chrono::seconds(std::stol(value()));
      } else if (a == "--hook-timeout") {
        options.hook_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::stod(value()) * 1000));
      } else if (a == "--data-dir") {
        options.data_dir = value();
      } else if (a == "--checkpoint-sessions") {
        options.checkpoint_sessions = true;
      } else if (a == "--restore") {
        options.restore = true;
      } else if (a == "--shutdown-grace") {
        options.shutdown_grace = std::chrono::seconds(std::stol(value()));
      } else if (a == "--tokens") {
        options.tokens_file = value();
      } else if (a == "--tls-cert") {
        options.tls_cert = value();
      } else if (a == "--tls-key") {
        options.tls_key = value();
      } else if (a == "--allow-plaintext") {
        options.allow_plaintext = true;
      } else if (a == "--new-token") {
        const std::string token = td::server::new_token();
        std::cout << "token: " << token << "\nhash:  " << td::server::token_hash(token) << "\n";
        return 0;
      } else if (a == "--hash-token") {
        std::string token;
        std::getline(std::cin, token);
        if (token.empty()) {
          std::cerr << "tensord: --hash-token reads the token on stdin\n";
          return 2;
        }
        std::cout << td::server::token_hash(token) << "\n";
        return 0;
      } else if (a == "--session-memory-limit") {
        const std::string text = value();
        const std::optional<int64_t> bytes = td::server::parse_size(text);
        if (!bytes) throw std::invalid_argument(text);
        options.session_memory_limit = *bytes;
      } else if (a == "--metrics-session-labels") {
        options.metrics_session_labels = true;
      } else if (a == "--port-file") {
        port_file = value();
      } else if (a == "-h" || a == "--help") {
        usage();
        return 0;
      } else {
        std::cerr << "tensord: unknown flag " << a << "\n";
        usage();
        return 2;
      }
    } catch (const std::logic_error&) {  // std::stoi and friends on a non-number
      std::cerr << "tensord: bad value '" << argv[i] << "' for " << a << "\n";
      return 2;
    }
  }

  // Signals reach a thread of their own through a pipe: a handler (which any thread may run, libraries'
  // threads included) writes the signal's number, and that thread reloads tokens or shuts the server down.
  if (pipe(signal_pipe) != 0) {
    std::perror("tensord: pipe");
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

  try {
    td::server::Server server(options);
    auto print_log = [&] {
      for (const std::string& line : server.take_log()) std::cout << "tensord: " << line << std::endl;
    };
    print_log();
    std::cout << "tensord " << td::server::version() << " listening on "
              << options.listen.substr(0, options.listen.rfind(':')) << ":" << server.port()
              << " (default device " << server.default_device() << ")";
    if (server.metrics_port())
      std::cout << ", metrics on http://127.0.0.1:" << server.metrics_port() << "/metrics";
    std::cout << std::endl;
    if (!port_file.empty()) {
      std::string tmp = port_file + ".tmp";
      if (FILE* f = std::fopen(tmp.c_str(), "w")) {
        std::fprintf(f, "%d %d\n", server.port(), server.metrics_port());
        std::fclose(f);
        std::rename(tmp.c_str(), port_file.c_str());
      }
    }
    std::thread signals([&] {
      int sig = 0;
      unsigned char byte = 0;
      while (read(signal_pipe[0], &byte, 1) == 1 && (sig = byte) == SIGHUP) {
        try {
          server.reload_tokens();
          std::cout << "tensord: tokens file re-read" << std::endl;
        } catch (const td::Error& e) {
          std::cerr << "tensord: the tokens file was not re-read, the old users stay: " << e.what() << std::endl;
        }
      }
      std::cout << "tensord: " << strsignal(sig) << ", shutting down" << std::endl;
      server.shutdown();
    });
    server.wait();
    print_log();
    signals.detach();
  } catch (const td::Error& e) {
    std::cerr << "tensord: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
