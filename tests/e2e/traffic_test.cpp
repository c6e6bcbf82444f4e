// Traffic through the real binary: byte-exact transfers at scale, half-close both ways,
// refused and timed-out upstreams, max_connections, and DNS endpoints.
#include <cstring>
#include <fstream>
#include <random>

#include "tests/e2e/e2e.h"

using namespace parkway;
using namespace parkway::e2e;

namespace {

// What a client of the transfer test tells the backend first.
struct Header {
  uint64_t seed, up, down;  // its stream's seed, bytes it sends, bytes it wants back
};
constexpr uint64_t kDownSeed = 0xD0D0D0D0;

// The "closed (CAUSE) after ..." debug line of a connection, with its byte counts.
const std::string kClosed =
    R"(closed \((\w+)\) after ([0-9]+)ms, client->upstream ([0-9]+) bytes, upstream->client ([0-9]+) bytes)";

}  // namespace

TEST_CASE("500 concurrent connections move random sizes both ways, byte-exact", "[e2e][traffic]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr int kClients = 500;
  std::atomic<int> ok{0};
  std::atomic<uint64_t> total_up{0}, total_down{0};
  rt.run([&] {
    Backend backend([&](net::Conn& c) {
      auto h = read_exactly(c, sizeof(Header), now() + 60s);
      GO_CHECK(checks, h.data.size() == sizeof(Header));
      if (h.data.size() != sizeof(Header)) return;
      Header hdr;
      std::memcpy(&hdr, h.data.data(), sizeof hdr);
      // Send and receive at once: either alone could fill the socket buffers both ways.
      Notification sent;
      net::IoResult w;
      go([&] {
        w = test::send_stream(c, hdr.seed ^ kDownSeed, hdr.down, 1 + hdr.seed % 40000);
        c.shutdown_write();
        sent.notify();
      });
      auto got = test::receive_stream(c, hdr.seed);
      sent.wait();
      GO_CHECK(checks, !w.error);
      GO_CHECK(checks, !got.error);
      GO_CHECK(checks, got.bytes == hdr.up);
      GO_CHECK(checks, got.mismatches == 0);
    });
    auto proxy =
        start_proxy(dir, listener_toml("app", "app") + cluster_toml("app", {backend.endpoint()}));
    const auto addr = loopback(proxy->port_of("app"));

    WaitGroup clients;
    clients.add(kClients);
    for (int i = 0; i < kClients; i++) {
      go([&, i] {
        std::mt19937_64 rng(static_cast<uint64_t>(i) * 7919);
        Header hdr{static_cast<uint64_t>(i) + 1, rng() % (256 * 1024), rng() % (256 * 1024)};
        if (i % 50 == 0) hdr.up = 0;    // nothing but the header one way
        if (i % 50 == 1) hdr.down = 0;  // nothing at all the other way
        total_up += sizeof(Header) + hdr.up;
        total_down += hdr.down;
        auto c = net::Conn::dial(addr, now() + 30s);
        GO_CHECK(checks, c.ok());
        if (!c) {
          clients.done();
          return;
        }
        net::Conn& conn = *c;
        Notification sent;
        net::IoResult w;
        go([&] {
          w = conn.write_all(std::as_bytes(std::span(&hdr, 1)));
          if (!w.error) w = test::send_stream(conn, hdr.seed, hdr.up, 1 + rng() % 32768);
          conn.shutdown_write();
          sent.notify();
        });
        auto got = test::receive_stream(conn, hdr.seed ^ kDownSeed);
        sent.wait();
        GO_CHECK(checks, !w.error);
        GO_CHECK(checks, !got.error);
        GO_CHECK(checks, got.bytes == hdr.down);
        GO_CHECK(checks, got.mismatches == 0);
        if (!w.error && !got.error && got.bytes == hdr.down && got.mismatches == 0) ok++;
        clients.done();
      });
    }
    clients.wait();

    // Every connection ended in order, and the proxy counted every byte.
    auto closed = proxy->wait_for_log_count(kClosed, kClients, 30s);
    INFO(log_of(*proxy));
    REQUIRE(closed.size() == kClients);
    uint64_t up = 0, down = 0;
    int orderly = 0;
    for (const auto& m : closed) {
      orderly += m[1] == "client_eof" || m[1] == "upstream_eof";
      up += std::stoull(m[3]);
      down += std::stoull(m[4]);
    }
    CHECK(orderly == kClients);
    CHECK(up == total_up.load());
    CHECK(down == total_down.load());
    CHECK(backend.accepted() == kClients);
  });
  checks.report();
  CHECK(ok.load() == kClients);
}

