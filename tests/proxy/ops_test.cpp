// Operations plumbing without a proxy around it: the Prometheus writer against the text
// format's rules, the access log's JSON, sd_notify to a fake NOTIFY_SOCKET, and the
// socket activation environment.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <set>
#include <sstream>

#include "proxy/log/access_log.h"
#include "proxy/ops/prometheus.h"
#include "proxy/ops/systemd.h"

using namespace parkway::proxy;

// Checks text against the exposition format's rules: every sample belongs to the family
// announced by the HELP and TYPE lines before it, names and labels are well formed,
// values are numbers, counters end in _total, and no series repeats.
static std::vector<std::string> format_violations(const std::string& text) {
  std::vector<std::string> bad;
  const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|untyped))");
  const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf))");
  std::string family, family_type;
  std::set<std::string> families, series;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, help)) {
      family = m[1];
      if (!families.insert(family).second) bad.push_back("family twice: " + family);
      family_type.clear();
    } else if (std::regex_match(line, m, type)) {
      if (m[1] != family) bad.push_back("TYPE without its HELP: " + line);
      family_type = m[2];
      if (family_type == "counter" && !family.ends_with("_total")) {
        bad.push_back("counter not named *_total: " + family);
      }
    } else if (std::regex_match(line, m, sample)) {
      if (m[1] != family) bad.push_back("sample outside its family: " + line);
      if (!series.insert(line.substr(0, line.rfind(' '))).second)
        bad.push_back("series twice: " + line);
    } else {
      bad.push_back("not a valid line: " + line);
    }
  }
  return bad;
}

TEST_CASE("the Prometheus writer follows the text format", "[metrics]") {
  constexpr MetricFamily x{"parkway_x_total", MetricType::counter, "listener",
                           "A help\nwith a newline and a \\."};
  constexpr MetricFamily y{"parkway_y", MetricType::gauge, "", "A gauge."};
  constexpr MetricFamily z{"parkway_z", MetricType::gauge, "a,b", "Another gauge."};
  PrometheusWriter w;
  w.family(x);
  w.sample(x, {{"listener", "a\"b\\c\nd"}}, uint64_t{7});
  w.sample(x, {{"listener", "plain"}}, uint64_t{0});
  w.family(y);
  w.sample(y, {}, -3.5);
  w.family(z);
  w.sample(z, {{"a", "1"}, {"b", "2"}}, int64_t{-1});
  CHECK(format_violations(w.text()).empty());
  CHECK(w.text().find(R"(listener="a\"b\\c\nd")") != std::string::npos);
  CHECK(w.text().find("# HELP parkway_x_total A help\\nwith a newline and a \\\\.") !=
        std::string::npos);
  // And the checker itself catches what it should.
  CHECK_FALSE(format_violations("parkway_z 1\n").empty());
  CHECK_FALSE(format_violations("# HELP c x\n# TYPE c counter\nc 1\n").empty());
  CHECK_FALSE(
      format_violations("# HELP g x\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n").empty());
}

TEST_CASE("access log records are one JSON object each", "[access_log]") {
  access_log::Record r;
  r.listener = "app";
  r.client = "127.0.0.1:5000";
  r.endpoint = "db:5432";
  r.upstream = "10.0.0.1:5432";
  r.connect_ms = 0.25;
  r.duration_ms = 1500.5;
  r.bytes_client_to_upstream = 10;
  r.bytes_upstream_to_client = 20;
  r.first_fin = "client";
  r.cause = "client_eof";
  CHECK(access_log::to_json(r, "2026-01-01T00:00:00.000Z") ==
        R"({"time":"2026-01-01T00:00:00.000Z","listener":"app","client":"127.0.0.1:5000",)"
        R"("endpoint":"db:5432","upstream":"10.0.0.1:5432","connect_ms":0.250,)"
        R"("duration_ms":1500.500,"bytes_client_to_upstream":10,"bytes_upstream_to_client":20,)"
        R"("first_fin":"client","cause":"client_eof"})");
  r.listener = "we\"ird\n\x01";
  CHECK(access_log::to_json(r, "t").find(R"("listener":"we\"ird\n\u0001")") != std::string::npos);
}

TEST_CASE("sd_notify sends datagrams to NOTIFY_SOCKET", "[systemd]") {
  char dir[] = "/tmp/parkway-notify-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/notify";
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);

  unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(systemd::notify_enabled());
  CHECK_FALSE(systemd::notify("READY=1"));
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(systemd::notify_enabled());
  CHECK(systemd::notify("READY=1\nSTATUS=ok"));
  CHECK(systemd::notify(systemd::reloading_message()));
  char buf[256];
  ssize_t n = recv(s, buf, sizeof buf, 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "READY=1\nSTATUS=ok");
  n = recv(s, buf, sizeof buf, 0);
  CHECK(std::regex_match(std::string(buf, static_cast<size_t>(n)),
                         std::regex("RELOADING=1\nMONOTONIC_USEC=[0-9]+")));
  unsetenv("NOTIFY_SOCKET");
  close(s);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("the watchdog interval and socket activation come from the environment", "[systemd]") {
  setenv("WATCHDOG_USEC", "3000000", 1);
  unsetenv("WATCHDOG_PID");
  CHECK(systemd::watchdog_interval() == std::chrono::seconds(3));
  setenv("WATCHDOG_PID", "1", 1);  // someone else's
  CHECK(systemd::watchdog_interval() == parkway::Duration::zero());
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");

  setenv("LISTEN_PID", std::to_string(getpid() + 1).c_str(), 1);  // not ours
  setenv("LISTEN_FDS", "2", 1);
  CHECK(systemd::take_listen_fds().empty());
  CHECK(std::getenv("LISTEN_FDS") == nullptr);  // consumed either way

  // Ours: two sockets at fds 3 and 4 (dup'ed there for the test), named.
  int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
  const int saved3 = dup(3), saved4 = dup(4);
  dup2(a, 3);
  dup2(b, 4);
  setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  setenv("LISTEN_FDS", "2", 1);
  setenv("LISTEN_FDNAMES", "web:admin", 1);
  auto got = systemd::take_listen_fds();
  REQUIRE(got.size() == 2);
  CHECK(got[0].fd == 3);
  CHECK(got[0].name == "web");
  CHECK(got[1].fd == 4);
  CHECK(got[1].name == "admin");
  CHECK(std::getenv("LISTEN_PID") == nullptr);
  dup2(saved3, 3);
  dup2(saved4, 4);
  close(saved3);
  close(saved4);
  close(a);
  close(b);
}
