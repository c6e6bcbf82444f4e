// Idle stack release (scheduler/idle_stack.cpp): a goroutine that opted in and stays
// parked on I/O has its stack pages given back, and runs again with its frames intact,
// however its wake-up races with sysmon.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "scheduler/park.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "scheduler/test_hooks.h"

using namespace std::chrono_literals;
namespace sched = parkway::sched;

namespace {

// A wait slot as a PollDesc keeps one: 0 nobody, 1 woken, or the parked G*.
// kParkSlotBusy while sysmon holds the goroutine.
constexpr uintptr_t kNobody = 0;
constexpr uintptr_t kWoken = 1;

bool publish(sched::G* g, void* arg) {
  auto* slot = static_cast<std::atomic<uintptr_t>*>(arg);
  uintptr_t expected = kNobody;
  return slot->compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g));
}

void wait_on(std::atomic<uintptr_t>& slot) {
  for (;;) {
    uintptr_t expected = kWoken;
    if (slot.compare_exchange_strong(expected, kNobody)) return;
    sched::park_io(&publish, &slot, &slot);
  }
}

void wake(std::atomic<uintptr_t>& slot) {
  for (;;) {
    uintptr_t v = slot.load();
    if (v == sched::kParkSlotBusy) continue;  // sysmon has it for a moment
    if (v == kWoken) return;
    if (slot.compare_exchange_weak(v, kWoken)) {
      if (v != kNobody) sched::ready(reinterpret_cast<sched::G*>(v));
      return;
    }
  }
}

// A waker as park.h describes it: one that finds the goroutine frozen hands the wake-up
// off to sysmon instead of waiting (netpoll's PollDesc::unblock does the same).
void wake_handing_off(std::atomic<uintptr_t>& slot) {
  uintptr_t v = slot.load();
  for (;;) {
    if (v == kWoken || sched::is_park_slot_handoff(v)) return;  // woken already
    const bool frozen = v == sched::kParkSlotBusy;
    if (slot.compare_exchange_weak(v, frozen ? sched::park_slot_handoff(kWoken) : kWoken)) {
      if (sched::park_slot_holds_g(v)) sched::ready(reinterpret_cast<sched::G*>(v));
      return;
    }
  }
}

// Fills a frame with a pattern of its own, waits, and checks the pattern after each wake.
struct Sleeper {
  std::atomic<uintptr_t> slot{kNobody};
  std::atomic<uintptr_t> frame_address{0};
  std::atomic<int> wakes{0};
  std::atomic<int> corrupt{0};
};

void sleep_with_frame(Sleeper& s, int rounds, uint32_t seed) {
  parkway::release_stack_when_idle();
  volatile uint32_t frame[512];  // 2 KiB of live stack
  for (uint32_t i = 0; i < 512; i++) frame[i] = seed * 2654435761u + i;
  s.frame_address.store(reinterpret_cast<uintptr_t>(&frame[0]));
  for (int r = 0; r < rounds; r++) {
    wait_on(s.slot);
    for (uint32_t i = 0; i < 512; i++) {
      if (frame[i] != seed * 2654435761u + i) {
        s.corrupt.fetch_add(1);
        break;
      }
    }
    s.wakes.fetch_add(1);
  }
}

bool resident(uintptr_t address) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  unsigned char vec = 0;
  REQUIRE(mincore(reinterpret_cast<void*>(address & ~(page - 1)), page, &vec) == 0);
  return (vec & 1) != 0;
}

// Waits (bounded) for the runtime to report `n` released stacks.
bool await_released(int64_t n, parkway::Duration limit) {
  const auto until = parkway::now() + limit;
  while (parkway::runtime_stats().idle_stacks_released != n) {
    if (parkway::now() > until) return false;
    parkway::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("an idle goroutine's stack pages are released, and its frames come back intact",
          "[runtime][idle_stack]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    Sleeper s;
    parkway::WaitGroup done;
    done.add(1);
    parkway::go([&] {
      sleep_with_frame(s, 2, 7);
      done.done();
    });
    while (s.frame_address.load() == 0) parkway::sleep_for(1ms);

    // Parked across two of sysmon's one-second looks: released.
    REQUIRE(await_released(1, 20s));
    const auto stats = parkway::runtime_stats();
    CHECK(stats.idle_stack_bytes_saved >= 2048);
    CHECK(stats.idle_stack_bytes_saved < 16 * 1024);
    CHECK_FALSE(resident(s.frame_address.load()));

    wake(s.slot);
    while (s.wakes.load() < 1) parkway::sleep_for(1ms);
    CHECK(s.corrupt.load() == 0);
    CHECK(resident(s.frame_address.load()));
    CHECK(parkway::runtime_stats().idle_stacks_released == 0);
    CHECK(parkway::runtime_stats().idle_stack_bytes_saved == 0);

    // And again: released a second time, restored a second time.
    REQUIRE(await_released(1, 20s));
    wake(s.slot);
    done.wait();
    CHECK(s.wakes.load() == 2);
    CHECK(s.corrupt.load() == 0);
    CHECK(parkway::runtime_stats().idle_stacks_released == 0);
  });
}

TEST_CASE("a goroutine that did not opt in keeps its stack", "[runtime][idle_stack]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    Sleeper opted;
    std::atomic<uintptr_t> slot{kNobody};
    parkway::WaitGroup done;
    done.add(2);
    parkway::go([&] {
      sleep_with_frame(opted, 1, 3);
      done.done();
    });
    parkway::go([&] {
      wait_on(slot);  // parked on I/O as long, but never called release_stack_when_idle
      done.done();
    });
    REQUIRE(await_released(1, 20s));
    parkway::sleep_for(1500ms);  // one more look by sysmon: still only the one
    CHECK(parkway::runtime_stats().idle_stacks_released == 1);
    wake(opted.slot);
    wake(slot);
    done.wait();
    CHECK(opted.corrupt.load() == 0);
  });
}

