// Operations, against the real binary: the admin endpoint and its metrics (checked by a
// real Prometheus parser), readiness while draining, bad admin requests, the access log
// and its reopening, the systemd notify protocol, socket activation, and how deep
// goroutine stacks go.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e.h"

using namespace parkway;
using namespace parkway::e2e;

namespace {

using observe::http_get;
using observe::http_raw;
using observe::HttpReply;
using observe::metric;

// Runs Debian's python3 with the prometheus_client parser over the text; returns what it
// printed (the number of families), or the error.
std::string parse_with_prometheus_client(const TempDir& dir, const std::string& text) {
  const std::string path = dir.write("metrics.txt", text);
  const std::string cmd =
      "/usr/bin/python3 -c 'import sys; from prometheus_client.parser import "
      "text_string_to_metric_families as parse; "
      "fams = list(parse(open(sys.argv[1]).read())); "
      "print(len(fams), sum(len(f.samples) for f in fams))' " +
      path + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return "popen failed";
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, f)) out += buf;
  const int status = pclose(f);
  return status == 0 ? out : "parser failed: " + out;
}

}  // namespace

TEST_CASE("the admin endpoint serves metrics a Prometheus parser reads, and they follow traffic",
          "[e2e][admin]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto admin = admin_address(*proxy);
    const auto app =
        *net::SocketAddress::parse("127.0.0.1:" + std::to_string(proxy->port_of("app")));
    constexpr int kConnections = 5;
    for (int i = 0; i < kConnections; i++) {
      auto c = dial_and_echo(app, "hello");
      REQUIRE(c);
      c->shutdown_write();
      CHECK(read_to_end(*c, now() + 5s).bytes == 0);
    }
    // Closes are counted, and the listener's slot given back, when each connection's
    // goroutine ends, a moment after the client saw its end of stream: await them.
    CHECK(await_metric(admin, closed_series("app", "client_eof"), kConnections) == kConnections);
    CHECK(await_metric(admin, R"(parkway_listener_connections_active{listener="app"})", 0) == 0);

    const HttpReply m = http_get(admin, "/metrics");
    REQUIRE(m.status == 200);
    CHECK(m.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    const std::string parsed = parse_with_prometheus_client(dir, m.body);
    INFO(parsed);
    CHECK(std::regex_search(parsed, std::regex(R"(^[0-9]+ [0-9]+)")));
    CHECK(metric(m.body, R"(parkway_listener_connections_accepted_total{listener="app"})") ==
          kConnections);
    CHECK(metric(m.body, R"(parkway_listener_connections_active{listener="app"})") == 0);
    const std::string ep = "{cluster=\"app\",endpoint=\"" + backend.endpoint() + "\"}";
    CHECK(metric(m.body, "parkway_endpoint_connects_total" + ep) == kConnections);
    CHECK(metric(m.body, "parkway_endpoint_sent_bytes_total" + ep) == 5 * kConnections);
    CHECK(metric(m.body, "parkway_endpoint_received_bytes_total" + ep) == 5 * kConnections);
    CHECK(metric(m.body,
                 R"(parkway_cluster_connections_closed_total{cluster="app",cause="client_eof"})") ==
          kConnections);
    // Five bytes each way are small chunks: copied, not spliced (netpoll/splice.h).
    CHECK(metric(m.body, R"(parkway_transfer_bytes_total{mode="copied"})") >= 10 * kConnections);
    CHECK(metric(m.body, R"(parkway_transfer_bytes_total{mode="spliced"})") == 0);
    CHECK(metric(m.body, "parkway_runtime_goroutines") > 0);
    CHECK(metric(m.body, "parkway_ready") == 1);

    const HttpReply live = http_get(admin, "/live");
    CHECK(live.status == 200);
    const HttpReply config = http_get(admin, "/config");
    CHECK(config.status == 200);
    CHECK(config.body.find("[[listener]]\nname = \"app\"") != std::string::npos);
    CHECK(http_get(admin, "/nope").status == 404);

    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}

TEST_CASE("/ready is 200 while listening and 503 while draining", "[e2e][admin]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, admin_toml() + "[runtime]\ndrain_timeout = \"20s\"\n" +
                                      listener_toml("app", "app") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto admin = admin_address(*proxy);
    const auto app =
        *net::SocketAddress::parse("127.0.0.1:" + std::to_string(proxy->port_of("app")));
    CHECK(http_get(admin, "/ready").status == 200);
    // An open connection keeps the drain going while we look.
    auto held = dial_and_echo(app, "hold");
    REQUIRE(held);
    proxy->signal(SIGTERM);
    await_log(*proxy, "stopped accepting");
    const HttpReply r = http_get(admin, "/ready");
    CHECK(r.status == 503);
    CHECK(r.body == "not ready: draining\n");
    CHECK(metric(http_get(admin, "/metrics").body, "parkway_ready") == 0);
    held->shutdown_write();
    read_to_end(*held, now() + 5s);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}

TEST_CASE(
    "the admin endpoint stays reachable when the data listener is saturated, and refuses "
    "bad requests with a 4xx",
    "[e2e][admin]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, admin_toml("max_connections = 2") +
                                      listener_toml("app", "app", "max_connections = 1") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto admin = admin_address(*proxy);
    const auto app =
        *net::SocketAddress::parse("127.0.0.1:" + std::to_string(proxy->port_of("app")));
    auto held = dial_and_echo(app, "hold");
    REQUIRE(held);  // the data listener is now at its limit
    CHECK(http_get(admin, "/live").status == 200);

    CHECK(http_raw(admin, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status == 405);
    CHECK(http_raw(admin, "GARBAGE\r\n\r\n").status == 400);
    CHECK(http_raw(admin, "GET /metrics HTTP/2.0\r\n\r\n").status == 505);
    CHECK(http_raw(admin, "GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n").status == 414);
    CHECK(http_raw(admin, "GET / HTTP/1.1\r\nX: " + std::string(9000, 'b') + "\r\n\r\n").status ==
          431);
    CHECK(http_raw(admin, "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").status == 400);
    // A client that never finishes its request is answered 408 after 5 s.
    const auto start = now();
    CHECK(http_raw(admin, "GET /metr", 20s).status == 408);
    CHECK(now() - start >= 4s);

    // None of this disturbed the proxied connection.
    CHECK(echoes(*held, "still here", now() + 5s));
    held->shutdown_write();
    read_to_end(*held, now() + 5s);
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}

namespace {

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

// Waits until `path` has `n` lines (the writer thread appends asynchronously).
bool await_lines(const std::string& path, size_t n, Duration within = 10s) {
  const Time deadline = now() + within;
  while (now() < deadline) {
    if (count_lines(path) >= n) return true;
    sleep_for(std::chrono::milliseconds(10));  // polling a file: there is nothing to await
  }
  return false;
}

}  // namespace

TEST_CASE("the access log writes a JSON line per connection to a file, reopened on SIGUSR1",
          "[e2e][access_log]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    const std::string log_path = dir.path() + "/access.log";
    auto proxy = start_proxy(dir, "[access_log]\ndestination = \"" + log_path + "\"\n" +
                                      listener_toml("app", "app") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto app =
        *net::SocketAddress::parse("127.0.0.1:" + std::to_string(proxy->port_of("app")));
    for (int i = 0; i < 2; i++) {
      auto c = dial_and_echo(app, "abc");
      REQUIRE(c);
      c->shutdown_write();
      read_to_end(*c, now() + 5s);
    }
    REQUIRE(await_lines(log_path, 2));
    std::ifstream in(log_path);
    std::string line;
    std::getline(in, line);
    CHECK(std::regex_match(
        line,
        std::regex(R"(\{"time":"[0-9T:.Z-]+","listener":"app","client":"127\.0\.0\.1:[0-9]+",)"
                   R"("endpoint":"127\.0\.0\.1:[0-9]+","upstream":"127\.0\.0\.1:[0-9]+",)"
                   R"("connect_ms":[0-9.]+,"duration_ms":[0-9.]+,"bytes_client_to_upstream":3,)"
                   R"("bytes_upstream_to_client":3,"first_fin":"client","cause":"client_eof"\})")));

    // logrotate moves the file, then sends SIGUSR1: new lines go to a new file.
    REQUIRE(std::rename(log_path.c_str(), (log_path + ".1").c_str()) == 0);
    const size_t mark = proxy->mark();
    proxy->signal(SIGUSR1);
    await_log(*proxy, "SIGUSR1: access log reopened", 10s, mark);
    auto c = dial_and_echo(app, "xyz");
    REQUIRE(c);
    c->shutdown_write();
    read_to_end(*c, now() + 5s);
    REQUIRE(await_lines(log_path, 1));
    CHECK(count_lines(log_path + ".1") == 2);
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}

namespace {

// A fake systemd: a datagram socket at NOTIFY_SOCKET whose messages a thread collects.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("bind " + path);
    }
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] {
      char buf[4096];
      while (!stop_.load()) {
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard<std::mutex> g(mu_);
        messages_.emplace_back(buf, static_cast<size_t>(n));
      }
    });
  }
  ~FakeNotifySocket() {
    stop_.store(true);
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> g(mu_);
    return messages_;
  }
  // Waits for a message matching `re`, at or after index `from`; returns its index.
  int await(const std::string& re, size_t from = 0, Duration within = 10s) {
    const std::regex r(re);
    const Time deadline = now() + within;
    while (now() < deadline) {
      auto m = messages();
      for (size_t i = from; i < m.size(); i++) {
        if (std::regex_search(m[i], r)) return static_cast<int>(i);
      }
      sleep_for(std::chrono::milliseconds(10));  // datagrams arrive on another thread
    }
    return -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::thread thread_;
};

}  // namespace

