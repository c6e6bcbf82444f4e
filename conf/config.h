// Config: the one validated, immutable value that a TOML file or the command line turns
// into. The proxy reads it and never changes it; a reload builds a new one and compares.
//
//   Config
//   ├── runtime     RuntimeSettings   [runtime]     procs, drain_timeout, log_level
//   ├── listeners   Listener...       [[listener]]  where to accept, and which cluster
//   └── clusters    Cluster...        [[cluster]]   where to connect, and how
//
// The structs hold values only. What each field means, its default and its bounds are in
// the key table, conf/keys.h, the single source of truth. A default-constructed struct is
// zeroed, not defaulted: conf::defaults<Cluster>() (conf/keys.h) gives the defaults.
//
// operator== compares values and ignores where they were written (`origin`), so a reload
// can tell "unchanged" even when lines moved. Config::source (the path) is compared.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/address.h"

namespace parkway::conf {

enum class LogLevel { error, warn, info, debug };

enum class Balance {
  round_robin,        // each new connection goes to the next endpoint in turn
  least_connections,  // to the endpoint with the fewest active connections
  power_of_two,       // the less loaded of two endpoints picked at random
};

// EnumNames<E>::values: every value of E with its spelling in TOML and on the command line.
template <class E>
struct EnumNames;

template <>
struct EnumNames<LogLevel> {
  static constexpr std::array<std::pair<LogLevel, std::string_view>, 4> values{{
      {LogLevel::error, "error"},
      {LogLevel::warn, "warn"},
      {LogLevel::info, "info"},
      {LogLevel::debug, "debug"},
  }};
};

template <>
struct EnumNames<Balance> {
  static constexpr std::array<std::pair<Balance, std::string_view>, 3> values{{
      {Balance::round_robin, "round_robin"},
      {Balance::least_connections, "least_connections"},
      {Balance::power_of_two, "power_of_two"},
  }};
};

// How a health check's reply is matched against `expect`.
enum class HealthMatch { prefix, contains };

template <>
struct EnumNames<HealthMatch> {
  static constexpr std::array<std::pair<HealthMatch, std::string_view>, 2> values{{
      {HealthMatch::prefix, "prefix"},
      {HealthMatch::contains, "contains"},
  }};
};

template <class E>
constexpr std::string_view to_string(E value) {
  for (const auto& [candidate, name] : EnumNames<E>::values) {
    if (candidate == value) return name;
  }
  return "?";
}

// Where a [[listener]] or [[cluster]] table starts in its file (1-based; 0 when it came from
// the command line). Every SourceLocation equals every other: where a table was written
// never makes two configs different.
struct SourceLocation {
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  friend constexpr bool operator==(const SourceLocation&, const SourceLocation&) { return true; }
};

struct RuntimeSettings {
  int procs = 0;
  std::chrono::nanoseconds drain_timeout{};
  LogLevel log_level = LogLevel::error;

  bool operator==(const RuntimeSettings&) const = default;
};

struct Listener {
  std::string name;
  ListenAddress address;
  std::string cluster;  // the name of a Cluster in the same Config
  int max_connections = 0;
  bool reuse_port = false;
  int backlog = 0;
  SourceLocation origin;

  bool operator==(const Listener&) const = default;
};

// Bytes a health check sends or expects, as written: text (TOML's escapes give \r, \n, \t
// and \u00XX) or, for a *_hex key, hex digits.
struct Payload {
  std::string bytes;
  bool operator==(const Payload&) const = default;
};
struct HexPayload {
  std::string bytes;  // decoded
  bool operator==(const HexPayload&) const = default;
};

// [cluster.health_check]: active checks of every address of the cluster's endpoints; off
// unless the table is present.
struct HealthCheck {
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds timeout{};
  int rise = 0;
  int fall = 0;
  int jitter = 0;  // percent of interval
  int port = 0;    // 0: the endpoint's own port
  Payload send;
  HexPayload send_hex;
  Payload expect;
  HexPayload expect_hex;
  HealthMatch match = HealthMatch::prefix;

  // The bytes to send and to expect, from whichever key gave them.
  const std::string& send_bytes() const { return send.bytes.empty() ? send_hex.bytes : send.bytes; }
  const std::string& expect_bytes() const {
    return expect.bytes.empty() ? expect_hex.bytes : expect.bytes;
  }
  bool operator==(const HealthCheck&) const = default;
};

// [cluster.outlier]: passive ejection of addresses that keep failing; on by default.
struct Outlier {
  bool enabled = false;
  int consecutive_failures = 0;
  std::chrono::nanoseconds base_ejection{};
  std::chrono::nanoseconds max_ejection{};
  int max_ejected_percent = 0;
  bool operator==(const Outlier&) const = default;
};

struct Cluster {
  std::string name;
  std::vector<Endpoint> endpoints;  // never empty, no duplicates
  Balance balance = Balance::round_robin;
  std::chrono::nanoseconds connect_timeout{};
  int connect_attempts = 0;
  std::chrono::nanoseconds dns_refresh{};   // 0: resolve once at start
  std::chrono::nanoseconds idle_timeout{};  // 0: off
  std::chrono::nanoseconds fin_timeout{};   // 0: off
  std::chrono::nanoseconds max_duration{};  // 0: off
  int panic_threshold = 0;  // percent of addresses healthy, below which all are used
  std::optional<HealthCheck> health_check;  // [cluster.health_check]
  Outlier outlier;                          // [cluster.outlier]
  SourceLocation origin;

  bool operator==(const Cluster&) const = default;
};

// Where the access log goes: the process's stderr (the journal under systemd), a file
// (reopened on SIGUSR1, for logrotate), or nowhere.
struct LogDestination {
  enum class Kind { off, stderr_stream, file };
  Kind kind = Kind::stderr_stream;
  std::string path;  // Kind::file: an absolute path

  // "off", "stderr" or the path.
  std::string to_string() const;
  bool operator==(const LogDestination&) const = default;
};

struct AdminSettings {
  std::optional<ListenAddress> address;  // nullopt: no admin endpoint
  int max_connections = 0;

  bool operator==(const AdminSettings&) const = default;
};

struct AccessLogSettings {
  LogDestination destination;

  bool operator==(const AccessLogSettings&) const = default;
};

struct Config {
  RuntimeSettings runtime;
  AdminSettings admin;
  AccessLogSettings access_log;
  std::vector<Listener> listeners;  // at least one; names and addresses unique
  std::vector<Cluster> clusters;    // names unique; every listener's cluster is here
  std::string source;               // the file path, or "command line"

  // nullptr when there is none of that name.
  const Cluster* find_cluster(std::string_view name) const;
  const Listener* find_listener(std::string_view name) const;

  bool operator==(const Config&) const = default;
};

}  // namespace parkway::conf
