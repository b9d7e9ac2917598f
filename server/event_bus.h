// Hook and error events of every session, fanned out to watchers (tensorctl events, the WatchEvents RPC).
// Publishing never blocks a session: each watcher has a bounded queue that drops its oldest events when the
// watcher falls behind, and counts them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tensord/v1/tensord.pb.h"

namespace td::server {

namespace pb = ::tensord::v1;

class EventBus {
 public:
  /// Which events a watcher gets: one session's, or every session of `user` (of every user with all_users).
  struct Filter {
    std::string session_id;
    std::string user;
    bool all_users = false;
  };

  class Watcher {
   public:
    /// The next event, waiting up to `timeout`; nullopt on a timeout or once the bus is closed.
    std::optional<pb::WatchedEvent> next(std::chrono::milliseconds timeout);
    bool closed() const;

   private:
    friend class EventBus;
    Filter filter_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<pb::WatchedEvent> queue_;
    uint64_t dropped_ = 0;  // lost since the last event handed out
    bool closed_ = false;
  };

  /// Events a watcher may have waiting before its oldest are dropped.
  static constexpr size_t kQueueLimit = 4096;

  std::shared_ptr<Watcher> watch(Filter filter);
  /// Offers a session's event to the watchers: errors and hook events (tensor, module, gradient statistics);
  /// other kinds are not published. Cheap when nobody watches.
  void publish(const std::string& session_id, const std::string& user, const pb::ServerMessage& message);
  /// Ends every watch (server shutdown): next() returns nullopt and closed() is true from now on.
  void close();

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<Watcher>> watchers_;
  bool closed_ = false;
};

}  // namespace td::server
