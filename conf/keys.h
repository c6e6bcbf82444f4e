// The key table: one row per config key, the single source of truth for its TOML section
// and name, where its value lives in Config, its default, its bounds, its command-line flag
// and its help text. Everything else is generated from these rows:
//
//   reading TOML (conf/parse.cpp)           defaults, types, bounds, unknown-key suggestions
//   printing TOML (conf/emit.cpp)           every key, defaults included
//   the reference config and README table   conf/reference.cpp -> packaging/parkway.toml,
//                                           README.md (tests/conf/reference_test.cpp
//                                           fails when either drifts)
//   command-line flags and their help       conf/cli.cpp
//   the defaults of -L forwards             Key::forward_default_text (conf/forward.cpp)
//
// Adding a key is adding a row (and its field to the struct in conf/config.h). Adding a
// table such as [admin] is adding its struct to Config, a row array, and an entry in
// `sections` below. A key whose C++ type is new needs that type in conf/value.h.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
                           LogDestination S::*, Payload S::*, HexPayload S::*, HealthMatch S::*>;

// Which command-line flag a key gets (named after it: connect_timeout -> --connect-timeout).
enum class FlagUse {
  none,     // only in a file
  runtime,  // overrides the file's value, or sets it for -L forwards
  forward,  // applies to every -L forward; with a config file it is a usage error
};

// What a config is made from: a file, or -L forwards on the command line. A few keys have
// a different default for forwards (Key::forward_default_text).
enum class Origin { file, forwards };

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
  // The default for -L forwards, when it differs from a config file's (the access log is
  // off for a one-off forward, JSON on stderr for a service); empty: the same default.
  std::string_view forward_default_text = {};
  // The default is the empty text (a payload that is not sent): not a required key.
  bool empty_default = false;

  constexpr bool required() const { return default_text.empty() && !empty_default; }
  // The default text for a config of that origin.
  constexpr std::string_view default_for(Origin origin) const {
    return origin == Origin::forwards && !forward_default_text.empty() ? forward_default_text
                                                                       : default_text;
  }
};

namespace detail {
constexpr std::int64_t ns(std::chrono::nanoseconds d) { return d.count(); }
// The longest timeouts accepted: long enough to mean "effectively never" (a connection
// idle for a year), short enough that no deadline computed from them comes near the end
// of the clock (deadlines saturate anyway: scheduler/time.h).
constexpr std::int64_t a_year = ns(std::chrono::hours(24 * 365));
constexpr std::int64_t a_day = ns(std::chrono::hours(24));
}  // namespace detail