TEST_CASE("half-close: the client shuts down writing and still reads the whole reply",
          "[e2e][traffic]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    Backend backend([&](net::Conn& c) {
      auto got = test::receive_stream(c, 1);  // until the client's FIN, passed on
      GO_CHECK(checks, !got.error);
      GO_CHECK(checks, got.bytes == 100000);
      GO_CHECK(checks, got.mismatches == 0);
      GO_CHECK(checks, test::send_stream(c, 2, 3'000'000).ok());  // after the EOF
    });
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto admin = admin_address(*proxy);
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    REQUIRE(test::send_stream(*c, 1, 100000).ok());
    REQUIRE_FALSE(c->shutdown_write());
    auto got = test::receive_stream(*c, 2);
    CHECK(describe(got.error) == "end of stream");
    CHECK(got.bytes == 3'000'000);
    CHECK(got.mismatches == 0);
    auto m = await_log(*proxy, kClosed);
    CHECK(m[1] == "client_eof");
    CHECK(m[3] == "100000");
    CHECK(m[4] == "3000000");
    CHECK(await_metric(admin, closed_series("app", "client_eof"), 1) == 1);
    CHECK(read_metric(admin, closed_series("app", "upstream_eof")) == 0);
  });
  checks.report();
}

TEST_CASE("half-close: the server speaks first and shuts down, the client replies after EOF",
          "[e2e][traffic]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    Backend backend([&](net::Conn& c) {
      GO_CHECK(checks, test::send_stream(c, 3, 2'000'000).ok());
      GO_CHECK(checks, !c.shutdown_write());
      auto got = test::receive_stream(c, 4);  // the reply, sent after our EOF arrived
      GO_CHECK(checks, !got.error);
      GO_CHECK(checks, got.bytes == 50000);
      GO_CHECK(checks, got.mismatches == 0);
    });
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto admin = admin_address(*proxy);
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    auto got = test::receive_stream(*c, 3);
    CHECK(describe(got.error) == "end of stream");
    CHECK(got.bytes == 2'000'000);
    CHECK(got.mismatches == 0);
    REQUIRE(test::send_stream(*c, 4, 50000).ok());
    REQUIRE_FALSE(c->shutdown_write());
    auto m = await_log(*proxy, kClosed);
    CHECK(m[1] == "upstream_eof");
    CHECK(m[3] == "50000");
    CHECK(m[4] == "2000000");
    CHECK(await_metric(admin, closed_series("app", "upstream_eof"), 1) == 1);
    CHECK(read_metric(admin, closed_series("app", "client_eof")) == 0);
  });
  checks.report();
}

TEST_CASE("a refused endpoint is skipped: the next one serves the client", "[e2e][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    RefusedPort refused;
    Backend backend(echo);
    auto proxy = start_proxy(dir, listener_toml("app", "app") +
                                      cluster_toml("app", {refused.endpoint(), backend.endpoint()},
                                                   "connect_attempts = 2\n"));
    const auto addr = loopback(proxy->port_of("app"));
    // Round robin: each of these tries the refused endpoint first or second; all succeed.
    for (int i = 0; i < 4; i++) {
      INFO("connection " << i << "\n" << log_of(*proxy));
      auto c = dial_and_echo(addr, "hello " + std::to_string(i));
      REQUIRE(c);
      c->close();
    }
    auto connected = proxy->wait_for_log_count(
        "-> " + backend.endpoint() + " \\(" + backend.endpoint() + "\\) connected in", 4);
    INFO(log_of(*proxy));
    CHECK(connected.size() == 4);
    CHECK(backend.accepted() == 4);
    CHECK(proxy->find_all("cannot connect").empty());
    // The dead endpoint is not silent, nor noisy: one warning (at most one per 10 s), with
    // the reason, though every client was served.
    const auto warned =
        proxy->find_all("warn  cluster \"app\": endpoint " + regex_escape(refused.endpoint()) +
                        ": connect failed: refused$");
    CHECK(warned.size() == 1);
  });
}

