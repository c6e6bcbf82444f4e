// Case 8: upstreams that fail. A refused connect and a timed-out one (full accept queue)
// are retried on the next endpoint; when every attempt fails the client gets a clean,
// prompt end of stream with nothing in it; an endpoint that accepts and then resets
// fails the connection it took (with a reset, never a clean end) and the next
// connection goes on to the next endpoint. Nothing is left open in parkway after any of it.
//
// tests/e2e/traffic_test.cpp proves the single forms: "a refused endpoint is skipped: the
// next one serves the client", "every endpoint refused: the client is closed at once and
// the log names each failure", "connect timeout: an endpoint with a full accept queue is
// given up for the next", "connect timeout: with one unreachable endpoint the client is
// closed after the attempts".
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::End;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

// An echo of the client's stream, checked: the server reads it all and sends its own.
void serve(test::GoChecks& checks, Peer& p) {
  p.set_streams(2, 1);
  PEER_CHECK(checks, p,
             Script().both(Script().drain_eof(100000), Script().send(200000).shut_wr()).run(p));
}

std::string series(const std::string& family, const std::string& cluster,
                   const std::string& endpoint, const std::string& extra = "") {
  return family + "{cluster=\"" + cluster + "\",endpoint=\"" + endpoint + "\"" + extra + "}";
}

}  // namespace

TEST_CASE(
    "case 8: refused, timed-out and good endpoints in one cluster: every client is "
    "served by the good one, failures are counted by reason, nothing leaks",
    "[reliability][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    e2e::RefusedPort refused;
    e2e::FullBacklog full;
    REQUIRE(full.full());
    PeerServer good([&](Peer& p, int) { serve(checks, p); });
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") +
                 cluster_toml("app", {refused.endpoint(), full.endpoint(), good.endpoint()},
                              "connect_attempts = 3\nconnect_timeout = \"300ms\"\n"));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    constexpr int kClients = 6;
    for (int i = 0; i < kClients; i++) {
      auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
      REQUIRE(c);
      c->set_streams(1, 2);
      const bool ok =
          Script().both(Script().send(100000).shut_wr(), Script().drain_eof(200000)).run(*c);
      INFO("client " << i << ": " << c->failure() << "\n" << log_of(*proxy));
      CHECK(ok);
    }
    REQUIRE(good.wait_finished(kClients, now() + scaled(10s)));
    CHECK(good.accepted() == kClients);
    const auto m = observe::http_get(admin, "/metrics");
    REQUIRE(m.status == 200);
    INFO(m.body);
    const std::string failures = "parkway_endpoint_connect_failures_total";
    CHECK(
        observe::metric(m.body, series(failures, "app", refused.endpoint(), ",reason=\"refused\""))
            .value_or(0) >= 1);
    CHECK(observe::metric(m.body, series(failures, "app", full.endpoint(), ",reason=\"timeout\""))
              .value_or(0) >= 1);
    CHECK(observe::metric(m.body, series("parkway_endpoint_connects_total", "app",
                                         good.endpoint())) == kClients);
    CHECK(proxy->find_all("cannot connect").empty());
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}

TEST_CASE(
    "case 8: when every attempt fails (refused, timed out) the client is closed "
    "promptly: an empty end of stream, or a reset if it had sent bytes that went nowhere",
    "[reliability][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    e2e::RefusedPort refused;
    e2e::FullBacklog full;
    REQUIRE(full.full());
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {refused.endpoint(), full.endpoint()},
                                          "connect_attempts = 3\nconnect_timeout = \"300ms\"\n"
                                          // Every attempt of every client goes to both: no
                                          // passive ejection (tests/reliability/health_test.cpp
                                          // has that).
                                          "[cluster.outlier]\nenabled = false\n"));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    for (int i = 0; i < 4; i++) {
      // Even clients say nothing; odd ones send 1000 bytes first, which parkway never
      // reads: closing a socket with unread bytes is a reset (RFC 1122 4.2.2.13), and
      // rightly so here, since those bytes were delivered nowhere.
      const bool sends = i % 2 == 1;
      auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
      REQUIRE(c);
      c->set_streams(1, 2);
      const Time t0 = now();
      if (sends) REQUIRE(c->send(1000));
      c->drain();
      INFO("client " << i << ": " << to_string(c->end()) << "\n" << log_of(*proxy));
      CHECK(c->stream_received() == 0);
      CHECK(c->end() == (sends ? End::reset : End::eof));
      CHECK(now() - t0 < scaled(3s));  // at most 2 timeouts of 300 ms and a refusal
      CHECK(now() - t0 >= 250ms);      // the full endpoint's timeout was waited for
    }
    auto lines = proxy->wait_for_log_count("cannot connect to cluster \"app\": (.*); closing$", 4);
    REQUIRE(lines.size() == 4);
    for (const auto& l : lines) {
      CHECK_THAT(l[1], Catch::Contains(refused.endpoint() + ": refused"));
      CHECK_THAT(l[1], Catch::Contains(full.endpoint() + ": timed out after 300ms"));
    }
    CHECK(not_idle(*proxy, base, admin) == "");
  });
}

