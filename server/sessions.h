// The session table: create, find, list, close, and expiry of sessions left detached past their grace period.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/session.h"

namespace td::server {

class SessionManager {
 public:
  /// `threads` sizes the executor pool (0 = one per core); detached sessions expire after `grace`.
  SessionManager(SessionObserver* observer, size_t threads, std::chrono::seconds grace);
  ~SessionManager();

  std::shared_ptr<Session> create(SessionOptions options);
  /// NOT_FOUND if there is no such session.
  std::shared_ptr<Session> get(const std::string& id) const;
  std::vector<std::shared_ptr<Session>> list() const;
  /// Closes and forgets a session; NOT_FOUND if there is none.
  void close(const std::string& id);
  size_t size() const;

 private:
  void reap_loop();

  SessionObserver* observer_;
  std::chrono::seconds grace_;
  boost::asio::thread_pool pool_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace td::server
