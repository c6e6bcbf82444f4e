// Config -> TOML -> Config (conf/emit.h).
#include "conf/emit.h"

#include <catch2/catch.hpp>
#include <string>

#include "conf/cli.h"
#include "conf/keys.h"
#include "conf/parse.h"

using namespace std::chrono_literals;
using namespace parkway::conf;

namespace {

// Prints `config`, reads it back, and requires the two to be equal.
void check_round_trip(const Config& config) {
  const std::string toml = to_toml(config);
  INFO(toml);
  LoadResult result = load_string(toml, config.source);
  INFO(format(result.diagnostics));
  REQUIRE(result.ok());
  CHECK(result.diagnostics.empty());
  CHECK(*result.config == config);
  // And printing is stable: the second print is the first.
  CHECK(to_toml(*result.config) == toml);
}

}  // namespace

TEST_CASE("a full config survives TOML and back", "[conf][emit]") {
  const LoadResult original = load_string(R"(
[runtime]
procs = 8
drain_timeout = "2m0.5s"
log_level = "error"

[[listener]]
name = "web"
address = "0.0.0.0:443"
cluster = "web"
max_connections = 123
reuse_port = true
backlog = 77

[[listener]]
name = "admin-v6"
address = "[::1]:0"
cluster = "db"

[[cluster]]
name = "web"
endpoints = ["10.0.0.1:8443", "[2001:DB8::7]:8443", "web-b.internal:8443"]
balance = "least_connections"
connect_timeout = "250ms"
connect_attempts = 7
dns_refresh = "0s"
idle_timeout = "1h30m"
fin_timeout = "1.000000001s"
max_duration = "36h"

[[cluster]]
name = "db"
endpoints = ["db:5432"]
balance = "power_of_two"
)",
                                          "full.toml");
  INFO(format(original.diagnostics));
  REQUIRE(original.ok());
  check_round_trip(*original.config);

  const std::string toml = to_toml(*original.config);
  CHECK_THAT(toml, Catch::Contains("drain_timeout = \"2m500ms\"\n"));
  CHECK_THAT(
      toml,
      Catch::Contains(
          "endpoints = [\"10.0.0.1:8443\", \"[2001:db8::7]:8443\", \"web-b.internal:8443\"]\n"));
  CHECK_THAT(toml, Catch::Contains("fin_timeout = \"1.000000001s\"\n"));
}

TEST_CASE("printed TOML has every key of the table, defaults included", "[conf][emit]") {
  const LoadResult result = load_string(
      "[[listener]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\ncluster = \"a\"\n"
      "[[cluster]]\nname = \"a\"\nendpoints = [\"x:1\"]\n",
      "small.toml");
  REQUIRE(result.ok());
  const std::string toml = to_toml(*result.config);
  for (const KeyDoc& doc : key_docs()) {
    INFO(doc.section << "." << doc.name);
    // A table that is off unless present ([cluster.health_check]) is printed when present.
    if (doc.optional_table) {
      CHECK_THAT(toml, !Catch::Contains("[" + std::string(doc.section) + "]"));
      continue;
    }
    CHECK_THAT(toml, Catch::Contains("\n" + std::string(doc.name) + " = "));
  }
  CHECK_THAT(toml, Catch::StartsWith("# parkway configuration, from small.toml.\n"));

  const LoadResult checked = load_string(
      "[[listener]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\ncluster = \"a\"\n"
      "[[cluster]]\nname = \"a\"\nendpoints = [\"x:1\"]\n[cluster.health_check]\n",
      "checked.toml");
  INFO(format(checked.diagnostics));
  REQUIRE(checked.ok());
  const std::string with_check = to_toml(*checked.config);
  for (const KeyDoc& doc : key_docs()) {
    INFO(doc.section << "." << doc.name);
    CHECK_THAT(with_check, Catch::Contains("\n" + std::string(doc.name) + " = "));
  }
  CHECK_THAT(with_check, Catch::Contains("\n[cluster.health_check]\ninterval = \"2s\"\n"));
  CHECK_THAT(with_check, Catch::Contains("\n[cluster.outlier]\nenabled = true\n"));
}

TEST_CASE("forwards from the command line survive TOML and back", "[conf][emit]") {
  const char* argv[] = {"parkway",
                        "-L",
                        "8080=10.0.0.5:80",
                        "-L",
                        "127.0.0.2:8080=redis-a:6379,redis-b:6379",
                        "-L",
                        "[::1]:9000=[::1]:9001",
                        "--balance",
                        "least_connections",
                        "--connect-timeout",
                        "1.5s",
                        "--reuse-port",
                        "--procs",
                        "3"};
  const CommandLine command_line = parse_command_line(static_cast<int>(std::size(argv)), argv);
  REQUIRE(command_line.action == Action::run);
  const LoadResult result = load(command_line);
  REQUIRE(result.ok());
  check_round_trip(*result.config);
}

TEST_CASE("a source path cannot break out of the comment it is printed in", "[conf][emit]") {
  Config config;
  config.source = "evil\n[runtime]\nprocs = 1000";
  const std::string toml = to_toml(config);
  CHECK(toml.find("\n[runtime]\nprocs = 1000") == std::string::npos);
}
