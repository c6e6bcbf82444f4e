// Cases 4-5: a side that goes away before or during the stream.
//
// Case 4: the client closes while parkway is still connecting upstream. The upstream's
// accept queue is full, so parkway's SYN is dropped and its connect is in progress when
// the client leaves; the test then empties that queue, the kernel's SYN retransmission
// (about 1 s later) completes the connect, and the upstream must see what the client
// sent and how it left (end of stream, or a reset). Or the connect never completes and
// times out. Either way parkway ends with nothing open.
//
// Case 5: a reset mid-stream, from either side, reaches the other side promptly as a
// reset (never as a clean end of stream, which would pass a truncated stream off as a
// complete one), and parkway ends with nothing open.
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::End;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

constexpr uint64_t kUp = 1, kDown = 2;

const std::string kClosed =
    R"(closed \((\w+)\) after [0-9]+ms, client->upstream ([0-9]+) bytes, upstream->client ([0-9]+) bytes)";

// A listener with backlog 1 whose queue the test fills with connections of its own, so
// that further SYNs are dropped (a connect to it hangs), and empties on demand.
class StalledUpstream {
 public:
  StalledUpstream() : ln_(test::listen_local({.backlog = 1})) {
    const auto addr = *ln_.local_address();
    // The kernel queues backlog + 1 connections; the next SYN is dropped.
    for (int i = 0; i < 16; i++) {
      auto c = net::Conn::dial(addr, now() + 300ms);
      if (!c) {
        full_ = net::is_timeout(c.error());
        break;
      }
      fillers_.push_back(std::move(*c));
    }
  }
  bool full() const { return full_; }
  std::string endpoint() const { return ln_.local_address()->to_string(); }
  // Accepts and closes the fillers: the queue has room, and the next retransmitted SYN
  // completes a connection. Returns the connection after the fillers (parkway's).
  net::Result<net::Conn> release_and_accept(Duration within) {
    // The dial that timed out left a half-open attempt behind too; accept until a peer
    // that is not one of ours arrives.
    std::vector<uint16_t> ours;
    for (auto& f : fillers_) ours.push_back(f.local_address()->port());
    const Time deadline = now() + within;
    for (;;) {
      ln_.fd().set_read_deadline(deadline);
      net::SocketAddress peer;
      auto c = ln_.accept(&peer);
      if (!c) return c.error();
      if (std::find(ours.begin(), ours.end(), peer.port()) == ours.end()) return c;
      c->close();
    }
  }

 private:
  net::Listener ln_;
  std::vector<net::Conn> fillers_;
  bool full_ = false;
};

}  // namespace

TEST_CASE(
    "case 4: the client leaves while parkway is still connecting upstream: upstream sees "
    "the client's bytes and its close, and nothing leaks",
    "[reliability][abort]") {
  const bool with_reset = GENERATE(false, true);
  INFO((with_reset ? "the client resets" : "the client closes with a FIN"));
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    StalledUpstream upstream;
    REQUIRE(upstream.full());
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {upstream.endpoint()},
                                          "connect_attempts = 1\nconnect_timeout = \"20s\"\n"));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    const size_t mark = proxy->mark();

    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    REQUIRE(c->send(1000));
    // parkway's connect is in progress (its SYN was dropped): the client leaves now.
    if (with_reset) {
      c->reset();
    } else {
      c->close();
    }
    // Only now can the connect complete.
    auto up = upstream.release_and_accept(scaled(20s));
    REQUIRE(up);
    Peer u(std::move(*up));
    u.set_streams(kDown, kUp);
    const Time t0 = now();
    u.drain();
    INFO(u.failure() << "\n" << log_of(*proxy));
    CHECK(now() - t0 < scaled(5s));
    CHECK(u.report().mismatches == 0);
    if (with_reset) {
      // parkway read the reset: it resets the upstream (what the client had sent may
      // or may not have been readable before the reset; nothing else may arrive).
      CHECK(u.end() == End::reset);
      CHECK(u.stream_received() <= 1000);
    } else {
      CHECK(u.end() == End::eof);
      CHECK(u.stream_received() == 1000);
    }
    u.close();
    auto closed = await_log(*proxy, kClosed, 10s, mark);
    CHECK(closed[1] == (with_reset ? "client_reset" : "client_eof"));
    CHECK(not_idle(*proxy, base, admin) == "");
  });
}

