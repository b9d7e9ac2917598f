// td::Error: the one error type of tensord. Codes map 1:1 to gRPC status codes (DESIGN.md invariant 10).
#pragma once

#include <cstdint>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace td {

/// Error codes, numbered exactly as grpc::StatusCode so the server maps them without a table.
enum class ErrorCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

/// The canonical upper-case name of a code ("INVALID_ARGUMENT"), as gRPC spells it.
std::string_view error_code_name(ErrorCode code);

/// An error with a code and a message that starts with the op: "[matmul] ...".
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  /// The status code this error maps to.
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

/// Concatenates anything streamable into a string.
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// Formats a shape the way PyTorch prints one in errors: "[2, 3]".
inline std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}
inline std::string shape_str(const std::vector<int64_t>& shape) { return shape_str(std::span<const int64_t>(shape)); }

}  // namespace td

/// Throws td::Error{code, message} unless cond holds. The message parts are only built on failure.
#define TD_CHECK(cond, code, ...) \
  do {                            \
    if (!(cond)) [[unlikely]]     \
      throw ::td::Error((code), ::td::str(__VA_ARGS__)); \
  } while (0)

/// Shorthand for the most common case: a bad argument.
#define TD_CHECK_ARG(cond, ...) TD_CHECK(cond, ::td::ErrorCode::kInvalidArgument, __VA_ARGS__)
