// JSON strings for the access log and the admin endpoint's JSON: the one escaper.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace parkway::proxy {

// Appends `s` to `out` as a JSON string, quotes included: ", \ and control characters
// escaped, everything else (UTF-8 included) as it is.
inline void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline std::string json_quote(std::string_view s) {
  std::string out;
  json_string(out, s);
  return out;
}

}  // namespace parkway::proxy
