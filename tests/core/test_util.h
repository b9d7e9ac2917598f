// Small helpers shared by the core tests: catching a td::Error to assert its code and message, and
// printing codes and dtypes by name.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <ostream>
#include <string>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"

namespace td {
// gtest prints these by name in failure messages (found by ADL).
inline void PrintTo(ErrorCode code, std::ostream* os) {
  *os << error_code_name(code);
}
inline void PrintTo(DType dtype, std::ostream* os) {
  *os << dtype_name(dtype);
}
}  // namespace td

namespace td::testing {

/// The td::Error that fn throws. Records a test failure (and returns an error with code kOk and an empty
/// message) if fn returns normally or throws anything else.
template <class F>
Error error_of(F&& fn) {
  try {
    std::forward<F>(fn)();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a std::exception that is not a td::Error: " << e.what();
    return Error(ErrorCode::kOk, "");
  }
  ADD_FAILURE() << "did not throw";
  return Error(ErrorCode::kOk, "");
}

/// The message of the td::Error that fn throws (error_of's rules).
template <class F>
std::string message_of(F&& fn) {
  return std::string(error_of(std::forward<F>(fn)).what());
}

}  // namespace td::testing
