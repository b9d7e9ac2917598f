// Shared by the server tests: temporary directories and files, a loopback server's options, and an event
// sink that keeps what a session sends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "server/server.h"
#include "server/session.h"

namespace td::testing {

/// A fresh directory under the system's temporary directory, removed with its contents.
struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tensord-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// An in-process server on a free loopback port, without /metrics, with two executor threads.
inline server::Options loopback_server_options() {
  server::Options options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "";
  options.threads = 2;
  return options;
}

/// Keeps every event a session sends (lock `mu` to read them while the session may still send).
class CaptureSink : public server::EventSink {
 public:
  bool send(const ::tensord::v1::ServerMessage& m) override {
    std::lock_guard lock(mu);
    events.push_back(m);
    return true;
  }
  std::mutex mu;
  std::vector<::tensord::v1::ServerMessage> events;
};

}  // namespace td::testing
