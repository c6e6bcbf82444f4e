// The key table: one row per config key, the single source of truth for its TOML section
// and name, where its value lives in Config, its default, its bounds, its command-line flag
// and its help text. Everything else is generated from these rows:
//
//   reading TOML (conf/parse.cpp)           defaults, types, bounds, unknown-key suggestions
//   printing TOML (conf/emit.cpp)           every key, defaults included
//   the reference config and README table   conf/reference.cpp -> packaging/parkway.toml
//   command-line flags and their help       conf/cli.cpp
//
// Adding a key is adding a row (and its field to the struct in conf/config.h). Adding a
// table such as [admin] is adding its struct to Config, a row array, and an entry in
// `sections` below. A key whose C++ type is new needs that type in conf/value.h.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "conf/config.h"
#include "conf/value.h"

namespace parkway::conf {

// Where a key's value lives: a pointer to a member of the section's struct S.
template <class S>
using Field = std::variant<int S::*, bool S::*, std::chrono::nanoseconds S::*, std::string S::*,
                           LogLevel S::*, Balance S::*, ListenAddress S::*,
                           std::vector<Endpoint> S::*, std::optional<ListenAddress> S::*,
                           LogDestination S::*>;

// Which command-line flag a key gets (named after it: connect_timeout -> --connect-timeout).
enum class FlagUse {
  none,     // only in a file
  runtime,  // overrides the file's value, or sets it for -L forwards
  forward,  // applies to every -L forward; with a config file it is a usage error
};

template <class S>
struct Key {
  std::string_view name;
  Field<S> field;
  // The default in text form ("30s", "4096", "round_robin"); empty: the key is required.
  std::string_view default_text;
  // For a required key: the value the reference config (packaging/parkway.toml) uses.
  std::string_view example_text;
  Bounds bounds;
  FlagUse flag;
  // What the key does. The first sentence is the flag's help line.
  std::string_view help;
  // The flag's name when it is not derived from the key's ("--admin" for [admin] address).
  std::string_view flag_override = {};

