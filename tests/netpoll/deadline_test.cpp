// Read and write deadlines: past, future, extended, sub-millisecond, and resets racing
// the timer's expiry.
#include <time.h>

#include <catch2/catch.hpp>
#include <climits>
#include <random>

#include "netpoll/netpoll.h"
#include "scheduler/channel.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/go_check.h"

using namespace std::chrono_literals;
using namespace parkway;

namespace {

// A connected pair of Conns on loopback.
struct Pair {
  net::Conn client, server;
};

Pair connect_pair() {
  net::Listener ln = test::listen_local();
  auto c = net::Conn::dial(test::address_of(ln));
  auto s = ln.accept();
  if (!c || !s) throw std::runtime_error("connect_pair failed");
  return {std::move(*c), std::move(*s)};
}

}  // namespace

TEST_CASE("a read deadline in the past fails at once, even with data waiting", "[deadline]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Pair p = connect_pair();
    p.client.write_all(std::as_bytes(std::span("x", 1)));
    p.server.set_read_deadline(now() - 1s);
    std::byte buf[16];
    auto start = now();
    auto r = p.server.read(buf);
    CHECK(net::is_timeout(r.error));
    CHECK(now() - start < 1s);
    // Clearing the deadline makes the socket usable again.
    p.server.set_read_deadline(kNoDeadline);
    r = p.server.read(buf);
    CHECK(r.ok());
    CHECK(r.bytes == 1);
  });
}

TEST_CASE("a future deadline fires, never early", "[deadline]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    Pair p = connect_pair();
    std::byte buf[16];
    for (auto d : {50ms, 5ms}) {
      auto start = now();
      p.server.set_read_deadline(start + d);
      auto r = p.server.read(buf);
      auto took = now() - start;
      CHECK(net::is_timeout(r.error));
      CHECK(took >= d);
      CHECK(took < d + 5s);  // wide: shared machines stall
    }
    // Write deadlines: fill the peer's receive buffer and ours until writing blocks.
    std::vector<std::byte> big(1 << 20);
    auto start = now();
    p.client.set_write_deadline(start + 100ms);
    net::IoResult w;
    for (int i = 0; i < 256 && !w.error; i++) w = p.client.write_all(big);
    CHECK(net::is_timeout(w.error));
    CHECK(now() - start >= 100ms);
  });
}

TEST_CASE("sub-millisecond deadlines are honoured, not rounded down", "[deadline]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Pair p = connect_pair();
    std::byte buf[16];
    for (int i = 0; i < 20; i++) {
      auto start = now();
      auto d = std::chrono::microseconds(100 + 40 * i);
      p.server.set_read_deadline(start + d);
      auto r = p.server.read(buf);
      CHECK(net::is_timeout(r.error));
      CHECK(now() - start >= d);
    }
  });
}

TEST_CASE("an extended deadline does not fire early", "[deadline]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    Pair p = connect_pair();
    auto start = now();
    p.server.set_read_deadline(start + 30ms);
    Notification extended;
    go([&] {
      // Push the deadline out many times, the way an idle timeout moves on every read:
      // each push is a store the armed timer re-checks when it fires.
      for (int i = 0; i < 1000; i++) p.server.set_read_deadline(start + 200ms);
      extended.notify();
    });
    extended.wait();
    std::byte buf[16];
    auto r = p.server.read(buf);
    CHECK(net::is_timeout(r.error));
    CHECK(now() - start >= 200ms);

    // Moving it earlier takes effect too.
    start = now();
    p.server.set_read_deadline(start + 10s);
    go([&] { p.server.set_read_deadline(now() + 20ms); });
    r = p.server.read(buf);
    CHECK(net::is_timeout(r.error));
    CHECK(now() - start < 5s);
  });
}

