// parkway's goroutine runtime: the whole start-up API on one screen.
//
//   parkway::Runtime rt({.procs = 4});
//   int rc = rt.run([] {                 // the main goroutine
//     parkway::WaitGroup wg;
//     wg.add(1);
//     parkway::go([&] { work(); wg.done(); });
//     wg.wait();                          // parks the goroutine, not the thread
//     return 0;
//   });
//
// Goroutines are stackful user-space threads scheduled M:N over `procs` OS threads, the
// way Go's runtime schedules them (scheduler/proc.cpp explains how). They are cooperative:
// a goroutine runs until it parks (on a socket, a Mutex, a Channel, a sleep) or calls
// yield(). They are never preempted, so a goroutine that computes for long should yield().
//
// Constraints that come with stackful coroutines in C++:
//  - Each goroutine has a fixed stack (RuntimeOptions::stack_size). Overflowing it is
//    reported as "goroutine N: stack overflow" and aborts. Keep big buffers off the stack.
//  - A goroutine may resume on a different OS thread after any blocking call: never keep
//    a pointer or reference to a thread_local (errno included) across one.
//  - An exception escaping a goroutine's function is fatal (it has nowhere to go), except
//    for the main goroutine's, which Runtime::run rethrows to its caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "scheduler/park.h"
#include "scheduler/time.h"

namespace parkway {

namespace sched {
class Poller;
}

// 64 KiB: parkway's own goroutines are shallow. Measured with measure_stacks through
// traffic, connect retries, a reload, admin requests and a drain, the deepest uses 6.1 KiB
// at -O2 and 9.8 KiB at -O0 (tests/e2e/ops_test.cpp asserts at most half the stack); the
// rest is headroom. Work that needs deep stacks (parsing a config file with toml++) runs
// on a thread. Only touched pages are resident, so a goroutine that uses 4 KiB costs
// 4 KiB whatever this is; the size bounds address space only (64 KiB x 100,000
// goroutines = 6.4 GiB of reservations, no memory). Sanitizer builds need bigger frames,
// hence 4x there.
#if defined(PARKWAY_ASAN) || defined(PARKWAY_TSAN)
inline constexpr size_t kDefaultStackSize = 256 * 1024;
#else
inline constexpr size_t kDefaultStackSize = 64 * 1024;
#endif

struct RuntimeOptions {
  int procs = 0;                          // Ps; 0: the CPUs this process may run on
  size_t stack_size = kDefaultStackSize;  // usable bytes per goroutine stack
  sched::Poller* poller = nullptr;        // nullptr: sleep-only until netpoll installs itself
  // Measure stack use: fill every stack with a pattern when a goroutine starts and find
  // how deep it went when it exits (RuntimeStats::max_stack_used). Slow: every stack
  // becomes resident. For tests and diagnosis ($PARKWAY_MEASURE_STACKS in parkway).
  bool measure_stacks = false;
};

// One Runtime may be alive per process at a time (they may follow one another).
class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs main() as the main goroutine and blocks the calling thread until it returns;
  // returns its result or rethrows its exception. Goroutines still parked when main
  // returns are abandoned (their stacks freed without unwinding), as in Go: join them.
  // May be called once.
  template <class F>
  auto run(F&& main) -> std::invoke_result_t<F&>;

  int procs() const { return procs_; }
  // Goroutines found neither finished nor unstarted when the runtime was torn down.
  int64_t abandoned_goroutines() const { return leaked_; }

  static Runtime* current();

 private:
  void run_main(void (*fn)(void*), void* arg);
  void stop();

  int procs_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  int64_t leaked_ = 0;
};

// Starts fn() in a new goroutine. Callable from goroutines and from other threads while a
// Runtime is alive. fn is moved onto the new goroutine's own stack (no allocation unless
// it is larger than 1 KiB).
template <class F>
void go(F&& fn);

