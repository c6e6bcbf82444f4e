// The command line of the real binary: -L forwards and their defaults, --print-config
// round trips, --check-config diagnostics for bad files, usage errors, --help and
// --version, the hints for a first start, and the open-files limit.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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

// A port free on both 127.0.0.1 and ::1 right now (0 when ::1 cannot be bound here), for
// the one test that needs a port alone: port 0 binds 127.0.0.1 only.
uint16_t port_free_on_both_loopbacks() {
  for (int attempt = 0; attempt < 50; attempt++) {
    const int v4 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a4{};
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a4;
    if (::bind(v4, reinterpret_cast<sockaddr*>(&a4), sizeof a4) != 0 ||
        ::getsockname(v4, reinterpret_cast<sockaddr*>(&a4), &len) != 0) {
      ::close(v4);
      continue;
    }
    const int v6 = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = a4.sin_port;
    const bool both = ::bind(v6, reinterpret_cast<sockaddr*>(&a6), sizeof a6) == 0;
    const int v6_error = errno;
    ::close(v6);
    ::close(v4);
    if (both) return ntohs(a4.sin_port);
    if (v6_error == EADDRNOTAVAIL || v6_error == EAFNOSUPPORT) return 0;
  }
  return 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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
      {{"-L", "8080:10.0.0.5:80"}, "did you mean 8080=10.0.0.5:80?"},
      {{"-L", "0=127.0.0.1:1", "--admin"}, "--admin needs a value"},
      {{"--check-config=perhaps"}, "--check-config \"perhaps\": expected true or false"},
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

TEST_CASE("a port below 1024 refused for lack of privilege says which capability it needs",
          "[e2e][cli]") {
  std::ifstream start("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int unprivileged = 1024;
  start >> unprivileged;
  if (geteuid() != 0 || unprivileged <= 80 || access("/usr/bin/setpriv", X_OK) != 0) {
    WARN("skipped: needs root to drop to nobody (setpriv), and port 80 privileged");
    return;
  }
  // As nobody, without capabilities: bind(2) on port 80 is refused (EACCES).
  ProxyProcess p({"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                  PARKWAY_BINARY, "-L", "127.0.0.1:80=127.0.0.1:9"},
                 {}, "/usr/bin/setpriv");
  const auto code = p.wait_exit(10s);
  INFO(p.stderr_text());
  CHECK(code == 1);
  CHECK_THAT(p.stderr_text(),
             Catch::Contains("cannot listen on 127.0.0.1:80: Permission denied (ports below "
                             "1024 need CAP_NET_BIND_SERVICE"));
}

TEST_CASE("a port alone forwards from both 127.0.0.1 and ::1, through one cluster", "[e2e][cli]") {
  const uint16_t port = port_free_on_both_loopbacks();
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    if (port == 0) {
      // No ::1 here: parkway says so and forwards from 127.0.0.1.
      ProxyProcess proxy({"-L", "0=" + backend.endpoint()});
      await_log(proxy, "ready: accepting connections");
      const uint16_t v4 = proxy.port_of("fwd-0");
      CHECK(dial_and_echo(loopback(v4), "v4 only"));
      WARN("this host cannot bind ::1: only the IPv4 half of the test ran");
      return;
    }
    const std::string name = "fwd-" + std::to_string(port);
    ProxyProcess proxy({"-L", std::to_string(port) + "=" + backend.endpoint()});
    await_log(proxy, "ready: accepting connections");
    INFO(log_of(proxy));
    CHECK(proxy.address_of(name).to_string() == "127.0.0.1:" + std::to_string(port));
    CHECK(proxy.address_of(name + "-v6").to_string() == "[::1]:" + std::to_string(port));
    CHECK_FALSE(proxy
                    .find_all(regex_escape("listener \"" + name + "-v6\": listening on [::1]:" +
                                           std::to_string(port) + " -> cluster \"" + name + "\""))
                    .empty());
    const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(dial_and_echo(loopback(port), "over IPv4"));
    CHECK(dial_and_echo(net::SocketAddress::ipv6(v6_loopback, port), "over IPv6"));
    proxy.signal(SIGTERM);
    CHECK(proxy.wait_exit(10s) == 0);
  });
}

TEST_CASE("with -L the access log is off unless asked for, and says so", "[e2e][cli]") {
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    ProxyProcess proxy({"-L", "0=" + backend.endpoint(), "--log-level", "debug"});
    await_log(proxy, "ready: accepting connections");
    await_log(proxy, R"(access log: off \(--access-log stderr or --access-log FILE)");
    {
      auto c = dial_and_echo(loopback(proxy.port_of("fwd-0")), "one connection");
      REQUIRE(c);
      c->shutdown_write();
      read_to_end(*c, now() + 5s);
    }
    // The connection's end is logged (debug); no JSON line is, before it or after it.
    await_log(proxy, R"(: closed \(client_eof\))");
    proxy.signal(SIGTERM);
    CHECK(proxy.wait_exit(10s) == 0);
    INFO(log_of(proxy));
    CHECK(proxy.find_all(R"(^\{)").empty());
  });
}

