// The life of the process: SIGHUP reloads (good and bad) and SIGTERM drains, against the
// real binary.
#include "tests/e2e/e2e.h"

using namespace parkway;
using namespace parkway::e2e;

namespace {

// Connects to `addr` over and over, one echo each, until told to stop: a listener that
// must accept throughout a reload.
class Prober {
 public:
  explicit Prober(net::SocketAddress addr) : addr_(addr) {
    go([this] {
      while (!stop_.load()) {
        auto c = dial_and_echo(addr_, "probe");
        if (!c) {
          failed_++;
          continue;
        }
        c->close();
        served_++;
        // Count down a serve_more() in progress, if any.
        int p = pending_.load();
        while (p > 0 && !pending_.compare_exchange_weak(p, p - 1)) {
        }
        if (p > 0) waiting_.done();
      }
      done_.notify();
    });
  }
  ~Prober() { stop(); }

  // Waits until `n` more connections than now have been served.
  bool serve_more(int n, Duration within = 10s) {
    waiting_.add(n);
    pending_ += n;
    return waiting_.wait_until(now() + within);
  }
  void stop() {
    stop_.store(true);
    done_.wait();
  }
  int failed() const { return failed_.load(); }
  int served() const { return served_.load(); }

 private:
  net::SocketAddress addr_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0}, failed_{0}, pending_{0};
  WaitGroup waiting_;
  Notification done_;
};

}  // namespace

TEST_CASE("SIGHUP adds a listener and removes another, open connections and kept listeners go on",
          "[e2e][reload]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    const std::string cluster = cluster_toml("app", {backend.endpoint()});
    // Distinct loopback addresses: a reload matches listeners by address, and two
    // listeners on 127.0.0.1:0 would be told apart by their order only.
    auto proxy = start_proxy(dir, listener_toml("keep", "app") +
                                      listener_toml("old", "app", "", "127.0.0.2:0") + cluster);
    const auto keep = proxy->address_of("keep");
    const auto old = proxy->address_of("old");

    auto on_old = dial_and_echo(old, "before the reload");
    REQUIRE(on_old);
    Prober prober(keep);
    REQUIRE(prober.serve_more(3));

    dir.write("parkway.toml", listener_toml("keep", "app") +
                                  listener_toml("new", "app", "", "127.0.0.3:0") + cluster);
    const size_t mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, "SIGHUP: reloading ", 10s, mark);
    await_log(*proxy, R"(listener "new": added, listening on 127\.0\.0\.3:[0-9]+ -> cluster "app")",
              10s, mark);
    await_log(
        *proxy,
        R"(listener "old": removed; stopped accepting on 127\.0\.0\.2:0; its 1 open connection\(s\) go on)",
        10s, mark);
    await_log(*proxy, R"(reload: done: 2 listener\(s\) \(1 added, 1 removed\), 1 cluster\(s\))",
              10s, mark);
    REQUIRE(prober.serve_more(3));
    prober.stop();
    INFO(log_of(*proxy));
    CHECK(prober.failed() == 0);
    CHECK(proxy->port_of("keep") == keep.port());

    // The new listener serves; the removed one refuses, but its connection lives on.
    CHECK(dial_and_echo(proxy->address_of("new"), "new listener").has_value());
    auto refused = net::Conn::dial(old, now() + 5s);
    CHECK_FALSE(refused.ok());
    if (!refused) CHECK(net::is_refused(refused.error()));
    for (int i = 0; i < 3; i++)
      CHECK(echoes(*on_old, "after the reload " + std::to_string(i), now() + 5s));
    REQUIRE_FALSE(on_old->shutdown_write());
    CHECK(describe(read_to_end(*on_old, now() + 5s).error) == "end of stream");
    auto closed = await_log(*proxy, R"(listener "old": client 127\.0\.0\.1:)" +
                                        std::to_string(on_old->local_address()->port()) +
                                        R"( -> \S+: closed \((\w+)\))");
    CHECK(closed[1] == "client_eof");
  });
}

