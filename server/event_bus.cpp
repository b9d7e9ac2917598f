#include "server/event_bus.h"

#include <algorithm>

namespace td::server {

std::optional<pb::WatchedEvent> EventBus::Watcher::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return std::nullopt;
  pb::WatchedEvent ev = std::move(queue_.front());
  queue_.pop_front();
  ev.set_dropped(std::exchange(dropped_, 0));
  return ev;
}

bool EventBus::Watcher::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::shared_ptr<EventBus::Watcher> EventBus::watch(Filter filter) {
  auto w = std::make_shared<Watcher>();
  w->filter_ = std::move(filter);
  std::lock_guard lock(mu_);
  w->closed_ = closed_;
  std::erase_if(watchers_, [](const std::weak_ptr<Watcher>& x) { return x.expired(); });
  watchers_.push_back(w);
  return w;
}

void EventBus::publish(const std::string& session_id, const std::string& user, const pb::ServerMessage& message) {
  switch (message.kind_case()) {
    case pb::ServerMessage::kError:
    case pb::ServerMessage::kHook:
    case pb::ServerMessage::kModuleHook:
    case pb::ServerMessage::kGradStats: break;
    default: return;
  }
  std::lock_guard lock(mu_);
  if (watchers_.empty()) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& weak : watchers_) {
    auto w = weak.lock();
    if (!w) continue;
    const Filter& f = w->filter_;
    if (!f.session_id.empty() ? f.session_id != session_id : !f.all_users && f.user != user) continue;
    pb::WatchedEvent ev;
    ev.set_session_id(session_id);
    ev.set_user(user);
    ev.set_time_unix_nanos(now);
    *ev.mutable_event() = message;
    {
      std::lock_guard wlock(w->mu_);
      if (w->queue_.size() >= kQueueLimit) {
        w->queue_.pop_front();
        ++w->dropped_;
      }
      w->queue_.push_back(std::move(ev));
    }
    w->cv_.notify_one();
  }
}

void EventBus::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (const auto& weak : watchers_) {
    if (auto w = weak.lock()) {
      {
        std::lock_guard wlock(w->mu_);
        w->closed_ = true;
      }
      w->cv_.notify_all();
    }
  }
}

}  // namespace td::server
