// The scheduler's internal types: G (goroutine), M (OS thread), P (processor), and the
// global scheduler state. The design is explained at the top of proc.cpp.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "scheduler/internal/futex.h"
#include "scheduler/internal/stack.h"
#include "scheduler/internal/timer_heap.h"
#include "scheduler/lock.h"
#include "scheduler/park.h"
#include "scheduler/poller.h"
#include "scheduler/test_hooks.h"

namespace parkway::sched {

struct M;
struct P;

// A goroutine's status defines who owns it (and its stack), as in Go's _Grunnable & co.
enum class GStatus : uint32_t {
  idle,      // allocated, not started: owned by whoever is creating it
  runnable,  // on a run queue (or about to be): nobody runs it; the stack is not in use
  running,   // running on an M (m->curg == g): that M owns it and its stack
  waiting,   // parked: whoever finds it where commit published it may ready() it, once
  dead,      // exited: on a free list with its stack, owned by that list
};
const char* to_string(GStatus s);

struct G {
  void* sp = nullptr;  // saved stack pointer while not running
  Stack stack;
  std::atomic<GStatus> status{GStatus::idle};
  uint64_t id = 0;
  G* schedlink = nullptr;  // run queue, free list or GList link

  void (*entry)(void*) = nullptr;  // the goroutine's body, entry(entry_arg)
  void* entry_arg = nullptr;

  Timer sleep_timer;  // sleep_for/sleep_until

  // Timed waits (sync.h): (seq << 2) | WaitState, changed by CAS only, so that a timeout
  // and a wake-up racing for the same wait agree on one winner, and a timer left over from
  // an earlier wait (older seq) can never end a later one.
  std::atomic<uint64_t> wait_word{0};
  Timer wait_timer;

  // Idle stack release (idle_stack.cpp). stack_private is the goroutine's promise that
  // nothing else touches its stack while it is parked on I/O; io_slot is where its G*
  // sits while it is (park_io). The goroutine writes both before parking; sysmon reads
  // them while it is parked.
  std::atomic<bool> stack_private{false};
  std::atomic<std::atomic<uintptr_t>*> io_slot{nullptr};
  // sp as this I/O park left it, recorded on g0 (park_io): sysmon sizes the copy of the
  // live bytes from it before freezing, and checks it against sp once frozen.
  std::atomic<void*> io_sp{nullptr};
  std::atomic<uint32_t> io_parks{0};    // parks on I/O so far
  uint32_t sysmon_parks = 0;            // sysmon's last look at io_parks (sysmon only)
  std::atomic<uint8_t> stack_state{0};  // StackState (idle_stack.cpp)
  std::byte* saved_stack = nullptr;     // the live bytes [sp, hi) while released
  size_t saved_size = 0;

  void* tsan_fiber = nullptr;
};

static_assert(alignof(G) >= 8, "park.h: a G* must never look like a small slot value");

// Go's runq: a ring that only the owning P appends to, and that others steal from by
// advancing the head with CAS. runnext holds a goroutine that should run next (the one a
// running goroutine just readied: it shares the time slice, good for ping-pong).
constexpr uint32_t kRunQueueSize = 256;

struct P {
  int32_t id = 0;
  std::atomic<M*> m{nullptr};  // the M holding this P, null while idle (read by thieves)
  uint32_t schedtick = 0;      // incremented on every schedule; drives the every-61st checks

  std::atomic<uint32_t> runqhead{0};
  std::atomic<uint32_t> runqtail{0};
  std::array<std::atomic<G*>, kRunQueueSize> runq{};
  std::atomic<G*> runnext{nullptr};

  // Dead goroutines with their stacks, ready for reuse (owned by the P holder).
  G* gfree = nullptr;
  int32_t gfree_n = 0;

  uint64_t goid_next = 0, goid_end = 0;  // batch of goroutine ids

  TimerHeap timers;

