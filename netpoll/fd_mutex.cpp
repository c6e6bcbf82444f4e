#include "netpoll/fd_mutex.h"

#include "scheduler/check.h"

namespace parkway::net {
namespace {
constexpr const char* kOverflow =
    "netpoll: too many concurrent operations on one socket (max 1048575)";
}

bool FDMutex::incref() {
  uint64_t old = state_.load();
  for (;;) {
    if (old & kClosed) return false;
    uint64_t next = old + kRef;
    PW_CHECK((next & kRefMask) != 0, "%s", kOverflow);
    if (state_.compare_exchange_weak(old, next)) return true;
  }
}

bool FDMutex::incref_and_close() {
  uint64_t old = state_.load();
  for (;;) {
    if (old & kClosed) return false;
    // Mark closed, take a reference, and drop every waiter: they are woken below and
    // will see the closed bit.
    uint64_t next = (old | kClosed) + kRef;
    PW_CHECK((next & kRefMask) != 0, "%s", kOverflow);
    next &= ~(kRMask | kWMask);
    if (state_.compare_exchange_weak(old, next)) {
      for (; old & kRMask; old -= kRWait) rsema_.release();
      for (; old & kWMask; old -= kWWait) wsema_.release();
      return true;
    }
  }
}

bool FDMutex::decref() {
  uint64_t old = state_.load();
  for (;;) {
    PW_CHECK((old & kRefMask) != 0, "netpoll: FDMutex reference count underflow");
    uint64_t next = old - kRef;
    if (state_.compare_exchange_weak(old, next)) return (next & (kClosed | kRefMask)) == kClosed;
  }
}

bool FDMutex::rwlock(bool read) {
  const uint64_t bit = read ? kRLock : kWLock;
  const uint64_t wait = read ? kRWait : kWWait;
  const uint64_t mask = read ? kRMask : kWMask;
  Semaphore& sema = read ? rsema_ : wsema_;
  for (;;) {
    uint64_t old = state_.load();
    if (old & kClosed) return false;
    uint64_t next;
    if ((old & bit) == 0) {
      next = (old | bit) + kRef;  // free: take it
      PW_CHECK((next & kRefMask) != 0, "%s", kOverflow);
    } else {
      next = old + wait;  // held: queue up
      PW_CHECK((next & mask) != 0, "%s", kOverflow);
    }
    if (state_.compare_exchange_weak(old, next)) {
      if ((old & bit) == 0) return true;
      sema.acquire();  // the unlocker (or close) took our waiter count off
    }
  }
}

bool FDMutex::rwunlock(bool read) {
  const uint64_t bit = read ? kRLock : kWLock;
  const uint64_t wait = read ? kRWait : kWWait;
  const uint64_t mask = read ? kRMask : kWMask;
  Semaphore& sema = read ? rsema_ : wsema_;
  uint64_t old = state_.load();
  for (;;) {
    PW_CHECK((old & bit) != 0 && (old & kRefMask) != 0, "netpoll: inconsistent FDMutex");
    // Drop the lock and the reference, and wake one waiter if there is one.
    uint64_t next = (old & ~bit) - kRef;
    if (old & mask) next -= wait;
    if (state_.compare_exchange_weak(old, next)) {
      if (old & mask) sema.release();
      return (next & (kClosed | kRefMask)) == kClosed;
    }
  }
}

}  // namespace parkway::net
