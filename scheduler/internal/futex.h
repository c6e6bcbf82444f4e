// Futex-based primitives for OS threads: Note (a one-shot wake-up, as in Go's runtime)
// and RuntimeLock (a short-held mutex for the scheduler's own data structures).
//
// These block the OS thread. Goroutine code that must wait uses parkway::Mutex and the
// other primitives of scheduler/sync.h, which park the goroutine instead.
#pragma once

#include <atomic>
#include <cstdint>

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

// A mutex for OS threads: spins briefly, then sleeps on a futex (Drepper's "mutex3").
// Held only for short, non-blocking critical sections in the runtime.
class PW_CAPABILITY("mutex") RuntimeLock {
 public:
  void lock() PW_ACQUIRE() {
    uint32_t c = 0;
    if (!state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      lock_slow(c);
    }
  }
  void unlock() PW_RELEASE() {
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
  }
  bool try_lock() PW_TRY_ACQUIRE(true) {
    uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

 private:
  void lock_slow(uint32_t c);
  std::atomic<uint32_t> state_{0};  // 0: unlocked, 1: locked, 2: locked with sleepers
};

class PW_SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(RuntimeLock& l) PW_ACQUIRE(l) : l_(l) { l_.lock(); }
  ~LockGuard() PW_RELEASE() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  RuntimeLock& l_;
};

// Hint to the CPU that we are spinning.
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace parkway::sched
