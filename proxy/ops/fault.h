#pragma once

// Fault injection for tests: $PARKWAY_FAULT, a comma-separated list of fault names, makes
// parkway misbehave in the named ways so that tests/reliability/hostile_test.cpp can show
// that the rest holds. Never set in production; each name is documented where it acts.

#include <cstdlib>
#include <string_view>

namespace parkway::proxy {

inline bool fault(std::string_view name) {
  const char* env = std::getenv("PARKWAY_FAULT");
  if (env == nullptr) return false;
  std::string_view list = env;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace parkway::proxy
