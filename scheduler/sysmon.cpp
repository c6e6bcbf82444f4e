// sysmon: the runtime's monitor thread, after Go's (runtime/proc.go, sysmon).
//
// One OS thread per runtime, started with it, that runs without a P and so is never
// blocked behind a goroutine. It looks every 10 ms, and does what no M would do in time:
//
//  1. The network. If nobody has polled it for 10 ms (lastpoll), it polls without
//     blocking and injects what it finds: onto the global queue, with Ms started for idle
//     Ps. An M skips the blocking poll when it sees no goroutine waiting on I/O and no
//     timer, and a P whose goroutine never parks never polls: readiness would go unseen,
//     with Ps idle, until something else happened. sysmon takes the poll by CAS on
//     lastpoll (proc.cpp's essay), so it can never let a second M block in the poller.
//  2. Timers. If the earliest timer of any P is overdue and a P is idle, it starts an M:
//     that M's find_runnable runs other Ps' expired timers when it steals (the owner of
//     the heap may be busy with a goroutine that does not yield).
//  3. Idle stacks, once a second, if any goroutine asked for it (idle_stack.cpp).
//
// When every P has been idle for kDeepSleepTicks looks, sysmon sleeps until the next
// idle-stack scan (at most kDeepSleepNs) instead of every 10 ms; the first M to take a P
// wakes it (acquirep -> wake_sysmon). An idle process then wakes once a second, not a
// hundred times.
//
// Rejected: polling from sysmon on every look whether or not anyone polled (a syscall per
// 10 ms per process for nothing, and a second poller racing the blocked one for events);
// retaking Ps from long-running goroutines as Go does (no preemption in C++).
#include <thread>

#include "scheduler/check.h"
#include "scheduler/internal/futex.h"
#include "scheduler/internal/proc.h"
#include "scheduler/time.h"

namespace parkway::sched {
namespace {

constexpr int64_t kTickNs = 10'000'000;         // Go's sysmon settles at 10 ms too
constexpr int64_t kStarvedPollNs = 10'000'000;  // poll a network nobody polled for this long
constexpr int kDeepSleepTicks = 50;             // all Ps idle for 0.5 s: sleep long
constexpr int64_t kDeepSleepNs = 1'000'000'000;
constexpr int64_t kScanEveryNs = 1'000'000'000;  // idle stacks: goroutines idle 1-2 s

// Static, so that wake_sysmon() from any M is safe even while sysmon stops.
struct Sysmon {
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> kick{0};  // futex: 1 once stop or wake_sysmon asked for a look
  std::thread* thread = nullptr;  // while started (runtime_init to runtime_stop)
};
Sysmon sysmon;

void sleep_for_ns(Sysmon* s, int64_t ns) {
  if (s->kick.load(std::memory_order_acquire) == 0) futex_wait(&s->kick, 0, ns);
  s->kick.store(0, std::memory_order_relaxed);
}

void loop(Sysmon* s) {
  int idle_ticks = 0;
  int64_t next_scan = add_saturating_ns(nanotime(), kScanEveryNs);
  while (!s->stop.load(std::memory_order_acquire)) {
    int64_t now = nanotime();
    sysmon_poll_network(now, kStarvedPollNs);
    sysmon_start_m_for_timers(now);
    if (sched.idle_stacks_wanted.load(std::memory_order_relaxed) && now >= next_scan) {
      scan_idle_stacks();
      now = nanotime();
      next_scan = add_saturating_ns(now, kScanEveryNs);
    }
    const bool all_idle = sched.npidle.load(std::memory_order_acquire) == sched.procs;
    idle_ticks = all_idle ? idle_ticks + 1 : 0;
    if (idle_ticks < kDeepSleepTicks) {
      sleep_for_ns(s, kTickNs);
      continue;
    }
    // Everything has been idle for a while: sleep long, unless an M takes a P meanwhile.
    // The flag is set before the re-check of npidle, and acquirep takes the P before it
    // reads the flag (both seq_cst), so a P taken after the check always wakes us.
    int64_t sleep = kDeepSleepNs;
    if (sched.idle_stacks_wanted.load(std::memory_order_relaxed)) {
      sleep = std::min(sleep, std::max<int64_t>(next_scan - now, kTickNs));
    }
    sched.sysmon_deep_sleep.store(true, std::memory_order_seq_cst);
    if (sched.npidle.load(std::memory_order_seq_cst) == sched.procs) sleep_for_ns(s, sleep);
    sched.sysmon_deep_sleep.store(false, std::memory_order_relaxed);
    idle_ticks = kDeepSleepTicks - 1;  // still idle at the next look: straight back to sleep
  }
}

}  // namespace

void start_sysmon() {
  PW_CHECK(sysmon.thread == nullptr, "start_sysmon: sysmon is already running");
  sysmon.stop.store(false, std::memory_order_relaxed);
  sysmon.kick.store(0, std::memory_order_relaxed);
  sysmon.thread = new std::thread([] { loop(&sysmon); });
}

void stop_sysmon() {
  if (sysmon.thread == nullptr) return;
  sysmon.stop.store(true, std::memory_order_release);
  sysmon.kick.store(1, std::memory_order_release);
  futex_wake(&sysmon.kick, 1);
  sysmon.thread->join();
  delete sysmon.thread;
  sysmon.thread = nullptr;
  sched.sysmon_deep_sleep.store(false);
}

void wake_sysmon() {
  if (!sched.sysmon_deep_sleep.exchange(false, std::memory_order_acq_rel)) return;
  sysmon.kick.store(1, std::memory_order_release);
  futex_wake(&sysmon.kick, 1);
}

}  // namespace parkway::sched
