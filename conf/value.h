// Field values as text: how each type a config key can have is read from text (a flag's
// argument, a TOML string, a default in the key table), checked against the key's Bounds,
// described in messages and docs, and written back as a TOML literal.
//
//   C++ type                   text form                 TOML literal
//   int                        4096                      4096
//   bool                       true | false              true
//   std::chrono::nanoseconds   5s (conf/duration.h)      "5s"
//   std::string (a name)       app                       "app"
//   an enum with EnumNames     round_robin               "round_robin"
//   ListenAddress              127.0.0.1:80              "127.0.0.1:80"
//   std::vector<Endpoint>      a:80,b:80/weight=3/backup ["a:80", { address = "b:80", weight
//                                                        = 3, backup = true }]
//   std::optional<ListenAddr.> off | 127.0.0.1:9901    "off"   (9901 reads as 127.0.0.1:9901)
//   LogDestination             stderr | off | /var/log/x "stderr"
//   Payload                    PING\r\n (the bytes)       "PING\r\n"
//   HexPayload                 50494e47                  "50494e47"
//
// Every "expected ..." phrase in the config and flag messages comes from here, so a value
// is explained the same way wherever it was written. A new key type is a new row here.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "conf/address.h"
#include "conf/config.h"
#include "conf/duration.h"
#include "conf/parsed.h"

namespace parkway::conf {

// The accepted range of an integer or a duration key, inclusive. Durations count
// nanoseconds; min = 1 reads as "> 0". zero_allowed admits 0 below min (0 meaning "off" or
// "once"), as in dns_refresh: "0s" or >= 100ms.
struct Bounds {
  std::int64_t min = 0;
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  bool zero_allowed = false;
};

// Names of listeners and clusters: 1..64 of [A-Za-z0-9_.-]. No ':', because names also
// travel in systemd's LISTEN_FDNAMES, which ':' separates.
inline constexpr std::size_t max_name_length = 64;
inline constexpr std::string_view name_expected =
    "expected a name of 1..64 characters from A-Z a-z 0-9 _ . -";

Parsed<int> parse_int(std::string_view text, const Bounds& bounds);
Parsed<int> check_int(std::int64_t value, const Bounds& bounds);
Parsed<bool> parse_bool(std::string_view text);
Parsed<std::chrono::nanoseconds> parse_bounded_duration(std::string_view text,
                                                        const Bounds& bounds);
Parsed<std::string> parse_name(std::string_view text);
// Comma-separated endpoints, at least one: "a:80,b:80". Duplicates are left to validation.
Parsed<std::vector<Endpoint>> parse_endpoint_list(std::string_view text);
// "off", a listen address, or a port alone for 127.0.0.1:PORT.
Parsed<std::optional<ListenAddress>> parse_optional_listen_address(std::string_view text);
// "stderr", "off", or an absolute file path.
Parsed<LogDestination> parse_log_destination(std::string_view text);
// Bytes as written, at most max_payload_bytes.
inline constexpr std::size_t max_payload_bytes = 1024;
Parsed<Payload> parse_payload(std::string_view text);
// Hex digits (either case; spaces between pairs allowed), at most max_payload_bytes bytes.
Parsed<HexPayload> parse_hex_payload(std::string_view text);
std::string to_hex(std::string_view bytes);

// "1..65535", "> 0 and <= 1h", "0s or >= 100ms"; empty when any value is accepted.
std::string describe_int_bounds(const Bounds& bounds);
std::string describe_duration_bounds(const Bounds& bounds);

// `"a", "b" or "c"` — quoted alternatives, for messages.
std::string quoted_alternatives(const std::vector<std::string_view>& names);
// The closest of `candidates` to `word` by edit distance, or empty when none is close.
std::string_view closest_match(std::string_view word,
                               const std::vector<std::string_view>& candidates);
// `value` as a TOML basic string, quotes included, with escapes.
std::string toml_quote(std::string_view value);

template <class E>
std::vector<std::string_view> enum_names() {
  std::vector<std::string_view> names;
  for (const auto& entry : EnumNames<E>::values) names.push_back(entry.second);
  return names;
}

template <class E>
Parsed<E> parse_enum(std::string_view text) {
  for (const auto& [value, name] : EnumNames<E>::values) {
    if (name == text) return value;
  }
  std::string hint;
  if (const std::string_view close = closest_match(text, enum_names<E>()); !close.empty()) {
    hint = "did you mean \"" + std::string(close) + "\"?";
  }
  return Parsed<E>::failure("expected one of " + quoted_alternatives(enum_names<E>()),
                            std::move(hint));
}

template <class T>
inline constexpr bool is_enum_field = std::is_enum_v<T>;

// Reads a value of type T from its text form and checks it against `bounds`.
template <class T>
Parsed<T> parse_text(std::string_view text, const Bounds& bounds) {
  if constexpr (std::is_same_v<T, int>)
    return parse_int(text, bounds);
  else if constexpr (std::is_same_v<T, bool>)
    return parse_bool(text);
  else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
    return parse_bounded_duration(text, bounds);
  else if constexpr (std::is_same_v<T, std::string>)
    return parse_name(text);
  else if constexpr (is_enum_field<T>)
    return parse_enum<T>(text);
  else if constexpr (std::is_same_v<T, ListenAddress>)
    return parse_listen_address(text);
  else if constexpr (std::is_same_v<T, std::vector<Endpoint>>)
    return parse_endpoint_list(text);
  else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>)
    return parse_optional_listen_address(text);
  else if constexpr (std::is_same_v<T, LogDestination>)
    return parse_log_destination(text);
  else if constexpr (std::is_same_v<T, Payload>)
    return parse_payload(text);
  else if constexpr (std::is_same_v<T, HexPayload>)
    return parse_hex_payload(text);
  else
    static_assert(sizeof(T) == 0, "conf: no text form for this field type (conf/value.h)");
}