  constexpr bool required() const { return default_text.empty(); }
};

namespace detail {
constexpr std::int64_t ns(std::chrono::nanoseconds d) { return d.count(); }
constexpr std::int64_t no_max = std::numeric_limits<std::int64_t>::max();
}  // namespace detail

inline constexpr std::array<Key<RuntimeSettings>, 3> runtime_keys{{
    {"procs", &RuntimeSettings::procs, "0", {}, {0, 1024}, FlagUse::runtime,
     "Threads that run goroutines (Go's GOMAXPROCS); 0 means one per CPU."},
    {"drain_timeout", &RuntimeSettings::drain_timeout, "30s", {}, {1, detail::no_max},
     FlagUse::runtime,
     "On SIGTERM, how long active connections may take to finish before they are closed. "
     "Listeners stop accepting at once."},
    {"log_level", &RuntimeSettings::log_level, "info", {}, {}, FlagUse::runtime,
     "The least severe messages that are logged."},
}};

inline constexpr std::array<Key<Listener>, 6> listener_keys{{
    {"name", &Listener::name, {}, "app", {}, FlagUse::none,
     "Names the listener in logs and metrics; with systemd socket activation it matches the "
     "socket's FileDescriptorName=. Unique among listeners."},
    {"address", &Listener::address, {}, "127.0.0.1:10080", {}, FlagUse::none,
     "Where to accept connections: an IPv4 \"A.B.C.D:PORT\" or \"[IPv6]:PORT\" literal, never a "
     "DNS name; 0.0.0.0 or [::] for all interfaces; port 0 lets the kernel pick. Unique among "
     "listeners."},
    {"cluster", &Listener::cluster, {}, "app", {}, FlagUse::none,
     "The name of the [[cluster]] that accepted connections are forwarded to."},
    {"max_connections", &Listener::max_connections, "10000", {}, {1, 1'000'000}, FlagUse::forward,
     "Open connections at most; when reached, the listener stops accepting and the kernel "
     "backlog holds new connections until one closes."},
    {"reuse_port", &Listener::reuse_port, "false", {}, {}, FlagUse::forward,
     "Bind with SO_REUSEPORT, so that several processes can share the address."},
    {"backlog", &Listener::backlog, "4096", {}, {1, 65535}, FlagUse::forward,
     "The listen(2) backlog: connections the kernel queues until they are accepted "
     "(capped by net.core.somaxconn)."},
}};

inline constexpr std::array<Key<Cluster>, 9> cluster_keys{{
    {"name", &Cluster::name, {}, "app", {}, FlagUse::none,
     "Names the cluster; listeners refer to it by this name. Unique among clusters."},
    {"endpoints", &Cluster::endpoints, {}, "127.0.0.1:8080", {}, FlagUse::none,
     "The upstream servers: \"host:port\" or \"[IPv6]:port\", where host is an IP literal or a "
     "DNS name; port 1..65535. At least one, no duplicates."},
    {"balance", &Cluster::balance, "round_robin", {}, {}, FlagUse::forward,
     "How a new connection picks an endpoint: round_robin takes them in turn, "
     "least_connections the one with the fewest open connections, power_of_two the less "
     "loaded of two picked at random."},
    {"connect_timeout", &Cluster::connect_timeout, "5s", {},
     {1, detail::ns(std::chrono::hours(1))}, FlagUse::forward,
     "How long one connection attempt to an endpoint may take."},
    {"connect_attempts", &Cluster::connect_attempts, "3", {}, {1, 100}, FlagUse::forward,
     "Connection attempts per client connection in all, each on a different endpoint while "
     "there are others; when all fail, the client connection is closed."},
    {"dns_refresh", &Cluster::dns_refresh, "30s", {},
     {detail::ns(std::chrono::milliseconds(100)), detail::no_max, true}, FlagUse::forward,
     "How often DNS names among the endpoints are resolved again; \"0s\" resolves them once, "
     "at start."},
    {"idle_timeout", &Cluster::idle_timeout, "1h", {}, {}, FlagUse::forward,
     "A connection that moves no bytes in either direction for this long is closed; "
     "\"0s\" turns this off."},
    {"fin_timeout", &Cluster::fin_timeout, "1m", {}, {}, FlagUse::forward,
     "Once one direction has finished (a half-close), the connection is closed after it has "
     "been idle this long; \"0s\" turns this off."},
    {"max_duration", &Cluster::max_duration, "0s", {}, {}, FlagUse::forward,
     "A connection is closed this long after it was accepted, busy or not; \"0s\" turns "
     "this off."},
}};

inline constexpr std::array<Key<AdminSettings>, 2> admin_keys{{
    {"address", &AdminSettings::address, "off", {}, {}, FlagUse::runtime,
     "Where the admin HTTP endpoint listens (GET /metrics, /ready, /live, /config): an IP "
     "literal and port such as \"127.0.0.1:9901\", or \"off\". It has no authentication: keep "
     "it on loopback or behind a firewall.",
     "--admin"},
    {"max_connections", &AdminSettings::max_connections, "16", {}, {1, 1000}, FlagUse::none,
     "Admin connections served at once; more wait in the backlog. Separate from the "
     "listeners' limits, so the endpoint stays reachable when they are saturated."},
}};

inline constexpr std::array<Key<AccessLogSettings>, 1> access_log_keys{{
    {"destination", &AccessLogSettings::destination, "stderr", {}, {}, FlagUse::runtime,
     "Where the access log (one JSON line per finished connection) goes: \"stderr\" (the "
     "journal under systemd), an absolute file path (reopened on SIGUSR1, for logrotate), or "
     "\"off\".",
     "--access-log"},
}};

// A TOML table of the config: [runtime] (Member = S, one table) or [[listener]]
// (Member = std::vector<S>, an array of tables).
template <class S, class Member>
struct Section {
  using Struct = S;
  static constexpr bool repeated = std::is_same_v<Member, std::vector<S>>;

