// PollDesc: where a goroutine waiting on a socket parks, and what the poller wakes.
//
// One PollDesc per open FD, as in Go's runtime/netpoll.go. rg and wg ("read goroutine",
// "write goroutine") each hold one of
//
//   pdNil    nobody waits, no readiness pending
//   pdReady  the poller saw readiness that nobody has consumed yet
//   pdWait   a goroutine is about to park here (between netpollblock and its commit)
//   G*       that goroutine, parked
//   busy     the runtime holds the parked goroutine for a moment, to release its stack
//            (scheduler/park.h, park_io); a waker spins until the G* is back
//
// and move only by atomic CAS/swap, with no lock:
//
//        wait() ---------> pdWait --commit (on g0, G off its stack)--> G*
//          ^  \                                                         |
//          |   consume: pdReady -> pdNil, return at once                | unblock():
//          |                                                            v   readiness:
//   pdNil <--- unblock(ioready=false) ------------------------- G* ------> pdReady, ready(G)
//          <--- unblock(ioready=true) when pdNil: pdReady           deadline/close:
//                                                                       pdNil, ready(G)
//
// Who makes each transition: the waiting goroutine (pdNil/pdReady -> pdWait, then on g0
// pdWait -> G*, and the final swap back to pdNil after it wakes); the poller
// (-> pdReady, G* -> pdReady); a deadline timer or close (G* -> pdNil). At most one
// goroutine waits per direction: the FD layer serialises readers and writers.
//
// The lock protects the deadline state (rd/wd, their timers and sequence numbers) and
// `closing`; waiting and readiness never take it. Waiters read the error state lock-free
// from `info`, which the lock holder republishes after every change.
//
// PollDescs are type-stable: allocated in blocks, never returned to the allocator, so a
// late event or timer can always dereference one. `fdseq` changes every time a PollDesc
// is closed; it is in the epoll event data and in every timer's sequence, so an event or
// a timer meant for an earlier FD that used the same PollDesc is recognised and dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "netpoll/error.h"
#include "scheduler/internal/futex.h"
#include "scheduler/park.h"
#include "scheduler/time.h"
#include "scheduler/timer.h"

namespace parkway::net {

enum class Mode { read, write };

inline constexpr uintptr_t pdNil = 0;
inline constexpr uintptr_t pdReady = 1;
inline constexpr uintptr_t pdWait = 2;
// 3 is sched::kParkSlotBusy: the runtime holds the parked G* for a moment (park.h).
static_assert(sched::kParkSlotBusy == 3, "netpoll: slot values overlap");

struct alignas(64) PollDesc {
  // Bits of `info`.
  static constexpr uint32_t kClosing = 1, kEventErr = 2, kReadExpired = 4, kWriteExpired = 8;

  int fd = -1;                        // constant while open
  std::atomic<uint32_t> fdseq{0};     // changes at every close; see above
  std::atomic<uintptr_t> rg{pdNil};   // see the state diagram
  std::atomic<uintptr_t> wg{pdNil};
  std::atomic<uint32_t> info{0};      // published copy of closing/everr/expired, lock-free reads

  sched::SpinLock lock;
  bool closing PW_GUARDED_BY(lock) = false;
  bool everr PW_GUARDED_BY(lock) = false;
  // Deadlines on nanotime(): 0 none, < 0 already expired, > 0 pending.
  int64_t rd PW_GUARDED_BY(lock) = 0;
  int64_t wd PW_GUARDED_BY(lock) = 0;
  // Bumped whenever a pending timer must be disregarded (deadline moved earlier or
  // cleared, FD closed); the timer carries the value it was armed with.
  uintptr_t rseq PW_GUARDED_BY(lock) = 0;
  uintptr_t wseq PW_GUARDED_BY(lock) = 0;
  // When the timer is armed for (0: not armed). A deadline pushed later than this leaves
  // the timer alone: when it fires it sees the later deadline and re-arms itself. That
  // keeps an idle timeout that moves on every read to one store under the lock.
  int64_t rt_when PW_GUARDED_BY(lock) = 0;
  int64_t wt_when PW_GUARDED_BY(lock) = 0;
  sched::Timer rt;
  sched::Timer wt;

  PollDesc* link = nullptr;  // free list (PollDescCache)

  // ---- operations, all for goroutines unless noted ----

  // Fails fast, without parking, if the FD is closing or the deadline passed.
  std::error_code check_error(Mode mode) const;
  // Forgets readiness seen before an operation starts (Go's pollReset); fails like
  // check_error.
  std::error_code prepare(Mode mode);
  // Parks until the FD is ready for `mode`, its deadline passes or it is closed.
  std::error_code wait(Mode mode);
  // Sets the deadline for one or both directions (kNoDeadline: none; a past time fails
  // current and future waiters at once).
  void set_deadline(Time t, bool read, bool write);
  // Marks the PollDesc closing and wakes every waiter with Errc::closed.
  void evict();

  // Called by the poller for an epoll event; appends goroutines to ready to `out`.
  void on_event(bool readable, bool writable, bool error_only, sched::GList* out);

  // Internals shared with netpoll.cpp.
  void publish_info() PW_REQUIRES(lock);
  sched::G* unblock(Mode mode, bool ioready);
  bool block(Mode mode);
  void deadline_fired(Mode mode, uintptr_t seq, int64_t now);
};

}  // namespace parkway::net
