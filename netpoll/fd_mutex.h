// FDMutex: the reference count and the read/write locks of an FD in one atomic word,
// after Go's internal/poll/fd_mutex.go.
//
//   bit  0       closed: set by close; every later lock or incref fails
//   bit  1       read lock held
//   bit  2       write lock held
//   bits 3..22   references: operations in progress (reads + writes + other uses)
//   bits 23..42  goroutines waiting for the read lock
//   bits 43..62  goroutines waiting for the write lock
//
// Contract: an operation takes incref() or rwlock() and gives it back with decref() or
// rwunlock(); close takes incref_and_close() and then decref(). Whoever drops the last
// reference of a closed FD sees true from decref()/rwunlock() and must destroy it (close
// the descriptor). So the descriptor number is released only after the last operation
// using it has returned, and cannot be reused under a concurrent read.
// Readers are serialised among themselves, writers among themselves; a read and a write
// may proceed together.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/sync.h"

namespace parkway::net {

class FDMutex {
 public:
  // Each returns false if the FD is closed (nothing was taken).
  bool incref();
  bool incref_and_close();
  bool rwlock(bool read);
  // Each returns true if this was the last reference of a closed FD.
  bool decref();
  bool rwunlock(bool read);

 private:
  static constexpr uint64_t kClosed = 1ull << 0;
  static constexpr uint64_t kRLock = 1ull << 1;
  static constexpr uint64_t kWLock = 1ull << 2;
  static constexpr uint64_t kRef = 1ull << 3;
  static constexpr uint64_t kRefMask = ((1ull << 20) - 1) << 3;
  static constexpr uint64_t kRWait = 1ull << 23;
  static constexpr uint64_t kRMask = ((1ull << 20) - 1) << 23;
  static constexpr uint64_t kWWait = 1ull << 43;
  static constexpr uint64_t kWMask = ((1ull << 20) - 1) << 43;
  static_assert((kRefMask & kRMask) == 0 && (kRMask & kWMask) == 0 && (kRefMask & kWLock) == 0,
                "FDMutex fields overlap");

  std::atomic<uint64_t> state_{0};
  Semaphore rsema_;
  Semaphore wsema_;
};

}  // namespace parkway::net