TEST_CASE(
    "case 8: an endpoint that accepts then resets fails the connection it took with a "
    "reset, and the next connection goes to the next endpoint",
    "[reliability][connect]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    PeerServer resetter([&](Peer& p, int) { p.reset(); });
    PeerServer good([&](Peer& p, int) { serve(checks, p); });
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {resetter.endpoint(), good.endpoint()},
                                                   "connect_attempts = 2\n"));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    constexpr int kClients = 6;
    int served = 0, reset = 0;
    for (int i = 0; i < kClients; i++) {
      const size_t mark = proxy->mark();
      auto c = Peer::connect(loopback(proxy->port_of("app")), scaled(10s));
      if (!c) {
        // On loopback parkway can accept, connect upstream, take the endpoint's reset and
        // reset the client before the client has even looked at its connect's outcome.
        INFO("client " << i << ": connect: " << c.error().message() << "\n" << log_of(*proxy));
        REQUIRE(net::is_reset(c.error()));
        auto closed = await_log(*proxy, R"(-> (\S+): closed \((\w+)\))", 10s, mark);
        CHECK(closed[1] == resetter.endpoint());
        CHECK(closed[2] == "upstream_reset");
        reset++;
        continue;
      }
      c->set_streams(1, 2);
      Script().both(Script().send(100000).shut_wr(), Script().drain()).run(*c);
      auto closed = await_log(*proxy, R"(-> (\S+): closed \((\w+)\))", 10s, mark);
      INFO("client " << i << ": " << to_string(c->end()) << ", " << c->failure() << "\n"
                     << log_of(*proxy));
      if (closed[1] == resetter.endpoint()) {
        // The connect had succeeded when the endpoint reset it: the client is told so
        // with a reset, and has received nothing that could pass for a complete stream.
        CHECK(closed[2] == "upstream_reset");
        CHECK(c->report().reset_seen());
        CHECK(c->stream_received() == 0);
        reset++;
      } else {
        // Served by the good endpoint (round robin sent it there, or the reset arrived
        // before parkway saw its connect complete, which fails that attempt: it is
        // retried on the next endpoint).
        CHECK(closed[1] == good.endpoint());
        CHECK((closed[2] == "client_eof" || closed[2] == "upstream_eof"));
        CHECK(c->end() == End::eof);
        CHECK(c->stream_received() == 200000);
        CHECK(c->report().mismatches == 0);
        served++;
      }
    }
    REQUIRE(good.wait_finished(served, now() + scaled(10s)));
    const auto m = observe::http_get(admin, "/metrics");
    REQUIRE(m.status == 200);
    const int retried = static_cast<int>(
        observe::metric(m.body, series("parkway_endpoint_connect_failures_total", "app",
                                       resetter.endpoint(), ",reason=\"reset\""))
            .value_or(0));
    INFO(served << " served, " << reset << " reset, " << retried << " retried\n" << m.body);
    // Every connection the resetting endpoint took either failed its client with a reset
    // or, reset during the connect, was retried on the good one.
    CHECK(served + reset == kClients);
    CHECK(resetter.accepted() == reset + retried);
    CHECK(good.accepted() == served);
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}
