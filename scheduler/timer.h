// Timers: the scheduler's one-shot timers, for layers that build on it (netpoll's
// deadlines; sleeps). They live in a 4-ary min-heap per P, as in Go's runtime
// (internal/timer_heap.h).
//
// A Timer is owned by whoever embeds it (a sleeping goroutine's G, a PollDesc's deadline);
// the heap only links it. Fields are protected by the lock of the heap the timer is on.
//
//   timer_start(t, when, seq)  t is not pending: add it to the current P's heap.
//   timer_stop(t)              remove t if pending; true if it was (it will never fire).
//   timer_reset(t, when, seq)  move t to `when`, pending or not; true if it was pending.
//
// fn and arg are set once, before the timer is first started; seq is set by start and
// reset, under the heap lock, since the heap reads it when it fires the timer.
//
// Firing: the P that owns a heap (or an idle P stealing work) pops every timer whose
// `when` has passed, under the heap lock, then calls fn(arg, seq, now) without the lock,
// on the scheduler stack (g0) of an M that holds a P. Callbacks must not block; they may
// call ready() and timer_reset() (a deadline re-arming itself).
//
// Staleness: once popped, a timer is no longer pending, so a timer_stop() racing with the
// firing returns false while the callback may still be about to run. Owners that can
// stop or move a timer concurrently with its expiry pass a sequence number in `seq` and
// compare it with their current one under their own lock (PollDesc does this with its
// rseq/wseq, exactly as Go does); a stale callback then does nothing.
#pragma once

#include <atomic>
#include <cstdint>

namespace parkway::sched {

class TimerHeap;

using TimerFunc = void (*)(void* arg, uintptr_t seq, int64_t now);

struct Timer {
  TimerFunc fn = nullptr;  // set once, before the first start
  void* arg = nullptr;

  // Protected by heap->lock_.
  uintptr_t seq = 0;  // passed back to fn; see "Staleness" above
  int64_t when = 0;
  int32_t index = -1;                     // position in heap->heap_, -1 when not pending
  std::atomic<TimerHeap*> heap{nullptr};  // the heap t is on, null when not pending

  bool pending() const { return heap.load(std::memory_order_acquire) != nullptr; }
};

// `when` is nanotime() (scheduler/time.h) based.
void timer_start(Timer* t, int64_t when, uintptr_t seq = 0);
bool timer_stop(Timer* t);
bool timer_reset(Timer* t, int64_t when, uintptr_t seq = 0);

}  // namespace parkway::sched
