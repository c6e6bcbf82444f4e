// The command line of the real binary: -L forwards, --print-config round trips,
// --check-config diagnostics for bad files, usage errors, --help and --version.
#include <sstream>

#include "tests/e2e/e2e.h"

using namespace parkway;
using namespace parkway::e2e;

namespace {

// Lines that are not comments: what makes two printed configs "the same TOML".
std::string without_comments(const std::string& toml) {
  std::istringstream in(toml);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) out += line + "\n";
  }
  return out;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::string line_of(const std::string& text, uint32_t line) {
  std::istringstream in(text);
  std::string l;
  for (uint32_t i = 0; i < line && std::getline(in, l); i++) {
  }
  return l;
}

// A valid listener and cluster, to which each bad file adds one mistake.
const std::string kListener = R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"
)";
const std::string kCluster = R"([[cluster]]
name = "app"
endpoints = ["127.0.0.1:8080"]
)";

struct BadFile {
  std::string what;
  std::string toml;
  uint32_t line, column;
  std::string key;  // the key path the error is filed under; empty for syntax errors
  std::vector<std::string> words;
};

}  // namespace

TEST_CASE("check-config: each bad file fails with file:line:col, the key, and why", "[e2e][cli]") {
  const std::string L = kListener, C = kCluster;
  const std::vector<BadFile> bad = {
      {"unknown key, with a suggestion",
       L + C + "conect_timeout = \"5s\"\n",
       8,
       1,
       "cluster[0].conect_timeout",
       {"unknown key 'conect_timeout'", "did you mean 'connect_timeout'?"}},
      {"a key in the wrong table",
       L + "connect_timeout = \"1s\"\n" + C,
       5,
       1,
       "listener[0].connect_timeout",
       {"it is a key of [[cluster]]"}},
      {"a misspelt table",
       L + C + "[[clusters]]\nname = \"b\"\n",
       8,
       3,
       "clusters",
       {"unknown top-level key 'clusters'", "did you mean 'cluster'?"}},
      {"a string for an integer",
       L + "backlog = \"4096\"\n" + C,
       5,
       11,
       "listener[0].backlog",
       {"expected an integer 1..65535", "found \"4096\""}},
      {"a string for a boolean",
       L + "reuse_port = \"yes\"\n" + C,
       5,
       14,
       "listener[0].reuse_port",
       {"expected true or false", "found \"yes\""}},
      {"a bare number for a duration",
       L + C + "connect_timeout = 5\n",
       8,
       19,
       "cluster[0].connect_timeout",
       {"expected a duration string such as \"5s\"", "found the integer 5"}},
      {"a malformed duration",
       L + C + "idle_timeout = \"5 seconds\"\n",
       8,
       16,
       "cluster[0].idle_timeout",
       {"expected a duration such as \"250ms\", \"5s\" or \"1h\"", "found \"5 seconds\""}},
      {"a duration out of bounds",
       L + C + "connect_timeout = \"2h\"\n",
       8,
       19,
       "cluster[0].connect_timeout",
       {"expected a duration > 0 and <= 1h", "found \"2h\""}},
      {"a DNS refresh too short",
       L + C + "dns_refresh = \"50ms\"\n",
       8,
       15,
       "cluster[0].dns_refresh",
       {"0s or >= 100ms", "found \"50ms\""}},
      {"an integer out of range",
       L + C + "connect_attempts = 0\n",
       8,
       20,
       "cluster[0].connect_attempts",
       {"expected an integer 1..100", "found the integer 0"}},
      {"a negative procs",
       "[runtime]\nprocs = -1\n" + L + C,
       2,
       9,
       "runtime.procs",
       {"expected an integer 0..1024", "found the integer -1"}},
      {"a misspelt log level",
       "[runtime]\nlog_level = \"warning\"\n" + L + C,
       2,
       13,
       "runtime.log_level",
       {"found \"warning\"", "did you mean \"warn\"?"}},
      {"a DNS name to listen on",
       "[[listener]]\nname = \"app\"\naddress = \"localhost:80\"\ncluster = \"app\"\n" + C,
       3,
       11,
       "listener[0].address",
       {"not a DNS name", "found \"localhost:80\""}},
      {"a listen port past 65535",
       "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:65536\"\ncluster = \"app\"\n" + C,
       3,
       11,
       "listener[0].address",
       {"expected a port 0..65535", "found \"127.0.0.1:65536\""}},
      {"an endpoint with port 0",
       L + "[[cluster]]\nname = \"app\"\nendpoints = [\"a:1\", \"a:0\"]\n",
       7,
       21,
       "cluster[0].endpoints[1]",
       {"expected a port 1..65535", "found \"a:0\""}},
      {"an empty endpoint list",
       L + "[[cluster]]\nname = \"app\"\nendpoints = []\n",
       7,
       13,
       "cluster[0].endpoints",
       {"expected at least one \"host:port\"", "found an empty list"}},
      {"a missing required key",
       L + "[[cluster]]\nname = \"app\"\n",
       5,
       1,
       "cluster[0].endpoints",
       {"missing required key 'endpoints'"}},
      {"two listeners with one name",
       L + "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:10081\"\ncluster = \"app\"\n" + C,
       6,
       8,
       "listener[1].name",
       {"expected a unique name", "found \"app\" again"}},
      {"two listeners on one address",
       L + "[[listener]]\nname = \"b\"\naddress = \"127.0.0.1:10080\"\ncluster = \"app\"\n" + C,
       7,
       11,
       "listener[1].address",
       {"expected a unique listen address", "127.0.0.1:10080"}},
      {"a listener naming a missing cluster",
       "[[listener]]\nname = \"app\"\naddress = \"127.0.0.1:1\"\ncluster = \"ap\"\n" + C,
       4,
       11,
       "listener[0].cluster",
       {"expected the name of a [[cluster]]", "did you mean \"app\"?"}},
      {"a misspelt balance",
       L + C + "balance = \"least_connection\"\n",
       8,
       11,
       "cluster[0].balance",
       {"found \"least_connection\"; did you mean \"least_connections\"?"}},
      {"[listener] written as a plain table",
       "[listener]\nname = \"app\"\naddress = \"127.0.0.1:1\"\ncluster = \"app\"\n" + C,
       1,
       1,
       "listener",
       {"expected an array of tables written [[listener]]"}},
      {"a TOML syntax error: an unquoted duration",
       L + C + "connect_timeout = 5s\n",
       8,
       20,
       "",
       {"TOML syntax error"}},
  };
  TempDir dir;
  int n = 0;
  for (const BadFile& b : bad) {
    const std::string path = dir.write("bad-" + std::to_string(n++) + ".toml", b.toml);
    const Completed r = run_parkway({"--check-config", "-c", path});
    INFO(b.what << "\n--- file:\n" << b.toml << "--- stderr:\n" << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    const std::string head = path + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                             ": error: " + (b.key.empty() ? "" : b.key + ": ");
    CHECK_THAT(r.err, Catch::StartsWith(head));
    const std::string first_line = r.err.substr(0, r.err.find('\n'));
    for (const auto& w : b.words) CHECK_THAT(first_line, Catch::Contains(w));
    // The line echoed, and a caret under the column.
    char number[16];
    std::snprintf(number, sizeof number, "%5u | ", b.line);
    CHECK_THAT(r.err, Catch::Contains(std::string(number) + line_of(b.toml, b.line) + "\n      | " +
                                      std::string(b.column - 1, ' ') + "^\n"));
  }
  CHECK(n >= 15);
}

TEST_CASE("check-config: the reference config is valid and a missing file is not", "[e2e][cli]") {
  const std::string reference = PARKWAY_SOURCE_DIR "/packaging/parkway.toml";
  const Completed ok = run_parkway({"--check-config", "-c", reference});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == reference + ": valid: 1 listener(s), 1 cluster(s)\n");

  const Completed missing = run_parkway({"--check-config", "-c", "/nonexistent/parkway.toml"});
  CHECK(missing.exit_code == 1);
  CHECK(
      missing.err ==
      "/nonexistent/parkway.toml: error: cannot open the config file: No such file or directory\n");
}

