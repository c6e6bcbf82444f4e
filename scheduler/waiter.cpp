#include "scheduler/internal/waiter.h"

#include "scheduler/check.h"
#include "scheduler/internal/proc.h"
#include "scheduler/time.h"

namespace parkway::sched {
namespace {

// Goroutine waits keep their state in G::wait_word = (seq << 2) | state, so that the
// state outlives the Waiter's frame and a stale timer (older seq) cannot end a new wait.
// A claimed goroutine cannot run before WakeHandle::wake() readies it.
//
// Thread waits keep it in Waiter::futex, and need one more state: a claimed thread must
// not return (and reuse its frame, where the channel value lives) while the waker is
// still moving the value, so claim() only marks it kClaimed and wake() publishes kWoken.
constexpr uint32_t kWaiting = 1, kWoken = 2, kTimedOut = 3, kClaimed = 4;
constexpr uint64_t word(uint64_t seq, uint32_t state) { return seq << 2 | state; }

void wait_timer_fired(void* arg, uintptr_t seq, int64_t) {
  G* g = static_cast<G*>(arg);
  uint64_t expected = word(seq, kWaiting);
  if (g->wait_word.compare_exchange_strong(expected, word(seq, kTimedOut),
                                           std::memory_order_acq_rel)) {
    ready(g);
  }
}

struct BlockArgs {
  SpinLock* lock;
  int64_t deadline;
  uint64_t seq;
};

bool block_commit(G* g, void* arg) PW_NO_THREAD_SAFETY_ANALYSIS {
  auto* a = static_cast<BlockArgs*>(arg);
  if (a->deadline != 0) timer_start(&g->wait_timer, a->deadline, a->seq);
  a->lock->unlock();
  return true;
}

}  // namespace

Waiter::Waiter() : g(current_g()) {}

WakeHandle Waiter::claim() {
  WakeHandle h;
  if (g) {
    if (!timed) {
      // No timer can race us, and wakers are serialised by the primitive's lock: a
      // store will do (an atomic read-modify-write costs 10+ ns on some CPUs).
      g->wait_word.store(word(seq, kWoken), std::memory_order_release);
      h.g_ = g;
      return h;
    }
    uint64_t expected = word(seq, kWaiting);
    if (g->wait_word.compare_exchange_strong(expected, word(seq, kWoken),
                                             std::memory_order_acq_rel)) {
      h.g_ = g;
    }
  } else {
    uint32_t expected = kWaiting;
    if (futex.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
      h.futex_ = &futex;
    }
  }
  return h;
}

void WakeHandle::wake() {
  if (g_) {
    ready(g_);
  } else if (futex_) {
    futex_->store(kWoken, std::memory_order_release);
    // The waiter may return as soon as it sees kWoken, so the address may be stale by
    // now: a futex wake there is harmless (it wakes nobody, or some futex waiter that
    // re-checks its condition, as every futex waiter must).
    futex_wake(futex_, 1);
  }
}

void WaiterQueue::push_back(Waiter* w) {
  w->next = nullptr;
  w->prev = tail_;
  if (tail_) {
    tail_->next = w;
  } else {
    head_ = w;
  }
  tail_ = w;
  w->queued = true;
}

Waiter* WaiterQueue::pop_front() {
  Waiter* w = head_;
  if (w) remove(w);
  return w;
}

void WaiterQueue::remove(Waiter* w) {
  if (!w->queued) return;
  if (w->prev) {
    w->prev->next = w->next;
  } else {
    head_ = w->next;
  }
  if (w->next) {
    w->next->prev = w->prev;
  } else {
    tail_ = w->prev;
  }
  w->next = w->prev = nullptr;
  w->queued = false;
}

// The lock is released on another stack (block_commit, on g0): beyond the analysis.
bool block(Waiter* w, SpinLock* lock, WaiterQueue* queue,
           int64_t deadline_ns) PW_NO_THREAD_SAFETY_ANALYSIS {
  if (w->g) {
    G* g = w->g;
    // A new wait: next sequence number, state "waiting". Only this goroutine writes a
    // new sequence, and only while nobody can claim (we hold the primitive's lock).
    uint64_t seq = (g->wait_word.load(std::memory_order_relaxed) >> 2) + 1;
    w->seq = seq;
    w->timed = deadline_ns != 0;
    g->wait_word.store(word(seq, kWaiting), std::memory_order_release);
    if (deadline_ns != 0) {
      g->wait_timer.fn = &wait_timer_fired;
      g->wait_timer.arg = g;
    }
    BlockArgs args{lock, deadline_ns, seq};
    park(&block_commit, &args);
    if (deadline_ns != 0) timer_stop(&g->wait_timer);  // a late firing sees a stale seq
    if ((g->wait_word.load(std::memory_order_acquire) & 3) == kWoken) return true;
    // Timed out. A waker may have dequeued us meanwhile without being able to claim;
    // either way, leave the queue before our frame goes away.
    SpinGuard lg(*lock);
    queue->remove(w);
    return false;
  }

  w->futex.store(kWaiting, std::memory_order_release);
  lock->unlock();
  for (;;) {
    uint32_t s = w->futex.load(std::memory_order_acquire);
    if (s == kWoken) return true;
    int64_t timeout = -1;
    if (deadline_ns != 0) {
      timeout = deadline_ns - nanotime();
      if (timeout <= 0) {
        uint32_t expected = kWaiting;
        if (w->futex.compare_exchange_strong(expected, kTimedOut, std::memory_order_acq_rel)) {
          SpinGuard lg(*lock);
          queue->remove(w);
          return false;
        }
        continue;  // a waker won the race: wait for its kWoken
      }
    }
    futex_wait(&w->futex, s, s == kClaimed ? -1 : timeout);
  }
}

}  // namespace parkway::sched
