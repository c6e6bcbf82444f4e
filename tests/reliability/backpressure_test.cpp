// Case 6: a slow reader. 256 MiB from a fast upstream into a client that reads slowly:
// parkway holds no more than a pipe's worth of each direction in flight (it splices
// through the kernel and waits for the reader), so its memory stays flat while every
// byte arrives, in order.
#include <algorithm>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

TEST_CASE("case 6: 256 MiB into a slow reader: every byte arrives and parkway's RSS stays flat",
          "[reliability][backpressure]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr uint64_t kSize = 256ull << 20;
  // The bound on parkway's memory growth while the transfer runs: what the transfer may
  // cost beyond the idle process. 256 MiB pass through; a proxy that buffered what the
  // reader has not taken yet would grow by most of that. Sanitizer builds allocate (and
  // quarantine) more for their own bookkeeping.
  constexpr long kBoundKiB = kSanitized ? 64 * 1024 : 16 * 1024;
  rt.run([&] {
    PeerServer server([&](Peer& p, int) {
      p.set_streams(2, 1);
      p.step_timeout = scaled(300s);
      PEER_CHECK(checks, p, Script().send(kSize, 1 << 20).shut_wr().drain_eof(0).run(p));
    });
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") + cluster_toml("app", {server.endpoint()}));
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    const observe::Memory before = observe::memory(proxy->pid());
    REQUIRE(before.rss_kib > 0);

    // Sample parkway's memory while the transfer runs.
    std::atomic<bool> done{false};
    std::atomic<long> max_rss{0};
    Notification sampler_done;
    go([&] {
      while (!done.load()) {
        const long rss = observe::memory(proxy->pid()).rss_kib;
        long seen = max_rss.load();
        while (rss > seen && !max_rss.compare_exchange_weak(seen, rss)) {
        }
        sleep_for(20ms);  // the sampling period: time itself is what is measured here
      }
      sampler_done.notify();
    });

    auto c = std::make_optional(connect_peer(loopback(proxy->port_of("app"))));
    REQUIRE(c);
    c->set_streams(1, 2);
    c->step_timeout = scaled(300s);
    const Time t0 = now();
    // 128 KiB every millisecond at most, a small receive buffer: the upstream can send
    // far faster than this, so parkway spends the transfer waiting on the reader.
    const bool ok = Script()
                        .set_rcvbuf(kSmallRcvbuf)
                        .recv_slowly(kSize, 128 * 1024, 1ms)
                        .shut_wr()
                        .eof()
                        .run(*c);
    const Duration took = now() - t0;
    done.store(true);
    sampler_done.wait();
    const observe::Memory after = observe::memory(proxy->pid());
    INFO(c->failure() << "\nparkway RSS before " << before.rss_kib << " KiB, peak during "
                      << max_rss.load() << " KiB, after " << after.rss_kib << " KiB; VmHWM before "
                      << before.hwm_kib << " KiB, after " << after.hwm_kib << " KiB; took "
                      << std::chrono::duration<double>(took).count() << " s");
    CHECK(ok);
    CHECK(c->stream_received() == kSize);
    CHECK(c->report().mismatches == 0);
    CHECK(max_rss.load() - before.rss_kib < kBoundKiB);
    CHECK(after.hwm_kib - before.hwm_kib < kBoundKiB);
    REQUIRE(server.wait_finished(1, now() + scaled(30s)));
    CHECK(server.reports()[0].sent_sum.value == c->report().received_sum.value);
    c->close();
    auto closed = await_log(
        *proxy,
        R"(closed \((\w+)\) after [0-9]+ms, client->upstream 0 bytes, upstream->client ([0-9]+) bytes)");
    CHECK(closed[1] == "upstream_eof");
    CHECK(closed[2] == std::to_string(kSize));
    CHECK(not_idle(*proxy, base, admin) == "");
  });
  checks.report();
}
