// The context switch preserves exactly what the ABI says a call preserves.
#include <catch2/catch.hpp>
#include <cfenv>
#include <cmath>

#include "scheduler/channel.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

extern "C" uint64_t pw_test_callee_saved(void (*fn)(void*), void* arg);

namespace {

// Switches away a few times in ways that take every path: the direct yield, a park
// through g0, and a sleep (a timer, possibly another M).
void switch_a_lot(void*) {
  for (int i = 0; i < 50; i++) parkway::yield();
  parkway::sleep_for(std::chrono::microseconds(200));
  for (int i = 0; i < 50; i++) parkway::yield();
}

}  // namespace

TEST_CASE("callee-saved registers survive context switches", "[context]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::WaitGroup wg;
    std::atomic<int> failures{0};
    for (int g = 0; g < 8; g++) {
      wg.add(1);
      parkway::go([&] {
        for (int round = 0; round < 20; round++) {
          if (pw_test_callee_saved(&switch_a_lot, nullptr) != 0) failures++;
        }
        wg.done();
      });
    }
    wg.wait();
    CHECK(failures.load() == 0);
  });
}

TEST_CASE("each goroutine keeps its own floating-point rounding mode", "[context]") {
  // One P, so the goroutines interleave on the same OS thread: without saving and
  // restoring MXCSR / the x87 control word (FPCR on aarch64) they would see each other's.
  parkway::Runtime rt({.procs = 1});
  rt.run([] {
    const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    parkway::WaitGroup wg;
    std::atomic<int> failures{0};
    for (int mode : modes) {
      wg.add(1);
      parkway::go([&, mode] {
        std::fesetround(mode);
        for (int i = 0; i < 1000; i++) {
          parkway::yield();
          if (std::fegetround() != mode) failures++;
        }
        std::fesetround(FE_TONEAREST);
        wg.done();
      });
    }
    wg.wait();
    CHECK(failures.load() == 0);
  });
}

TEST_CASE("rounding mode is observable in results after a switch", "[context]") {
  parkway::Runtime rt({.procs = 1});
  rt.run([] {
    double up = 0, down = 0;
    parkway::WaitGroup wg;
    wg.add(2);
    parkway::go([&] {
      std::fesetround(FE_UPWARD);
      parkway::yield();
      volatile double x = 1.0;
      up = x / 3.0;
      std::fesetround(FE_TONEAREST);
      wg.done();
    });
    parkway::go([&] {
      std::fesetround(FE_DOWNWARD);
      parkway::yield();
      volatile double x = 1.0;
      down = x / 3.0;
      std::fesetround(FE_TONEAREST);
      wg.done();
    });
    wg.wait();
    CHECK(up > down);
    CHECK(std::nextafter(down, 1.0) == up);
  });
}
