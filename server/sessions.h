// The session table: create, find, list, close, and expiry of sessions left detached past their grace period.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "server/session.h"

namespace td::server {

class SessionManager {
 public:
  /// `threads` sizes the executor pool (0 = one per core); detached sessions expire after `grace`.
  SessionManager(SessionObserver* observer, size_t threads, std::chrono::seconds grace);
  ~SessionManager();

  /// Opens a session for options.user; RESOURCE_EXHAUSTED if that user has `max_sessions` open already
  /// (0: no limit). `id` is for a restored session (it keeps its id); empty picks a new random one.
  std::shared_ptr<Session> create(SessionOptions options, int64_t max_sessions = 0, std::string id = "");
  /// NOT_FOUND if there is no such session.
  std::shared_ptr<Session> get(const std::string& id) const;
  /// The session if `user` owns it, or `admin` is set; NOT_FOUND otherwise, as for an id that names nothing
  /// (a caller learns nothing about other users' sessions).
  std::shared_ptr<Session> get_for(const std::string& id, std::string_view user, bool admin) const;
  std::vector<std::shared_ptr<Session>> list() const;
  /// Closes and forgets a session; NOT_FOUND if there is none.
  void close(const std::string& id);
  size_t size() const;

  /// The running totals of a user (created the first time), for their sessions to share.
  std::shared_ptr<UserUsage> usage_of(const std::string& user);
  /// The totals of every user seen so far.
  std::vector<std::shared_ptr<UserUsage>> usages() const;

 private:
  void reap_loop();

  SessionObserver* observer_;
  std::chrono::seconds grace_;
  boost::asio::thread_pool pool_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::map<std::string, std::shared_ptr<UserUsage>, std::less<>> users_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace td::server