  P* link = nullptr;  // idle list; protected by sched.lock

  // Counters written only by the P holder (relaxed stores), summed by stats().
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> exited{0};
};

// Every goroutine ever allocated (Go's allgs), never shrinking while the runtime runs:
// G objects are freed only by runtime_destroy. Appending is serialised by `lock`; readers
// (sysmon's scan, which also madvises) walk it without any lock, so a goroutine being
// created never waits for a scan. A list of fixed chunks: an entry once written never
// moves, and the count is published after the entry (release), so a reader that loads
// the count (acquire) may read every entry below it.
class AllGs {
 public:
  AllGs() = default;
  AllGs(const AllGs&) = delete;
  AllGs& operator=(const AllGs&) = delete;
  ~AllGs() { clear(); }

  void add(G* g) {
    LockGuard lg(lock);
    const size_t n = size_.load(std::memory_order_relaxed);
    if (n % kChunk == 0) {
      auto* c = new Chunk();
      if (tail_ == nullptr) {
        head_.store(c, std::memory_order_release);
      } else {
        tail_->next.store(c, std::memory_order_release);
      }
      tail_ = c;
    }
    tail_->g[n % kChunk] = g;
    size_.store(n + 1, std::memory_order_release);
  }
  size_t size() const { return size_.load(std::memory_order_acquire); }
  // Calls f(g) for the goroutines allocated before the call began; lock-free.
  template <class F>
  void for_each(F f) const {
    const size_t n = size();
    const Chunk* c = head_.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
      if (i != 0 && i % kChunk == 0) c = c->next.load(std::memory_order_acquire);
      f(c->g[i % kChunk]);
    }
  }
  // Forgets every entry (not the goroutines). Only with no reader left (runtime_destroy).
  void clear() {
    LockGuard lg(lock);
    Chunk* c = head_.exchange(nullptr, std::memory_order_relaxed);
    while (c != nullptr) {
      Chunk* next = c->next.load(std::memory_order_relaxed);
      delete c;
      c = next;
    }
    tail_ = nullptr;
    size_.store(0, std::memory_order_release);
  }

  RuntimeLock lock;  // serialises add() and clear() (Go's allglock)

 private:
  static constexpr size_t kChunk = 1024;
  struct Chunk {
    G* g[kChunk];
    std::atomic<Chunk*> next{nullptr};
  };
  std::atomic<Chunk*> head_{nullptr};
  Chunk* tail_ PW_GUARDED_BY(lock) = nullptr;
  std::atomic<size_t> size_{0};
};

// What a goroutine that switches away asks of whoever runs next on its M.
enum class Handoff : uint8_t { none, park, yield, exit };

struct M {
  int64_t id = 0;
  int32_t tid = 0;        // the OS thread's id (gettid), for tests and debugging
  void* g0_sp = nullptr;  // the scheduler context (the thread's own stack)
  G* curg = nullptr;      // goroutine running on this M, null on g0
  P* p = nullptr;
  P* nextp = nullptr;     // P handed over by startm, taken on wake-up
  bool spinning = false;  // looking for work; counted in sched.nmspinning
  Note park;
  M* schedlink = nullptr;  // idle list; protected by sched.lock

  Handoff handoff = Handoff::none;
  G* handoff_g = nullptr;
  ParkCommit commit = nullptr;
  void* commit_arg = nullptr;

  uint64_t rand_state = 0;

  const void* g0_stack_lo = nullptr;  // for ASan's switch annotations
  size_t g0_stack_size = 0;
  void* tsan_g0_fiber = nullptr;
  void* signal_stack = nullptr;
  size_t signal_stack_size = 0;
};

// Runtime-wide scheduler state. One runtime runs at a time.
struct Sched {
  RuntimeLock lock;
  M* midle PW_GUARDED_BY(lock) = nullptr;
  int32_t nmidle PW_GUARDED_BY(lock) = 0;
  P* pidle PW_GUARDED_BY(lock) = nullptr;
  std::atomic<int32_t> npidle{0};
  std::atomic<int32_t> nmspinning{0};