TEST_CASE("a reload logs what it changes, and how many connections a removed endpoint drains",
          "[e2e][reload]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend a(echo), b(echo);
    auto proxy =
        start_proxy(dir, listener_toml("app", "app") + cluster_toml("app", {a.endpoint()}));
    auto open = dial_and_echo(proxy->address_of("app"), "to a, across the reload");
    REQUIRE(open);

    dir.write("parkway.toml", listener_toml("app", "app", "max_connections = 50") +
                                  cluster_toml("app", {b.endpoint()}, "connect_timeout = \"2s\""));
    size_t mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, R"(reload: done: )", 10s, mark);
    INFO(log_of(*proxy));
    const std::string cluster = R"(reload: cluster "app": )";
    CHECK(proxy->find_all(R"(reload: listener "app": max_connections 10000 -> 50$)", mark).size() ==
          1);
    CHECK(proxy->find_all(cluster + "connect_timeout 5s -> 2s$", mark).size() == 1);
    CHECK(proxy->find_all(cluster + "endpoint " + regex_escape(b.endpoint()) + " added$", mark)
              .size() == 1);
    CHECK(proxy
              ->find_all(cluster + "endpoint " + regex_escape(a.endpoint()) +
                             R"( removed \(1 connection\(s\) drain\)$)",
                         mark)
              .size() == 1);
    CHECK(proxy->find_all("reload: no changes", mark).empty());
    // The connection to the removed endpoint goes on; new ones go to b.
    CHECK(echoes(*open, "still to a", now() + 5s));

    // The same file again: nothing to say but that.
    mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, R"(reload: done: )", 10s, mark);
    CHECK(proxy->find_all("reload: no changes$", mark).size() == 1);
    CHECK(proxy->find_all(R"(reload: (listener|cluster|runtime))", mark).empty());
  });
}

TEST_CASE("a bad reload keeps the running configuration and says why", "[e2e][reload]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    net::Listener taken = test::listen_local();  // a port in use
    const uint16_t taken_port = test::address_of(taken).port();
    const std::string cluster = cluster_toml("app", {backend.endpoint()});
    auto proxy = start_proxy(dir, listener_toml("a", "app") + listener_toml("b", "app") + cluster);
    const auto a = proxy->address_of("a");
    const auto b = proxy->address_of("b");
    auto on_b = dial_and_echo(b, "before");
    REQUIRE(on_b);
    const std::string path = dir.path() + "/parkway.toml";

    SECTION("a file with errors") {
      dir.write("parkway.toml",
                listener_toml("a", "app", "max_connections = \"lots\"\n") + cluster);
      const size_t mark = proxy->mark();
      proxy->signal(SIGHUP);
      await_log(
          *proxy,
          "error reload: " + regex_escape(path) +
              R"(:5:19: error: listener\[0\]\.max_connections: expected an integer 1\.\.1000000)",
          10s, mark);
      await_log(*proxy, R"(error reload:     5 \| max_connections = "lots")", 10s, mark);
      await_log(
          *proxy,
          "error reload: " + regex_escape(path) + " has errors; keeping the running configuration$",
          10s, mark);
    }
    SECTION("a new listener on a port in use") {
      // b is dropped and "clash" added: neither happens.
      dir.write("parkway.toml",
                listener_toml("a", "app") +
                    listener_toml("clash", "app", "", "127.0.0.1:" + std::to_string(taken_port)) +
                    cluster);
      const size_t mark = proxy->mark();
      proxy->signal(SIGHUP);
      await_log(*proxy,
                R"(error reload: listener "clash": cannot listen on 127\.0\.0\.1:)" +
                    std::to_string(taken_port) +
                    ": Address already in use; keeping the running configuration$",
                10s, mark);
    }
    INFO(log_of(*proxy));
    CHECK(proxy->find_all("reload: done").empty());
    CHECK(proxy->find_all("removed").empty());
    CHECK(dial_and_echo(a, "a still serves").has_value());
    CHECK(dial_and_echo(b, "b still serves").has_value());
    CHECK(echoes(*on_b, "and its connection too", now() + 5s));

    // The running configuration is intact: a good reload after a bad one applies.
    dir.write("parkway.toml", listener_toml("a", "app") + cluster);
    const size_t mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, R"(reload: done: 1 listener\(s\) \(0 added, 1 removed\))", 10s, mark);
    CHECK(echoes(*on_b, "b's connection outlives b", now() + 5s));
  });
}

