// Cases 1-3: the end of a stream is passed on as a half-close, and never costs a byte.
//
// tests/e2e/traffic_test.cpp already proves the plain forms ("half-close: the server
// speaks first and shuts down, the client replies after EOF"; "half-close: the client
// shuts down writing and still reads the whole reply"). These add what those do not: the
// FIN passed on while the other direction is still in full flow, an upstream that
// close()s at once (not a shutdown) with megabytes still buffered in parkway, a client
// FIN that arrives while parkway still holds its data, and, after each, parkway holding
// nothing (descriptors back to idle, no CLOSE_WAIT, no pipe in use).
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

constexpr uint64_t kUp = 1, kDown = 2;  // stream seeds: client->upstream, upstream->client

std::string app_toml(const PeerServer& s) {
  return admin_toml() + listener_toml("app", "app") + cluster_toml("app", {s.endpoint()});
}

const std::string kClosed =
    R"(closed \((\w+)\) after [0-9]+ms, client->upstream ([0-9]+) bytes, upstream->client ([0-9]+) bytes)";

}  // namespace

TEST_CASE(
    "case 1: upstream speaks first, its FIN passes while the client is still sending, "
    "both sides drain fully",
    "[reliability][half_close]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr uint64_t kServer = 3 << 20, kClient = 8 << 20;
  rt.run([&] {
    PeerServer server([&](Peer& p, int) {
      p.set_streams(kDown, kUp);
      // Speaks first and finishes first; reads the client's whole stream meanwhile.
      PEER_CHECK(
          checks, p,
          Script().both(Script().send(kServer).shut_wr(), Script().drain_eof(kClient)).run(p));
    });
    auto proxy = start_proxy(dir, app_toml(server));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);

    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    // Reads the server's stream to its end while still sending its own, then finishes.
    const bool ok = Script()
                        .both(Script().recv(kServer).eof(),
                              Script().send_slowly(kClient, 256 * 1024, 2ms).shut_wr())
                        .run(*c);
    INFO(c->failure() << "\n" << log_of(*proxy));
    CHECK(ok);
    REQUIRE(server.wait_finished(1, now() + scaled(30s)));
    auto closed = await_log(*proxy, kClosed);
    CHECK(closed[1] == "upstream_eof");
    CHECK(closed[2] == std::to_string(kClient));
    CHECK(closed[3] == std::to_string(kServer));
    CHECK(c->report().sent_sum.value == server.reports()[0].received_sum.value);
    CHECK(c->report().received_sum.value == server.reports()[0].sent_sum.value);
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}

TEST_CASE(
    "case 2: upstream writes then closes at once: the client, reading late, receives "
    "every byte, then EOF",
    "[reliability][half_close]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr uint64_t kSize = 16 << 20;
  rt.run([&] {
    std::atomic<int64_t> server_closed_at{0};
    PeerServer server([&](Peer& p, int) {
      p.set_streams(kDown, kUp);
      // write(), then close() at once: no shutdown first, nothing read.
      PEER_CHECK(checks, p, Script().send(kSize, 1 << 20).close().run(p));
      server_closed_at.store(now().time_since_epoch().count());
    });
    auto proxy = start_proxy(dir, app_toml(server));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);

    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    // A reader slower than the writer (64 KiB per 2 ms) with a small receive buffer: the
    // upstream has written its last byte and closed while megabytes are still on their
    // way through parkway.
    const bool ok =
        Script().set_rcvbuf(kSmallRcvbuf).recv_slowly(kSize, 64 * 1024, 2ms).eof().run(*c);
    const auto client_done_at = now().time_since_epoch().count();
    INFO(c->failure() << "\n" << log_of(*proxy));
    CHECK(ok);
    REQUIRE(server.wait_finished(1, now() + scaled(10s)));
    // The upstream had closed well before the client had its last byte.
    CHECK(server_closed_at.load() > 0);
    CHECK(server_closed_at.load() < client_done_at);
    CHECK(c->report().received_sum.value == server.reports()[0].sent_sum.value);
    // The client's own direction is still open: finishing it ends the connection.
    REQUIRE(c->shut_wr());
    auto closed = await_log(*proxy, kClosed);
    CHECK(closed[1] == "upstream_eof");
    CHECK(closed[3] == std::to_string(kSize));
    c->close();
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}

TEST_CASE(
    "case 3: the client sends data plus FIN at once: upstream receives every byte and "
    "EOF, and its reply still reaches the client",
    "[reliability][half_close]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr uint64_t kRequest = 8 << 20, kReply = 4 << 20;
  rt.run([&] {
    PeerServer server([&](Peer& p, int) {
      p.set_streams(kDown, kUp);
      // Reads slowly at first, so that the client's FIN reaches parkway long before
      // parkway has written the client's data; then replies after the EOF, and closes.
      PEER_CHECK(checks, p,
                 Script()
                     .set_rcvbuf(kSmallRcvbuf)
                     .stop_reading(300ms)
                     .recv_slowly(1 << 20, 64 * 1024, 5ms)
                     .drain_eof(kRequest)
                     .send(kReply)
                     .shut_wr()
                     .run(p));
    });
    auto proxy = start_proxy(dir, app_toml(server));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);

    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    // Sending happens concurrently with nothing: the request and the FIN go out as fast
    // as the buffers take them, and only then does the client read.
    const bool ok = Script().send(kRequest).shut_wr().drain_eof(kReply).run(*c);
    INFO(c->failure() << "\n" << log_of(*proxy));
    CHECK(ok);
    REQUIRE(server.wait_finished(1, now() + scaled(30s)));
    const auto sr = server.reports()[0];
    CHECK(sr.ok());
    CHECK(sr.received == kRequest);
    CHECK(sr.received_sum.value == c->report().sent_sum.value);
    auto closed = await_log(*proxy, kClosed);
    CHECK(closed[1] == "client_eof");
    CHECK(closed[2] == std::to_string(kRequest));
    CHECK(closed[3] == std::to_string(kReply));
    c->close();
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}