// Lets other runnable goroutines run; returns soon. Outside a goroutine: sched_yield().
void yield();
// Parks the calling goroutine until t / for d (outside a goroutine: sleeps the thread).
void sleep_until(Time t);
void sleep_for(Duration d);

// Lets the runtime give this goroutine's stack pages back to the kernel while it stays
// parked on I/O (a socket read or write, accept, connect) for a second or more, as Go
// shrinks the stacks of idle goroutines: the few hundred live bytes are kept aside and
// copied back before it runs again. The caller promises that, while it is parked on I/O,
// nothing else reads or writes its stack: objects that other goroutines use must live on
// the heap (or on their stacks), not in this goroutine's frames. parkway's connection
// pumps call this: an idle connection then costs no stack pages.
void release_stack_when_idle();

// The running goroutine's id (1, 2, ...), 0 outside goroutines.
uint64_t goroutine_id();
bool in_goroutine();

struct RuntimeStats {
  int64_t goroutines = 0;              // started and not yet finished
  int32_t procs = 0;                   // Ps
  int32_t threads = 0;                 // Ms (OS threads) created
  int32_t idle_threads = 0;            // Ms asleep waiting for work
  size_t stacks = 0;                   // goroutine stacks allocated (live + cached)
  size_t stack_size = 0;               // usable bytes per stack
  size_t stacks_cached_global = 0;     // dead goroutines' stacks in the global pool
  size_t stacks_released = 0;          // ... of which pages were returned to the kernel
  size_t max_stack_used = 0;           // deepest stack use seen (with measure_stacks)
  int64_t idle_stacks_released = 0;    // goroutines whose stack pages are released now
  int64_t idle_stack_bytes_saved = 0;  // live bytes kept aside for them
};
RuntimeStats runtime_stats();

// ---- Implementation ------------------------------------------------------------------

namespace sched::detail {
G* new_goroutine();
void* goroutine_stack_top(G* g);
void start_goroutine(G* g, void (*entry)(void*), void* arg, void* stack_top);
void discard_goroutine(G* g);

template <class Fn>
void run_inline_closure(void* p) {
  Fn* fn = static_cast<Fn*>(p);
  (*fn)();
  fn->~Fn();
}
template <class Fn>
void run_heap_closure(void* p) {
  Fn* fn = static_cast<Fn*>(p);
  (*fn)();
  delete fn;
}
}  // namespace sched::detail

template <class F>
void go(F&& fn) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "go() takes a callable with no arguments");
  sched::G* g = sched::detail::new_goroutine();
  void* top = sched::detail::goroutine_stack_top(g);
  try {
    if constexpr (sizeof(Fn) <= 1024 && alignof(Fn) <= 16) {
      auto addr = (reinterpret_cast<uintptr_t>(top) - sizeof(Fn)) & ~uintptr_t{15};
      Fn* f = ::new (reinterpret_cast<void*>(addr)) Fn(std::forward<F>(fn));
      sched::detail::start_goroutine(g, &sched::detail::run_inline_closure<Fn>, f, f);
    } else {
      Fn* f = new Fn(std::forward<F>(fn));
      sched::detail::start_goroutine(g, &sched::detail::run_heap_closure<Fn>, f, top);
    }
  } catch (...) {
    sched::detail::discard_goroutine(g);
    throw;
  }
}

template <class F>
auto Runtime::run(F&& main) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  struct State {
    F& main;
    std::exception_ptr error;
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
  } st{main, nullptr};
  run_main(
      [](void* p) {
        auto* s = static_cast<State*>(p);
        try {
          if constexpr (std::is_void_v<R>) {
            s->main();
          } else {
            s->result.emplace(s->main());
          }
        } catch (...) {
          s->error = std::current_exception();
        }
      },
      &st);
  if (st.error) std::rethrow_exception(st.error);
  if constexpr (!std::is_void_v<R>) return std::move(*st.result);
}

}  // namespace parkway
