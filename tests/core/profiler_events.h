// Looking up events in a profiler trace, for the local and the remote profiler's tests.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/profiler/profiler.h"

namespace td::testing {

inline int64_t count_named(const profiler::EventList& events, const std::string& name) {
  return std::count_if(events.begin(), events.end(), [&](const profiler::Event& e) { return e.name == name; });
}

/// The first event of that name; throws if there is none.
inline const profiler::Event& first_named(const profiler::EventList& events, const std::string& name) {
  auto it = std::find_if(events.begin(), events.end(), [&](const profiler::Event& e) { return e.name == name; });
  if (it == events.end()) throw std::runtime_error("no event " + name);
  return *it;
}

}  // namespace td::testing
