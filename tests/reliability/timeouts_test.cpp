// Case 7: timeouts when data is still buffered, and nothing left behind after any timeout.
//
// tests/e2e/timeouts_test.cpp proves the timeouts of connections with nothing in flight:
// "idle timeout: an idle connection is reset, one moving bytes one way lives on", "FIN
// timeout: half-closed, the open direction idle, the connection is reset", "max duration:
// a busy connection is still cut at max_duration". Here a reader has stopped, so parkway
// is parked on a write with bytes in its pipe when the timer fires: the timeout must
// still fire (a stalled write is no activity), reset both sides, discard the pipe that
// holds the undelivered bytes (never hand them to another connection), and leave parkway
// holding nothing.
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::End;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

const std::string kClosed =
    R"(closed \((\w+)\) after ([0-9]+)ms, client->upstream ([0-9]+) bytes, upstream->client ([0-9]+) bytes)";

struct Stalled {
  std::string name;
  std::string cluster_extra;  // the timeouts
  bool client_half_closes;    // the client sends its FIN first (fin_timeout applies)
  std::string cause;
  Duration at_least;  // the timeout: the connection may not end sooner
};

}  // namespace

TEST_CASE(
    "case 7: a reader that stopped with bytes in flight: idle_timeout, fin_timeout and "
    "max_duration still end the connection, and nothing is left",
    "[reliability][timeouts]") {
  const Stalled s =
      GENERATE(Stalled{"idle_timeout", "idle_timeout = \"500ms\"\n", false, "idle_timeout", 400ms},
               Stalled{"fin_timeout", "idle_timeout = \"1h\"\nfin_timeout = \"500ms\"\n", true,
                       "fin_timeout", 400ms},
               Stalled{"max_duration, idle_timeout off",
                       "idle_timeout = \"0s\"\nfin_timeout = \"0s\"\nmax_duration = \"1s\"\n", true,
                       "max_duration", 900ms});
  INFO(s.name);
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    Notification stalled;
    PeerServer server([&](Peer& p, int) {
      p.set_streams(2, 1);
      // Sends until every buffer on the way to the (stopped) client is full, then waits
      // for whatever parkway does to it.
      p.step_timeout = 300ms;
      p.send(1ull << 30);  // ends with a timeout: the buffers are full
      stalled.notify();
      // Still sending (parked on a full buffer): parkway's reset fails this write.
      p.step_timeout = scaled(20s);
      p.send(1ull << 30);
    });
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {server.endpoint()}, s.cluster_extra));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(1, 2);
    REQUIRE(c->set_rcvbuf(kSmallRcvbuf));
    REQUIRE(c->send(100));
    if (s.client_half_closes) REQUIRE(c->shut_wr());
    REQUIRE(c->recv(1));  // the stream has started; from now on the client reads nothing
    REQUIRE(stalled.wait_for(scaled(20s)));
    const Time stalled_at = now();
    auto closed = await_log(*proxy, kClosed, 10s);
    const Duration ended_after = now() - stalled_at;
    INFO(log_of(*proxy));
    CHECK(closed[1] == s.cause);
    CHECK(closed[3] == "100");
    CHECK(std::stoll(closed[2]) >=
          std::chrono::duration_cast<std::chrono::milliseconds>(s.at_least).count());
    CHECK(ended_after < scaled(5s));
    // Both sides were reset: the client after what had reached its buffer, the server
    // in the write it was parked in.
    c->step_timeout = scaled(10s);
    CHECK(c->expect_reset());
    CHECK(c->report().mismatches == 0);
    REQUIRE(server.wait_finished(1, now() + scaled(20s)));
    CHECK(server.reports()[0].reset_seen());
    // The pipe (or, for a small last chunk, the copy buffer) that held undelivered bytes
    // was dropped, not pooled.
    const auto m = observe::http_get(admin, "/metrics");
    REQUIRE(m.status == 200);
    CHECK(observe::metric(m.body, "parkway_pipes_discarded_total").value_or(0) +
              observe::metric(m.body, "parkway_copy_buffers_discarded_total").value_or(0) >=
          1);
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}