TEST_CASE("forwards with flags: --print-config writes a file that checks and prints the same",
          "[e2e][cli]") {
  TempDir dir;
  const Completed printed =
      run_parkway({"-L", "0=127.0.0.1:9000,127.0.0.1:9001", "-L", "127.0.0.2:0=[::1]:9002",
                   "--connect-timeout", "2s", "--balance", "least_connections", "--idle-timeout",
                   "10m", "--max-connections", "50", "--drain-timeout", "5s", "--print-config"});
  INFO(printed.err);
  REQUIRE(printed.exit_code == 0);
  const std::string& toml = printed.out;
  CHECK_THAT(toml, Catch::Contains("name = \"fwd-0\""));
  CHECK_THAT(toml, Catch::Contains("name = \"fwd-0-2\""));
  CHECK_THAT(toml, Catch::Contains("address = \"127.0.0.2:0\""));
  CHECK_THAT(toml, Catch::Contains("endpoints = [\"127.0.0.1:9000\", \"127.0.0.1:9001\"]"));
  CHECK_THAT(toml, Catch::Contains("endpoints = [\"[::1]:9002\"]"));
  CHECK_THAT(toml, Catch::Contains("connect_timeout = \"2s\""));
  CHECK_THAT(toml, Catch::Contains("balance = \"least_connections\""));
  CHECK_THAT(toml, Catch::Contains("idle_timeout = \"10m\""));
  CHECK_THAT(toml, Catch::Contains("max_connections = 50"));
  CHECK_THAT(toml, Catch::Contains("drain_timeout = \"5s\""));

  const std::string path = dir.write("printed.toml", toml);
  const Completed checked = run_parkway({"--check-config", "-c", path});
  INFO(checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out == path + ": valid: 2 listener(s), 2 cluster(s)\n");
  CHECK(checked.err.empty());

  const Completed again = run_parkway({"--print-config", "-c", path});
  CHECK(again.exit_code == 0);
  CHECK(without_comments(again.out) == without_comments(toml));
  CHECK_THAT(again.out, Catch::StartsWith("# parkway configuration, from " + path));
}

