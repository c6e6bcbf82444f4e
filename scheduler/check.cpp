#include "scheduler/check.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace parkway::sched {

void fatal(const char* fmt, ...) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "parkway: fatal error: ");
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  // One write, so the line is not interleaved with other threads' output.
  [[maybe_unused]] ssize_t w = write(STDERR_FILENO, buf, len);
  std::abort();
}

}  // namespace parkway::sched
