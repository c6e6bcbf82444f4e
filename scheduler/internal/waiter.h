// Waiters: how the blocking primitives of sync.h and channel.h put a caller to sleep.
//
// A primitive keeps a queue of Waiters under its own RuntimeLock. A Waiter lives on the
// waiting caller's stack and is either a goroutine (which parks) or a plain OS thread
// (which sleeps on a futex in the Waiter): every primitive works from both.
//
// The protocol, for a waiter W in a primitive whose lock is L:
//   waiter: lock L; check the condition; enqueue W; block(W, L)  -- L is released by
//           block() only once W can be woken (for a goroutine: after it left its stack).
//   waker:  lock L; dequeue W; if W.claim() { unlock L; W's handle.wake() }
// claim() decides, once, between the waker and a timeout: both race to move the wait from
// "waiting" to "woken" or "timed out" with one CAS. The loser does nothing. A waiter that
// timed out removes itself from the queue (under L) before returning, so a waker never
// touches a Waiter whose frame is gone: it claims under L, and copies out what wake()
// needs before releasing L.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/internal/futex.h"
#include "scheduler/park.h"

namespace parkway::sched {

struct Waiter;

// What a waker needs after releasing the primitive's lock: copied out of the Waiter,
// whose frame may be gone by then.
class WakeHandle {
 public:
  WakeHandle() = default;
  void wake();
  explicit operator bool() const { return g_ != nullptr || futex_ != nullptr; }

 private:
  friend struct Waiter;
  G* g_ = nullptr;
  std::atomic<uint32_t>* futex_ = nullptr;
};

struct Waiter {
  Waiter();  // binds to the calling goroutine, or to the calling thread

  // Called by a waker holding the primitive's lock. Returns an empty handle if the wait
  // already timed out (the waiter will remove itself; pick another).
  WakeHandle claim();

  G* g = nullptr;                  // the goroutine, or null for a thread waiter
  uint64_t seq = 0;                // goroutine waiter: this wait's sequence number
  bool timed = false;              // has a deadline: a timeout may race the wake-up
  std::atomic<uint32_t> futex{0};  // thread waiter: state word (see waiter.cpp)
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  bool queued = false;

  void* slot = nullptr;  // channel: where the value is taken from / put to
  bool ok = false;       // channel: the transfer happened (false: closed)
};

// Intrusive FIFO of Waiters; protected by the owning primitive's lock.
class WaiterQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  void push_back(Waiter* w);
  Waiter* pop_front();
  void remove(Waiter* w);

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// Blocks until w is claimed by a waker, or until deadline_ns (0: no deadline) passes.
// `lock` must be held on entry with w in `queue`; it is released. Returns true if woken,
// false if timed out; either way w is no longer in `queue` on return.
bool block(Waiter* w, SpinLock* lock, WaiterQueue* queue, int64_t deadline_ns = 0) PW_RELEASE(lock);

}  // namespace parkway::sched