TEST_CASE("SIGTERM: an in-flight 100 MiB transfer finishes, then the process exits 0",
          "[e2e][drain]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr uint64_t kSize = 100ull << 20;
  rt.run([&] {
    Backend backend([&](net::Conn& c) {
      GO_CHECK(checks, test::send_stream(c, 7, kSize, 256 * 1024).ok());
      GO_CHECK(checks, !c.shutdown_write());
      GO_CHECK(checks, !read_to_end(c, now() + 30s).error);
    });
    auto proxy =
        start_proxy(dir, "[runtime]\ndrain_timeout = \"60s\"\n" + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()}));
    const auto addr = loopback(proxy->port_of("app"));
    auto c = net::Conn::dial(addr, now() + 5s);
    REQUIRE(c);

    // Take the first MiB, then stop reading until the drain has begun: the rest of the
    // transfer is in flight (stalled in socket buffers) when SIGTERM arrives.
    std::vector<std::byte> buf(256 * 1024);
    uint64_t got = 0, mismatches = 0;
    std::error_code error;
    auto take = [&](uint64_t until) {
      while (got < until) {
        auto r = c->read(buf);
        if (r.error || r.bytes == 0) {
          error = r.error;
          return false;
        }
        mismatches += test::count_mismatches(7, got, std::span(buf.data(), r.bytes));
        got += r.bytes;
      }
      return true;
    };
    REQUIRE(take(1 << 20));
    proxy->signal(SIGTERM);
    await_log(*proxy, "SIGTERM: draining");
    await_log(*proxy, R"(stopped accepting; waiting up to 60s for 1 open connection\(s\))");
    auto late = net::Conn::dial(addr, now() + 5s);
    CHECK_FALSE(late.ok());
    if (!late) CHECK(net::is_refused(late.error()));

    take(UINT64_MAX);  // to the end of stream
    INFO(describe(error) << "\n" << log_of(*proxy));
    CHECK(!error);
    CHECK(got == kSize);
    CHECK(mismatches == 0);
    c->close();
    auto closed = await_log(
        *proxy,
        R"(closed \((\w+)\) after [0-9]+ms, client->upstream 0 bytes, upstream->client ([0-9]+) bytes)");
    CHECK(closed[1] == "upstream_eof");
    CHECK(closed[2] == std::to_string(kSize));
    await_log(*proxy, "drained: exiting$");
    CHECK(proxy->wait_exit(10s) == 0);
    CHECK(proxy->find_all("drain timeout").empty());
  });
  checks.report();
}

TEST_CASE("SIGTERM: a drain that runs out resets what is still open and exits 0", "[e2e][drain]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, "[runtime]\ndrain_timeout = \"300ms\"\n" + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()}));
    auto idle = dial_and_echo(loopback(proxy->port_of("app")), "idle from now on");
    REQUIRE(idle);
    const Time t0 = now();
    proxy->signal(SIGTERM);
    auto end = read_to_end(*idle, now() + 10s);
    await_log(*proxy, R"(drain timeout: resetting 1 connection\(s\) still open)");
    await_log(*proxy, "drained: exiting$");
    auto code = proxy->wait_exit(10s);
    const auto took = now() - t0;
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    CHECK(net::is_reset(end.error));
    CHECK(code == 0);
    CHECK(took >= 250ms);
    CHECK(took < 5s);
    auto closed = await_log(*proxy, R"(closed \((\w+)\))");
    CHECK(closed[1] == "drain_timeout");
  });
}

