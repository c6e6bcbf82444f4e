// Good config files, defaults, warnings, and inputs that must neither crash nor hang
// (conf/parse.h).
#include "conf/parse.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "conf/keys.h"
#include "conf/limits.h"
#include "conf/value.h"

using namespace std::chrono_literals;
using namespace parkway::conf;

namespace {

Config loaded(const std::string& toml) {
  LoadResult result = load_string(toml, "test.toml");
  INFO(format(result.diagnostics));
  REQUIRE(result.ok());
  return std::move(*result.config);
}

const std::string minimal = R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"

[[cluster]]
name = "app"
endpoints = ["127.0.0.1:8080"]
)";

}  // namespace

TEST_CASE("a minimal config gets every default", "[conf][parse]") {
  const Config config = loaded(minimal);
  CHECK(config.source == "test.toml");
  CHECK(config.runtime.procs == 0);
  CHECK(config.runtime.drain_timeout == 30s);
  CHECK(config.runtime.log_level == LogLevel::info);
  CHECK(config.runtime == defaults<RuntimeSettings>());

  REQUIRE(config.listeners.size() == 1);
  const Listener& listener = config.listeners[0];
  CHECK(listener.name == "app");
  CHECK(listener.address.to_string() == "127.0.0.1:10080");
  CHECK(listener.cluster == "app");
  CHECK(listener.max_connections == 10000);
  CHECK(listener.reuse_port == false);
  CHECK(listener.backlog == 4096);
  CHECK(listener.origin.line == 1);
  CHECK(listener.origin.column == 1);

  REQUIRE(config.clusters.size() == 1);
  const Cluster& cluster = config.clusters[0];
  CHECK(cluster.name == "app");
  REQUIRE(cluster.endpoints.size() == 1);
  CHECK(cluster.endpoints[0].to_string() == "127.0.0.1:8080");
  CHECK(cluster.balance == Balance::round_robin);
  CHECK(cluster.connect_timeout == 5s);
  CHECK(cluster.connect_attempts == 3);
  CHECK(cluster.dns_refresh == 30s);
  CHECK(cluster.idle_timeout == 1h);
  CHECK(cluster.fin_timeout == 1min);
  CHECK(cluster.max_duration == 0s);
  CHECK(cluster.origin.line == 6);

  CHECK(config.find_cluster("app") == &config.clusters[0]);
  CHECK(config.find_cluster("nope") == nullptr);
  CHECK(config.find_listener("app") == &config.listeners[0]);
}

TEST_CASE("every key can be set", "[conf][parse]") {
  const Config config = loaded(R"(
[runtime]
procs = 4
drain_timeout = "1m30s"
log_level = "debug"

[[listener]]
name = "web.v6"
address = "[::1]:0"
cluster = "pool_1"
max_connections = 1000000
reuse_port = true
backlog = 1

[[cluster]]
name = "pool_1"
endpoints = ["10.0.0.1:80", "[2001:db8::1]:443", "backend-a.internal:8080"]
balance = "power_of_two"
connect_timeout = "1h"
connect_attempts = 100
dns_refresh = "0s"
idle_timeout = "0"
fin_timeout = "1.5s"
max_duration = "36h"
)");
  CHECK(config.runtime.procs == 4);
  CHECK(config.runtime.drain_timeout == 90s);
  CHECK(config.runtime.log_level == LogLevel::debug);
  const Listener& listener = config.listeners.at(0);
  CHECK(listener.name == "web.v6");
  CHECK(listener.address.family == AddressFamily::ipv6);
  CHECK(listener.address.port == 0);
  CHECK(listener.max_connections == 1000000);
  CHECK(listener.reuse_port);
  CHECK(listener.backlog == 1);
  const Cluster& cluster = config.clusters.at(0);
  REQUIRE(cluster.endpoints.size() == 3);
  CHECK(cluster.endpoints[0].kind == Endpoint::Kind::ipv4);
  CHECK(cluster.endpoints[1].kind == Endpoint::Kind::ipv6);
  CHECK(cluster.endpoints[2].kind == Endpoint::Kind::dns_name);
  CHECK(cluster.balance == Balance::power_of_two);
  CHECK(cluster.connect_timeout == 1h);
  CHECK(cluster.connect_attempts == 100);
  CHECK(cluster.dns_refresh == 0s);
  CHECK(cluster.idle_timeout == 0s);
  CHECK(cluster.fin_timeout == 1500ms);
  CHECK(cluster.max_duration == 36h);
}