TEST_CASE(
    "systemd is told READY, RELOADING then READY, STOPPING, in order, and the watchdog "
    "is pinged",
    "[e2e][systemd]") {
  TempDir dir;
  const std::string sock = dir.path() + "/notify";
  FakeNotifySocket systemd(sock);
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    SpawnOptions options;
    options.env = {"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"};
    auto proxy = start_proxy(
        dir, listener_toml("app", "app") + cluster_toml("app", {backend.endpoint()}), {}, options);
    const int ready = systemd.await("^READY=1\nSTATUS=0 open connection");
    REQUIRE(ready >= 0);
    // Several watchdog pings: they come from a goroutine every 200 ms. Await two (the
    // sequence below may take less than one period).
    const int ping = systemd.await("^WATCHDOG=1$", static_cast<size_t>(ready));
    CHECK(ping > ready);
    CHECK(systemd.await("^WATCHDOG=1$", static_cast<size_t>(ping) + 1) > ping);
    proxy->signal(SIGHUP);
    const int reloading =
        systemd.await("^RELOADING=1\nMONOTONIC_USEC=[0-9]+$", static_cast<size_t>(ready) + 1);
    REQUIRE(reloading > ready);
    const int ready_again = systemd.await("^READY=1", static_cast<size_t>(reloading) + 1);
    CHECK(ready_again > reloading);
    proxy->signal(SIGTERM);
    const int stopping = systemd.await("^STOPPING=1", static_cast<size_t>(ready_again) + 1);
    CHECK(stopping > ready_again);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}