TEST_CASE("SIGTERM twice: the second exits at once", "[e2e][drain]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, "[runtime]\ndrain_timeout = \"60s\"\n" + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()}));
    auto idle = dial_and_echo(loopback(proxy->port_of("app")), "open");
    REQUIRE(idle);
    proxy->signal(SIGTERM);
    await_log(*proxy, R"(stopped accepting; waiting up to 60s for 1 open connection\(s\))");
    const Time t0 = now();
    proxy->signal(SIGTERM);
    auto code = proxy->wait_exit(10s);
    const auto took = now() - t0;
    INFO(log_of(*proxy));
    CHECK(code == 128 + SIGTERM);  // a forced stop is not a success
    CHECK(took < 3s);
    await_log(*proxy, R"(SIGTERM while draining: exiting now, resetting 1 open connection\(s\))");
    // The process is gone: its sockets are closed, one way or the other.
    auto end = read_to_end(*idle, now() + 5s);
    CHECK(!net::is_timeout(end.error));
  });
}

TEST_CASE("Ctrl-C twice: the first says how to stop at once, the second does, cause shutdown",
          "[e2e][drain]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, "[runtime]\ndrain_timeout = \"60s\"\n" + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()}));
    auto open = dial_and_echo(loopback(proxy->port_of("app")), "open");
    REQUIRE(open);
    proxy->signal(SIGINT);
    await_log(*proxy, R"(SIGINT: draining \(press Ctrl-C again to stop at once\)$)");
    await_log(*proxy, R"(stopped accepting; waiting up to 60s for 1 open connection\(s\))");
    proxy->signal(SIGINT);
    auto code = proxy->wait_exit(10s);
    INFO(log_of(*proxy));
    CHECK(code == 128 + SIGINT);
    // The process has exited, so no metric can be read: the connection's last log line
    // (the same cause the metric counts) says why it ended.
    auto closed = await_log(*proxy, R"(listener "app": client 127\.0\.0\.1:)" +
                                        std::to_string(open->local_address()->port()) +
                                        R"( -> \S+: closed \((\w+)\))");
    CHECK(closed[1] == "shutdown");
  });
}

TEST_CASE("SIGTERM: a drain that runs out also cuts a connect in progress short", "[e2e][drain]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    FullBacklog full;  // a connect to it neither completes nor fails
    REQUIRE(full.full());
    auto proxy = start_proxy(
        dir, "[runtime]\ndrain_timeout = \"300ms\"\n" + admin_toml() + listener_toml("app", "app") +
                 cluster_toml("app", {full.endpoint()}, "connect_timeout = \"60s\"\n"));
    const auto admin = admin_address(*proxy);
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    // Once the endpoint counts it, the connection's goroutine is in its connect, parked
    // for up to 60 s (the kernel's handshake with the client says nothing of parkway's
    // accept: a SIGTERM before it found no connection to cut).
    REQUIRE(await_metric(admin,
                         R"(parkway_endpoint_connections_active{cluster="app",endpoint=")" +
                             full.endpoint() + R"("})",
                         1) == 1);
    const Time t0 = now();
    proxy->signal(SIGTERM);
    await_log(*proxy, R"(drain timeout: resetting 1 connection\(s\) still open)");
    const auto code = proxy->wait_exit(20s);
    const Duration took = now() - t0;
    INFO(log_of(*proxy));
    CHECK(code == 0);
    CHECK(took < 5s);  // not the 60 s connect_timeout
    // Cut short, the attempt is not blamed on the endpoint.
    CHECK(proxy->find_all("connect failed").empty());
  });
}
