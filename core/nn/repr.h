// How module reprs write Python values: floats as repr() does, bools as True/False, int tuples as "(3, 3)" or
// "(3,)". Internal to core/nn.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace td::nn::detail {

/// A float as Python's repr writes it: the shortest round-trip digits, positional for exponents -4 to 15
/// ("0.0001", "2.0", "1e-05", "1e+16").
inline std::string py_float(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, end);
  const size_t e_at = s.find('e');
  if (e_at == std::string::npos) return s;  // inf, nan
  const int exp = std::stoi(s.substr(e_at + 1));
  if (exp < -4 || exp >= 16) return s;
  std::string sign = s[0] == '-' ? "-" : "";
  std::string digits;
  for (size_t i = sign.size(); i < e_at; ++i) {
    if (s[i] != '.') digits += s[i];
  }
  if (exp < 0) return sign + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  const auto whole = static_cast<size_t>(exp) + 1;
  if (digits.size() <= whole) return sign + digits + std::string(whole - digits.size(), '0') + ".0";
  return sign + digits.substr(0, whole) + "." + digits.substr(whole);
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
