// The scriptable peer itself, peer to peer without parkway in between: a tool that the
// other tests trust must be shown to notice what they rely on it to notice (a lost or
// altered byte, an early end, a reset instead of an end of stream, a stall).
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::reliability;
using peer::End;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

TEST_CASE("peer: a script as text reads back as the same steps, and bad text is refused",
          "[reliability][peer]") {
  const Script s = Script::parse(
      "send 1M 4K; send_slowly 10K 1K 1ms\nrecv 2K; recv_slowly 3 1 5ms; eof; drain; "
      "drain_eof 7G; expect_reset; expect_reset 12; shut_wr; reset; close; pause 250ms; "
      "stop_reading 1s; rcvbuf 4K");
  CHECK(s.describe() ==
        "send 1048576\nsend_slowly 10240 1024 1ms\nrecv 2048\nrecv_slowly 3 1 5ms\neof\ndrain\n"
        "drain_eof 7516192768\nexpect_reset\nexpect_reset 12\nshut_wr\nreset\nclose\n"
        "pause 250ms\nstop_reading 1000ms\nrcvbuf 4096\n");
  CHECK_THROWS_WITH(Script::parse("send"), Catch::Contains("send takes 1 to 2 argument(s)"));
  CHECK_THROWS_WITH(Script::parse("send 5X"), Catch::Contains("bad size '5X'"));
  CHECK_THROWS_WITH(Script::parse("pause 5"), Catch::Contains("bad duration '5'"));
  CHECK_THROWS_WITH(Script::parse("jump 3"), Catch::Contains("unknown step 'jump'"));
}

TEST_CASE("peer: streams, checksums, EOF and reset are seen for what they are",
          "[reliability][peer]") {
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    // Connection 0: a clean exchange. 1: the server sends another stream than expected.
    // 2: the server resets after 1000 bytes. 3: the server ends early with a FIN.
    // 4: the server sends nothing and holds the connection open.
    Notification release;
    PeerServer server([&](Peer& p, int index) {
      p.set_streams(20 + static_cast<uint64_t>(index), 10);
      switch (index) {
        case 0: PEER_CHECK(checks, p, Script().drain_eof(5000).send(7000).shut_wr().run(p)); break;
        case 1:
          p.set_streams(999, 10);
          p.send(3000);
          p.shut_wr();
          break;
        case 2:
          p.send(1000);
          p.pause(20ms);
          p.reset();
          break;
        case 3:
          p.send(100);
          p.close();
          break;
        default: release.wait_for(e2e::scaled(20s));
      }
    });
    auto connect = [&](int index) {
      auto c = Peer::connect(server.address());
      REQUIRE(c);
      c->set_streams(10, 20 + static_cast<uint64_t>(index));
      return std::move(*c);
    };

    Peer a = connect(0);
    CHECK(Script().send(5000).shut_wr().drain_eof(7000).run(a));
    CHECK(a.ok());
    REQUIRE(server.wait_finished(1, now() + e2e::scaled(10s)));
    CHECK(server.reports()[0].received_sum.value == a.report().sent_sum.value);
    CHECK(server.reports()[0].sent_sum.value == a.report().received_sum.value);

    Peer b = connect(1);
    CHECK_FALSE(Script().recv(3000).run(b));
    CHECK(b.report().mismatches > 2900);
    CHECK_THAT(b.failure(), Catch::StartsWith("step 1 (recv 3000): recv: ") &&
                                Catch::EndsWith("bytes differ from the expected stream"));

    Peer c = connect(2);
    CHECK(c.expect_reset(1000));
    CHECK(c.end() == End::reset);
    CHECK(c.stream_received() == 1000);
    CHECK(c.ok());

    Peer d = connect(3);
    CHECK_FALSE(Script().recv(200).run(d));
    CHECK(d.end() == End::eof);
    CHECK(d.failure() == "step 1 (recv 200): recv: end of stream after 100 of 200 bytes");
    Peer d2 = connect(3);  // connection 4 now: silent
    d2.step_timeout = std::chrono::milliseconds(200);
    CHECK_FALSE(d2.eof());
    CHECK(d2.end() == End::timeout);
    release.notify();
    CHECK_FALSE(Script().expect_reset().run(a));  // a clean end is not a reset
  });
  checks.report();
}
