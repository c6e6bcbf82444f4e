// Bad config files: each error names its line, column and key path, and says what was found
// and what was expected (conf/parse.h, conf/validate.h, conf/diagnostic.h).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "conf/parse.h"

using namespace parkway::conf;

namespace {

struct Expected {
  std::uint32_t line;
  std::uint32_t column;
  std::string key_path;
  std::vector<std::string> words;  // each must appear in the message
};

// Loads `toml`, requires that it fails, and returns the one error filed under `key_path`.
Diagnostic error_at(const std::string& toml, const std::string& key_path) {
  const LoadResult result = load_string(toml, "test.toml");
  INFO(format(result.diagnostics));
  REQUIRE_FALSE(result.ok());
  std::vector<Diagnostic> matches;
  for (const Diagnostic& d : result.diagnostics) {
    if (d.key_path == key_path && d.severity == Severity::error) matches.push_back(d);
  }
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].file == "test.toml");
  return matches[0];
}

void check_error(const std::string& toml, const Expected& expected) {
  const Diagnostic d = error_at(toml, expected.key_path);
  INFO(format(d));
  CHECK(d.line == expected.line);
  CHECK(d.column == expected.column);
  for (const std::string& word : expected.words) CHECK_THAT(d.message, Catch::Contains(word));
}

// A valid listener and cluster, to which each case adds one mistake.
const std::string listener = R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"
)";
const std::string cluster = R"([[cluster]]
name = "app"
endpoints = ["127.0.0.1:8080"]
)";

}  // namespace

TEST_CASE("the base of the bad configs is itself valid", "[conf][parse]") {
  const LoadResult result = load_string(listener + cluster, "test.toml");
  INFO(format(result.diagnostics));
  CHECK(result.ok());
  CHECK(result.diagnostics.empty());
}

TEST_CASE("an unknown key is an error with a suggestion", "[conf][parse][errors]") {
  check_error(listener + cluster + "conect_timeout = \"5s\"\n",
              {8,
               1,
               "cluster[0].conect_timeout",
               {"unknown key 'conect_timeout'", "[[cluster]]", "did you mean 'connect_timeout'?"}});
  check_error(listener + "Max-Connections = 5\n" + cluster,
              {5, 1, "listener[0].Max-Connections", {"did you mean 'max_connections'?"}});
}

TEST_CASE("an unknown key without a near miss lists the keys", "[conf][parse][errors]") {
  check_error(
      listener + "frobnicate = 1\n" + cluster,
      {5,
       1,
       "listener[0].frobnicate",
       {"unknown key 'frobnicate' in [[listener]]", "expected one of name, address, cluster"}});
}

TEST_CASE("a key in the wrong table says which table it belongs to", "[conf][parse][errors]") {
  check_error(listener + "connect_timeout = \"1s\"\n" + cluster,
              {5, 1, "listener[0].connect_timeout", {"it is a key of [[cluster]]"}});
  check_error("procs = 4\n" + listener + cluster,
              {1, 1, "procs", {"unknown top-level key 'procs'", "[runtime]"}});
}

TEST_CASE("a misspelt table name is an unknown top-level key", "[conf][parse][errors]") {
  check_error(listener + cluster + "[[clusters]]\nname = \"b\"\n",
              {8, 3, "clusters", {"unknown top-level key 'clusters'", "did you mean 'cluster'?"}});
}

TEST_CASE("a string where an integer belongs is a type error", "[conf][parse][errors]") {
  check_error(listener + "backlog = \"4096\"\n" + cluster,
              {5, 11, "listener[0].backlog", {"expected an integer 1..65535", "found \"4096\""}});
}

TEST_CASE("a string where a boolean belongs is a type error", "[conf][parse][errors]") {
  check_error(listener + "reuse_port = \"yes\"\n" + cluster,
              {5, 14, "listener[0].reuse_port", {"expected true or false", "found \"yes\""}});
}

TEST_CASE("a bare number for a duration asks for a duration string", "[conf][parse][errors]") {
  check_error(listener + cluster + "connect_timeout = 5\n",
              {8,
               19,
               "cluster[0].connect_timeout",
               {"expected a duration string such as \"5s\"", "found the integer 5"}});
  check_error(
      "[runtime]\ndrain_timeout = 1.5\n" + listener + cluster,
      {2, 17, "runtime.drain_timeout", {"expected a duration string", "found the float 1.5"}});
}