TEST_CASE("arrays of inline tables are listeners and clusters too", "[conf][parse]") {
  const Config config = loaded(R"(
listener = [{ name = "a", address = "127.0.0.1:1", cluster = "c" },
            { name = "b", address = "127.0.0.1:2", cluster = "c" }]
cluster = [{ name = "c", endpoints = ["x:1"] }]
)");
  CHECK(config.listeners.size() == 2);
  CHECK(config.listeners[1].name == "b");
  CHECK(config.clusters[0].name == "c");
}

TEST_CASE("a cluster no listener uses is a warning, and the config loads", "[conf][parse]") {
  const LoadResult result = load_string(
      minimal + "\n[[cluster]]\nname = \"spare\"\nendpoints = [\"a:1\"]\n", "test.toml");
  REQUIRE(result.ok());
  REQUIRE(result.diagnostics.size() == 1);
  const Diagnostic& d = result.diagnostics[0];
  CHECK(d.severity == Severity::warning);
  CHECK(d.key_path == "cluster[1]");
  CHECK(d.line == 10);
  CHECK(d.column == 1);
  CHECK(format(d) ==
        "test.toml:10:1: warning: cluster[1]: cluster \"spare\" is not used by any [[listener]]\n"
        "   10 | [[cluster]]\n"
        "      | ^\n");
}

TEST_CASE("configs compare equal whatever lines their tables start on", "[conf][parse]") {
  const Config a = loaded(minimal);
  const Config b = loaded("\n\n# moved down\n" + minimal);
  CHECK(a.listeners[0].origin.line != b.listeners[0].origin.line);
  CHECK(a == b);
  Config c = b;
  c.clusters[0].connect_attempts = 4;
  CHECK_FALSE(a == c);
}

TEST_CASE("the caret lines up after tabs and multi-byte characters", "[conf][parse]") {
  const LoadResult result =
      load_string("# é\n[runtime]\n\tprocs = \"x\" # ünïcode\n" + minimal, "test.toml");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(format(result.diagnostics[0]) ==
        "test.toml:3:10: error: runtime.procs: expected an integer 0..1024, found \"x\"\n"
        "    3 | \tprocs = \"x\" # ünïcode\n"
        "      | \t        ^\n");
}

TEST_CASE("control characters in keys never reach the terminal", "[conf][parse]") {
  const LoadResult result = load_string(minimal + "\"\\u001b[31m\" = 1\n", "test.toml");
  REQUIRE(result.diagnostics.size() == 1);
  const std::string text = format(result.diagnostics);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK_THAT(text, Catch::Contains("cluster[0].\"\\u001B[31m\""));
}

TEST_CASE("hostile inputs give diagnostics, never a crash or a hang", "[conf][parse]") {
  // Deep nesting, huge numbers, bytes that are not UTF-8, and a very long line.
  const std::vector<std::string> inputs = {
      std::string(100000, '['),
      "a = " + std::string(50000, '[') + std::string(50000, ']'),
      "a = " + std::string(20000, '{'),
      "[runtime]\nprocs = 99999999999999999999999\n",
      "[runtime]\nprocs = 1e999\n",
      std::string("\xff\xfe\x00\x01", 4),
      "\xef\xbb\xbf" + minimal,  // a UTF-8 byte order mark is fine
      std::string(1 << 20, 'x'),
      minimal + "[[cluster]]\nname = \"" + std::string(1 << 16, 'n') + "\"\nendpoints = []\n",
  };
  // Thousands of errors on one long line: each diagnostic must not copy the line, and only
  // the first max_diagnostics are kept.
  std::string one_line = "listener = [1";
  for (int i = 0; i < 30000; ++i) one_line += ",1";
  const LoadResult many = load_string(one_line + "]", "one-line.toml");
  REQUIRE(many.diagnostics.size() == max_diagnostics + 1);
  CHECK(many.diagnostics[0].source_line.empty());
  CHECK(many.diagnostics.back().message.starts_with(
      std::to_string(30001 - max_diagnostics) + " more problems (" +
      std::to_string(30001 - max_diagnostics) + " errors) not shown"));
  for (const std::string& input : inputs) {
    const LoadResult result = load_string(input, "hostile.toml");
    CHECK((result.ok() || !result.diagnostics.empty()));
    CHECK_NOTHROW(format(result.diagnostics));
  }
}