  // Global run queue, under lock; runqsize is also read without it as a hint.
  G* runq_head PW_GUARDED_BY(lock) = nullptr;
  G* runq_tail PW_GUARDED_BY(lock) = nullptr;
  std::atomic<int32_t> runqsize{0};

  // Dead goroutines (with stacks) beyond what Ps cache. Stacks in `gfree_dirty` may have
  // resident pages; past kGFreeDirtyMax they are released and go to `gfree_clean`.
  RuntimeLock gfree_lock;
  G* gfree_dirty PW_GUARDED_BY(gfree_lock) = nullptr;
  G* gfree_clean PW_GUARDED_BY(gfree_lock) = nullptr;
  int32_t gfree_dirty_n PW_GUARDED_BY(gfree_lock) = 0;
  int32_t gfree_clean_n PW_GUARDED_BY(gfree_lock) = 0;

  AllGs allg;
  std::vector<M*> allm PW_GUARDED_BY(lock);
  int32_t mstarting PW_GUARDED_BY(lock) = 0;  // Ms whose thread startm is creating

  std::vector<P*> allp;  // fixed while running
  int32_t procs = 0;

  // 0 while an M is blocked in poll(); otherwise when the last poll ended.
  std::atomic<int64_t> lastpoll{0};
  // Ms inside a blocking poll() now, and the most at once (test_hooks.h): at most one.
  std::atomic<int32_t> blocked_pollers{0};
  std::atomic<int32_t> max_blocked_pollers{0};
  // When the blocked poller will wake up by itself (0: not before woken).
  std::atomic<int64_t> poll_until{0};
  std::atomic<bool> polling_nonblocking{false};  // one M at a time polls without blocking
  std::atomic<Poller*> poller{nullptr};

  std::atomic<bool> shutdown{false};
  std::atomic<uint64_t> goid_gen{0};
  bool measure_stacks = false;                  // RuntimeOptions::measure_stacks
  std::atomic<bool> idle_stacks_wanted{false};  // a goroutine called release_stack_when_idle
  std::atomic<bool> sysmon_deep_sleep{false};   // sysmon sleeps long; acquirep wakes it
  std::atomic<int64_t> stacks_released{0};      // goroutines whose stack pages are released now
  std::atomic<int64_t> stack_bytes_saved{0};    // live bytes kept aside for them
  std::atomic<size_t> max_stack_used{0};
  StackAllocator stacks;
};

extern Sched sched;

// tls.cpp: per-M state, read through functions the compiler cannot inline or cache, so a
// goroutine that resumes on another thread reads that thread's M (see tls.cpp).
M* getm();
void setm(M* m);

// proc.cpp internals shared with timer.cpp, sync.cpp and signal.cpp.
TimerHeap* current_timer_heap();
void wake_poller(int64_t when);
void wakep();

// idle_stack.cpp
void restore_stack(G* g);  // before running g, if its stack was released
inline void ensure_stack(G* g) {
  if (g->stack_state.load(std::memory_order_acquire) != 0) restore_stack(g);
}
void scan_idle_stacks();  // sysmon, once a second
void free_saved_stack(G* g);

// sysmon.cpp
void start_sysmon();
void stop_sysmon();
void wake_sysmon();  // out of its long sleep, if it sleeps long
// proc.cpp, for sysmon (no M, no P): poll a network nobody polled for starved_ns and
// inject what it finds; start an M if a timer is overdue and a P idle. Each returns
// whether it did anything.
bool sysmon_poll_network(int64_t now, int64_t starved_ns);
bool sysmon_start_m_for_timers(int64_t now);

// signal.cpp
void install_stack_overflow_handler();
void setup_signal_stack(M* m);
void teardown_signal_stack(M* m);

}  // namespace parkway::sched
