// poller.h: the interface through which the scheduler waits for I/O.
//
// The scheduler knows nothing of sockets. When an M finds nothing to run it asks the
// poller for goroutines that became ready, without blocking, and when the whole runtime
// is idle exactly one M blocks in poll() until the earliest timer. netpoll/ implements
// this over epoll; until it is installed the runtime uses a poller that only sleeps
// (which is all timers need).
//
// Protocol, as in Go's runtime (netpoll, netpollBreak, netpollAnyWaiters):
//  - poll(timeout_ns, out) waits at most timeout_ns (< 0: until woken; 0: not at all) and
//    appends to `out` every goroutine it made ready. The goroutines are still parked; the
//    scheduler readies them. Returning early and empty is always allowed.
//  - wake() makes a blocked or the next poll() return soon. Callable from any thread;
//    calls before poll() are coalesced into one early return.
//  - has_waiters() says cheaply whether any goroutine is parked on I/O, i.e. whether a
//    poll could ever return something; the scheduler skips polling when it is false.
#pragma once

#include <cstdint>

#include "scheduler/park.h"

namespace parkway::sched {

class Poller {
 public:
  virtual ~Poller() = default;
  virtual void poll(int64_t timeout_ns, GList* out) = 0;
  virtual void wake() = 0;
  virtual bool has_waiters() const = 0;
  // The runtime is being torn down: goroutines parked in the poller will never run
  // again, and timers on the runtime's heaps are about to be freed. Drop every reference
  // to either (a later runtime may reuse the poller).
  virtual void forget_runtime() {}
};

// Makes p the running runtime's poller (the previous one is woken so that an M blocked in
// it moves over). Called by netpoll/ when it is first used. p must outlive the runtime.
void install_poller(Poller* p);
// The running runtime's poller, or nullptr when no runtime runs.
Poller* current_poller();

}  // namespace parkway::sched