TEST_CASE("many listeners and clusters are checked in reasonable time", "[conf][parse]") {
  std::string toml;
  for (int i = 0; i < 20000; ++i) {
    toml += "[[listener]]\nname = \"l\"\naddress = \"127.0.0.1:1\"\ncluster = \"c" +
            std::to_string(i) + "\"\n";
    toml += "[[cluster]]\nname = \"d" + std::to_string(i) + "\"\nendpoints = [\"a:1\", \"a:1\"]\n";
  }
  const LoadResult result = load_string(toml, "big.toml");
  CHECK_FALSE(result.ok());
  // More than 20,000 problems, of which the first max_diagnostics are kept.
  REQUIRE(result.diagnostics.size() == max_diagnostics + 1);
  CHECK(result.diagnostics.front().line == 4);  // the first cluster "c0" that is not there
  CHECK_THAT(result.diagnostics.back().message, Catch::Contains("more problems"));
}

TEST_CASE("random mutations of a valid config never crash", "[conf][parse]") {
  const std::string base = minimal + R"(
[runtime]
procs = 2
drain_timeout = "1.5s"
log_level = "warn"
)";
  const std::string alphabet = "[]{}=\"',.:#\n\\ 0129azAZ_-sumh\x7f\xc3\xa9\x00";
  std::mt19937 random(12345);
  for (int i = 0; i < 3000; ++i) {
    std::string input = base;
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const std::size_t at = random() % input.size();
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0: input[at] = c; break;
        case 1: input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: input.erase(at, 1 + random() % 4); break;
      }
    }
    const LoadResult result = load_string(input, "mutated.toml");
    if (!result.ok()) REQUIRE_FALSE(result.diagnostics.empty());
    for (const Diagnostic& d : result.diagnostics) REQUIRE_FALSE(d.message.empty());
  }
}

