#include "server/metrics_http.h"

#include <prometheus/text_serializer.h>

#include <utility>  // Boost 1.74 asio uses std::exchange without including it

#include <boost/asio.hpp>
#include <sstream>

#include "core/error.h"

namespace td::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Requests are tiny GETs; anything longer than this is not a scrape.
constexpr size_t kMaxRequestBytes = 16 * 1024;

std::string response(int code, std::string_view reason, std::string_view type, const std::string& body) {
  std::ostringstream os;
  os << "HTTP/1.1 " << code << ' ' << reason << "\r\nContent-Type: " << type << "\r\nContent-Length: " << body.size()
     << "\r\nConnection: close\r\n\r\n"
     << body;
  return os.str();
}
}  // namespace

struct MetricsHttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables;
  std::thread thread;

  std::string scrape() {
    std::vector<prometheus::MetricFamily> families;
    for (auto& weak : collectables) {
      if (auto c = weak.lock()) {
        auto f = c->Collect();
        families.insert(families.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
      }
    }
    std::ostringstream os;
    prometheus::TextSerializer().Serialize(os, families);
    return os.str();
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // the acceptor was closed
      serve(std::make_shared<tcp::socket>(std::move(socket)));
      accept();
    });
  }

  void serve(std::shared_ptr<tcp::socket> socket) {
    auto buf = std::make_shared<asio::streambuf>(kMaxRequestBytes);
    asio::async_read_until(*socket, *buf, "\r\n\r\n", [this, socket, buf](boost::system::error_code ec, size_t) {
      if (ec) return;
      std::istream in(buf.get());
      std::string method, path;
      in >> method >> path;
      std::string reply;
      if (method != "GET") {
        reply = response(405, "Method Not Allowed", "text/plain", "only GET\n");
      } else if (path != "/metrics" && !path.starts_with("/metrics?")) {
        reply = response(404, "Not Found", "text/plain", "try /metrics\n");
      } else {
        reply = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", scrape());
      }
      auto data = std::make_shared<std::string>(std::move(reply));
      asio::async_write(*socket, asio::buffer(*data), [socket, data](boost::system::error_code, size_t) {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
      });
    });
  }
};

MetricsHttpServer::MetricsHttpServer(const std::string& bind,
                                     std::vector<std::weak_ptr<prometheus::Collectable>> collectables)
    : impl_(std::make_unique<Impl>()) {
  impl_->collectables = std::move(collectables);
  auto colon = bind.rfind(':');
  TD_CHECK_ARG(colon != std::string::npos, "[metrics] bind address '", bind, "' has no port");
  std::string host = bind.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  TD_CHECK_ARG(!ec, "[metrics] '", host, "' is not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(bind.substr(colon + 1))));
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint, ec);
  TD_CHECK(!ec, ErrorCode::kUnavailable, "[metrics] cannot listen on ", bind, ": ", ec.message());
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

MetricsHttpServer::~MetricsHttpServer() {
  asio::post(impl_->io, [this] { impl_->acceptor.close(); });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace td::server
