#include "scheduler/internal/futex.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "scheduler/time.h"

namespace parkway::sched {

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tsp = &ts;
  }
  // FUTEX_WAIT takes a relative timeout. EINTR, EAGAIN and ETIMEDOUT all mean "re-check".
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr,
          0);
}

void futex_wake(std::atomic<uint32_t>* addr, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

void Note::sleep() {
  while (state_.load(std::memory_order_acquire) == 0) futex_wait(&state_, 0);
}

bool Note::sleep_for(int64_t timeout_ns) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  // Saturating: a timeout near INT64_MAX means "practically never", not a wrapped past.
  const int64_t deadline =
      add_saturating_ns(start.tv_sec * 1'000'000'000LL + start.tv_nsec, timeout_ns);
  while (state_.load(std::memory_order_acquire) == 0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const int64_t left = deadline - (now.tv_sec * 1'000'000'000LL + now.tv_nsec);
    if (left <= 0) return false;
    futex_wait(&state_, 0, left);
  }
  return true;
}

void Note::wakeup() {
  if (state_.exchange(1, std::memory_order_release) == 0) futex_wake(&state_, 1);
}

void RuntimeLock::lock_slow(uint32_t c) {
  // Spin a little first: the holder is usually running on another CPU and about to release.
  for (int i = 0; i < 64; i++) {
    cpu_relax();
    c = state_.load(std::memory_order_relaxed);
    if (c == 0 &&
        state_.compare_exchange_weak(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
  }
  // Mark "locked with sleepers" and sleep until we take it in that state.
  if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(&state_, 2);
    c = state_.exchange(2, std::memory_order_acquire);
  }
}

void RuntimeLock::wake_one() { futex_wake(&state_, 1); }

void SpinLock::lock_slow() {
  for (int spins = 0;; spins++) {
    if (!locked_.load(std::memory_order_relaxed) &&
        !locked_.exchange(true, std::memory_order_acquire)) {
      return;
    }
    if (spins < 128) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

}  // namespace parkway::sched
