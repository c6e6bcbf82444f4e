#include "scheduler/sync.h"

#include <vector>

#include "scheduler/check.h"

namespace parkway {

using sched::SpinGuard;
using sched::Waiter;
using sched::WakeHandle;

void Mutex::lock() {
  lock_.lock();
  if (!locked_) {
    locked_ = true;
    lock_.unlock();
    return;
  }
  Waiter w;
  waiters_.push_back(&w);
  sched::block(&w, &lock_, &waiters_);
  // unlock() handed the lock over to us: locked_ stayed true.
}

bool Mutex::try_lock() {
  SpinGuard g(lock_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() {
  lock_.lock();
  PW_CHECK(locked_, "unlock of an unlocked parkway::Mutex");
  while (Waiter* w = waiters_.pop_front()) {
    if (WakeHandle h = w->claim()) {
      lock_.unlock();
      h.wake();  // direct handoff: still locked, now owned by w
      return;
    }
  }
  locked_ = false;
  lock_.unlock();
}

namespace {

// Claims every waiter in q (the lock is held) for waking after the lock is released.
void claim_all(sched::WaiterQueue& q, std::vector<WakeHandle>& out) {
  while (Waiter* w = q.pop_front()) {
    if (WakeHandle h = w->claim()) out.push_back(h);
  }
}

}  // namespace

void WaitGroup::add(int64_t delta) {
  std::vector<WakeHandle> wake;
  {
    SpinGuard g(lock_);
    count_ += delta;
    PW_CHECK(count_ >= 0, "negative parkway::WaitGroup counter");
    if (count_ == 0) claim_all(waiters_, wake);
  }
  for (auto& h : wake) h.wake();
}

void WaitGroup::wait() { wait_until(kNoDeadline); }

bool WaitGroup::wait_until(Time deadline) {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return true;
  }
  if (deadline != kNoDeadline && deadline <= now()) {
    lock_.unlock();
    return false;
  }
  Waiter w;
  waiters_.push_back(&w);
  return sched::block(&w, &lock_, &waiters_,
                      deadline == kNoDeadline ? 0 : sched::to_nanos(deadline));
}

void Semaphore::acquire() { acquire_until(kNoDeadline); }

bool Semaphore::try_acquire() {
  SpinGuard g(lock_);
  if (count_ == 0) return false;
  count_--;
  return true;
}

bool Semaphore::acquire_until(Time deadline) {
  lock_.lock();
  if (count_ > 0) {
    count_--;
    lock_.unlock();
    return true;
  }
  if (deadline != kNoDeadline && deadline <= now()) {
    lock_.unlock();
    return false;
  }
  Waiter w;
  waiters_.push_back(&w);
  // A unit handed over by release() is ours once we are claimed: count_ was not bumped.
  return sched::block(&w, &lock_, &waiters_,
                      deadline == kNoDeadline ? 0 : sched::to_nanos(deadline));
}

void Semaphore::release(int64_t n) {
  PW_CHECK(n > 0, "parkway::Semaphore::release(%lld)", static_cast<long long>(n));
  std::vector<WakeHandle> wake;
  {
    SpinGuard g(lock_);
    while (n > 0) {
      Waiter* w = waiters_.pop_front();
      if (w == nullptr) break;
      if (WakeHandle h = w->claim()) {
        wake.push_back(h);
        n--;
      }
    }
    count_ += n;
  }
  for (auto& h : wake) h.wake();
}

void Notification::notify() {
  std::vector<WakeHandle> wake;
  {
    SpinGuard g(lock_);
    if (notified_.load(std::memory_order_relaxed)) return;
    notified_.store(true, std::memory_order_release);
    claim_all(waiters_, wake);
  }
  for (auto& h : wake) h.wake();
}

void Notification::wait() { wait_until(kNoDeadline); }

bool Notification::wait_until(Time deadline) {
  if (notified_.load(std::memory_order_acquire)) return true;
  lock_.lock();
  if (notified_.load(std::memory_order_relaxed)) {
    lock_.unlock();
    return true;
  }
  if (deadline != kNoDeadline && deadline <= now()) {
    lock_.unlock();
    return false;
  }
  Waiter w;
  waiters_.push_back(&w);
  return sched::block(&w, &lock_, &waiters_,
                      deadline == kNoDeadline ? 0 : sched::to_nanos(deadline));
}

}  // namespace parkway