TEST_CASE(
    "case 4: the client leaves while parkway is connecting and the connect times out: "
    "the client is gone, nothing leaks",
    "[reliability][abort]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    StalledUpstream upstream;
    REQUIRE(upstream.full());
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {upstream.endpoint()},
                                          "connect_attempts = 2\nconnect_timeout = \"400ms\"\n"));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    REQUIRE(c->send(10));
    c->close();
    auto m = await_log(*proxy, "cannot connect to cluster \"app\": (.*); closing$");
    CHECK(m[1] == upstream.endpoint() + ": timed out after 400ms; " + upstream.endpoint() +
                      ": timed out after 400ms");
    CHECK(not_idle(*proxy, base, admin) == "");
  });
}

TEST_CASE(
    "case 4: the upstream accepts late, after the client has left: it still gets the "
    "client's bytes and end of stream",
    "[reliability][abort]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    PeerServer server(
        [&](Peer& p, int) {
          p.set_streams(kDown, kUp);
          PEER_CHECK(checks, p, Script().drain_eof(5000).run(p));
        },
        {}, /*accept_late=*/true);
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") + cluster_toml("app", {server.endpoint()}));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    REQUIRE(c->send(5000));
    c->close();
    // The connect completed in the kernel; nobody has accepted it yet.
    await_log(*proxy, "connected in");
    server.release_accepts();
    REQUIRE(server.wait_finished(1, now() + scaled(10s)));
    CHECK(server.reports()[0].received_sum.value == c->report().sent_sum.value);
    auto closed = await_log(*proxy, kClosed);
    CHECK(closed[1] == "client_eof");
    CHECK(closed[2] == "5000");
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}

