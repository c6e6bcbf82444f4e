// Goroutine-aware synchronisation: Mutex, WaitGroup, Notification.
//
// Like their std:: and Go counterparts, except that a goroutine that has to wait parks
// (its OS thread goes on running other goroutines) instead of blocking the thread. They
// also work from plain OS threads (the thread then sleeps on a futex), so a goroutine and,
// say, the DNS resolver thread can share them. Never hold a std::mutex across a park: use
// these. See channel.h for Channel<T>.
#pragma once

#include <cstdint>

#include "scheduler/internal/futex.h"
#include "scheduler/internal/waiter.h"
#include "scheduler/thread_annotations.h"
#include "scheduler/time.h"

namespace parkway {

// A mutual-exclusion lock. Unlock hands the lock directly to the longest waiter (FIFO),
// so a goroutine cannot be starved. Not recursive. Satisfies Lockable, so
// std::lock_guard<parkway::Mutex> and std::unique_lock work.
class PW_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() PW_ACQUIRE();
  bool try_lock() PW_TRY_ACQUIRE(true);
  // Precondition: held (by anyone: like Go's, a Mutex is not tied to a goroutine).
  void unlock() PW_RELEASE();

 private:
  sched::SpinLock lock_;
  bool locked_ PW_GUARDED_BY(lock_) = false;
  sched::WaiterQueue waiters_ PW_GUARDED_BY(lock_);
};

// A scoped lock of a Mutex, annotated for clang's thread-safety analysis (std::lock_guard
// is not).
using MutexLock = sched::BasicLockGuard<Mutex>;

// Waits for a collection of goroutines to finish, as Go's sync.WaitGroup.
class WaitGroup {
 public:
  // Adds delta (may be negative) to the counter; reaching zero releases every waiter.
  // The counter going negative is a fatal error.
  void add(int64_t delta);
  void done() { add(-1); }
  // Waits until the counter is zero.
  void wait();
  // Same, giving up at `deadline`; returns whether the counter reached zero.
  bool wait_until(Time deadline);

 private:
  sched::SpinLock lock_;
  int64_t count_ PW_GUARDED_BY(lock_) = 0;
  sched::WaiterQueue waiters_ PW_GUARDED_BY(lock_);
};

// A counting semaphore (Go's runtime semaphore, used for sync and internal/poll).
// acquire() takes a unit, waiting while there is none; release() gives one back,
// handing it directly to the longest waiter if any.
class Semaphore {
 public:
  explicit Semaphore(int64_t initial = 0) : count_(initial) {}
  void acquire();
  bool try_acquire();
  // Returns whether a unit was taken before `deadline`.
  bool acquire_until(Time deadline);
  void release(int64_t n = 1);
  int64_t available() const {
    sched::SpinGuard g(lock_);
    return count_;
  }

 private:
  mutable sched::SpinLock lock_;
  int64_t count_ PW_GUARDED_BY(lock_);
  sched::WaiterQueue waiters_ PW_GUARDED_BY(lock_);
};

// A one-shot event: notify() once, and every wait() before or after returns.
class Notification {
 public:
  Notification() = default;
  // Waits for a notify() still under way: a waiter may see the flag, return and destroy
  // the Notification while notify() has yet to release its lock (the usual pattern:
  // wait(), then free the object that holds it).
  ~Notification() { sched::SpinGuard g(lock_); }
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  void notify();  // idempotent
  bool has_been_notified() const { return notified_.load(std::memory_order_acquire); }
  void wait();
  // Returns whether it was notified before `deadline`.
  bool wait_until(Time deadline);
  bool wait_for(Duration d) { return wait_until(deadline_after(d)); }

 private:
  sched::SpinLock lock_;
  std::atomic<bool> notified_{false};
  sched::WaiterQueue waiters_ PW_GUARDED_BY(lock_);
};

}  // namespace parkway
