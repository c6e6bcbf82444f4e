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

}  // namespace parkway

namespace parkway::sched {

// Nanoseconds on the monotonic clock; the runtime's internal representation of Time.
inline int64_t nanotime() { return Clock::now().time_since_epoch().count(); }
inline int64_t to_nanos(Time t) { return t.time_since_epoch().count(); }

}  // namespace parkway::sched
