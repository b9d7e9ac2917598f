// How module reprs write Python values: floats as repr() does, bools as True/False, int tuples as "(3, 3)" or
// "(3,)". Internal to core/nn.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace td::nn::detail {

/// A float as Python's repr writes it: the shortest round-trip digits, with ".0" on whole numbers.
inline std::string py_float(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

inline const char* py_bool(bool v) { return v ? "True" : "False"; }

/// A tuple of ints: "(3, 3)", "(3,)".
inline std::string py_tuple(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

/// An argument given as an int or a tuple, written back the way it was given: "2" or "(2, 3)".
inline std::string py_int_or_tuple(const std::vector<int64_t>& v) {
  return v.size() == 1 ? std::to_string(v[0]) : py_tuple(v);
}

}  // namespace td::nn::detail