TEST_CASE("a malformed duration is reported as in the manual", "[conf][parse][errors]") {
  const std::string toml = listener + cluster + "connect_timeout = \"5 seconds\"\n";
  check_error(toml, {8,
                     19,
                     "cluster[0].connect_timeout",
                     {R"(expected a duration such as "250ms", "5s" or "1h", found "5 seconds")"}});
  CHECK(format(error_at(toml, "cluster[0].connect_timeout")) ==
        "test.toml:8:19: error: cluster[0].connect_timeout: expected a duration such as \"250ms\", "
        "\"5s\" or "
        "\"1h\", found \"5 seconds\"\n"
        "    8 | connect_timeout = \"5 seconds\"\n"
        "      |                   ^\n");
}

TEST_CASE("durations out of bounds name the bounds", "[conf][parse][errors]") {
  check_error(
      listener + cluster + "connect_timeout = \"2h\"\n",
      {8, 19, "cluster[0].connect_timeout", {"expected a duration > 0 and <= 1h", "found \"2h\""}});
  check_error("[runtime]\ndrain_timeout = \"0s\"\n" + listener + cluster,
              {2, 17, "runtime.drain_timeout", {"expected a duration > 0", "found \"0s\""}});
  check_error(listener + cluster + "dns_refresh = \"50ms\"\n",
              {8, 15, "cluster[0].dns_refresh", {"0s or >= 100ms", "found \"50ms\""}});
  check_error(listener + cluster + "idle_timeout = \"-1s\"\n",
              {8, 16, "cluster[0].idle_timeout", {"cannot be negative"}});
}

TEST_CASE("integers out of range name the range", "[conf][parse][errors]") {
  check_error(listener + cluster + "connect_attempts = 0\n",
              {8,
               20,
               "cluster[0].connect_attempts",
               {"expected an integer 1..100", "found the integer 0"}});
  check_error(listener + "max_connections = 99999999999999\n" + cluster,
              {5, 19, "listener[0].max_connections", {"1..1000000", "99999999999999"}});
  check_error("[runtime]\nprocs = -1\n" + listener + cluster,
              {2, 9, "runtime.procs", {"expected an integer 0..1024", "found the integer -1"}});
}

TEST_CASE("a DNS name as a listen address is refused", "[conf][parse][errors]") {
  check_error(
      "[[listener]]\nname = \"app\"\naddress = \"localhost:80\"\ncluster = \"app\"\n" + cluster,
      {3, 11, "listener[0].address", {"not a DNS name", "found \"localhost:80\""}});
}

TEST_CASE("a listen port past 65535 is refused", "[conf][parse][errors]") {
  check_error(
      "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:65536\"\ncluster = \"app\"\n" + cluster,
      {3, 11, "listener[0].address", {"expected a port 0..65535", "found \"127.0.0.1:65536\""}});
}

TEST_CASE("bad endpoints are reported one by one", "[conf][parse][errors]") {
  const std::string toml =
      listener +
      "[[cluster]]\nname = \"app\"\nendpoints = [\"a:1\", \"a:0\", \"bad_host:80\", 7]\n";
  check_error(toml,
              {7, 21, "cluster[0].endpoints[1]", {"expected a port 1..65535", "found \"a:0\""}});
  check_error(toml, {7, 28, "cluster[0].endpoints[2]", {"neither an IP address nor a DNS name"}});
  check_error(toml, {7,
                     43,
                     "cluster[0].endpoints[3]",
                     {"expected a \"host:port\" string", "found the integer 7"}});
}

TEST_CASE("endpoints written as one string suggest an array", "[conf][parse][errors]") {
  check_error(
      listener + "[[cluster]]\nname = \"app\"\nendpoints = \"a:1\"\n",
      {7, 13, "cluster[0].endpoints", {"expected an array", "write it as an array: [\"a:1\"]"}});
}

TEST_CASE("two listeners with one name are an error at the second", "[conf][parse][errors]") {
  check_error(
      listener +
          "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:10081\"\ncluster = \"app\"\n" +
          cluster,
      {6, 8, "listener[1].name", {"expected a unique name", "found \"app\" again", "listener[0]"}});
}

TEST_CASE("two clusters with one name are an error at the second", "[conf][parse][errors]") {
  check_error(listener + cluster + cluster,
              {9, 8, "cluster[1].name", {"expected a unique name", "\"app\"", "cluster[0]"}});
}