TEST_CASE("10,000 deadline resets racing expiry never wake a reader wrongly", "[deadline]") {
  // Each round: the reader parks in read(); the resetter sets a near deadline, then moves
  // it far out at a random moment around the near deadline, then sends a byte. If the move
  // completed before the near deadline, the reader must get the byte, not a timeout. A
  // timeout must never come before the near deadline. Between the two, either is right.
  Runtime rt({.procs = 2});
  constexpr int kRounds = 10'000;
  std::atomic<int> early_timeouts{0}, timeouts{0}, bytes{0};
  struct Round {
    Time near;
    Time move_done;
    bool timed_out = false;
  };
  std::vector<Round> rounds;
  rt.run([&] {
    Pair p = connect_pair();
    Channel<int> round_start(1);    // resetter -> reader: round i begins
    Channel<bool> round_result(1);  // reader -> resetter: true if the round timed out
    rounds.resize(kRounds);
    go([&] {  // reader
      std::byte buf[1];
      while (auto i = round_start.recv()) {
        auto r = p.server.read(buf);
        auto at = now();
        Round& rd = rounds[static_cast<size_t>(*i)];
        if (net::is_timeout(r.error)) {
          rd.timed_out = true;
          timeouts++;
          if (at < rd.near) early_timeouts++;
          p.server.set_read_deadline(kNoDeadline);
          // Consume the byte that was sent anyway, so the next round starts clean.
          r = p.server.read(buf);
        }
        if (r.bytes == 1) bytes++;
        round_result.send(net::is_timeout(r.error));
      }
    });
    std::mt19937 rng(42);
    for (int i = 0; i < kRounds; i++) {
      Round& rd = rounds[static_cast<size_t>(i)];
      rd.near = now() + 100us;
      p.server.set_read_deadline(rd.near);
      round_start.send(i);
      // Spin to a random point from 60us before to 40us after the near deadline.
      auto move_at = rd.near - 60us + std::chrono::microseconds(rng() % 100);
      while (now() < move_at) {
      }
      p.server.set_read_deadline(now() + 60s);
      rd.move_done = now();
      p.client.write_all(std::as_bytes(std::span("b", 1)));
      round_result.recv();
    }
    round_start.close();
  });
  int wrong = 0, moved_in_time = 0;
  for (const Round& rd : rounds) {
    if (rd.move_done < rd.near) {
      moved_in_time++;
      if (rd.timed_out) wrong++;
    }
  }
  INFO("timeouts " << timeouts.load() << ", rounds moved in time " << moved_in_time);
  CHECK(wrong == 0);                  // moved before it expired: must not have timed out
  CHECK(early_timeouts.load() == 0);  // no timeout before its deadline
  CHECK(bytes.load() == kRounds);     // every byte arrived
  CHECK(moved_in_time > 0);           // both cases were exercised
  CHECK(timeouts.load() > 0);
}

namespace {

Duration process_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_CASE("a deadline near kNoDeadline never fires early nor spins nor wraps", "[deadline]") {
  using std::chrono::hours;
  // now() + 2562047 h is just below or past the clock's range, depending on the uptime:
  // deadline_after saturates it to kNoDeadline, or it is a valid time ~292 years out.
  // The others are valid times just short of kNoDeadline: a timer is armed for them, the
  // poller sleeps towards them (epoll_pwait2, or epoll_wait capped at INT_MAX ms), and
  // none may wrap into the past (a timeout at once) or into a sleep of 0 (a busy loop).
  const Time deadlines[] = {deadline_after(hours(2562047)),
                            kNoDeadline - std::chrono::nanoseconds(1), kNoDeadline - hours(1),
                            add_saturating(now(), Duration::max() / 2)};
  Runtime rt({.procs = 2});
  rt.run([&] {
    Pair p = connect_pair();
    for (const Time d : deadlines) {
      INFO("deadline " << d.time_since_epoch().count() << " ns");
      CHECK(d > now());
      p.server.set_read_deadline(d);
      Notification done;
      net::IoResult r;
      go([&] {
        std::byte buf[1];
        r = p.server.read(buf);
        done.notify();
      });
      // A timed wait on the same kind of deadline, next to it.
      Notification never;
      const Time wall = now();
      const Duration cpu = process_cpu_time();
      CHECK_FALSE(never.wait_until(add_saturating(now(), 300ms)));
      const auto cpu_used = process_cpu_time() - cpu;
      const auto wall_used = now() - wall;
      CHECK_FALSE(done.has_been_notified());  // the read is still waiting: nothing fired
      // Idle meanwhile: a timer that wrapped to "now" would have the Ms poll in a loop.
      CHECK(cpu_used < wall_used / 5);
      p.client.write_all(std::as_bytes(std::span("n", 1)));
      REQUIRE(done.wait_for(10s));
      CHECK(r.ok());
      CHECK(r.bytes == 1);
    }
    p.server.set_read_deadline(kNoDeadline);
  });
}

TEST_CASE("epoll_wait's timeout rounds up and saturates", "[deadline]") {
  CHECK(net::NetPoller::epoll_timeout_ms(-1) == -1);
  CHECK(net::NetPoller::epoll_timeout_ms(0) == 0);
  CHECK(net::NetPoller::epoll_timeout_ms(1) == 1);
  CHECK(net::NetPoller::epoll_timeout_ms(1'000'000) == 1);
  CHECK(net::NetPoller::epoll_timeout_ms(1'000'001) == 2);
  CHECK(net::NetPoller::epoll_timeout_ms(INT64_MAX) == INT_MAX);
  CHECK(net::NetPoller::epoll_timeout_ms(INT64_MAX - 1) == INT_MAX);
  CHECK(sched::add_saturating_ns(INT64_MAX - 5, 10) == INT64_MAX);
  CHECK(sched::add_saturating_ns(INT64_MIN + 5, -10) == INT64_MIN);
  CHECK(sched::add_saturating_ns(100, -10) == 90);
}