  std::string_view name;
  Member Config::*member;
  std::span<const Key<S>> keys;
  std::string_view help;
};

// The tables of a config file, in the order they are printed.
inline constexpr std::tuple sections{
    Section<RuntimeSettings, RuntimeSettings>{
        "runtime", &Config::runtime, runtime_keys,
        "Settings of the whole process."},
    Section<AdminSettings, AdminSettings>{
        "admin", &Config::admin, admin_keys,
        "The admin endpoint: metrics, health and the running config, over HTTP."},
    Section<AccessLogSettings, AccessLogSettings>{
        "access_log", &Config::access_log, access_log_keys,
        "One line per finished connection."},
    Section<Listener, std::vector<Listener>>{
        "listener", &Config::listeners, listener_keys,
        "A socket that accepts connections and forwards them to a cluster. Write one "
        "[[listener]] table per socket."},
    Section<Cluster, std::vector<Cluster>>{
        "cluster", &Config::clusters, cluster_keys,
        "A group of upstream servers and how connections to them behave. Write one "
        "[[cluster]] table per group."},
};

// Calls f(section) for each entry of `sections`, in order.
template <class F>
void for_each_section(F&& f) {
  std::apply([&](const auto&... section) { (f(section), ...); }, sections);
}

// The type of the value a key's field holds.
template <class S, class Member>
using FieldType = std::remove_cvref_t<decltype(std::declval<S&>().*std::declval<Member>())>;

// Sets key's field of `target` from its text form. Returns an empty string, or what was
// expected instead and any hint (conf/value.h).
template <class S>
std::string assign_text(const Key<S>& key, std::string_view text, S& target) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = FieldType<S, decltype(member)>;
        Parsed<T> parsed = parse_text<T>(text, key.bounds);
        if (!parsed.ok()) {
          return parsed.hint().empty() ? parsed.expected() : parsed.expected() + "; " + parsed.hint();
        }
        target.*member = std::move(parsed.value());
        return {};
      },
      key.field);
}

// The key's field of `source` in text form ("5s") or as a TOML literal ("\"5s\"").
template <class S>
std::string field_text(const Key<S>& key, const S& source) {
  return std::visit([&](auto member) { return to_text(source.*member); }, key.field);
}
template <class S>
std::string field_toml(const Key<S>& key, const S& source) {
  return std::visit([&](auto member) { return to_toml_literal(source.*member); }, key.field);
}

// The keys of the section whose struct is S.
template <class S>
std::span<const Key<S>> keys_of() {
  std::span<const Key<S>> out;
  for_each_section([&](const auto& section) {
    if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(section)>::Struct, S>) {
      out = section.keys;
    }
  });
  return out;
}

// An S with every key at its table default; required keys stay empty. A default that does
// not parse is a bug in the table: it aborts with the row's name (a test builds them all).
template <class S>
S defaults() {
  S out{};
  for (const Key<S>& key : keys_of<S>()) {
    if (key.required()) continue;
    if (const std::string error = assign_text(key, key.default_text, out); !error.empty()) {
      std::fprintf(stderr, "conf: bad default for key %.*s in conf/keys.h: %s\n",
                   static_cast<int>(key.name.size()), key.name.data(), error.c_str());
      std::abort();
    }
  }
  return out;
}

// A Config with every single table ([runtime], [admin], [access_log]) at its defaults, and
// no listeners or clusters: what a file that sets nothing starts from.
inline Config default_config() {
  Config config;
  for_each_section([&](const auto& section) {
    using Sec = std::remove_cvref_t<decltype(section)>;
    if constexpr (!Sec::repeated) config.*section.member = defaults<typename Sec::Struct>();
  });
  return config;
}

// "connect_timeout" -> "--connect-timeout".
std::string flag_name(std::string_view key_name);

// One row of the table as plain text, for docs, help and tests.
struct KeyDoc {
  std::string_view section;    // "cluster"
  bool repeated = false;       // [[cluster]] rather than [runtime]
  std::string_view name;       // "connect_timeout"
  std::string_view type;       // "duration" (conf/value.h type_name)
  std::string type_phrase;     // "a duration string such as \"5s\""
  std::string default_text;    // "5s", as a flag takes it; empty for required keys
  std::string default_toml;    // "\"5s\"", as TOML writes it; empty for required keys
  std::string example_toml;    // the reference config's value: the default or the example
  std::string accepted;        // "> 0 and <= 1h", "1..100", "\"round_robin\", ..."
  std::vector<std::string_view> choices;  // the values of an enum key, else empty
  std::string_view help;
  FlagUse flag = FlagUse::none;
  std::string flag_name;  // "--connect-timeout"; empty when the key has no flag
  bool required = false;
};

// Every key of every section, in table order.
std::vector<KeyDoc> key_docs();

// `text` broken at spaces into lines of at most `width` characters (a longer word gets a
// line of its own), for help and comments generated from the table.
std::vector<std::string> wrap_words(std::string_view text, std::size_t width);

}  // namespace parkway::conf