TEST_CASE("two listeners on one address are an error", "[conf][parse][errors]") {
  check_error(listener +
                  "[[listener]]\nname = \"b\"\naddress = \"127.0.0.1:10080\"\ncluster = \"app\"\n" +
                  cluster,
              {7,
               11,
               "listener[1].address",
               {"expected a unique listen address", "127.0.0.1:10080", "listener \"app\""}});
  // A wildcard address overlaps every address of its family on that port.
  check_error(listener +
                  "[[listener]]\nname = \"b\"\naddress = \"0.0.0.0:10080\"\ncluster = \"app\"\n" +
                  cluster,
              {7, 11, "listener[1].address", {"overlaps 127.0.0.1:10080"}});
  // Port 0 is a fresh port for each: not a clash.
  const std::string zero_ports =
      "[[listener]]\nname = \"a\"\naddress = \"127.0.0.1:0\"\ncluster = \"app\"\n"
      "[[listener]]\nname = \"b\"\naddress = \"127.0.0.1:0\"\ncluster = \"app\"\n" +
      cluster;
  CHECK(load_string(zero_ports, "test.toml").ok());
}

TEST_CASE("a listener naming a missing cluster gets a suggestion", "[conf][parse][errors]") {
  check_error(
      "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:1\"\ncluster = \"ap\"\n" + cluster,
      {4,
       11,
       "listener[0].cluster",
       {"expected the name of a [[cluster]]", "found \"ap\"", "did you mean \"app\"?"}});
  check_error(
      "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:1\"\ncluster = \"zzz\"\n" + cluster,
      {4, 11, "listener[0].cluster", {"expected one of \"app\""}});
}

TEST_CASE("an empty endpoint list is an error", "[conf][parse][errors]") {
  check_error(listener + "[[cluster]]\nname = \"app\"\nendpoints = []\n",
              {7,
               13,
               "cluster[0].endpoints",
               {"expected at least one \"host:port\"", "found an empty list"}});
}

TEST_CASE("a repeated endpoint is an error at the repeat", "[conf][parse][errors]") {
  check_error(
      listener + "[[cluster]]\nname = \"app\"\nendpoints = [\"Redis:1\", \"b:1\", \"redis:1\"]\n",
      {7, 32, "cluster[0].endpoints[2]", {"expected each endpoint once", "again (endpoints[0])"}});
}

TEST_CASE("a listener written as a plain table is explained", "[conf][parse][errors]") {
  check_error(
      "[listener]\nname = \"app\"\naddress = \"127.0.0.1:1\"\ncluster = \"app\"\n" + cluster,
      {1,
       1,
       "listener",
       {"expected an array of tables written [[listener]]", "written [listener]"}});
  check_error("[[runtime]]\n" + listener + cluster,
              {1, 1, "runtime", {"expected a table written [runtime]", "[[runtime]]"}});
  check_error("listener = [1]\n" + cluster,
              {1, 13, "listener[0]", {"expected a table", "found the integer 1"}});
}

TEST_CASE("a missing required key points at the table header", "[conf][parse][errors]") {
  check_error(listener + "[[cluster]]\nname = \"app\"\n",
              {5,
               1,
               "cluster[0].endpoints",
               {"missing required key 'endpoints'", "endpoints = [\"127.0.0.1:8080\"]"}});
  check_error("[[listener]]\nname = \"app\"\ncluster = \"app\"\n" + cluster,
              {1, 1, "listener[0].address", {"missing required key 'address'"}});
  check_error(cluster + "\n  [[listener]]\naddress = \"127.0.0.1:1\"\n",
              {5, 3, "listener[0].name", {"missing required key 'name'"}});
}

TEST_CASE("names outside the allowed characters are refused", "[conf][parse][errors]") {
  check_error(
      "[[listener]]\nname = \"my app\"\naddress = \"127.0.0.1:1\"\ncluster = \"app\"\n" + cluster,
      {2, 8, "listener[0].name", {"expected a name of 1..64 characters", "found \"my app\""}});
  check_error(listener + "[[cluster]]\nname = \"a:b\"\nendpoints = [\"a:1\"]\n",
              {6, 8, "cluster[0].name", {"expected a name", "found \"a:b\""}});
  check_error(
      listener + "[[cluster]]\nname = \"" + std::string(65, 'x') + "\"\nendpoints = [\"a:1\"]\n",
      {6, 8, "cluster[0].name", {"expected a name of 1..64"}});
}

