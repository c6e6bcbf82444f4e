// Connection timeouts through the real binary: idle_timeout, fin_timeout, max_duration.
// Each asserts the close cause by its metric and in the connection's log line, what the
// client sees (a reset), and checks timing only with wide tolerances.
#include "tests/e2e/e2e.h"

using namespace parkway;
using namespace parkway::e2e;

namespace {

// The "closed" line of the connection of client `c`: cause, ms, bytes up, bytes down.
std::string closed_line(const net::Conn& c) {
  return R"(listener "app": client 127\.0\.0\.1:)" + std::to_string(c.local_address()->port()) +
         R"( -> \S+: closed \((\w+)\) after ([0-9]+)ms, client->upstream ([0-9]+) bytes, upstream->client ([0-9]+) bytes)";
}

LogMatch await_closed(ProxyProcess& p, const net::Conn& c, milliseconds timeout = 10s) {
  return await_log(p, closed_line(c), timeout);
}

}  // namespace

TEST_CASE("idle timeout: an idle connection is reset, one moving bytes one way lives on",
          "[e2e][timeouts]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    // First byte 'e': echo. 's': a sink that never answers, so that only one direction
    // of that connection moves bytes.
    Backend backend([&](net::Conn& c) {
      auto mode = read_exactly(c, 1);
      if (mode.data == "e") {
        echo(c);
        return;
      }
      read_to_end(c);
      c.shutdown_write();
    });
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") +
                 cluster_toml("app", {backend.endpoint()}, "idle_timeout = \"500ms\"\n"));
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));

    auto idle = net::Conn::dial(addr, now() + 5s);
    REQUIRE(idle);
    REQUIRE_FALSE(idle->write_all(bytes_of("e")).error);
    REQUIRE(echoes(*idle, "X", now() + 5s));
    const Time last_byte = now();

    // The busy one: a byte every 100ms to the sink for 1.5s (3 idle timeouts), while
    // upstream->client stays silent throughout.
    auto busy = net::Conn::dial(addr, now() + 5s);
    REQUIRE(busy);
    REQUIRE_FALSE(busy->write_all(bytes_of("s")).error);
    Notification busy_done;
    Duration busy_lived{};
    EndResult busy_end;
    go([&] {
      const Time t0 = now();
      for (int i = 0; i < 15; i++) {
        sleep_for(100ms);  // pacing the traffic, not waiting for anything
        GO_CHECK(checks, !busy->write_all(bytes_of("t")).error);
      }
      busy_lived = now() - t0;
      GO_CHECK(checks, !busy->shutdown_write());
      busy_end = read_to_end(*busy, now() + 10s);
      busy_done.notify();
    });

    auto end = read_to_end(*idle, now() + 10s);
    const auto idle_lived = now() - last_byte;
    CHECK(net::is_reset(end.error));
    CHECK(idle_lived >= 400ms);
    CHECK(idle_lived < 5s);
    auto closed = proxy->wait_for_log(closed_line(*idle), 10s);
    CHECK(closed.has_value());
    if (closed) CHECK((*closed)[1] == "idle_timeout");
    CHECK(await_metric(admin, closed_series("app", "idle_timeout"), 1) == 1);

    // Wait for the busy one before anything can end the test: it uses this frame.
    const bool busy_finished = busy_done.wait_for(30s);
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    REQUIRE(busy_finished);
    CHECK(busy_lived >= 1400ms);
    CHECK(describe(busy_end.error) == "end of stream");
    auto busy_closed = await_closed(*proxy, *busy);
    CHECK(busy_closed[1] == "client_eof");
    CHECK(busy_closed[3] == "16");  // 's' and 15 ticks
    CHECK(std::stoll(busy_closed[2]) >= 1400);
    CHECK(await_metric(admin, closed_series("app", "client_eof"), 1) == 1);
    CHECK(read_metric(admin, closed_series("app", "idle_timeout")) == 1);
  });
  checks.report();
}

TEST_CASE("FIN timeout: half-closed, the open direction idle, the connection is reset",
          "[e2e][timeouts]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  Notification release;
  rt.run([&] {
    // Reads to the client's end of stream, then neither answers nor closes.
    Backend backend([&](net::Conn& c) {
      auto got = read_to_end(c, now() + 20s);
      GO_CHECK(checks, !got.error);
      GO_CHECK(checks, got.bytes == 4);
      release.wait_for(20s);
    });
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()},
                                          "idle_timeout = \"1h\"\nfin_timeout = \"500ms\"\n"));
    const auto admin = admin_address(*proxy);
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    REQUIRE_FALSE(c->write_all(bytes_of("data")).error);
    REQUIRE_FALSE(c->shutdown_write());
    const Time fin = now();
    auto end = read_to_end(*c, now() + 10s);
    const auto lived = now() - fin;
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    CHECK(net::is_reset(end.error));
    CHECK(lived >= 400ms);
    CHECK(lived < 5s);
    auto closed = await_closed(*proxy, *c);
    CHECK(closed[1] == "fin_timeout");
    CHECK(closed[3] == "4");
    CHECK(closed[4] == "0");
    CHECK(await_metric(admin, closed_series("app", "fin_timeout"), 1) == 1);
    release.notify();
  });
  checks.report();
}

TEST_CASE("max duration: a busy connection is still cut at max_duration", "[e2e][timeouts]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()},
                                          "idle_timeout = \"300ms\"\nmax_duration = \"1s\"\n"));
    const auto admin = admin_address(*proxy);
    const Time t0 = now();
    auto c = net::Conn::dial(loopback(proxy->port_of("app")), now() + 5s);
    REQUIRE(c);
    // Echo as fast as it goes, both ways at once, until the proxy cuts it.
    Notification writer_done;
    std::error_code write_error;
    go([&] {
      std::vector<std::byte> chunk(16 * 1024, std::byte{'x'});
      for (;;) {
        auto w = c->write_all(chunk);
        if (w.error) {
          write_error = w.error;
          break;
        }
      }
      writer_done.notify();
    });
    auto end = read_to_end(*c, now() + 20s);
    const auto lived = now() - t0;
    REQUIRE(writer_done.wait_for(10s));
    INFO(describe(end.error) << "\n" << log_of(*proxy));
    // A reset is reported once, to whichever of the reader and the writer asks first;
    // the other then sees an end of stream or a broken pipe.
    CHECK(!net::is_timeout(end.error));
    CHECK((net::is_reset(end.error) || net::is_reset(write_error)));
    CHECK(end.bytes > 0);
    CHECK(lived >= 900ms);
    CHECK(lived < 5s);
    auto closed = await_closed(*proxy, *c);
    CHECK(closed[1] == "max_duration");
    CHECK(std::stoll(closed[2]) >= 1000);
    CHECK(std::stoll(closed[2]) < 5000);
    CHECK(std::stoull(closed[3]) > 0);
    CHECK(std::stoull(closed[4]) > 0);
    CHECK(await_metric(admin, closed_series("app", "max_duration"), 1) == 1);
  });
}
