#include "server/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace td::server {

namespace {

std::string hex(const unsigned char* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

// A quota value: a non-negative integer, or a size string like "8G".
int64_t quota_value(const nlohmann::json& v, const std::string& where) {
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>();
  if (v.is_string()) {
    if (auto bytes = parse_size(v.get<std::string>())) return *bytes;
  }
  throw Error(ErrorCode::kInvalidArgument, str(where, " must be a non-negative integer or a size like \"8G\", got ",
                                               v.dump()));
}

}  // namespace

std::optional<int64_t> parse_size(const std::string& text) {
  size_t used = 0;
  double n = 0;
  try {
    n = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string suffix = text.substr(used);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  if (!suffix.empty() && suffix.back() == 'i') suffix.pop_back();
  static const std::string kUnits = "KMGT";
  const size_t unit = suffix.size() == 1 ? kUnits.find(static_cast<char>(std::toupper(suffix[0]))) : std::string::npos;
  if (n < 0 || (!suffix.empty() && unit == std::string::npos)) return std::nullopt;
  return static_cast<int64_t>(n * (suffix.empty() ? 1.0 : std::pow(1024.0, static_cast<double>(unit + 1))));
}

std::string token_hash(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  TD_CHECK(EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr) == 1, ErrorCode::kInternal,
           "[auth] SHA-256 failed");
  return "sha256:" + hex(digest, n);
}

std::string new_token() {
  unsigned char bytes[32];
  TD_CHECK(RAND_bytes(bytes, sizeof bytes) == 1, ErrorCode::kInternal, "[auth] the OS gave no random bytes");
  return hex(bytes, sizeof bytes);
}

Authenticator::Authenticator(std::string tokens_path) : path_(std::move(tokens_path)), table_(parse(path_)) {}

Authenticator::Table Authenticator::parse(const std::string& path) {
  std::ifstream in(path);
  TD_CHECK_ARG(in.good(), "[tokens file] cannot read '", path, "'");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, str("[tokens file] '", path, "' is not JSON: ", e.what()));
  }
  const std::string where = str("[tokens file] '", path, "'");
  TD_CHECK_ARG(doc.is_object() && doc.contains("users") && doc["users"].is_array(), where,
               " needs {\"users\": [...]}");
  Table table;
  std::set<std::string> names;
  for (const auto& u : doc["users"]) {
    TD_CHECK_ARG(u.is_object() && u.contains("name") && u["name"].is_string(), where,
                 ": every user needs a \"name\" string, got ", u.dump());
    auto user = std::make_shared<User>();
    user->name = u["name"].get<std::string>();
    const std::string who = str(where, ", user '", user->name, "'");
    TD_CHECK_ARG(!user->name.empty() && names.insert(user->name).second, who, ": names must be unique and non-empty");
    // A user's name is their checkpoint folder's: nothing that could climb out of the data directory.
    // A leading '.' is kept for the server's own folders (.sessions).
    bool plain = user->name.front() != '.';
    for (char c : user->name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    TD_CHECK_ARG(plain, who, ": a name is letters, digits, '.', '_' and '-', and does not start with '.'");
    for (const auto& [key, value] : u.items()) {
      if (key == "name" || key == "tokens") continue;
      if (key == "admin") {
        TD_CHECK_ARG(value.is_boolean(), who, ": \"admin\" must be true or false");
        user->admin = value.get<bool>();
      } else if (key == "quota") {
        TD_CHECK_ARG(value.is_object(), who, ": \"quota\" must be an object");
        for (const auto& [q, v] : value.items()) {
          const std::string at = str(who, ", quota \"", q, "\"");
          if (q == "device_bytes") {
            user->quota.device_bytes = quota_value(v, at);
          } else if (q == "handles") {
            user->quota.handles = quota_value(v, at);
          } else if (q == "sessions") {
            user->quota.sessions = quota_value(v, at);
          } else if (q == "ops_in_flight") {
            user->quota.ops_in_flight = quota_value(v, at);
          } else {
            throw Error(ErrorCode::kInvalidArgument,
                        str(who, ": unknown quota \"", q, "\" (device_bytes, handles, sessions, ops_in_flight)"));
          }
        }
      } else {
        throw Error(ErrorCode::kInvalidArgument, str(who, ": unknown key \"", key, "\" (name, tokens, admin, quota)"));
      }
    }
    TD_CHECK_ARG(u.contains("tokens") && u["tokens"].is_array(), who, ": needs \"tokens\": [\"sha256:...\", ...]");
    for (const auto& t : u["tokens"]) {
      const std::string h = t.is_string() ? t.get<std::string>() : "";
      bool ok = h.size() == 7 + 64 && h.starts_with("sha256:");
      for (size_t i = 7; ok && i < h.size(); ++i) ok = std::isxdigit(static_cast<unsigned char>(h[i])) && !std::isupper(h[i]);
      TD_CHECK_ARG(ok, who, ": a token must be stored hashed, as \"sha256:\" and 64 lower-case hex digits "
                            "(tensord --hash-token prints it), got ", t.dump());
      TD_CHECK_ARG(table.by_hash.emplace(h, user).second, who, ": a token hash appears twice in the file");
    }
    table.users.push_back(std::move(user));
  }
  return table;
}

void Authenticator::reload() {
  if (!enabled()) return;
  Table fresh = parse(path_);
  std::lock_guard lock(mu_);
  table_ = std::move(fresh);
}

Authenticator::Caller Authenticator::authenticate(std::optional<std::string_view> authorization) const {
  if (!enabled()) {
    static const auto anonymous = std::make_shared<const User>(User{"anonymous", true, {}});
    return {anonymous, ""};
  }
  TD_CHECK(authorization.has_value(), ErrorCode::kUnauthenticated,
           "no credentials: send the metadata \"authorization: Bearer <token>\"");
  constexpr std::string_view kBearer = "Bearer ";
  TD_CHECK(authorization->starts_with(kBearer) && authorization->size() > kBearer.size(), ErrorCode::kUnauthenticated,
           "malformed authorization metadata: expected \"Bearer <token>\"");
  const std::string hash = token_hash(authorization->substr(kBearer.size()));
  std::lock_guard lock(mu_);
  auto it = table_.by_hash.find(hash);
  TD_CHECK(it != table_.by_hash.end(), ErrorCode::kUnauthenticated, "unknown or revoked token");
  return {it->second, hash};
}

bool Authenticator::valid(const std::string& token_hash) const {
  if (!enabled()) return true;
  std::lock_guard lock(mu_);
  return table_.by_hash.contains(token_hash);
}

std::vector<std::shared_ptr<const User>> Authenticator::users() const {
  if (!enabled()) return {authenticate(std::nullopt).user};
  std::lock_guard lock(mu_);
  return table_.users;
}

std::shared_ptr<const User> Authenticator::user(std::string_view name) const {
  for (const auto& u : users()) {
    if (u->name == name) return u;
  }
  return nullptr;
}

}  // namespace td::server