TEST_CASE("every endpoint refused: the client is closed at once and the log names each failure",
          "[e2e][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    RefusedPort a, b;
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {a.endpoint(), b.endpoint()},
                                          "connect_attempts = 3\nconnect_timeout = \"5s\"\n"));
    const auto admin = admin_address(*proxy);
    const Time t0 = now();
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    auto end = read_to_end(*c, now() + 20s);
    const auto took = now() - t0;
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    CHECK((!end.error || net::is_reset(end.error)));
    CHECK(end.bytes == 0);
    CHECK(took < 3s);  // refusals are immediate; the connect timeout (5s x 3) is not waited
    auto m = await_log(*proxy, "warn .*cannot connect to cluster \"app\": (.*); closing$");
    CHECK_THAT(m[1], Catch::Contains(a.endpoint() + ": refused"));
    CHECK_THAT(m[1], Catch::Contains(b.endpoint() + ": refused"));
    size_t refusals = 0;
    for (size_t at = 0; (at = m[1].find(": refused", at)) != std::string::npos; at++) refusals++;
    CHECK(refusals == 3);  // connect_attempts, the third going round again
    CHECK(await_metric(admin, closed_series("app", "connect_failed"), 1) == 1);
    const auto failures = [&](const RefusedPort& p) {
      return read_metric(admin,
                         R"(parkway_endpoint_connect_failures_total{cluster="app",endpoint=")" +
                             p.endpoint() + R"(",reason="refused"})")
          .value_or(0);
    };
    CHECK(failures(a) + failures(b) == 3);
  });
}

TEST_CASE("connect timeout: an endpoint with a full accept queue is given up for the next",
          "[e2e][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    FullBacklog full;
    REQUIRE(full.full());
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, listener_toml("app", "app") +
                             cluster_toml("app", {full.endpoint(), backend.endpoint()},
                                          "connect_attempts = 2\nconnect_timeout = \"300ms\"\n"));
    const auto addr = loopback(proxy->port_of("app"));
    Duration slowest{};
    for (int i = 0; i < 2; i++) {
      INFO("connection " << i << "\n" << log_of(*proxy));
      const Time t0 = now();
      auto c = dial_and_echo(addr, "through", 10s);
      REQUIRE(c);
      slowest = std::max<Duration>(slowest, now() - t0);
      c->close();
    }
    INFO(log_of(*proxy));
    // Round robin starts one of them on the full endpoint: 300ms lost, then served.
    CHECK(slowest >= 250ms);
    CHECK(slowest < 5s);
    CHECK(backend.accepted() == 2);
  });
}

TEST_CASE("connect timeout: with one unreachable endpoint the client is closed after the attempts",
          "[e2e][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    FullBacklog full;
    REQUIRE(full.full());
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {full.endpoint()},
                                          "connect_attempts = 2\nconnect_timeout = \"300ms\"\n"));
    const auto admin = admin_address(*proxy);
    const Time t0 = now();
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    auto end = read_to_end(*c, now() + 20s);
    const auto took = now() - t0;
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    CHECK(!end.error);     // closed with a FIN: nothing was sent either way
    CHECK(took >= 550ms);  // 2 x 300ms
    CHECK(took < 5s);
    auto m = await_log(*proxy, "warn .*cannot connect to cluster \"app\": (.*); closing$");
    CHECK(m[1] == full.endpoint() + ": timed out after 300ms; " + full.endpoint() +
                      ": timed out after 300ms");
    CHECK(await_metric(admin, closed_series("app", "connect_failed"), 1) == 1);
    CHECK(read_metric(admin, R"(parkway_endpoint_connect_failures_total{cluster="app",endpoint=")" +
                                 full.endpoint() + R"(",reason="timeout"})") == 2);
  });
}

TEST_CASE("max_connections: a third client waits in the backlog until a slot frees",
          "[e2e][limits]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, listener_toml("app", "app", "max_connections = 2\n") +
                                      cluster_toml("app", {backend.endpoint()}));
    const auto addr = loopback(proxy->port_of("app"));
    auto first = dial_and_echo(addr, "one");
    auto second = dial_and_echo(addr, "two");
    REQUIRE(first);
    REQUIRE(second);

    // The kernel completes the handshake (backlog), but nobody accepts it yet.
    auto third = net::Conn::dial(addr, now() + 5s);
    REQUIRE(third);
    REQUIRE_FALSE(third->write_all(bytes_of("three")).error);
    auto early = read_exactly(*third, 5, now() + 500ms);
    CHECK(net::is_timeout(early.error));
    CHECK(early.data.empty());
    CHECK(backend.accepted() == 2);

    first->close();  // frees a slot: the third is accepted and served
    auto late = read_exactly(*third, 5, now() + 10s);
    INFO(log_of(*proxy));
    CHECK(!late.error);
    CHECK(late.data == "three");
    CHECK(backend.accepted() == 3);
    CHECK(echoes(*second, "still", now() + 5s));
  });
}

