#include "proxy/log/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace parkway::proxy::log {
namespace {

constexpr size_t kMaxQueued = 4096;

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool stopping = false;
  uint64_t dropped_unreported = 0;
  std::thread writer;
  bool running = false;
};

State& state() {
  static State* s = new State();  // outlives static destructors: goroutines may still log
  return *s;
}

std::atomic<int> current_level{static_cast<int>(LogLevel::info)};
std::atomic<uint64_t> dropped_total{0};
bool journal = false;

bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn ";
    case LogLevel::info: return "info ";
    case LogLevel::debug: return "debug";
  }
  return "?    ";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::error: return 3;
    case LogLevel::warn: return 4;
    case LogLevel::info: return 6;
    case LogLevel::debug: return 7;
  }
  return 6;
}

std::string timestamp() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1'000'000);
  return buf;
}

void write_all(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone: nothing sensible to do
    }
    off += static_cast<size_t>(n);
  }
}

void writer_loop() {
  State& s = state();
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    s.cv.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
    if (s.queue.empty() && s.stopping) return;
    std::string batch;
    while (!s.queue.empty()) {
      batch += s.queue.front();
      s.queue.pop_front();
    }
    uint64_t dropped = s.dropped_unreported;
    s.dropped_unreported = 0;
    lock.unlock();
    if (dropped > 0) {
      std::string note =
          "log: " + std::to_string(dropped) + " lines dropped: stderr could not keep up\n";
      note = journal ? "<4>" + note : timestamp() + " warn  " + note;
      write_all(note);
    }
    write_all(batch);
    lock.lock();
  }
}

}  // namespace

void init(LogLevel level) {
  set_level(level);
  journal = stderr_is_journal();
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  if (s.running) return;
  s.running = true;
  s.stopping = false;
  s.writer = std::thread(writer_loop);
}

void shutdown() {
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.running) return;
    s.stopping = true;
  }
  s.cv.notify_one();
  s.writer.join();
  std::lock_guard<std::mutex> g(s.mu);
  s.running = false;
}

void set_level(LogLevel level) { current_level.store(static_cast<int>(level)); }

bool enabled(LogLevel level) { return static_cast<int>(level) <= current_level.load(); }

bool to_journal() { return journal; }

uint64_t dropped() { return dropped_total.load(); }

void write(LogLevel level, std::string message) {
  std::string line;
  if (journal) {
    line = "<" + std::to_string(syslog_priority(level)) + ">" + message + "\n";
  } else {
    line = timestamp() + " " + level_name(level) + " " + message + "\n";
  }
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.running) {
      // Before init or after shutdown (start-up errors, exit): write directly.
      write_all(line);
      return;
    }
    if (s.queue.size() >= kMaxQueued) {
      s.dropped_unreported++;
      dropped_total.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s.queue.push_back(std::move(line));
  }
  s.cv.notify_one();
}

}  // namespace parkway::proxy::log

namespace parkway::proxy {

bool LogThrottle::allow(uint64_t* suppressed) {
  const Time t = now();
  Time last = last_.load(std::memory_order_relaxed);
  // One caller per interval wins the exchange; the others count themselves suppressed.
  if (t - last >= every_ && last_.compare_exchange_strong(last, t, std::memory_order_relaxed)) {
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

std::string suppressed_note(uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " more since the last message)";
}

}  // namespace parkway::proxy