TEST_CASE("a relative --access-log FILE is in the working directory; the log says where it is",
          "[e2e][cli]") {
  TempDir dir;
  // The directory as the kernel names it, which is what a relative path resolves against.
  const std::string absolute = std::filesystem::canonical(dir.path()).string() + "/access.log";
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    SpawnOptions options;
    options.cwd = dir.path();
    ProxyProcess proxy({"-L", "0=" + backend.endpoint(), "--access-log", "access.log"}, options);
    await_log(proxy, "ready: accepting connections");
    await_log(proxy, "access log: writing to " + regex_escape(absolute) + "$");
    {
      auto c = dial_and_echo(loopback(proxy.port_of("fwd-0")), "logged");
      REQUIRE(c);
      c->shutdown_write();
      read_to_end(*c, now() + 5s);
    }
    proxy.signal(SIGTERM);
    REQUIRE(proxy.wait_exit(10s) == 0);  // exiting writes what the access log has queued
    const std::string text = read_file(absolute);
    INFO(log_of(proxy) << "\naccess log:\n" << text);
    CHECK(count_lines(text) == 1);
    CHECK_THAT(text, Catch::StartsWith("{\"time\":") && Catch::Contains("\"listener\":\"fwd-0\""));
  });
}

TEST_CASE("a port alone for --admin serves on 127.0.0.1", "[e2e][cli]") {
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    ProxyProcess proxy({"-L", "0=" + backend.endpoint(), "--admin", "0"});
    const LogMatch m = await_log(proxy, R"(admin: listening on ([0-9.]+):([0-9]+) )");
    CHECK(m[1] == "127.0.0.1");
    CHECK(std::stoi(m[2]) > 0);
    proxy.signal(SIGTERM);
    CHECK(proxy.wait_exit(10s) == 0);
  });
}

TEST_CASE("no arguments and no installed config: say how to start", "[e2e][cli]") {
  SpawnOptions options;
  if (std::filesystem::exists("/etc/parkway/parkway.toml")) {
    if (geteuid() != 0) {
      WARN("skipped: /etc/parkway/parkway.toml exists, and hiding it needs root");
      return;
    }
    options.hide_etc_parkway = true;
  }
  const Completed r = run_parkway({}, options);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "/etc/parkway/parkway.toml: error: cannot open the config file: No such file or "
        "directory; give a config with -c FILE, or forward with -L PORT=HOST:PORT (parkway "
        "--help)\n");
}

TEST_CASE("the open-files limit: raised to the hard limit, and a warning when that is short",
          "[e2e][cli]") {
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    // A hard limit below what 10000 connections (the default max_connections) need.
    SpawnOptions short_limit;
    short_limit.rlimit_nofile = 512;
    short_limit.rlimit_nofile_soft = 256;
    ProxyProcess short_proxy({"-L", "0=" + backend.endpoint()}, short_limit);
    await_log(short_proxy, "ready: accepting connections");
    INFO(log_of(short_proxy));
    const std::string log = short_proxy.stderr_text();
    CHECK_THAT(log, Catch::Contains(" info  open files: raised the limit from 256 to 512 (the "
                                    "hard limit)\n"));
    // The descriptor budget (proxy/descriptor_budget.h) says how many connections 512
    // descriptors hold, and warns: far fewer than the 10000 max_connections allows.
    const auto shares = await_log(short_proxy, R"(descriptors: limit 512: ([0-9]+) connections)");
    const int held = std::stoi(shares[1]);
    CHECK(held > 150);
    CHECK(held < 256);
    CHECK_THAT(log, Catch::Contains(" warn  open files: limit 512 holds " + std::to_string(held) +
                                    " connections, max_connections allows 10000 (2 descriptors "
                                    "each, plus "));
    CHECK_THAT(log, Catch::Contains("): raise it (ulimit -Hn, LimitNOFILE=) or lower "
                                    "max_connections\n"));
    // "Max open files            512                  512                  files"
    std::istringstream limits(read_file("/proc/" + std::to_string(short_proxy.pid()) + "/limits"));
    std::string line, soft, hard;
    while (std::getline(limits, line)) {
      if (line.rfind("Max open files", 0) == 0) std::istringstream(line.substr(14)) >> soft >> hard;
    }
    CHECK(soft == "512");
    CHECK(hard == "512");
    short_proxy.signal(SIGTERM);
    CHECK(short_proxy.wait_exit(10s) == 0);

    // Enough once raised: no warning.
    SpawnOptions enough;
    enough.rlimit_nofile = 4096;
    enough.rlimit_nofile_soft = 256;
    ProxyProcess proxy({"-L", "0=" + backend.endpoint(), "--max-connections", "100"}, enough);
    await_log(proxy, "ready: accepting connections");
    INFO(log_of(proxy));
    CHECK_THAT(proxy.stderr_text(),
               Catch::Contains("open files: raised the limit from 256 to 4096 (the hard limit)"));
    CHECK_THAT(proxy.stderr_text(), !Catch::Contains("open files: limit"));
    proxy.signal(SIGTERM);
    CHECK(proxy.wait_exit(10s) == 0);
  });
}
