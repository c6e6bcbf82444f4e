// G, M, P: spawning, ping-pong across Ps, work stealing, migration, park/ready.
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "scheduler/channel.h"
#include "scheduler/internal/proc.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "scheduler/test_hooks.h"
#include "tests/support/child.h"

using namespace std::chrono_literals;

namespace {

int os_tid() { return static_cast<int>(syscall(SYS_gettid)); }

// Busy work the compiler cannot remove, without yielding.
void spin_for(parkway::Duration d) {
  const auto end = parkway::now() + d;
  while (parkway::now() < end) {
  }
}

}  // namespace

TEST_CASE("run returns the main goroutine's result and rethrows its exception", "[runtime]") {
  {
    parkway::Runtime rt({.procs = 2});
    CHECK(rt.run([] { return 42; }) == 42);
  }
  {
    parkway::Runtime rt({.procs = 2});
    CHECK_THROWS_WITH(rt.run([]() -> int { throw std::runtime_error("boom"); }), "boom");
  }
  {
    parkway::Runtime rt;
    CHECK(rt.procs() >= 1);
    CHECK(rt.run([] { return parkway::in_goroutine() && parkway::goroutine_id() > 0; }));
  }
  CHECK_FALSE(parkway::in_goroutine());
  CHECK(parkway::goroutine_id() == 0);
}

TEST_CASE("1,000,000 goroutines are spawned and joined", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  constexpr int kCount = 1'000'000;
  std::atomic<int> ran{0};
  rt.run([&] {
    parkway::WaitGroup wg;
    wg.add(kCount);
    for (int i = 0; i < kCount; i++) {
      parkway::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
      // Let them run as we go, so that they need not all exist at once.
      if (i % 512 == 0) parkway::yield();
    }
    wg.wait();
  });
  CHECK(ran.load() == kCount);
  CHECK(rt.abandoned_goroutines() == 0);
}

