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
//            (scheduler/park.h, park_io); a waker hands the wake-up off to it:
//   busy+v   (park_slot_handoff(v)) a waker took the wake-up of the frozen goroutine;
//            the runtime leaves v (pdNil or pdReady) and readies the goroutine
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
//
// `info` is one atomic word, as Go's pollDesc.atomicInfo:
//
//    31            16 15     5     4      3         2          1         0
//   +----------------+--------+--------+---------+---------+----------+---------+
//   | fdseq & 0xFFFF |   0    | hangup | wd < 0  | rd < 0  | event err| closing |
//   +----------------+--------+--------+---------+---------+----------+---------+
//
// closing, rd and wd are copied in under the lock (publish_info). The event-error bit has
// no other home: the poller sets or clears it on every event by CAS (set_event_err), and
// the CAS fails when the sequence in the word is not the event's. So an EPOLLERR fetched
// for an FD that another thread closed meanwhile, even one that passed the poller's
// sequence check a moment before the close, can never mark the next FD that gets this
// PollDesc (close() publishes the new sequence under the lock before freeing it). The
// same stale event may still set pdReady or wake the new FD's waiter: a spurious
// readiness, which every wait tolerates (the syscall is retried and says EAGAIN).
//
// The hangup bit says that some event of this FD reported EPOLLRDHUP, EPOLLHUP, EPOLLERR
// or EPOLLPRI: the peer shut down its side or reset, or urgent data arrived. It is set by
// the same CAS as the event-error bit, before the wake-ups of that event, and only ever
// cleared at open, so no reordering of two pollers' events can take it away. A reader of
// a TCP socket that got fewer bytes than it asked for may wait for the next edge without
// reading again (the socket is drained: whatever arrives later is a new edge) only while
// the bit is clear. Once it is set, a short read proves nothing: the FIN was taken with
// the last bytes and no edge will follow it, or the read stopped at an urgent mark with
// data behind it. See FD::short_read_drains and splice.cpp, copy_chunk.
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "netpoll/error.h"
#include "scheduler/lock.h"
#include "scheduler/park.h"
#include "scheduler/time.h"
#include "scheduler/timer.h"

namespace parkway::net {

enum class Mode { read, write };

inline constexpr uintptr_t pdNil = 0;
inline constexpr uintptr_t pdReady = 1;
inline constexpr uintptr_t pdWait = 2;
// 3 is sched::kParkSlotBusy: the runtime holds the parked G* for a moment (park.h); 4 and
// 5 are the hand-offs to it of a wake-up that leaves pdNil or pdReady.
static_assert(sched::kParkSlotBusy == 3, "netpoll: slot values overlap");
static_assert(sched::park_slot_handoff(pdNil) == 4 && sched::park_slot_handoff(pdReady) == 5 &&
                  !sched::park_slot_holds_g(sched::park_slot_handoff(pdReady)),
              "netpoll: slot values overlap");

struct alignas(64) PollDesc {
  // Bits of `info` (drawn above).
  static constexpr uint32_t kClosing = 1, kEventErr = 2, kReadExpired = 4, kWriteExpired = 8,
                            kHangup = 16;
  static constexpr int kInfoSeqShift = 16;
  static constexpr uint32_t kSeqMask = 0xFFFF;  // the bits of fdseq in info and event data

  int fd = -1;                       // constant while open
  std::atomic<uint32_t> fdseq{0};    // changes at every close (under lock); see above
  std::atomic<uintptr_t> rg{pdNil};  // see the state diagram
  std::atomic<uintptr_t> wg{pdNil};
  std::atomic<uint32_t> info{0};  // see above: lock-free reads, CAS by the poller

  sched::SpinLock lock;
  bool closing PW_GUARDED_BY(lock) = false;
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

  // True once an event of this FD reported a hangup, an error or urgent data (the
  // hangup bit above): a short read no longer means the socket is drained.
  bool hung_up() const { return (info.load(std::memory_order_seq_cst) & kHangup) != 0; }

  // Called by the poller for an epoll event of registration sequence `seq` (fdseq &
  // kSeqMask, checked by the caller); appends goroutines to ready to `out`.
  void on_event(bool readable, bool writable, bool error_only, bool hangup, uint32_t seq,
                sched::GList* out);

  // Internals shared with netpoll.cpp.
  // Copies closing/rd/wd and the current fdseq into info, keeping the event-error bit,
  // or clearing it with clear_event_err (at open).
  void publish_info(bool clear_event_err = false) PW_REQUIRES(lock);
  // Go's setEventErr: sets or clears the event-error bit, and sets the hangup bit if
  // `hangup` (never clears it), unless info's sequence is no longer `seq` (the FD was
  // closed since the event was fetched).
  void set_event_err(bool err, bool hangup, uint32_t seq);
  sched::G* unblock(Mode mode, bool ioready);
  bool block(Mode mode);
  void deadline_fired(Mode mode, uintptr_t seq, int64_t now);
};

}  // namespace parkway::net
