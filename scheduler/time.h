// Time in parkway: one monotonic clock (CLOCK_MONOTONIC through std::chrono::steady_clock),
// absolute Time points and Durations. Timers, sleeps and I/O deadlines all take these
// types; raw integers never cross an API.
#pragma once

#include <chrono>
#include <cstdint>

namespace parkway {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;
using Time = Clock::time_point;  // an absolute point on the monotonic clock

// The monotonic clock, readable from any thread.
inline Time now() { return Clock::now(); }

// A Time later than every real deadline: "no deadline".
inline constexpr Time kNoDeadline = Time::max();

// t + d, saturating: a sum beyond the clock's range is kNoDeadline ("never") and one
// before it the earliest Time, never a wrapped value. Deadlines are computed with this
// (or deadline_after), never with operator+, so that a duration as long as the config
// allows means "effectively never" instead of wrapping into the past.
constexpr Time add_saturating(Time t, Duration d) {
  const int64_t base = t.time_since_epoch().count();
  int64_t sum = 0;
  if (__builtin_add_overflow(base, d.count(), &sum))
    return d.count() > 0 ? kNoDeadline : Time::min();
  return Time(Duration(sum));
}

// now() + d, saturating.
inline Time deadline_after(Duration d) { return add_saturating(now(), d); }

}  // namespace parkway

namespace parkway::sched {

// Nanoseconds on the monotonic clock; the runtime's internal representation of Time.
inline int64_t nanotime() { return Clock::now().time_since_epoch().count(); }
inline int64_t to_nanos(Time t) { return t.time_since_epoch().count(); }
// base + d on nanotime() values, saturating like add_saturating: INT64_MAX is
// to_nanos(kNoDeadline), "never".
constexpr int64_t add_saturating_ns(int64_t base, int64_t d) {
  int64_t sum = 0;
  if (__builtin_add_overflow(base, d, &sum)) return d > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

}  // namespace parkway::sched