TEST_CASE("goroutine ids are unique", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  std::set<uint64_t> ids;
  std::mutex mu;
  rt.run([&] {
    parkway::WaitGroup wg;
    for (int i = 0; i < 2000; i++) {
      wg.add(1);
      parkway::go([&] {
        uint64_t id = parkway::goroutine_id();
        {
          std::lock_guard<std::mutex> g(mu);
          ids.insert(id);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  CHECK(ids.size() == 2000);
}

TEST_CASE("ping-pong between goroutines on different Ps", "[runtime]") {
  // A readies B through a channel, then busy-waits (without yielding) until B has run.
  // A's P is busy all the while, so B can only run on the other P: every round trip is
  // a cross-P ready, a wakep and a steal of runnext. A lost wake-up leaves B in A's
  // runnext with every other M asleep (scheduler/model/spinning.pml); A then gives up
  // after kStall instead of hanging, so the test fails and says in which round.
  // (One slot of buffer, so that A never parks in send and never leaves its thread.)
  parkway::Runtime rt({.procs = 2});
  constexpr int kRounds = 2000;
  constexpr parkway::Duration kStall = 5s;  // a healthy round trip takes microseconds
  std::atomic<int> wrong_value{0};
  std::atomic<int> same_thread{0};
  std::atomic<int> received{0};
  int stalled_round = -1;
  rt.run([&] {
    parkway::Channel<int> to_b(1);
    std::atomic<int> ball{-1};
    std::atomic<int> a_tid{0};
    parkway::WaitGroup wg;
    wg.add(2);
    parkway::go([&] {
      for (int i = 0; i < kRounds && stalled_round < 0; i++) {
        a_tid.store(os_tid());
        to_b.send(i);
        const auto give_up = parkway::now() + kStall;
        while (ball.load(std::memory_order_acquire) != i) {
          if (parkway::now() > give_up) {
            stalled_round = i;
            break;
          }
        }
      }
      to_b.close();  // B ends, whether or not it got every round
      wg.done();
    });
    parkway::go([&] {
      int expected = 0;
      while (auto v = to_b.recv()) {
        if (*v != expected++) wrong_value++;
        received++;
        if (os_tid() == a_tid.load()) same_thread++;
        ball.store(*v, std::memory_order_release);
      }
      wg.done();
    });
    wg.wait();
  });
  CHECK(stalled_round == -1);
  CHECK(received.load() == kRounds);
  CHECK(wrong_value.load() == 0);
  CHECK(same_thread.load() == 0);
}

TEST_CASE("channel ping-pong keeps both goroutines correct across many round trips", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::Channel<int> ping, pong;
    constexpr int kRounds = 100'000;
    parkway::go([&] {
      while (auto v = ping.recv()) pong.send(*v + 1);
      pong.close();
    });
    int x = 0;
    for (int i = 0; i < kRounds; i++) {
      ping.send(x);
      x = *pong.recv();
    }
    ping.close();
    CHECK_FALSE(pong.recv().has_value());
    CHECK(x == kRounds);
  });
}

TEST_CASE("work stealing spreads goroutines over several Ms", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  std::set<int> tids;
  std::mutex mu;
  rt.run([&] {
    parkway::WaitGroup wg;
    for (int i = 0; i < 64; i++) {
      wg.add(1);
      parkway::go([&] {
        spin_for(2ms);  // never yields: only another P can run the others meanwhile
        {
          std::lock_guard<std::mutex> g(mu);
          tids.insert(os_tid());
        }
        wg.done();
      });
    }
    wg.wait();
  });
  CHECK(tids.size() >= 2);
}

TEST_CASE("a migrating goroutine sees the right per-M state at -O2", "[runtime]") {
  // getm() reads a thread_local. If the compiler cached its address across the yields
  // and sleeps below (which may resume the goroutine on another thread), m->tid would
  // disagree with the thread we are actually on.
  parkway::Runtime rt({.procs = 2});
  std::set<int> tids;
  std::mutex mu;
  std::atomic<int> mismatches{0};
  rt.run([&] {
    parkway::WaitGroup wg;
    for (int g = 0; g < 16; g++) {
      wg.add(1);
      parkway::go([&, g] {
        for (int i = 0; i < 300; i++) {
          parkway::sched::M* m = parkway::sched::getm();
          if (m->tid != os_tid()) mismatches++;
          {
            std::lock_guard<std::mutex> lg(mu);
            tids.insert(m->tid);
          }
          if (i % 3 == 0) {
            parkway::yield();
          } else if (i % 3 == 1) {
            parkway::sleep_for(10us);
          } else {
            spin_for(std::chrono::microseconds(20 * (g % 4)));
          }
          if (parkway::sched::getm()->tid != os_tid()) mismatches++;
        }
        wg.done();
      });
    }
    wg.wait();
  });
  CHECK(mismatches.load() == 0);
  CHECK(tids.size() >= 2);  // the goroutines did migrate
}

TEST_CASE("goroutines can be started from a thread outside the runtime", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::WaitGroup wg;
    wg.add(100);
    std::thread t([&] {
      for (int i = 0; i < 100; i++) parkway::go([&] { wg.done(); });
    });
    wg.wait();
    t.join();
  });
}

TEST_CASE("runtime stats count goroutines, Ps and threads", "[runtime]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::Notification release;
    parkway::WaitGroup started, finished;
    started.add(10);
    finished.add(10);
    for (int i = 0; i < 10; i++) {
      parkway::go([&] {
        started.done();
        release.wait();
        finished.done();
      });
    }
    started.wait();
    auto s = parkway::runtime_stats();
    CHECK(s.goroutines == 11);  // ten parked, plus main
    CHECK(s.procs == 2);
    CHECK(s.threads >= 1);
    CHECK(s.stacks >= 11);
    CHECK(s.stack_size == parkway::kDefaultStackSize);
    release.notify();
    finished.wait();
  });
}

