// Goroutine stacks: overflow is reported, stacks are reused and released.
#include <catch2/catch.hpp>
#include <regex>

#include "scheduler/internal/proc.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/support/child.h"

namespace {

// Recurses with a 1 KiB frame the optimiser cannot drop.
[[gnu::noinline]] int deep(int n) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(n);
  frame[sizeof frame - 1] = static_cast<char>(n);
  if (n == 0) return frame[0];
  return deep(n - 1) + frame[sizeof frame - 1];
}

}  // namespace

PARKWAY_CHILD_SCENARIO("stack_overflow") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::WaitGroup wg;
    wg.add(1);
    parkway::go([&] {
      deep(1 << 20);  // 1 GiB of frames
      wg.done();
    });
    wg.wait();
  });
  return 0;
}

PARKWAY_CHILD_SCENARIO("stack_fits") {
  parkway::Runtime rt({.procs = 1, .stack_size = 512 * 1024});
  return rt.run([] { return deep(200) >= 0 ? 0 : 1; });  // ~200 KiB of frames
}

TEST_CASE("a stack overflow is reported as such and aborts", "[stack]") {
  auto r = parkway::test::run_child("stack_overflow");
  INFO(r.stderr_text);
  CHECK(r.term_signal == SIGABRT);
  CHECK(std::regex_search(r.stderr_text,
                          std::regex(R"(goroutine \d+: stack overflow \(stack size \d+ KiB\))")));
}

TEST_CASE("a configured stack size is honoured", "[stack]") {
  auto r = parkway::test::run_child("stack_fits");
  INFO(r.stderr_text);
  CHECK(r.exited);
  CHECK(r.exit_code == 0);
}

TEST_CASE("stacks of dead goroutines are reused, and released past the high-water mark",
          "[stack]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    // A burst of concurrent goroutines, then another of the same size: the second must
    // reuse the first's stacks instead of allocating.
    auto burst = [](int n) {
      parkway::Notification release;
      parkway::WaitGroup started, done;
      started.add(n);
      done.add(n);
      for (int i = 0; i < n; i++) {
        parkway::go([&] {
          started.done();
          release.wait();
          done.done();
        });
      }
      started.wait();
      release.notify();
      done.wait();
    };
    burst(2000);
    auto after_first = parkway::runtime_stats();
    burst(2000);
    auto after_second = parkway::runtime_stats();
    CHECK(after_second.stacks <= after_first.stacks + 64);
    // 2000 dead goroutines exceed what the Ps and the warm pool keep: the rest of the
    // stacks had their pages returned to the kernel.
    CHECK(after_second.stacks_released > 0);
    CHECK(after_second.stacks_cached_global > 0);
  });
}