TEST_CASE("DNS: an endpoint named in /etc/hosts resolves and serves", "[e2e][dns]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    const std::string hosts =
        dir.write("hosts", "127.0.0.1 localhost\n127.0.0.1 parkway-e2e-backend\n");
    const std::string name = "parkway-e2e-backend:" + std::to_string(backend.address().port());
    std::unique_ptr<ProxyProcess> proxy;
    try {
      SpawnOptions options;
      options.private_hosts_file = hosts;
      proxy =
          start_proxy(dir, listener_toml("app", "app") + cluster_toml("app", {name}), {}, options);
    } catch (const SpawnError& e) {
      if (e.err != EPERM) throw;
      WARN("skipped: a private /etc/hosts needs CAP_SYS_ADMIN (" << e.what() << ")");
      return;
    }
    await_log(*proxy, "cluster \"app\": endpoint " + name + " resolves to 127.0.0.1$");
    auto c = dial_and_echo(loopback(proxy->port_of("app")), "by name");
    INFO(log_of(*proxy));
    REQUIRE(c);
    await_log(*proxy, "-> " + name + " \\(127.0.0.1:[0-9]+\\) connected in");
    CHECK(backend.accepted() == 1);
  });
}

namespace {

// Rewrites a file in place (same inode): a bind mount of it must see the new content.
void rewrite_in_place(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

}  // namespace

TEST_CASE(
    "DNS: a name that does not resolve holds nothing up, a refresh picks it up, and a "
    "failed refresh keeps the last addresses",
    "[e2e][dns]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    const std::string hosts = dir.write("hosts", "127.0.0.1 localhost\n");
    // Names missing from the hosts file go to a nameserver where nothing listens: they
    // fail at once instead of waiting for a real DNS server.
    const std::string resolv =
        dir.write("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    const std::string name = "parkway-e2e-late:" + std::to_string(backend.address().port());
    std::unique_ptr<ProxyProcess> proxy;
    try {
      SpawnOptions options;
      options.private_hosts_file = hosts;
      options.private_resolv_conf = resolv;
      proxy =
          start_proxy(dir,
                      admin_toml() + listener_toml("late", "late") + listener_toml("now", "now") +
                          cluster_toml("late", {name}, "dns_refresh = \"200ms\"") +
                          cluster_toml("now", {backend.endpoint()}),
                      {}, options);
    } catch (const SpawnError& e) {
      if (e.err != EPERM) throw;
      WARN("skipped: a private /etc/hosts needs CAP_SYS_ADMIN (" << e.what() << ")");
      return;
    }
    // It started, and the other cluster serves, though the name did not resolve.
    await_log(*proxy,
              "endpoint " + name + ": cannot resolve .*it gets no connections until it resolves");
    auto ok = dial_and_echo(loopback(proxy->port_of("now")), "unaffected");
    CHECK(ok.has_value());
    // A client of the unresolved cluster is closed at once.
    auto c = net::Conn::dial(loopback(proxy->port_of("late")), now() + 5s);
    REQUIRE(c);
    const auto end = read_to_end(*c, now() + 5s);
    CHECK_FALSE(net::is_timeout(end.error));
    await_log(*proxy, R"(cluster "late" has no endpoint with an address; closing)");
    const auto admin = admin_address(*proxy);
    CHECK(await_metric(admin, closed_series("late", "no_endpoint"), 1) == 1);

    // The name appears: the next refresh resolves it, and the cluster serves.
    size_t mark = proxy->mark();
    rewrite_in_place(hosts, "127.0.0.1 localhost\n127.0.0.1 parkway-e2e-late\n");
    await_log(*proxy, "endpoint " + name + " resolves to 127.0.0.1$", 10s, mark);
    auto d = dial_and_echo(loopback(proxy->port_of("late")), "resolved");
    CHECK(d.has_value());

    // The name disappears: the refresh fails, is logged once, and the last address stays.
    mark = proxy->mark();
    rewrite_in_place(hosts, "127.0.0.1 localhost\n");
    await_log(*proxy,
              "endpoint " + name + ": cannot resolve .*keeping its last addresses 127.0.0.1", 10s,
              mark);
    auto e = dial_and_echo(loopback(proxy->port_of("late")), "still resolved");
    CHECK(e.has_value());
    // Several more refreshes fail meanwhile, but the failure is logged once.
    sleep_for(std::chrono::milliseconds(600));  // a few refresh periods (nothing to await)
    CHECK(proxy->find_all("endpoint " + name + ": cannot resolve .*keeping").size() == 1);
    for (auto* conn : {&ok, &d, &e}) {
      if (*conn) (*conn)->close();
    }
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(10s) == 0);
  });
}
