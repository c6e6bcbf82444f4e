// Invariant checks for the runtime.
//
// Two error channels, as in Go's runtime: a broken invariant is a bug in parkway and
// aborts at once with a unique message (PW_CHECK, fatal); errors that come from peers or
// the environment are values and never pass through here.
#pragma once

namespace parkway::sched {

// Prints "parkway: fatal error: <message>" to stderr and aborts. Async-signal-safe once
// the message is formatted; usable from any thread, goroutine or not.
[[noreturn, gnu::format(printf, 1, 2), gnu::cold]] void fatal(const char* fmt, ...);

}  // namespace parkway::sched

// PW_CHECK(cond, fmt, ...): always on; aborts with the formatted message when cond is false.
#define PW_CHECK(cond, ...)                 \
  do {                                      \
    if (__builtin_expect(!(cond), 0)) {     \
      ::parkway::sched::fatal(__VA_ARGS__); \
    }                                       \
  } while (0)

// PW_DCHECK: only in Debug builds (NDEBUG undefined); for checks too costly for Release.
#ifdef NDEBUG
#define PW_DCHECK(cond, ...) \
  do {                       \
  } while (0)
#else
#define PW_DCHECK(cond, ...) PW_CHECK(cond, __VA_ARGS__)
#endif
