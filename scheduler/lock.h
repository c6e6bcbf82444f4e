// Locks for OS threads, usable from goroutines and plain threads alike: RuntimeLock (a
// futex mutex for short critical sections) and SpinLock (for critical sections of a few
// instructions that never block), with their scoped guards.
//
// Both hold the OS thread while waiting, never park the goroutine: take them only around
// code that cannot block or park. Goroutine code that must wait for long uses
// parkway::Mutex and the other primitives of scheduler/sync.h, which park instead.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/thread_annotations.h"

namespace parkway::sched {

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
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }
  bool try_lock() PW_TRY_ACQUIRE(true) {
    uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

 private:
  void lock_slow(uint32_t c);
  void wake_one();                  // a thread sleeps on the lock: wake one
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
