// Backoff: how parkway waits out a shortage of its own (no descriptor for an accept, a
// dial or a pipe; no kernel memory) instead of spinning on it or failing a client for it.
// One rule everywhere, used by every accept loop (data listeners and the admin endpoint)
// and by the dial of an upstream connection:
//
//   wait first, then twice as long each time, up to max; reset() after a success.
//   Log the condition at most once a second (LogThrottle), saying how often it recurred.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "proxy/log/log.h"
#include "scheduler/time.h"

namespace parkway::proxy {

class Backoff {
 public:
  Backoff(Duration first, Duration max) : first_(first), max_(max) {}

  // The wait before the next try: first, then doubling, up to max.
  Duration next() {
    next_ = next_ == Duration::zero() ? first_ : std::min(next_ * 2, max_);
    return next_;
  }
  // The last wait next() gave, zero after reset().
  Duration current() const { return next_; }
  void reset() { next_ = Duration::zero(); }
  // Whether this occurrence is to be logged, and how many were not since the last one.
  bool log_due(uint64_t* suppressed) { return throttle_.allow(suppressed); }

 private:
  const Duration first_, max_;
  Duration next_ = Duration::zero();
  LogThrottle throttle_;
};

}  // namespace parkway::proxy
