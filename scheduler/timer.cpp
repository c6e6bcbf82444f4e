#include "scheduler/check.h"
#include "scheduler/internal/proc.h"
#include "scheduler/internal/timer_heap.h"

namespace parkway::sched {

// The heap is 4-ary: shallower than a binary heap, so sift_down touches fewer cache lines
// for the same number of timers (Go's runtime made the same choice).
namespace {
constexpr int32_t kArity = 4;
}

void TimerHeap::update_when0() {
  when0_.store(heap_.empty() ? 0 : heap_[0]->when, std::memory_order_release);
}

void TimerHeap::sift_up(int32_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    int32_t parent = (i - 1) / kArity;
    if (t->when >= heap_[parent]->when) break;
    heap_[i] = heap_[parent];
    heap_[i]->index = i;
    i = parent;
  }
  heap_[i] = t;
  t->index = i;
}

void TimerHeap::sift_down(int32_t i) {
  const auto n = static_cast<int32_t>(heap_.size());
  Timer* t = heap_[i];
  for (;;) {
    int32_t first = i * kArity + 1;
    if (first >= n) break;
    int32_t best = first;
    int32_t last = first + kArity < n ? first + kArity : n;
    for (int32_t c = first + 1; c < last; c++) {
      if (heap_[c]->when < heap_[best]->when) best = c;
    }
    if (heap_[best]->when >= t->when) break;
    heap_[i] = heap_[best];
    heap_[i]->index = i;
    i = best;
  }
  heap_[i] = t;
  t->index = i;
}

void TimerHeap::remove_at(int32_t i) {
  Timer* t = heap_[i];
  Timer* last = heap_.back();
  heap_.pop_back();
  t->index = -1;
  t->heap.store(nullptr, std::memory_order_release);
  if (last != t) {
    heap_[i] = last;
    last->index = i;
    sift_up(i);
    sift_down(last->index);
  }
}

bool TimerHeap::add(Timer* t, int64_t when, uintptr_t seq) {
  SpinGuard g(lock_);
  PW_CHECK(t->index < 0, "timer_start of a timer that is already pending");
  t->when = when < 1 ? 1 : when;
  t->seq = seq;
  t->heap.store(this, std::memory_order_release);
  heap_.push_back(t);
  sift_up(static_cast<int32_t>(heap_.size() - 1));
  update_when0();
  return heap_[0] == t;
}

int TimerHeap::modify(Timer* t, int64_t when, uintptr_t seq) {
  SpinGuard g(lock_);
  if (t->heap.load(std::memory_order_relaxed) != this) return -1;
  t->when = when < 1 ? 1 : when;
  t->seq = seq;
  sift_up(t->index);
  sift_down(t->index);
  update_when0();
  return heap_[0] == t ? 1 : 0;
}

bool TimerHeap::remove(Timer* t) {
  SpinGuard g(lock_);
  if (t->heap.load(std::memory_order_relaxed) != this) return false;
  remove_at(t->index);
  update_when0();
  return true;
}

int TimerHeap::run_expired(int64_t now) {
  int ran = 0;
  lock_.lock();
  while (!heap_.empty() && heap_[0]->when <= now) {
    Timer* t = heap_[0];
    TimerFunc fn = t->fn;
    void* arg = t->arg;
    uintptr_t seq = t->seq;
    remove_at(0);
    update_when0();
    lock_.unlock();
    fn(arg, seq, now);  // may re-arm t, on this heap or another
    ran++;
    lock_.lock();
  }
  lock_.unlock();
  return ran;
}

size_t TimerHeap::size_for_test() {
  SpinGuard g(lock_);
  return heap_.size();
}

void timer_start(Timer* t, int64_t when, uintptr_t seq) {
  TimerHeap* h = current_timer_heap();
  if (h->add(t, when, seq)) wake_poller(when);
}

// The owner serialises timer_start/stop/reset on one timer; the only concurrent change is
// the heap firing it (t->heap becomes null) or its callback re-arming it. Hence the loops:
// look up the heap, then confirm under that heap's lock.
bool timer_stop(Timer* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) return false;
    if (h->remove(t)) return true;
  }
}

bool timer_reset(Timer* t, int64_t when, uintptr_t seq) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) {
      timer_start(t, when, seq);
      return false;
    }
    int r = h->modify(t, when, seq);
    if (r < 0) continue;
    if (r == 1) wake_poller(when);
    return true;
  }
}

}  // namespace parkway::sched
