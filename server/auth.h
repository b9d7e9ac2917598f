// Who is calling: users and their bearer tokens from the tokens file (docs/security.md), with per-user
// quotas. Without a tokens file authentication is off and every caller is the admin user "anonymous"
// (the loopback-only embedded default).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace td::server {

/// What one user may hold at once; 0 is no limit.
struct Quota {
  int64_t device_bytes = 0;   // tensor storage over all their sessions, per device type
  int64_t handles = 0;        // tensor handles over all their sessions
  int64_t sessions = 0;       // open sessions
  int64_t ops_in_flight = 0;  // commands received and not yet started, over all their sessions
};

struct User {
  std::string name;
  bool admin = false;  // sees and closes every session, sees every user's usage
  Quota quota;
};

/// A byte count: "512", "1.5G", "8GiB", "64K" (K, M, G, T are powers of 1024); nullopt if malformed or
/// negative. For quotas and --session-memory-limit alike.
std::optional<int64_t> parse_size(const std::string& text);

/// SHA-256 of `text` as the tokens file writes it: "sha256:" and 64 lower-case hex digits.
std::string token_hash(std::string_view text);
/// A new random token (32 bytes from the OS, hex).
std::string new_token();

class Authenticator {
 public:
  /// Authentication off.
  Authenticator() = default;
  /// Reads the tokens file; INVALID_ARGUMENT naming the file and what is wrong in it.
  explicit Authenticator(std::string tokens_path);

  bool enabled() const { return !path_.empty(); }
  /// Re-reads the tokens file: removed tokens stop working at once. On a bad file the old users stay and
  /// the error is thrown.
  void reload();
  /// Who called, and with what.
  struct Caller {
    std::shared_ptr<const User> user;
    std::string token_hash;  // empty with authentication off
  };
  /// The caller, from the `authorization` metadata ("Bearer <token>"); UNAUTHENTICATED when it is missing,
  /// malformed or names no user. With authentication off, "anonymous" (an admin).
  Caller authenticate(std::optional<std::string_view> authorization) const;
  /// Whether a token hash still names a user (after reloads); always with authentication off.
  bool valid(const std::string& token_hash) const;
  /// Every user of the tokens file ("anonymous" alone when off).
  std::vector<std::shared_ptr<const User>> users() const;
  /// The user of this name, or nullptr.
  std::shared_ptr<const User> user(std::string_view name) const;

 private:
  struct Table {
    std::map<std::string, std::shared_ptr<const User>, std::less<>> by_hash;
    std::vector<std::shared_ptr<const User>> users;
  };
  static Table parse(const std::string& path);

  std::string path_;
  mutable std::mutex mu_;
  Table table_;
};

}  // namespace td::server