// The rows are laid out by hand, one key a paragraph: clang-format would put each field on
// a line of its own.
// clang-format off
inline constexpr std::array<Key<RuntimeSettings>, 3> runtime_keys{{
    {"procs", &RuntimeSettings::procs, "0", {}, {0, 1024}, FlagUse::runtime,
     "Threads that run goroutines (Go's GOMAXPROCS); 0 means one per CPU."},
    {"drain_timeout", &RuntimeSettings::drain_timeout, "30s", {}, {1, detail::a_day},
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
     "DNS name; 0.0.0.0 for every IPv4 address, [::] for every IPv6 address (IPv6 only: "
     "IPV6_V6ONLY, whatever net.ipv6.bindv6only says; add a listener on 0.0.0.0 for IPv4 as "
     "well); port 0 lets the kernel pick. Unique among "
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

inline constexpr std::array<Key<Cluster>, 10> cluster_keys{{
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
     {detail::ns(std::chrono::milliseconds(100)), detail::a_day, true}, FlagUse::forward,
     "How often DNS names among the endpoints are resolved again; \"0s\" resolves them once, "
     "at start."},
    {"idle_timeout", &Cluster::idle_timeout, "1h", {}, {0, detail::a_year}, FlagUse::forward,
     "A connection that moves no bytes in either direction for this long is closed; "
     "\"0s\" turns this off."},
    {"fin_timeout", &Cluster::fin_timeout, "1m", {}, {0, detail::a_year}, FlagUse::forward,
     "Once one direction has finished (a half-close), the connection is closed after it has "
     "been idle this long; \"0s\" turns this off."},
    {"max_duration", &Cluster::max_duration, "0s", {}, {0, detail::a_year}, FlagUse::forward,
     "A connection is closed this long after it was accepted, busy or not; \"0s\" turns "
     "this off."},
    {"panic_threshold", &Cluster::panic_threshold, "50", {}, {0, 100}, FlagUse::forward,
     "Panic mode: when fewer than this percent of the primary endpoints' addresses are "
     "healthy, connections go to all of them, healthy or not (a cluster mostly down is more "
     "likely a broken check than broken servers); 0 never panics."},
}};

inline constexpr std::array<Key<HealthCheck>, 11> health_check_keys{{
    {"interval", &HealthCheck::interval, "2s", {},
     {detail::ns(std::chrono::milliseconds(100)), detail::a_day}, FlagUse::none,
     "How often each address is checked."},
    {"timeout", &HealthCheck::timeout, "1s", {},
     {detail::ns(std::chrono::milliseconds(1)), detail::ns(std::chrono::minutes(1))},
     FlagUse::none,
     "How long one check may take, connect, send and reply together; past it the check "
     "fails."},
    {"rise", &HealthCheck::rise, "2", {}, {1, 100}, FlagUse::none,
     "Checks in a row that must pass for a failing address to be healthy again."},
    {"fall", &HealthCheck::fall, "3", {}, {1, 100}, FlagUse::none,
     "Checks in a row that must fail for a healthy address to be failing."},
    {"jitter", &HealthCheck::jitter, "10", {}, {0, 50}, FlagUse::none,
     "Percent of the interval by which each check moves at random, so that checks spread "
     "out; the first checks are spread over one interval."},
    {"port", &HealthCheck::port, "0", {}, {0, 65535}, FlagUse::none,
     "The port to check on each address; 0: the endpoint's own port."},
    {"send", &HealthCheck::send, "", {}, {}, FlagUse::none,
     "Bytes to send once connected, as TOML text (\"PING\\r\\n\"); empty: send nothing. "
     "Not together with send_hex.", {}, {}, true},
    {"send_hex", &HealthCheck::send_hex, "", {}, {}, FlagUse::none,
     "The bytes to send as hex digits, for binary protocols (\"50494e470d0a\").", {}, {},
     true},
    {"expect", &HealthCheck::expect, "", {}, {}, FlagUse::none,
     "Bytes the reply must start with (or contain: match), as TOML text (\"+PONG\"); empty: "
     "a connect is the check. Not together with expect_hex.", {}, {}, true},
    {"expect_hex", &HealthCheck::expect_hex, "", {}, {}, FlagUse::none,
     "The expected bytes as hex digits.", {}, {}, true},
    {"match", &HealthCheck::match, "prefix", {}, {}, FlagUse::none,
     "How the reply is compared with expect: prefix (it starts with it) or contains "
     "(anywhere in its first 4 KiB)."},
}};

inline constexpr std::array<Key<Outlier>, 5> outlier_keys{{
    {"enabled", &Outlier::enabled, "true", {}, {}, FlagUse::none,
     "Eject addresses that keep failing: connects refused, timed out or reset before a "
     "byte came back (a client's own reset does not count)."},
    {"consecutive_failures", &Outlier::consecutive_failures, "5", {}, {1, 1000},
     FlagUse::none, "Failures in a row that eject an address."},
    {"base_ejection", &Outlier::base_ejection, "30s", {},
     {detail::ns(std::chrono::seconds(1)), detail::a_day}, FlagUse::none,
     "How long the first ejection of an address lasts; each further one lasts this times "
     "the number of its ejections, up to max_ejection."},
    {"max_ejection", &Outlier::max_ejection, "300s", {},
     {detail::ns(std::chrono::seconds(1)), detail::a_day}, FlagUse::none,
     "The longest an ejection lasts."},
    {"max_ejected_percent", &Outlier::max_ejected_percent, "50", {}, {0, 100}, FlagUse::none,
     "At most this percent of a cluster's addresses are ejected at once (at least one, when "
     "it is above 0)."},
}};

inline constexpr std::array<Key<AdminSettings>, 2> admin_keys{{
    {"address", &AdminSettings::address, "off", {}, {}, FlagUse::runtime,
     "Where the admin HTTP endpoint listens (GET /metrics, /ready, /live, /config): an IP "
     "literal and port such as \"127.0.0.1:9901\", a port alone for 127.0.0.1 (\"9901\"), or "
     "\"off\". It has no authentication: keep it on loopback or behind a firewall.",
     "--admin"},
    {"max_connections", &AdminSettings::max_connections, "16", {}, {1, 1000}, FlagUse::none,
     "Admin connections served at once; more wait in the backlog. Separate from the "
     "listeners' limits, so the endpoint stays reachable when they are saturated."},
}};

inline constexpr std::array<Key<AccessLogSettings>, 1> access_log_keys{{
    {"destination", &AccessLogSettings::destination, "stderr", {}, {}, FlagUse::runtime,
     "Where the access log (one JSON line per finished connection) goes: \"stderr\" (the "
     "journal under systemd), a file (reopened on SIGUSR1, for logrotate), or \"off\". In a "
     "file the path is absolute; --access-log also takes one relative to the working "
     "directory. With -L forwards it is off unless asked for: a one-off forward keeps its "
     "terminal for the event log (--log-level debug adds a line per connection).",
     "--access-log", "off"},
}};
// clang-format on

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
    Section<RuntimeSettings, RuntimeSettings>{"runtime", &Config::runtime, runtime_keys,
                                              "Settings of the whole process."},
    Section<AdminSettings, AdminSettings>{
        "admin", &Config::admin, admin_keys,
        "The admin endpoint: metrics, health and the running config, over HTTP."},
    Section<AccessLogSettings, AccessLogSettings>{
        "access_log", &Config::access_log, access_log_keys, "One line per finished connection."},
    Section<Listener, std::vector<Listener>>{
        "listener", &Config::listeners, listener_keys,
        "A socket that accepts connections and forwards them to a cluster. Write one "
        "[[listener]] table per socket."},
    Section<Cluster, std::vector<Cluster>>{
        "cluster", &Config::clusters, cluster_keys,
        "A group of upstream servers and how connections to them behave. Write one "
        "[[cluster]] table per group."},
};

// A table inside the tables of a section: [cluster.health_check] (Member = std::optional<C>:
// there or not), [cluster.outlier] (Member = C: its defaults when absent), [[listener.route]]
// (Member = std::vector<C>: an array of tables).
template <class P, class C, class Member>
struct SubSection {
  using Parent = P;
  using Struct = C;
  static constexpr bool repeated = std::is_same_v<Member, std::vector<C>>;
  static constexpr bool optional = std::is_same_v<Member, std::optional<C>>;

  std::string_view name;  // "health_check"
  std::string_view path;  // "cluster.health_check", as headers write it
  Member P::*member;
  std::span<const Key<C>> keys;
  std::string_view help;
};

// The sub-tables of the struct S: none, unless an overload says otherwise.
template <class S>
constexpr std::tuple<> sub_sections(const S*) {
  return {};
}
constexpr auto sub_sections(const Cluster*) {
  return std::tuple{
      SubSection<Cluster, HealthCheck, std::optional<HealthCheck>>{
          "health_check", "cluster.health_check", &Cluster::health_check, health_check_keys,
          "Active health checks of every address of the cluster's endpoints: a connect, or a "
          "connect, send and expect, every interval. Off unless this table is present; with it, "
          "a new address gets connections once its first check passed."},
      SubSection<Cluster, Outlier, Outlier>{
          "outlier", "cluster.outlier", &Cluster::outlier, outlier_keys,
          "Passive ejection: an address whose connects keep failing gets no connections for a "
          "while. On unless enabled = false."},
  };
}

// Calls f(sub) for each sub-table of S, in order.
template <class S, class F>
void for_each_sub_section(F&& f) {
  std::apply([&](const auto&... sub) { (f(sub), ...); },
             sub_sections(static_cast<const S*>(nullptr)));
}

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
          return parsed.hint().empty() ? parsed.expected()
                                       : parsed.expected() + "; " + parsed.hint();
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

// The keys of the section or sub-table whose struct is S.
template <class S>
std::span<const Key<S>> keys_of() {
  std::span<const Key<S>> out;
  auto take = [&](const auto& table) {
    if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(table)>::Struct, S>) {
      out = table.keys;
    }
  };
  for_each_section([&](const auto& section) {
    take(section);
    for_each_sub_section<typename std::remove_cvref_t<decltype(section)>::Struct>(take);
  });
  return out;
}

