// test_hooks.h: switches that tests flip to widen the runtime's race windows, and the
// debug counters they check. For tests only: application code has no use for them.
//
// Every hook is null (or false) unless a test sets it, and each is read with one load on
// a path that is not hot (an M that found nothing to do, sysmon, the creation of a
// thread), so production pays nothing measurable. A test sets a hook while the runtime
// runs and clears it before the runtime is destroyed; a hook runs on whatever thread hits
// the point (an M's g0, sysmon), so it may spin or sleep that thread but never park.
#pragma once

#include <atomic>
#include <cstdint>

namespace parkway::sched {

struct G;

struct TestHooks {
  // find_runnable, every 61st tick: a poll of a network nobody had polled for 10 ms found
  // work. Called after poll_nonblocking recorded the poll (note_poll, a CAS of lastpoll)
  // and before find_runnable's own CAS of it: the window in which another M may take the
  // token and block in the poller.
  std::atomic<void (*)()> after_starved_poll{nullptr};
  // find_runnable: an M that found nothing to do goes to sleep without blocking in the
  // poller, as if no goroutine waited on I/O and no timer were pending (the window of an M
  // that decided so just before a goroutine parked on a socket). Only sysmon then watches
  // the network and the timers.
  std::atomic<bool> skip_blocking_poll{false};
  // sysmon: g is frozen (its I/O slot holds kParkSlotBusy) to have its stack released;
  // called before the stack is copied out and the G* put back.
  std::atomic<void (*)(G* g, std::atomic<uintptr_t>* slot)> sysmon_frozen{nullptr};
  // startm: about to create the OS thread of a new M.
  std::atomic<void (*)()> before_newm{nullptr};
};
extern TestHooks test_hooks;

// Ms blocked in Poller::poll with a timeout at this moment, and the most there have been
// at once since the process started. By design at most one (find_runnable checks it).
int32_t blocked_pollers();
int32_t max_blocked_pollers();

// The schedule count of the calling goroutine's P (it drives the every-61st checks).
uint32_t current_schedtick();

}  // namespace parkway::sched