// kSleepers goroutines, ten woken every 5 ms for `duration` by `wake`: each is woken
// every kSleepers / 2000 seconds or so on average, so many stay parked across two looks
// and are released, and wakes land on released goroutines, on resident ones, and now and
// then on one that sysmon holds.
void run_random_wakes(int kSleepers, parkway::Duration duration,
                      void (*wake_one)(std::atomic<uintptr_t>&)) {
  parkway::Runtime rt({.procs = 2});
  rt.run([&] {
    std::vector<std::unique_ptr<Sleeper>> sleepers;
    for (int i = 0; i < kSleepers; i++) sleepers.push_back(std::make_unique<Sleeper>());
    std::atomic<bool> stop{false};
    parkway::WaitGroup done;
    done.add(kSleepers);
    for (int i = 0; i < kSleepers; i++) {
      parkway::go([&, i] {
        Sleeper& s = *sleepers[i];
        parkway::release_stack_when_idle();
        volatile uint32_t frame[64];
        for (uint32_t k = 0; k < 64; k++) frame[k] = static_cast<uint32_t>(i) * 31 + k;
        while (!stop.load()) {
          wait_on(s.slot);
          for (uint32_t k = 0; k < 64; k++) {
            if (frame[k] != static_cast<uint32_t>(i) * 31 + k) s.corrupt.fetch_add(1);
          }
          s.wakes.fetch_add(1);
        }
        done.done();
      });
    }
    std::mt19937 rng(42);
    int64_t most_released = 0;
    const auto until = parkway::now() + duration;
    while (parkway::now() < until) {
      for (int k = 0; k < 10; k++) wake_one(sleepers[rng() % kSleepers]->slot);
      most_released = std::max(most_released, parkway::runtime_stats().idle_stacks_released);
      parkway::sleep_for(5ms);
    }
    stop.store(true);
    for (auto& s : sleepers) wake_one(s->slot);
    done.wait();

    int corrupt = 0;
    int64_t wakes = 0;
    for (auto& s : sleepers) {
      corrupt += s->corrupt.load();
      wakes += s->wakes.load();
    }
    CHECK(corrupt == 0);
    CHECK(wakes >= kSleepers);
    CHECK(most_released > 0);
    CHECK(parkway::runtime_stats().idle_stacks_released == 0);
    CHECK(parkway::runtime_stats().idle_stack_bytes_saved == 0);
  });
}

TEST_CASE("goroutines woken at random while sysmon releases stacks keep their frames",
          "[runtime][idle_stack]") {
  // 2,000 goroutines, ten woken every 5 ms for 5 s, by a waker that waits out a freeze.
  run_random_wakes(2000, 5s, &wake);
}

TEST_CASE("goroutines woken at random by wakers that hand off to sysmon keep their frames",
          "[runtime][idle_stack]") {
  // The same with park.h's hand-off: wakes that meet a frozen goroutine are readied by
  // sysmon when it puts the G* back, never twice and never lost (the goroutine would
  // not wake for stop, and done.wait() would hang).
  run_random_wakes(1000, 3s, &wake_handing_off);
}

namespace {

// sysmon_frozen: the first time, keep sysmon in the middle of its scan, with the goroutine
// frozen, until the test says `resume` (bounded: `timed_out` says it was not).
struct FrozenScan {
  std::atomic<bool> frozen{false};
  std::atomic<bool> resume{false};
  std::atomic<bool> timed_out{false};
};
std::atomic<FrozenScan*> frozen_scan{nullptr};

void hold_frozen(sched::G*, std::atomic<uintptr_t>*) {
  FrozenScan* f = frozen_scan.exchange(nullptr);
  if (f == nullptr) return;
  f->frozen.store(true);
  const auto until = parkway::deadline_after(3s);
  while (!f->resume.load()) {
    if (parkway::now() > until) {
      f->timed_out.store(true);
      return;
    }
    sched_yield();
  }
}

}  // namespace

TEST_CASE("goroutines are created while sysmon is in the middle of its scan",
          "[runtime][idle_stack]") {
  // sysmon walks every goroutine once a second. Creating a goroutine that finds no dead
  // one to reuse appends to that list, and must not wait for the walk (which copies
  // stacks out and calls madvise for each one it releases).
  FrozenScan scan;
  frozen_scan.store(&scan);
  sched::test_hooks.sysmon_frozen.store(&hold_frozen);
  parkway::Runtime rt({.procs = 2});
  rt.run([&] {
    Sleeper s;
    parkway::WaitGroup done;
    done.add(1);
    parkway::go([&] {
      sleep_with_frame(s, 1, 11);
      done.done();
    });
    const auto until = parkway::deadline_after(20s);
    while (!scan.frozen.load() && parkway::now() < until) parkway::sleep_for(1ms);
    REQUIRE(scan.frozen.load());

    // sysmon is held in its scan: 200 new goroutines (no dead ones to reuse).
    constexpr int kNew = 200;
    parkway::Notification release;
    parkway::WaitGroup created;
    created.add(kNew);
    const auto start = parkway::now();
    for (int i = 0; i < kNew; i++) {
      parkway::go([&] {
        release.wait();
        created.done();
      });
    }
    const auto took = parkway::now() - start;
    scan.resume.store(true);
    CHECK_FALSE(scan.timed_out.load());
    CHECK(took < 1s);
    release.notify();
    created.wait();
    wake(s.slot);
    done.wait();
    CHECK(s.corrupt.load() == 0);
  });
  sched::test_hooks.sysmon_frozen.store(nullptr);
}