// An S with every key at its table default for configs of `origin`; required keys stay
// empty. A default that does not parse is a bug in the table: it aborts with the row's name
// (a test builds them all).
template <class S>
S defaults(Origin origin = Origin::file) {
  S out{};
  for (const Key<S>& key : keys_of<S>()) {
    if (key.required()) continue;
    if (const std::string error = assign_text(key, key.default_for(origin), out); !error.empty()) {
      std::fprintf(stderr, "conf: bad default for key %.*s in conf/keys.h: %s\n",
                   static_cast<int>(key.name.size()), key.name.data(), error.c_str());
      std::abort();
    }
  }
  // A sub-table that is always there ([cluster.outlier]) starts at its own defaults; an
  // optional one ([cluster.health_check]) is absent.
  for_each_sub_section<S>([&](const auto& sub) {
    using Sub = std::remove_cvref_t<decltype(sub)>;
    if constexpr (!Sub::repeated && !Sub::optional) {
      out.*sub.member = defaults<typename Sub::Struct>(origin);
    }
  });
  return out;
}

// A Config with every single table ([runtime], [admin], [access_log]) at its defaults for
// `origin`, and no listeners or clusters: what a file that sets nothing starts from.
inline Config default_config(Origin origin = Origin::file) {
  Config config;
  for_each_section([&](const auto& section) {
    using Sec = std::remove_cvref_t<decltype(section)>;
    if constexpr (!Sec::repeated) {
      config.*section.member = defaults<typename Sec::Struct>(origin);
    }
  });
  return config;
}

// "connect_timeout" -> "--connect-timeout".
std::string flag_name(std::string_view key_name);

// One row of the table as plain text, for docs, help and tests.
struct KeyDoc {
  std::string_view section;     // "cluster", or "cluster.health_check" for a sub-table
  bool repeated = false;        // [[cluster]] rather than [runtime]
  bool optional_table = false;  // in a sub-table that is off unless present
  std::string_view name;        // "connect_timeout"
  std::string_view type;        // "duration" (conf/value.h type_name)
  std::string type_phrase;      // "a duration string such as \"5s\""
  std::string default_text;     // "5s", as a flag takes it; empty for required keys
  std::string default_toml;     // "\"5s\"", as TOML writes it; empty for required keys
  // The default for -L forwards where it differs ("off"), and as TOML; else empty.
  std::string forward_default_text;
  std::string forward_default_toml;
  std::string example_toml;  // the reference config's value: the default or the example
  std::string accepted;      // "> 0 and <= 1h", "1..100", "\"round_robin\", ..."
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