TEST_CASE("[admin] and [access_log]: defaults, values and errors", "[conf][parse]") {
  auto base = std::string(R"(
[[listener]]
name = "a"
address = "127.0.0.1:1"
cluster = "c"
[[cluster]]
name = "c"
endpoints = ["127.0.0.1:2"]
)");
  auto r = load_string(base, "ops.toml");
  REQUIRE(r.ok());
  CHECK_FALSE(r.config->admin.address.has_value());
  CHECK(r.config->admin.max_connections == 16);
  CHECK(r.config->access_log.destination.kind == LogDestination::Kind::stderr_stream);

  r = load_string(
      "[admin]\naddress = \"127.0.0.1:9901\"\nmax_connections = 4\n"
      "[access_log]\ndestination = \"/var/log/parkway/access.log\"\n" +
          base,
      "ops.toml");
  REQUIRE(r.ok());
  REQUIRE(r.config->admin.address.has_value());
  CHECK(r.config->admin.address->to_string() == "127.0.0.1:9901");
  CHECK(r.config->admin.max_connections == 4);
  CHECK(r.config->access_log.destination.kind == LogDestination::Kind::file);
  CHECK(r.config->access_log.destination.path == "/var/log/parkway/access.log");

  r = load_string("[access_log]\ndestination = \"off\"\n" + base, "ops.toml");
  REQUIRE(r.ok());
  CHECK(r.config->access_log.destination.kind == LogDestination::Kind::off);

  r = load_string("[admin]\naddress = \"localhost:9901\"\n" + base, "ops.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.diagnostics[0].line == 2);
  CHECK(r.diagnostics[0].key_path == "admin.address");
  CHECK_THAT(r.diagnostics[0].message,
             Catch::Contains("expected \"off\", a port alone (on 127.0.0.1) or an IP address"));

  r = load_string("[access_log]\ndestination = \"access.log\"\n" + base, "ops.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.diagnostics[0].key_path == "access_log.destination");
  CHECK_THAT(r.diagnostics[0].message, Catch::Contains("absolute file path"));
  CHECK_THAT(r.diagnostics[0].message, Catch::Contains("relative path"));
}

TEST_CASE("sub-tables: [cluster.health_check] and [cluster.outlier], read, checked and printed",
          "[conf][parse]") {
  const Config config = loaded(minimal + R"(
[cluster.health_check]
interval = "500ms"
timeout = "200ms"
send = "PING\r\n"
expect = "+PONG"
[cluster.outlier]
consecutive_failures = 2
)");
  REQUIRE(config.clusters[0].health_check.has_value());
  const HealthCheck& hc = *config.clusters[0].health_check;
  CHECK(hc.interval == 500ms);
  CHECK(hc.timeout == 200ms);
  CHECK(hc.rise == 2);  // the table's default
  CHECK(hc.send_bytes() == "PING\r\n");
  CHECK(hc.expect_bytes() == "+PONG");
  CHECK(config.clusters[0].outlier.consecutive_failures == 2);
  CHECK(config.clusters[0].outlier.enabled);
  CHECK(config.clusters[0].outlier.base_ejection == 30s);
  // Without the tables: no active checks, passive ejection at its defaults.
  const Config plain = loaded(minimal);
  CHECK_FALSE(plain.clusters[0].health_check.has_value());
  CHECK(plain.clusters[0].outlier == defaults<Outlier>());
  // Hex payloads decode to bytes.
  const Config hex = loaded(minimal + "[cluster.health_check]\nsend_hex = \"00 ff 0A\"\n");
  CHECK(hex.clusters[0].health_check->send_bytes() == std::string("\x00\xff\x0a", 3));
}

TEST_CASE("sub-tables report their errors with the table's path", "[conf][parse]") {
  auto errors_of = [](const std::string& toml) {
    const LoadResult r = load_string(toml, "t.toml");
    CHECK_FALSE(r.ok());
    return format(r.diagnostics);
  };
  CHECK_THAT(errors_of(minimal + "[cluster.health_check]\nintervall = \"1s\"\n"),
             Catch::Contains("cluster[0].health_check.intervall: unknown key 'intervall' in "
                             "[cluster.health_check]; did you mean 'interval'?"));
  CHECK_THAT(
      errors_of(minimal + "[cluster.health_check]\nsend = \"a\"\nsend_hex = \"61\"\n"),
      Catch::Contains("cluster[0].health_check.send_hex: expected send or send_hex, found both"));
  CHECK_THAT(errors_of(minimal + "[cluster.health_check]\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
             Catch::Contains("expected a timeout no longer than the interval (1s), found 2s"));
  CHECK_THAT(errors_of(minimal + "[cluster.health_check]\nsend_hex = \"5\"\n"),
             Catch::Contains("expected hex digits"));
  CHECK_THAT(errors_of(minimal + "[cluster]\n"), Catch::Contains("error"));
  CHECK_THAT(errors_of(minimal + "[[cluster.outlier]]\n"),
             Catch::Contains("cluster[0].outlier: expected a table written [cluster.outlier]"));
  CHECK_THAT(
      errors_of(minimal + "[cluster.outlier]\nbase_ejection = \"1m\"\nmax_ejection = \"30s\"\n"),
      Catch::Contains("cluster[0].outlier.max_ejection: expected at least base_ejection (1m)"));
  CHECK_THAT(errors_of(minimal + "healthcheck = 1\n"),
             Catch::Contains("did you mean 'health_check'?"));
}

TEST_CASE("endpoints with weights and backups: the table form, and a plain list of backups",
          "[conf][parse]") {
  const Config config = loaded(R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"
[[cluster]]
name = "app"
endpoints = ["a:1", { address = "b:2", weight = 3 }, { address = "c:3", backup = true }]
)");
  const auto& e = config.clusters[0].endpoints;
  REQUIRE(e.size() == 3);
  CHECK(e[0].weight == 1);
  CHECK(e[1].weight == 3);
  CHECK(e[2].backup);
  const LoadResult only_backups = load_string(R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"
[[cluster]]
name = "app"
endpoints = [{ address = "c:3", backup = true }]
)",
                                              "t.toml");
  CHECK_FALSE(only_backups.ok());
  CHECK_THAT(format(only_backups.diagnostics),
             Catch::Contains("expected at least one endpoint that is not a backup"));
  const LoadResult heavy = load_string(R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"
[[cluster]]
name = "app"
endpoints = [{ address = "c:3", weight = 0 }]
)",
                                       "t.toml");
  CHECK_THAT(format(heavy.diagnostics),
             Catch::Contains("expected an integer 1..256, found the integer 0"));
  // -L's form: host:port/weight=N/backup.
  const auto list = parse_endpoint_list("a:1/weight=2,[::1]:2/backup,b:3/backup/weight=9");
  REQUIRE(list.ok());
  CHECK(list.value()[0].weight == 2);
  CHECK(list.value()[1].backup);
  CHECK(list.value()[2].weight == 9);
  CHECK(to_text(list.value()) == "a:1/weight=2,[::1]:2/backup,b:3/weight=9/backup");
  CHECK_FALSE(parse_endpoint_list("a:1/weight=2/weight=3").ok());
  CHECK_FALSE(parse_endpoint_list("a:1/heavy").ok());
}
