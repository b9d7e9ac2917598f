// The /metrics HTTP endpoint: a small Boost.Asio server on its own thread that serialises prometheus-cpp
// collectables in the text format. prometheus-cpp's own Exposer (civetweb) is not used: civetweb's worker
// threads have small stacks, and once libquadmath (pulled in through OpenBLAS/gfortran) registers its printf
// modifier, glibc's printf takes a stack-hungry path that overflows them on every scrape.
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace td::server {

class MetricsHttpServer {
 public:
  /// Binds host:port (port 0 picks one) and starts serving GET /metrics.
  MetricsHttpServer(const std::string& bind, std::vector<std::weak_ptr<prometheus::Collectable>> collectables);
  ~MetricsHttpServer();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace td::server
