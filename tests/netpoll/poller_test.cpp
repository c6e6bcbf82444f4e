// The scheduler and the netpoller together: at most one M blocks in epoll_wait; sysmon
// polls the network and starts an M for overdue timers when no M does; a waker never
// waits for sysmon while it holds a parked goroutine to release its stack. The race
// windows are widened with scheduler/test_hooks.h.
#include <catch2/catch.hpp>
#include <thread>

#include "netpoll/netpoll.h"
#include "scheduler/lock.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "scheduler/test_hooks.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/go_check.h"

using namespace std::chrono_literals;
using namespace parkway;

namespace {

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

// Busy work that neither parks nor yields, until `d` has passed or `until_set` is set.
void spin_for(Duration d, const std::atomic<bool>* until_set = nullptr) {
  const Time end = deadline_after(d);
  while (now() < end && !(until_set && until_set->load())) sched::cpu_relax();
}

std::atomic<int> starved_polls{0};
std::atomic<bool> starved_poll_paused{false};

// after_starved_poll: the first time, stay between the poll and the update of lastpoll
// until another M has blocked in the poller (bounded), which is the window of the race.
void pause_after_starved_poll() {
  if (starved_polls.fetch_add(1) != 0) return;
  starved_poll_paused.store(true);
  const Time until = deadline_after(2s);
  while (sched::blocked_pollers() == 0 && now() < until) std::this_thread::yield();
}

}  // namespace

TEST_CASE("at most one M blocks in the poller when a starved poll races with one", "[poller]") {
  // Both Ps run goroutines that neither park nor yield for 15 ms, so nobody polls; then T1
  // makes a socket readable and yields 61 times: one of its trips through find_runnable is
  // the every-61st-tick poll of the starved network, which finds the reader. The hook
  // holds that M there until T2 has parked and its M has blocked in the poller (lastpoll
  // = 0). Recording the starved poll must then not set lastpoll again, or the first M,
  // going idle, would block in the poller too (a fatal error since this change, which
  // the counter also records).
  starved_polls.store(0);
  starved_poll_paused.store(false);
  sched::test_hooks.after_starved_poll.store(&pause_after_starved_poll);
  Runtime rt({.procs = 2});
  rt.run([&] {
    Pair p = connect_pair();
    std::atomic<bool> stop{false};
    WaitGroup reader, t1, t2;
    reader.add(1);
    t1.add(1);
    t2.add(1);
    go([&] {  // R: every read parks on the socket
      std::byte buf[1];
      while (p.server.read(buf).bytes == 1) {
      }
      reader.done();
    });
    go([&] {  // T1
      for (int round = 0; round < 40 && !starved_poll_paused.load(); round++) {
        spin_for(15ms);
        p.client.write_all(std::as_bytes(std::span("x", 1)));
        for (int i = 0; i < 61; i++) yield();
        sleep_for(30ms);
      }
      t1.done();
    });
    go([&] {  // T2: keeps its P busy until the hook holds the other M, then parks
      while (!stop.load() && !starved_poll_paused.load()) spin_for(100ms, &starved_poll_paused);
      sleep_for(30ms);
      t2.done();
    });
    t1.wait();
    stop.store(true);
    t2.wait();
    p.client.close();  // R reads end of stream
    reader.wait();
  });
  sched::test_hooks.after_starved_poll.store(nullptr);
  REQUIRE(starved_poll_paused.load());  // the window was reached
  CHECK(sched::max_blocked_pollers() == 1);
}

namespace {

// sysmon_frozen: the first time, keep the goroutine frozen (its slot holds kParkSlotBusy)
// until a waker has been and gone, i.e. until the slot no longer holds kParkSlotBusy, or
// 3 s (timed_out). A waker that waits for the G* to come back never lets that happen.
struct FrozenWake {
  std::atomic<bool> frozen{false};
  std::atomic<bool> timed_out{false};
  std::atomic<int64_t> waker_ns{-1};  // from `frozen` to the slot's change
};
std::atomic<FrozenWake*> frozen_wake{nullptr};

void hold_until_woken(sched::G*, std::atomic<uintptr_t>* slot) {
  FrozenWake* f = frozen_wake.exchange(nullptr);
  if (f == nullptr) return;
  const Time start = now();
  f->frozen.store(true);
  const Time until = deadline_after(3s);
  while (slot->load() == sched::kParkSlotBusy) {
    if (now() > until) {
      f->timed_out.store(true);
      return;
    }
    std::this_thread::yield();
  }
  f->waker_ns.store((now() - start).count());
}

}  // namespace

