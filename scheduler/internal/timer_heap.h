// TimerHeap: the per-P 4-ary min-heap of timers (see scheduler/timer.h for the API).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "scheduler/internal/futex.h"
#include "scheduler/timer.h"

namespace parkway::sched {
class TimerHeap {
 public:
  // Earliest `when` on this heap, 0 if empty. Lock-free, for idle Ps deciding whom to visit.
  int64_t next_when() const { return when0_.load(std::memory_order_acquire); }

  // Pops and runs every timer with when <= now. Returns how many ran.
  int run_expired(int64_t now);

  // The following are used by the timer_* functions. Each returns whether `t` is now the
  // earliest timer on this heap (so a blocked poller may need waking).
  bool add(Timer* t, int64_t when, uintptr_t seq);
  // If t is (still) on this heap: moves it to `when` and returns 1 if it is now the
  // earliest, else 0. Returns -1 if t is no longer on this heap (it fired or moved).
  int modify(Timer* t, int64_t when, uintptr_t seq);
  // Removes t if it is (still) on this heap; returns whether it did.
  bool remove(Timer* t);

  size_t size_for_test();

 private:
  SpinLock lock_;
  void sift_up(int32_t i) PW_REQUIRES(lock_);
  void sift_down(int32_t i) PW_REQUIRES(lock_);
  void remove_at(int32_t i) PW_REQUIRES(lock_);
  void update_when0() PW_REQUIRES(lock_);

  std::vector<Timer*> heap_ PW_GUARDED_BY(lock_);
  std::atomic<int64_t> when0_{0};
};

}  // namespace parkway::sched
