#include "server/sessions.h"

#include <random>

namespace td::server {

namespace {
// 128 random bits as hex: a session id is a capability, so it must not be guessable.
std::string new_session_id() {
  static thread_local std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) id += kHex[v & 15];
  }
  return id;
}

size_t pool_size(size_t threads) {
  if (threads) return threads;
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 2;
}
}  // namespace

SessionManager::SessionManager(SessionObserver* observer, size_t threads, std::chrono::seconds grace)
    : observer_(observer), grace_(grace), pool_(pool_size(threads)), reaper_([this] { reap_loop(); }) {}

SessionManager::~SessionManager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  reaper_.join();
  for (auto& s : list()) s->close();
  pool_.join();
}

std::shared_ptr<Session> SessionManager::create(SessionOptions options, int64_t max_sessions, std::string id) {
  std::lock_guard lock(mu_);
  if (max_sessions > 0) {
    int64_t open = 0;
    for (const auto& [id, s] : sessions_) open += s->options().user == options.user;
    TD_CHECK(open < max_sessions, ErrorCode::kResourceExhausted, "[CreateSession] session quota of user '",
             options.user, "': ", open, " sessions open, the most allowed (close one first)");
  }
  if (id.empty()) id = new_session_id();
  TD_CHECK(!sessions_.contains(id), ErrorCode::kAlreadyExists, "[CreateSession] session ", id, " exists already");
  auto session = std::make_shared<Session>(std::move(id), std::move(options), pool_, observer_);
  sessions_.emplace(session->id(), session);
  return session;
}

std::shared_ptr<Session> SessionManager::get_for(const std::string& id, std::string_view user, bool admin) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  TD_CHECK(it != sessions_.end() && (admin || it->second->options().user == user), ErrorCode::kNotFound,
           "no session with id '", id, "'");
  return it->second;
}

std::shared_ptr<UserUsage> SessionManager::usage_of(const std::string& user) {
  std::lock_guard lock(mu_);
  auto& u = users_[user];
  if (!u) u = std::make_shared<UserUsage>(user);
  return u;
}

std::vector<std::shared_ptr<UserUsage>> SessionManager::usages() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<UserUsage>> out;
  for (const auto& [name, u] : users_) out.push_back(u);
  return out;
}

std::shared_ptr<Session> SessionManager::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  TD_CHECK(it != sessions_.end(), ErrorCode::kNotFound, "no session with id '", id, "'");
  return it->second;
}

std::vector<std::shared_ptr<Session>> SessionManager::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, s] : sessions_) out.push_back(s);
  return out;
}

void SessionManager::close(const std::string& id) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    TD_CHECK(it != sessions_.end(), ErrorCode::kNotFound, "no session with id '", id, "'");
    s = std::move(it->second);
    sessions_.erase(it);
  }
  s->close();
}

size_t SessionManager::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionManager::reap_loop() {
  std::unique_lock lock(mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
    std::vector<std::shared_ptr<Session>> expired;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (!it->second->attached() && it->second->detached_for() > grace_) {
        expired.push_back(std::move(it->second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& s : expired) s->close();
    lock.lock();
  }
}

}  // namespace td::server