TEST_CASE("sysmon starts an M for a timer that nobody runs", "[runtime][sysmon]") {
  // The hook sends every idle M to sleep without waiting in the poller for the next timer
  // (the window of an M that found no timer just before one was added), and the other P
  // runs a goroutine that neither parks nor yields. Only sysmon can see the timer is
  // overdue: it starts an M for the idle P, which runs it (stealing it, if it is on the
  // busy P's heap).
  parkway::sched::test_hooks.skip_blocking_poll.store(true);
  parkway::Runtime rt({.procs = 2});
  std::atomic<bool> fired{false};
  bool fired_while_busy = false;
  rt.run([&] {
    std::atomic<bool> sleeping{false};
    parkway::go([&] {
      sleeping.store(true);
      parkway::sleep_for(300ms);
      fired.store(true);
    });
    const auto until = parkway::deadline_after(10s);
    while (!(sleeping.load() && parkway::runtime_stats().idle_threads >= 1) &&
           parkway::now() < until) {
      parkway::yield();
    }
    REQUIRE_FALSE(fired.load());  // the busy part below starts well before the timer is due
    const auto end = parkway::deadline_after(3s);
    while (!fired.load() && parkway::now() < end) {  // this P stays busy, never yields
    }
    fired_while_busy = fired.load();
    parkway::sched::test_hooks.skip_blocking_poll.store(false);
    while (!fired.load()) parkway::sleep_for(1ms);  // without the hook, it fires
  });
  parkway::sched::test_hooks.skip_blocking_poll.store(false);
  CHECK(fired_while_busy);
}

namespace {

std::atomic<int> newm_calls{0};
std::atomic<int> newm_under_lock{0};

// before_newm: is sched.lock free while the thread of a new M is created? Other Ms take
// it for moments, so try for up to 1 s; held all that time means held by this thread.
void check_lock_free_at_newm() {
  newm_calls.fetch_add(1);
  const auto until = parkway::deadline_after(1s);
  while (!parkway::sched::sched.lock.try_lock()) {
    if (parkway::now() > until) {
      newm_under_lock.fetch_add(1);
      return;
    }
    sched_yield();
  }
  parkway::sched::sched.lock.unlock();
}

}  // namespace

TEST_CASE("startm creates threads outside sched.lock", "[runtime]") {
  parkway::sched::test_hooks.before_newm.store(&check_lock_free_at_newm);
  newm_calls.store(0);
  newm_under_lock.store(0);
  {
    parkway::Runtime rt({.procs = 2});
    rt.run([] {
      parkway::WaitGroup wg;
      wg.add(8);
      for (int i = 0; i < 8; i++) {
        parkway::go([&] {
          spin_for(5ms);
          wg.done();
        });
      }
      wg.wait();
    });
  }
  parkway::sched::test_hooks.before_newm.store(nullptr);
  CHECK(newm_calls.load() >= 2);  // the Ms of both Ps
  CHECK(newm_under_lock.load() == 0);
}

// ---- Checked errors (child processes) ---------------------------------------------------

PARKWAY_CHILD_SCENARIO("ready_running_goroutine") {
  parkway::Runtime rt({.procs = 1});
  rt.run([] { parkway::sched::ready(parkway::sched::current_g()); });
  return 0;
}

PARKWAY_CHILD_SCENARIO("ready_twice") {
  parkway::Runtime rt({.procs = 1});
  rt.run([] {
    parkway::sched::G* parked = nullptr;
    parkway::go([&] {
      parkway::sched::park(
          [](parkway::sched::G* g, void* arg) {
            *static_cast<parkway::sched::G**>(arg) = g;
            return true;
          },
          &parked);
    });
    while (parked == nullptr) parkway::yield();
    parkway::sched::ready(parked);
    parkway::sched::ready(parked);
  });
  return 0;
}

TEST_CASE("readying a goroutine that is not parked is a fatal error", "[runtime]") {
  for (const char* scenario : {"ready_running_goroutine", "ready_twice"}) {
    INFO(scenario);
    auto r = parkway::test::run_child(scenario);
    CHECK(r.term_signal == SIGABRT);
    CHECK_THAT(r.stderr_text, Catch::Contains("not parked"));
  }
}
