// Reading, checking and describing field values; see conf/value.h.
#include "conf/value.h"

#include <algorithm>
#include <cstdio>

namespace parkway::conf {

Parsed<std::optional<ListenAddress>> parse_optional_listen_address(std::string_view text) {
  if (text == "off") return std::optional<ListenAddress>{};
  // A port alone listens on loopback: an endpoint without authentication is reachable from
  // the network only when an address says so.
  const bool port_only = !text.empty() && std::all_of(text.begin(), text.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  Parsed<ListenAddress> address =
      parse_listen_address(port_only ? "127.0.0.1:" + std::string(text) : std::string(text));
  if (!address.ok()) {
    if (port_only) return Parsed<std::optional<ListenAddress>>::failure(address.expected());
    return Parsed<std::optional<ListenAddress>>::failure(
        "expected \"off\", a port alone (on 127.0.0.1) or " +
        address.expected().substr(std::string_view("expected ").size()));
  }
  return std::optional<ListenAddress>(address.value());
}

Parsed<LogDestination> parse_log_destination(std::string_view text) {
  LogDestination d;
  if (text == "stderr") return d;
  if (text == "off") {
    d.kind = LogDestination::Kind::off;
    return d;
  }
  if (!text.empty() && text.front() == '/' && text.back() != '/' &&
      text.find('\0') == std::string_view::npos) {
    d.kind = LogDestination::Kind::file;
    d.path = std::string(text);
    return d;
  }
  return Parsed<LogDestination>::failure(
      R"(expected "stderr", "off" or an absolute file path such as "/var/log/parkway/access.log")",
      text.empty() || text.front() == '/'
          ? ""
          : "a relative path would depend on the working directory");
}
namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring
// case, so "conect_timeout", "connect-timeout" and "Connect_Timeout" all find
// "connect_timeout".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

}  // namespace

Parsed<int> check_int(std::int64_t value, const Bounds& bounds) {
  if (value < bounds.min || value > bounds.max) {
    return Parsed<int>::failure("expected an integer " + describe_int_bounds(bounds));
  }
  return static_cast<int>(value);
}

Parsed<int> parse_int(std::string_view text, const Bounds& bounds) {
  // Decimal digits only: no sign, no spaces, no 0x. A value past the bounds is reported
  // with the bounds, however many digits it has.
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Parsed<int>::failure("expected an integer " + describe_int_bounds(bounds));
  }
  std::int64_t value = 0;
  for (const char c : text) value = value * 10 + (c - '0');
  return check_int(value, bounds);
}

Parsed<bool> parse_bool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return Parsed<bool>::failure("expected true or false");
}

Parsed<std::chrono::nanoseconds> parse_bounded_duration(std::string_view text,
                                                        const Bounds& bounds) {
  Parsed<std::chrono::nanoseconds> parsed = parse_duration(text);
  if (!parsed.ok()) return parsed;
  const std::int64_t ns = parsed.value().count();
  if (ns == 0 && bounds.zero_allowed) return parsed;
  if (ns < bounds.min || ns > bounds.max) {
    return Parsed<std::chrono::nanoseconds>::failure("expected a duration " +
                                                     describe_duration_bounds(bounds));
  }
  return parsed;
}

Parsed<std::string> parse_name(std::string_view text) {
  const bool valid_chars = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (text.empty() || text.size() > max_name_length || !valid_chars) {
    return Parsed<std::string>::failure(std::string(name_expected));
  }
  return std::string(text);
}

Parsed<std::vector<Endpoint>> parse_endpoint_list(std::string_view text) {
  std::vector<Endpoint> endpoints;
  std::size_t begin = 0;
  while (true) {
    std::size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(begin, end - begin);
    Parsed<Endpoint> endpoint = parse_endpoint_spec(item);
    if (!endpoint.ok()) {
      return Parsed<std::vector<Endpoint>>::failure("upstream \"" + std::string(item) +
                                                    "\": " + endpoint.expected());
    }
    endpoints.push_back(std::move(endpoint.value()));
    if (end == text.size()) break;
    begin = end + 1;
  }
  return endpoints;
}

std::string describe_int_bounds(const Bounds& bounds) {
  return std::to_string(bounds.min) + ".." + std::to_string(bounds.max);
}

std::string describe_duration_bounds(const Bounds& bounds) {
  std::string out;
  if (bounds.min == 1) {
    out = "> 0";
  } else if (bounds.min > 1) {
    out = ">= " + format_duration(std::chrono::nanoseconds(bounds.min));
  }
  if (bounds.max != int64_max) {
    if (!out.empty()) out += " and ";
    out += "<= " + format_duration(std::chrono::nanoseconds(bounds.max));
  }
  if (bounds.zero_allowed && bounds.min > 0) out = "0s or " + out;
  return out;
}

std::string quoted_alternatives(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += '"';
    out += names[i];
    out += '"';
  }
  return out;
}

std::string_view closest_match(std::string_view word,
                               const std::vector<std::string_view>& candidates) {
  if (word.empty() || word.size() > 128) return {};
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string_view candidate : candidates) {
    // A prefix counts as close however long the rest is: "warning" -> "warn".
    const std::size_t shorter = std::min(word.size(), candidate.size());
    const bool prefix =
        shorter >= 3 && edit_distance(word.substr(0, shorter), candidate.substr(0, shorter)) == 0;
    const std::size_t distance = prefix ? 1 : edit_distance(word, candidate);
    if (distance < best_distance && distance < std::max(word.size(), candidate.size())) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

Parsed<Payload> parse_payload(std::string_view text) {
  if (text.size() > max_payload_bytes) {
    return Parsed<Payload>::failure("expected at most 1024 bytes, found " +
                                    std::to_string(text.size()));
  }
  return Payload{std::string(text)};
}

Parsed<HexPayload> parse_hex_payload(std::string_view text) {
  constexpr std::string_view expected = "expected hex digits such as \"50494e470d0a\" (two a byte)";
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      i++;
      continue;
    }
    if (i + 1 >= text.size() || digit(text[i]) < 0 || digit(text[i + 1]) < 0) {
      return Parsed<HexPayload>::failure(
          std::string(expected), "at offset " + std::to_string(i) + ": not a pair of hex digits");
    }
    bytes += static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1]));
    i += 2;
  }
  if (bytes.size() > max_payload_bytes) {
    return Parsed<HexPayload>::failure("expected at most 1024 bytes, found " +
                                       std::to_string(bytes.size()));
  }
  return HexPayload{std::move(bytes)};
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string toml_quote(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04X",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace parkway::conf