TEST_CASE("socket activation: a listener adopts the socket passed under its name",
          "[e2e][systemd]") {
  TempDir dir;
  // What systemd would pass: a bound, listening, blocking socket.
  int passed = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(passed, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  REQUIRE(listen(passed, 64) == 0);
  socklen_t len = sizeof sin;
  getsockname(passed, reinterpret_cast<sockaddr*>(&sin), &len);
  const uint16_t passed_port = ntohs(sin.sin_port);

  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    SpawnOptions options;
    options.listen_fds = {passed};
    options.listen_fdnames = {"app"};
    // "app" is configured on another address: the passed socket wins (systemd owns the
    // address). "other" has no passed socket and binds its own.
    auto proxy = start_proxy(dir,
                             listener_toml("app", "app", "", "127.0.0.1:0") +
                                 listener_toml("other", "app", "", "127.0.0.2:0") +
                                 cluster_toml("app", {backend.endpoint()}),
                             {}, options);
    await_log(*proxy,
              R"(listener "app": using the socket passed by systemd \(fd 3, 127\.0\.0\.1:)" +
                  std::to_string(passed_port) + "\\)");
    CHECK(proxy->port_of("app") == passed_port);
    auto c = dial_and_echo(*net::SocketAddress::parse("127.0.0.1:" + std::to_string(passed_port)),
                           "activated");
    CHECK(c.has_value());
    auto d = dial_and_echo(
        *net::SocketAddress::parse("127.0.0.2:" + std::to_string(proxy->port_of("other"))),
        "own socket");
    CHECK(d.has_value());
    if (c) c->close();
    if (d) d->close();
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(10s) == 0);
  });
  close(passed);
}

TEST_CASE(
    "goroutine stacks stay well under their size through traffic, errors, reload, admin "
    "requests and drain",
    "[e2e][stack]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    SpawnOptions options;
    options.env = {"PARKWAY_MEASURE_STACKS=1"};
    const std::string toml = admin_toml() + "[access_log]\ndestination = \"stderr\"\n" +
                             listener_toml("app", "app") +
                             cluster_toml("app", {"127.0.0.1:1", backend.endpoint()},
                                          "connect_attempts = 2\nidle_timeout = \"10s\"");
    auto proxy = start_proxy(dir, toml, {}, options);
    const auto admin = admin_address(*proxy);
    const auto app =
        *net::SocketAddress::parse("127.0.0.1:" + std::to_string(proxy->port_of("app")));
    // Traffic, half of it through a refused first endpoint (a retry), big and small.
    for (int i = 0; i < 8; i++) {
      auto c = net::Conn::dial(app, now() + 5s);
      REQUIRE(c);
      Notification sent;
      go([&, i] {
        test::send_stream(*c, static_cast<uint64_t>(i), 1 << 20);
        c->shutdown_write();
        sent.notify();
      });
      CHECK(test::receive_stream(*c, static_cast<uint64_t>(i)).bytes == (1u << 20));
      sent.wait();
    }
    CHECK(http_get(admin, "/metrics").status == 200);
    CHECK(http_get(admin, "/config").status == 200);
    const size_t mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, "reload: done", 10s, mark);
    proxy->signal(SIGTERM);
    auto m = await_log(*proxy, R"(deepest goroutine stack: ([0-9]+) bytes of ([0-9]+))");
    const long used = std::stol(m.groups[1]);
    const long size = std::stol(m.groups[2]);
    INFO("deepest goroutine stack: " << used << " of " << size << " bytes");
    CHECK(used > 0);
    // Half the stack at most: the rest is the margin the default size promises.
    CHECK(used <= size / 2);
    const auto status = proxy->wait_exit(10s);
    INFO(log_of(*proxy));
    CHECK(status == 0);
  });
}