TEST_CASE("a config file: --print-config writes a file that checks and prints the same",
          "[e2e][cli]") {
  TempDir dir;
  // Only what is required: every other key, in every table, takes its default.
  const std::string minimal = dir.write("minimal.toml", kListener + kCluster);
  const Completed printed = run_parkway({"--print-config", "-c", minimal});
  INFO(printed.err);
  REQUIRE(printed.exit_code == 0);

  const std::string path = dir.write("printed.toml", printed.out);
  const Completed checked = run_parkway({"--check-config", "-c", path});
  INFO("printed:\n" << printed.out << "\ncheck-config:\n" << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out == path + ": valid: 1 listener(s), 1 cluster(s)\n");

  const Completed again = run_parkway({"--print-config", "-c", path});
  CHECK(again.exit_code == 0);
  CHECK(without_comments(again.out) == without_comments(printed.out));
}

TEST_CASE(
    "forwards: traffic flows through an -L forward, SIGHUP has nothing to reload, SIGTERM exits 0",
    "[e2e][cli]") {
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    ProxyProcess proxy(
        {"-L", "0=" + backend.endpoint(), "--idle-timeout", "30s", "--log-level", "debug"});
    await_log(proxy, "ready: accepting connections");
    const uint16_t port = proxy.port_of("fwd-0");
    REQUIRE(port != 0);
    auto c = dial_and_echo(loopback(port), "forwarded");
    INFO(log_of(proxy));
    REQUIRE(c);
    c->close();
    proxy.signal(SIGHUP);
    await_log(proxy, "SIGHUP: running from -L forwards; nothing to reload");
    proxy.signal(SIGTERM);
    await_log(proxy, "drained: exiting");
    CHECK(proxy.wait_exit(10s) == 0);
  });
}

TEST_CASE("usage errors are one line on stderr and exit 2", "[e2e][cli]") {
  TempDir dir;
  const std::string file = dir.write("ok.toml", kListener + kCluster);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "--bogus"},
      {{"-L", "0=127.0.0.1:1", "--connect-timeout", "5x"}, "--connect-timeout \"5x\""},
      {{"-L", "0=127.0.0.1:1", "--balance", "random"}, "--balance \"random\""},
      {{"-L", "nonsense"}, "nonsense"},
      {{"-c", file, "--connect-timeout", "2s"}, "--connect-timeout"},
      {{"-c", file, "-L", "0=127.0.0.1:1"}, "-L"},
  };
  for (const auto& [args, mention] : cases) {
    const Completed r = run_parkway(args);
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : "") << "...\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("parkway: "));
    CHECK_THAT(r.err, Catch::Contains(mention));
  }
}

TEST_CASE("help shows examples and --version prints the version", "[e2e][cli]") {
  const Completed help = run_parkway({"--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("EXAMPLES"));
  CHECK_THAT(help.out, Catch::Contains("parkway -L 8080=10.0.0.5:80"));
  CHECK_THAT(help.out, Catch::Contains("--check-config"));
  CHECK(help.err.empty());

  const Completed version = run_parkway({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == "parkway " PARKWAY_VERSION "\n");
  CHECK(version.err.empty());
}
