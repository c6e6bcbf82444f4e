// The runtime's primitives for OS threads: the futex calls and Note (a one-shot wake-up,
// as in Go's runtime). The locks built on them are public: scheduler/lock.h.
//
// These block the OS thread. Goroutine code that must wait uses parkway::Mutex and the
// other primitives of scheduler/sync.h, which park the goroutine instead.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/lock.h"
#include "scheduler/thread_annotations.h"

namespace parkway::sched {

// Waits while *addr == expected, for at most timeout_ns (< 0: no limit). Spurious returns
// are possible; callers re-check their condition.
void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns = -1);
// Wakes up to n threads waiting on addr.
void futex_wake(std::atomic<uint32_t>* addr, int n);

// A one-shot event for one sleeping thread: sleep() blocks until wakeup() has been called
// (before or after), clear() re-arms it. Go's runtime `note`.
class Note {
 public:
  void sleep();
  // Returns true if woken, false on timeout.
  bool sleep_for(int64_t timeout_ns);
  void wakeup();
  void clear() { state_.store(0, std::memory_order_relaxed); }
  bool is_set() const { return state_.load(std::memory_order_acquire) == 1; }

 private:
  std::atomic<uint32_t> state_{0};  // 0: not woken, 1: woken
};

}  // namespace parkway::sched