TEST_CASE("a misspelt enum value gets a suggestion", "[conf][parse][errors]") {
  check_error(listener + cluster + "balance = \"least_connection\"\n",
              {8,
               11,
               "cluster[0].balance",
               {"expected one of \"round_robin\", \"least_connections\" or \"power_of_two\"",
                "found \"least_connection\"; did you mean \"least_connections\"?"}});
  check_error("[runtime]\nlog_level = \"warning\"\n" + listener + cluster,
              {2, 13, "runtime.log_level", {"found \"warning\"", "did you mean \"warn\"?"}});
}

TEST_CASE("a config without listeners is an error about the file", "[conf][parse][errors]") {
  const Diagnostic d = error_at("[runtime]\nprocs = 1\n", "listener");
  CHECK(d.line == 0);
  CHECK_THAT(d.message, Catch::Contains("expected at least one [[listener]]"));
  CHECK(format(d) == "test.toml: error: listener: " + d.message + "\n");
}

TEST_CASE("a syntax error stops parsing and has the position toml++ gives",
          "[conf][parse][errors]") {
  const LoadResult unterminated =
      load_string("[runtime]\nlog_level = \"info\nprocs = 1\n", "test.toml");
  REQUIRE(unterminated.diagnostics.size() == 1);
  CHECK(unterminated.diagnostics[0].line == 2);
  CHECK(unterminated.diagnostics[0].column == 18);
  CHECK(unterminated.diagnostics[0].key_path.empty());
  CHECK_THAT(unterminated.diagnostics[0].message, Catch::StartsWith("TOML syntax error in string"));

  // The most common one: a duration without quotes.
  const LoadResult unquoted =
      load_string(listener + cluster + "connect_timeout = 5s\n", "test.toml");
  REQUIRE(unquoted.diagnostics.size() == 1);
  CHECK(unquoted.diagnostics[0].line == 8);
  CHECK(unquoted.diagnostics[0].column == 20);
  CHECK_THAT(format(unquoted.diagnostics), Catch::Contains("    8 | connect_timeout = 5s\n"));

  const LoadResult twice = load_string("[runtime]\nprocs = 1\nprocs = 2\n", "test.toml");
  REQUIRE(twice.diagnostics.size() == 1);
  CHECK(twice.diagnostics[0].line == 3);
}

TEST_CASE("every error of a file is reported, in file order", "[conf][parse][errors]") {
  const std::string toml = R"([runtime]
procs = 2000
log_level = "loud"

[[listener]]
name = "app"
address = "localhost:80"
cluster = "ap"
max_conections = 5

[[cluster]]
name = "app"
endpoints = ["a:1", "a:1"]
connect_timeout = "5 seconds"
)";
  const LoadResult result = load_string(toml, "test.toml");
  INFO(format(result.diagnostics));
  REQUIRE_FALSE(result.ok());
  std::vector<std::string> paths;
  std::vector<std::uint32_t> lines;
  for (const Diagnostic& d : result.diagnostics) {
    paths.push_back(d.key_path);
    lines.push_back(d.line);
  }
  CHECK(paths == std::vector<std::string>{"runtime.procs", "runtime.log_level",
                                          "listener[0].address", "listener[0].cluster",
                                          "listener[0].max_conections", "cluster[0].endpoints[1]",
                                          "cluster[0].connect_timeout"});
  CHECK(lines == std::vector<std::uint32_t>{2, 3, 7, 8, 9, 13, 14});
}

TEST_CASE("a key reported wrong is not reported again by a later check", "[conf][parse][errors]") {
  // The missing name must not also be a duplicate, nor the bad cluster name a missing one.
  const std::string toml =
      "[[listener]]\naddress = \"127.0.0.1:1\"\ncluster = \"bad name\"\n"
      "[[listener]]\naddress = \"127.0.0.1:2\"\ncluster = \"app\"\n" +
      cluster;
  const LoadResult result = load_string(toml, "test.toml");
  INFO(format(result.diagnostics));
  REQUIRE(result.diagnostics.size() == 3);
  CHECK(result.diagnostics[0].key_path == "listener[0].name");
  CHECK(result.diagnostics[1].key_path == "listener[0].cluster");
  CHECK(result.diagnostics[2].key_path == "listener[1].name");
}

TEST_CASE("a file that cannot be read is one error with the errno text", "[conf][parse][errors]") {
  const LoadResult missing = load_file("/nonexistent/parkway.toml");
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(
      format(missing.diagnostics[0]) ==
      "/nonexistent/parkway.toml: error: cannot open the config file: No such file or directory\n");
  const LoadResult directory = load_file("/");
  REQUIRE(directory.diagnostics.size() == 1);
  CHECK_THAT(directory.diagnostics[0].message, Catch::Contains("Is a directory"));
}