TEST_CASE("a waker hands off to sysmon instead of waiting while it holds the goroutine",
          "[poller][idle_stack]") {
  // A reader that lets the runtime release its stack stays parked; sysmon freezes it, and
  // the hook keeps it frozen. Meanwhile the socket becomes readable (the poller's M wakes
  // it) or its deadline is set into the past (set_deadline wakes it, holding the
  // PollDesc's lock). Either waker must leave at once, marking the wake-up for sysmon,
  // which readies the goroutine when it puts the G* back.
  test::GoChecks checks;
  for (const bool by_deadline : {false, true}) {
    INFO((by_deadline ? "woken by a deadline" : "woken by readiness"));
    Runtime rt({.procs = 2});
    FrozenWake wake;
    frozen_wake.store(&wake);
    sched::test_hooks.sysmon_frozen.store(&hold_until_woken);
    rt.run([&] {
      Pair p = connect_pair();
      Notification done;
      std::error_code read_error;
      size_t read_bytes = 0;
      go([&] {
        release_stack_when_idle();
        std::byte buf[1];
        auto r = p.server.read(buf);
        read_error = r.error;
        read_bytes = r.bytes;
        done.notify();
      });
      const Time until = deadline_after(20s);
      while (!wake.frozen.load() && now() < until) sleep_for(1ms);
      GO_CHECK(checks, wake.frozen.load());
      if (by_deadline) {
        p.server.set_read_deadline(now() - 1s);
      } else {
        p.client.write_all(std::as_bytes(std::span("w", 1)));
      }
      GO_CHECK(checks, done.wait_for(10s));
      GO_CHECK(checks, !wake.timed_out.load());
      GO_CHECK(checks, wake.waker_ns.load() >= 0);
      GO_CHECK(checks, wake.waker_ns.load() < 1'000'000'000);
      if (by_deadline) {
        GO_CHECK(checks, net::is_timeout(read_error));
      } else {
        GO_CHECK(checks, read_bytes == 1);
      }
    });
    sched::test_hooks.sysmon_frozen.store(nullptr);
    frozen_wake.store(nullptr);
  }
  checks.report();
}

namespace {

// The hook sends every idle M to sleep without blocking in the poller: the window of an
// M that saw no goroutine waiting on I/O just before one parked. The other P runs a
// goroutine that neither parks nor yields. Only sysmon can then see that the socket
// became readable: it polls, and starts an M for the idle P to run the reader. Returns
// how long after the write the reader had its byte (Duration::max(): not within 3 s).
// With `idle_first`, the runtime idles that long before (sysmon goes to its long sleep).
Duration time_to_read_with_sysmon_only(Duration idle_first) {
  Duration took = Duration::max();
  Runtime rt({.procs = 2});
  rt.run([&] {
    Pair p = connect_pair();
    if (idle_first > Duration::zero()) sleep_for(idle_first);
    sched::test_hooks.skip_blocking_poll.store(true);
    std::atomic<bool> read_one{false};
    go([&] {
      std::byte buf[1];
      if (p.server.read(buf).bytes == 1) read_one.store(true);
    });
    const Time until = deadline_after(10s);
    while (!(net::NetPoller::get().has_waiters() && runtime_stats().idle_threads >= 1) &&
           now() < until) {
      yield();
    }
    const Time start = now();
    p.client.write_all(std::as_bytes(std::span("s", 1)));
    spin_for(3s, &read_one);  // this P stays busy: neither parks nor yields
    if (read_one.load()) took = now() - start;
    sched::test_hooks.skip_blocking_poll.store(false);
    if (!read_one.load()) p.client.close();  // let the reader finish, so the runtime stops
  });
  sched::test_hooks.skip_blocking_poll.store(false);
  return took;
}

}  // namespace

TEST_CASE("sysmon polls the network when no M does", "[poller][sysmon]") {
  CHECK(time_to_read_with_sysmon_only(Duration::zero()) < 3s);
}

TEST_CASE("sysmon leaves its long sleep when a P gets busy", "[poller][sysmon]") {
  // After 0.5 s with every P idle sysmon sleeps up to 1 s at a time; the M that takes a P
  // wakes it, so the starved socket is still seen within sysmon's 10 ms looks (generous
  // bound: without the wake-up it would take 0.8 s or more).
  CHECK(time_to_read_with_sysmon_only(700ms) < 400ms);
}
