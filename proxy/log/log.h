// The event log: one line per event on stderr, with a level.
//
//   2026-11-26T20:40:00.123Z info  listener "app": listening on 127.0.0.1:10080
//
// When stderr is the systemd journal (JOURNAL_STREAM names it), lines carry no timestamp
// (the journal adds its own) and start with a syslog priority, "<6>listener ...", which
// the journal turns into the entry's level.
//
// Logging never blocks a goroutine's thread on the write: lines go to a bounded queue that
// a writer thread drains. If the queue is full (stderr blocked), lines are dropped and
// counted, and the count is reported once writing resumes.
#pragma once

#include <atomic>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "scheduler/time.h"

namespace parkway::proxy {

using conf::LogLevel;

namespace log {

// Starts the writer thread. Call once, before logging.
void init(LogLevel level);
// Writes what is queued and stops the writer thread.
void shutdown();
void set_level(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, std::string message);
uint64_t dropped();
bool to_journal();

template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace log

// log_info("listener ", quoted(name), ": listening on ", addr): builds the line only if
// the level is enabled, in a cold function of its own: the string stream that builds it
// must not sit in the caller's frame (a goroutine parked deeper in that caller keeps its
// frame alive, and its frames are what idle stack release has to keep aside).
#define PW_LOG(level, ...)                                                               \
  do {                                                                                   \
    if (::parkway::proxy::log::enabled(level)) {                                         \
      [&]() __attribute__((noinline, cold)) {                                            \
        ::parkway::proxy::log::write(level, ::parkway::proxy::log::concat(__VA_ARGS__)); \
      }                                                                                  \
      ();                                                                                \
    }                                                                                    \
  } while (0)
#define log_error(...) PW_LOG(::parkway::conf::LogLevel::error, __VA_ARGS__)
#define log_warn(...) PW_LOG(::parkway::conf::LogLevel::warn, __VA_ARGS__)
#define log_info(...) PW_LOG(::parkway::conf::LogLevel::info, __VA_ARGS__)
#define log_debug(...) PW_LOG(::parkway::conf::LogLevel::debug, __VA_ARGS__)

// At most one line per `every` for a condition that may repeat many times a second (out of
// descriptors, an endpoint that keeps failing): allow() says whether to log now and, when
// it does, how many occurrences went unlogged since the last line. Thread-safe.
class LogThrottle {
 public:
  explicit LogThrottle(Duration every = std::chrono::seconds(1))
      : every_(every), last_(Time{} - every) {}
  bool allow(uint64_t* suppressed);

 private:
  const Duration every_;
  std::atomic<Time> last_;
  std::atomic<uint64_t> suppressed_{0};
};

// "n more since the last message", or empty when n is 0: for throttled lines.
std::string suppressed_note(uint64_t n);

// "name" with quotes, for names in log lines.
inline std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace parkway::proxy
