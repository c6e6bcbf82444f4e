// Primitives for OS threads: Note (a one-shot wake-up, as in Go's runtime), RuntimeLock
// (a futex mutex for the scheduler's own data structures) and SpinLock (for the few
// instructions a channel or a PollDesc holds its lock).
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

// A lock for critical sections of a few instructions that never block (the wait queues
// of sync.h and channel.h, PollDesc deadlines, timer heaps). Unlocking is a plain release
// store, where RuntimeLock needs an atomic exchange to find sleepers: that is one fewer
// atomic read-modify-write (10+ ns on some CPUs) per critical section, four per channel
// round trip. A waiter spins briefly, then yields its CPU (the holder may have been
// preempted), so it cannot livelock.
class PW_CAPABILITY("mutex") SpinLock {
 public:
  void lock() PW_ACQUIRE() {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() PW_TRY_ACQUIRE(true) {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() PW_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  void lock_slow();
  std::atomic<bool> locked_{false};
};

template <class L>
class PW_SCOPED_CAPABILITY BasicLockGuard {
 public:
  explicit BasicLockGuard(L& l) PW_ACQUIRE(l) : l_(l) { l_.lock(); }
  ~BasicLockGuard() PW_RELEASE() { l_.unlock(); }
  BasicLockGuard(const BasicLockGuard&) = delete;
  BasicLockGuard& operator=(const BasicLockGuard&) = delete;

 private:
  L& l_;
};
using LockGuard = BasicLockGuard<RuntimeLock>;
using SpinGuard = BasicLockGuard<SpinLock>;

// Hint to the CPU that we are spinning.
inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace parkway::sched