// The text form of a value, as a flag would take it and docs show it: "5s", "4096".
template <class T>
std::string to_text(const T& value) {
  if constexpr (std::is_same_v<T, int>)
    return std::to_string(value);
  else if constexpr (std::is_same_v<T, bool>)
    return value ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
    return format_duration(value);
  else if constexpr (std::is_same_v<T, std::string>)
    return value;
  else if constexpr (is_enum_field<T>)
    return std::string(to_string(value));
  else if constexpr (std::is_same_v<T, ListenAddress>)
    return value.to_string();
  else if constexpr (std::is_same_v<T, std::vector<Endpoint>>) {
    std::string out;
    for (const Endpoint& endpoint : value) {
      if (!out.empty()) out += ',';
      out += endpoint.to_spec();
    }
    return out;
  } else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>) {
    return value ? value->to_string() : "off";
  } else if constexpr (std::is_same_v<T, LogDestination>) {
    return value.to_string();
  } else if constexpr (std::is_same_v<T, Payload>) {
    return value.bytes;
  } else if constexpr (std::is_same_v<T, HexPayload>) {
    return to_hex(value.bytes);
  } else
    static_assert(sizeof(T) == 0, "conf: no text form for this field type (conf/value.h)");
}

// The value as a TOML literal: 4096, true, "5s", ["a:80", "b:80"].
template <class T>
std::string to_toml_literal(const T& value) {
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, bool>)
    return to_text(value);
  else if constexpr (std::is_same_v<T, std::vector<Endpoint>>) {
    std::string out = "[";
    for (const Endpoint& endpoint : value) {
      if (out.size() > 1) out += ", ";
      if (endpoint.weight == 1 && !endpoint.backup) {
        out += toml_quote(endpoint.to_string());
      } else {
        // The table form, for what a plain "host:port" string cannot say.
        out += "{ address = " + toml_quote(endpoint.to_string());
        if (endpoint.weight != 1) out += ", weight = " + std::to_string(endpoint.weight);
        if (endpoint.backup) out += ", backup = true";
        out += " }";
      }
    }
    return out + "]";
  } else
    return toml_quote(to_text(value));
}

// What a key of type T holds, for "expected ..." when the TOML type is wrong and for the
// type column of the docs: "an integer 1..65535", "a duration string such as \"5s\"".
template <class T>
std::string type_phrase(const Bounds& bounds) {
  if constexpr (std::is_same_v<T, int>)
    return "an integer " + describe_int_bounds(bounds);
  else if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
    return R"(a duration string such as "5s")";
  else if constexpr (std::is_same_v<T, std::string>)
    return R"(a name string such as "app")";
  else if constexpr (is_enum_field<T>)
    return "one of " + quoted_alternatives(enum_names<T>());
  else if constexpr (std::is_same_v<T, ListenAddress>)
    return R"(an address string such as "127.0.0.1:8080")";
  else if constexpr (std::is_same_v<T, std::vector<Endpoint>>)
    return R"(an array of "host:port" strings)";
  else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>)
    return R"("off", a port or an address string such as "127.0.0.1:9901")";
  else if constexpr (std::is_same_v<T, LogDestination>)
    return R"("stderr", "off" or an absolute file path)";
  else if constexpr (std::is_same_v<T, Payload>)
    return R"(a string of at most 1024 bytes such as "PING\r\n")";
  else if constexpr (std::is_same_v<T, HexPayload>)
    return R"(a string of hex digits such as "50494e470d0a")";
  else
    static_assert(sizeof(T) == 0, "conf: no type phrase for this field type (conf/value.h)");
}

// A short type name for docs and flag help: "integer", "duration", "string", ...
template <class T>
std::string_view type_name() {
  if constexpr (std::is_same_v<T, int>)
    return "integer";
  else if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
    return "duration";
  else if constexpr (std::is_same_v<T, std::string>)
    return "name";
  else if constexpr (is_enum_field<T>)
    return "enum";
  else if constexpr (std::is_same_v<T, ListenAddress>)
    return "address";
  else if constexpr (std::is_same_v<T, std::vector<Endpoint>>)
    return "endpoints";
  else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>)
    return "address or off";
  else if constexpr (std::is_same_v<T, LogDestination>)
    return "destination";
  else if constexpr (std::is_same_v<T, Payload>)
    return "text";
  else if constexpr (std::is_same_v<T, HexPayload>)
    return "hex";
  else
    static_assert(sizeof(T) == 0, "conf: no type name for this field type (conf/value.h)");
}

// The accepted values for docs: bounds of numbers and durations, alternatives of enums.
template <class T>
std::string describe_accepted(const Bounds& bounds) {
  if constexpr (std::is_same_v<T, int>)
    return describe_int_bounds(bounds);
  else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>)
    return describe_duration_bounds(bounds);
  else if constexpr (std::is_same_v<T, std::string>)
    return "1..64 characters from A-Z a-z 0-9 _ . -";
  else if constexpr (is_enum_field<T>)
    return quoted_alternatives(enum_names<T>());
  else
    return {};
}

}  // namespace parkway::conf