TEST_CASE(
    "case 5: a reset mid-stream, from the client or from the upstream, reaches the other "
    "side promptly as a reset",
    "[reliability][abort]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  const bool client_resets = GENERATE(true, false);
  // Whether the side that stays goes on streaming both ways, or has stopped reading (and
  // fallen silent), so that parkway is parked writing to it when the other side resets.
  const bool other_stalled = GENERATE(false, true);
  INFO((client_resets ? "the client resets" : "the upstream resets")
       << (other_stalled ? "; the other side has stopped reading" : "; both sides streaming"));
  rt.run([&] {
    Notification reset_done, may_drain;
    // The side that resets: streams both ways for a while (or, toward a stalled peer,
    // sends until every buffer on the way is full), then resets.
    auto resetter = [&](Peer& p) {
      if (other_stalled) {
        p.step_timeout = 500ms;
        p.send(1ull << 30);  // ends with a timeout once the buffers are full
      } else {
        PEER_CHECK(
            checks, p,
            Script()
                .both(Script().send_slowly(2 << 20, 64 * 1024, 1ms), Script().recv(256 * 1024))
                .run(p));
      }
      p.reset();
      reset_done.notify();
    };
    // The side that stays: streams until its end, or stops reading and writing until the
    // test has seen what parkway does, then reads what is buffered and the end it gets.
    auto stayer = [&](Peer& p) {
      if (other_stalled) {
        p.set_rcvbuf(kSmallRcvbuf);
        p.send(4096);
        may_drain.wait_for(scaled(60s));
        p.drain();
      } else {
        Script().both(Script().send_slowly(64 << 20, 64 * 1024, 1ms), Script().drain()).run(p);
      }
    };
    PeerServer server([&](Peer& p, int) {
      p.set_streams(kDown, kUp);
      if (client_resets) {
        stayer(p);
      } else {
        resetter(p);
      }
    });
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") + cluster_toml("app", {server.endpoint()}));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(kUp, kDown);
    Notification client_done;
    go([&] {
      if (client_resets) {
        resetter(*c);
      } else {
        stayer(*c);
      }
      client_done.notify();
    });
    REQUIRE(reset_done.wait_for(scaled(30s)));
    const Time reset_at = now();
    // parkway notices the reset on its own: the connection ends, both sides closed.
    auto closed = proxy->wait_for_log(kClosed, 5s);
    const Duration noticed = now() - reset_at;
    may_drain.notify();
    REQUIRE(client_done.wait_for(scaled(60s)));
    REQUIRE(server.wait_finished(1, now() + scaled(60s)));
    const peer::Report other = client_resets ? server.reports()[0] : c->report();
    INFO("the other side: " << to_string(other.end) << ", " << other.failure << "\n"
                            << log_of(*proxy));
    REQUIRE(closed);
    CHECK((*closed)[1] == (client_resets ? "client_reset" : "upstream_reset"));
    CHECK(noticed < scaled(2s));
    CHECK(other.reset_seen());
    CHECK(other.mismatches == 0);
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}

TEST_CASE(
    "case 5: a reset is never passed on as an end of stream, however parkway's two pumps "
    "race for it (200 times each way)",
    "[reliability][abort]") {
  // The kernel reports a reset once. When a peer resets while parkway is writing to it
  // (bytes are still on their way) and also waiting to read from it, the pump that
  // writes may take the reset, and the one that reads then sees a plain end of stream,
  // which it must not pass on as one.
  //
  // Each round: the side that stays sends 512 KiB (into the buffers) and then only
  // reads; once its send is done, the side that resets reads 64 KiB, parkway still
  // writing the rest to it, and resets. The side that stays must then read a reset, never
  // an end of stream. (Its own writer is idle by then, so it cannot take the reset from
  // its reader the same way.)
  const bool client_resets = GENERATE(false, true);
  INFO((client_resets ? "the client resets" : "the upstream resets"));
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr int kRounds = 200;
  rt.run([&] {
    std::vector<std::unique_ptr<Notification>> sent;
    for (int i = 0; i < kRounds; i++) sent.push_back(std::make_unique<Notification>());
    auto resetter = [&](Peer& p, int round) {
      // Should the buffers on the way not hold it all, the stayer's send cannot finish
      // before this side reads: go ahead after a while (that round is inconclusive).
      sent[round]->wait_for(500ms);
      p.recv(64 * 1024);
      p.reset();
    };
    auto stayer = [&](Peer& p, int round) {
      p.step_timeout = scaled(20s);
      p.send(256 * 1024);
      sent[round]->notify();
      p.drain();
    };
    PeerServer server([&](Peer& p, int round) {
      p.set_streams(kDown, kUp);
      if (client_resets) {
        stayer(p, round);
      } else {
        resetter(p, round);
      }
    });
    auto proxy =
        start_proxy(dir, listener_toml("app", "app") + cluster_toml("app", {server.endpoint()}),
                    {"--log-level", "info"});
    const auto addr = loopback(proxy->port_of("app"));
    int clean_ends = 0, inconclusive = 0;
    std::string example;
    for (int i = 0; i < kRounds; i++) {
      Peer c = connect_peer(addr);
      c.set_streams(kUp, kDown);
      if (client_resets) {
        resetter(c, i);
      } else {
        stayer(c, i);
      }
      REQUIRE(server.wait_finished(i + 1, now() + scaled(20s)));
      const peer::Report other = client_resets ? server.reports()[i] : c.report();
      if (other.write_reset) {
        inconclusive++;  // its own writer took the reset: its reader could not see it
      } else if (other.end != End::reset) {
        clean_ends++;
        example = std::string(to_string(other.end)) + " after " + std::to_string(other.received) +
                  " bytes";
      }
      CHECK(other.mismatches == 0);
    }
    INFO(clean_ends << " of " << kRounds << " saw no reset, e.g. " << example << "; "
                    << inconclusive << " inconclusive");
    CHECK(clean_ends == 0);
    CHECK(inconclusive < kRounds / 4);
  });
  checks.report();
}
