// How much slower than a Release build the tests' timing may be.
//
// Sanitizer builds run both parkway and the test process several times slower (TSan
// most: every memory access is checked), and a machine shared with benchmarks is slower
// still. Deadlines that only bound how long a test may wait for something that must
// happen (a log line, a connection, an end of stream) are multiplied by time_scale();
// lower bounds on time (a timeout must not fire early) are never scaled.
//
// The scale is 1 in plain builds, 3 under ASan, 6 under TSan; $PARKWAY_TEST_TIME_SCALE
// (a positive integer) overrides it.
#pragma once

#include <chrono>
#include <cstdlib>

namespace parkway::e2e {

inline int time_scale() {
  static const int scale = [] {
    if (const char* env = std::getenv("PARKWAY_TEST_TIME_SCALE")) {
      const int v = std::atoi(env);
      if (v > 0) return v;
    }
#if defined(PARKWAY_TSAN)
    return 6;
#elif defined(PARKWAY_ASAN)
    return 3;
#else
    return 1;
#endif
  }();
  return scale;
}

// `d` stretched by time_scale(): for deadlines that wait for something that must happen.
template <class Rep, class Period>
auto scaled(std::chrono::duration<Rep, Period> d) {
  return d * time_scale();
}

// Whether this is a sanitizer build (sizes and rates measured for Release do not apply).
inline constexpr bool kSanitized =
#if defined(PARKWAY_TSAN) || defined(PARKWAY_ASAN)
    true;
#else
    false;
#endif

}  // namespace parkway::e2e
